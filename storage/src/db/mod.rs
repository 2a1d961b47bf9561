//! `Db`: one LSM partition, owned by one core.
//!
//! Shape (all on the owning core, no locks):
//! - writers queue batches; the **WAL task** commits each tick's batches as
//!   one group (one write, one fdatasync under `Always`), applies them to
//!   the memtable, syncs once a second under `EverySec`, and switches to a
//!   new memtable and WAL segment when the memtable is full (with no room
//!   for the segment's file, the memtable keeps the old segment up to
//!   twice its size, then writes get `DiskFull`: `db::wal_task`);
//! - the **flush task** writes frozen memtables to L0 tables, and
//!   **compaction tasks** (several at once, on disjoint inputs) carry out
//!   the choices of the pure policy in `compaction` (`db::maintenance`);
//!   the merge work itself runs as a stealable `Send` task
//!   (`db::compact`), after the compaction filter's dependencies are
//!   resolved (`db::filter`). Flushes never wait for compactions;
//!   manifest edits are serialized (`db::install`);
//! - readers look at the memtable, the frozen memtables, then the tables
//!   of the current [`Version`](version::Version).
//!
//! Invariants: only the WAL task touches the WAL writer and the memtable
//! contents; only `install::log_and_install`, under the edit lock, touches
//! the manifest writer; every
//! `RefCell` borrow ends before an `.await`, except the frozen memtable a
//! flush iterates (nothing writes a frozen memtable).
//!
//! Ownership of the directory: `open` takes the directory's [`DirLock`]
//! before it reads or removes anything, and `Inner` holds it (as its last
//! field, so it is released after the files are closed). Every task that
//! touches the directory holds an `Rc<Inner>` (the everysec timer holds a
//! `Weak` and touches nothing), so the lock outlives all of them. `close`
//! releases it early, once no task runs and none can start. When the last
//! `Db` handle is dropped without `close`, `abandoned` is set: queued writes
//! are still committed, but maintenance stops after its current step and
//! the timer stops, so the lock goes away soon after.

mod checkpoint;
mod commit;
mod compact;
#[cfg(test)]
mod concurrency_tests;
mod filter;
mod flush;
mod install;
mod log;
mod maintenance;
mod merge_run;
mod metrics;
mod notify;
mod open;
mod read;
mod scan;
mod stream;
#[cfg(test)]
mod stream_tests;
mod subcompact;
#[cfg(test)]
mod test_hooks;
mod version;
mod wal_task;

pub use checkpoint::{Checkpoint, CheckpointStats};
pub use metrics::Metrics;
pub use scan::Scan;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::key::SeqNo;
use crate::lock::DirLock;
use crate::manifest::ManifestState;
use crate::memtable::Memtable;
use crate::options::Options;
use crate::sstable::BlockCache;
use crate::table::Table;

use commit::CommitQueue;
use log::LogWriter;
use metrics::Counters;
use notify::Notify;
use version::Version;

/// One LSM partition. Cheap to clone (handles share the partition); `!Send`:
/// it lives on the core that opened it.
#[derive(Clone)]
pub struct Db {
    inner: Rc<Inner>,
    /// Shared by the clones of this `Db` (not by snapshots, scans or
    /// tasks): dropping the last one abandons the partition.
    _owner: Rc<Owner>,
}

/// Marks the partition abandoned when the last `Db` handle goes.
struct Owner(Rc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.abandoned.set(true);
        // Wake anything waiting on progress so it sees the flag.
        self.0.maintenance_progress.notify_all();
    }
}

/// A memtable that no longer takes writes, waiting to be flushed.
pub(crate) struct Frozen {
    pub(crate) mem: Rc<RefCell<Memtable>>,
    /// WAL segments holding its writes.
    pub(crate) wals: Vec<u64>,
}

pub(crate) struct State {
    pub(crate) mem: Rc<RefCell<Memtable>>,
    pub(crate) mem_wals: Vec<u64>,
    /// Oldest first.
    pub(crate) frozen: Vec<Frozen>,
    pub(crate) version: Rc<Version>,
    pub(crate) tables: HashMap<u64, Rc<Table>>,
    pub(crate) manifest: ManifestState,
    /// Last sequence number applied (visible to new reads).
    pub(crate) last_seqno: SeqNo,
    /// Next file number (WAL segments, tables, manifests share it).
    pub(crate) next_file: u64,
}

impl State {
    pub(crate) fn allocate_file(&mut self) -> u64 {
        let n = self.next_file;
        self.next_file += 1;
        n
    }
}

pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    /// Every file operation goes through it (`file_system`).
    pub(crate) fs: crate::file_system::FileSystem,
    pub(crate) opts: Options,
    pub(crate) state: RefCell<State>,
    pub(crate) wal: RefCell<Option<LogWriter>>,
    pub(crate) manifest_log: RefCell<Option<LogWriter>>,
    pub(crate) commit: CommitQueue,
    pub(crate) sync_due: Cell<bool>,
    /// A memtable switch was asked for (`flush`, the core's budget): the
    /// WAL task makes one attempt for it, then clears it.
    pub(crate) switch_requested: Cell<bool>,
    /// The last memtable switch found no room for a new WAL segment's file
    /// (`wal_task`): the memtable keeps writing its old segment, up to the
    /// bound, and the switch is retried at the next write or request.
    /// Cleared by the switch that succeeds.
    pub(crate) switch_no_room: RefCell<Option<Error>>,
    /// The flush task runs (`maintenance`).
    pub(crate) flush_running: Cell<bool>,
    /// Automatic compaction tasks running.
    pub(crate) compactions_running: Cell<usize>,
    /// Tables that running compactions read (the policy's busy set).
    pub(crate) busy_tables: RefCell<HashSet<u64>>,
    /// A manual compaction was asked for and has not started.
    pub(crate) manual_requested: Cell<bool>,
    /// The manual compaction runs.
    pub(crate) manual_running: Cell<bool>,
    /// Serializes manifest edits (`install`).
    pub(crate) edit_lock: install::EditLock,
    /// How hard writers are throttled (recomputed on table-set changes).
    pub(crate) pressure: Cell<crate::compaction::Pressure>,
    /// Notified after every flush or compaction (and when maintenance stops).
    pub(crate) maintenance_progress: Notify,
    /// The partition's own block cache, or its core's (`Options::budget`).
    pub(crate) cache: Rc<RefCell<BlockCache>>,
    /// Live snapshots: seqno → how many.
    pub(crate) snapshots: RefCell<BTreeMap<SeqNo, usize>>,
    pub(crate) poisoned: RefCell<Option<String>>,
    /// The failure of the background step that poisoned the partition,
    /// handed to `flush`/`compact_range`/`close` callers as it is.
    pub(crate) background_error: RefCell<Option<Error>>,
    /// A flush or compaction failed for want of space and waits to be
    /// retried (`maintenance`); cleared by the next step that succeeds.
    pub(crate) out_of_space: RefCell<Option<Error>>,
    /// The manual compaction failed for want of space (not retried):
    /// reported to the `compact_range` that asked for it, then forgotten.
    pub(crate) manual_out_of_space: RefCell<Option<Error>>,
    pub(crate) closed: Cell<bool>,
    /// Every `Db` handle was dropped without `close`: no new background
    /// work starts.
    pub(crate) abandoned: Cell<bool>,
    pub(crate) counters: Counters,
    #[cfg(test)]
    pub(crate) test_hooks: test_hooks::TestHooks,
    /// The directory's lock; `None` after `close`. Last field: dropped
    /// after every file above is closed.
    pub(crate) lock: RefCell<Option<DirLock>>,
}

impl Inner {
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.closed.get() {
            return Err(Error::Closed);
        }
        if let Some(reason) = &*self.poisoned.borrow() {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        Ok(())
    }

    /// Refuses further writes, saying why.
    pub(crate) fn poison(&self, reason: String) {
        tracing::error!(dir = %self.dir.display(), %reason, "partition refuses further writes");
        self.poisoned.borrow_mut().get_or_insert(reason);
    }
}

/// A consistent point-in-time view: reads through it see exactly the writes
/// committed before it was taken. Compaction keeps the versions it needs
/// while it lives.
pub struct Snapshot {
    seqno: SeqNo,
    inner: Rc<Inner>,
}

impl Snapshot {
    /// The last sequence number visible through this snapshot.
    pub fn seqno(&self) -> SeqNo {
        self.seqno
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut snaps = self.inner.snapshots.borrow_mut();
        if let Some(n) = snaps.get_mut(&self.seqno) {
            *n -= 1;
            if *n == 0 {
                snaps.remove(&self.seqno);
            }
        }
    }
}

impl Db {
    /// Opens (or creates) the partition in `dir`: locks `dir/LOCK`, replays
    /// the manifest and the WAL, truncates a torn WAL tail, and refuses
    /// corrupted data with an error naming the file and offset.
    ///
    /// The partition keeps the lock until [`close`](Db::close), or, if
    /// every handle is dropped without `close`, until its background work
    /// has stopped (queued writes are committed, a running flush or
    /// compaction step is finished, nothing new starts).
    ///
    /// # Errors
    /// [`Error::Locked`] while another `Db` (in this process or another)
    /// has `dir` open, or a dropped one is still stopping.
    pub async fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let inner = Rc::new(open::open(dir.as_ref(), opts).await?);
        if let Some(budget) = &inner.opts.budget {
            budget.register(&inner);
        }
        let db = Db {
            _owner: Rc::new(Owner(inner.clone())),
            inner,
        };
        wal_task::start_everysec_timer(&db.inner);
        maintenance::kick(&db.inner);
        Ok(db)
    }

    /// Reads the newest value of `key`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let seqno = self.inner.state.borrow().last_seqno;
        read::get(&self.inner, key, seqno, read::now_ms()).await
    }

    /// Reads the newest value of `key` even if its expiry has passed (it is
    /// still stored until a delete or a compaction drops it). For callers
    /// that clean up expired keys themselves.
    pub async fn get_ignoring_expiry(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let seqno = self.inner.state.borrow().last_seqno;
        read::get(&self.inner, key, seqno, 0).await
    }

    /// Reads `key` as of `snapshot`.
    pub async fn get_at(&self, snapshot: &Snapshot, key: &[u8]) -> Result<Option<Vec<u8>>> {
        read::get(&self.inner, key, snapshot.seqno, read::now_ms()).await
    }

    /// Sets `key` to `value`.
    pub async fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b).await
    }

    /// Sets `key` to `value` until `expires_at_unix_ms`, after which reads do
    /// not see it and compaction drops it.
    pub async fn put_with_expiry(
        &self,
        key: &[u8],
        value: &[u8],
        expires_at_unix_ms: u64,
    ) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put_with_expiry(key, value, expires_at_unix_ms);
        self.write(b).await
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &[u8]) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b).await
    }

    /// Whether the partition takes writes now: the error a write would get
    /// when it is closed, or poisoned by a failed WAL write, sync or flush
    /// (it then refuses every write until reopened). For a caller that
    /// writes several partitions and must not write some and then fail.
    ///
    /// # Errors
    /// [`Error::Closed`] or [`Error::Poisoned`].
    pub fn check_writable(&self) -> Result<()> {
        self.inner.check_writable()
    }

    /// Applies `batch` atomically. It is acknowledged as the sync policy
    /// says (see [`SyncPolicy`](crate::SyncPolicy)).
    ///
    /// # Cancel safety
    /// If the future is dropped, the batch may or may not be applied.
    pub async fn write(&self, batch: WriteBatch) -> Result<()> {
        self.inner.check_writable()?;
        batch
            .validate()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        if batch.is_empty() {
            return Ok(());
        }
        maintenance::throttle_writes(&self.inner).await?;
        // The partition may have closed or failed while we were throttled.
        self.inner.check_writable()?;
        let (slot, start) = self.inner.commit.push(batch);
        if start {
            wal_task::start(&self.inner);
        }
        slot.wait().await
    }

    /// A snapshot of the current state.
    pub fn snapshot(&self) -> Snapshot {
        let seqno = self.inner.state.borrow().last_seqno;
        *self.inner.snapshots.borrow_mut().entry(seqno).or_insert(0) += 1;
        Snapshot {
            seqno,
            inner: self.inner.clone(),
        }
    }

    /// Scans the user keys in `range` (forward), as of now.
    pub fn scan(&self, range: impl RangeBounds<Vec<u8>>) -> Scan {
        let snapshot = self.snapshot();
        Scan::new(self.inner.clone(), range, snapshot)
    }

    /// Scans as of `snapshot`.
    pub fn scan_at(&self, snapshot: &Snapshot, range: impl RangeBounds<Vec<u8>>) -> Scan {
        let snapshot = Snapshot {
            seqno: snapshot.seqno,
            inner: self.inner.clone(),
        };
        *self
            .inner
            .snapshots
            .borrow_mut()
            .entry(snapshot.seqno)
            .or_insert(0) += 1;
        Scan::new(self.inner.clone(), range, snapshot)
    }

    /// Writes the memtable to an SSTable and waits until it is installed.
    ///
    /// # Errors
    /// [`Error::DiskFull`] when there is no room for the new WAL segment
    /// the memtable switch needs (nothing was flushed; what was
    /// acknowledged stays in the WAL), or for the table: an `Ok` means the
    /// memtable's writes are in a synced table, under every sync policy.
    pub async fn flush(&self) -> Result<()> {
        self.inner.check_writable()?;
        maintenance::retry_now(&self.inner);
        if !self.inner.state.borrow().mem.borrow().is_empty() {
            self.inner.switch_requested.set(true);
            wal_task::start(&self.inner);
            // The WAL task makes one attempt for the request, with or
            // without writes to commit, then clears it: a switch under way
            // when we asked froze our writes too.
            while self.inner.switch_requested.get() {
                self.inner.maintenance_progress.notified().await;
            }
            self.inner.check_writable()?;
            if let Some(e) = &*self.inner.switch_no_room.borrow() {
                return Err(e.duplicate());
            }
        }
        maintenance::wait_idle(&self.inner).await
    }

    /// Flushes, then merges every table into the bottom level, dropping
    /// overwritten versions, tombstones, expired values and records the
    /// [`CompactionFilter`](crate::CompactionFilter) finds dead, unless a
    /// live snapshot needs them.
    pub async fn compact_range(&self) -> Result<()> {
        self.flush().await?;
        compact::compact_all(&self.inner).await?;
        maintenance::wait_idle(&self.inner).await
    }

    /// Counters and sizes.
    pub fn metrics(&self) -> Metrics {
        metrics::snapshot(&self.inner)
    }

    /// Stops background work, syncs the WAL (unless the policy is `No`),
    /// closes and releases the directory's lock. Later calls on any handle
    /// return [`Error::Closed`].
    ///
    /// A poisoned partition, or one whose flushes wait for disk space, is
    /// closed all the same (its lock released, a pending retry given up)
    /// and the error is returned: what was acknowledged is in the WAL.
    /// A memtable switch that found no room for a new WAL segment is not
    /// pending work: the memtable is in the old segment, synced here as
    /// usual, and `close` succeeds.
    pub async fn close(self) -> Result<()> {
        wal_task::drain(&self.inner).await;
        let idle = maintenance::wait_idle(&self.inner).await;
        self.inner.closed.set(true);
        // A step pausing for disk space sees `closed` and stops.
        self.inner.maintenance_progress.notify_all();
        while maintenance::busy(&self.inner) {
            self.inner.maintenance_progress.notified().await;
        }
        let poisoned = self.inner.poisoned.borrow().is_some();
        let synced = if poisoned {
            // A sync after a failed one proves nothing (fsyncgate).
            self.inner.wal.borrow_mut().take();
            Ok(())
        } else {
            wal_task::final_sync(&self.inner).await
        };
        // No task runs now and none can start work (`closed` is set and the
        // WAL writer is gone), so the directory may have a new owner.
        self.inner.lock.borrow_mut().take();
        idle.and(synced)
    }

    /// The directory of the partition.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}
