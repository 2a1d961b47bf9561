//! Liveness: every task that was spawned runs (or completes as cancelled),
//! every wake-up reaches its task, whatever thread or runtime awaits it and
//! whatever state the runtime is in (between `block_on`s, full mesh rings,
//! panicking wakers, shutdown).
//!
//! A hang is the failure mode here, so results are waited for off the
//! runtime with a generous watchdog: it only turns a hang into a failure,
//! no test asserts how long anything takes.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use frys::{Cores, Runtime};

/// Long enough that only a hang reaches it, even on a loaded machine.
const WATCHDOG: Duration = Duration::from_secs(20);

fn runtime(cores: usize) -> Runtime {
    Runtime::builder()
        .cores(Cores::Count(cores))
        .pin(false)
        .build()
        .expect("runtime")
}

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on the calling (non-frys) thread; `None` if it is still
/// pending when the watchdog fires.
fn wait_off_runtime<F: Future>(fut: F) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let start = Instant::now();
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let left = WATCHDOG.checked_sub(start.elapsed())?;
        std::thread::park_timeout(left);
    }
}

/// Waits (polling, off the runtime) until `cond` holds; false if the
/// watchdog fires first.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > WATCHDOG {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `fut` on the calling (non-frys) thread, spinning so that it reacts
/// to the wake-up at once (needed to hit narrow races); `None` if it is
/// still pending when the watchdog fires.
fn spin_off_runtime<F: Future>(fut: F) -> Option<F::Output> {
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let start = Instant::now();
    loop {
        if flag.0.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return Some(v);
            }
        }
        if start.elapsed() > WATCHDOG {
            return None;
        }
        std::hint::spin_loop();
    }
}

/// Rounds of the stealing race: enough in debug to hit the race most runs
/// before the fix, thousands in release.
const STEAL_ROUNDS: u32 = if cfg!(debug_assertions) {
    20_000
} else {
    50_000
};

/// Finding 1: core 1 looks for work to steal, finds none, and is about to
/// park exactly when core 0 leaves a `Send` task in its stealable queue and
/// returns from `block_on`. Core 1 must still take it.
#[test]
fn a_task_left_in_core0s_stealable_queue_is_always_stolen() {
    let rt = runtime(2);
    for round in 0..STEAL_ROUNDS {
        let (h,) = rt.block_on(async move { (frys::spawn(async move { round }),) });
        match spin_off_runtime(h) {
            Some(Ok(v)) => assert_eq!(v, round),
            Some(Err(e)) => panic!("round {round}: {e}"),
            None => panic!(
                "round {round}: the task left by block_on never ran; stats {:?}",
                rt.stats()
            ),
        }
    }
}

/// Finding 2: with nobody to steal (one core, or stealing off), `block_on`
/// runs the `spawn` tasks it leaves behind before returning.
#[test]
fn block_on_runs_its_send_tasks_when_no_core_can_steal_them() {
    let one_core = runtime(1);
    let two_no_stealing = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .stealing(false)
        .build()
        .unwrap();
    for rt in [one_core, two_no_stealing] {
        let (h,) = rt.block_on(async { (frys::spawn(async { frys::current_core() }),) });
        assert!(h.is_finished(), "{} cores: not run by block_on", rt.cores());
        let out = wait_off_runtime(h).expect("finished").unwrap();
        assert_eq!(out, Some(0));
    }
}

/// Finding 4: `spawn_on` messages that do not fit in a full mesh ring when
/// `block_on` returns still reach their core.
#[test]
fn block_on_returns_only_once_its_mesh_backlog_is_sent() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .mesh_capacity(2)
        .build()
        .unwrap();
    let handles = rt.block_on(async {
        (0..64u32)
            .map(|i| frys::spawn_on(1, move || async move { i }))
            .collect::<Vec<_>>()
    });
    for (i, h) in handles.into_iter().enumerate() {
        let out = wait_off_runtime(h).unwrap_or_else(|| panic!("spawn_on {i} never ran"));
        assert_eq!(out.unwrap(), i as u32);
    }
}

/// Finding 7: a core with messages for a full ring parks (it is woken when
/// the peer frees room) instead of counting the backlog as work and
/// spinning; the backlog is delivered once the peer drains.
#[test]
fn a_core_with_a_full_ring_parks_until_the_peer_drains_it() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .mesh_capacity(2)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    rt.block_on(async move {
        drop(frys::spawn_on(1, move || async move {
            // Core 0 is outside block_on: its ring from core 1 fills up.
            let handles: Vec<_> = (0..16u32)
                .map(|i| frys::spawn_on(0, move || async move { i }))
                .collect();
            // Hand the handles out and wait for one wake-up.
            let mut out = Some((handles, tx));
            std::future::poll_fn(move |cx| match out.take() {
                Some((handles, tx)) => {
                    tx.send((handles, cx.waker().clone())).unwrap();
                    Poll::Pending
                }
                None => Poll::Ready(()),
            })
            .await;
        }));
    });
    let (handles, waker) = rx.recv_timeout(WATCHDOG).expect("core 1 ran the sender");
    // With the backlog, core 1 parks (again) after running the woken task;
    // a core that counts the backlog as work never parks any more.
    let parks = rt.stats()[1].parks;
    waker.wake();
    assert!(
        eventually(|| rt.stats()[1].parks > parks),
        "core 1 never parked with a full ring: {:?}",
        rt.stats()
    );
    let outs = rt.block_on(async move {
        let mut outs = Vec::new();
        for h in handles {
            outs.push(h.await.unwrap());
        }
        outs
    });
    assert_eq!(outs, (0..16).collect::<Vec<_>>());
}
