//! The runtime: cores, their threads, and the entry points.
//!
//! Core 0 is driven by the thread that built the runtime, inside
//! [`Runtime::block_on`]; cores 1..n have threads of their own that run
//! until the runtime is dropped. `Runtime` is `!Send` so that core 0 (and the
//! `!Send` tasks on it) never changes thread.

mod builder;
mod clock;
pub(crate) mod context;
pub(crate) mod core;
mod idle;
mod mesh;
mod queue;
mod registry;
pub(crate) mod shared;
mod spawn;
mod stall;
mod stats;

pub use builder::{BuildError, Builder};
pub use queue::{TaskQueue, TaskQueueError, DEFAULT_SHARES, MAX_SHARES};
pub use spawn::{current_core, spawn, spawn_local, spawn_on, submit_to, yield_now};
pub(crate) use spawn::{deliver_join_wake, on_core, schedule};
pub use stats::{CoreStats, QueueStats};

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread;

use crossbeam_deque::{Injector, Worker};

use self::core::CoreCtx;
use self::shared::{new_eventfd, CoreShared, Shared};
use crate::driver::{self, Driver, DriverKind};
use crate::sync::ParkFlag;
use crate::topology::{self, Cores, Topology};

/// A set of cores, each an executor with its own I/O driver (io_uring or
/// epoll), timers, arena and queues, pinned to one CPU.
///
/// # Examples
/// ```no_run
/// let rt = frys_runtime::Runtime::builder().build()?;
/// let answer = rt.block_on(async { 42 });
/// assert_eq!(answer, 42);
/// # Ok::<(), frys_runtime::BuildError>(())
/// ```
pub struct Runtime {
    core0: Rc<CoreCtx>,
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
    saved_affinity: Option<topology::SavedPlacement>,
}

impl Runtime {
    /// A builder with defaults: every usable CPU, pinned, stealing on.
    /// (A runtime of fewer cores than usable CPUs is not pinned unless
    /// asked: see [`Builder::pin`].)
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs `future` on core 0 (this thread) to completion, driving core 0's
    /// tasks, I/O and timers meanwhile. The other cores run on their own
    /// threads all the time.
    ///
    /// Core 0 runs only inside `block_on`, so before returning it makes sure
    /// nothing it queued for others waits for the next call:
    /// - every unstarted [`spawn`] task of core 0 will start: another core
    ///   steals it (a parked stealing core is woken), or, with one core or
    ///   stealing off, `block_on` runs it before returning;
    /// - every mesh message core 0 sent ([`spawn_on`], [`submit_to`], their
    ///   replies) is in its ring; `block_on` waits for room in a full ring.
    ///
    /// Tasks that stay on core 0 (`spawn_local`, started tasks, tasks
    /// `spawn_on(0, ..)`) run again only inside the next `block_on`.
    ///
    /// # Panics
    /// Panics if called from inside a frys core (a task cannot block its
    /// own core), and resumes a panic of `future`.
    ///
    /// # Examples
    /// ```no_run
    /// use frys_runtime::Runtime;
    /// let rt = Runtime::builder().build().unwrap();
    /// let answer = rt.block_on(async { 6 * 7 });
    /// assert_eq!(answer, 42);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert!(
            context::with_current(|_| ()).is_none(),
            "Runtime::block_on called from inside a frys core; use .await instead"
        );
        let _guard = context::enter(self.core0.clone());
        self.core0.block_on(future)
    }

    /// Starts `f(core)` on every core and waits for all of them; returns the
    /// outputs in core order. The futures need not be `Send`: each is
    /// created on its own core.
    ///
    /// The tasks' spawn site (in stall reports) is the caller's.
    ///
    /// # Panics
    /// Resumes the panic of a future that panicked.
    ///
    /// # Examples
    /// ```no_run
    /// use frys_runtime::{Cores, Runtime};
    /// let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
    /// let on = rt.run_on_all(|core| async move { (core, frys_runtime::current_core()) });
    /// assert_eq!(on, vec![(0, Some(0)), (1, Some(1))]);
    /// ```
    #[track_caller]
    pub fn run_on_all<F, Fut>(&self, f: F) -> Vec<Fut::Output>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let f = Arc::new(f);
        let cores = self.cores();
        let at = std::panic::Location::caller();
        self.block_on(async move {
            let handles: Vec<_> = (0..cores)
                .map(|core| {
                    let f = f.clone();
                    spawn::spawn_on_at(core, move || f(core), at)
                })
                .collect();
            let mut outputs = Vec::with_capacity(cores);
            for handle in handles {
                match handle.await {
                    Ok(out) => outputs.push(out),
                    Err(e) => match e.try_into_panic() {
                        Ok(payload) => std::panic::resume_unwind(payload),
                        Err(e) => panic!("run_on_all: a core's task ended without output: {e}"),
                    },
                }
            }
            outputs
        })
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.shared.cores.len()
    }

    /// The CPU each core is pinned to (or placed on, when pinning is off).
    pub fn cpus(&self) -> Vec<usize> {
        self.shared.cores.iter().map(|c| c.cpu).collect()
    }

    /// How long an idle core polls before it parks (see
    /// [`Builder::idle_poll`]).
    pub fn idle_poll(&self) -> std::time::Duration {
        self.shared.idle_poll
    }

    /// The I/O driver every core runs: [`DriverKind::IoUring`] or
    /// [`DriverKind::Epoll`] (never `Auto`; see [`Builder::driver`]).
    pub fn driver(&self) -> DriverKind {
        self.shared.driver
    }

    /// Counters of every core (polls, steals, parks, stalls, time per task
    /// queue, ...).
    pub fn stats(&self) -> Vec<CoreStats> {
        stats::snapshot(&self.shared)
    }

    /// Stops every core, drops every task on its own core, joins the core
    /// threads. Same as dropping the runtime.
    pub fn shutdown(self) {
        drop(self);
    }

    fn start(mut b: Builder) -> Result<Runtime, BuildError> {
        let topo = Topology::from_sysfs(&b.sysfs_root).map_err(BuildError::Topology)?;
        let allowed = topology::allowed_cpus().map_err(BuildError::Topology)?;
        let usable = topology::select_cpus(&topo, &allowed, &Cores::All, b.placement)
            .map_err(BuildError::Placement)?;
        // See `Builder::pin` for the default.
        let pin = *b.pin.get_or_insert(match &b.cores {
            Cores::Count(n) => *n >= usable.len(),
            Cores::All | Cores::List(_) => true,
        });
        let cpus = match topology::select_cpus(&topo, &allowed, &b.cores, b.placement) {
            // Unpinned cores may outnumber the CPUs: they share them, in
            // placement order, and the scheduler multiplexes the threads.
            Err(topology::PlacementError::TooManyCores { requested, .. }) if !pin => {
                usable.iter().copied().cycle().take(requested).collect()
            }
            other => other.map_err(BuildError::Placement)?,
        };
        let n = cpus.len();
        let kind = driver::resolve_kind(b.driver).map_err(BuildError::DriverEnv)?;
        if kind == DriverKind::Epoll {
            // File-operation threads run where the process could, not on
            // the CPU of the core that happens to start them.
            driver::set_pool_affinity(allowed.clone());
        }

        // One stealable deque per core and task queue slot.
        let mut workers: Vec<Box<[Worker<_>]>> = (0..n)
            .map(|_| (0..queue::MAX_QUEUES).map(|_| Worker::new_fifo()).collect())
            .collect();
        let stealers = workers
            .iter()
            .map(|ws| ws.iter().map(Worker::stealer).collect())
            .collect();
        let cores = cpus
            .iter()
            .map(|&cpu| {
                Ok(CoreShared {
                    remote: Injector::new(),
                    park: ParkFlag::new(),
                    eventfd: new_eventfd()?,
                    cpu,
                    node: topo.node_of(cpu).unwrap_or(0),
                    counters: Default::default(),
                })
            })
            .collect::<Result<Box<[_]>, std::io::Error>>()
            .map_err(BuildError::Io)?;
        static NEXT_RUNTIME_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let shared = Arc::new(Shared {
            id: NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed),
            cores,
            stealers,
            stealing: b.stealing,
            idle_poll: b.idle_poll.unwrap_or(idle::DEFAULT_IDLE_POLL),
            adaptive_idle_poll: b.adaptive_idle_poll,
            driver: kind,
            queues: queue::QueueTable::new(),
            task_quota: b.task_quota,
            stall_threshold: b.stall_threshold,
            shutdown: Default::default(),
        });
        let mut meshes = mesh::build(n, b.mesh_capacity);

        let (started_tx, started_rx) = mpsc::channel();
        let mut threads = Vec::with_capacity(n.saturating_sub(1));
        let mut error = None;
        // Cores n-1..1 get threads; popping leaves core 0's parts last.
        for index in (1..n).rev() {
            let (Some(mesh), Some(worker)) = (meshes.pop(), workers.pop()) else {
                break;
            };
            let (shared, started, cfg) = (shared.clone(), started_tx.clone(), b.clone());
            let spawned = thread::Builder::new()
                .name(format!("frys-core-{index}"))
                .spawn(move || core_thread(index, shared, worker, mesh, cfg, started));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    error = Some(BuildError::Io(e));
                    break;
                }
            }
        }
        drop(started_tx);
        for _ in 0..threads.len() {
            if let Ok(Err(e)) = started_rx.recv() {
                error.get_or_insert(e);
            }
        }

        let mut saved_affinity = None;
        let core0 = match (error, meshes.pop(), workers.pop()) {
            (None, Some(mesh), Some(worker)) => {
                start_core0(&shared, worker, mesh, &b, &mut saved_affinity)
            }
            (Some(e), ..) => Err(e),
            (None, ..) => Err(BuildError::Io(std::io::Error::other("no core 0"))),
        };
        match core0 {
            Ok(core0) => Ok(Runtime {
                core0,
                shared,
                threads,
                saved_affinity,
            }),
            Err(e) => {
                stop_threads(&shared, threads);
                if let Some(saved) = saved_affinity {
                    saved.restore();
                }
                Err(e)
            }
        }
    }
}

fn start_core0(
    shared: &Arc<Shared>,
    worker: Box<[Worker<crate::task::TaskRef>]>,
    mesh: mesh::MeshEnds,
    b: &Builder,
    saved_affinity: &mut Option<topology::SavedPlacement>,
) -> Result<Rc<CoreCtx>, BuildError> {
    let core = &shared.cores[0];
    if b.pin == Some(true) {
        *saved_affinity =
            Some(topology::SavedPlacement::of_current_thread().map_err(BuildError::Topology)?);
        topology::place_current_thread(core.cpu, core.node, b.memory_binding)
            .map_err(BuildError::Io)?;
    }
    let driver = new_driver(shared, 0, b)?;
    Ok(Rc::new(CoreCtx::new(
        0,
        shared.clone(),
        worker,
        driver,
        mesh,
        b.arena_capacity,
    )))
}

fn core_thread(
    index: usize,
    shared: Arc<Shared>,
    worker: Box<[Worker<crate::task::TaskRef>]>,
    mesh: mesh::MeshEnds,
    b: Builder,
    started: mpsc::Sender<Result<(), BuildError>>,
) {
    let core = &shared.cores[index];
    if b.pin == Some(true) {
        if let Err(e) = topology::place_current_thread(core.cpu, core.node, b.memory_binding) {
            let _ = started.send(Err(BuildError::Io(e)));
            return;
        }
    }
    let driver = match new_driver(&shared, index, &b) {
        Ok(d) => d,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let ctx = Rc::new(CoreCtx::new(
        index,
        shared.clone(),
        worker,
        driver,
        mesh,
        b.arena_capacity,
    ));
    let _ = started.send(Ok(()));
    drop(started);
    let guard = context::enter(ctx.clone());
    let ran = panic::catch_unwind(AssertUnwindSafe(|| ctx.run_until_shutdown()));
    if ran.is_err() {
        tracing::error!(
            core = index,
            "core panicked; cancelling its tasks on this thread"
        );
    }
    // Even after a panic, the tasks' futures (possibly !Send) must be
    // dropped here, on their own thread; if that fails too, nothing can
    // guarantee it any more.
    if panic::catch_unwind(AssertUnwindSafe(|| ctx.shutdown_tasks())).is_err() {
        eprintln!("frys: core {index} panicked while cancelling its tasks; aborting");
        std::process::abort();
    }
    drop(guard);
}

/// Creates core `index`'s driver, of the runtime's kind, on the calling
/// thread (the core's own).
fn new_driver(shared: &Arc<Shared>, index: usize, b: &Builder) -> Result<Driver, BuildError> {
    let eventfd = std::os::fd::AsRawFd::as_raw_fd(&shared.cores[index].eventfd);
    match shared.driver {
        DriverKind::Epoll => {
            let notified = shared.clone();
            let notify: driver::Notify = Arc::new(move || notified.notify(index));
            Driver::epoll(eventfd, notify, &b.net).map_err(|source| BuildError::Epoll {
                core: index,
                source,
            })
        }
        _ => Driver::io_uring(b.ring_entries, eventfd, &b.net).map_err(|source| BuildError::Ring {
            core: index,
            source,
        }),
    }
}

fn stop_threads(shared: &Shared, threads: Vec<thread::JoinHandle<()>>) {
    shared.shutdown.store(true, Ordering::Release);
    for i in 0..shared.cores.len() {
        shared.notify(i);
    }
    for t in threads {
        // A core thread that panicked has nothing left to clean up here.
        let _ = t.join();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        stop_threads(&self.shared, std::mem::take(&mut self.threads));
        {
            let _guard = context::enter(self.core0.clone());
            self.core0.shutdown_tasks();
        }
        if let Some(saved) = self.saved_affinity.take() {
            saved.restore();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod pin_tests {
    use crate::topology::allowed_cpus;
    use crate::{Cores, Runtime};

    /// The CPUs core 0 may run on inside `block_on`.
    fn core0_affinity(rt: &Runtime) -> Vec<usize> {
        rt.block_on(async { allowed_cpus().unwrap() })
    }

    #[test]
    fn fewer_cores_than_cpus_are_not_pinned_unless_asked() {
        let usable = allowed_cpus().unwrap();
        if usable.len() < 2 {
            eprintln!("skipped: needs 2 usable CPUs, have {usable:?}");
            return;
        }
        let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
        assert_eq!(core0_affinity(&rt), usable, "a 1-core runtime was pinned");
        drop(rt);
        let rt = Runtime::builder()
            .cores(Cores::Count(1))
            .pin(true)
            .build()
            .unwrap();
        assert_eq!(core0_affinity(&rt), rt.cpus());
        drop(rt);
        let rt = Runtime::builder()
            .cores(Cores::Count(usable.len()))
            .build()
            .unwrap();
        assert_eq!(
            core0_affinity(&rt).len(),
            1,
            "a runtime of every CPU is pinned"
        );
        drop(rt);
        // The builder's thread gets its affinity back.
        assert_eq!(allowed_cpus().unwrap(), usable);
    }
}
