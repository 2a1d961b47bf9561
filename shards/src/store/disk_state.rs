//! Whether the disk is full: the last write that reached the storage
//! engine failed with ENOSPC or EDQUOT, on any core.
//!
//! Set by a failed write, cleared by the next write that succeeds (space
//! came back): writes are retried as they come, so the server takes writes
//! again without a restart. Reads are never refused. INFO persistence shows
//! it as `aof_last_write_status:err` (Redis' field: the last write's
//! outcome, so with several partitions near their bound it can change from
//! one write to the next, as Redis' does), `/health` as `503`. Redis would
//! answer such writes `-MISCONF Errors writing to the AOF file: No space
//! left on device` (or `Disk quota exceeded`), and so does this server.
//! The transitions are logged at most once per 30 seconds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use frys_storage::{Db, WriteBatch};

use super::{StoreError, StoreResult};

static DISK_FULL: AtomicBool = AtomicBool::new(false);

/// When a disk-full line was last logged (Unix seconds; 0: never).
static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);

/// At most one disk-full log line per this many seconds (Redis'
/// `AOF_WRITE_LOG_ERROR_RATE`): partitions reach their bound at different
/// times, so the last write's outcome can flip many times a second.
const LOG_EVERY_SECS: u64 = 30;

/// Redis' reply to a write while its AOF cannot be written for lack of
/// space: `-MISCONF Errors writing to the AOF file: <strerror>`, with the
/// OS error's text as C's `strerror` words it.
pub fn misconf(source: &std::io::Error) -> String {
    let reason = match source.raw_os_error() {
        Some(libc::EDQUOT) => "Disk quota exceeded",
        _ => "No space left on device",
    };
    format!("MISCONF Errors writing to the AOF file: {reason}")
}

/// Whether the last write hit a full disk.
pub fn disk_full() -> bool {
    DISK_FULL.load(Ordering::Relaxed)
}

/// Whether a disk-full line may be logged now (one per
/// [`LOG_EVERY_SECS`]).
fn may_log() -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    (last == 0 || now.saturating_sub(last) >= LOG_EVERY_SECS)
        && LAST_LOGGED
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Writes `batch` to `db`, noting a full disk (or that space is back).
pub async fn write(db: &Db, batch: WriteBatch) -> StoreResult<()> {
    let result = db.write(batch).await;
    match &result {
        Ok(()) => {
            if DISK_FULL.swap(false, Ordering::Relaxed) && may_log() {
                tracing::info!("a write succeeded again: the disk has room");
            }
        }
        Err(e @ frys_storage::Error::DiskFull { .. }) => {
            if !DISK_FULL.swap(true, Ordering::Relaxed) && may_log() {
                tracing::error!(error = %e, "disk full: writes are refused until there is room");
            }
        }
        Err(_) => {}
    }
    result.map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::misconf;

    #[test]
    fn misconf_words_the_os_error_as_strerror_does() {
        assert_eq!(
            misconf(&std::io::Error::from_raw_os_error(libc::ENOSPC)),
            "MISCONF Errors writing to the AOF file: No space left on device"
        );
        assert_eq!(
            misconf(&std::io::Error::from_raw_os_error(libc::EDQUOT)),
            "MISCONF Errors writing to the AOF file: Disk quota exceeded"
        );
    }
}
