//! The blocking list commands (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH)
//! and the serving of the clients blocked on lists by pushes.
//!
//! They follow the steps of `command::blocking` (try, register under the
//! keys' locks, wait; see there for the invariants). A push (any command
//! calling `list::push`, and RENAME / COPY / MOVE of a list onto the key)
//! serves the key's list waiters on the key's core under the pusher's
//! lock, oldest first, while the list has elements ([`serve_waiters`]): a
//! pop waiter is claimed and its elements popped and handed over there,
//! atomically with the push; a BLMOVE waiter is only woken, and then runs
//! its move itself (its keys locked again, re-registering at the front of
//! the queue if someone was faster). Waiters for sorted sets on the same
//! key are left waiting, and a list waiter whose key holds another type
//! is never claimed (the type is re-read under the lock).
//!
//! Elements delivered to a client that went away are pushed back where
//! they came from ([`give_back`]).
//!
//! Inside a transaction (the keys already locked by the caller) a
//! blocking command does not block: it answers as Redis does under MULTI
//! (as if the timeout had expired).

use std::time::{Duration, Instant};

use super::blocking::{
    may_block, parse_timeout, pop_or_wait, reply_text, wait, Outcome, Popped, Registration,
    WRONG_KIND,
};
use super::body::arg;
use super::key_hops;
use super::list;
use super::list_move::{self, move_one, mpop_reply, parse_end, parse_mpop, pop_first, IfEmpty};
use super::spec::{BarrierCtx, KeyCtx};
use crate::command::{CommandSpec, KeySpec, Run};
use crate::exec::LocalBoxFuture;
use crate::keyspace::{key_slot, PartitionMap};
use crate::protocol::{Argv, Reply};
use crate::store::blocking::{self, Served, WaitOp, Waiter};
use crate::store::{self, data_key, Collection, ValueType};

/// A blocking command, parsed.
enum Blocking {
    /// BLPOP / BRPOP (`count: None`, reply `[key, element]`) and BLMPOP
    /// (reply `[key, [elements]]`).
    Pop {
        keys: Vec<Vec<u8>>,
        front: bool,
        count: Option<u64>,
        timeout: Option<Duration>,
    },
    /// BLMOVE / BRPOPLPUSH.
    Move {
        src: Vec<u8>,
        dst: Vec<u8>,
        from: bool,
        to: bool,
        timeout: Option<Duration>,
    },
}

/// Parses a blocking command in Redis' order of checks.
fn parse(argv: &Argv) -> Result<Blocking, Reply> {
    let name = arg(argv, 0).to_ascii_lowercase();
    let n = argv.len();
    Ok(match name.as_slice() {
        b"blpop" | b"brpop" => Blocking::Pop {
            timeout: parse_timeout(arg(argv, n - 1))?,
            keys: (1..n - 1).map(|i| arg(argv, i).to_vec()).collect(),
            front: name == b"blpop",
            count: None,
        },
        b"blmpop" => {
            let m = parse_mpop(argv, 2)?;
            Blocking::Pop {
                timeout: parse_timeout(arg(argv, 1))?,
                keys: m.keys,
                front: m.front,
                count: Some(m.count),
            }
        }
        b"blmove" => {
            let (from, to) = (parse_end(arg(argv, 3))?, parse_end(arg(argv, 4))?);
            Blocking::Move {
                timeout: parse_timeout(arg(argv, 5))?,
                src: arg(argv, 1).to_vec(),
                dst: arg(argv, 2).to_vec(),
                from,
                to,
            }
        }
        _ => Blocking::Move {
            timeout: parse_timeout(arg(argv, 3))?,
            src: arg(argv, 1).to_vec(),
            dst: arg(argv, 2).to_vec(),
            from: false,
            to: true,
        },
    })
}

fn pop_reply(count: Option<u64>, key: Vec<u8>, mut items: Vec<Vec<u8>>) -> Reply {
    match count {
        Some(_) => mpop_reply(key, items),
        None => Reply::Array(vec![
            Reply::Bulk(key),
            items.pop().map_or(Reply::Null, Reply::Bulk),
        ]),
    }
}

/// Serves the clients blocked on `key` for a list (on its core, the
/// caller holding its lock, after a write that may have made it a
/// non-empty list): oldest first, while elements remain. See the module
/// docs.
///
/// Inside EXEC or a multi-key command (`ctx.held`) the caller keeps the
/// key locked past this write, and Redis serves blocked clients only after
/// the command (or the whole transaction): the serving then runs in a task
/// of its own that takes the key's lock once the caller lets it go.
pub(crate) async fn serve_waiters(ctx: &KeyCtx, key: &[u8]) {
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
            serve_locked(&ctx, &key, &data_key(ns, key_slot(&key), &key)).await;
        }));
        return;
    }
    serve_locked(ctx, key, &dk).await;
}

/// [`serve_waiters`]' work, the caller holding the key's lock.
async fn serve_locked(ctx: &KeyCtx, key: &[u8], dk: &[u8]) {
    let dk = dk.to_vec();
    // Elements left for woken BLMOVE clients, which move them themselves.
    let mut reserved = 0;
    loop {
        let Ok(Some(mut c)) = list::open(ctx, key).await else {
            return;
        };
        if c.meta.count <= reserved {
            return;
        }
        let Some(w) = blocking::claim_next(&dk, ValueType::List) else {
            return;
        };
        let (front, count) = match w.op() {
            WaitOp::Wake => {
                if w.deliver(Served::Ready).is_ok() {
                    reserved += 1;
                }
                continue;
            }
            WaitOp::Pop { front, count } => (front, count),
            // Not returned for `ValueType::List`; answered, never left hanging.
            WaitOp::ZPop { .. } => {
                let _ = w.deliver(Served::Failed(WRONG_KIND.into()));
                continue;
            }
        };
        let n = count.unwrap_or(1).min(c.meta.count - reserved);
        let items = match list::pop(ctx, key, &mut c, front, n).await {
            Ok(items) => items,
            Err(e) => {
                let _ = w.deliver(Served::Failed(reply_text(e)));
                return;
            }
        };
        let served = Served::Elements {
            key: key.to_vec(),
            front,
            items,
        };
        if let Err(Served::Elements { items, .. }) = w.deliver(served) {
            // The client went away after the claim: put them back (still
            // under the lock, so nobody saw them gone) and go on. A list
            // the pop emptied was deleted: it comes back as a new one (a
            // version is never reused).
            if c.meta.count == 0 {
                c = Collection::new(list::LIST);
            }
            let back = items.iter().rev().map(Vec::as_slice);
            if list::write_push(ctx, key, &mut c, front, back)
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Puts back elements a vanished client was handed (from `key`'s
/// `front` or back end, in pop order), and lets the key's next waiter
/// have them.
pub(crate) fn give_back(
    map: PartitionMap,
    ns: u16,
    key: Vec<u8>,
    front: bool,
    items: Vec<Vec<u8>>,
) {
    let core = map.core_of_slot(key_slot(&key));
    drop(frys_runtime::spawn_on(core, move || async move {
        let ctx = KeyCtx::new(store::current(), ns);
        let _g = ctx.lock(&key).await;
        let Ok(c) = list::open(&ctx, &key).await else {
            return;
        };
        let mut c = c.unwrap_or_else(|| Collection::new(list::LIST));
        let back = items.iter().rev().map(Vec::as_slice);
        let _ = list::push(&ctx, &key, &mut c, front, back).await;
    }));
}

/// Wakes the waiters of `key` again (a woken BLMOVE client went away
/// without moving the element it was woken for).
pub(crate) fn reserve_again(map: PartitionMap, ns: u16, key: Vec<u8>) {
    let core = map.core_of_slot(key_slot(&key));
    drop(frys_runtime::spawn_on(core, move || async move {
        let ctx = KeyCtx::new(store::current(), ns);
        let _g = ctx.lock(&key).await;
        serve_waiters(&ctx, &key).await;
    }));
}

async fn block_pop(
    ctx: BarrierCtx,
    keys: Vec<Vec<u8>>,
    front: bool,
    count: Option<u64>,
    deadline: Option<Instant>,
) -> Result<Reply, Reply> {
    let n = count.unwrap_or(1);
    let op = WaitOp::Pop { front, count };
    let popped = pop_or_wait(ctx, keys, op, deadline, move |h, keys, register| {
        Box::pin(async move { pop_first(&h, &keys, front, n, register).await })
    })
    .await?;
    match popped {
        Popped::Now(key, items) => Ok(pop_reply(count, key, items)),
        Popped::Nothing | Popped::Served(Served::Ready) => Ok(Reply::NullArray),
        Popped::Served(Served::Elements { key, items, .. }) => Ok(pop_reply(count, key, items)),
        Popped::Served(Served::Failed(text)) => Err(Reply::error(text)),
        Popped::Served(Served::Members { .. }) => Err(Reply::error(WRONG_KIND)),
    }
}

async fn block_move(
    ctx: BarrierCtx,
    src: Vec<u8>,
    dst: Vec<u8>,
    from: bool,
    to: bool,
    deadline: Option<Instant>,
) -> Result<Reply, Reply> {
    let mut woken = false;
    loop {
        let waiter = Waiter::new(WaitOp::Wake);
        let blocks = !ctx.held && may_block(deadline);
        let mut reg = Registration::new(ctx.ns, vec![src.clone()], waiter.clone(), blocks);
        let if_empty = if blocks {
            IfEmpty::Block(waiter, woken)
        } else {
            IfEmpty::Nil
        };
        let (s, d) = (src.clone(), dst.clone());
        let keys = vec![src.clone(), dst.clone()];
        // A woken client that ends without moving leaves the element it
        // was woken for: the key's other waiters are served again.
        let release = |woken: bool| {
            if woken {
                reserve_again(store::current().map(), ctx.ns, src.clone());
            }
        };
        let moved = match key_hops::with_keys(&ctx, keys, move |h| {
            Box::pin(async move { move_one(&h, s, d, from, to, if_empty).await })
        })
        .await
        {
            Ok(m) => m,
            Err(e) => {
                release(woken);
                return Err(e);
            }
        };
        if let Some(v) = moved {
            reg.armed = false; // moved before registering
            return Ok(Reply::Bulk(v));
        }
        if ctx.held {
            return Ok(Reply::Null); // inside MULTI, as Redis answers
        }
        if !blocks {
            release(woken);
            return Ok(Reply::NullArray);
        }
        match wait(ctx.client_id, &mut reg, deadline).await {
            Outcome::TimedOut => return Ok(Reply::NullArray),
            Outcome::Served(Served::Failed(text)) => return Err(Reply::error(text)),
            // Woken: move it ourselves (or wait again, first in line).
            Outcome::Served(_) => woken = true,
        }
    }
}

/// BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH at the connection.
fn blocking_command(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let started = Instant::now();
        let r = match parse(&argv) {
            Err(e) => Err(e),
            Ok(Blocking::Pop {
                keys,
                front,
                count,
                timeout,
            }) => block_pop(ctx, keys, front, count, timeout.map(|t| started + t)).await,
            Ok(Blocking::Move {
                src,
                dst,
                from,
                to,
                timeout,
            }) => block_move(ctx, src, dst, from, to, timeout.map(|t| started + t)).await,
        };
        match r {
            Ok(r) | Err(r) => r,
        }
    })
}

/// BLPOP / BRPOP / BZPOPMIN / BZPOPMAX keys: every argument but the last
/// (the timeout).
pub(crate) const ALL_BUT_LAST: KeySpec = KeySpec {
    first: 1,
    last: -2,
    step: 1,
};
const ACL: &[&str] = &["@write", "@list", "@slow", "@blocking"];

const fn row(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: KeySpec,
    doc: crate::command::Doc,
) -> CommandSpec {
    CommandSpec::leaf(
        name,
        arity,
        flags,
        keys,
        ACL,
        doc,
        Run::Barrier(blocking_command),
    )
}

/// The blocking list commands.
pub const SPECS: &[CommandSpec] = &[
    row("blpop", -3, &["write", "blocking"], ALL_BUT_LAST, list::doc("Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.", "key [key ...] timeout")),
    row("brpop", -3, &["write", "blocking"], ALL_BUT_LAST, list::doc("Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.", "key [key ...] timeout")),
    row("blmpop", -5, &["write", "blocking", "movablekeys"], list_move::MOVABLE, list::doc("Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]")).with_key_finder(crate::command::numkeys_keys::<2>),
    row("blmove", 6, &["write", "denyoom", "blocking"], KeySpec::TWO, list::doc("Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0", "O(1)", "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout")),
    row("brpoplpush", 4, &["write", "denyoom", "blocking"], KeySpec::TWO, list::doc("Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0", "O(1)", "source destination timeout")),
];
