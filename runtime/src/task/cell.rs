//! The heap cell of one task: header, future, output.
//!
//! Invariant (the reason `Cell<F>` may be `Send + Sync` when `F` is not):
//! the `stage` is touched only
//! - by the thread of the owning core (`header.owner`), to poll or drop the
//!   future and to store the output, while `COMPLETE` is clear; a task whose
//!   future is not `Send` is never given another owner (only `spawn`, which
//!   requires `Send`, makes stealable tasks, and a task is stolen only before
//!   its first poll);
//! - by the `JoinHandle`, to take the output, after it saw `COMPLETE` with
//!   `Acquire`. A `JoinHandle<T>` is `Send` only if `T` is.
//!
//! Other threads hold `Arc`s of the cell only to wake it, which touches the
//! atomic state and the owner's remote queue, never the stage. One
//! exception: a task made by `spawn_on` / `submit_to` that never started
//! (its stage holds only the `Send` closure that would make the future) may
//! be cancelled by whichever thread drops the mesh message carrying it
//! (`runtime::mesh::MeshMsg`); that thread holds its only queue entry. The future is
//! always dropped on the owner: at completion, on abort, or when the owner
//! shuts down (every started task is in the owner's registry, every unstarted
//! one in one of its queues).

use std::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::join::JoinError;
use super::state::{State, CANCELLED, COMPLETE, DETACHED};
use crate::runtime::shared::Shared;
use crate::sync::AtomicWaker;

/// A type-erased, reference-counted task.
pub(crate) type TaskRef = Arc<dyn RawTask>;

/// What the scheduler needs of a task.
pub(crate) trait RawTask: Send + Sync + 'static {
    fn header(&self) -> &Header;
    /// Polls the task once (or drops its future if it was aborted).
    /// Returns true when the task has completed. Owner thread only.
    ///
    /// # Safety
    /// `this` must be `Arc::as_ptr` of a live `Arc` holding `self` (the
    /// task's waker is built from it, with the `Arc`'s provenance).
    unsafe fn run(&self, this: *const ()) -> bool;
    /// Drops the future without polling it and completes the task as
    /// cancelled (runtime shutdown). Owner thread only.
    fn shutdown(&self);
}

/// What a `JoinHandle<T>` needs of a task.
pub(crate) trait JoinTarget<T>: Send + Sync {
    fn header(&self) -> &Header;
    /// Takes the output; `None` if already taken.
    ///
    /// # Safety
    /// `COMPLETE` must have been observed with `Acquire`, and the caller must
    /// be the only one taking the output.
    unsafe fn take_output(&self) -> Option<Result<T, JoinError>>;
    fn abort(self: Arc<Self>);
}

pub(crate) struct Header {
    pub(crate) state: State,
    /// Index of the core that polls this task.
    pub(crate) owner: AtomicUsize,
    /// Slot in the owner's registry of started tasks; owner thread only.
    pub(crate) registry_slot: AtomicUsize,
    /// The core to send the completion wake to over the mesh (`submit_to`
    /// from another core), or `NO_SLOT`. Set to `NO_SLOT` by a `JoinHandle`
    /// polled anywhere but on that core (another runtime, a plain thread),
    /// before it registers its waker; read after taking the waker.
    pub(crate) reply_to: AtomicUsize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) join_waker: AtomicWaker,
    /// The task queue (a slot of `Shared::queues`) the task runs in, on
    /// whichever core runs it; fixed at creation.
    pub(crate) queue: usize,
    /// Where the task was spawned (`#[track_caller]`), for stall reports.
    pub(crate) spawned_at: &'static Location<'static>,
}

/// Not in the registry.
pub(crate) const NO_SLOT: usize = usize::MAX;

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

pub(crate) struct Cell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

// SAFETY: see the module invariant: the stage is only accessed by the owner
// thread, or by the JoinHandle after an Acquire of COMPLETE; everything else
// in the cell is atomic or `Sync`.
unsafe impl<F: Future> Send for Cell<F> {}
// SAFETY: as above; shared references from other threads only reach atomics.
unsafe impl<F: Future> Sync for Cell<F> {}

impl<F: Future + 'static> Cell<F> {
    pub(crate) fn new(
        future: F,
        owner: usize,
        reply_to: usize,
        shared: Arc<Shared>,
        queue: usize,
        spawned_at: &'static Location<'static>,
    ) -> Arc<Self> {
        Arc::new(Self {
            header: Header {
                state: State::new_scheduled(),
                owner: AtomicUsize::new(owner),
                registry_slot: AtomicUsize::new(NO_SLOT),
                reply_to: AtomicUsize::new(reply_to),
                shared,
                join_waker: AtomicWaker::new(),
                queue,
                spawned_at,
            },
            stage: UnsafeCell::new(Stage::Running(future)),
        })
    }

    const WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(
        Self::waker_clone,
        Self::waker_wake,
        Self::waker_wake_by_ref,
        Self::waker_drop,
    );

    unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
        // SAFETY: `ptr` came from `Arc::as_ptr`/`into_raw` of a live
        // `Arc<Self>` (the waker holds one count or borrows a live one).
        unsafe { Arc::increment_strong_count(ptr as *const Self) };
        RawWaker::new(ptr, &Self::WAKER_VTABLE)
    }

    unsafe fn waker_wake(ptr: *const ()) {
        // SAFETY: an owned waker holds one strong count, which we take over.
        let task = unsafe { Arc::from_raw(ptr as *const Self) };
        if task.header.state.transition_to_scheduled() {
            crate::runtime::schedule(task);
        }
    }

    unsafe fn waker_wake_by_ref(ptr: *const ()) {
        // SAFETY: the waker keeps the count alive for this call; ManuallyDrop
        // keeps us from releasing a count we do not own.
        let task = ManuallyDrop::new(unsafe { Arc::from_raw(ptr as *const Self) });
        if task.header.state.transition_to_scheduled() {
            let task: Arc<Self> = Arc::clone(&task);
            crate::runtime::schedule(task);
        }
    }

    unsafe fn waker_drop(ptr: *const ()) {
        // SAFETY: an owned waker holds one strong count, released here.
        drop(unsafe { Arc::from_raw(ptr as *const Self) });
    }

    /// A waker borrowing the count of the `Arc` that `this` points into,
    /// for the duration of a poll.
    fn borrowed_waker(this: *const ()) -> ManuallyDrop<Waker> {
        let raw = RawWaker::new(this, &Self::WAKER_VTABLE);
        // SAFETY: the vtable upholds the RawWaker contract (clone adds a
        // count, wake/drop release one); ManuallyDrop means this borrowed
        // waker never releases the count it does not own, and `self` outlives
        // the poll that uses it.
        ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
    }

    /// Drops whatever the stage holds, even if that drop panics.
    ///
    /// # Safety
    /// Owner thread only, and `COMPLETE` not yet published (or `DETACHED` so
    /// no handle will look).
    unsafe fn clear_stage(&self) -> std::thread::Result<()> {
        let stage = self.stage.get();
        // SAFETY: exclusive access per the caller's contract; the future is
        // dropped in place (pinning is respected) and the slot is re-written
        // whatever the drop did, so nothing is dropped twice.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(stage) }));
        unsafe { ptr::write(stage, Stage::Consumed) };
        dropped
    }

    /// Stores the result and publishes `COMPLETE`.
    fn complete(&self, result: Result<F::Output, JoinError>) {
        // SAFETY: owner thread, COMPLETE not yet set (the caller just ran or
        // dropped the future).
        let dropped = unsafe { self.clear_stage() };
        let result = match dropped {
            Ok(()) => result,
            Err(payload) => Err(JoinError::panic(payload)),
        };
        // SAFETY: as above; the stage is Consumed and ours to write.
        unsafe { *self.stage.get() = Stage::Finished(result) };
        let prev = self.header.state.set_complete();
        if prev & DETACHED != 0 {
            // No handle will take it; drop it here, on the owner.
            // SAFETY: DETACHED means no JoinHandle exists any more.
            let _ = unsafe { self.clear_stage() };
        } else if let Some(waker) = self.header.join_waker.take() {
            let reply_to = self.header.reply_to.load(Ordering::Acquire);
            crate::runtime::deliver_join_wake(&self.header.shared, reply_to, waker);
        }
    }
}

impl<F: Future + 'static> RawTask for Cell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    unsafe fn run(&self, this: *const ()) -> bool {
        let state = self.header.state.start_poll();
        if state & COMPLETE != 0 {
            return true;
        }
        if state & CANCELLED != 0 {
            self.complete(Err(JoinError::cancelled()));
            return true;
        }
        let waker = Self::borrowed_waker(this);
        let mut cx = Context::from_waker(&waker);
        // SAFETY: owner thread and not COMPLETE (checked above): we have
        // exclusive access to the stage.
        let stage = unsafe { &mut *self.stage.get() };
        let Stage::Running(future) = stage else {
            return true;
        };
        // SAFETY: the future lives inside the Arc'd cell and is never moved
        // until dropped in place by `clear_stage`.
        let future = unsafe { Pin::new_unchecked(future) };
        let polled = catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx)));
        match polled {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(out)) => {
                self.complete(Ok(out));
                true
            }
            Err(payload) => {
                self.complete(Err(JoinError::panic(payload)));
                true
            }
        }
    }

    fn shutdown(&self) {
        if self.header.state.load() & COMPLETE == 0 {
            self.complete(Err(JoinError::cancelled()));
        }
    }
}

impl<F: Future + 'static> JoinTarget<F::Output> for Cell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    unsafe fn take_output(&self) -> Option<Result<F::Output, JoinError>> {
        // SAFETY: per the trait contract the owner no longer touches the
        // stage and we are the only taker.
        let stage = unsafe { &mut *self.stage.get() };
        match std::mem::replace(stage, Stage::Consumed) {
            Stage::Finished(out) => Some(out),
            other => {
                *stage = other;
                None
            }
        }
    }

    fn abort(self: Arc<Self>) {
        let prev = self.header.state.set_cancelled();
        if prev & COMPLETE == 0 && self.header.state.transition_to_scheduled() {
            crate::runtime::schedule(self);
        }
    }
}

/// Reads the owner with the ordering wakers need.
pub(crate) fn owner_of(task: &TaskRef) -> usize {
    task.header().owner.load(Ordering::Acquire)
}
