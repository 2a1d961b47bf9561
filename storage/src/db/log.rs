//! Append-only logs of a partition: the WAL segment being written and the
//! manifest. Both use the WAL record framing.

use std::path::PathBuf;

use frys_runtime::fs;

use crate::error::{Error, Result};

/// An append-only file we write records to.
pub(crate) struct LogWriter {
    pub(crate) file: fs::File,
    pub(crate) path: PathBuf,
    /// Where the next record goes.
    pub(crate) offset: u64,
    /// Bytes written since the last sync.
    pub(crate) unsynced: bool,
}

impl LogWriter {
    /// Creates a new, empty log file (fails if it exists).
    pub(crate) async fn create(path: PathBuf) -> Result<LogWriter> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| Error::io("create", &path, e))?;
        Ok(LogWriter {
            file,
            path,
            offset: 0,
            unsynced: false,
        })
    }

    /// Opens an existing log to append at `offset` (after truncating a torn
    /// tail there).
    pub(crate) async fn append_to(path: PathBuf, offset: u64) -> Result<LogWriter> {
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(|e| Error::io("open", &path, e))?;
        file.set_len(offset)
            .map_err(|e| Error::io("truncate", &path, e))?;
        Ok(LogWriter {
            file,
            path,
            offset,
            unsynced: true,
        })
    }

    /// Writes `bytes` at the end. On error nothing is acknowledged and the
    /// end stays where it was, so the next write overwrites any partial one.
    pub(crate) async fn append(&mut self, bytes: Vec<u8>) -> Result<Vec<u8>> {
        let len = bytes.len() as u64;
        let (res, bytes) = self.file.write_all_at(bytes, self.offset).await;
        if let Err(e) = res {
            // A partial write must not leave bytes after the end: a later,
            // shorter record would be followed by them and recovery would
            // take them for corruption.
            let _ = self.file.set_len(self.offset);
            return Err(Error::io("write", &self.path, e));
        }
        self.offset += len;
        self.unsynced = true;
        Ok(bytes)
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
