//! Set commands over several keys: SMOVE, SINTER, SUNION, SDIFF, their
//! STORE forms and SINTERCARD. The keys may live on several cores: the
//! command runs through the transaction layer (`crate::txn`): it locks all
//! of them first (a global order; nothing inside EXEC, which holds them),
//! reads each input on its owner, computes at the connection, writes the
//! destination on its owner, and releases; no other command on those keys
//! runs in between.

use std::collections::BTreeSet;

use super::body::{arg, store_err};
use super::set::{self as set_cmd, doc, SET};
use super::spec::{BarrierCtx, CommandSpec, KeyCtx, KeySpec};
use crate::command::parse_i64;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store::{Collection, KeyValue};
use crate::txn::Txn;

/// Runs `f` on `key`'s owner with the transaction's locks held.
async fn on_held<R, F>(txn: &Txn, key: &[u8], f: F) -> Result<R, Reply>
where
    R: Send + 'static,
    F: FnOnce(KeyCtx) -> LocalBoxFuture<R> + Send + 'static,
{
    txn.on(key, f).await
}

/// The members of set `key` (empty if absent; WRONGTYPE if not a set).
async fn read_set(txn: &Txn, key: &[u8]) -> Result<BTreeSet<Vec<u8>>, Reply> {
    let k = key.to_vec();
    let members = on_held(txn, key, move |ctx| {
        Box::pin(async move { set_cmd::members(&ctx, &k).await })
    })
    .await??;
    Ok(members.into_iter().collect())
}

/// Replaces whatever `key` holds by the set `members` (deletes it when
/// empty).
async fn write_set(txn: &Txn, key: &[u8], members: BTreeSet<Vec<u8>>) -> Result<(), Reply> {
    let k = key.to_vec();
    on_held(txn, key, move |ctx| {
        Box::pin(async move {
            if members.is_empty() {
                return ctx.store.delete(ctx.ns, &k).await.map_err(store_err);
            }
            let mut c = Collection::new(SET);
            c.meta.count = members.len() as u64;
            let value = KeyValue {
                entry: c.entry(),
                elements: members
                    .into_iter()
                    .map(|m| (crate::store::collection::member_subkey(&m), Vec::new()))
                    .collect(),
                scores: Vec::new(),
            };
            ctx.store
                .write_value(ctx.ns, &k, &value)
                .await
                .map_err(store_err)
        })
    })
    .await?
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Combines the sets of `keys` (all read, so WRONGTYPE is found on any).
async fn combine(txn: &Txn, keys: &[Vec<u8>], op: Op) -> Result<BTreeSet<Vec<u8>>, Reply> {
    let mut sets = Vec::with_capacity(keys.len());
    for k in keys {
        sets.push(read_set(txn, k).await?);
    }
    let mut iter = sets.into_iter();
    let mut acc = iter.next().unwrap_or_default();
    for s in iter {
        match op {
            Op::Inter => acc.retain(|m| s.contains(m)),
            Op::Union => acc.extend(s),
            Op::Diff => acc.retain(|m| !s.contains(m)),
        }
    }
    Ok(acc)
}

fn keys_from(argv: &Argv, first: usize) -> Vec<Vec<u8>> {
    argv.iter().skip(first).map(|k| k.to_vec()).collect()
}

fn flatten(r: Result<Reply, Reply>) -> Reply {
    match r {
        Ok(r) | Err(r) => r,
    }
}

fn read_op(ctx: BarrierCtx, argv: Argv, op: Op) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let keys = keys_from(&argv, 1);
        let r = Txn::run(&ctx, keys.clone(), async |txn| {
            combine(txn, &keys, op).await
        })
        .await;
        flatten(r.map(|s| Reply::Set(s.into_iter().map(Reply::Bulk).collect())))
    })
}

fn store_op(ctx: BarrierCtx, argv: Argv, op: Op) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let dest = arg(&argv, 1).to_vec();
        let inputs = keys_from(&argv, 2);
        let mut all = inputs.clone();
        all.push(dest.clone());
        let r = Txn::run(&ctx, all, async |txn| {
            let result = combine(txn, &inputs, op).await?;
            let n = result.len() as i64;
            write_set(txn, &dest, result).await?;
            Ok(Reply::Integer(n))
        })
        .await;
        flatten(r)
    })
}

fn sinter(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    read_op(ctx, argv, Op::Inter)
}
fn sunion(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    read_op(ctx, argv, Op::Union)
}
fn sdiff(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    read_op(ctx, argv, Op::Diff)
}
fn sinterstore(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    store_op(ctx, argv, Op::Inter)
}
fn sunionstore(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    store_op(ctx, argv, Op::Union)
}
fn sdiffstore(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    store_op(ctx, argv, Op::Diff)
}

/// The key positions of `SINTERCARD numkeys key [key ...] [LIMIT limit]`,
/// or Redis' error for a bad `numkeys`.
pub(crate) fn numkeys_keys(argv: &Argv, numkeys_at: usize) -> Result<Vec<usize>, Reply> {
    let n = parse_i64(arg(argv, numkeys_at)).unwrap_or(0);
    if n <= 0 {
        return Err(Reply::error(errors::NUMKEYS_NOT_POSITIVE));
    }
    let n = n as usize;
    if n > argv.len().saturating_sub(numkeys_at + 1) {
        return Err(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok((numkeys_at + 1..numkeys_at + 1 + n).collect())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let r = async {
            let positions = numkeys_keys(&argv, 1)?;
            let after = positions.last().copied().unwrap_or(1) + 1;
            let mut limit = 0usize;
            let mut i = after;
            while i < argv.len() {
                if arg(&argv, i).eq_ignore_ascii_case(b"LIMIT") && i + 1 < argv.len() {
                    match parse_i64(arg(&argv, i + 1)) {
                        Some(n) if n >= 0 => limit = n as usize,
                        Some(_) => return Err(Reply::error(errors::LIMIT_NEGATIVE)),
                        None => return Err(Reply::error(errors::NOT_AN_INTEGER)),
                    }
                    i += 2;
                } else {
                    return Err(Reply::error(errors::SYNTAX));
                }
            }
            let keys: Vec<Vec<u8>> = positions.iter().map(|&p| arg(&argv, p).to_vec()).collect();
            let s = Txn::run(&ctx, keys.clone(), async |txn| {
                combine(txn, &keys, Op::Inter).await
            })
            .await?;
            let n = if limit > 0 {
                s.len().min(limit)
            } else {
                s.len()
            };
            Ok(Reply::Integer(n as i64))
        }
        .await;
        flatten(r)
    })
}

/// SMOVE source destination member
fn smove(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let (src, dst) = (arg(&argv, 1).to_vec(), arg(&argv, 2).to_vec());
        let member = arg(&argv, 3).to_vec();
        let keys = vec![src.clone(), dst.clone()];
        let r = Txn::run(&ctx, keys, async |txn| {
            // Both types are checked before anything changes, as Redis.
            let (s2, m2) = (src.clone(), member.clone());
            let src_has = on_held(txn, &src, move |ctx| {
                Box::pin(async move {
                    match super::coll::open(&ctx, &s2, SET).await? {
                        Some(c) => set_cmd::is_member(&ctx, &s2, &c, &m2).await,
                        None => Ok(false),
                    }
                })
            })
            .await??;
            let d2 = dst.clone();
            on_held(txn, &dst, move |ctx| {
                Box::pin(async move { super::coll::open(&ctx, &d2, SET).await.map(|_| ()) })
            })
            .await??;
            if !src_has {
                return Ok(Reply::Integer(0));
            }
            if src == dst {
                return Ok(Reply::Integer(1));
            }
            let (s2, m2) = (src.clone(), member.clone());
            on_held(txn, &src, move |ctx| {
                Box::pin(async move {
                    let c = super::coll::open(&ctx, &s2, SET)
                        .await?
                        .ok_or_else(|| Reply::error("ERR internal: source set vanished"))?;
                    set_cmd::remove_members(&ctx, &s2, c, [m2.as_slice()]).await
                })
            })
            .await??;
            let (d2, m2) = (dst.clone(), member.clone());
            on_held(txn, &dst, move |ctx| {
                Box::pin(async move { set_cmd::add_members(&ctx, &d2, [m2.as_slice()]).await })
            })
            .await??;
            Ok(Reply::Integer(1))
        })
        .await;
        flatten(r)
    })
}

const ACL_R: &[&str] = &["@read", "@set", "@slow"];
const ACL_W: &[&str] = &["@write", "@set", "@slow"];
const DEST_FIRST: KeySpec = KeySpec::ALL;

/// The set commands over several keys.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::barrier("smove", 4, &["write", "fast"], KeySpec::TWO, &["@write", "@set", "@fast"], doc("Moves a member from one set to another.", "1.0.0", "O(1)", "source destination member"), smove),
    CommandSpec::barrier("sinter", -2, &["readonly"], KeySpec::ALL, ACL_R, doc("Returns the intersect of multiple sets.", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "key [key ...]"), sinter),
    CommandSpec::barrier("sunion", -2, &["readonly"], KeySpec::ALL, ACL_R, doc("Returns the union of multiple sets.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key [key ...]"), sunion),
    CommandSpec::barrier("sdiff", -2, &["readonly"], KeySpec::ALL, ACL_R, doc("Returns the difference of multiple sets.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key [key ...]"), sdiff),
    CommandSpec::barrier("sinterstore", -3, &["write", "denyoom"], DEST_FIRST, ACL_W, doc("Stores the intersect of multiple sets in a key.", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "destination key [key ...]"), sinterstore),
    CommandSpec::barrier("sunionstore", -3, &["write", "denyoom"], DEST_FIRST, ACL_W, doc("Stores the union of multiple sets in a key.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key [key ...]"), sunionstore),
    CommandSpec::barrier("sdiffstore", -3, &["write", "denyoom"], DEST_FIRST, ACL_W, doc("Stores the difference of multiple sets in a key.", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key [key ...]"), sdiffstore),
    CommandSpec::barrier("sintercard", -3, &["readonly", "movablekeys"], KeySpec::NONE, ACL_R, doc("Returns the number of members of the intersect of multiple sets.", "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "numkeys key [key ...] [LIMIT limit]"), sintercard).with_key_finder(super::spec::numkeys_keys::<1>),
];
