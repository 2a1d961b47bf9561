//! Set commands on one key. A set is collection metadata plus one element
//! record per member (empty value); bodies run on the core owning the key,
//! holding its lock from the first read to the write. The commands over
//! several keys are in `set_ops`.

use std::collections::HashSet;

use super::body::{arg, boxed, store_err};
use super::coll::{self, Sample};
use crate::command::{parse_i64, CommandSpec, Doc, KeyCtx};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store::{Collection, ValueType};

pub(crate) const SET: ValueType = ValueType::Set;

pub(crate) async fn is_member(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    m: &[u8],
) -> Result<bool, Reply> {
    Ok(ctx
        .store
        .element(ctx.ns, key, c.meta.version, &coll::subkey(SET, m))
        .await
        .map_err(store_err)?
        .is_some())
}

/// Every member of the set `key` (empty if absent; WRONGTYPE if not a
/// set). The caller holds the key's lock.
pub(crate) async fn members(ctx: &KeyCtx, key: &[u8]) -> Result<Vec<Vec<u8>>, Reply> {
    match coll::open(ctx, key, SET).await? {
        Some(c) => Ok(coll::all_elements(ctx, key, &c, false)
            .await?
            .into_iter()
            .map(|(m, _)| m)
            .collect()),
        None => Ok(Vec::new()),
    }
}

/// Adds `add` to the set `key`; returns how many were new.
pub(crate) async fn add_members(
    ctx: &KeyCtx,
    key: &[u8],
    add: impl IntoIterator<Item = &[u8]>,
) -> Result<i64, Reply> {
    let mut c = coll::open_or_new(ctx, key, SET).await?;
    let mut w = coll::writer(ctx, key, &c);
    let mut seen = HashSet::new();
    let mut added = 0;
    for m in add {
        if seen.insert(m) && (c.meta.count == 0 || !is_member(ctx, key, &c, m).await?) {
            w.put(&coll::subkey(SET, m), b"");
            added += 1;
        }
    }
    if added > 0 {
        c.meta.count += added as u64;
        coll::commit(ctx, w, &c).await?;
    }
    Ok(added)
}

/// Removes `remove` from the set `c` at `key`; returns how many were there.
pub(crate) async fn remove_members(
    ctx: &KeyCtx,
    key: &[u8],
    mut c: Collection,
    remove: impl IntoIterator<Item = &[u8]>,
) -> Result<i64, Reply> {
    let mut w = coll::writer(ctx, key, &c);
    let mut gone = HashSet::new();
    for m in remove {
        if !gone.contains(m) && is_member(ctx, key, &c, m).await? {
            gone.insert(m);
            w.delete(&coll::subkey(SET, m));
        }
    }
    if !gone.is_empty() {
        c.meta.count -= gone.len() as u64;
        coll::commit(ctx, w, &c).await?;
    }
    Ok(gone.len() as i64)
}

fn sadd(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let n = add_members(&ctx, key, argv.iter().skip(2)).await?;
        Ok(Reply::Integer(n))
    })
}

fn srem(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, SET).await? else {
            return Ok(Reply::Integer(0));
        };
        let n = remove_members(&ctx, key, c, argv.iter().skip(2)).await?;
        Ok(Reply::Integer(n))
    })
}

fn smembers(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let all = members(&ctx, key).await?;
        Ok(Reply::Set(all.into_iter().map(Reply::Bulk).collect()))
    })
}

fn sismember(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, SET).await? else {
            return Ok(Reply::Integer(0));
        };
        let found = is_member(&ctx, key, &c, arg(&argv, 2)).await?;
        Ok(Reply::Integer(i64::from(found)))
    })
}

fn smismember(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let c = coll::open(&ctx, key, SET).await?;
        let mut out = Vec::with_capacity(argv.len() - 2);
        for m in argv.iter().skip(2) {
            let found = match &c {
                Some(c) => is_member(&ctx, key, c, m).await?,
                None => false,
            };
            out.push(Reply::Integer(i64::from(found)));
        }
        Ok(Reply::Array(out))
    })
}

fn scard(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let c = coll::open(&ctx, key, SET).await?;
        Ok(Reply::Integer(c.map_or(0, |c| c.meta.count as i64)))
    })
}

/// SPOP key [count]
fn spop(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let count = match argv.get(2) {
            None => None,
            Some(n) => match parse_i64(n) {
                Some(n) if n >= 0 => Some(n as usize),
                Some(_) => return Err(Reply::error(errors::NOT_POSITIVE)),
                None => return Err(Reply::error(errors::NOT_POSITIVE)),
            },
        };
        if argv.len() > 3 {
            return Err(Reply::error(errors::SYNTAX));
        }
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, SET).await? else {
            return Ok(match count {
                None => Reply::Null,
                Some(_) => Reply::Set(Vec::new()),
            });
        };
        let sample = match count {
            None => Sample::One,
            Some(n) => Sample::Distinct(n),
        };
        let picked: Vec<Vec<u8>> = coll::sample_elements(&ctx, key, &c, &sample)
            .await?
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        remove_members(&ctx, key, c, picked.iter().map(|m| m.as_slice())).await?;
        Ok(match count {
            None => picked.into_iter().next().map_or(Reply::Null, Reply::Bulk),
            Some(_) => Reply::Set(picked.into_iter().map(Reply::Bulk).collect()),
        })
    })
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        if argv.len() > 3 {
            return Err(Reply::error(errors::SYNTAX));
        }
        let sample = match argv.get(2) {
            Some(n) => coll::parse_sample(n, false)?,
            None => Sample::One,
        };
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, SET).await? else {
            return Ok(match sample {
                Sample::One => Reply::Null,
                _ => Reply::empty_array(),
            });
        };
        let picked = coll::sample_elements(&ctx, key, &c, &sample).await?;
        Ok(match sample {
            Sample::One => picked
                .into_iter()
                .next()
                .map_or(Reply::Null, |(m, _)| Reply::Bulk(m)),
            _ => Reply::Array(picked.into_iter().map(|(m, _)| Reply::Bulk(m)).collect()),
        })
    })
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let args = coll::parse_scan(&argv, false)?;
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, SET).await? else {
            return Ok(coll::scan_reply(0, Vec::new()));
        };
        let (next, items) = coll::scan_step(&ctx, key, &c, &args).await?;
        Ok(coll::scan_reply(
            next,
            items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect(),
        ))
    })
}

const W: &[&str] = &["write", "denyoom", "fast"];
const R: &[&str] = &["readonly", "fast"];
const ACL_W: &[&str] = &["@write", "@set", "@fast"];
const ACL_R: &[&str] = &["@read", "@set", "@fast"];
const ACL_RS: &[&str] = &["@read", "@set", "@slow"];

pub(crate) const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("set", summary, since, complexity, args)
}

/// The single-key set commands.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::on_key("sadd", -3, W, ACL_W, doc("Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key member [member ...]"), sadd),
    CommandSpec::on_key("srem", -3, &["write", "fast"], ACL_W, doc("Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0", "O(N) where N is the number of members to be removed.", "key member [member ...]"), srem),
    CommandSpec::on_key("smembers", 2, &["readonly"], ACL_RS, doc("Returns all members of a set.", "1.0.0", "O(N) where N is the set cardinality.", "key"), smembers),
    CommandSpec::on_key("sismember", 3, R, ACL_R, doc("Determines whether a member belongs to a set.", "1.0.0", "O(1)", "key member"), sismember),
    CommandSpec::on_key("smismember", -3, R, ACL_R, doc("Determines whether multiple members belong to a set.", "6.2.0", "O(N) where N is the number of elements being checked for membership", "key member [member ...]"), smismember),
    CommandSpec::on_key("scard", 2, R, ACL_R, doc("Returns the number of members in a set.", "1.0.0", "O(1)", "key"), scard),
    CommandSpec::on_key("spop", -2, &["write", "fast"], ACL_W, doc("Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "key [count]"), spop),
    CommandSpec::on_key("srandmember", -2, &["readonly"], ACL_RS, doc("Get one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "key [count]"), srandmember),
    CommandSpec::on_key("sscan", -3, &["readonly"], ACL_RS, doc("Iterates over members of a set.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count]"), sscan),
];
