//! Liveness: every task that was spawned runs (or completes as cancelled),
//! every wake-up reaches its task, whatever thread or runtime awaits it and
//! whatever state the runtime is in (between `block_on`s, full mesh rings,
//! panicking wakers, shutdown).
//!
//! The runtimes park at once (`idle_poll(ZERO)`): the races are in the
//! park protocol, which idle polling would mostly hide.
//!
//! A hang is the failure mode here, so results are waited for off the
//! runtime with a generous watchdog: it only turns a hang into a failure,
//! no test asserts how long anything takes.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
        .idle_poll(Duration::ZERO)
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

/// Runs `f` on its own thread; panics if it hangs past the watchdog, and
/// resumes its panic.
fn no_hang<F: FnOnce() + Send + 'static>(what: &str, f: F) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung"),
    }
}

/// Polls `fut` once from inside a task, giving back whether it is ready.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx))).await
}

/// A waker that counts its wake-ups and then panics.
struct Bomb(Arc<AtomicUsize>);
impl Wake for Bomb {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("bomb waker");
    }
}

fn bomb() -> (Waker, Arc<AtomicUsize>) {
    let fired = Arc::new(AtomicUsize::new(0));
    (Waker::from(Arc::new(Bomb(fired.clone()))), fired)
}

/// Sleeps on the current core until `flag` is set.
async fn until(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        frys::time::sleep(Duration::from_millis(1)).await;
    }
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

/// Rounds of the stealing race. Before the fix, 200k rounds hit the race
/// in 8 of 8 release runs and 100k in 6 of 8 debug runs on a 2-CPU VM; a
/// round costs 5-30 µs, so this stays a few seconds in either profile.
const STEAL_ROUNDS: u32 = 200_000;

/// Finding 1: core 1 looks for work to steal, finds none, and is about to
/// park exactly when core 0 leaves a `Send` task in its stealable queue and
/// returns from `block_on`. Core 1 must still take it.
#[test]
fn a_task_left_in_core0s_stealable_queue_is_always_stolen() {
    steal_rounds(&runtime(2), STEAL_ROUNDS);
}

/// The same with idle polling on (the default window): the stealing core
/// finds the task while polling, or parks after the window.
#[test]
fn a_task_left_in_core0s_stealable_queue_is_stolen_while_polling() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .pin(false)
        .build()
        .unwrap();
    steal_rounds(&rt, STEAL_ROUNDS / 10);
}

fn steal_rounds(rt: &Runtime, rounds: u32) {
    for round in 0..rounds {
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
        .idle_poll(Duration::ZERO)
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
        .idle_poll(Duration::ZERO)
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
        .idle_poll(Duration::ZERO)
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

/// Finding 3: a `submit_to` future made in one runtime's `block_on` and
/// awaited in another's (or on a plain thread) completes: its reply cannot
/// go over a mesh nobody reads there, so it is woken directly.
#[test]
fn submit_to_awaited_outside_its_runtime_completes() {
    no_hang("submit_to in another block_on", || {
        let a = runtime(2);
        let b = runtime(2);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (fut,) = a.block_on(async move {
            (frys::submit_to(1, move || {
                go_rx.recv().unwrap();
                5
            }),)
        });
        let out = b.block_on(async move {
            let mut fut = Box::pin(fut);
            // Registered on B before the closure may finish.
            assert!(poll_once(&mut fut).await.is_pending());
            go_tx.send(()).unwrap();
            fut.await
        });
        assert_eq!(out, 5);

        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (fut,) = a.block_on(async move {
            (frys::submit_to(1, move || {
                go_rx.recv().unwrap();
                6
            }),)
        });
        let mut fut = Box::pin(fut);
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        go_tx.send(()).unwrap();
        assert_eq!(wait_off_runtime(fut), Some(6), "on a plain thread");
    });
}

/// A `JoinHandle` made on one live runtime and awaited on another (whose
/// cores are not the task's) completes: the task's core wakes the awaiting
/// runtime directly instead of replying over a mesh it does not share.
#[test]
fn a_join_handle_awaited_on_another_live_runtime_completes() {
    no_hang("JoinHandle awaited in another runtime", || {
        let a = runtime(2);
        let b = runtime(2);
        let go = Arc::new(AtomicBool::new(false));
        let g = go.clone();
        let (handle,) = a.block_on(async move {
            (frys::spawn_on(1, move || async move {
                until(&g).await;
                7
            }),)
        });
        let (local,) = a.block_on(async { (frys::spawn(async { 8 }),) });
        let out = b.block_on(async move {
            let mut handle = handle;
            assert!(poll_once(&mut handle).await.is_pending());
            go.store(true, Ordering::SeqCst);
            // Awaited on B's core 1 as well as core 0.
            let second = frys::submit_to(1, move || local).await;
            (handle.await.unwrap(), second.await.unwrap())
        });
        assert_eq!(out, (7, 8));
    });
}

/// Finding 5: a `JoinHandle` waker that panics when its task completes on
/// core 1 does not take core 1 (and its other tasks) down.
#[test]
fn a_panicking_join_waker_does_not_kill_the_core() {
    let rt = runtime(2);
    let (victim, fired, after) = rt.block_on(async {
        let victim_go = Arc::new(AtomicBool::new(false));
        let target_go = Arc::new(AtomicBool::new(false));
        let (v, t) = (victim_go.clone(), target_go.clone());
        let victim = frys::spawn_on(1, move || async move {
            until(&v).await;
            "victim finished"
        });
        let mut target = frys::spawn_on(1, move || async move {
            until(&t).await;
            1
        });
        let (bomb, fired) = bomb();
        let pending = std::pin::Pin::new(&mut target).poll(&mut Context::from_waker(&bomb));
        assert!(pending.is_pending());
        target_go.store(true, Ordering::SeqCst);
        while !target.is_finished() {
            frys::time::sleep(Duration::from_millis(1)).await;
        }
        victim_go.store(true, Ordering::SeqCst);
        let victim = victim.await.map_err(|e| e.to_string());
        let after = frys::spawn_on(1, || async { 5 })
            .await
            .map_err(|e| e.to_string());
        (victim, fired.load(Ordering::SeqCst), after)
    });
    assert_eq!(fired, 1, "the bomb was woken");
    assert_eq!(victim, Ok("victim finished"));
    assert_eq!(after, Ok(5), "core 1 still takes work");
}

/// Finding 5: a timer waker that panics does not take its core down.
#[test]
fn a_panicking_timer_waker_does_not_kill_the_core() {
    let rt = runtime(2);
    let out = rt.block_on(async {
        frys::spawn_on(1, || async {
            let mut sleep = Box::pin(frys::time::sleep(Duration::from_millis(1)));
            let (bomb, fired) = bomb();
            let pending = sleep.as_mut().poll(&mut Context::from_waker(&bomb));
            assert!(pending.is_pending());
            // The timer entry stays registered with the bomb.
            std::mem::forget(sleep);
            while fired.load(Ordering::SeqCst) == 0 {
                frys::time::sleep(Duration::from_millis(1)).await;
            }
            "survived"
        })
        .await
        .map_err(|e| e.to_string())
    });
    assert_eq!(out, Ok("survived"));
}

/// Finding 5: an I/O waker that panics when its completion is reaped does
/// not take its core down.
#[test]
fn a_panicking_io_waker_does_not_kill_the_core() {
    let rt = runtime(2);
    let out = rt.block_on(async {
        frys::spawn_on(1, || async {
            let sock = frys::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = sock.local_addr().unwrap();
            let mut recv = Box::pin(sock.recv(Vec::with_capacity(8)));
            let (bomb, fired) = bomb();
            let pending = recv.as_mut().poll(&mut Context::from_waker(&bomb));
            assert!(pending.is_pending());
            let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            peer.send_to(b"ping", addr).unwrap();
            while fired.load(Ordering::SeqCst) == 0 {
                frys::time::sleep(Duration::from_millis(1)).await;
            }
            let (n, buf) = recv.await;
            (n.unwrap(), buf[..4].to_vec())
        })
        .await
        .map_err(|e| e.to_string())
    });
    assert_eq!(out, Ok((4, b"ping".to_vec())));
}

/// Finding 5: a waker that panics while the runtime shuts down (the task
/// is cancelled on core 1, its handle's waker panics) neither aborts the
/// process nor stops the other tasks from being cancelled.
#[test]
fn a_panicking_waker_during_shutdown_is_contained() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Count;
    impl Drop for Count {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = runtime(2);
    let fired = rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..4 {
            // Dropped when the task is cancelled, started or not.
            let c = Count;
            handles.push(frys::spawn_on(1, move || async move {
                let _c = c;
                std::future::pending::<()>().await
            }));
        }
        let (bomb, fired) = bomb();
        for h in &mut handles {
            assert!(std::pin::Pin::new(h)
                .poll(&mut Context::from_waker(&bomb))
                .is_pending());
        }
        std::mem::forget(handles);
        fired
    });
    drop(rt);
    assert_eq!(fired.load(Ordering::SeqCst), 4, "every handle was woken");
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        4,
        "every task was cancelled"
    );
}

/// Finding 6: a core whose tick has a `submit_to` reply queued and then
/// hits a panicking waker still delivers the reply.
#[test]
fn a_submit_to_reply_survives_a_panicking_waker_in_the_same_tick() {
    no_hang("submit_to reply", || {
        let rt = runtime(2);
        let out = rt.block_on(async {
            frys::submit_to(1, || {
                // Completes in the same tick as this closure's task and
                // wakes a panicking waker.
                let mut h = frys::spawn_local(async { 0u8 });
                let (bomb, _) = bomb();
                let _ = std::pin::Pin::new(&mut h).poll(&mut Context::from_waker(&bomb));
                std::mem::forget(h);
                99u32
            })
            .await
        });
        assert_eq!(out, 99);
    });
}

/// Finding 6: a `spawn_on` made while the runtime shuts down (from a
/// future's drop), after the receiving core's last look at its mesh, is
/// cancelled rather than dropped: its handle completes.
#[test]
fn spawn_on_during_shutdown_completes_as_cancelled() {
    type Handles = Arc<std::sync::Mutex<Vec<frys::JoinHandle<u32>>>>;
    struct SpawnOnDrop(usize, Handles);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let h = frys::spawn_on(self.0, || async { 7 });
            self.1.lock().unwrap().push(h);
        }
    }
    let handles: Handles = Default::default();
    let rt = runtime(2);
    let hs = handles.clone();
    rt.run_on_all(move |core| {
        let hs = hs.clone();
        async move {
            // Core 0's task sends to core 1 after core 1 has exited; core
            // 1's sends to core 0 from its own last cleanup.
            let guard = SpawnOnDrop(1 - core, hs);
            drop(frys::spawn_local(async move {
                let _g = guard;
                std::future::pending::<()>().await
            }));
        }
    });
    drop(rt);
    let handles = std::mem::take(&mut *handles.lock().unwrap());
    assert_eq!(handles.len(), 2);
    for h in handles {
        let out = wait_off_runtime(h).expect("the handle completed");
        assert!(out.unwrap_err().is_cancelled());
    }
}

/// A `block_on` future that only ever yields still gets its own I/O
/// submitted (it counts as queued work, like a yielding task).
#[test]
fn a_yielding_block_on_future_still_gets_its_io_done() {
    let rt = runtime(1);
    let got = rt.block_on(async {
        let sock = frys::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let mut recv = Box::pin(sock.recv(Vec::with_capacity(8)));
        assert!(poll_once(&mut recv).await.is_pending());
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"hi", addr).unwrap();
        loop {
            if let Poll::Ready((n, buf)) = poll_once(&mut recv).await {
                break buf[..n.unwrap()].to_vec();
            }
            frys::yield_now().await;
        }
    });
    assert_eq!(got, b"hi");
}
