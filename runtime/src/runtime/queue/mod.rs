//! Task queues with shares: how a core divides its time among kinds of
//! work, as Seastar's scheduling groups and glommio's task queues do.
//!
//! - A [`TaskQueue`] is made once per runtime ([`TaskQueue::new`]) and
//!   exists on every core; each core keeps its own run lists and its own
//!   account of it (`sched`). The runtime's table of queues (`table`) has
//!   [`MAX_QUEUES`](table::MAX_QUEUES) slots; slot 0 is the default queue
//!   ([`DEFAULT_SHARES`]).
//! - Every task belongs to one queue for its whole life, fixed when it is
//!   created: the queue it was spawned into ([`TaskQueue::spawn_local`],
//!   [`TaskQueue::spawn`]), else the queue of the task that spawned it
//!   (plain [`spawn_local`](crate::spawn_local), [`spawn`](crate::spawn),
//!   [`spawn_on`](crate::spawn_on), [`submit_to`](crate::submit_to), on
//!   whatever core they land), else the default queue (the `block_on`
//!   future, which is not a task, spawns into the default queue). A `Send`
//!   task stolen by another core stays in its queue there.
//! - Each core runs the runnable queue with the least virtual runtime
//!   (time its tasks were polled, divided by its shares); a queue that
//!   becomes runnable after having had no task gets no credit for the time
//!   it slept (its virtual runtime is raised to the least of the runnable
//!   queues'). Once picked, a queue runs until its tasks have been polled
//!   for the task quota ([`Builder::task_quota`](crate::Builder::task_quota),
//!   default 0.5 ms), it has no task left, or the tick's budget of polls
//!   ends; then the core picks again. Inside a queue tasks run in FIFO
//!   order, alternating its non-stealable and its stealable tasks.
//! - Shares divide a core only among queues that have work: a queue alone
//!   on a core gets all of it, however low its shares. Nothing preempts a
//!   poll: a poll that overruns the quota is charged to its queue in full,
//!   and one past the stall threshold is reported (`runtime::stall`).

mod sched;
mod table;

pub(crate) use sched::{poll_charge, Scheduler};
pub(crate) use table::{QueueTable, MAX_QUEUES};
pub use table::{DEFAULT_SHARES, MAX_SHARES};

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use super::context;
use super::spawn::{spawn_local_in, spawn_stealable_in};
use crate::task::JoinHandle;

/// A queue of tasks with a share of each core's time.
///
/// When several queues have tasks ready on a core, each gets time in
/// proportion to its shares: queues of shares 1 and 3 that both stay busy
/// get a quarter and three quarters of the core. A queue with nothing to
/// do takes nothing, and gets no credit for the time it slept. Tasks that
/// are spawned without a queue go where their spawner is (see
/// [`spawn_local`](crate::spawn_local)); outside any task, into the
/// default queue ([`TaskQueue::default`], [`DEFAULT_SHARES`]).
///
/// A queue belongs to one runtime and exists on all its cores; the handle
/// is cheap to clone and may be sent to other cores.
///
/// # Examples
/// Background work that must not slow the foreground down when both
/// compete for a core:
/// ```no_run
/// use frys_runtime::{Runtime, TaskQueue};
/// let rt = Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let background = TaskQueue::new("background", 10).unwrap();
///     let sweep = background.spawn_local(async { (0..1000u64).sum::<u64>() });
///     assert_eq!(sweep.await.unwrap(), 499_500);
/// });
/// ```
#[derive(Clone)]
pub struct TaskQueue {
    /// `Shared::id` of the runtime, or 0 for the default queue (which
    /// every runtime has, in slot 0).
    runtime: u64,
    index: usize,
    name: Arc<str>,
    shares: u32,
}

impl TaskQueue {
    /// Creates a queue named `name` with `shares` in the current runtime.
    ///
    /// Names are unique in a runtime: a name already taken gives
    /// [`TaskQueueError::Exists`] with that queue, so libraries can share
    /// one queue by name. A runtime holds at most 16 queues, the default
    /// one included.
    ///
    /// # Errors
    /// [`TaskQueueError::Shares`] unless `1 <= shares <= MAX_SHARES`;
    /// [`TaskQueueError::Exists`]; [`TaskQueueError::Full`].
    ///
    /// # Panics
    /// Panics outside a frys core.
    ///
    /// # Examples
    /// ```no_run
    /// use frys_runtime::{Runtime, TaskQueue, TaskQueueError};
    /// let rt = Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let q = TaskQueue::new("compaction", 10).unwrap();
    ///     assert_eq!((q.name(), q.shares()), ("compaction", 10));
    ///     let again = match TaskQueue::new("compaction", 10) {
    ///         Err(TaskQueueError::Exists(existing)) => existing,
    ///         other => panic!("{other:?}"),
    ///     };
    ///     assert_eq!(again.shares(), 10);
    /// });
    /// ```
    pub fn new(name: &str, shares: u32) -> Result<TaskQueue, TaskQueueError> {
        if !(1..=MAX_SHARES).contains(&shares) {
            return Err(TaskQueueError::Shares(shares));
        }
        context::with_current(|ctx| {
            let runtime = ctx.shared.id;
            let handle = |index: usize| {
                let spec = ctx.shared.queues.get(index).expect("created slot");
                TaskQueue {
                    runtime,
                    index,
                    name: spec.name.clone(),
                    shares: spec.shares,
                }
            };
            match ctx.shared.queues.create(name, shares) {
                Ok(index) => Ok(handle(index)),
                Err(table::CreateError::Exists(index)) => {
                    Err(TaskQueueError::Exists(handle(index)))
                }
                Err(table::CreateError::Full) => Err(TaskQueueError::Full),
            }
        })
        .expect("frys::TaskQueue::new called outside a frys core")
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue's shares.
    pub fn shares(&self) -> u32 {
        self.shares
    }

    /// Spawns a `!Send` task into this queue on the current core, as
    /// [`spawn_local`](crate::spawn_local) does. Tasks it spawns go into
    /// this queue too, unless told otherwise.
    ///
    /// # Panics
    /// Panics outside a frys core, or on a core of another runtime than
    /// the queue's.
    ///
    /// # Examples
    /// ```no_run
    /// use frys_runtime::{Runtime, TaskQueue};
    /// let rt = Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let low = TaskQueue::new("low", 1).unwrap();
    ///     let shared = std::rc::Rc::new(20);
    ///     let s = shared.clone();
    ///     assert_eq!(low.spawn_local(async move { *s + 1 }).await.unwrap(), 21);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let at = Location::caller();
        context::with_current(|ctx| {
            self.check_runtime(ctx.shared.id);
            spawn_local_in(ctx, self.index, at, future)
        })
        .expect("frys::TaskQueue::spawn_local called outside a frys core")
    }

    /// Spawns a `Send` task into this queue on the current core's
    /// stealable queue, as [`spawn`](crate::spawn) does; a core that steals
    /// it runs it in this queue too.
    ///
    /// # Panics
    /// Panics outside a frys core, or on a core of another runtime than
    /// the queue's.
    ///
    /// # Examples
    /// ```no_run
    /// use frys_runtime::{Runtime, TaskQueue};
    /// let rt = Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let batch = TaskQueue::new("batch", 50).unwrap();
    ///     assert_eq!(batch.spawn(async { 6 * 7 }).await.unwrap(), 42);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let at = Location::caller();
        context::with_current(|ctx| {
            self.check_runtime(ctx.shared.id);
            spawn_stealable_in(ctx, self.index, at, future)
        })
        .expect("frys::TaskQueue::spawn called outside a frys core")
    }

    #[track_caller]
    fn check_runtime(&self, current: u64) {
        assert!(
            self.runtime == 0 || self.runtime == current,
            "task queue `{}` belongs to another frys runtime",
            self.name
        );
    }
}

impl Default for TaskQueue {
    /// The default queue ([`DEFAULT_SHARES`]), where tasks spawned outside
    /// any task go; it is the same queue in every runtime.
    ///
    /// # Examples
    /// ```no_run
    /// use frys_runtime::{Runtime, TaskQueue};
    /// let rt = Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let q = TaskQueue::default();
    ///     assert_eq!(q.name(), "default");
    ///     assert_eq!(q.spawn_local(async { 1 }).await.unwrap(), 1);
    /// });
    /// ```
    fn default() -> Self {
        Self {
            runtime: 0,
            index: 0,
            name: Arc::from(table::DEFAULT_NAME),
            shares: DEFAULT_SHARES,
        }
    }
}

impl fmt::Debug for TaskQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskQueue")
            .field("name", &self.name)
            .field("shares", &self.shares)
            .finish()
    }
}

/// Why [`TaskQueue::new`] made no queue.
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskQueueError {
    /// A queue of that name exists in this runtime: here it is.
    Exists(TaskQueue),
    /// The runtime has 16 queues already.
    Full,
    /// Shares must be between 1 and [`MAX_SHARES`].
    Shares(u32),
}

impl fmt::Display for TaskQueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exists(q) => write!(f, "a task queue named `{}` exists", q.name),
            Self::Full => write!(f, "the runtime has {MAX_QUEUES} task queues already"),
            Self::Shares(s) => write!(f, "task queue shares must be 1..={MAX_SHARES}, not {s}"),
        }
    }
}

impl std::error::Error for TaskQueueError {}

#[cfg(all(test, not(loom)))]
mod tests;
