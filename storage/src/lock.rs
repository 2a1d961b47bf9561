//! [`DirLock`]: one owner per data directory.
//!
//! The lock is `flock(LOCK_EX | LOCK_NB)` on a file in the directory
//! (`LOCK` for a partition). flock locks belong to the open file
//! description, so a second acquire conflicts whether it comes from another
//! process or from this one. The kernel drops the lock when the descriptor
//! closes, so a killed process never leaves a directory locked.
//!
//! Invariants: the lock file is never removed (unlinking it would let two
//! owners lock two different inodes under the same name); it holds the
//! holder's pid while locked, for the error message only; the descriptor is
//! opened `O_CLOEXEC` (std's default), so a spawned child does not inherit
//! the lock.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An exclusive lock on a directory, held until dropped.
///
/// `Db::open` holds one on `<dir>/LOCK` for the life of the partition;
/// a server holds one on its own top-level directory the same way.
///
/// # Examples
/// ```no_run
/// use frys_storage::{DirLock, Error};
///
/// let dir = std::path::Path::new("/var/lib/frys");
/// let lock = DirLock::acquire(dir, "LOCK")?;
/// // A second owner is refused while `lock` lives.
/// assert!(matches!(DirLock::acquire(dir, "LOCK"), Err(Error::Locked { .. })));
/// drop(lock);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct DirLock {
    holder: Holder,
    path: PathBuf,
}

/// What holds the lock: the flock'ed file, or a lock of the simulated file
/// system (`FileSystem`).
enum Holder {
    File(File),
    /// Held for its `Drop`, which releases it.
    #[cfg(any(test, feature = "fault-injection"))]
    Simulated(#[allow(dead_code)] crate::file_system::fault::FaultLock),
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::File(file) => file.fmt(f),
            #[cfg(any(test, feature = "fault-injection"))]
            Holder::Simulated(_) => f.write_str("simulated"),
        }
    }
}

impl DirLock {
    /// Locks `dir/file_name`, creating the file if needed (the directory
    /// must exist), and writes this process's pid into it.
    ///
    /// # Errors
    /// [`Error::Locked`] if another process, or another `DirLock` of this
    /// process, holds it; [`Error::Io`] if the file cannot be opened.
    pub fn acquire(dir: &Path, file_name: &str) -> Result<DirLock> {
        let path = dir.join(file_name);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        if let Err(e) = try_flock(&file) {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Err(Error::Locked {
                    dir: dir.to_path_buf(),
                    pid: holder_pid(&mut file),
                });
            }
            return Err(Error::io("flock", &path, e));
        }
        // Ours now: record who holds it (informational, so no fsync).
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.write_all_at(pid.as_bytes(), 0))
            .map_err(|e| Error::io("write lock file", &path, e))?;
        Ok(DirLock {
            holder: Holder::File(file),
            path,
        })
    }

    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn simulated(lock: crate::file_system::fault::FaultLock, path: PathBuf) -> DirLock {
        DirLock {
            holder: Holder::Simulated(lock),
            path,
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Clear the pid while still holding the lock; closing the file
        // (dropping `holder`) releases it.
        // (Irrefutable without the `fault-injection` feature.)
        #[allow(irrefutable_let_patterns)]
        if let Holder::File(file) = &self.holder {
            let _ = file.set_len(0);
        }
    }
}

fn try_flock(file: &File) -> std::io::Result<()> {
    loop {
        // SAFETY: flock only takes a descriptor and flags; `file` owns the
        // descriptor and keeps it open for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The pid the holder wrote, if it wrote one yet.
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("frys-storage-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn second_acquire_is_refused_naming_dir_and_pid_until_the_first_is_dropped() {
        let dir = temp_dir("second");
        let first = DirLock::acquire(&dir, "LOCK").unwrap();
        match DirLock::acquire(&dir, "LOCK") {
            Err(Error::Locked { dir: d, pid }) => {
                assert_eq!(d, dir);
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        let msg = DirLock::acquire(&dir, "LOCK").unwrap_err().to_string();
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        let again = DirLock::acquire(&dir, "LOCK").unwrap();
        assert_eq!(again.path(), dir.join("LOCK"));
        drop(again);
        assert!(dir.join("LOCK").exists(), "the lock file is never removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn locks_on_different_files_do_not_conflict() {
        let dir = temp_dir("names");
        let a = DirLock::acquire(&dir, "LOCK").unwrap();
        let b = DirLock::acquire(&dir, "SERVER.LOCK").unwrap();
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_file() {
        let dir = temp_dir("missing").join("nope");
        match DirLock::acquire(&dir, "LOCK") {
            Err(Error::Io { path, .. }) => assert_eq!(path, dir.join("LOCK")),
            other => panic!("expected Io, got {other:?}"),
        }
    }
}
