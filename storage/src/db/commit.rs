//! Group commit: every write issued during one executor tick shares one WAL
//! write and, when the policy asks, one fdatasync.
//!
//! A writer queues its batch and waits on its own slot. The first writer of
//! a tick spawns the commit task, which first yields (so that the other
//! tasks of this tick can queue their writes), then commits everything
//! queued as one group, and repeats while more arrived. The task is not tied
//! to any writer's future, so a writer that gives up waiting does not stall
//! the others.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::batch::WriteBatch;
use crate::error::Result;

/// Where a writer waits for its group's outcome.
pub(crate) struct Slot {
    outcome: RefCell<Option<Result<()>>>,
    waker: RefCell<Option<Waker>>,
}

impl Slot {
    fn new() -> Rc<Self> {
        Rc::new(Self {
            outcome: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    /// Delivers the outcome and wakes the writer.
    pub(crate) fn complete(&self, outcome: Result<()>) {
        *self.outcome.borrow_mut() = Some(outcome);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits for the outcome.
    pub(crate) async fn wait(&self) -> Result<()> {
        poll_fn(|cx| match self.outcome.borrow_mut().take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// The queue of writes waiting for the next group, and whether the WAL
/// task runs.
#[derive(Default)]
pub(crate) struct CommitQueue {
    pending: RefCell<Vec<(WriteBatch, Rc<Slot>)>>,
    task_running: Cell<bool>,
}

impl CommitQueue {
    /// Queues a batch; returns its slot and whether no WAL task runs (the
    /// caller must start one).
    pub(crate) fn push(&self, batch: WriteBatch) -> (Rc<Slot>, bool) {
        let slot = Slot::new();
        self.pending.borrow_mut().push((batch, slot.clone()));
        (slot, !self.task_running.get())
    }

    /// Marks the WAL task as running; false if it already was.
    pub(crate) fn claim_task(&self) -> bool {
        !self.task_running.replace(true)
    }

    pub(crate) fn release_task(&self) {
        self.task_running.set(false);
    }

    /// Takes everything queued (possibly nothing).
    pub(crate) fn take_all(&self) -> Vec<(WriteBatch, Rc<Slot>)> {
        std::mem::take(&mut *self.pending.borrow_mut())
    }

    pub(crate) fn task_running(&self) -> bool {
        self.task_running.get()
    }

    /// Whether writes are queued or being committed.
    pub(crate) fn busy(&self) -> bool {
        self.task_running.get() || !self.pending.borrow().is_empty()
    }
}
