//! Key locks taken on several cores, in one global order, and the tasks
//! that hold them.
//!
//! Order: cores ascending, and on each core the data keys sorted (the
//! core's `KeyLocks::lock_all`). Every command that holds more than one
//! key lock takes them in this order (a core's own multi-key commands
//! take only that core's keys, sorted), so no cycle of waiters can form.
//! Locks are released together, after the holder's last read or write
//! (strict two-phase locking).
//!
//! When the calling core comes first in the order (its keys all, or those
//! of no lower core), its keys are locked inline, in the caller's task: a
//! set on this core alone costs no hop and no task. Every other core gets
//! one *holder* task that locks that core's keys and keeps them: the first
//! holder starts at once, each one starts locking when the one before it
//! holds its keys, and the last tells the caller. [`LockSet::acquire`] does not wait for any of it: work for a
//! core ([`LockSet::send`]) is queued to its holder, which runs it once
//! it holds its keys (and so every lower core holds its own), one job at
//! a time. A transaction on one other core therefore pays no round trip
//! to lock (the lock request travels with, and ahead of, its first job),
//! and one on `k` cores pays `k` one-way hops, not `k` round trips.
//! Dropping the set closes the holders' queues: each finishes its queued
//! jobs and releases.
//!
//! Pipeline order: a set is only acquired by a barrier (EXEC, a fan-out or
//! multi-key command over several cores, a plugin call over several
//! cores), which starts after every earlier command of its pipeline
//! answered, and the commands after it are dispatched only once it
//! answered. So no command of the same pipeline can take one of its keys
//! between its holders' lock steps, and each core's `lock_all` joins all
//! of that core's queues in one step (`store::key_locks`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use frys_runtime::channel::{self, Receiver, Sender, TrySendError};

use crate::exec::LocalBoxFuture;
use crate::keyspace::key_slot;
use crate::protocol::Reply;
use crate::store::{self, data_key, CoreStore, KeyGuard};

/// Work run by a holder on its core, with its keys locked.
pub type Job = Box<dyn FnOnce(Rc<CoreStore>) -> LocalBoxFuture<()> + Send>;

/// Jobs queued per holder before a sender waits for room.
const JOBS_IN_FLIGHT: usize = 16;

/// Keys locked on one or more cores until dropped.
#[derive(Default)]
pub struct LockSet {
    /// Guards of the calling core's keys, when it comes first in the order.
    local: Vec<KeyGuard>,
    /// The holder of each other core (cores ascending).
    holders: Vec<(usize, RefCell<Sender<Job>>)>,
    /// Told by the last holder once every core holds its keys.
    all_locked: Option<Receiver<()>>,
}

impl LockSet {
    /// A set holding nothing (the caller already holds the keys).
    pub fn none() -> LockSet {
        LockSet::default()
    }

    /// Starts locking `(namespace, key)` pairs on their owning cores, in
    /// the global order; repeated keys are locked once. The calling core's
    /// keys, when no lower core has any, are locked when it returns; the
    /// other cores' are being locked by their holders (see
    /// [`LockSet::locked`]).
    ///
    /// # Cancel safety
    /// Dropping the future (or the set) releases whatever was locked.
    pub async fn acquire(keys: Vec<(u16, Vec<u8>)>) -> LockSet {
        let store = store::current();
        let map = store.map();
        let mut by_core: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for (ns, key) in keys {
            let slot = key_slot(&key);
            by_core
                .entry(map.core_of_slot(slot))
                .or_default()
                .push(data_key(ns, slot, &key));
        }
        let mut set = LockSet::default();
        // The calling core first in the order: its keys are locked inline
        // before any other core's.
        if let Some(entry) = by_core.first_entry() {
            if *entry.key() == store.core() {
                let data_keys = entry.remove();
                let refs: Vec<&[u8]> = data_keys.iter().map(Vec::as_slice).collect();
                set.local = store.locks().lock_all(&refs).await;
            }
        }
        if by_core.is_empty() {
            return set;
        }
        let (last_tx, all_locked) = channel::bounded::<()>(1);
        set.all_locked = Some(all_locked);
        // Last core first: each holder is handed the turn signal of the
        // one after it (the last one's goes to the caller).
        let mut next = Some(last_tx);
        let n = by_core.len();
        for (i, (core, data_keys)) in by_core.into_iter().rev().enumerate() {
            let mine = next.take();
            let wait_for = (i + 1 < n).then(|| {
                let (tx, rx) = channel::bounded::<()>(1);
                next = Some(tx);
                rx
            });
            let (jobs_tx, jobs_rx) = channel::bounded::<Job>(JOBS_IN_FLIGHT);
            set.holders.push((core, RefCell::new(jobs_tx)));
            // Detached: it lives until the set is dropped.
            drop(frys_runtime::spawn_on(core, move || {
                hold(data_keys, wait_for, mine, jobs_rx)
            }));
        }
        set.holders.reverse();
        set
    }

    /// Waits until every key is locked.
    ///
    /// # Errors
    /// An error reply if a holder stopped before it could lock.
    pub async fn locked(&mut self) -> Result<(), Reply> {
        let Some(mut rx) = self.all_locked.take() else {
            return Ok(());
        };
        match rx.recv().await {
            Some(()) => Ok(()),
            None => Err(Reply::error("ERR internal: a core could not lock the keys")),
        }
    }

    /// Whether a holder of this set runs on `core`.
    pub fn holds_on(&self, core: usize) -> bool {
        self.holders.iter().any(|(c, _)| *c == core)
    }

    /// Queues `job` to the holder of `core` (see [`LockSet::holds_on`]).
    ///
    /// # Errors
    /// An error reply when there is no such holder or it stopped.
    pub async fn send(&self, core: usize, job: Job) -> Result<(), Reply> {
        let gone = || Reply::error(format!("ERR internal: core {core} dropped the transaction"));
        let Some((_, holder)) = self.holders.iter().find(|(c, _)| *c == core) else {
            return Err(gone());
        };
        let mut job = Some(job);
        // The sender is borrowed only inside each poll, never across one,
        // so concurrent sends to one core take turns.
        let sent = poll_fn(|cx| {
            let mut tx = holder.borrow_mut();
            match tx.poll_ready(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(_)) => Poll::Ready(false),
                Poll::Ready(Ok(())) => match job.take().map(|j| tx.try_send(j)) {
                    Some(Ok(())) => Poll::Ready(true),
                    Some(Err(TrySendError::Full(j))) => {
                        job = Some(j);
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                    Some(Err(TrySendError::Closed(_))) | None => Poll::Ready(false),
                },
            }
        })
        .await;
        if sent {
            Ok(())
        } else {
            Err(gone())
        }
    }

    /// Releases every lock.
    pub fn release(self) {
        drop(self);
    }
}

/// A holder: waits for its turn, locks `data_keys` on this core, passes
/// the turn on, then runs jobs until the set is dropped.
async fn hold(
    data_keys: Vec<Vec<u8>>,
    wait_for: Option<Receiver<()>>,
    next: Option<Sender<()>>,
    mut jobs: Receiver<Job>,
) {
    if let Some(mut turn) = wait_for {
        if turn.recv().await.is_none() {
            return;
        }
    }
    if jobs.is_closed() && !jobs.has_pending() {
        // The transaction ended without work for this core: no need to
        // lock (dropping `next` tells the following holders the same).
        return;
    }
    let store = store::current();
    let refs: Vec<&[u8]> = data_keys.iter().map(Vec::as_slice).collect();
    let guards = store.locks().lock_all(&refs).await;
    if let Some(mut next) = next {
        let _ = next.send(()).await;
    }
    while let Some(job) = jobs.recv().await {
        job(store.clone()).await;
    }
    drop(guards);
}
