//! Tasks: the heap cell a spawned future lives in, its waker and its
//! `JoinHandle`. Scheduling policy (which queue, which core) lives in
//! `runtime`; this module only guarantees that a task is queued at most once
//! and polled only on its owning core.

mod cell;
mod join;
mod state;

pub(crate) use cell::{owner_of, Cell, TaskRef, NO_SLOT};

pub use join::{JoinError, JoinHandle};

/// Wakes a waker that may be user code (a `JoinHandle`, timer or I/O waker
/// registered by any future). A panic in it is logged and contained: it
/// must not take down the core that happens to deliver the wake-up.
pub(crate) fn wake_user(waker: std::task::Waker) {
    let woke = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
    if woke.is_err() {
        tracing::error!("a waker panicked; the panic is ignored");
    }
}
