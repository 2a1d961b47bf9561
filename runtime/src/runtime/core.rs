//! One core: its queues, driver, timers, mesh ends and arena, and the loop
//! that drives them.
//!
//! The loop, per iteration ("tick"):
//! 1. move remotely woken tasks into their task queues' run lists, take
//!    mesh messages;
//! 2. wake expired timers;
//! 3. run up to [`BUDGET`] tasks: pick the runnable task queue with the
//!    least virtual runtime and poll its tasks, alternating its run list
//!    and its stealable (`Send`) deque so neither starves, until its task
//!    quota has passed or it has none left; then pick again
//!    (`runtime::queue`). Every poll is timed (`runtime::clock`): its
//!    queue is charged for it, and a poll past the stall threshold is
//!    counted and reported (`runtime::stall`);
//! 4. publish mesh messages; if tasks remain queued, submit SQEs and reap
//!    completions (one `io_uring_enter`; on epoll, one `epoll_wait` without
//!    waiting, if an operation waits for readiness); reset the arena;
//! 5. with nothing done: steal from the busiest core, else poll the queues,
//!    mesh and driver for up to the idle-poll window (`runtime::idle`),
//!    else park: one `io_uring_enter` (or `epoll_wait`) waits for a
//!    completion (or readiness), an eventfd write or the nearest timer
//!    deadline.
//!
//! Invariant (no lost work): before a core sleeps, it has set its park
//! flag and then re-checked every place another thread can put work for
//! it: its remote queue, its incoming mesh rings (wakers armed), the rings
//! it has a backlog for (room re-checked with a waker armed), if it
//! steals, every other core's stealable queue, and on epoll the inbox of
//! file-operation results (checked by `Driver::park` itself, after the flag
//! is raised). Producers publish, then `must_notify` (see `sync::park`).
//!
//! Everything here is used only by the core's own thread (`CoreCtx` is
//! `!Send`); other threads reach the core through [`Shared`].

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bumpalo::Bump;
use crossbeam_deque::{Steal, Stealer, Worker};

use super::clock;
use super::idle::{involuntary_switches, IdleWindow};
use super::mesh::MeshEnds;
use super::queue::{poll_charge, Scheduler};
use super::registry::Registry;
use super::shared::{write_eventfd, Shared};
use super::stall::{StallDetector, Verdict};
use crate::driver::{release_orphans, Driver};
use crate::sync::park::notify_one;
use crate::task::{wake_user, TaskRef};
use crate::time::Timers;

/// Tasks run per tick before the core looks at I/O and timers again.
pub(crate) const BUDGET: usize = 128;

pub(crate) struct CoreCtx {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    /// The run lists and accounts of the task queues on this core.
    sched: RefCell<Scheduler<TaskRef>>,
    /// The stealable deque of each task queue slot (`Shared::stealers`
    /// reaches them from other cores).
    workers: Box<[Worker<TaskRef>]>,
    /// The queue of the task being polled (0, the default queue, between
    /// polls): where plain spawns go.
    current_queue: Cell<usize>,
    /// A queue became runnable since the running slice started (ends an
    /// uncontended slice: see `run_tasks`).
    woke_queue: Cell<bool>,
    stalls: RefCell<StallDetector>,
    pub(crate) driver: RefCell<Driver>,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) registry: RefCell<Registry>,
    pub(crate) mesh: RefCell<MeshEnds>,
    pub(crate) arena: RefCell<Bump>,
    /// Wakes this core from any thread (used by the mesh channels).
    core_waker: Waker,
    woken: RefCell<Vec<Waker>>,
    ticks: Cell<u64>,
    idle_window: IdleWindow,
}

/// Wakes a core: ends its park if it is parked.
struct CoreWaker {
    shared: Arc<Shared>,
    index: usize,
}

impl Wake for CoreWaker {
    fn wake(self: Arc<Self>) {
        self.shared.notify(self.index);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.notify(self.index);
    }
}

/// The waker of a `block_on` future: a flag plus a core wake.
struct MainWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
    index: usize,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.notify(self.index);
    }
}

impl CoreCtx {
    pub(crate) fn new(
        index: usize,
        shared: Arc<Shared>,
        workers: Box<[Worker<TaskRef>]>,
        driver: Driver,
        mesh: MeshEnds,
        arena_capacity: usize,
    ) -> Self {
        let idle_window = IdleWindow::new(shared.idle_poll, shared.adaptive_idle_poll);
        let core_waker = Waker::from(Arc::new(CoreWaker {
            shared: shared.clone(),
            index,
        }));
        let stalls = RefCell::new(StallDetector::new(shared.stall_threshold));
        Self {
            index,
            shared,
            sched: RefCell::new(Scheduler::default()),
            workers,
            current_queue: Cell::new(0),
            woke_queue: Cell::new(false),
            stalls,
            driver: RefCell::new(driver),
            timers: RefCell::new(Timers::default()),
            registry: RefCell::new(Registry::default()),
            mesh: RefCell::new(mesh),
            arena: RefCell::new(Bump::with_capacity(arena_capacity)),
            core_waker,
            woken: RefCell::new(Vec::new()),
            ticks: Cell::new(0),
            idle_window,
        }
    }

    /// Drives the core until `fut` completes (the `block_on` of core 0).
    pub(crate) fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.shared.clone(),
            index: self.index,
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        loop {
            if main.woken.swap(false, Ordering::SeqCst) {
                if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                    self.leave_block_on();
                    return out;
                }
            }
            if self.tick(|| main.woken.load(Ordering::SeqCst)) || main.woken.load(Ordering::SeqCst)
            {
                continue;
            }
            self.idle(|| main.woken.load(Ordering::SeqCst));
        }
    }

    /// Core 0 stops until the next `block_on`: make sure nothing it queued
    /// for others waits for that.
    ///
    /// - `Send` tasks (`spawn`) not started yet: with a core that steals,
    ///   they stay in the stealable queue and a stealing core is sure to
    ///   take them; otherwise (one core, or stealing off) they run here, until
    ///   the queue is empty. Tasks they wake stay with core 0 like any other.
    /// - Mesh messages (`spawn_on`, `submit_to`, replies): every one is in
    ///   its ring, waiting for room if a ring is full.
    fn leave_block_on(&self) {
        if !self.shared.stealing || self.shared.cores.len() < 2 {
            // Until all are empty: a task may spawn into any queue.
            while let Some(queue) = self.workers.iter().position(|w| !w.is_empty()) {
                while let Some(task) = self.workers[queue].pop() {
                    self.run_in_queue(queue, task);
                }
            }
        }
        self.drain_outbox();
        self.hand_over_stealable_work();
    }

    /// Flushes the mesh until every outbox is empty, parking while a ring
    /// is full. Peers drain their incoming rings whatever they do (they
    /// never wait on us to do so), so this ends; a ring to a core that is
    /// gone reports closed and its messages are cancelled.
    fn drain_outbox(&self) {
        loop {
            self.mesh.borrow_mut().flush(&self.core_waker);
            if !self.mesh.borrow().has_backlog() {
                return;
            }
            let core = &self.shared.cores[self.index];
            core.park.begin_park();
            if self.mesh.borrow_mut().backlog_can_move(&self.core_waker) {
                core.park.end_park();
                continue;
            }
            self.park_in_kernel(None);
        }
    }

    /// Drives the core until the runtime shuts down (cores 1..n).
    pub(crate) fn run_until_shutdown(&self) {
        loop {
            if self.shared.is_shutdown() {
                return;
            }
            if self.tick(|| false) {
                continue;
            }
            self.idle(|| self.shared.is_shutdown());
        }
    }

    /// One scheduler iteration; true if it did any work. `main_ready`: the
    /// `block_on` future is ready to be polled again (it counts as queued
    /// work, so its I/O is submitted even if it only ever yields).
    fn tick(&self, main_ready: impl Fn() -> bool) -> bool {
        self.ticks.set(self.ticks.get() + 1);
        let mut work = self.drain_remote();
        work += self.mesh.borrow_mut().receive(self);
        work += self.fire_timers();
        work += self.run_tasks();
        self.mesh.borrow_mut().flush(&self.core_waker);
        // With tasks still queued, hand the kernel our SQEs now so I/O runs
        // while we compute. Otherwise the core is about to park, and the
        // park's `io_uring_enter` submits and waits in one syscall.
        if self.has_local_work() || main_ready() {
            work += self.submit_and_reap();
        }
        self.arena.borrow_mut().reset();
        // One queued task is likely ours to run next; a backlog is worth
        // waking a parked core for.
        self.hint_work_to_parked_cores(2);
        work > 0
    }

    fn drain_remote(&self) -> usize {
        let remote = &self.shared.cores[self.index].remote;
        let mut n = 0;
        loop {
            match remote.steal() {
                Steal::Success(task) => {
                    self.push_local(task);
                    n += 1;
                }
                Steal::Empty => return n,
                Steal::Retry => {}
            }
        }
    }

    fn fire_timers(&self) -> usize {
        let mut woken = self.woken.take();
        {
            let mut timers = self.timers.borrow_mut();
            if timers.is_empty() {
                self.woken.replace(woken);
                return 0;
            }
            timers.fire_expired(Instant::now(), &mut woken);
        }
        let n = woken.len();
        woken.drain(..).for_each(wake_user);
        self.woken.replace(woken);
        n
    }

    /// Runs queues' slices until the budget is spent or no queue has a
    /// task (see the module docs); returns the polls done.
    ///
    /// Polls are timed with the precise clock while another queue is
    /// runnable (the quota applies), else with the coarse one; a queue that
    /// wakes up during an uncontended slice ends it at the next poll
    /// boundary, so the next pick weighs the two (`runtime::clock`).
    fn run_tasks(&self) -> usize {
        let quota = u64::try_from(self.shared.task_quota.as_nanos()).unwrap_or(u64::MAX);
        let threshold = u64::try_from(self.shared.stall_threshold.as_nanos()).unwrap_or(u64::MAX);
        let cap = quota.max(threshold);
        let mut ran = 0;
        while ran < BUDGET {
            let picked = self.sched.borrow_mut().pick(|q| self.workers[q].is_empty());
            let Some((queue, contended)) = picked else {
                break;
            };
            let clock = if contended {
                clock::precise_ns
            } else {
                clock::coarse_ns
            };
            self.woke_queue.set(false);
            let slice_start = clock();
            let mut now = slice_start;
            let mut charged = 0u64;
            while ran < BUDGET {
                let Some(task) = self.pop_task(queue, ran % 2 == 0) else {
                    break;
                };
                let spawned_at = task.header().spawned_at;
                self.current_queue.set(queue);
                self.run_task(task);
                self.current_queue.set(0);
                let end = clock();
                let poll_ns = end.saturating_sub(now);
                self.check_stall(poll_ns, end, queue, spawned_at);
                charged = charged.saturating_add(poll_charge(poll_ns, cap));
                now = end;
                ran += 1;
                let yield_now = if contended {
                    now.saturating_sub(slice_start) >= quota
                } else {
                    self.woke_queue.get()
                };
                if yield_now {
                    break;
                }
            }
            self.charge(queue, charged);
        }
        ran
    }

    /// The next task of `queue`: from its run list or its stealable deque,
    /// the run list first if `local_first`.
    fn pop_task(&self, queue: usize, local_first: bool) -> Option<TaskRef> {
        let local = || self.sched.borrow_mut().pop(queue);
        let stealable = || self.workers[queue].pop();
        if local_first {
            local().or_else(stealable)
        } else {
            stealable().or_else(local)
        }
    }

    /// Charges `queue` for a slice of `nanos`: its virtual runtime and its
    /// runtime counter (its poll counter counts in `run_task`).
    fn charge(&self, queue: usize, nanos: u64) {
        self.sched
            .borrow_mut()
            .charge(queue, Duration::from_nanos(nanos));
        let counters = &self.shared.cores[self.index].counters;
        add_owned(&counters.queue_runtime_ns[queue], nanos);
    }

    /// Counts and (rate-limited) reports a poll that held the core too long.
    fn check_stall(
        &self,
        poll_ns: u64,
        now_ns: u64,
        queue: usize,
        spawned_at: &'static std::panic::Location<'static>,
    ) {
        if !self.stalls.borrow().is_stall(poll_ns) {
            return;
        }
        let verdict = self.stalls.borrow_mut().observe(poll_ns, now_ns);
        if verdict == Verdict::Fine {
            return;
        }
        let counters = &self.shared.cores[self.index].counters;
        counters.stalls.fetch_add(1, Ordering::Relaxed);
        if let Verdict::Report { unreported } = verdict {
            // Not borrowed across the subscriber's code.
            let name = self.sched.borrow().name(queue).cloned();
            tracing::warn!(
                core = self.index,
                queue = name.as_deref().unwrap_or("?"),
                spawned_at = %spawned_at,
                poll_ms = poll_ns as f64 / 1e6,
                threshold_ms = self.shared.stall_threshold.as_secs_f64() * 1e3,
                unreported_since_last_report = unreported,
                "a task's poll stalled the core"
            );
        }
    }

    /// Runs one task outside `run_tasks` (`leave_block_on`), in its queue.
    fn run_in_queue(&self, queue: usize, task: TaskRef) {
        let start = clock::precise_ns();
        let spawned_at = task.header().spawned_at;
        self.current_queue.set(queue);
        self.run_task(task);
        self.current_queue.set(0);
        let end = clock::precise_ns();
        let poll_ns = end.saturating_sub(start);
        self.check_stall(poll_ns, end, queue, spawned_at);
        let cap = self.shared.task_quota.max(self.shared.stall_threshold);
        let cap = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        self.charge(queue, poll_charge(poll_ns, cap));
    }

    fn run_task(&self, task: TaskRef) {
        // A stolen task changes owner here, before its first poll: no waker
        // of it exists yet, so nobody can have read the old owner.
        task.header().owner.store(self.index, Ordering::Release);
        self.registry.borrow_mut().insert(&task);
        let counters = &self.shared.cores[self.index].counters;
        counters.polls.fetch_add(1, Ordering::Relaxed);
        // Counted before the poll, as `polls`: whoever sees the task's
        // result sees its poll counted in its queue too.
        add_owned(&counters.queue_polls[self.current_queue.get()], 1);
        let this = Arc::as_ptr(&task) as *const ();
        // SAFETY: `this` is `Arc::as_ptr` of `task`, which we hold for the
        // whole call.
        if unsafe { task.run(this) } {
            self.registry.borrow_mut().remove(&task);
        }
    }

    fn submit_and_reap(&self) -> usize {
        let mut woken = self.woken.take();
        let result = self.driver.borrow_mut().submit_and_reap(&mut woken);
        self.release_finished_orphans();
        if let Err(e) = result {
            tracing::error!(core = self.index, error = %e, "the I/O driver failed to reap");
        }
        let n = woken.len();
        woken.drain(..).for_each(wake_user);
        self.woken.replace(woken);
        n
    }

    fn has_local_work(&self) -> bool {
        let sched = self.sched.borrow();
        sched.has_local() || self.workers[..sched.queues()].iter().any(|w| !w.is_empty())
    }

    /// Unstarted `Send` tasks in this core's stealable deques (only the
    /// queues this core has seen can have any: a push makes the queue
    /// known first).
    fn stealable_len(&self) -> usize {
        let known = self.sched.borrow().queues();
        self.workers[..known].iter().map(Worker::len).sum()
    }

    /// Nothing to do: steal, poll for a while (`runtime::idle`), or park
    /// until something happens.
    fn idle(&self, ready: impl Fn() -> bool) {
        if self.try_steal() {
            // Submit what the last tick queued before running stolen work.
            self.submit_and_reap();
            return;
        }
        if self.poll_for_work(&ready) {
            return;
        }
        let core = &self.shared.cores[self.index];
        core.park.begin_park();
        // Re-check everything a remote producer could have published before
        // it saw `parked` (including work offered for stealing, see
        // `sync::park`); whatever comes later will write our eventfd.
        let has_mesh_work = self.mesh.borrow_mut().arm(&self.core_waker);
        if ready()
            || has_mesh_work
            || !core.remote.is_empty()
            || self.has_local_work()
            || self.has_work_to_steal()
        {
            core.park.end_park();
            return;
        }
        let timeout = self
            .timers
            .borrow()
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        self.park_in_kernel(timeout);
    }

    /// Polls everything that can bring work for up to the idle-poll window
    /// (or until the next timer is due); true as soon as something may be
    /// there. Only a fast path: the park re-check decides for real.
    fn poll_for_work(&self, ready: &impl Fn() -> bool) -> bool {
        let start = Instant::now();
        let window = self.idle_window.get(start);
        if window.is_zero() {
            return false;
        }
        // Let the kernel start on what the last tick queued while we poll.
        if self.submit_and_reap() > 0 || self.has_local_work() {
            return true;
        }
        let mut deadline = start + window;
        let mut timer_due = false;
        if let Some(due) = self.timers.borrow().next_deadline() {
            if due <= deadline {
                deadline = due;
                timer_due = true;
            }
        }
        let remote = &self.shared.cores[self.index].remote;
        let mut spins: u32 = 0;
        // Involuntary switches when the poll became long enough to check.
        let mut switches_before = None;
        let found = loop {
            if ready()
                || !remote.is_empty()
                || self.mesh.borrow().has_incoming()
                || self.has_work_to_steal()
            {
                break true;
            }
            if self.driver.borrow_mut().has_progress() && self.submit_and_reap() > 0 {
                break true;
            }
            spins = spins.wrapping_add(1);
            // Reading the clock costs more than a look at the queues.
            if spins & 63 == 0 {
                let now = Instant::now();
                if now >= deadline {
                    // A timer that came due is work; only an empty window
                    // counts against polling.
                    break timer_due;
                }
                if switches_before.is_none() && self.idle_window.checks_preemption(now - start) {
                    switches_before = involuntary_switches();
                }
            }
            std::hint::spin_loop();
        };
        let preempted = switches_before
            .is_some_and(|before| involuntary_switches().is_some_and(|after| after > before));
        self.idle_window.polled(found, preempted, Instant::now());
        found
    }

    /// After `begin_park` and a re-check that found nothing: sleeps in the
    /// kernel until a completion, an eventfd write or `timeout`, then ends
    /// the park and wakes what completed.
    fn park_in_kernel(&self, timeout: Option<std::time::Duration>) {
        let core = &self.shared.cores[self.index];
        core.counters.parks.fetch_add(1, Ordering::Relaxed);
        let mut woken = self.woken.take();
        let parked_at = Instant::now();
        let result = self.driver.borrow_mut().park(timeout, &mut woken);
        core.park.end_park();
        let slept = parked_at.elapsed();
        self.idle_window
            .parked(slept, timeout.is_some_and(|t| slept >= t));
        self.release_finished_orphans();
        if let Err(e) = result {
            tracing::error!(core = self.index, error = %e, "the I/O driver failed to park");
        }
        woken.drain(..).for_each(wake_user);
        self.woken.replace(woken);
        core.counters
            .io_enters
            .store(self.driver.borrow().enters(), Ordering::Relaxed);
    }

    /// Releases the abandoned operations the last reap finished, outside
    /// the driver's borrow (a buffer's `Drop` may start frys I/O).
    fn release_finished_orphans(&self) {
        let finished = self.driver.borrow_mut().take_finished_orphans();
        if !finished.is_empty() {
            release_orphans(finished);
        }
    }

    /// Whether this core steals at all.
    ///
    /// Core 0 never steals: it runs only inside `block_on`, and a task it
    /// took would stop whenever `block_on` returns. Others steal from it.
    fn steals(&self) -> bool {
        self.shared.stealing && self.shared.stealers.len() >= 2 && self.index != 0
    }

    /// Part of the park re-check: another core's stealable deques (of any
    /// task queue) have tasks.
    fn has_work_to_steal(&self) -> bool {
        self.steals()
            && (0..self.shared.stealers.len())
                .any(|i| i != self.index && self.shared.stealers[i].iter().any(|s| !s.is_empty()))
    }

    /// Steals a batch of unstarted `Send` tasks from the busiest core, out
    /// of its busiest task queue's deque; they stay in that queue here.
    fn try_steal(&self) -> bool {
        let shared = &self.shared;
        if !self.steals() {
            return false;
        }
        let backlog = |i: usize| shared.stealers[i].iter().map(Stealer::len).sum::<usize>();
        let victim = (0..shared.stealers.len())
            .filter(|&i| i != self.index)
            .max_by_key(|&i| backlog(i));
        let Some(victim) = victim else { return false };
        let queue = (0..shared.stealers[victim].len())
            .max_by_key(|&q| shared.stealers[victim][q].len())
            .unwrap_or(0);
        let stealer = &shared.stealers[victim][queue];
        let worker = &self.workers[queue];
        loop {
            let before = worker.len();
            match stealer.steal_batch_and_pop(worker) {
                Steal::Success(task) => {
                    // Saturating: a third core may re-steal from this
                    // deque in between (the count then falls short).
                    let n = 1 + worker.len().saturating_sub(before) as u64;
                    shared.cores[self.index]
                        .counters
                        .steals
                        .fetch_add(n, Ordering::Relaxed);
                    shared.cores[victim]
                        .counters
                        .stolen_from
                        .fetch_add(n, Ordering::Relaxed);
                    self.push_to(queue, task, true);
                    return true;
                }
                Steal::Empty => return false,
                Steal::Retry => {}
            }
        }
    }

    /// With a backlog of stealable tasks, wake one parked core to take some.
    /// Only a hint (a Relaxed look at the park flags): this core keeps
    /// running and drains its queue itself if nobody steals.
    fn hint_work_to_parked_cores(&self, min_backlog: usize) {
        if !self.shared.stealing || self.stealable_len() < min_backlog {
            return;
        }
        if let Some(i) = self
            .stealing_cores()
            .find(|&i| self.shared.cores[i].park.is_parked())
        {
            self.shared.notify(i);
        }
    }

    /// This core stops running (core 0 leaving `block_on`) with tasks in its
    /// stealable queue: make sure a stealing core takes them. Either one
    /// parked core is woken, or every core that parks later sees the tasks
    /// in its re-check (`has_work_to_steal`); proof and loom model in
    /// `sync::park`.
    fn hand_over_stealable_work(&self) {
        if !self.shared.stealing || self.stealable_len() == 0 {
            return;
        }
        let cores = &self.shared.cores;
        let woken = notify_one(self.stealing_cores().map(|i| &cores[i].park));
        if let Some(k) = woken.and_then(|k| self.stealing_cores().nth(k)) {
            write_eventfd(&cores[k].eventfd);
        }
    }

    /// The cores that may steal from this one, starting after it.
    fn stealing_cores(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.shared.cores.len();
        (1..n)
            .map(move |step| (self.index + step) % n)
            .filter(|&i| i != 0)
    }

    /// Drops every future this core owns, on this thread, completing their
    /// `JoinHandle`s as cancelled. Repeats until no task is left (dropping a
    /// future can wake or spawn others).
    pub(crate) fn shutdown_tasks(&self) {
        loop {
            let mut tasks = self.registry.borrow_mut().drain();
            tasks.extend(self.sched.borrow_mut().drain());
            for worker in self.workers.iter() {
                while let Some(t) = worker.pop() {
                    tasks.push(t);
                }
            }
            let remote = &self.shared.cores[self.index].remote;
            loop {
                match remote.steal() {
                    Steal::Success(t) => tasks.push(t),
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
            tasks.extend(self.mesh.borrow_mut().take_spawned());
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                // One task's drop (or its waker) panicking must not stop
                // the others from being cancelled on this thread.
                if catch_unwind(AssertUnwindSafe(|| task.shutdown())).is_err() {
                    tracing::error!(core = self.index, "a task panicked while being cancelled");
                }
            }
        }
        let timers = std::mem::take(&mut *self.timers.borrow_mut());
        if catch_unwind(AssertUnwindSafe(|| drop(timers))).is_err() {
            tracing::error!(core = self.index, "a timer waker panicked when dropped");
        }
    }

    /// Queues a task on this core, in its task queue's run list.
    pub(crate) fn push_local(&self, task: TaskRef) {
        let queue = task.header().queue;
        self.push_to(queue, task, false);
    }

    fn push_to(&self, queue: usize, task: TaskRef, front: bool) {
        let woke = self
            .sched
            .borrow_mut()
            .push(&self.shared.queues, queue, task, front, |q| {
                self.workers[q].is_empty()
            });
        if woke {
            self.woke_queue.set(true);
        }
    }

    /// Queues a new `Send` task in its task queue's stealable deque.
    pub(crate) fn push_stealable(&self, task: TaskRef) {
        let queue = task.header().queue;
        let woke = self
            .sched
            .borrow_mut()
            .note_runnable(&self.shared.queues, queue, |q| self.workers[q].is_empty());
        if woke {
            self.woke_queue.set(true);
        }
        self.workers[queue].push(task);
    }

    /// The task queue plain spawns go into now.
    pub(crate) fn current_queue(&self) -> usize {
        self.current_queue.get()
    }
}

/// Adds to a counter only this core's thread writes: a plain load and
/// store, no locked read-modify-write (other threads only read it).
fn add_owned(counter: &std::sync::atomic::AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}
