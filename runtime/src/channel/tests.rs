//! Channel tests on std threads.

use super::{bounded, Closed, Receiver, SendError, Sender, TryRecvError, TrySendError};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Arc;
use crate::loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// Minimal executor: polls on the current thread, parks between polls.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unparker(thread::Thread);
    impl Wake for Unparker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

/// Counts wake-ups.
struct CountWaker(AtomicUsize);
impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}
fn count_waker() -> (Arc<CountWaker>, Waker) {
    let c = Arc::new(CountWaker(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

/// Counts drops.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn assert_send<T: Send>() {}

#[test]
fn halves_are_send() {
    assert_send::<Sender<String>>();
    assert_send::<Receiver<String>>();
}

#[test]
fn one_million_messages_in_order() {
    const N: u64 = 1_000_000;
    let (mut tx, mut rx) = bounded::<u64>(64);
    let producer = thread::spawn(move || {
        block_on(async {
            for i in 0..N {
                tx.send(i).await.unwrap();
            }
        })
    });
    let received = block_on(async {
        let mut next = 0;
        while let Some(v) = rx.recv().await {
            assert_eq!(v, next);
            next += 1;
        }
        next
    });
    producer.join().unwrap();
    assert_eq!(received, N);
}

#[test]
fn buffered_batches_across_threads() {
    const N: u64 = 200_000;
    let (mut tx, mut rx) = bounded::<u64>(64);
    let producer = thread::spawn(move || {
        block_on(async {
            let mut i = 0;
            while i < N {
                // Fill a batch of up to 16, then publish once.
                while i < N && i % 16 != 15 {
                    match tx.try_send_buffered(i) {
                        Ok(()) => i += 1,
                        Err(TrySendError::Full(_)) => break,
                        Err(TrySendError::Closed(_)) => panic!("closed"),
                    }
                }
                tx.flush();
                if i < N {
                    tx.send(i).await.unwrap();
                    i += 1;
                }
            }
        })
    });
    let got = block_on(async {
        let mut next = 0;
        while let Some(v) = rx.recv().await {
            assert_eq!(v, next);
            next += 1;
        }
        next
    });
    producer.join().unwrap();
    assert_eq!(got, N);
}

#[test]
fn try_send_full_and_closed_give_value_back() {
    let (mut tx, mut rx) = bounded(2);
    assert_eq!(tx.capacity(), 2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let err = tx.try_send(3).unwrap_err();
    assert!(err.is_full());
    assert_eq!(err, TrySendError::Full(3));
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(3).unwrap();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
    assert_eq!(tx.try_send_buffered(5).unwrap_err().into_inner(), 5);
    assert_eq!(block_on(tx.send(6)), Err(SendError(6)));
}

#[test]
fn try_recv_empty_then_closed_after_drain() {
    let (mut tx, mut rx) = bounded(4);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.try_send("a").unwrap();
    tx.try_send_buffered("b").unwrap();
    assert!(rx.has_pending());
    assert_eq!(rx.try_recv(), Ok("a"));
    assert!(!rx.has_pending(), "buffered items are invisible");
    drop(tx); // publishes "b"
    assert!(rx.is_closed());
    assert_eq!(rx.try_recv(), Ok("b"));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(block_on(rx.recv()), None);
}

#[test]
fn flush_publishes_and_wakes_once() {
    let (mut tx, mut rx) = bounded(8);
    let (wakes, waker) = count_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(rx.poll_recv(&mut cx).is_pending());
    for i in 0..5 {
        tx.try_send_buffered(i).unwrap();
    }
    assert_eq!(tx.buffered(), 5);
    assert_eq!(wakes.0.load(SeqCst), 0);
    tx.flush();
    tx.flush();
    assert_eq!(tx.buffered(), 0);
    assert_eq!(wakes.0.load(SeqCst), 1);
    for i in 0..5 {
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(i)));
    }
    // No waiter: sends do not wake.
    tx.try_send(9).unwrap();
    assert_eq!(wakes.0.load(SeqCst), 1);
}

#[test]
fn poll_ready_backpressure_and_wake() {
    let (mut tx, mut rx) = bounded(1);
    let (wakes, waker) = count_waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    tx.try_send_buffered(1).unwrap();
    // Full: flushes the buffered item so the receiver can free room.
    assert!(tx.poll_ready(&mut cx).is_pending());
    assert_eq!(tx.buffered(), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes.0.load(SeqCst), 1, "draining wakes the sender");
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    tx.try_send(2).unwrap();
    assert!(tx.poll_ready(&mut cx).is_pending());
    drop(rx);
    assert_eq!(wakes.0.load(SeqCst), 2, "closing wakes the sender");
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Err(Closed)));
}

#[test]
fn send_cancelled_while_full_sends_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = bounded(1);
    tx.try_send(Counted(drops.clone())).unwrap();
    let (_, waker) = count_waker();
    let mut cx = Context::from_waker(&waker);
    {
        let mut fut = pin!(tx.send(Counted(drops.clone())));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    } // cancelled: the value is dropped, not sent
    assert_eq!(drops.load(SeqCst), 1);
    drop(rx.try_recv().unwrap());
    assert_eq!(rx.try_recv().err(), Some(TryRecvError::Empty));
    assert_eq!(drops.load(SeqCst), 2);
}

#[test]
fn recv_cancelled_loses_nothing() {
    let (mut tx, mut rx) = bounded(1);
    let (_, waker) = count_waker();
    let mut cx = Context::from_waker(&waker);
    {
        let mut fut = pin!(rx.recv());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    tx.try_send(7).unwrap();
    assert_eq!(block_on(rx.recv()), Some(7));
}

#[test]
fn drops_all_items_exactly_once() {
    for receiver_first in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = bounded(8);
        for _ in 0..3 {
            tx.try_send(Counted(drops.clone())).unwrap();
        }
        tx.try_send_buffered(Counted(drops.clone())).unwrap();
        drop(rx.try_recv().unwrap());
        assert_eq!(drops.load(SeqCst), 1);
        if receiver_first {
            drop(rx);
            assert_eq!(drops.load(SeqCst), 3);
            let back = tx.try_send(Counted(drops.clone())).unwrap_err();
            drop(back);
            assert_eq!(drops.load(SeqCst), 4);
            drop(tx); // publishes the buffered one; the ring drops it
            assert_eq!(drops.load(SeqCst), 5);
        } else {
            drop(tx);
            assert_eq!(drops.load(SeqCst), 1);
            drop(rx);
            assert_eq!(drops.load(SeqCst), 4);
        }
    }
}

#[test]
fn sender_drop_wakes_receiver_on_other_thread() {
    let (tx, mut rx) = bounded::<u8>(4);
    let h = thread::spawn(move || block_on(rx.recv()));
    thread::sleep(std::time::Duration::from_millis(20));
    drop(tx);
    assert_eq!(h.join().unwrap(), None);
}

#[test]
fn receiver_drop_wakes_blocked_sender_on_other_thread() {
    let (mut tx, rx) = bounded::<u8>(1);
    tx.try_send(0).unwrap();
    let h = thread::spawn(move || block_on(tx.send(1)));
    thread::sleep(std::time::Duration::from_millis(20));
    drop(rx);
    assert_eq!(h.join().unwrap(), Err(SendError(1)));
}

/// The scheduler-loop pattern: drain with `try_recv`, arm, check
/// `has_pending`, park.
#[test]
fn scheduler_loop_pattern() {
    const N: u32 = 100_000;
    let (mut tx, mut rx) = bounded::<u32>(16);
    let producer = thread::spawn(move || {
        block_on(async {
            for i in 0..N {
                tx.send(i).await.unwrap();
            }
        })
    });
    struct Unparker(thread::Thread);
    impl Wake for Unparker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut next = 0;
    'outer: loop {
        loop {
            match rx.try_recv() {
                Ok(v) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => break 'outer,
            }
        }
        rx.register_waker(&waker);
        if rx.has_pending() || rx.is_closed() {
            continue;
        }
        thread::park();
    }
    producer.join().unwrap();
    assert_eq!(next, N);
}
