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
//! pipeline order acquire in pipeline order. The table is core-local
//! (`Rc`, `RefCell`), never shared between threads.

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
}

impl KeyLocks {
    /// Takes `key`'s lock, waiting behind earlier holders.
    pub async fn lock(&self, key: &[u8]) -> KeyGuard {
        let (waiter, key) = {
            let mut table = self.table.borrow_mut();
            let held = table.get_key_value(key).map(|(k, _)| k.clone());
            match held {
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
            }
        };
        let guard = KeyGuard {
            table: self.table.clone(),
            key,
        };
        if let Some(w) = waiter {
            // If this future is dropped while waiting, the guard's drop
            // passes the lock on (or removes our place in the queue).
            let mut pending = Granted {
                waiter: w,
                guard: Some(guard),
            };
            return (&mut pending).await;
        }
        guard
    }

    /// Takes the locks of several keys in a deadlock-free (sorted) order.
    pub async fn lock_all(&self, keys: &[&[u8]]) -> Vec<KeyGuard> {
        let mut sorted: Vec<&[u8]> = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut guards = Vec::with_capacity(sorted.len());
        for k in sorted {
            guards.push(self.lock(k).await);
        }
        guards
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

struct Granted {
    waiter: Rc<Waiter>,
    guard: Option<KeyGuard>,
}

impl Future for &mut Granted {
    type Output = KeyGuard;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<KeyGuard> {
        let this = self.get_mut();
        if this.waiter.granted.get() {
            if let Some(guard) = this.guard.take() {
                return Poll::Ready(guard);
            }
        }
        *this.waiter.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Granted {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        if self.waiter.granted.get() {
            // Granted but never taken: release normally.
            drop(guard);
            return;
        }
        // Still queued: leave the queue without releasing someone else's lock.
        let mut table = guard.table.borrow_mut();
        if let Some(queue) = table.get_mut(&*guard.key) {
            queue.retain(|w| !Rc::ptr_eq(w, &self.waiter));
        }
        drop(table);
        std::mem::forget(guard);
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
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
    }

    #[test]
    fn readers_do_not_touch_the_table_when_no_writer_is_there() {
        let locks = KeyLocks::default();
        let mut r = Box::pin(locks.wait_for_writers(b"x"));
        assert!(matches!(poll(r.as_mut()), Poll::Ready(None)));
        assert_eq!(locks.locked_keys(), 0);
    }
}
