//! The storage error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What went wrong in a partition.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The disk is full: no room for data or for a new file (`ENOSPC`,
    /// out of inodes too), or the quota is used up (`EDQUOT`). The write
    /// was not applied; data already acknowledged stays readable, and the
    /// partition takes writes again once there is room.
    #[non_exhaustive]
    DiskFull {
        /// The file being written or created.
        path: PathBuf,
        /// What was being done (`write`, `create`, ...).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A file's contents are not what we wrote: the partition refuses to
    /// open rather than silently drop data.
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// An earlier fsync failed, so what the kernel holds for the WAL is
    /// unknown; the partition refuses further writes until reopened.
    Poisoned {
        /// The failure that poisoned the partition.
        reason: String,
    },
    /// The caller asked for something invalid (key too large, ...).
    InvalidArgument(String),
    /// The partition was closed.
    Closed,
    /// The directory has another owner: a live [`Db`](crate::Db) or
    /// [`DirLock`](crate::DirLock), in this process or another, holds its
    /// lock file.
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The holder's pid, as it wrote it into the lock file (`None` if
        /// unreadable or not written yet).
        pid: Option<u32>,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if is_out_of_space(&source) {
            return Error::DiskFull { path, op, source };
        }
        Error::Io { op, path, source }
    }

    /// An I/O error kept as `Io` even for `ENOSPC`: for operations whose
    /// failure must not read as a retryable [`Error::DiskFull`] (a full
    /// disk there leaves state the caller cannot take back).
    pub(crate) fn io_unmapped(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: io::Error,
    ) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl fmt::Display,
    ) -> Self {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.to_string(),
        }
    }
}

/// `ENOSPC` (no free blocks or no free inodes) or `EDQUOT` (quota used
/// up): a failure that more room ends.
fn is_out_of_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// A copy of an OS error: its code survives (callers match on it), or
/// else its kind and text.
fn duplicate_io(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

impl Error {
    /// A copy of this error (`io::Error` is not `Clone`: its kind and text
    /// are kept), for handing one failure to several waiters.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { op, path, source } => Error::Io {
                op,
                path: path.clone(),
                source: duplicate_io(source),
            },
            Error::DiskFull { path, op, source } => Error::DiskFull {
                path: path.clone(),
                op,
                source: duplicate_io(source),
            },
            Error::Corruption {
                path,
                offset,
                reason,
            } => Error::Corruption {
                path: path.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            Error::Poisoned { reason } => Error::Poisoned {
                reason: reason.clone(),
            },
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::Closed => Error::Closed,
            Error::Locked { dir, pid } => Error::Locked {
                dir: dir.clone(),
                pid: *pid,
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
            Error::DiskFull { path, op, source } => {
                write!(f, "disk full: {op} {}: {source}", path.display())
            }
            Error::Corruption {
                path,
                offset,
                reason,
            } => write!(
                f,
                "corruption in {} at offset {offset}: {reason}",
                path.display()
            ),
            Error::Poisoned { reason } => {
                write!(f, "partition refuses writes after a failed sync: {reason}")
            }
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::Closed => f.write_str("partition is closed"),
            Error::Locked { dir, pid } => {
                write!(f, "{} is in use by another owner", dir.display())?;
                match pid {
                    Some(pid) if *pid == std::process::id() => {
                        write!(f, " (held by this process, pid {pid})")
                    }
                    Some(pid) => write!(f, " (held by pid {pid})"),
                    None => f.write_str(" (holder's pid unknown)"),
                }
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::DiskFull { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
