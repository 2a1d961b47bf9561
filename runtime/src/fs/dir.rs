//! Directory and path operations: create, remove, rename, and `sync_dir`.

use std::io;
use std::path::Path;

use super::metadata::metadata;
use super::ops::{self, PathOp};
use super::path::to_cstring;
use super::OpenOptions;

/// Creates one directory (mode `0o777` before the umask). Fails with
/// `AlreadyExists` if `path` exists and `NotFound` if its parent does not.
///
/// # Cancel safety
///
/// On io_uring, dropping the future cancels the request if it has not run
/// yet; on epoll the queued call runs anyway. Either way the directory may
/// or may not exist afterwards.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let op = PathOp::MkDir {
        path: to_cstring(path)?,
        mode: 0o777,
    };
    match ops::path_op(op).await {
        // MKDIRAT is from Linux 5.15; older kernels reject the opcode.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => std::fs::create_dir(path),
        other => other,
    }
}

/// Creates `path` and every missing parent. Succeeds if `path` already is a
/// directory, also when another task creates it concurrently.
///
/// # Cancel safety
///
/// Dropping the future stops after the directories created so far.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let mut missing = Vec::new();
    let mut next = Some(path);
    while let Some(dir) = next {
        if dir.as_os_str().is_empty() {
            break;
        }
        match metadata(dir).await {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", dir.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(dir);
                next = dir.parent();
            }
            Err(e) => return Err(e),
        }
    }
    for dir in missing.into_iter().rev() {
        match create_dir(dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && is_dir(dir).await => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes an empty directory.
///
/// # Cancel safety
///
/// On io_uring, dropping the future cancels the request if it has not run
/// yet; on epoll the queued call runs anyway.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let op = PathOp::Unlink {
        path: to_cstring(path.as_ref())?,
        flags: libc::AT_REMOVEDIR,
    };
    ops::path_op(op).await
}

/// Removes a file (or symbolic link).
///
/// # Cancel safety
///
/// On io_uring, dropping the future cancels the request if it has not run
/// yet; on epoll the queued call runs anyway.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let op = PathOp::Unlink {
        path: to_cstring(path.as_ref())?,
        flags: 0,
    };
    ops::path_op(op).await
}

/// Renames `from` to `to`, atomically replacing `to` if it exists. For the
/// rename to survive a crash, [`sync_dir`] the parent directory afterwards.
///
/// # Cancel safety
///
/// On io_uring, dropping the future cancels the request if it has not run
/// yet; on epoll the queued call runs anyway. Either way the rename may or
/// may not have happened.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let op = PathOp::Rename {
        from: to_cstring(from.as_ref())?,
        to: to_cstring(to.as_ref())?,
    };
    ops::path_op(op).await
}

/// Makes a directory's entries durable: opens it and `fsync`s it. Needed
/// after creating, renaming or removing entries when they must survive a
/// crash (the write-fsync-rename-fsync-dir pattern).
///
/// # Cancel safety
///
/// Dropping the future cancels the wait; durability is then unknown.
pub async fn sync_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .await?;
    dir.sync_all().await
}

async fn is_dir(path: &Path) -> bool {
    matches!(metadata(path).await, Ok(m) if m.is_dir())
}
