//! Task behaviour: placement, join handles, panics, abort, cross-core submit.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use frys::{Cores, Runtime};

fn two_cores() -> Runtime {
    Runtime::builder()
        .cores(Cores::Count(2))
        .build()
        .expect("runtime with 2 cores")
}

#[test]
fn local_tasks_run_on_the_core_they_were_spawned_on() {
    let rt = two_cores();
    let seen = rt.run_on_all(|core| async move {
        let mut handles = Vec::new();
        for _ in 0..50 {
            handles.push(frys::spawn_local(async move {
                frys::yield_now().await;
                frys::current_core()
            }));
        }
        let mut all_here = true;
        for h in handles {
            all_here &= h.await.unwrap() == Some(core);
        }
        all_here
    });
    assert_eq!(seen, vec![true, true]);
}

#[test]
fn join_handle_gives_the_output_of_a_non_send_task() {
    let rt = two_cores();
    let out = rt.block_on(async {
        let counter = Rc::new(Cell::new(0));
        let c = counter.clone();
        let h = frys::spawn_local(async move {
            c.set(c.get() + 41);
            c
        });
        let c = h.await.unwrap();
        c.get() + 1
    });
    assert_eq!(out, 42);
}

#[test]
fn a_panicking_task_is_reported_and_the_core_survives() {
    let rt = two_cores();
    let (msg, after) = rt.block_on(async {
        let h = frys::spawn_local(async { panic!("boom in task") });
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
        let after = frys::spawn_local(async { 7 }).await.unwrap();
        (err.to_string(), after)
    });
    assert_eq!(msg, "task panicked: boom in task");
    assert_eq!(after, 7);
    // The other core survives a panic too.
    let again = rt.block_on(async {
        let e = frys::spawn_on(1, || async { panic!("remote boom") }).await;
        assert!(e.unwrap_err().is_panic());
        frys::submit_to(1, frys::current_core).await
    });
    assert_eq!(again, Some(1));
}

#[test]
fn abort_cancels_a_pending_task_and_drops_its_future_on_its_core() {
    struct DropOnCore(Arc<AtomicUsize>);
    impl Drop for DropOnCore {
        fn drop(&mut self) {
            self.0
                .store(frys::current_core().map_or(99, |c| c + 1), Ordering::SeqCst);
        }
    }
    let rt = two_cores();
    let dropped_on = Arc::new(AtomicUsize::new(0));
    let d = dropped_on.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    rt.block_on(async move {
        let h = frys::spawn_on(1, move || async move {
            let _guard = DropOnCore(d);
            s.store(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        });
        // Abort only once the task holds its guard (a loaded machine may
        // start it late; aborting before its first poll drops no guard).
        let patience = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while started.load(Ordering::SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < patience,
                "the task never started"
            );
            frys::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
    });
    assert_eq!(dropped_on.load(Ordering::SeqCst), 2, "dropped on core 1");
}

#[test]
fn submit_to_runs_on_the_target_core_and_returns_the_result() {
    let rt = two_cores();
    let results = rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..100u64 {
            let core = (i % 2) as usize;
            out.push(frys::submit_to(core, move || (frys::current_core(), i * i)).await);
        }
        out
    });
    for (i, (core, sq)) in results.into_iter().enumerate() {
        assert_eq!(core, Some(i % 2));
        assert_eq!(sq, (i * i) as u64);
    }
}

#[test]
fn dropping_the_runtime_cancels_pending_tasks_on_every_core() {
    let rt = two_cores();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let d = dropped.clone();
    rt.run_on_all(move |_| {
        let d = d.clone();
        async move {
            for _ in 0..10 {
                let c = Count(d.clone());
                frys::spawn_local(async move {
                    let _c = c;
                    std::future::pending::<()>().await
                });
            }
        }
    });
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 20);
}

/// A tiny executor for a plain (non-frys) thread.
fn block_on_plain_thread<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn a_spawn_on_handle_awaited_off_the_runtime_completes() {
    let rt = two_cores();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    // The handle leaves block_on (wrapped: it is itself a future).
    let (handle,) = rt.block_on(async move {
        (frys::spawn_on(1, move || async move {
            // Finish only once the main thread has left block_on.
            while rx.try_recv().is_err() {
                frys::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            frys::current_core()
        }),)
    });
    let waiter = std::thread::spawn(move || block_on_plain_thread(handle));
    tx.send(()).unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), Some(1));
}
