//! `submit_to`: its bound on queued calls and its cancellation.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use crate::runtime::context;
use crate::runtime::mesh::SUBMIT_BACKLOG;
use crate::{Cores, Runtime};

fn two_cores() -> Runtime {
    Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .build()
        .unwrap()
}

fn outbox_to_core_1() -> usize {
    context::with_current(|ctx| ctx.mesh.borrow().outbox_len(1)).unwrap()
}

#[test]
fn submit_to_a_core_that_does_not_keep_up_waits_instead_of_queueing() {
    let rt = two_cores();
    rt.block_on(async {
        // Core 1 is stuck in a closure until released.
        let (release, stuck) = mpsc::channel::<()>();
        let (entered_tx, entered) = mpsc::channel::<()>();
        let blocker = crate::submit_to(1, move || {
            entered_tx.send(()).unwrap();
            stuck.recv().unwrap();
        });
        let blocker = crate::spawn_local(blocker);
        while entered.try_recv().is_err() {
            crate::yield_now().await;
        }
        let calls = 20_000usize;
        let ran = Arc::new(AtomicUsize::new(0));
        let done = Rc::new(Cell::new(0usize));
        for i in 0..calls {
            let ran = ran.clone();
            let done = done.clone();
            drop(crate::spawn_local(async move {
                let v = crate::submit_to(1, move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                    i
                })
                .await;
                assert_eq!(v, i);
                done.set(done.get() + 1);
            }));
        }
        let mut most = 0;
        for _ in 0..64 {
            crate::yield_now().await;
            most = most.max(outbox_to_core_1());
        }
        assert!(most <= SUBMIT_BACKLOG, "outbox grew to {most}");
        assert!(most > 0, "the ring never filled, so nothing was bounded");
        assert_eq!(ran.load(Ordering::Relaxed), 0);
        release.send(()).unwrap();
        blocker.await.unwrap();
        while done.get() < calls {
            crate::yield_now().await;
            assert!(outbox_to_core_1() <= SUBMIT_BACKLOG);
        }
        assert_eq!(ran.load(Ordering::Relaxed), calls);
    });
}

#[test]
fn a_dropped_submit_to_does_not_run_its_closure() {
    let rt = two_cores();
    rt.block_on(async {
        let (release, stuck) = mpsc::channel::<()>();
        let (entered_tx, entered) = mpsc::channel::<()>();
        let blocker = crate::spawn_local(crate::submit_to(1, move || {
            entered_tx.send(()).unwrap();
            stuck.recv().unwrap();
        }));
        while entered.try_recv().is_err() {
            crate::yield_now().await;
        }
        // Dropped unpolled while core 1 is stuck.
        let never_polled = Arc::new(AtomicBool::new(false));
        let flag = never_polled.clone();
        drop(crate::submit_to(1, move || {
            flag.store(true, Ordering::SeqCst)
        }));
        // Polled once, then dropped while core 1 is stuck.
        let cancelled = Arc::new(AtomicBool::new(false));
        let flag = cancelled.clone();
        let mut sent = Box::pin(crate::submit_to(1, move || {
            flag.store(true, Ordering::SeqCst)
        }));
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(sent.as_mut().poll(cx).is_pending()))
                .await;
        assert!(polled);
        drop(sent);
        release.send(()).unwrap();
        blocker.await.unwrap();
        // A later call on core 1 runs after anything sent before it.
        crate::submit_to(1, || ()).await;
        assert!(!never_polled.load(Ordering::SeqCst));
        assert!(!cancelled.load(Ordering::SeqCst));
    });
}
