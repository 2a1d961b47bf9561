//! WATCH from the client's side: which keys a client watches, on which
//! cores they are registered, and whether EXEC must fail.
//!
//! A client's watches share one dirty flag (`store::DirtyFlag`). WATCH
//! registers the flag on each key's owning core (`store::Watches`), then
//! reads the key there, behind in-flight writers: a write that the read
//! did not see holds the key's lock, so it runs its hook after the
//! registration and sets the flag. The read's result is kept here: if the
//! key was live with a deadline, EXEC fails once the deadline has passed
//! (the key expired after WATCH, whether or not the expiry cycle deleted
//! it yet), as Redis' `isWatchedKeyExpired`.
//!
//! UNWATCH, EXEC, DISCARD, RESET and disconnect forget the watches: the
//! registrations are removed on every core (without waiting), and the
//! client takes a fresh flag, so a removal still in flight can never mark
//! a later WATCH.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::command::BarrierCtx;
use crate::errors;
use crate::exec::{join_all, LocalBoxFuture};
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::session;
use crate::store::{self, now_ms, DirtyFlag};

/// One watched key.
struct Watched {
    /// The database it was watched in (its namespace may change: SWAPDB).
    db: u16,
    key: Vec<u8>,
    core: usize,
    /// The key's deadline, if it was live and expiring at WATCH time.
    deadline: Option<u64>,
}

/// The keys a client watches.
pub struct WatchSet {
    dirty: DirtyFlag,
    keys: Vec<Watched>,
}

impl Default for WatchSet {
    fn default() -> WatchSet {
        WatchSet {
            dirty: Arc::new(AtomicBool::new(false)),
            keys: Vec::new(),
        }
    }
}

impl WatchSet {
    /// Number of watched keys (CLIENT LIST `watch=`).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is watched.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a watched key was written since it was watched (CLIENT
    /// LIST flag `d`).
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Whether EXEC must fail: a watched key was written, or has expired
    /// since WATCH saw it live. Meaningful once the watched keys are
    /// locked (EXEC holds them).
    pub fn is_broken(&self) -> bool {
        let now = now_ms();
        self.is_dirty()
            || self
                .keys
                .iter()
                .any(|w| w.deadline.is_some_and(|d| d <= now))
    }

    /// The watched keys as `(namespace, key)` in the current database map
    /// of this core, for EXEC to lock.
    pub fn lock_keys(&self) -> Vec<(u16, Vec<u8>)> {
        let store = store::current();
        self.keys
            .iter()
            .map(|w| (store.ns_of(w.db), w.key.clone()))
            .collect()
    }

    /// Forgets every watch: registrations are removed on their cores
    /// (without waiting) and a fresh flag replaces the old one.
    pub fn clear(&mut self) {
        let old = std::mem::take(self);
        if old.keys.is_empty() || frys_runtime::current_core().is_none() {
            return;
        }
        let mut by_core: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for w in old.keys {
            by_core.entry(w.core).or_default().push(w.key);
        }
        let here = store::try_current().map(|s| s.core());
        for (core, keys) in by_core {
            let flag = old.dirty.clone();
            if Some(core) == here {
                unwatch_here(&keys, &flag);
            } else {
                // Detached: nothing waits for the removal.
                drop(frys_runtime::spawn_on(core, move || {
                    unwatch_here(&keys, &flag);
                    std::future::ready(())
                }));
            }
        }
    }
}

fn unwatch_here(keys: &[Vec<u8>], flag: &DirtyFlag) {
    // After shutdown closed the partitions there is nothing to clean.
    if let Some(store) = store::try_current() {
        for k in keys {
            store.watches().unwatch(k, flag);
        }
    }
}

/// WATCH key [key ...]
pub fn watch(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let Some(session) = session::local(ctx.client_id) else {
            return Reply::error("ERR internal: the client's session is gone");
        };
        let (flag, todo) = {
            let s = session.borrow();
            if s.multi.is_some() {
                return Reply::error(errors::WATCH_INSIDE_MULTI);
            }
            // No point in watching more once EXEC is bound to fail.
            if s.watch.is_dirty() {
                return Reply::ok();
            }
            let mut todo: Vec<Vec<u8>> = Vec::new();
            for key in argv.iter().skip(1) {
                let known = s.watch.keys.iter().any(|w| w.db == ctx.db && w.key == key)
                    || todo.iter().any(|k| k == key);
                if !known {
                    todo.push(key.to_vec());
                }
            }
            (s.watch.dirty.clone(), todo)
        };
        let map = store::current().map();
        let mut by_core: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for key in todo {
            by_core
                .entry(map.core_of_slot(key_slot(&key)))
                .or_default()
                .push(key);
        }
        let db = ctx.db;
        let cores: Vec<usize> = by_core.keys().copied().collect();
        let registrations: Vec<_> = by_core
            .into_iter()
            .map(|(core, keys)| {
                let flag = flag.clone();
                frys_runtime::spawn_on(core, move || register_here(db, keys, flag))
            })
            .collect();
        let mut failure = None;
        for (core, registered) in cores.into_iter().zip(join_all(registrations).await) {
            match registered {
                Ok(keys) => {
                    let mut s = session.borrow_mut();
                    for (key, deadline) in keys {
                        s.watch.keys.push(Watched {
                            db,
                            key,
                            core,
                            deadline,
                        });
                    }
                }
                Err(e) => {
                    failure = Some(Reply::error(format!(
                        "ERR internal: core {core} did not answer: {e}"
                    )))
                }
            }
        }
        failure.unwrap_or_else(Reply::ok)
    })
}

/// Registers `flag` on `keys` of database `db` on this core (the owner),
/// then reads each key behind in-flight writers; returns each key with
/// its deadline if it is live and expiring. A key that cannot be read
/// marks the flag: EXEC fails rather than trust an unknown state.
async fn register_here(
    db: u16,
    keys: Vec<Vec<u8>>,
    flag: DirtyFlag,
) -> Vec<(Vec<u8>, Option<u64>)> {
    let store = store::current();
    // This core's own map: registrations and SWAPDB's move of them are
    // ordered on this core.
    let ns = store.ns_of(db);
    for k in &keys {
        store.watches().watch(ns, k, &flag);
    }
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let deadline = match store.get(ns, &k).await {
            Ok(Some(e)) => {
                store.watches().saw_live(ns, &k, &flag);
                e.expires_at
            }
            Ok(None) => None,
            Err(_) => {
                flag.store(true, Ordering::Release);
                None
            }
        };
        out.push((k, deadline));
    }
    out
}
