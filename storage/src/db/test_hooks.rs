//! Test-only hooks into background work, and helpers of the unit tests
//! that use them (compiled in tests only).

use std::cell::Cell;
use std::path::{Path, PathBuf};

use frys_runtime as rt;

use super::notify::Notify;
use super::{wal_task, Db};

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

pub(crate) fn runtime() -> rt::Runtime {
    rt::Runtime::builder()
        .cores(rt::Cores::Count(1))
        .build()
        .expect("runtime")
}

/// A directory removed when the test ends.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("frys-storage-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Freezes the memtable and waits until its flush is installed, without
/// waiting for compactions (which `Db::flush` does).
pub(crate) async fn flush_only(db: &Db) {
    let before = db.metrics().flushes;
    db.inner.switch_requested.set(true);
    wal_task::start(&db.inner);
    while db.metrics().flushes == before {
        assert!(db.inner.poisoned.borrow().is_none(), "partition poisoned");
        db.inner.maintenance_progress.notified().await;
    }
}
