//! What every blocking command shares, whatever it waits for (a list:
//! `list_blocking`; a sorted set: `zset::blocking`): its timeout, the
//! registration of its waiter, the wait, and the clean-up after it.
//!
//! A blocking command runs as a barrier at the client's connection:
//! 1. With every key locked ([`with_keys`]), it tries the
//!    non-blocking form; if nothing can be taken it registers one
//!    [`Waiter`] on the core owning each key ([`register_all`]), still
//!    under the locks, so no write can fall between the check and the
//!    registration.
//! 2. It waits ([`wait`]) for a delivery, its timeout, or a cancellation
//!    (CLIENT KILL, end of stream, shutdown: [`crate::server::blocked`]).
//! 3. A write that leaves one of the keys holding a non-empty value of the
//!    type the waiter wants ([`WaitOp::kind`]) serves that key's waiters
//!    of that type, on the key's core, under the writer's lock, oldest
//!    first (`list_blocking::serve_waiters` for lists,
//!    `zset::serve_waiters` for sorted sets): each is claimed, then what
//!    it asked for is taken and handed over there, atomically with the
//!    write (no other command on the key runs in between). Waiters of the
//!    other type go on waiting.
//!
//! The claim is a compare-and-swap on the waiter shared by all its
//! registrations (see `store::blocking`): a client waiting on keys of
//! several cores is served by exactly one, a timed-out or cancelled wait
//! is never given anything, and what was delivered to a client that went
//! away is put back where it came from ([`Registration`]'s drop). A
//! client whose timeout fires after it was claimed takes the delivery
//! instead of answering nil.
//!
//! Inside a transaction (`BarrierCtx::held`: EXEC holds the keys) nothing
//! blocks: the command answers as Redis does under MULTI (as if the
//! timeout had expired).
//!
//! [`WaitOp::kind`]: crate::store::blocking::WaitOp::kind
//! [`with_keys`]: super::key_hops::with_keys

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::key_hops::{self, Hops};
use super::spec::BarrierCtx;
use super::{list_blocking, zset};
use crate::command::parse_f64;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::exec::{race, Either};
use crate::keyspace::{key_slot, PartitionMap};
use crate::protocol::Reply;
use crate::server::blocked::Blocked;
use crate::store::blocking::{self, Served, WaitOp, Waiter};
use crate::store::{self, data_key, now_ms};

/// A timeout in seconds as Redis' `getTimeoutFromObjectOrReply` reads it:
/// `None` = wait forever (0, or a negative value that rounds up to 0 ms).
pub(crate) fn parse_timeout(a: &[u8]) -> Result<Option<Duration>, Reply> {
    let secs = parse_f64(a).ok_or_else(|| Reply::error(errors::TIMEOUT_NOT_FLOAT))?;
    let ms = secs * 1000.0;
    if ms > i64::MAX as f64 {
        return Err(Reply::error(errors::TIMEOUT_OUT_OF_RANGE));
    }
    let ms = ms.ceil();
    if ms < 0.0 {
        return Err(Reply::error(errors::TIMEOUT_NEGATIVE));
    }
    let ms = ms as i64;
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms() as i64 {
        return Err(Reply::error(errors::TIMEOUT_OUT_OF_RANGE));
    }
    Ok(Some(Duration::from_millis(ms as u64)))
}

/// Registers `waiter` at the back of the queue of every key of `keys`, on
/// its core, all keys locked by `h` (after seeing none of them could
/// serve it).
pub(crate) async fn register_all(
    h: &Hops,
    keys: &[Vec<u8>],
    waiter: Arc<Waiter>,
) -> Result<(), Reply> {
    for k in keys {
        let (key, w) = (k.clone(), waiter.clone());
        h.on(
            k,
            Box::new(move |ctx| {
                Box::pin(async move {
                    blocking::register(&data_key(ctx.ns, key_slot(&key), &key), w, false);
                })
            }),
        )
        .await?;
    }
    Ok(())
}

/// What a waiter answers if it were handed the other kind's delivery
/// (`store::blocking::claim_next` claims by kind, so it is not).
pub(crate) const WRONG_KIND: &str =
    "ERR internal: a blocked client was served by a write of another type";

/// The text of an error reply, for [`Served::Failed`].
pub(crate) fn reply_text(r: Reply) -> String {
    match r {
        Reply::Error(t) => t.into_owned(),
        other => format!("ERR internal: {other:?}"),
    }
}

/// A wait that may be registered: when dropped (the wait ended, the
/// command failed, or its future was dropped) it cancels the waiter,
/// hands back a delivery that nobody took, and removes the registrations
/// on every key's core. Inert unless `armed` (nothing was registered).
pub(crate) struct Registration {
    map: PartitionMap,
    ns: u16,
    keys: Vec<Vec<u8>>,
    waiter: Arc<Waiter>,
    /// Whether a registration may have been made.
    pub armed: bool,
    taken: bool,
}

impl Registration {
    /// The registration of `waiter` for `keys` of namespace `ns`.
    pub fn new(ns: u16, keys: Vec<Vec<u8>>, waiter: Arc<Waiter>, armed: bool) -> Registration {
        Registration {
            map: store::current().map(),
            ns,
            keys,
            waiter,
            armed,
            taken: false,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Off a core (the runtime tearing down) nothing can be sent.
        if !self.armed || frys_runtime::current_core().is_none() {
            return;
        }
        if !self.taken && !self.waiter.cancel() {
            match self.waiter.abandon() {
                Some(Served::Ready) => {
                    if let Some(k) = self.keys.first() {
                        list_blocking::reserve_again(self.map, self.ns, k.clone());
                    }
                }
                Some(Served::Elements { key, front, items }) => {
                    list_blocking::give_back(self.map, self.ns, key, front, items);
                }
                Some(Served::Members { key, items }) => {
                    zset::give_back(self.map, self.ns, key, items);
                }
                Some(Served::Failed(_)) | None => {}
            }
        }
        let id = self.waiter.id();
        for key in &self.keys {
            let dk = data_key(self.ns, key_slot(key), key);
            let core = self.map.core_of_slot(key_slot(key));
            drop(frys_runtime::spawn_on(core, move || async move {
                blocking::unregister(&dk, id);
            }));
        }
    }
}

/// How a wait ended.
pub(crate) enum Outcome {
    /// A core claimed the waiter and handed this over.
    Served(Served),
    /// The timeout passed, or the wait was cancelled, before any claim.
    TimedOut,
}

/// Waits for `reg`'s waiter to be served, until `deadline` (`None`:
/// forever) or a cancellation of `client`'s wait; counts the client as
/// blocked meanwhile.
pub(crate) async fn wait(
    client: u64,
    reg: &mut Registration,
    deadline: Option<Instant>,
) -> Outcome {
    let blocked = Blocked::enter(client);
    let timer = async move {
        match deadline {
            Some(d) => frys_runtime::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let w = reg.waiter.clone();
    let moved = slot_moved(reg.keys.clone());
    let outcome = match race(w.wait(), race(timer, race(blocked.cancelled(), moved))).await {
        Either::Left(s) => Outcome::Served(s),
        // The keys' slot moved away (Redis'
        // clusterRedirectBlockedClientIfNeeded): the redirection is the
        // reply, as a failure the callers answer as an error.
        Either::Right(Either::Right(Either::Right(text))) if w.cancel() => {
            Outcome::Served(Served::Failed(text))
        }
        Either::Right(_) if w.cancel() => Outcome::TimedOut,
        // Claimed just before the timeout: the delivery is on its way.
        Either::Right(_) => Outcome::Served(w.wait().await),
    };
    reg.taken = true;
    outcome
}

/// How a blocking pop ended ([`pop_or_wait`]).
pub(crate) enum Popped<T> {
    /// Taken at once, with every key locked: the key and what was taken.
    Now(Vec<u8>, T),
    /// Nothing to take: the timeout passed, or the command may not block
    /// (inside EXEC, during shutdown, past its deadline).
    Nothing,
    /// A write served the waiter: what it handed over.
    Served(Served),
}

/// Steps 1 and 2 of the module docs for a pop of any type: with every key
/// of `keys` locked, `pop_first` takes from the first key that has
/// something or, given the waiter, registers it on every key's core;
/// then the client waits until a write serves it, `deadline` passes or
/// the wait is cancelled. `pop_first` is handed the waiter only when the
/// command may block.
pub(crate) async fn pop_or_wait<T, P>(
    ctx: BarrierCtx,
    keys: Vec<Vec<u8>>,
    op: WaitOp,
    deadline: Option<Instant>,
    pop_first: P,
) -> Result<Popped<T>, Reply>
where
    T: Send + 'static,
    P: FnOnce(
            Hops,
            Vec<Vec<u8>>,
            Option<Arc<Waiter>>,
        ) -> LocalBoxFuture<Result<Option<(Vec<u8>, T)>, Reply>>
        + Send
        + 'static,
{
    let waiter = Waiter::new(op);
    // Inside EXEC nothing blocks: the attempt, then MULTI's answer.
    let blocks = !ctx.held && may_block(deadline);
    // Before the registration, so a failure half way still cleans up.
    let mut reg = Registration::new(ctx.ns, keys.clone(), waiter.clone(), blocks);
    let register = blocks.then(|| waiter.clone());
    let found =
        key_hops::with_keys(&ctx, keys.clone(), move |h| pop_first(h, keys, register)).await?;
    if let Some((key, taken)) = found {
        reg.armed = false; // found before registering
        return Ok(Popped::Now(key, taken));
    }
    if !blocks {
        return Ok(Popped::Nothing);
    }
    Ok(match wait(ctx.client_id, &mut reg, deadline).await {
        Outcome::Served(served) => Popped::Served(served),
        Outcome::TimedOut => Popped::Nothing,
    })
}

/// How often a client blocked in cluster mode checks that this node
/// still serves its keys.
const SLOT_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Completes, with the refusal's text (MOVED, CLUSTERDOWN), once this
/// node no longer serves `keys` under its installed map; never outside
/// cluster mode. A check reads this core's copy of the view.
async fn slot_moved(keys: Vec<Vec<u8>>) -> String {
    if crate::cluster::mode() != crate::cluster::Mode::Enabled {
        return std::future::pending().await;
    }
    loop {
        frys_runtime::time::sleep_until(Instant::now() + SLOT_CHECK_INTERVAL).await;
        if let Err(refusal) = crate::cluster::check_keys(keys.iter().map(Vec::as_slice)) {
            return refusal.text();
        }
    }
}

/// Whether a command may still block: not during shutdown, not past its
/// deadline.
pub(crate) fn may_block(deadline: Option<Instant>) -> bool {
    !crate::server::shutting_down() && deadline.is_none_or(|d| Instant::now() < d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(parse_timeout(b"-0.0001").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0.0001").unwrap(),
            Some(Duration::from_millis(1))
        );
        assert_eq!(
            parse_timeout(b"1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        let e = |a: &[u8]| match parse_timeout(a) {
            Err(Reply::Error(t)) => t.into_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(e(b"abc"), errors::TIMEOUT_NOT_FLOAT);
        assert_eq!(e(b"-1"), errors::TIMEOUT_NEGATIVE);
        assert_eq!(e(b"inf"), errors::TIMEOUT_OUT_OF_RANGE);
        assert_eq!(e(b"1e30"), errors::TIMEOUT_OUT_OF_RANGE);
    }
}
