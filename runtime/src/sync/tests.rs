//! Behaviour of the task synchronization primitives.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use super::{mpsc, oneshot, CancellationToken, Mutex, Notify, RwLock};
use crate::{spawn_local, yield_now, Cores, Runtime};

fn block_on<F: Future>(f: F) -> F::Output {
    Runtime::builder()
        .cores(Cores::Count(1))
        .build()
        .unwrap()
        .block_on(f)
}

/// Whether `f` is still pending after one poll.
async fn pending_once<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
    let mut f = f;
    std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_pending())).await
}

async fn settle() {
    for _ in 0..8 {
        yield_now().await;
    }
}

#[test]
fn mutex_is_exclusive_across_awaits_and_fifo() {
    block_on(async {
        let m = Rc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let m = m.clone();
            tasks.push(spawn_local(async move {
                let mut g = m.lock().await;
                let before = g.len();
                yield_now().await;
                // Nobody else ran inside the critical section.
                assert_eq!(g.len(), before);
                g.push(i);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, [0, 1, 2, 3, 4]);
    });
}

#[test]
fn a_dropped_lock_future_passes_the_lock_on() {
    block_on(async {
        let m = Mutex::new(0);
        let held = m.lock().await;
        let mut first = Box::pin(m.lock());
        assert!(pending_once(first.as_mut()).await);
        let mut second = pin!(m.lock());
        assert!(pending_once(second.as_mut()).await);
        // The lock is handed to `first`, which is then dropped unpolled.
        drop(held);
        drop(first);
        assert!(!pending_once(second.as_mut()).await, "the lock was lost");
        // `second`'s guard was dropped with its output: free again, once.
        let again = m.try_lock().expect("the lock is free");
        assert!(m.try_lock().is_none());
        drop(again);
    });
}

#[test]
fn rwlock_shares_readers_and_a_waiting_writer_blocks_later_readers() {
    block_on(async {
        let l = RwLock::new(1);
        let r1 = l.read().await;
        let r2 = l.read().await;
        assert_eq!(*r1 + *r2, 2);
        let mut w = pin!(l.write());
        assert!(pending_once(w.as_mut()).await);
        let mut r3 = pin!(l.read());
        assert!(
            pending_once(r3.as_mut()).await,
            "a reader jumped the writer"
        );
        drop((r1, r2));
        assert!(!pending_once(w.as_mut()).await);
    });
}

#[test]
fn notify_one_stores_one_permit_and_wakes_in_order() {
    block_on(async {
        let n = Rc::new(Notify::new());
        n.notify_one();
        n.notify_one();
        n.notified().await; // the stored permit
        let mut second = pin!(n.notified());
        assert!(pending_once(second.as_mut()).await, "permits accumulated");
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (n, order) = (n.clone(), order.clone());
            tasks.push(spawn_local(async move {
                n.notified().await;
                order.borrow_mut().push(i);
            }));
        }
        settle().await;
        n.notify_one(); // `second`, the first in line
        assert!(!pending_once(second.as_mut()).await);
        n.notify_one();
        n.notify_one();
        n.notify_one();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.borrow(), [0, 1, 2]);
    });
}

#[test]
fn notify_waiters_wakes_everyone_waiting_and_stores_nothing() {
    block_on(async {
        let n = Rc::new(Notify::new());
        let woken = Rc::new(Cell::new(0));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (n, woken) = (n.clone(), woken.clone());
            tasks.push(spawn_local(async move {
                n.notified().await;
                woken.set(woken.get() + 1);
            }));
        }
        settle().await;
        n.notify_waiters();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(woken.get(), 4);
        let mut later = pin!(n.notified());
        assert!(pending_once(later.as_mut()).await);
    });
}

#[test]
fn a_dropped_notified_passes_notify_one_on() {
    block_on(async {
        let n = Notify::new();
        let mut a = Box::pin(n.notified());
        assert!(pending_once(a.as_mut()).await);
        let mut b = pin!(n.notified());
        assert!(pending_once(b.as_mut()).await);
        n.notify_one(); // goes to `a`
        drop(a);
        assert!(!pending_once(b.as_mut()).await, "the notification was lost");
    });
}

#[test]
fn oneshot_delivers_once_or_reports_a_dropped_sender() {
    block_on(async {
        let (tx, rx) = oneshot::channel();
        spawn_local(async move { tx.send("hi").unwrap() });
        assert_eq!(rx.await, Ok("hi"));
        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        assert_eq!(rx.await, Err(oneshot::RecvError));
        let (tx, rx) = oneshot::channel();
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(5), Err(5));
    });
}

#[test]
fn mpsc_bounds_the_queue_keeps_order_and_ends_when_senders_go() {
    block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(mpsc::SendError(3)), "over capacity");
        {
            let mut third = pin!(tx.send(3));
            assert!(pending_once(third.as_mut()).await);
            assert_eq!(rx.recv().await, Some(1));
            assert!(!pending_once(third.as_mut()).await);
        }
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        tx2.send(4).await.unwrap();
        drop(tx2);
        assert_eq!(rx.recv().await, Some(4));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn mpsc_send_fails_once_the_receiver_is_gone() {
    block_on(async {
        let (tx, rx) = mpsc::channel(1);
        tx.send(1).await.unwrap();
        let waiting = spawn_local({
            let tx = tx.clone();
            async move { tx.send(2).await }
        });
        settle().await;
        drop(rx);
        assert_eq!(waiting.await.unwrap(), Err(mpsc::SendError(2)));
        assert!(tx.is_closed());
        assert_eq!(tx.send(3).await, Err(mpsc::SendError(3)));
    });
}

#[test]
fn cancellation_reaches_clones_children_and_other_cores() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .build()
        .unwrap();
    rt.block_on(async {
        let token = CancellationToken::new();
        let child = token.child_token();
        let other = child.clone();
        let on_core_1 = crate::spawn_on(1, move || async move {
            other.cancelled().await;
            crate::current_core()
        });
        let lone = token.child_token();
        lone.cancel();
        assert!(
            lone.is_cancelled() && !token.is_cancelled(),
            "a child cancels alone"
        );
        settle().await;
        token.cancel();
        assert_eq!(on_core_1.await.unwrap(), Some(1));
        assert!(child.is_cancelled());
        assert!(
            token.child_token().is_cancelled(),
            "a late child starts cancelled"
        );
    });
}

#[test]
fn a_reader_is_not_held_up_by_readers_granted_but_not_yet_polled() {
    block_on(async {
        let l = RwLock::new(0);
        let w = l.write().await;
        let mut r1 = pin!(l.read());
        assert!(pending_once(r1.as_mut()).await);
        let mut r2 = pin!(l.read());
        assert!(pending_once(r2.as_mut()).await);
        // The writer leaves: r1 and r2 are granted, not yet polled.
        drop(w);
        let mut r3 = pin!(l.read());
        assert!(
            !pending_once(r3.as_mut()).await,
            "r3 waited behind granted readers"
        );
    });
}
