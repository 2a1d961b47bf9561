//! Whether the disk is full: the last write that reached the storage
//! engine failed with ENOSPC, on any core.
//!
//! Set by a failed write, cleared by the next write that succeeds (space
//! came back): writes are retried as they come, so the server takes writes
//! again without a restart. Reads are never refused. INFO persistence shows
//! it as `aof_last_write_status:err` (Redis' field), `/health` as `503`.
//! Redis would answer such writes `-MISCONF Errors writing to the AOF file:
//! No space left on device`, and so does this server.

use std::sync::atomic::{AtomicBool, Ordering};

use frys_storage::{Db, WriteBatch};

use super::{StoreError, StoreResult};

static DISK_FULL: AtomicBool = AtomicBool::new(false);

/// Redis' reply to a write while its AOF cannot be written for lack of
/// space.
pub const MISCONF_DISK_FULL: &str =
    "MISCONF Errors writing to the AOF file: No space left on device";

/// Whether the last write hit a full disk.
pub fn disk_full() -> bool {
    DISK_FULL.load(Ordering::Relaxed)
}

/// Writes `batch` to `db`, noting a full disk (or that space is back).
pub async fn write(db: &Db, batch: WriteBatch) -> StoreResult<()> {
    let result = db.write(batch).await;
    match &result {
        Ok(()) => {
            if DISK_FULL.load(Ordering::Relaxed) {
                DISK_FULL.store(false, Ordering::Relaxed);
                tracing::info!("writes succeed again: the disk has room");
            }
        }
        Err(e @ frys_storage::Error::DiskFull { .. }) => {
            if !DISK_FULL.swap(true, Ordering::Relaxed) {
                tracing::error!(error = %e, "disk full: writes are refused until there is room");
            }
        }
        Err(_) => {}
    }
    result.map_err(StoreError::from)
}
