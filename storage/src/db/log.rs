//! Append-only logs of a partition: the WAL segment being written and the
//! manifest. Both use the WAL record framing.
//!
//! Appends are `pwrite(2)` on the core thread: a buffered append is a copy
//! into the page cache (microseconds), and io_uring would hand a buffered
//! ext4 write to a kernel worker thread, costing a thread handoff per group
//! commit (measured: single-writer fillrandom went from 0.57x to about
//! parity with fjall). Syncs go through io_uring, since `fdatasync` waits
//! for the disk and must not block the core.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use frys_runtime::fs;

use crate::error::{Error, Result};

/// An append-only file we write records to.
pub(crate) struct LogWriter {
    /// For appends (see the module doc).
    appender: std::fs::File,
    /// The same file, for asynchronous syncs.
    file: fs::File,
    pub(crate) path: PathBuf,
    /// Where the next record goes.
    pub(crate) offset: u64,
    /// Bytes written since the last sync.
    pub(crate) unsynced: bool,
}

impl LogWriter {
    /// Creates a new, empty log file (fails if it exists).
    pub(crate) async fn create(path: PathBuf) -> Result<LogWriter> {
        let appender = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        Self::new(appender, path, 0, false)
    }

    /// Opens an existing log to append at `offset` (cutting off a torn tail
    /// there).
    pub(crate) async fn append_to(path: PathBuf, offset: u64) -> Result<LogWriter> {
        let appender = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        appender
            .set_len(offset)
            .map_err(|e| Error::io("truncate", &path, e))?;
        Self::new(appender, path, offset, true)
    }

    fn new(
        appender: std::fs::File,
        path: PathBuf,
        offset: u64,
        unsynced: bool,
    ) -> Result<LogWriter> {
        let clone = appender
            .try_clone()
            .map_err(|e| Error::io("dup", &path, e))?;
        Ok(LogWriter {
            appender,
            file: fs::File::from_std(clone),
            path,
            offset,
            unsynced,
        })
    }

    /// Writes `bytes` at the end. On error nothing is acknowledged and the
    /// end stays where it was, so the next write overwrites any partial one.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.appender.write_all_at(bytes, self.offset) {
            // A partial write must not leave bytes after the end: a later,
            // shorter record would be followed by them and recovery would
            // take them for corruption.
            let _ = self.appender.set_len(self.offset);
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
