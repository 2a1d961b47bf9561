//! Tasks: the heap cell a spawned future lives in, its waker and its
//! `JoinHandle`. Scheduling policy (which queue, which core) lives in
//! `runtime`; this module only guarantees that a task is queued at most once
//! and polled only on its owning core.

mod cell;
mod join;
mod state;

pub(crate) use cell::{owner_of, Cell, TaskRef, NO_SLOT};
pub use join::{JoinError, JoinHandle};
