//! Append-only logs of a partition: the WAL segment being written and the
//! manifest. Both use the WAL record framing.
//!
//! Appends are `pwrite(2)` on the core thread: a buffered append is a copy
//! into the page cache (microseconds), and io_uring would hand a buffered
//! ext4 write to a kernel worker thread, costing a thread handoff per group
//! commit (measured: single-writer fillrandom went from 0.57x to about
//! parity with fjall). Syncs go through io_uring, since `fdatasync` waits
//! for the disk and must not block the core.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::file_system::{File, FileSystem, OpenMode};

/// An append-only file we write records to.
pub(crate) struct LogWriter {
    /// Appends with blocking `pwrite`, syncs on the driver (module doc).
    file: File,
    pub(crate) path: PathBuf,
    /// Where the next record goes.
    pub(crate) offset: u64,
    /// Bytes written since the last sync.
    pub(crate) unsynced: bool,
}

impl LogWriter {
    /// Creates a new, empty log file (fails if it exists). Its directory
    /// entry is the caller's to sync.
    pub(crate) async fn create(fs: &FileSystem, path: PathBuf) -> Result<LogWriter> {
        let file = fs
            .open(&path, OpenMode::CreateNew)
            .await
            .map_err(|e| Error::io("create", &path, e))?;
        Ok(LogWriter {
            file,
            path,
            offset: 0,
            unsynced: false,
        })
    }

    /// Opens an existing log to append after `valid`, its replayed prefix
    /// (cutting off a torn tail after it), which is written back and
    /// synced first (`open::rewrite_and_sync`): so what was replayed is on
    /// disk, even after a failed sync in an earlier process, and the log
    /// starts synced.
    pub(crate) async fn append_to(
        fs: &FileSystem,
        path: PathBuf,
        valid: &[u8],
    ) -> Result<LogWriter> {
        let file = fs
            .open(&path, OpenMode::Write)
            .await
            .map_err(|e| Error::io("open", &path, e))?;
        let offset = valid.len() as u64;
        file.set_len(offset)
            .map_err(|e| Error::io("truncate", &path, e))?;
        super::open::rewrite_and_sync(&file, &path, valid).await?;
        Ok(LogWriter {
            file,
            path,
            offset,
            unsynced: false,
        })
    }

    /// Goes on writing an open log at `offset`, the end of its replayed
    /// prefix, which the caller has made durable (`open::rewrite_and_sync`).
    pub(crate) fn resume(file: File, path: PathBuf, offset: u64) -> LogWriter {
        LogWriter {
            file,
            path,
            offset,
            unsynced: false,
        }
    }

    /// Writes `bytes` at the end. On error nothing is acknowledged and the
    /// end stays where it was (a partial write is cut off), so the log
    /// takes the next append as if this one never happened; only an
    /// error other than `DiskFull` may leave a partial record behind.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.file.write_all_at_now(bytes, self.offset) {
            // A partial write must not leave bytes after the end: a later,
            // shorter record would be followed by them and recovery would
            // take them for corruption. If they cannot be cut off, the
            // error says so (and is not `DiskFull`: the log is unusable).
            if let Err(cut) = self.file.set_len(self.offset) {
                return Err(Error::io_unmapped(
                    "truncate after a failed write",
                    &self.path,
                    cut,
                ));
            }
            return Err(Error::io("write", &self.path, e));
        }
        self.offset += bytes.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    pub(crate) async fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .await
            .map_err(|e| Error::io("fdatasync", &self.path, e))?;
        self.unsynced = false;
        Ok(())
    }
}
