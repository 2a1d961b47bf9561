//! ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD: barrier
//! commands over keys that may live on several cores ([`super::multi`]).
//! Inputs may be sorted sets or plain sets (whose members score 1).
//!
//! Steps, all under the locks of every key:
//! 1. each input's metadata is read on its owner (WRONGTYPE for any other
//!    type, before option errors are reported, as in Redis);
//! 2. ZUNION reads every input whole; ZINTER and ZINTERCARD read the
//!    smallest input whole and send its members to each other input's
//!    owner, which answers their scores (point reads), so a small set
//!    intersected with a large one reads the small one only; ZDIFF reads
//!    the first input and asks the others which of its members they hold;
//! 3. the result is computed at the connection ([`super::algebra`]) and
//!    either answered or written on the destination's owner as a new
//!    sorted set (an empty result deletes the destination).
//!
//! Costs: ZUNION O(sum of sizes) reads; ZINTER O(smallest) reads plus one
//! point read per surviving candidate per other input; ZDIFF O(first)
//! plus point reads; then O(M log M) to order M results and, for STORE,
//! two record writes per result member in one batch.

use super::super::body::arg;
use super::access::{self, Scored};
use super::algebra::{self, Aggregate};
use super::multi::{numkeys_keys, with_keys, Reach};
use super::parse::parse_score;
use super::reply;
use crate::command::{BarrierCtx, KeyCtx};
use crate::errors;
use crate::exec::{join_all, LocalBoxFuture};
use crate::protocol::{parse_i64, Argv, Reply};
use crate::store::collection::decode_score;
use crate::store::{Collection, ValueType};

/// Which operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// The forms of the commands of this file.
#[derive(Debug, Clone, Copy)]
struct Form {
    /// The table name, for `at least 1 input key is needed for '..'`.
    name: &'static str,
    op: SetOp,
    /// ZINTERCARD: only the count.
    card: bool,
    /// The STORE forms: `argv[1]` is the destination.
    store: bool,
}

/// Options after the keys.
#[derive(Debug, Clone, PartialEq)]
struct Opts {
    weights: Vec<f64>,
    how: Aggregate,
    with_scores: bool,
    /// ZINTERCARD LIMIT (0: none).
    limit: u64,
}

/// A parsed command: its keys now, its option errors after the type
/// checks (Redis reads the keys before it parses the options).
struct Parsed {
    dest: Option<Vec<u8>>,
    keys: Vec<Vec<u8>>,
    opts: Result<Opts, Reply>,
}

fn parse(argv: &Argv, form: Form) -> Result<Parsed, Reply> {
    let at = if form.store { 2 } else { 1 };
    let setnum = parse_i64(arg(argv, at)).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
    if setnum < 1 {
        return Err(Reply::error(errors::at_least_one_input_key(form.name)));
    }
    if setnum as u64 > (argv.len() - at - 1) as u64 {
        return Err(Reply::error(errors::SYNTAX));
    }
    let keys = numkeys_keys(argv, at);
    let opts = parse_opts(argv, at + 1 + keys.len(), keys.len(), form);
    Ok(Parsed {
        dest: form.store.then(|| arg(argv, 1).to_vec()),
        keys,
        opts,
    })
}

/// The option loop of `zunionInterDiffGenericCommand`, from `argv[j]`.
fn parse_opts(argv: &Argv, mut j: usize, setnum: usize, form: Form) -> Result<Opts, Reply> {
    let mut o = Opts {
        weights: vec![1.0; setnum],
        how: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let algebra = form.op != SetOp::Diff && !form.card;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let opt = arg(argv, j);
        let is = |w: &str| opt.eq_ignore_ascii_case(w.as_bytes());
        if algebra && remaining > setnum && is("weights") {
            for (i, w) in o.weights.iter_mut().enumerate() {
                *w = parse_score(arg(argv, j + 1 + i))
                    .ok_or_else(|| Reply::error(errors::WEIGHT_NOT_FLOAT))?;
            }
            j += 1 + setnum;
        } else if algebra && remaining >= 2 && is("aggregate") {
            o.how = match arg(argv, j + 1).to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return Err(Reply::error(errors::SYNTAX)),
            };
            j += 2;
        } else if !form.store && !form.card && is("withscores") {
            o.with_scores = true;
            j += 1;
        } else if form.card && remaining >= 2 && is("limit") {
            o.limit = match parse_i64(arg(argv, j + 1)) {
                Some(n) if n >= 0 => n as u64,
                _ => return Err(Reply::error(errors::LIMIT_NEGATIVE)),
            };
            j += 2;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
    }
    Ok(o)
}

fn command(ctx: BarrierCtx, argv: Argv, form: Form) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let p = match parse(&argv, form) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let mut locked = p.keys.clone();
        locked.extend(p.dest.iter().cloned());
        with_keys(&ctx, locked, move |reach| {
            Box::pin(async move {
                match run(&reach, form, p).await {
                    Ok(r) | Err(r) => r,
                }
            })
        })
        .await
    })
}

/// One input: its key, what its metadata said, its weight.
struct Input {
    key: Vec<u8>,
    set: Option<Collection>,
    weight: f64,
}

impl Input {
    fn len(&self) -> u64 {
        self.set.map_or(0, |c| c.meta.count)
    }
}

async fn run(reach: &Reach, form: Form, p: Parsed) -> Result<Reply, Reply> {
    let metas = join_all(
        p.keys
            .iter()
            .map(|k| {
                let key = k.clone();
                reach.on(k, move |ctx| {
                    Box::pin(async move { open_input(&ctx, &key).await })
                })
            })
            .collect(),
    )
    .await;
    let mut sets = Vec::with_capacity(metas.len());
    for m in metas {
        sets.push(m??);
    }
    let opts = p.opts?;
    let mut inputs: Vec<Input> = p
        .keys
        .into_iter()
        .zip(sets)
        .zip(&opts.weights)
        .map(|((key, set), &weight)| Input { key, set, weight })
        .collect();
    if form.op != SetOp::Diff {
        let lens: Vec<u64> = inputs.iter().map(Input::len).collect();
        let order = algebra::by_cardinality(&lens);
        let mut slots: Vec<Option<Input>> = inputs.into_iter().map(Some).collect();
        inputs = order.iter().filter_map(|&i| slots[i].take()).collect();
    }
    let result = match form.op {
        SetOp::Union => union(reach, &inputs, opts.how).await?,
        SetOp::Inter => inter(reach, &inputs, opts.how).await?,
        SetOp::Diff => diff(reach, &inputs).await?,
    };
    if form.card {
        let n = result.len() as u64;
        let n = if opts.limit > 0 { n.min(opts.limit) } else { n };
        return Ok(Reply::Integer(n as i64));
    }
    if let Some(dest) = p.dest {
        let n = result.len() as i64;
        reach
            .on(&dest.clone(), move |ctx| {
                Box::pin(async move { access::store_new(&ctx, &dest, &result).await })
            })
            .await??;
        return Ok(Reply::Integer(n));
    }
    Ok(reply::members(result, opts.with_scores, reach.resp()))
}

async fn union(reach: &Reach, inputs: &[Input], how: Aggregate) -> Result<Vec<Scored>, Reply> {
    let reads = join_all(inputs.iter().map(|i| read_all(reach, i)).collect()).await;
    let mut all = Vec::with_capacity(inputs.len());
    for (r, i) in reads.into_iter().zip(inputs) {
        all.push((r?, i.weight));
    }
    Ok(algebra::union(all, how))
}

async fn inter(reach: &Reach, inputs: &[Input], how: Aggregate) -> Result<Vec<Scored>, Reply> {
    let Some(first) = inputs.first().filter(|i| i.len() > 0) else {
        return Ok(Vec::new());
    };
    let mut cand: Vec<Scored> = read_all(reach, first)
        .await?
        .into_iter()
        .map(|(m, s)| (m, algebra::weighted(s, first.weight)))
        .collect();
    for other in &inputs[1..] {
        if cand.is_empty() {
            break;
        }
        let found = probe(reach, other, &cand).await?;
        cand = cand
            .into_iter()
            .zip(found)
            .filter_map(|((m, mut score), hit)| {
                let s = hit?;
                algebra::aggregate(&mut score, s * other.weight, how);
                Some((m, score))
            })
            .collect();
    }
    algebra::sort(&mut cand);
    Ok(cand)
}

async fn diff(reach: &Reach, inputs: &[Input]) -> Result<Vec<Scored>, Reply> {
    let Some(first) = inputs.first().filter(|i| i.len() > 0) else {
        return Ok(Vec::new());
    };
    let mut cand = read_all(reach, first).await?;
    for other in inputs[1..].iter().filter(|i| i.len() > 0) {
        if cand.is_empty() {
            break;
        }
        let found = probe(reach, other, &cand).await?;
        cand = cand
            .into_iter()
            .zip(found)
            .filter_map(|(item, hit)| hit.is_none().then_some(item))
            .collect();
    }
    algebra::sort(&mut cand);
    Ok(cand)
}

/// `key` as an input: a sorted set or a set, `None` if absent.
async fn open_input(ctx: &KeyCtx, key: &[u8]) -> Result<Option<Collection>, Reply> {
    let Some(entry) = ctx.get(key).await.map_err(super::super::body::store_err)? else {
        return Ok(None);
    };
    if entry.kind != ValueType::ZSet && entry.kind != ValueType::Set {
        return Err(Reply::error(errors::WRONGTYPE));
    }
    Collection::from_entry(&entry).map_err(super::super::body::store_err)
}

/// Every member of an input with its score (1 for a set's members).
async fn read_all(reach: &Reach, input: &Input) -> Result<Vec<Scored>, Reply> {
    let Some(c) = input.set else {
        return Ok(Vec::new());
    };
    let key = input.key.clone();
    reach
        .on(&input.key, move |ctx| {
            Box::pin(async move {
                let records = super::super::coll::all_elements(&ctx, &key, &c, false).await?;
                Ok(records
                    .into_iter()
                    .map(|(m, v)| (m, member_score(&c, &v)))
                    .collect())
            })
        })
        .await?
}

/// The scores `input` has for the members of `cand` (`None`: not there).
async fn probe(reach: &Reach, input: &Input, cand: &[Scored]) -> Result<Vec<Option<f64>>, Reply> {
    let Some(c) = input.set else {
        return Ok(vec![None; cand.len()]);
    };
    let key = input.key.clone();
    let members: Vec<Vec<u8>> = cand.iter().map(|(m, _)| m.clone()).collect();
    reach
        .on(&input.key, move |ctx| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(members.len());
                for m in &members {
                    let v = ctx
                        .store
                        .element(
                            ctx.ns,
                            &key,
                            c.meta.version,
                            &super::super::coll::subkey(c.kind, m),
                        )
                        .await
                        .map_err(super::super::body::store_err)?;
                    out.push(v.map(|v| member_score(&c, &v)));
                }
                Ok(out)
            })
        })
        .await?
}

/// The score a member record of `c` holds (a set's members score 1).
fn member_score(c: &Collection, value: &[u8]) -> f64 {
    if c.kind == ValueType::Set {
        return 1.0;
    }
    decode_score(value).unwrap_or(0.0)
}

const fn form(name: &'static str, op: SetOp, card: bool, store: bool) -> Form {
    Form {
        name,
        op,
        card,
        store,
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    command(ctx, argv, form("zunion", SetOp::Union, false, false))
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    command(ctx, argv, form("zinter", SetOp::Inter, false, false))
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    command(ctx, argv, form("zdiff", SetOp::Diff, false, false))
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE ..]
pub fn zunionstore(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    command(ctx, argv, form("zunionstore", SetOp::Union, false, true))
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE ..]
pub fn zinterstore(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    command(ctx, argv, form("zinterstore", SetOp::Inter, false, true))
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    command(ctx, argv, form("zdiffstore", SetOp::Diff, false, true))
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    command(ctx, argv, form("zintercard", SetOp::Inter, true, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &str) -> Argv {
        let mut a = Argv::new();
        for w in words.split_whitespace() {
            a.push(w.as_bytes());
        }
        a
    }

    const UNION: Form = form("zunion", SetOp::Union, false, false);
    const CARD: Form = form("zintercard", SetOp::Inter, true, false);
    const DIFF_STORE: Form = form("zdiffstore", SetOp::Diff, false, true);

    fn opts(words: &str, f: Form) -> Result<Opts, Reply> {
        match parse(&argv(words), f) {
            Ok(p) => p.opts,
            Err(e) => Err(Reply::Error(format!("parse: {e:?}").into())),
        }
    }

    #[test]
    fn numkeys_errors_come_first() {
        let e = |w: &str, f: Form| parse(&argv(w), f).err().unwrap();
        assert_eq!(e("zunion x a", UNION), Reply::error(errors::NOT_AN_INTEGER));
        assert_eq!(
            e("zunion 0 a", UNION),
            Reply::error("ERR at least 1 input key is needed for 'zunion' command")
        );
        assert_eq!(e("zunion 3 a b", UNION), Reply::error(errors::SYNTAX));
        let p = parse(&argv("zdiffstore d 2 a b"), DIFF_STORE).unwrap_or_else(|_| panic!());
        assert_eq!(p.dest.as_deref(), Some(&b"d"[..]));
        assert_eq!(p.keys, vec![b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn options_follow_redis_loop() {
        let o = opts("zunion 2 a b WEIGHTS 2 3 AGGREGATE max WITHSCORES", UNION).unwrap();
        assert_eq!(
            (o.weights, o.how, o.with_scores),
            (vec![2.0, 3.0], Aggregate::Max, true)
        );
        assert_eq!(
            opts("zunion 2 a b WEIGHTS 2 x", UNION),
            Err(Reply::error(errors::WEIGHT_NOT_FLOAT))
        );
        // Too few weights: not the WEIGHTS option at all.
        assert_eq!(
            opts("zunion 2 a b WEIGHTS 2", UNION),
            Err(Reply::error(errors::SYNTAX))
        );
        assert_eq!(
            opts("zunion 1 a AGGREGATE avg", UNION),
            Err(Reply::error(errors::SYNTAX))
        );
        assert_eq!(
            opts("zdiffstore d 1 a WITHSCORES", DIFF_STORE),
            Err(Reply::error(errors::SYNTAX))
        );
        assert_eq!(
            opts("zdiffstore d 1 a WEIGHTS 1", DIFF_STORE),
            Err(Reply::error(errors::SYNTAX))
        );
        assert_eq!(opts("zintercard 1 a LIMIT 5", CARD).unwrap().limit, 5);
        assert_eq!(
            opts("zintercard 1 a LIMIT -1", CARD),
            Err(Reply::error(errors::LIMIT_NEGATIVE))
        );
        assert_eq!(
            opts("zintercard 1 a WITHSCORES", CARD),
            Err(Reply::error(errors::SYNTAX))
        );
    }
}
