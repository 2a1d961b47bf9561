//! ZPOPMIN, ZPOPMAX and ZMPOP, and the pops the blocking forms
//! (BZPOPMIN, BZPOPMAX, BZMPOP: [`super::blocking`]) are built from:
//! [`pop_first`] is their attempt before they block (registering the
//! waiter when nothing is there), [`take`] what a sorted-set write runs
//! for a blocked client it serves.
//!
//! Costs: popping `k` from the low end reads `k` score records; from the
//! high end it walks the whole index (no reverse scan: O(N)), keeping the
//! last `k`. Each popped member is two record deletes, all in one batch.

use std::sync::Arc;

use super::super::blocking::register_all;
use super::super::body::{arg, boxed};
use super::super::key_hops::{self, Hops};
use super::access::{self, Scored, ZWrite};
use super::multi::numkeys_keys;
use super::reply;
use super::select::{self, Query, Selection};
use crate::command::{BarrierCtx, KeyCtx};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{parse_i64, Argv, Reply};
use crate::store::blocking::Waiter;
use crate::store::collection::encode_score;
use crate::store::Collection;

/// Which end of the set a pop takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Lowest scores first.
    Min,
    /// Highest scores first.
    Max,
}

/// Removes up to `count` members from `end` of `key` and returns them in
/// pop order; `None` if `key` does not exist (a sorted set that exists
/// is never empty). Takes the key's lock unless the caller holds it.
pub async fn pop(
    ctx: &KeyCtx,
    key: &[u8],
    end: End,
    count: u64,
) -> Result<Option<Vec<Scored>>, Reply> {
    let _g = ctx.lock(key).await;
    let Some(mut c) = access::open(ctx, key).await? else {
        return Ok(None);
    };
    take(ctx, key, &mut c, end, count).await.map(Some)
}

/// Removes up to `count` members from `end` of `c`, the sorted set at
/// `key` (the caller holds its lock), writes the change (deleting the key
/// if it empties) and returns them in pop order.
pub async fn take(
    ctx: &KeyCtx,
    key: &[u8],
    c: &mut Collection,
    end: End,
    count: u64,
) -> Result<Vec<Scored>, Reply> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let n = count.min(c.meta.count);
    let q = Query {
        sel: Selection::Rank {
            start: 0,
            stop: n as i64 - 1,
        },
        rev: end == End::Max,
    };
    let items = select::select(ctx, key, c, &q).await?;
    let mut w = ZWrite::new(ctx, key, c);
    for (m, s) in &items {
        w.remove(m, *s);
    }
    c.meta.count = c.meta.count.saturating_sub(items.len() as u64);
    if end == End::Min {
        // What is left scores at least the last popped: walks start there.
        if let Some((_, s)) = items.last() {
            c.meta.floor = c.meta.floor.max(u64::from_be_bytes(encode_score(*s)));
        }
    }
    w.commit(ctx, c).await?;
    Ok(items)
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { pop_command(&ctx, &argv, End::Min).await })
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { pop_command(&ctx, &argv, End::Max).await })
}

async fn pop_command(ctx: &KeyCtx, argv: &Argv, end: End) -> Result<Reply, Reply> {
    if argv.len() > 3 {
        return Err(Reply::error(errors::SYNTAX));
    }
    let count = match argv.get(2) {
        Some(a) => match parse_i64(a) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Err(Reply::error(errors::NOT_POSITIVE)),
        },
        None => None,
    };
    let Some(items) = pop(ctx, arg(argv, 1), end, count.unwrap_or(1)).await? else {
        return Ok(Reply::empty_array());
    };
    // RESP3 nests the pairs only when a count was given.
    Ok(match count {
        Some(_) if ctx.resp >= 3 => reply::pairs(items),
        _ => reply::flat(items),
    })
}

/// ZMPOP numkeys key [key ...] <MIN | MAX> [COUNT count]
///
/// Pops from the first of the keys that exists (a key of another type
/// before it is WRONGTYPE), all keys locked for the whole command.
pub fn zmpop(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let (keys, end, count) = match parse_mpop(&argv, 1) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let found = key_hops::with_keys(&ctx, keys.clone(), move |h| {
            Box::pin(async move { pop_first(&h, &keys, end, count, None).await })
        })
        .await;
        match found {
            Ok(Some((key, items))) => mpop_reply(key, items),
            Ok(None) => Reply::NullArray,
            Err(e) => e,
        }
    })
}

/// The reply of ZMPOP / BZMPOP: `[key, [[member, score], ...]]`.
pub fn mpop_reply(key: Vec<u8>, items: Vec<Scored>) -> Reply {
    Reply::Array(vec![Reply::Bulk(key), reply::pairs(items)])
}

/// Parses `numkeys key [key ...] MIN|MAX [COUNT count]` starting at
/// `argv[at]` (`zmpopGenericCommand`).
pub fn parse_mpop(argv: &Argv, at: usize) -> Result<(Vec<Vec<u8>>, End, u64), Reply> {
    let numkeys = match parse_i64(arg(argv, at)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(Reply::error(errors::NUMKEYS_NOT_POSITIVE)),
    };
    let where_at = (at as u64).saturating_add(numkeys).saturating_add(1);
    if where_at >= argv.len() as u64 {
        return Err(Reply::error(errors::SYNTAX));
    }
    let where_at = where_at as usize;
    let end = match arg(argv, where_at).to_ascii_uppercase().as_slice() {
        b"MIN" => End::Min,
        b"MAX" => End::Max,
        _ => return Err(Reply::error(errors::SYNTAX)),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && arg(argv, j).eq_ignore_ascii_case(b"count") && more > 0 {
            j += 1;
            match parse_i64(arg(argv, j)) {
                Some(n) if n >= 1 => count = Some(n as u64),
                _ => return Err(Reply::error(errors::COUNT_NOT_POSITIVE)),
            }
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        j += 1;
    }
    Ok((numkeys_keys(argv, at), end, count.unwrap_or(1)))
}

/// Pops up to `count` members from `end` of the first of `keys` (in
/// order) that exists, all keys locked by `h`: `(key, members)`.
/// WRONGTYPE for the first key of another type met before a sorted set.
/// With no sorted set, `waiter` (if any) is registered for every key on
/// its core, and `None` is returned.
pub async fn pop_first(
    h: &Hops,
    keys: &[Vec<u8>],
    end: End,
    count: u64,
    waiter: Option<Arc<Waiter>>,
) -> Result<Option<(Vec<u8>, Vec<Scored>)>, Reply> {
    for key in keys {
        let k = key.clone();
        let popped = h
            .on(
                key,
                Box::new(move |ctx| Box::pin(async move { pop(&ctx, &k, end, count).await })),
            )
            .await??;
        if let Some(items) = popped {
            return Ok(Some((key.clone(), items)));
        }
    }
    if let Some(w) = waiter {
        register_all(h, keys, w).await?;
    }
    Ok(None)
}
