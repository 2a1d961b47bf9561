//! The atomic state word of a task.
//!
//! Bits and who may change them:
//! - `SCHEDULED`: the task is in exactly one run queue (local, stealable or a
//!   core's remote queue). Set by whoever enqueues it (a waker, `spawn`,
//!   `abort`); cleared by the owning core just before it polls the task. A
//!   waker that finds it already set does nothing, so a task is never queued
//!   twice.
//! - `COMPLETE`: the output (or the error) is stored; set once, by the owning
//!   core, with `Release`, after writing the output. The `JoinHandle` reads
//!   the output only after seeing it with `Acquire`.
//! - `CANCELLED`: `abort()` was called; the owning core drops the future the
//!   next time it picks the task up.
//! - `DETACHED`: the `JoinHandle` was dropped; the output is dropped as soon
//!   as it is produced, on the owning core.

use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) const SCHEDULED: usize = 1;
pub(crate) const COMPLETE: usize = 1 << 1;
pub(crate) const CANCELLED: usize = 1 << 2;
pub(crate) const DETACHED: usize = 1 << 3;

pub(crate) struct State(AtomicUsize);

impl State {
    /// A new task is born scheduled: it is about to be queued.
    pub(crate) fn new_scheduled() -> Self {
        Self(AtomicUsize::new(SCHEDULED))
    }

    /// Sets `SCHEDULED`; true if the caller must enqueue the task (it was
    /// neither queued nor complete).
    pub(crate) fn transition_to_scheduled(&self) -> bool {
        let prev = self.0.fetch_or(SCHEDULED, Ordering::AcqRel);
        prev & (SCHEDULED | COMPLETE) == 0
    }

    /// Clears `SCHEDULED` before a poll, so wakes during the poll requeue.
    pub(crate) fn start_poll(&self) -> usize {
        self.0.fetch_and(!SCHEDULED, Ordering::AcqRel) & !SCHEDULED
    }

    pub(crate) fn set_complete(&self) -> usize {
        self.0.fetch_or(COMPLETE, Ordering::AcqRel)
    }

    pub(crate) fn set_cancelled(&self) -> usize {
        self.0.fetch_or(CANCELLED, Ordering::AcqRel)
    }

    pub(crate) fn set_detached(&self) -> usize {
        self.0.fetch_or(DETACHED, Ordering::AcqRel)
    }

    pub(crate) fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}
