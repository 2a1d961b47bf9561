//! Spawning tasks and routing their wake-ups.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::context;
use super::core::CoreCtx;
use super::mesh::MeshMsg;
use super::shared::Shared;
use crate::task::{owner_of, wake_user, Cell, JoinHandle, TaskRef, NO_SLOT};

/// Spawns a `!Send` task on the current core; it never leaves this core.
///
/// The task goes into the [`TaskQueue`](crate::TaskQueue) of the task
/// calling `spawn_local` (the default queue outside any task); use
/// [`TaskQueue::spawn_local`](crate::TaskQueue::spawn_local) to choose.
/// The caller's location is recorded for the stall detector's reports.
///
/// # Panics
/// Panics outside a frys core.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let shared = std::rc::Rc::new(5);
/// let s = shared.clone();
/// let h = frys_runtime::spawn_local(async move { *s + 1 });
/// assert_eq!(h.await.unwrap(), 6);
/// # });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let at = Location::caller();
    context::with_current(|ctx| spawn_local_in(ctx, ctx.current_queue(), at, future))
        .expect("frys::spawn_local called outside a frys core")
}

/// `spawn_local` into queue `queue`, recording `at` as the spawn site.
pub(crate) fn spawn_local_in<F>(
    ctx: &CoreCtx,
    queue: usize,
    at: &'static Location<'static>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let cell = Cell::new(future, ctx.index, NO_SLOT, ctx.shared.clone(), queue, at);
    ctx.push_local(cell.clone());
    JoinHandle::new(cell)
}

/// Spawns a `Send` task on the current core's stealable queue: an idle core
/// may take it before it starts (if stealing is on). Once started, it stays
/// where it runs.
///
/// The task goes into the [`TaskQueue`](crate::TaskQueue) of the task
/// calling `spawn` (the default queue outside any task), on whichever core
/// runs it; use [`TaskQueue::spawn`](crate::TaskQueue::spawn) to choose.
///
/// A task spawned inside `Runtime::block_on` and not started when it returns
/// still starts without another `block_on`: another core steals it, or, with
/// one core or stealing off, `block_on` runs it before returning.
///
/// # Panics
/// Panics outside a frys core.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let handle = frys_runtime::spawn(async { (1..=10).sum::<u32>() });
/// assert_eq!(handle.await.unwrap(), 55);
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let at = Location::caller();
    context::with_current(|ctx| spawn_stealable_in(ctx, ctx.current_queue(), at, future))
        .expect("frys::spawn called outside a frys core")
}

/// `spawn` into queue `queue`, recording `at` as the spawn site.
pub(crate) fn spawn_stealable_in<F>(
    ctx: &CoreCtx,
    queue: usize,
    at: &'static Location<'static>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cell = Cell::new(future, ctx.index, NO_SLOT, ctx.shared.clone(), queue, at);
    // The `Send` queue; other cores steal from it only if stealing is on.
    ctx.push_stealable(cell.clone());
    JoinHandle::new(cell)
}

/// Creates a task on core `core`: `make` runs there and the future it
/// returns (which need not be `Send`) stays there. The task travels over
/// the mesh. The `JoinHandle` may be awaited anywhere. On `core` the task
/// runs in the [`TaskQueue`](crate::TaskQueue) of the task that called
/// `spawn_on` (the default queue outside any task).
///
/// # Panics
/// Panics outside a frys core, or if `core` is not a core of this runtime.
///
/// # Examples
/// The closure runs on core 1 and may build a `!Send` future there.
/// ```no_run
/// use std::rc::Rc;
/// use frys_runtime::{Cores, Runtime};
/// let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
/// rt.block_on(async {
///     let handle = frys_runtime::spawn_on(1, || async {
///         let local = Rc::new(frys_runtime::current_core());
///         *local
///     });
///     assert_eq!(handle.await.unwrap(), Some(1));
/// });
/// ```
#[track_caller]
pub fn spawn_on<C, Fut>(core: usize, make: C) -> JoinHandle<Fut::Output>
where
    C: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    spawn_over_mesh(core, make, false, Location::caller())
}

/// [`spawn_on`] recording `at` as the spawn site (for a caller that is
/// itself `#[track_caller]`, as `Runtime::run_on_all`).
pub(crate) fn spawn_on_at<C, Fut>(
    core: usize,
    make: C,
    at: &'static Location<'static>,
) -> JoinHandle<Fut::Output>
where
    C: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    spawn_over_mesh(core, make, false, at)
}

/// Runs `f` on core `core` and returns its result: the closure travels over
/// the mesh, runs on `core`, and its completion is announced back over the
/// mesh to the calling core. On `core`, `f` runs in the
/// [`TaskQueue`](crate::TaskQueue) of the calling task.
///
/// Backpressure: the closure is sent at once unless
/// [`SUBMIT_BACKLOG`](super::mesh::SUBMIT_BACKLOG) (1024) messages for
/// `core` already wait behind its full ring; then the future waits for room
/// before sending, so a caller cannot queue without bound for a core that
/// does not keep up. (A future that waits for room must be polled on the
/// core that called `submit_to`.)
///
/// The returned future is `!Send`: it is meant to be awaited on the core that
/// called `submit_to`, which is where the completion is sent. Awaited
/// anywhere else on that thread (another runtime's `block_on`, a plain
/// executor), it is woken directly instead.
///
/// # Examples
/// ```no_run
/// use frys_runtime::{Cores, Runtime};
/// let rt = Runtime::builder().cores(Cores::Count(2)).build().unwrap();
/// rt.block_on(async {
///     let on = frys_runtime::submit_to(1, || frys_runtime::current_core()).await;
///     assert_eq!(on, Some(1));
/// });
/// ```
///
/// # Cancel safety
/// Dropping the future while `f` has not started on `core` cancels `f` (it
/// never runs); once `f` has started it runs to completion and its result
/// is dropped.
///
/// # Panics
/// Panics outside a frys core or for a core that does not exist; if a
/// future waiting for room is polled on another core or thread; a panic in
/// `f` is resumed in the awaiting task.
#[track_caller]
pub fn submit_to<F, R>(core: usize, f: F) -> impl Future<Output = R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let at = Location::caller();
    let on_this_core = PhantomData::<*const ()>;
    let make = move || std::future::ready(f());
    let (origin, room) = context::with_current(|ctx| {
        let cores = ctx.shared.cores.len();
        assert!(
            core < cores,
            "core {core} does not exist: the runtime has {cores} cores"
        );
        let room = ctx.mesh.borrow().has_submit_room(core);
        ((Arc::as_ptr(&ctx.shared) as usize, ctx.index), room)
    })
    .expect("frys::submit_to called outside a frys core");
    let (mut sent, mut unsent) = if room {
        (
            Some(AbortOnDrop(Some(spawn_over_mesh(core, make, true, at)))),
            None,
        )
    } else {
        (None, Some(make))
    };
    async move {
        let _pinned_here = on_this_core;
        if let Some(make) = unsent.take() {
            std::future::poll_fn(|cx| {
                let room = context::with_current(|ctx| {
                    assert!(
                        (Arc::as_ptr(&ctx.shared) as usize, ctx.index) == origin,
                        "a submit_to future waiting for room was polled off the core that made it"
                    );
                    ctx.mesh.borrow_mut().poll_submit_room(core, cx.waker())
                })
                .expect("a submit_to future waiting for room was polled off its core");
                if room {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            sent = Some(AbortOnDrop(Some(spawn_over_mesh(core, make, true, at))));
        }
        let handle = sent.take().expect("sent above");
        match handle.await {
            Ok(r) => r,
            Err(e) => match e.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => panic!("submit_to: core {core} dropped the closure: {e}"),
            },
        }
    }
}

/// A `JoinHandle` that aborts its task if dropped before it completes.
struct AbortOnDrop<T>(Option<JoinHandle<T>>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, crate::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let handle = self.0.as_mut().expect("polled after completion");
        let out = Pin::new(handle).poll(cx);
        if out.is_ready() {
            self.0 = None;
        }
        out
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

fn spawn_over_mesh<C, Fut>(
    core: usize,
    make: C,
    reply_over_mesh: bool,
    at: &'static Location<'static>,
) -> JoinHandle<Fut::Output>
where
    C: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    context::with_current(|ctx| {
        let cores = ctx.shared.cores.len();
        assert!(
            core < cores,
            "core {core} does not exist: the runtime has {cores} cores"
        );
        let reply_to = if reply_over_mesh { ctx.index } else { NO_SLOT };
        let cell = Cell::new(
            Lazy::Make(Some(make)),
            core,
            reply_to,
            ctx.shared.clone(),
            ctx.current_queue(),
            at,
        );
        let handle = JoinHandle::new(cell.clone());
        if core == ctx.index {
            ctx.push_local(cell);
        } else {
            ctx.mesh.borrow_mut().send(core, MeshMsg::spawn(cell));
        }
        handle
    })
    .expect("frys::spawn_on / submit_to called outside a frys core")
}

/// Index of the core running the caller, or `None` outside a frys core.
pub fn current_core() -> Option<usize> {
    context::with_current(|ctx| ctx.index)
}

/// Lets the other tasks of this core run before continuing.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// Queues a woken task: locally when this thread is its core, otherwise on
/// its core's remote queue (writing the core's eventfd if it is parked).
pub(crate) fn schedule(task: TaskRef) {
    let owner = owner_of(&task);
    let mut task = Some(task);
    context::with_current(|ctx| {
        let on_owner = task
            .as_ref()
            .is_some_and(|t| ctx.index == owner && Arc::ptr_eq(&ctx.shared, &t.header().shared));
        if on_owner {
            if let Some(t) = task.take() {
                ctx.push_local(t);
            }
        }
    });
    if let Some(task) = task {
        let shared = task.header().shared.clone();
        shared.schedule_remote(owner, task);
    }
}

/// Wakes the `JoinHandle` of a finished task; for `submit_to` awaited on the
/// submitting core, the wake travels back over the mesh to that core.
/// Anywhere else (no frys core, another runtime, the reply core itself) the
/// waker is woken directly. A panicking waker is contained.
pub(crate) fn deliver_join_wake(task_runtime: &Arc<Shared>, reply_to: usize, waker: Waker) {
    let mut waker = Some(waker);
    if reply_to != NO_SLOT {
        context::with_current(|ctx| {
            if ctx.index == reply_to || !Arc::ptr_eq(&ctx.shared, task_runtime) {
                return;
            }
            if let Ok(mut mesh) = ctx.mesh.try_borrow_mut() {
                if let Some(w) = waker.take() {
                    mesh.send(reply_to, MeshMsg::wake(w));
                }
            }
        });
    }
    if let Some(w) = waker {
        wake_user(w);
    }
}

/// Whether this thread is running core `index` of the runtime `shared`.
pub(crate) fn on_core(shared: &Arc<Shared>, index: usize) -> bool {
    context::with_current(|ctx| ctx.index == index && Arc::ptr_eq(&ctx.shared, shared))
        .unwrap_or(false)
}

/// A future made on the core that runs it (`spawn_on`).
enum Lazy<C, Fut> {
    Make(Option<C>),
    Running(Fut),
}

impl<C, Fut> Future for Lazy<C, Fut>
where
    C: FnOnce() -> Fut,
    Fut: Future,
{
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        // SAFETY: we never move `Fut` out of the pinned `self`: it is
        // created in place (replacing the `Make` state, which holds no
        // pinned data) and then only polled through a pinned reference.
        let this = unsafe { self.get_unchecked_mut() };
        if let Lazy::Make(make) = this {
            let Some(make) = make.take() else {
                return Poll::Pending;
            };
            *this = Lazy::Running(make());
        }
        match this {
            // SAFETY: `fut` lives in the pinned `self` and is never moved.
            Lazy::Running(fut) => unsafe { Pin::new_unchecked(fut) }.poll(cx),
            Lazy::Make(_) => Poll::Pending,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
