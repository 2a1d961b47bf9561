//! # frys-storage
//!
//! One LSM partition ([`Db`]) per core, on frys-runtime's async file I/O,
//! with no locks on its hot path: a `Db` lives on the core that opened it.
//!
//! Write path: WAL append with group commit (all writes of one executor
//! tick share one write and, under [`SyncPolicy::Always`], one fdatasync) →
//! memtable (keys and values in an arena) → flush to an SSTable at a size
//! threshold → leveled compaction whose policy is a pure function of the
//! table set and whose merge runs as a stealable `Send` task, optionally
//! dropping records another record makes dead ([`CompactionFilter`]).
//!
//! Every file operation goes through one seam, [`FileSystem`] (the real
//! file system unless [`Options::file_system`] says otherwise); the
//! `fault-injection` feature adds `fault::FaultFs`, a simulated machine for
//! crash and fault tests (page cache, power loss, failing calls).
//!
//! See the README's storage section for the on-disk format.

pub mod batch;
mod budget;
pub mod checksum;
pub mod compaction;
mod compaction_filter;
mod db;
mod error;
mod file_system;
mod files;
pub mod key;
mod lock;
pub mod manifest;
mod memtable;
pub mod merge;
mod options;
pub mod sstable;
mod table;
#[cfg(any(test, feature = "fault-injection"))]
mod test_rng;
pub mod wal;

pub use batch::WriteBatch;
pub use budget::CoreBudget;
pub use compaction_filter::CompactionFilter;
pub use db::{Checkpoint, CheckpointStats, Db, Metrics, Scan, Snapshot};
pub use error::{Error, Result};
pub use file_system::FileSystem;
pub use lock::DirLock;
pub use options::{Options, SyncPolicy, BACKGROUND_QUEUE, MAX_KEY_LEN, MAX_VALUE_LEN};

/// The simulated file system for crash and fault tests (the
/// `fault-injection` feature): see [`FaultFs`](fault::FaultFs).
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault {
    pub use crate::file_system::fault::{FaultFs, FaultOp, FaultRule};
}
