//! [`Metadata`] from `statx`, and [`metadata`] / [`symlink_metadata`] of a
//! path.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::ops::{self, Statx};
use super::path::to_cstring;

/// What `statx` says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    len: u64,
    mode: u32,
    modified: Option<SystemTime>,
}

impl Metadata {
    pub(crate) fn from_statx(stx: &libc::statx) -> Self {
        let modified = if stx.stx_mask & libc::STATX_MTIME != 0 {
            system_time(stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec)
        } else {
            None
        };
        Self {
            len: stx.stx_size,
            mode: u32::from(stx.stx_mode),
            modified,
        }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the size is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// Whether this is a symbolic link (only from [`symlink_metadata`]).
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }

    /// The permission bits (`st_mode & 0o7777`).
    pub fn permissions_mode(&self) -> u32 {
        self.mode & 0o7777
    }

    /// Last modification time, if the filesystem reports one.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }
}

/// The metadata of `path`, following symbolic links.
///
/// # Cancel safety
///
/// Dropping the future cancels the request; nothing is left behind.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let stx = ops::statx(Statx::of_path(to_cstring(path.as_ref())?, true)).await?;
    Ok(Metadata::from_statx(&stx))
}

/// The metadata of `path` itself, not following a final symbolic link.
///
/// # Cancel safety
///
/// Dropping the future cancels the request; nothing is left behind.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let stx = ops::statx(Statx::of_path(to_cstring(path.as_ref())?, false)).await?;
    Ok(Metadata::from_statx(&stx))
}

fn system_time(secs: i64, nanos: u32) -> Option<SystemTime> {
    let nanos = Duration::from_nanos(u64::from(nanos));
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()) + nanos)
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(nanos)
    }
}
