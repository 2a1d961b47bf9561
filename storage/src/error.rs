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
    /// The disk is full (ENOSPC). The write was not applied; data already
    /// acknowledged stays readable.
    DiskFull {
        /// The file being written.
        path: PathBuf,
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
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if source.raw_os_error() == Some(libc_enospc()) {
            return Error::DiskFull { path };
        }
        Error::Io { op, path, source }
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

const fn libc_enospc() -> i32 {
    28
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
            Error::DiskFull { path } => write!(f, "disk full writing {}", path.display()),
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
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
