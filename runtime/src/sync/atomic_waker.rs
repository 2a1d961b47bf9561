//! [`AtomicWaker`]: a single task-waker slot that one side registers into and
//! any thread wakes, without losing a wake-up that races with a registration.
//!
//! # Protocol
//!
//! One `state` word guards the `Option<Waker>` cell:
//!
//! * `WAITING` (0): idle; nobody is touching the cell.
//! * `REGISTERING`: a `register` call owns the cell (it CAS-ed `WAITING` into
//!   `REGISTERING`).
//! * `WAKING`: a `wake`/`take` call owns the cell (its `fetch_or` found
//!   `WAITING`), or, when combined with `REGISTERING`, a wake arrived while a
//!   registration was in progress and left the wake-up to the registrar.
//!
//! Whoever moves the state out of `WAITING` has exclusive access to the cell
//! until it moves it back. All transitions are read-modify-writes of `state`,
//! so they are totally ordered; that order gives the no-lost-wake-up
//! guarantee:
//!
//! * wake's `fetch_or` after register's unlock: the wake sees the new waker;
//! * during the registration: the registrar sees `WAKING` when unlocking and
//!   wakes the freshly registered waker itself;
//! * before the registration: the registrar sees `WAKING` and wakes its own
//!   waker at once, or it acquires the state released by the finished wake,
//!   so the waking side's earlier writes (say, "data ready") are visible to
//!   the re-check the caller does after `register`.
//!
//! Same semantics as `futures::task::AtomicWaker` / tokio's `AtomicWaker`.

use core::fmt;
use core::task::Waker;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::atomic::Ordering::{AcqRel, Acquire, Release};

/// Idle: nobody holds the cell.
const WAITING: usize = 0;
/// A `register` call holds the cell.
const REGISTERING: usize = 0b01;
/// A `take` holds the cell, or (with `REGISTERING`) a wake is pending for the
/// registrar to deliver.
const WAKING: usize = 0b10;

/// A thread-safe slot for one [`Waker`].
///
/// The consumer side calls [`register`](Self::register) and then re-checks
/// its condition; the producer side makes the condition true and then calls
/// [`wake`](Self::wake). A `wake` concurrent with `register` is never lost:
/// either the newly registered waker is woken, or the re-check after
/// `register` observes everything the waking side did before `wake`.
///
/// Concurrent calls to `register` from several threads are a caller bug: one
/// of them is ignored (memory safety is preserved).
pub struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the only non-thread-safe part is the `UnsafeCell<Option<Waker>>`.
// It is accessed only by the thread that moved `state` out of `WAITING` (see
// the module doc), so accesses never overlap, and the Acquire/Release RMWs on
// `state` order each access after the previous one. `Waker` is `Send + Sync`,
// so moving or dropping it on any thread is fine.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above; all `&self` methods follow the locking protocol.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    /// Creates an empty `AtomicWaker`.
    pub fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Registers `waker` to be woken by the next [`wake`](Self::wake).
    ///
    /// Replaces any previously registered waker (unless it
    /// [`will_wake`](Waker::will_wake) the same task, in which case it is kept
    /// and no clone is made). If a `wake` is in progress concurrently, `waker`
    /// is woken right away instead.
    ///
    /// Callers must re-check their wake-up condition after this returns.
    pub fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {
                // Unlocks on every path, including a panic in `Waker::clone`.
                let unlock = Unlock { aw: self };
                let stale = self.waker.with_mut(|slot| {
                    // SAFETY: we hold `REGISTERING`, so no other thread
                    // accesses the cell until `unlock` runs.
                    let slot = unsafe { &mut *slot };
                    if slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
                        None
                    } else {
                        slot.replace(waker.clone())
                    }
                });
                drop(unlock);
                // A replaced waker is dropped outside the critical section:
                // its drop may run arbitrary code.
                drop(stale);
            }
            Err(WAKING) => {
                // A wake is in progress and took (or found no) old waker: the
                // caller's task must be polled again, so wake it directly.
                waker.wake_by_ref();
                // The caller will likely poll and register again at once;
                // let the waking thread finish first (under loom this
                // also bounds the state space of that retry loop).
                crate::loom::hint::spin_loop();
            }
            Err(_) => {
                // Another `register` is running concurrently: a caller bug.
                // Dropping this registration keeps memory safety.
            }
        }
    }

    /// Wakes the registered waker, if any, and removes it.
    pub fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }

    /// Removes and returns the registered waker, if any, so the caller can
    /// wake it later (for instance after releasing a lock).
    ///
    /// Returns `None` if a `register` is in progress: that registrar then
    /// wakes its new waker itself, so the wake-up is not lost.
    pub fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            WAITING => {
                let waker = self.waker.with_mut(|slot| {
                    // SAFETY: our `fetch_or` moved the state from `WAITING`
                    // to `WAKING`, which gives exclusive access: `register`
                    // backs off on `WAKING` and other `take`s find it set.
                    unsafe { (*slot).take() }
                });
                self.state.fetch_and(!WAKING, Release);
                waker
            }
            // `REGISTERING` (the registrar will see `WAKING` and wake), or
            // another `take` is already delivering the wake-up.
            _ => None,
        }
    }
}

impl Default for AtomicWaker {
    fn default() -> AtomicWaker {
        AtomicWaker::new()
    }
}

impl fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicWaker").finish_non_exhaustive()
    }
}

/// Releases the `REGISTERING` lock; delivers a wake that arrived meanwhile.
struct Unlock<'a> {
    aw: &'a AtomicWaker,
}

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        let aw = self.aw;
        if aw
            .state
            .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
            .is_err()
        {
            // The only transition possible while we hold `REGISTERING` is a
            // concurrent `take` setting `WAKING` and backing off: the state is
            // `REGISTERING | WAKING` and the wake-up is ours to deliver.
            let waker = aw.waker.with_mut(|slot| {
                // SAFETY: we still hold `REGISTERING`; the `take` that set
                // `WAKING` saw `REGISTERING` and did not touch the cell.
                unsafe { (*slot).take() }
            });
            aw.state.swap(WAITING, AcqRel);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::AtomicWaker;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::loom::sync::Arc;
    use std::task::{Wake, Waker};

    struct Counter(AtomicUsize);
    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counting_waker() -> (Arc<Counter>, Waker) {
        let c = Arc::new(Counter(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn wake_without_registration_is_noop() {
        let aw = AtomicWaker::new();
        aw.wake();
        assert!(aw.take().is_none());
    }

    #[test]
    fn register_then_wake_once() {
        let aw = AtomicWaker::default();
        let (count, waker) = counting_waker();
        aw.register(&waker);
        aw.wake();
        aw.wake();
        assert_eq!(count.0.load(SeqCst), 1);
    }

    #[test]
    fn register_replaces_previous_waker() {
        let aw = AtomicWaker::new();
        let (c1, w1) = counting_waker();
        let (c2, w2) = counting_waker();
        aw.register(&w1);
        aw.register(&w2);
        aw.wake();
        assert_eq!(c1.0.load(SeqCst), 0);
        assert_eq!(c2.0.load(SeqCst), 1);
    }

    #[test]
    fn take_returns_waker() {
        let aw = AtomicWaker::new();
        let (count, waker) = counting_waker();
        aw.register(&waker);
        aw.register(&waker); // will_wake: kept, not cloned again
        let taken = aw.take().expect("registered");
        assert!(taken.will_wake(&waker));
        assert!(aw.take().is_none());
        taken.wake();
        assert_eq!(count.0.load(SeqCst), 1);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::AtomicWaker;
    use crate::loom::sync::atomic::AtomicUsize;
    use crate::loom::sync::atomic::Ordering::Relaxed;
    use crate::loom::sync::Arc;
    use crate::loom::thread;
    use core::future::poll_fn;
    use core::task::Poll;

    /// Two threads each bump a counter and wake; the task registers and
    /// checks the counter. Loom's `block_on` deadlocks (and fails the model)
    /// if a wake-up is lost. The counter is `Relaxed`: the visibility must
    /// come from `AtomicWaker` alone.
    #[test]
    fn register_wake_race() {
        const THREADS: usize = 2;
        crate::loom::model(|| {
            let num = Arc::new(AtomicUsize::new(0));
            let aw = Arc::new(AtomicWaker::new());
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (num, aw) = (num.clone(), aw.clone());
                    thread::spawn(move || {
                        num.fetch_add(1, Relaxed);
                        aw.wake();
                    })
                })
                .collect();
            crate::loom::block_on(poll_fn(|cx| {
                aw.register(cx.waker());
                if num.load(Relaxed) == THREADS {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
            for h in handles {
                h.join().unwrap();
            }
        });
    }

    /// `take` + deferred wake behaves like `wake`.
    #[test]
    fn register_take_race() {
        crate::loom::model(|| {
            let num = Arc::new(AtomicUsize::new(0));
            let aw = Arc::new(AtomicWaker::new());
            let h = {
                let (num, aw) = (num.clone(), aw.clone());
                thread::spawn(move || {
                    num.store(1, Relaxed);
                    if let Some(w) = aw.take() {
                        w.wake();
                    }
                })
            };
            crate::loom::block_on(poll_fn(|cx| {
                aw.register(cx.waker());
                if num.load(Relaxed) == 1 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
            h.join().unwrap();
        });
    }
}
