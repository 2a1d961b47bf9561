//! The watched keys of one core (WATCH): which clients must learn that a
//! key this core owns was written.
//!
//! A watcher is a client's dirty flag, an `Arc<AtomicBool>` shared with
//! its session on whatever core the client lives. Every write function of
//! [`CoreStore`] calls [`Watches::note_write`] for each key *before* the
//! write reaches storage and while the writer holds the key's lock, so a
//! transaction that locks a watched key and then reads the flag sees every
//! write that finished before its lock was granted. With nobody watching,
//! the write path pays one check of an empty map.
//!
//! Invariants: the registry is core-local (`RefCell`), touched only by its
//! core; entries are keyed by namespace id, so SWAPDB moves them with the
//! databases' namespaces ([`Watches::swap_ns`]) and a client keeps
//! watching its database's key, as Redis keeps `watched_keys` per DB
//! index; a key has an entry exactly while some watcher is registered on
//! it. Each watcher also says whether it saw the key live when it
//! registered: deleting a key that was already expired then (the active
//! expiry cycle, FLUSHDB) is no change for it, as in Redis.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{CoreStore, StoreResult};

/// A client's "a watched key changed" flag (Redis' `CLIENT_DIRTY_CAS`).
pub type DirtyFlag = Arc<AtomicBool>;

struct Watcher {
    flag: DirtyFlag,
    /// The key was live (stored, not expired) when the watch registered.
    saw_live: bool,
}

/// Keys come from clients: a seeded hasher, as the lock table.
type Keys = HashMap<Box<[u8]>, Vec<Watcher>, foldhash::fast::RandomState>;

/// The watch registry of one core.
#[derive(Default)]
pub struct Watches {
    by_ns: RefCell<BTreeMap<u16, Keys>>,
}

impl Watches {
    /// Marks every watcher of `key` in `ns` dirty. The hook of every write
    /// function: call it for each key written, before the write.
    #[inline]
    pub fn note_write(&self, ns: u16, key: &[u8]) {
        let by_ns = self.by_ns.borrow();
        if by_ns.is_empty() {
            return;
        }
        for w in by_ns
            .get(&ns)
            .and_then(|k| k.get(key))
            .into_iter()
            .flatten()
        {
            w.flag.store(true, Ordering::Release);
        }
    }

    /// The active expiry cycle deleted `key`: a change only for watchers
    /// that saw it live.
    pub fn note_expired(&self, ns: u16, key: &[u8]) {
        let by_ns = self.by_ns.borrow();
        for w in by_ns
            .get(&ns)
            .and_then(|k| k.get(key))
            .into_iter()
            .flatten()
        {
            if w.saw_live {
                w.flag.store(true, Ordering::Release);
            }
        }
    }

    /// Registers `flag` as a watcher of `key` in `ns` (once per flag).
    pub fn watch(&self, ns: u16, key: &[u8], flag: &DirtyFlag) {
        let mut by_ns = self.by_ns.borrow_mut();
        let watchers = by_ns.entry(ns).or_default().entry(key.into()).or_default();
        if !watchers.iter().any(|w| Arc::ptr_eq(&w.flag, flag)) {
            watchers.push(Watcher {
                flag: flag.clone(),
                saw_live: false,
            });
        }
    }

    /// Records that `flag`'s watch of `key` found the key live.
    pub fn saw_live(&self, ns: u16, key: &[u8], flag: &DirtyFlag) {
        let mut by_ns = self.by_ns.borrow_mut();
        let watchers = by_ns.get_mut(&ns).and_then(|k| k.get_mut(key));
        for w in watchers.into_iter().flatten() {
            if Arc::ptr_eq(&w.flag, flag) {
                w.saw_live = true;
            }
        }
    }

    /// Removes `flag`'s watch of `key`, in whichever namespace SWAPDB has
    /// moved it to.
    pub fn unwatch(&self, key: &[u8], flag: &DirtyFlag) {
        let mut by_ns = self.by_ns.borrow_mut();
        for keys in by_ns.values_mut() {
            if let Some(watchers) = keys.get_mut(key) {
                watchers.retain(|w| !Arc::ptr_eq(&w.flag, flag));
                if watchers.is_empty() {
                    keys.remove(key);
                }
            }
        }
        by_ns.retain(|_, keys| !keys.is_empty());
    }

    /// Moves the watchers of namespace `a` to `b` and back (SWAPDB).
    pub fn swap_ns(&self, a: u16, b: u16) {
        let mut by_ns = self.by_ns.borrow_mut();
        let from_a = by_ns.remove(&a);
        let from_b = by_ns.remove(&b);
        if let Some(keys) = from_a {
            by_ns.insert(b, keys);
        }
        if let Some(keys) = from_b {
            by_ns.insert(a, keys);
        }
    }

    /// The watched keys of `ns` (all namespaces with `None`).
    fn watched(&self, ns: Option<u16>) -> Vec<(u16, Vec<u8>)> {
        self.by_ns
            .borrow()
            .iter()
            .filter(|(n, _)| ns.is_none_or(|want| **n == want))
            .flat_map(|(n, keys)| keys.keys().map(move |k| (*n, k.to_vec())))
            .collect()
    }

    /// Number of watched keys on this core (tests, stats).
    pub fn len(&self) -> usize {
        self.by_ns.borrow().values().map(HashMap::len).sum()
    }

    /// Whether nobody watches a key of this core.
    pub fn is_empty(&self) -> bool {
        self.by_ns.borrow().is_empty()
    }
}

impl CoreStore {
    /// FLUSHDB (`Some(ns)`) or FLUSHALL (`None`) is about to delete every
    /// key: watchers of a key live now get dirty (Redis'
    /// `touchAllWatchedKeysInDb`; a key already expired is no change).
    pub async fn touch_watched_before_flush(&self, ns: Option<u16>) -> StoreResult<()> {
        for (n, key) in self.watches.watched(ns) {
            if self.get_unlocked(n, &key).await?.is_some() {
                self.watches.note_write(n, &key);
            }
        }
        Ok(())
    }

    /// SWAPDB exchanged namespaces `a` and `b` (their watchers moved with
    /// them): a watched key that is live in either is changed for its
    /// watchers; one live in neither is not (Redis' `touchAllWatchedKeysInDb`
    /// with `replaced_with`).
    pub async fn touch_watched_after_swap(&self, a: u16, b: u16) -> StoreResult<()> {
        if a == b {
            // SWAPDB of a database with itself changes nothing.
            return Ok(());
        }
        for ns in [a, b] {
            for (_, key) in self.watches.watched(Some(ns)) {
                let live = self.get_unlocked(a, &key).await?.is_some()
                    || self.get_unlocked(b, &key).await?.is_some();
                if live {
                    self.watches.note_write(ns, &key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag() -> DirtyFlag {
        Arc::new(AtomicBool::new(false))
    }

    #[test]
    fn a_write_dirties_only_the_watchers_of_that_key_and_namespace() {
        let w = Watches::default();
        let (f1, f2) = (flag(), flag());
        w.watch(0, b"k", &f1);
        w.watch(1, b"k", &f2);
        w.note_write(0, b"other");
        w.note_write(0, b"k");
        assert!(f1.load(Ordering::Acquire));
        assert!(!f2.load(Ordering::Acquire));
    }

    #[test]
    fn expiry_is_a_change_only_for_watchers_that_saw_the_key_live() {
        let w = Watches::default();
        let (live, stale) = (flag(), flag());
        w.watch(0, b"k", &live);
        w.saw_live(0, b"k", &live);
        w.watch(0, b"k", &stale);
        w.note_expired(0, b"k");
        assert!(live.load(Ordering::Acquire));
        assert!(!stale.load(Ordering::Acquire));
    }

    #[test]
    fn unwatch_and_swap_keep_the_registry_exact() {
        let w = Watches::default();
        let (f1, f2) = (flag(), flag());
        w.watch(0, b"k", &f1);
        w.watch(0, b"k", &f1);
        w.watch(5, b"k", &f2);
        assert_eq!(w.len(), 2);
        w.swap_ns(0, 5);
        w.note_write(5, b"k");
        assert!(f1.load(Ordering::Acquire) && !f2.load(Ordering::Acquire));
        w.unwatch(b"k", &f1);
        w.unwatch(b"k", &f2);
        assert!(w.is_empty());
        w.note_write(0, b"k");
    }
}
