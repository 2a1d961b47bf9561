//! The per-core timer structure: deadlines ordered in a B-tree.
//!
//! Only the owning core touches it. The core parks with the first deadline
//! as its ring timeout, so there is exactly one kernel timeout per core, for
//! the nearest deadline. Entries are keyed by `(deadline, sequence)` so equal
//! deadlines fire in registration order.

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;

pub(crate) type TimerKey = (Instant, u64);

#[derive(Default)]
pub(crate) struct Timers {
    entries: BTreeMap<TimerKey, Waker>,
    next_seq: u64,
}

impl Timers {
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let key = (deadline, self.next_seq);
        self.next_seq += 1;
        self.entries.insert(key, waker);
        key
    }

    /// Replaces the waker of a live entry; false if it already fired.
    pub(crate) fn update(&mut self, key: &TimerKey, waker: &Waker) -> bool {
        match self.entries.get_mut(key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&mut self, key: &TimerKey) {
        self.entries.remove(key);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries.first_key_value().map(|(k, _)| k.0)
    }

    /// Moves the wakers of every entry due at `now` into `woken`, in
    /// deadline order.
    pub(crate) fn fire_expired(&mut self, now: Instant, woken: &mut Vec<Waker>) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            woken.push(entry.remove());
        }
    }
}
