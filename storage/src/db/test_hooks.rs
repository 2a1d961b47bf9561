//! Test-only hooks into background work (compiled in tests only).

use std::cell::Cell;

use super::notify::Notify;

/// A gate that merges pass before they start merging: while it is
/// closed, a merge waits (its inputs stay busy), so a test can hold a
/// compaction in progress for as long as it needs.
#[derive(Default)]
pub(crate) struct Gate {
    closed: Cell<bool>,
    waiting: Cell<usize>,
    changed: Notify,
    arrived: Notify,
}

impl Gate {
    pub(crate) fn close(&self) {
        self.closed.set(true);
    }

    pub(crate) fn open(&self) {
        self.closed.set(false);
        self.changed.notify_all();
    }

    /// Merges waiting at the gate now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.get()
    }

    /// Waits until `n` merges wait at the gate.
    pub(crate) async fn until_waiting(&self, n: usize) {
        while self.waiting.get() < n {
            self.arrived.notified().await;
        }
    }

    /// Waits while the gate is closed.
    pub(crate) async fn pass(&self) {
        if !self.closed.get() {
            return;
        }
        self.waiting.set(self.waiting.get() + 1);
        self.arrived.notify_all();
        while self.closed.get() {
            self.changed.notified().await;
        }
        self.waiting.set(self.waiting.get() - 1);
    }
}

/// The hooks of one partition.
#[derive(Default)]
pub(crate) struct TestHooks {
    pub(crate) merge_gate: Gate,
}
