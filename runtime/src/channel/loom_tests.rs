//! Loom models of the channel's wake protocol.
//!
//! `loom::future::block_on` parks the thread until its waker fires; a lost
//! wake-up leaves a thread parked forever, which loom reports as a deadlock.
//! Where a model checks a data wake-up (not a close), the sender is kept alive
//! (returned from its thread) so that the close wake-up cannot mask a lost
//! data wake-up.

use super::{bounded, SendError, TryRecvError};
use crate::loom::block_on;
use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::Arc;
use crate::loom::thread;
use core::future::poll_fn;
use core::task::Poll;

/// Sender blocked on a full ring is woken by the receiver draining; the
/// receiver blocked on an empty ring is woken by a send.
#[test]
fn chan_full_and_empty_wakeups() {
    const N: usize = 3;
    crate::loom::model(|| {
        let (mut tx, mut rx) = bounded::<usize>(1);
        let sender = thread::spawn(move || {
            block_on(async {
                for i in 0..N {
                    tx.send(i).await.unwrap();
                }
            });
            tx
        });
        block_on(async {
            for i in 0..N {
                assert_eq!(rx.recv().await, Some(i));
            }
        });
        let tx = sender.join().unwrap();
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

/// A batch pushed with `try_send_buffered` becomes visible and wakes the
/// receiver on `flush`.
#[test]
fn chan_flush_wakes_receiver() {
    crate::loom::model(|| {
        let (mut tx, mut rx) = bounded::<usize>(2);
        let sender = thread::spawn(move || {
            tx.try_send_buffered(0).unwrap();
            tx.try_send_buffered(1).unwrap();
            tx.flush();
            tx
        });
        block_on(async {
            assert_eq!(rx.recv().await, Some(0));
            assert_eq!(rx.recv().await, Some(1));
        });
        drop(sender.join().unwrap());
    });
}

/// The scheduler-loop pattern: drain with `try_recv`, `register_waker`,
/// re-check `has_pending`, sleep.
#[test]
fn chan_register_waker_has_pending() {
    crate::loom::model(|| {
        let (mut tx, mut rx) = bounded::<usize>(2);
        let sender = thread::spawn(move || {
            tx.try_send(0).unwrap();
            tx.try_send(1).unwrap();
            tx
        });
        let mut next = 0;
        block_on(poll_fn(|cx| loop {
            while let Ok(v) = rx.try_recv() {
                assert_eq!(v, next);
                next += 1;
            }
            if next == 2 {
                return Poll::Ready(());
            }
            rx.register_waker(cx.waker());
            if !rx.has_pending() {
                return Poll::Pending;
            }
        }));
        drop(sender.join().unwrap());
    });
}

/// Dropping the sender wakes a receiver blocked on an empty ring, after the
/// sender's buffered item is delivered.
#[test]
fn chan_sender_drop_wakes_receiver() {
    crate::loom::model(|| {
        let (mut tx, mut rx) = bounded::<usize>(1);
        let sender = thread::spawn(move || {
            tx.try_send_buffered(7).unwrap();
            drop(tx);
        });
        block_on(async {
            assert_eq!(rx.recv().await, Some(7));
            assert_eq!(rx.recv().await, None);
        });
        sender.join().unwrap();
    });
}

/// Counts drops of channel items.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Relaxed);
    }
}

/// Dropping the receiver wakes a sender blocked on a full ring; both items
/// are dropped exactly once.
#[test]
fn chan_receiver_drop_wakes_sender() {
    crate::loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, rx) = bounded::<Counted>(1);
        let d = drops.clone();
        let sender = thread::spawn(move || {
            block_on(async {
                // The first may succeed or fail, depending on the race.
                let _ = tx.send(Counted(d.clone())).await;
                let second = tx.send(Counted(d.clone())).await;
                assert!(matches!(second, Err(SendError(_))), "ring is full");
            });
        });
        drop(rx);
        sender.join().unwrap();
        assert_eq!(drops.load(Relaxed), 2);
    });
}

/// The mesh's sender side of a core's park (`MeshEnds::flush` / `arm`): a
/// core with a message for a full ring registers its core waker with
/// `poll_ready`, raises its park flag, re-checks with `poll_ready`, and
/// sleeps on its eventfd. The core waker notifies through the park flag,
/// as `Shared::notify` does. The receiver freeing room must wake the core:
/// a lost wake-up leaves it asleep, which loom reports as a deadlock.
#[test]
fn chan_full_ring_backlog_wakes_a_parked_core() {
    use crate::sync::ParkFlag;
    use ::loom::sync::{Condvar, Mutex};
    use core::task::{Context, Waker};

    struct Core {
        flag: ParkFlag,
        count: Mutex<usize>,
        cv: Condvar,
    }
    impl std::task::Wake for Core {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            if self.flag.must_notify() {
                *self.count.lock().unwrap() += 1;
                self.cv.notify_one();
            }
        }
    }

    crate::loom::model(|| {
        let (mut tx, mut rx) = bounded::<usize>(1);
        tx.try_send(0).unwrap();
        let receiver = thread::spawn(move || {
            block_on(async {
                assert_eq!(rx.recv().await, Some(0));
                assert_eq!(rx.recv().await, Some(1));
            });
        });
        let core = std::sync::Arc::new(Core {
            flag: ParkFlag::new(),
            count: Mutex::new(0),
            cv: Condvar::new(),
        });
        let waker = Waker::from(core.clone());
        let mut cx = Context::from_waker(&waker);
        let backlog = 1;
        loop {
            // flush
            if tx.try_send(backlog).is_ok() {
                break;
            }
            if tx.poll_ready(&mut cx).is_ready() {
                continue;
            }
            // idle: park flag, re-check, sleep
            core.flag.begin_park();
            if tx.poll_ready(&mut cx).is_ready() {
                core.flag.end_park();
                continue;
            }
            let mut count = core.count.lock().unwrap();
            while *count == 0 {
                count = core.cv.wait(count).unwrap();
            }
            *count = 0;
            drop(count);
            core.flag.end_park();
        }
        receiver.join().unwrap();
        drop(tx);
    });
}
