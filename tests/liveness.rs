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
use std::sync::Arc;
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
