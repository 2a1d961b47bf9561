//! List commands over several keys: LMOVE, RPOPLPUSH, LMPOP. Their keys
//! may live on several cores, so they run as barriers at the connection,
//! with every key locked for the whole command ([`key_hops::with_keys`]:
//! one hop when the keys share a core, else a `LockSet`); no other
//! command on those keys runs in between.
//!
//! The steps ([`move_one`], [`pop_first`]) are also what the blocking
//! forms run, before they block and when they are woken.

use super::blocking::register_all;
use super::body::arg;
use super::key_hops::{self, Hops};
use super::list;
use super::spec::BarrierCtx;
use crate::command::{parse_i64, CommandSpec, KeySpec, Run};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::store::blocking::{self, Waiter};
use crate::store::{data_key, Collection};

/// `LEFT` / `RIGHT` (any case): true for the front.
pub(crate) fn parse_end(a: &[u8]) -> Result<bool, Reply> {
    match a.to_ascii_lowercase().as_slice() {
        b"left" => Ok(true),
        b"right" => Ok(false),
        _ => Err(Reply::error(errors::SYNTAX)),
    }
}

/// What a move does when the source is empty.
#[derive(Clone)]
pub(crate) enum IfEmpty {
    /// Answer nil.
    Nil,
    /// Register `Waiter` on the source's core (at the front of its queue
    /// if it was woken before), then answer `None`.
    Block(std::sync::Arc<Waiter>, bool),
}

/// Moves one element from `src`'s `from_front` end to `dst`'s `to_front`
/// end, all keys locked by `h`: the element, `None` if `src` is empty
/// (after registering the waiter, if asked). Redis' order of checks:
/// the source's type, then the destination's.
pub(crate) async fn move_one(
    h: &Hops,
    src: Vec<u8>,
    dst: Vec<u8>,
    from_front: bool,
    to_front: bool,
    if_empty: IfEmpty,
) -> Result<Option<Vec<u8>>, Reply> {
    let s = src.clone();
    let source: Option<Collection> = h
        .on(
            &src,
            Box::new(move |ctx| {
                Box::pin(async move {
                    let c = list::open(&ctx, &s).await?;
                    if c.is_none() {
                        if let IfEmpty::Block(w, front) = if_empty {
                            let dk = data_key(ctx.ns, key_slot(&s), &s);
                            blocking::register(&dk, w, front);
                        }
                    }
                    Ok::<_, Reply>(c)
                })
            }),
        )
        .await??;
    if source.is_none() {
        return Ok(None);
    }
    let d = dst.clone();
    h.on(
        &dst,
        Box::new(move |ctx| Box::pin(async move { list::open(&ctx, &d).await.map(|_| ()) })),
    )
    .await??;
    let s = src.clone();
    let value = h
        .on(
            &src,
            Box::new(move |ctx| {
                Box::pin(async move {
                    let Some(mut c) = list::open(&ctx, &s).await? else {
                        return Ok::<_, Reply>(None);
                    };
                    Ok(list::pop(&ctx, &s, &mut c, from_front, 1).await?.pop())
                })
            }),
        )
        .await??;
    let Some(value) = value else {
        return Ok(None);
    };
    let (v, d) = (value.clone(), dst.clone());
    h.on(
        &dst,
        Box::new(move |ctx| {
            Box::pin(async move {
                let dst = d;
                let mut c = list::open(&ctx, &dst)
                    .await?
                    .unwrap_or_else(|| Collection::new(list::LIST));
                list::push(&ctx, &dst, &mut c, to_front, [v.as_slice()]).await?;
                Ok::<(), Reply>(())
            })
        }),
    )
    .await??;
    Ok(Some(value))
}

/// The first of `keys` (in order) that is a non-empty list, popped as
/// `op` asks: `(key, elements)`. WRONGTYPE for the first key of another
/// type met before a list. With no list, `waiter` (if any) is registered
/// for every key on its core, and `None` is returned.
pub(crate) async fn pop_first(
    h: &Hops,
    keys: &[Vec<u8>],
    front: bool,
    count: u64,
    waiter: Option<std::sync::Arc<Waiter>>,
) -> Result<Option<(Vec<u8>, Vec<Vec<u8>>)>, Reply> {
    for k in keys {
        let key = k.clone();
        let items = h
            .on(
                k,
                Box::new(move |ctx| {
                    Box::pin(async move {
                        let Some(mut c) = list::open(&ctx, &key).await? else {
                            return Ok::<_, Reply>(None);
                        };
                        Ok(Some(list::pop(&ctx, &key, &mut c, front, count).await?))
                    })
                }),
            )
            .await??;
        if let Some(items) = items {
            return Ok(Some((k.clone(), items)));
        }
    }
    if let Some(w) = waiter {
        register_all(h, keys, w).await?;
    }
    Ok(None)
}

/// The reply of LMPOP / BLMPOP: `[key, [elements]]`.
pub(crate) fn mpop_reply(key: Vec<u8>, items: Vec<Vec<u8>>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(key),
        Reply::Array(items.into_iter().map(Reply::Bulk).collect()),
    ])
}

fn flatten(r: Result<Reply, Reply>) -> Reply {
    match r {
        Ok(r) | Err(r) => r,
    }
}

async fn lmove_generic(
    ctx: BarrierCtx,
    src: Vec<u8>,
    dst: Vec<u8>,
    from: bool,
    to: bool,
) -> Result<Reply, Reply> {
    let keys = vec![src.clone(), dst.clone()];
    key_hops::with_keys(&ctx, keys, move |h| {
        Box::pin(async move {
            let v = move_one(&h, src, dst, from, to, IfEmpty::Nil).await?;
            Ok(v.map_or(Reply::Null, Reply::Bulk))
        })
    })
    .await
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let ends = parse_end(arg(&argv, 3)).and_then(|f| Ok((f, parse_end(arg(&argv, 4))?)));
        let (from, to) = match ends {
            Ok(e) => e,
            Err(e) => return e,
        };
        let (src, dst) = (arg(&argv, 1).to_vec(), arg(&argv, 2).to_vec());
        flatten(lmove_generic(ctx, src, dst, from, to).await)
    })
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let (src, dst) = (arg(&argv, 1).to_vec(), arg(&argv, 2).to_vec());
        flatten(lmove_generic(ctx, src, dst, false, true).await)
    })
}

/// The arguments of LMPOP / BLMPOP from `numkeys` at `at`.
pub(crate) struct Mpop {
    /// The keys, in order.
    pub keys: Vec<Vec<u8>>,
    /// LEFT.
    pub front: bool,
    /// COUNT (1 without it).
    pub count: u64,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` from `argv[at]`,
/// as Redis' `lmpopGenericCommand`.
pub(crate) fn parse_mpop(argv: &Argv, at: usize) -> Result<Mpop, Reply> {
    let numkeys = match parse_i64(arg(argv, at)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(Reply::error(errors::NUMKEYS_NOT_POSITIVE)),
    };
    let where_at = (at as u64)
        .checked_add(numkeys)
        .and_then(|i| i.checked_add(1))
        .filter(|&i| i < argv.len() as u64)
        .ok_or_else(|| Reply::error(errors::SYNTAX))? as usize;
    let front = parse_end(arg(argv, where_at))?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if count.is_none() && more && arg(argv, j).eq_ignore_ascii_case(b"count") {
            match parse_i64(arg(argv, j + 1)) {
                Some(n) if n >= 1 => count = Some(n as u64),
                _ => return Err(Reply::error(errors::COUNT_NOT_POSITIVE)),
            }
            j += 2;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
    }
    Ok(Mpop {
        keys: (at + 1..where_at).map(|i| arg(argv, i).to_vec()).collect(),
        front,
        count: count.unwrap_or(1),
    })
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let m = match parse_mpop(&argv, 1) {
            Ok(m) => m,
            Err(e) => return e,
        };
        let keys = m.keys.clone();
        let r = key_hops::with_keys(&ctx, keys, move |h| {
            Box::pin(async move {
                Ok(
                    match pop_first(&h, &m.keys, m.front, m.count, None).await? {
                        Some((k, items)) => mpop_reply(k, items),
                        None => Reply::NullArray,
                    },
                )
            })
        })
        .await;
        flatten(r)
    })
}

const ACL_WS: &[&str] = &["@write", "@list", "@slow"];

/// LMPOP / BLMPOP keys: counted by `numkeys` (COMMAND shows no legacy range).
pub(crate) const MOVABLE: KeySpec = KeySpec::NONE;

/// The multi-key list commands.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::leaf("lmove", 5, &["write", "denyoom"], KeySpec::TWO, ACL_WS, list::doc("Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0", "O(1)", "source destination <LEFT | RIGHT> <LEFT | RIGHT>"), Run::Barrier(lmove)),
    CommandSpec::leaf("rpoplpush", 3, &["write", "denyoom"], KeySpec::TWO, ACL_WS, list::doc("Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0", "O(1)", "source destination"), Run::Barrier(rpoplpush)),
    CommandSpec::leaf("lmpop", -4, &["write", "movablekeys"], MOVABLE, ACL_WS, list::doc("Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"), Run::Barrier(lmpop)).with_key_finder(crate::command::numkeys_keys::<1>),
];
