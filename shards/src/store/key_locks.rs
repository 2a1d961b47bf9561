//! Per-core, per-key write ordering.
//!
//! Commands of one core run concurrently; a command that writes a key
//! holds that key's lock from its first poll until its write is
//! acknowledged, so read-modify-write commands (INCR, APPEND, SET NX ...)
//! are atomic and a later command on the same key sees the earlier one's
//! result. A read waits only if a writer holds or waits for the key.
//!
//! Invariants: a key has an entry in the table exactly while some guard
//! for it is alive; waiters are served in the order they asked (FIFO), and
//! asking happens at the caller's first poll, so commands started in
//! pipeline order acquire in pipeline order. A multi-key lock
//! ([`KeyLocks::lock_all`]) asks for all its keys in one synchronous step
//! at its first poll and holds them once it heads every queue, so a later
//! command on any one of its keys comes after it even while its first key
//! is still held by someone else. The table is core-local (`Rc`,
//! `RefCell`), never shared between threads.
//!
//! Deadlock freedom: every queue of a core is joined on that core's one
//! thread, and a lock (one key or several) joins all its queues at one
//! instant, so the join instants are a single total order on the core and
//! in every queue a waiter waits only for locks that joined before it:
//! the waits-for relation follows that order and cannot cycle. This needs
//! the rule every caller keeps: a task that holds locks on a core does not
//! ask for more on that core (a command takes its keys in one `lock` or
//! `lock_all`). Across cores, a transaction (`txn::LockSet`) joins a
//! core's queues only once it holds its keys on every lower core, and a
//! task holding keys of one core waits only for higher cores, so no cycle
//! spans cores either.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Waiter {
    granted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Keys come from clients, so the hasher is seeded per process (foldhash's
/// `RandomState`): fast, and not open to chosen-collision floods.
type Table = RefCell<HashMap<Rc<[u8]>, VecDeque<Rc<Waiter>>, foldhash::fast::RandomState>>;

/// The lock table of one core.
#[derive(Default, Clone)]
pub struct KeyLocks {
    table: Rc<Table>,
}

/// Holds one key's lock until dropped.
pub struct KeyGuard {
    table: Rc<Table>,
    /// Shared with the table entry: one allocation per locked key.
    key: Rc<[u8]>,
    /// False for the guard of a place that left its queue ungranted: its
    /// drop releases nothing.
    holds: bool,
}

impl KeyLocks {
    /// Takes `key`'s lock, waiting behind earlier holders.
    pub async fn lock(&self, key: &[u8]) -> KeyGuard {
        self.join(key).await
    }

    /// Takes the locks of several keys: at its first poll it joins every
    /// key's queue in one synchronous step (sorted, each key once), and it
    /// is ready when it heads all of them. So a later command of the
    /// pipeline on any of these keys queues behind it, and no cycle of
    /// waiters can form (see the module doc).
    pub async fn lock_all(&self, keys: &[&[u8]]) -> Vec<KeyGuard> {
        let mut sorted: Vec<&[u8]> = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        // No await until every place is taken: this loop is one step.
        let places: Vec<Place> = sorted.into_iter().map(|k| self.join(k)).collect();
        let mut guards = Vec::with_capacity(places.len());
        // A place not yet awaited when this future is dropped leaves its
        // queue (or releases the lock it was granted) in its drop.
        for place in places {
            guards.push(place.await);
        }
        guards
    }

    /// Joins `key`'s queue now (a free key is granted at once); the place
    /// resolves to the guard once every earlier holder released.
    fn join(&self, key: &[u8]) -> Place {
        let mut table = self.table.borrow_mut();
        let held = table.get_key_value(key).map(|(k, _)| k.clone());
        let (waiter, key) = match held {
            None => {
                let key: Rc<[u8]> = Rc::from(key);
                table.insert(key.clone(), VecDeque::new());
                (None, key)
            }
            Some(k) => {
                let w = Rc::new(Waiter::default());
                if let Some(queue) = table.get_mut(&*k) {
                    queue.push_back(w.clone());
                }
                (Some(w), k)
            }
        };
        drop(table);
        Place {
            waiter,
            guard: Some(KeyGuard {
                table: self.table.clone(),
                key,
                holds: true,
            }),
        }
    }

    /// Waits until no writer holds or waits for `key`; `None` at once when
    /// the key is free (the common case: no table entry is made).
    pub async fn wait_for_writers(&self, key: &[u8]) -> Option<KeyGuard> {
        if !self.table.borrow().contains_key(key) {
            return None;
        }
        Some(self.lock(key).await)
    }

    /// Number of keys locked now (for tests and stats).
    pub fn locked_keys(&self) -> usize {
        self.table.borrow().len()
    }
}

/// A place in one key's queue: `waiter` is `None` when the key was free.
struct Place {
    waiter: Option<Rc<Waiter>>,
    guard: Option<KeyGuard>,
}

impl Place {
    fn is_granted(&self) -> bool {
        self.waiter.as_ref().is_none_or(|w| w.granted.get())
    }
}

impl Future for Place {
    type Output = KeyGuard;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<KeyGuard> {
        let this = self.get_mut();
        if this.is_granted() {
            if let Some(guard) = this.guard.take() {
                return Poll::Ready(guard);
            }
        }
        if let Some(w) = &this.waiter {
            *w.waker.borrow_mut() = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let Some(waiter) = self.waiter.as_ref().filter(|w| !w.granted.get()) else {
            // Granted but never taken: release normally.
            drop(guard);
            return;
        };
        // Still queued: leave the queue without releasing someone else's lock.
        if let Some(queue) = guard.table.borrow_mut().get_mut(&*guard.key) {
            queue.retain(|w| !Rc::ptr_eq(w, waiter));
        }
        guard.holds = false;
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if !self.holds {
            return;
        }
        let mut table = self.table.borrow_mut();
        let Some(queue) = table.get_mut(&*self.key) else {
            return;
        };
        match queue.pop_front() {
            Some(next) => {
                next.granted.set(true);
                let waker = next.waker.borrow_mut().take();
                drop(table);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            None => {
                table.remove(&*self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    fn poll<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        let waker = Waker::from(std::sync::Arc::new(Noop));
        f.poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn waiters_are_served_in_order_and_the_table_empties() {
        let locks = KeyLocks::default();
        let mut first = Box::pin(locks.lock(b"a"));
        let Poll::Ready(g1) = poll(first.as_mut()) else {
            panic!("free key must lock at once")
        };
        let mut second = Box::pin(locks.lock(b"a"));
        let mut third = Box::pin(locks.lock(b"a"));
        assert!(poll(second.as_mut()).is_pending());
        assert!(poll(third.as_mut()).is_pending());
        drop(g1);
        assert!(
            poll(third.as_mut()).is_pending(),
            "third must wait for second"
        );
        let Poll::Ready(g2) = poll(second.as_mut()) else {
            panic!("second is next")
        };
        drop(g2);
        let Poll::Ready(g3) = poll(third.as_mut()) else {
            panic!("third is next")
        };
        assert_eq!(locks.locked_keys(), 1);
        drop(g3);
        assert_eq!(locks.locked_keys(), 0);
    }

    #[test]
    fn a_dropped_waiter_leaves_the_queue_without_releasing_the_holder() {
        let locks = KeyLocks::default();
        let mut first = Box::pin(locks.lock(b"k"));
        let Poll::Ready(g1) = poll(first.as_mut()) else {
            panic!()
        };
        let mut second = Box::pin(locks.lock(b"k"));
        assert!(poll(second.as_mut()).is_pending());
        drop(second);
        let mut third = Box::pin(locks.lock(b"k"));
        assert!(poll(third.as_mut()).is_pending(), "holder still holds");
        drop(g1);
        assert!(poll(third.as_mut()).is_ready());
        drop(third);
        // Nothing of the dropped waiter is left behind (no leaked guard).
        assert_eq!(Rc::strong_count(&locks.table), 1);
    }

    #[test]
    fn a_multi_key_lock_queues_on_every_key_at_its_first_poll() {
        let locks = KeyLocks::default();
        let Poll::Ready(held_x) = poll(Box::pin(locks.lock(b"x")).as_mut()) else {
            panic!("free key must lock at once")
        };
        // Asks for x (held) and z (free) in one step.
        let mut both = Box::pin(locks.lock_all(&[b"z", b"x"]));
        assert!(poll(both.as_mut()).is_pending());
        // A later lock of z must wait behind it, though x is what blocks it.
        let mut later_z = Box::pin(locks.lock(b"z"));
        assert!(
            poll(later_z.as_mut()).is_pending(),
            "a later lock of z ran before the earlier multi-key lock"
        );
        drop(held_x);
        assert!(poll(later_z.as_mut()).is_pending());
        let Poll::Ready(guards) = poll(both.as_mut()) else {
            panic!("the multi-key lock heads both queues now")
        };
        assert_eq!(guards.len(), 2);
        drop(guards);
        assert!(poll(later_z.as_mut()).is_ready());
    }

    #[test]
    fn a_dropped_multi_key_lock_leaves_every_queue() {
        let locks = KeyLocks::default();
        let Poll::Ready(held_x) = poll(Box::pin(locks.lock(b"x")).as_mut()) else {
            panic!()
        };
        let mut both = Box::pin(locks.lock_all(&[b"x", b"z"]));
        assert!(poll(both.as_mut()).is_pending());
        // Granted z, waiting for x: dropping it releases z and leaves x's queue.
        drop(both);
        assert!(poll(Box::pin(locks.lock(b"z")).as_mut()).is_ready());
        let mut next_x = Box::pin(locks.lock(b"x"));
        assert!(poll(next_x.as_mut()).is_pending(), "x is still held");
        drop(held_x);
        assert!(poll(next_x.as_mut()).is_ready());
        drop(next_x);
        assert_eq!(locks.locked_keys(), 0);
        assert_eq!(Rc::strong_count(&locks.table), 1);
    }

    #[test]
    fn readers_do_not_touch_the_table_when_no_writer_is_there() {
        let locks = KeyLocks::default();
        let mut r = Box::pin(locks.wait_for_writers(b"x"));
        assert!(matches!(poll(r.as_mut()), Poll::Ready(None)));
        assert_eq!(locks.locked_keys(), 0);
    }
}
