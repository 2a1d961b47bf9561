//! Range commands: ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES) and its
//! older spellings, ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZREMRANGEBYRANK,
//! ZREMRANGEBYSCORE, ZREMRANGEBYLEX. What each range costs is in
//! [`super::select`]; a ZREMRANGE* adds two record deletes per member
//! removed, in one batch.
//!
//! Arguments are checked in Redis' order (`zrangeGenericCommand`):
//! options, then conflicting options, then the range, and only then the
//! key, so a bad range is an error even for a missing key.

use super::super::body::{arg, boxed};
use super::access::{self, ZWrite};
use super::multi::{with_keys, Reach};
use super::parse::{LexRange, ScoreRange};
use super::reply;
use super::select::{self, Limit, Query, Selection};
use crate::command::{BarrierCtx, KeyCtx};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{parse_i64, Argv, Reply};

/// How a command names its range (`zrange_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// ZRANGE and ZRANGESTORE: BYSCORE/BYLEX may say, else by rank.
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range command.
struct RangeArgs {
    query: Query,
    with_scores: bool,
}

fn int(a: &[u8]) -> Result<i64, Reply> {
    parse_i64(a).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))
}

/// `zrangeGenericCommand`'s parsing: the key is `argv[src]`, the range
/// the next two arguments, options after them. `rev`: `Some` when the
/// command fixes the direction (REV is then a syntax error).
fn parse_range(
    argv: &Argv,
    src: usize,
    store: bool,
    mut by: By,
    fixed_rev: Option<bool>,
) -> Result<RangeArgs, Reply> {
    let (mut with_scores, mut rev) = (false, fixed_rev.unwrap_or(false));
    let (mut offset, mut count) = (0i64, -1i64);
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let opt = arg(argv, j);
        let is = |w: &str| opt.eq_ignore_ascii_case(w.as_bytes());
        if !store && is("withscores") {
            with_scores = true;
        } else if is("limit") && left >= 2 {
            offset = int(arg(argv, j + 1))?;
            count = int(arg(argv, j + 2))?;
            j += 2;
        } else if fixed_rev.is_none() && is("rev") {
            rev = true;
        } else if by == By::Auto && is("bylex") {
            by = By::Lex;
        } else if by == By::Auto && is("byscore") {
            by = By::Score;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        j += 1;
    }
    if by == By::Auto {
        by = By::Rank;
    }
    // Redis tells "no LIMIT" by the count's default, -1.
    if count != -1 && by == By::Rank {
        return Err(Reply::error(errors::ZRANGE_LIMIT_NEEDS_BY));
    }
    if with_scores && by == By::Lex {
        return Err(Reply::error(errors::ZRANGE_BYLEX_WITHSCORES));
    }
    let (mut lo, mut hi) = (arg(argv, src + 1), arg(argv, src + 2));
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi); // given as max min
    }
    let limit = Limit { offset, count };
    let sel = match by {
        By::Score => Selection::Score(
            ScoreRange::parse(lo, hi).ok_or_else(|| Reply::error(errors::ZRANGE_NOT_FLOAT))?,
            limit,
        ),
        By::Lex => Selection::Lex(
            LexRange::parse(lo, hi).ok_or_else(|| Reply::error(errors::ZRANGE_NOT_LEX))?,
            limit,
        ),
        By::Auto | By::Rank => Selection::Rank {
            start: int(lo)?,
            stop: int(hi)?,
        },
    };
    Ok(RangeArgs {
        query: Query { sel, rev },
        with_scores,
    })
}

async fn range_reply(ctx: &KeyCtx, argv: &Argv, by: By, rev: Option<bool>) -> Result<Reply, Reply> {
    let a = parse_range(argv, 1, false, by, rev)?;
    let key = arg(argv, 1);
    let _g = ctx.lock(key).await;
    let Some(c) = access::open(ctx, key).await? else {
        return Ok(Reply::empty_array());
    };
    let items = select::select(ctx, key, &c, &a.query).await?;
    Ok(reply::members(items, a.with_scores, ctx.resp))
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { range_reply(&ctx, &argv, By::Auto, None).await })
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { range_reply(&ctx, &argv, By::Rank, Some(true)).await })
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { range_reply(&ctx, &argv, By::Score, Some(false)).await })
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { range_reply(&ctx, &argv, By::Score, Some(true)).await })
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { range_reply(&ctx, &argv, By::Lex, Some(false)).await })
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { range_reply(&ctx, &argv, By::Lex, Some(true)).await })
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
///
/// Reads the range on `src`'s core and writes `dst` (replacing any value,
/// or deleting it when the range is empty) on `dst`'s, both locked.
pub fn zrangestore(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let a = match parse_range(&argv, 2, true, By::Auto, None) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let (dst, src) = (arg(&argv, 1).to_vec(), arg(&argv, 2).to_vec());
        let keys = vec![dst.clone(), src.clone()];
        with_keys(&ctx, keys, move |reach| {
            Box::pin(async move {
                match store_range(&reach, dst, src, a.query).await {
                    Ok(r) | Err(r) => r,
                }
            })
        })
        .await
    })
}

async fn store_range(reach: &Reach, dst: Vec<u8>, src: Vec<u8>, q: Query) -> Result<Reply, Reply> {
    let items = reach
        .on(&src.clone(), move |ctx| {
            Box::pin(async move {
                match access::open(&ctx, &src).await? {
                    Some(c) => select::select(&ctx, &src, &c, &q).await,
                    None => Ok(Vec::new()),
                }
            })
        })
        .await??;
    let n = items.len() as i64;
    reach
        .on(&dst.clone(), move |ctx| {
            Box::pin(async move { access::store_new(&ctx, &dst, &items).await })
        })
        .await??;
    Ok(Reply::Integer(n))
}

/// ZCOUNT key min max
pub fn zcount(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let range = ScoreRange::parse(arg(&argv, 2), arg(&argv, 3))
            .ok_or_else(|| Reply::error(errors::ZRANGE_NOT_FLOAT))?;
        count(&ctx, &argv, Selection::Score(range, Limit::ALL)).await
    })
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let range = LexRange::parse(arg(&argv, 2), arg(&argv, 3))
            .ok_or_else(|| Reply::error(errors::ZRANGE_NOT_LEX))?;
        count(&ctx, &argv, Selection::Lex(range, Limit::ALL)).await
    })
}

async fn count(ctx: &KeyCtx, argv: &Argv, sel: Selection) -> Result<Reply, Reply> {
    let key = arg(argv, 1);
    let _g = ctx.lock(key).await;
    let Some(c) = access::open(ctx, key).await? else {
        return Ok(Reply::Integer(0));
    };
    Ok(Reply::Integer(
        select::count(ctx, key, &c, &sel).await? as i64,
    ))
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let start = int(arg(&argv, 2))?;
        let stop = int(arg(&argv, 3))?;
        remove_range(&ctx, &argv, Selection::Rank { start, stop }).await
    })
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let range = ScoreRange::parse(arg(&argv, 2), arg(&argv, 3))
            .ok_or_else(|| Reply::error(errors::ZRANGE_NOT_FLOAT))?;
        remove_range(&ctx, &argv, Selection::Score(range, Limit::ALL)).await
    })
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let range = LexRange::parse(arg(&argv, 2), arg(&argv, 3))
            .ok_or_else(|| Reply::error(errors::ZRANGE_NOT_LEX))?;
        remove_range(&ctx, &argv, Selection::Lex(range, Limit::ALL)).await
    })
}

async fn remove_range(ctx: &KeyCtx, argv: &Argv, sel: Selection) -> Result<Reply, Reply> {
    let key = arg(argv, 1);
    let _g = ctx.lock(key).await;
    let Some(mut c) = access::open(ctx, key).await? else {
        return Ok(Reply::Integer(0));
    };
    let q = Query { sel, rev: false };
    let gone = select::select(ctx, key, &c, &q).await?;
    if gone.is_empty() {
        return Ok(Reply::Integer(0));
    }
    let mut w = ZWrite::new(ctx, key, &c);
    for (m, s) in &gone {
        w.remove(m, *s);
    }
    c.meta.count = c.meta.count.saturating_sub(gone.len() as u64);
    w.commit(ctx, &c).await?;
    Ok(Reply::Integer(gone.len() as i64))
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

    fn err(words: &str, by: By, rev: Option<bool>) -> Reply {
        match parse_range(&argv(words), 1, false, by, rev) {
            Ok(_) => panic!("{words}: parsed"),
            Err(e) => e,
        }
    }

    #[test]
    fn options_are_checked_in_redis_order() {
        let e = |t: &str| Reply::error(t.to_string());
        assert_eq!(
            err("zrange k 0 1 LIMIT 0 1", By::Auto, None),
            e(errors::ZRANGE_LIMIT_NEEDS_BY)
        );
        assert_eq!(
            err("zrange k [a [b BYLEX WITHSCORES", By::Auto, None),
            e(errors::ZRANGE_BYLEX_WITHSCORES)
        );
        assert_eq!(
            err("zrange k x 1 BYSCORE", By::Auto, None),
            e(errors::ZRANGE_NOT_FLOAT)
        );
        assert_eq!(
            err("zrange k a b BYLEX", By::Auto, None),
            e(errors::ZRANGE_NOT_LEX)
        );
        assert_eq!(
            err("zrange k x 1", By::Auto, None),
            e(errors::NOT_AN_INTEGER)
        );
        assert_eq!(
            err("zrange k 0 1 LIMIT x 1", By::Auto, None),
            e(errors::NOT_AN_INTEGER)
        );
        assert_eq!(
            err("zrange k 0 1 BYSCORE BYLEX", By::Auto, None),
            e(errors::SYNTAX)
        );
        assert_eq!(
            err("zrevrange k 0 1 REV", By::Rank, Some(true)),
            e(errors::SYNTAX)
        );
        assert_eq!(
            err("zrangebyscore k 0 1 BYSCORE", By::Score, Some(false)),
            e(errors::SYNTAX)
        );
        assert_eq!(
            err("zrange k 0 1 LIMIT 0", By::Auto, None),
            e(errors::SYNTAX)
        );
        // The syntax error comes before the range is looked at.
        assert_eq!(err("zrange k x y FOO", By::Auto, None), e(errors::SYNTAX));
    }

    #[test]
    fn rev_ranges_take_max_first() {
        let a = parse_range(
            &argv("zrange k (5 1 BYSCORE REV LIMIT 1 2"),
            1,
            false,
            By::Auto,
            None,
        )
        .unwrap_or_else(|_| panic!());
        let Selection::Score(r, limit) = a.query.sel else {
            panic!()
        };
        assert!(a.query.rev && !r.min.exclusive && r.max.exclusive);
        assert_eq!((r.min.value, r.max.value), (1.0, 5.0));
        assert_eq!(
            limit,
            Limit {
                offset: 1,
                count: 2
            }
        );
        // LIMIT 0 -1 is "no LIMIT" to Redis, even by rank.
        assert!(parse_range(&argv("zrange k 0 1 LIMIT 0 -1"), 1, false, By::Auto, None).is_ok());
    }
}
