//! BZPOPMIN, BZPOPMAX and BZMPOP, and the serving of the clients blocked
//! on sorted sets by the writes that give a key members.
//!
//! They follow the steps of `command::blocking` (see there for the
//! invariants): with every key locked, [`pop_first`] pops from the first
//! of the keys that exists, or registers the waiter on every key's core;
//! then the client waits. Every write that may leave a key a non-empty
//! sorted set calls [`serve_waiters`] on the key's core under the key's
//! lock: ZADD and ZINCRBY, the destinations of ZUNIONSTORE, ZINTERSTORE,
//! ZDIFFSTORE and ZRANGESTORE (`access::store_new`), and RENAME, COPY and
//! MOVE of a sorted set onto the key (`cross_core`). It re-reads the key's
//! type under that lock and, while members remain, claims the oldest
//! sorted-set waiter and pops for it there, atomically with the write.
//! Waiters for lists on the same key are left waiting (and a list write
//! never claims a sorted-set waiter), as Redis 7.2 leaves a client whose
//! blocked type is not the key's type.
//!
//! Members delivered to a client that went away are put back with their
//! scores ([`give_back`]; a member written again meanwhile keeps its new
//! score; if the key now holds another type they are dropped, as list
//! elements are), then the key's next waiter is served.
//!
//! Replies are Redis': BZPOPMIN / BZPOPMAX `[key, member, score]` (the
//! score a double in RESP3), BZMPOP `[key, [[member, score], ...]]` as
//! ZMPOP; a timeout, or nothing to pop inside MULTI, a null array.

use std::time::{Duration, Instant};

use super::super::blocking::{parse_timeout, pop_or_wait, reply_text, Popped, WRONG_KIND};
use super::super::body::arg;
use super::access::{self, Scored, ZWrite, ZSET};
use super::pop::{mpop_reply, parse_mpop, pop_first, take, End};
use crate::command::{BarrierCtx, KeyCtx};
use crate::exec::LocalBoxFuture;
use crate::keyspace::{key_slot, PartitionMap};
use crate::protocol::{Argv, Reply};
use crate::store::blocking::{self, Served, WaitOp};
use crate::store::{self, data_key, Collection, ValueType};

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(bzpop(ctx, argv, End::Min))
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(bzpop(ctx, argv, End::Max))
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
///
/// Redis' order of checks: the ZMPOP arguments, then the timeout.
pub fn bzmpop(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let started = Instant::now();
        let parsed = parse_mpop(&argv, 2)
            .and_then(|(keys, end, count)| Ok((keys, end, count, parse_timeout(arg(&argv, 1))?)));
        let (keys, end, count, timeout) = match parsed {
            Ok(p) => p,
            Err(e) => return e,
        };
        flatten(block(ctx, keys, end, Some(count), deadline(started, timeout)).await)
    })
}

async fn bzpop(ctx: BarrierCtx, argv: Argv, end: End) -> Reply {
    let started = Instant::now();
    let n = argv.len();
    let timeout = match parse_timeout(arg(&argv, n - 1)) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let keys = (1..n - 1).map(|i| arg(&argv, i).to_vec()).collect();
    flatten(block(ctx, keys, end, None, deadline(started, timeout)).await)
}

fn deadline(started: Instant, timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| started + t)
}

fn flatten(r: Result<Reply, Reply>) -> Reply {
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// `[key, member, score]` (BZPOPMIN / BZPOPMAX: `count: None`), or
/// ZMPOP's shape (BZMPOP).
fn pop_reply(count: Option<u64>, key: Vec<u8>, items: Vec<Scored>) -> Reply {
    if count.is_some() {
        return mpop_reply(key, items);
    }
    let mut out = Vec::with_capacity(1 + 2 * items.len());
    out.push(Reply::Bulk(key));
    for (m, s) in items {
        out.push(Reply::Bulk(m));
        out.push(Reply::Double(s));
    }
    Reply::Array(out)
}

/// Pops from the first existing key of `keys`, or blocks until a write
/// serves the client, `deadline` passes, or the wait is cancelled.
async fn block(
    ctx: BarrierCtx,
    keys: Vec<Vec<u8>>,
    end: End,
    count: Option<u64>,
    deadline: Option<Instant>,
) -> Result<Reply, Reply> {
    let n = count.unwrap_or(1);
    let op = WaitOp::ZPop {
        min: end == End::Min,
        count,
    };
    let popped = pop_or_wait(ctx, keys, op, deadline, move |h, keys, register| {
        Box::pin(async move { pop_first(&h, &keys, end, n, register).await })
    })
    .await?;
    match popped {
        Popped::Now(key, items) => Ok(pop_reply(count, key, items)),
        Popped::Nothing => Ok(Reply::NullArray),
        Popped::Served(Served::Members { key, items }) => Ok(pop_reply(count, key, items)),
        Popped::Served(Served::Failed(text)) => Err(Reply::error(text)),
        Popped::Served(Served::Elements { .. } | Served::Ready) => Err(Reply::error(WRONG_KIND)),
    }
}

/// Serves the clients blocked on `key` for a sorted set (on its core, the
/// caller holding its lock, after a write that may have made it a
/// non-empty sorted set): oldest first, while members remain. See the
/// module docs.
///
/// Inside EXEC or a multi-key command (`ctx.held`) the serving waits, in
/// a task of its own, until the caller releases the key, as for lists.
pub async fn serve_waiters(ctx: &KeyCtx, key: &[u8]) {
    if !blocking::any_waiters() {
        return;
    }
    let dk = data_key(ctx.ns, key_slot(key), key);
    if !blocking::has_waiters(&dk) {
        return;
    }
    if ctx.held {
        let (store, ns, key) = (ctx.store.clone(), ctx.ns, key.to_vec());
        drop(frys_runtime::spawn_local(async move {
            let _g = store.lock(ns, &key).await;
            let mut ctx = KeyCtx::new(store, ns);
            ctx.held = true;
            let dk = data_key(ns, key_slot(&key), &key);
            serve_locked(&ctx, &key, &dk).await;
        }));
        return;
    }
    serve_locked(ctx, key, &dk).await;
}

/// [`serve_waiters`]' work, the caller holding the key's lock.
async fn serve_locked(ctx: &KeyCtx, key: &[u8], dk: &[u8]) {
    let dk = dk.to_vec();
    loop {
        // The type, re-read under the lock: only a sorted set serves.
        let Ok(Some(mut c)) = access::open(ctx, key).await else {
            return;
        };
        if c.meta.count == 0 {
            return;
        }
        let Some(w) = blocking::claim_next(&dk, ValueType::ZSet) else {
            return;
        };
        let WaitOp::ZPop { min, count } = w.op() else {
            // Not returned for `ValueType::ZSet`; answered, never left hanging.
            let _ = w.deliver(Served::Failed(WRONG_KIND.into()));
            continue;
        };
        let end = if min { End::Min } else { End::Max };
        let items = match take(ctx, key, &mut c, end, count.unwrap_or(1)).await {
            Ok(items) => items,
            Err(e) => {
                let _ = w.deliver(Served::Failed(reply_text(e)));
                return;
            }
        };
        let served = Served::Members {
            key: key.to_vec(),
            items,
        };
        if let Err(Served::Members { items, .. }) = w.deliver(served) {
            // The client went away after the claim: put them back (still
            // under the lock, so nobody saw them gone) and go on.
            if put_back(ctx, key, &items).await.is_err() {
                return;
            }
        }
    }
}

/// Puts back members a vanished client was handed from `key`, and lets
/// the key's next waiter have them.
pub fn give_back(map: PartitionMap, ns: u16, key: Vec<u8>, items: Vec<Scored>) {
    let core = map.core_of_slot(key_slot(&key));
    drop(frys_runtime::spawn_on(core, move || async move {
        let ctx = KeyCtx::new(store::current(), ns);
        let _g = ctx.lock(&key).await;
        if put_back(&ctx, &key, &items).await.is_ok() {
            serve_waiters(&ctx, &key).await;
        }
    }));
}

/// Adds `items` to the sorted set `key` (a new one if absent; the caller
/// holds its lock), except members it holds again; WRONGTYPE if the key
/// now holds another type.
async fn put_back(ctx: &KeyCtx, key: &[u8], items: &[Scored]) -> Result<(), Reply> {
    let (mut c, fresh) = match access::open(ctx, key).await? {
        Some(c) => (c, false),
        None => (Collection::new(ZSET), true),
    };
    let mut w = ZWrite::new(ctx, key, &c);
    let mut added = 0;
    for (m, s) in items {
        if !fresh && access::score(ctx, key, &c, m).await?.is_some() {
            continue;
        }
        w.insert(m, *s);
        added += 1;
    }
    if added == 0 {
        return Ok(());
    }
    c.meta.count += added;
    w.commit(ctx, &c).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bzpop_replies_key_member_score_and_bzmpop_replies_as_zmpop() {
        let items = || vec![(b"m".to_vec(), 1.5)];
        assert_eq!(
            pop_reply(None, b"k".to_vec(), items()),
            Reply::Array(vec![
                Reply::Bulk(b"k".to_vec()),
                Reply::Bulk(b"m".to_vec()),
                Reply::Double(1.5),
            ])
        );
        assert_eq!(
            pop_reply(Some(3), b"k".to_vec(), items()),
            Reply::Array(vec![
                Reply::Bulk(b"k".to_vec()),
                Reply::Array(vec![Reply::Array(vec![
                    Reply::Bulk(b"m".to_vec()),
                    Reply::Double(1.5),
                ])]),
            ])
        );
    }
}
