use std::cell::Cell;
use std::rc::Rc;

use super::{Signal, SignalKind};
use crate::{Cores, Runtime};

fn raise(kind: SignalKind) {
    // SAFETY: raising a signal whose handler the test's listener installed.
    unsafe { libc::raise(kind.as_raw()) };
}

#[test]
fn a_raised_signal_completes_recv() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let mut s = Signal::new(SignalKind::User1).unwrap();
        raise(SignalKind::User1);
        s.recv().await.unwrap();
    });
}

#[test]
fn every_waiter_on_a_core_sees_one_delivery() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let seen = Rc::new(Cell::new(0));
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let mut s = Signal::new(SignalKind::User2).unwrap();
            let seen = seen.clone();
            waiters.push(crate::spawn_local(async move {
                s.recv().await.unwrap();
                seen.set(seen.get() + 1);
            }));
        }
        raise(SignalKind::User2);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(seen.get(), 3);
    });
}

#[test]
fn waiters_on_every_core_see_one_delivery() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .build()
        .unwrap();
    rt.block_on(async {
        // Each core subscribes first, then waits; core 0 raises once both
        // are subscribed.
        let (tx, rx) = std::sync::mpsc::channel();
        let mut joins = Vec::new();
        for core in 0..2 {
            let tx = tx.clone();
            joins.push(crate::spawn_on(core, move || async move {
                let mut s = Signal::new(SignalKind::Hangup).unwrap();
                tx.send(()).unwrap();
                s.recv().await.unwrap();
                crate::current_core()
            }));
        }
        for _ in 0..2 {
            while rx.try_recv().is_err() {
                crate::yield_now().await;
            }
        }
        raise(SignalKind::Hangup);
        let mut cores = Vec::new();
        for j in joins {
            cores.push(j.await.unwrap());
        }
        cores.sort_unstable();
        assert_eq!(cores, vec![Some(0), Some(1)]);
    });
}

#[test]
fn deliveries_between_recvs_are_kept_and_coalesce() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    rt.block_on(async {
        let mut s = Signal::new(SignalKind::WindowChange).unwrap();
        raise(SignalKind::WindowChange);
        raise(SignalKind::WindowChange);
        // Let the pump read both deliveries before the first recv.
        for _ in 0..4 {
            crate::yield_now().await;
        }
        s.recv().await.unwrap();
        // The second delivery was read with the first or counts once more;
        // either way a third recv must wait for a new delivery.
        let pending = crate::time::timeout(std::time::Duration::from_millis(20), s.recv()).await;
        if pending.is_ok() {
            let again = crate::time::timeout(std::time::Duration::from_millis(20), s.recv()).await;
            assert!(again.is_err(), "two deliveries completed three recvs");
        }
    });
}

#[test]
fn a_listener_outlives_its_runtime() {
    let mut s = None;
    let first = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    first.block_on(async {
        s = Some(Signal::new(SignalKind::Quit).unwrap());
    });
    drop(first);
    let second = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    second.block_on(async {
        let mut s = s.take().unwrap();
        // recv joins the new runtime's hub, then sees the next delivery.
        let recv = crate::spawn_local(async move { s.recv().await });
        crate::yield_now().await;
        crate::yield_now().await;
        raise(SignalKind::Quit);
        recv.await.unwrap().unwrap();
    });
}
