//! [`ParkFlag`]: the flag protocol a core uses to sleep in the kernel without
//! losing a wake-up from another thread.
//!
//! # Protocol
//!
//! Core thread (the only one that parks):
//!
//! 1. [`begin_park`](ParkFlag::begin_park): `parked = true`, then a `SeqCst`
//!    fence.
//! 2. Re-check every queue another thread may push to.
//! 3. Work found: [`end_park`](ParkFlag::end_park) and run it. Otherwise sleep
//!    in the kernel (e.g. wait on its eventfd) and call `end_park` after
//!    waking.
//!
//! Any other thread, *after* making work visible (pushing to a queue):
//!
//! 4. If [`must_notify`](ParkFlag::must_notify) returns `true`, wake the core
//!    (write its eventfd). It returns `true` to at most one caller per park
//!    (none if the core found the work itself and called `end_park` first).
//!
//! # Invariant: no lost wake-up
//!
//! If a producer publishes work that the core's re-check (step 2) does not
//! see, that producer's `must_notify` sees `parked == true` and returns `true`,
//! so the core is notified. The argument: `begin_park` and `must_notify` each
//! contain a `SeqCst` fence, and all `SeqCst` fences are totally ordered.
//!
//! * Producer's fence first: the push comes before that fence and the core's
//!   re-check after its own, so the re-check sees the push.
//! * Core's fence first: `parked = true` comes before it and the producer's
//!   load of `parked` after its own, so the producer reads `true` or a later
//!   value. A later `false` was written either by another producer's
//!   `must_notify` (which then notifies; the core wakes up and re-checks again
//!   before it next sleeps, and the next `begin_park`'s fence is ordered after
//!   ours, so that re-check sees our push), or by the core's `end_park` (the
//!   core is awake and will re-check before it next sleeps, same argument).
//!
//! The fences are needed: with only `SeqCst` store/swap on the flag this is
//! the "store buffering" pattern, which the memory model allows to fail
//! because the queue operations are not themselves `SeqCst` (and x86 store
//! buffers make it fail in practice without the locked instruction the fence
//! compiles to). The core pays its fence only when parking; producers pay
//! one fence per `must_notify` (an `mfence` on x86), a local cost that does
//! not touch any shared cache line.
//!
//! `must_notify` loads `parked` before swapping, so producers of a busy core
//! (not parked) only read the flag's cache line instead of taking it
//! exclusively on every push. Because the swap is still the only way to get
//! `true`, one park is notified at most once.
//!
//! # Every write is an RMW
//!
//! `begin_park` and `end_park` write the flag with `swap`, not `store`. The
//! memory model needs no more than a `SeqCst` store, but loom orders a plain
//! store only after the writes its thread has observed, so it would let a
//! later `must_notify` swap read a stale `false` left by an earlier producer's
//! swap, an execution that RMW atomicity rules out. With every write an RMW,
//! the flag's modification order is a chain in loom as it is on hardware.
//! On x86 a `SeqCst` store is an `xchg` anyway, so this costs nothing there,
//! and both calls sit on the parking path only.
//!
//! `begin_park`'s write is a release and the successful swap in `must_notify`
//! an acquire, so anything the core did before `begin_park` (registering a
//! waker, say) is visible to the producer that gets `true`.
//!
//! # Work any of several cores may take
//!
//! Stealable work is published once, in the producer's own queue, and any of
//! several cores may take it. [`notify_one`] applies the protocol to all of
//! them: after the push, it calls `must_notify` on each flag in turn and
//! stops at the first `true`. Each stealing core's re-check (step 2) looks
//! at the other cores' stealable queues. By the invariant above, for every
//! core `notify_one` passed over (`false`), that core's re-check sees the
//! push, or it had already ended its park and re-checks before it next
//! sleeps; so either one core is woken or every parking core finds the work.
//! `is_parked` is only a hint and cannot replace this: a Relaxed load without
//! the fence may read `false` while the core's re-check misses the push.

use crate::loom::sync::atomic::Ordering::{Relaxed, SeqCst};
use crate::loom::sync::atomic::{fence, AtomicBool};

/// The parked flag of one core. See the [module docs](self) for the protocol
/// and its proof.
#[derive(Debug)]
pub struct ParkFlag {
    parked: AtomicBool,
}

impl ParkFlag {
    /// Creates a flag for a core that is running (not parked).
    pub fn new() -> ParkFlag {
        ParkFlag {
            parked: AtomicBool::new(false),
        }
    }

    /// Core thread: announces that it is about to sleep.
    ///
    /// The caller must re-check all its queues after this returns and then
    /// either sleep or call [`end_park`](Self::end_park).
    pub fn begin_park(&self) {
        // A swap rather than a plain store: see "Every write is an RMW".
        self.parked.swap(true, SeqCst);
        // Orders the store above before the caller's re-check loads (see
        // module docs: store-buffering).
        fence(SeqCst);
    }

    /// Core thread: it found work after [`begin_park`](Self::begin_park), or
    /// it woke up from the kernel.
    pub fn end_park(&self) {
        self.parked.swap(false, SeqCst);
    }

    /// Other threads: call after making work visible to the core. Returns
    /// `true` if the core is (about to be) asleep and the caller must wake it
    /// (write its eventfd). At most one caller gets `true` per park.
    pub fn must_notify(&self) -> bool {
        // Orders the caller's earlier push before the load below (see module
        // docs: store-buffering).
        fence(SeqCst);
        self.parked.load(Relaxed) && self.parked.swap(false, SeqCst)
    }

    /// Whether the core has announced it is parking. Only a hint: use
    /// [`must_notify`](Self::must_notify) to decide whether to wake it.
    pub fn is_parked(&self) -> bool {
        self.parked.load(Relaxed)
    }
}

/// Other threads: call after making work visible that any of `flags`' cores
/// may take (a stealable queue). Calls [`ParkFlag::must_notify`] on each in
/// turn and returns the index of the first that must be woken; the caller
/// wakes that one. `None` means no core was asleep: each one's re-check sees
/// the work (see the [module docs](self)).
pub fn notify_one<'a>(flags: impl IntoIterator<Item = &'a ParkFlag>) -> Option<usize> {
    flags.into_iter().position(ParkFlag::must_notify)
}

impl Default for ParkFlag {
    fn default() -> ParkFlag {
        ParkFlag::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::ParkFlag;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    #[test]
    fn sequential_semantics() {
        let f = ParkFlag::new();
        assert!(!f.must_notify());
        f.begin_park();
        assert!(f.is_parked());
        assert!(f.must_notify());
        assert!(!f.must_notify(), "only one notifier per park");
        f.end_park();
        f.begin_park();
        f.end_park();
        assert!(!f.must_notify());
    }

    /// A real core thread that sleeps with `thread::park` and a producer that
    /// pushes (an atomic counter stands in for the queue) many times. A lost
    /// wake-up hangs the test.
    #[test]
    fn std_threads_never_lose_wakeup() {
        const N: usize = 20_000;
        struct Core {
            flag: ParkFlag,
            queue: AtomicUsize,
        }
        let core = Arc::new(Core {
            flag: ParkFlag::new(),
            queue: AtomicUsize::new(0),
        });
        let core2 = core.clone();
        let consumer = thread::spawn(move || {
            let mut got = 0;
            while got < N {
                let n = core2.queue.swap(0, Acquire);
                if n > 0 {
                    got += n;
                    continue;
                }
                core2.flag.begin_park();
                let n = core2.queue.swap(0, Acquire);
                if n > 0 {
                    core2.flag.end_park();
                    got += n;
                    continue;
                }
                // Spurious unparks are allowed; a missing one would hang.
                thread::park();
                core2.flag.end_park();
            }
            got
        });
        let target = consumer.thread().clone();
        for _ in 0..N {
            core.queue.fetch_add(1, Release);
            if core.flag.must_notify() {
                target.unpark();
            }
        }
        assert_eq!(consumer.join().unwrap(), N);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::ParkFlag;
    use crate::loom::sync::atomic::AtomicUsize;
    use crate::loom::sync::atomic::Ordering::{AcqRel, Acquire, Release};
    use crate::loom::sync::Arc;
    use crate::loom::thread;
    use loom::sync::{Condvar, Mutex};
    use std::collections::VecDeque;

    /// What a producer can push to.
    trait Queue: Send + Sync + 'static {
        fn push(&self, v: usize);
        fn pop(&self) -> Option<usize>;
    }

    /// The stand-in the protocol is specified against.
    impl Queue for Mutex<VecDeque<usize>> {
        fn push(&self, v: usize) {
            self.lock().unwrap().push_back(v);
        }
        fn pop(&self) -> Option<usize> {
            self.lock().unwrap().pop_front()
        }
    }

    /// A lock-free stand-in with only Release/Acquire ordering (like the
    /// ring's publish / pop): a mutex hides store-buffering, this does not.
    /// Holds a bitmask of pushed items.
    struct Bits(AtomicUsize);
    impl Queue for Bits {
        fn push(&self, v: usize) {
            self.0.fetch_or(1 << v, Release);
        }
        fn pop(&self) -> Option<usize> {
            let bits = self.0.load(Acquire);
            if bits == 0 {
                return None;
            }
            let v = bits.trailing_zeros() as usize;
            self.0.fetch_and(!(1 << v), AcqRel);
            Some(v)
        }
    }

    /// Stand-in for the core's eventfd: `write` adds, `read` blocks while
    /// the counter is zero and then resets it.
    struct EventFd {
        count: Mutex<usize>,
        cv: Condvar,
    }
    impl EventFd {
        fn write(&self) {
            *self.count.lock().unwrap() += 1;
            self.cv.notify_one();
        }
        fn read(&self) {
            let mut count = self.count.lock().unwrap();
            while *count == 0 {
                count = self.cv.wait(count).unwrap();
            }
            *count = 0;
        }
    }

    struct Core<Q> {
        flag: ParkFlag,
        queue: Q,
        eventfd: EventFd,
    }

    /// The core (main thread) must receive one item from each of `producers`
    /// threads. "Sleeping in the kernel" is a blocking eventfd read; a lost
    /// wake-up leaves the core blocked with nobody left to wake it, which
    /// loom reports as a deadlock.
    fn model<Q: Queue>(queue: fn() -> Q, producers: usize) {
        crate::loom::model(move || {
            let core = Arc::new(Core {
                flag: ParkFlag::new(),
                queue: queue(),
                eventfd: EventFd {
                    count: Mutex::new(0),
                    cv: Condvar::new(),
                },
            });
            let handles: Vec<_> = (0..producers)
                .map(|i| {
                    let core = core.clone();
                    thread::spawn(move || {
                        core.queue.push(i);
                        if core.flag.must_notify() {
                            core.eventfd.write();
                        }
                    })
                })
                .collect();

            let mut seen = 0usize;
            while seen.count_ones() < producers as u32 {
                if let Some(v) = core.queue.pop() {
                    seen |= 1 << v;
                    continue;
                }
                core.flag.begin_park();
                if let Some(v) = core.queue.pop() {
                    core.flag.end_park();
                    seen |= 1 << v;
                    continue;
                }
                // Sleep in the kernel.
                core.eventfd.read();
                core.flag.end_park();
            }
            for h in handles {
                h.join().unwrap();
            }
        });
    }

    /// The steal offer: the producer (main thread, "core 0") pushes one task
    /// to its own stealable queue and calls `notify_one` over the stealing
    /// cores, then waits until some core has run the task. Each stealing
    /// core loops: steal, else `begin_park`, re-check the producer's queue,
    /// sleep. If no core is woken and none sees the task, the producer waits
    /// forever: loom reports the deadlock. (With `offer` the pre-issue-15
    /// Relaxed `is_parked` hint instead of `notify_one`, it does.)
    fn steal_offer_model(stealers: usize, offer: fn(&[Core<()>]) -> Option<usize>) {
        struct Rt {
            cores: Vec<Core<()>>,
            stealable: Bits,
            shutdown: crate::loom::sync::atomic::AtomicBool,
            ran: EventFd,
        }
        crate::loom::model(move || {
            use crate::loom::sync::atomic::Ordering::SeqCst;
            let rt = Arc::new(Rt {
                cores: (0..stealers)
                    .map(|_| Core {
                        flag: ParkFlag::new(),
                        queue: (),
                        eventfd: EventFd {
                            count: Mutex::new(0),
                            cv: Condvar::new(),
                        },
                    })
                    .collect(),
                stealable: Bits(AtomicUsize::new(0)),
                shutdown: crate::loom::sync::atomic::AtomicBool::new(false),
                ran: EventFd {
                    count: Mutex::new(0),
                    cv: Condvar::new(),
                },
            });
            let handles: Vec<_> = (0..stealers)
                .map(|i| {
                    let rt = rt.clone();
                    thread::spawn(move || loop {
                        if rt.shutdown.load(SeqCst) {
                            return;
                        }
                        if rt.stealable.0.swap(0, AcqRel) != 0 {
                            rt.ran.write();
                            continue;
                        }
                        let me = &rt.cores[i];
                        me.flag.begin_park();
                        if rt.shutdown.load(SeqCst) || rt.stealable.0.load(Acquire) != 0 {
                            me.flag.end_park();
                            continue;
                        }
                        me.eventfd.read();
                        me.flag.end_park();
                    })
                })
                .collect();
            rt.stealable.push(0);
            if let Some(i) = offer(&rt.cores) {
                rt.cores[i].eventfd.write();
            }
            rt.ran.read();
            // Shutdown as `stop_threads` does it: flag, then wake everyone.
            rt.shutdown.store(true, SeqCst);
            for c in &rt.cores {
                if c.flag.must_notify() {
                    c.eventfd.write();
                }
            }
            for h in handles {
                h.join().unwrap();
            }
        });
    }

    fn notify_one(cores: &[Core<()>]) -> Option<usize> {
        super::notify_one(cores.iter().map(|c| &c.flag))
    }

    #[test]
    fn steal_offer_one_stealer() {
        steal_offer_model(1, notify_one);
    }

    #[test]
    fn steal_offer_two_stealers() {
        steal_offer_model(2, notify_one);
    }

    #[test]
    fn park_mutex_queue_one_producer() {
        model(|| Mutex::new(VecDeque::new()), 1);
    }

    #[test]
    fn park_mutex_queue_two_producers() {
        model(|| Mutex::new(VecDeque::new()), 2);
    }

    #[test]
    fn park_lock_free_queue_one_producer() {
        model(|| Bits(AtomicUsize::new(0)), 1);
    }

    #[test]
    fn park_lock_free_queue_two_producers() {
        model(|| Bits(AtomicUsize::new(0)), 2);
    }
}
