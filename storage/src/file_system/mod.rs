//! The file-system seam: every file a partition creates, writes, syncs,
//! renames, removes, lists, links, locks or reads goes through a
//! [`FileSystem`] and the [`File`]s it opens.
//!
//! Two implementations, chosen in [`Options::file_system`](crate::Options::file_system):
//! - **the real one** (the default): frys-runtime's files on the core's
//!   driver (io_uring, or epoll's thread pool), plus the few calls that run
//!   on the core thread on purpose (buffered WAL appends, the blocking read
//!   of a merge that outran its readahead, link(2) of a checkpoint);
//! - **a simulated one** ([`FaultFs`](crate::fault::FaultFs), with the
//!   `fault-injection` cargo feature, and in this crate's own tests): in
//!   memory, modelling the page cache, power loss and failing calls.
//!
//! The choice is an enum matched at each call (no allocation, no virtual
//! call): without the feature the simulated variant does not exist, so the
//! match has one arm and the real path costs what it cost before the seam.
//!
//! # The contract the engine relies on (and the simulation enforces)
//! - A **write** is volatile: it is visible to reads at once but survives a
//!   power loss only once [`File::sync_data`] or [`File::sync_all`] of that
//!   file returned `Ok` after it.
//! - A **failed sync** guarantees nothing, now or later: as Linux does,
//!   the dirty pages whose writeback failed may be marked clean and dropped,
//!   so a later sync that succeeds does not make them durable
//!   ("fsyncgate"). After one, the data written before it is not durable,
//!   and the engine must never say it is.
//! - A **directory entry** (a file created, renamed, linked or removed; a
//!   directory created) is volatile until [`FileSystem::sync_dir`] of the
//!   directory holding it returned `Ok`: a synced file whose entry was
//!   never synced may be gone after a power loss.
//! - A **rename** replaces its target atomically: after a power loss the
//!   name holds the old file or the new one, never a mix.
//! - A write may be **short** and fail (`ENOSPC`, `EIO`) after putting
//!   part of its bytes in the file.

mod real;

#[cfg(any(test, feature = "fault-injection"))]
pub(crate) mod fault;

use std::io;
use std::path::{Path, PathBuf};

/// Where a partition's files live: the real file system (the default), or,
/// with the `fault-injection` feature, a simulated one for crash tests.
///
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct FileSystem(Backend);

#[derive(Clone, Default)]
enum Backend {
    #[default]
    Real,
    #[cfg(any(test, feature = "fault-injection"))]
    Fault(fault::Session),
}

impl std::fmt::Debug for FileSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Backend::Real => f.write_str("FileSystem::Real"),
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(_) => f.write_str("FileSystem::Fault"),
        }
    }
}

/// An open file (see the contract in the module docs). `Send`: a merge
/// reads its inputs in a stealable task.
pub(crate) enum File {
    Real(real::RealFile),
    #[cfg(any(test, feature = "fault-injection"))]
    Fault(fault::FaultFile),
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// An existing file, read only.
    Read,
    /// An existing file, for writing (not truncated).
    Write,
    /// Created empty or truncated, for writing.
    Create,
    /// Created; fails if the name exists.
    CreateNew,
}

impl FileSystem {
    /// The real file system (the default).
    pub fn real() -> FileSystem {
        FileSystem(Backend::Real)
    }

    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn fault(session: fault::Session) -> FileSystem {
        FileSystem(Backend::Fault(session))
    }

    /// The handle a newly opened partition uses: for the simulation, one
    /// bound to the machine's current power-on period (calls through it
    /// fail once that power is lost).
    pub(crate) fn session(&self) -> FileSystem {
        match &self.0 {
            Backend::Real => FileSystem::real(),
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => FileSystem::fault(s.renew()),
        }
    }

    pub(crate) async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File> {
        match &self.0 {
            Backend::Real => real::open(path, mode).await.map(File::Real),
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => {
                simulated_io().await;
                s.open(path, mode).map(File::Fault)
            }
        }
    }

    /// Creates `dir` and its missing parents, and syncs the parent of
    /// every directory on the way, so the entries survive a power loss.
    ///
    /// Existing directories' parents are synced too: one may have been
    /// created by an earlier attempt that failed before its parent's sync,
    /// and nothing tells it from an old one (one directory sync per path
    /// component, at open). An existing ancestor we may not read (so not
    /// one we created) is skipped. A relative path's top directory is in
    /// `.`.
    pub(crate) async fn create_dir_all_durably(&self, dir: &Path) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut existing = Vec::new();
        let mut next = Some(dir);
        while let Some(d) = next.filter(|d| !d.as_os_str().is_empty()) {
            if existing.is_empty() && !self.is_dir(d).await? {
                missing.push(d);
            } else {
                existing.push(d);
            }
            next = d.parent();
        }
        for d in existing {
            match self.sync_dir(parent_dir(d)).await {
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
                other => other?,
            }
        }
        for d in missing.into_iter().rev() {
            match self.create_dir(d).await {
                Ok(()) => {}
                // Created meanwhile (by another partition of this parent).
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && self.is_dir(d).await? => {}
                Err(e) => return Err(e),
            }
            self.sync_dir(parent_dir(d)).await?;
        }
        Ok(())
    }

    async fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match &self.0 {
            Backend::Real => match frys_runtime::fs::metadata(path).await {
                Ok(m) => Ok(m.is_dir()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            },
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => {
                simulated_io().await;
                s.is_dir(path)
            }
        }
    }

    /// Creates one directory (its parent must exist). Async.
    pub(crate) async fn create_dir(&self, path: &Path) -> io::Result<()> {
        match &self.0 {
            Backend::Real => frys_runtime::fs::create_dir(path).await,
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => {
                simulated_io().await;
                s.create_dir(path)
            }
        }
    }

    /// Creates one directory with a blocking call on the core thread (for
    /// the synchronous start of a checkpoint).
    pub(crate) fn create_dir_now(&self, path: &Path) -> io::Result<()> {
        match &self.0 {
            Backend::Real => std::fs::create_dir(path),
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => s.create_dir(path),
        }
    }

    /// Hard-links `from` as `to` with a blocking call (checkpoints).
    pub(crate) fn hard_link_now(&self, from: &Path, to: &Path) -> io::Result<()> {
        match &self.0 {
            Backend::Real => std::fs::hard_link(from, to),
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => s.hard_link(from, to),
        }
    }

    pub(crate) async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match &self.0 {
            Backend::Real => frys_runtime::fs::rename(from, to).await,
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => {
                simulated_io().await;
                s.rename(from, to)
            }
        }
    }

    pub(crate) async fn remove_file(&self, path: &Path) -> io::Result<()> {
        match &self.0 {
            Backend::Real => frys_runtime::fs::remove_file(path).await,
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => {
                simulated_io().await;
                s.remove_file(path)
            }
        }
    }

    /// Makes the entries of `dir` durable (see the module docs).
    pub(crate) async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        match &self.0 {
            Backend::Real => frys_runtime::fs::sync_dir(dir).await,
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => {
                simulated_io().await;
                s.sync_dir(dir)
            }
        }
    }

    /// The names in `dir` (blocking; at open only).
    pub(crate) fn list_now(&self, dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
        match &self.0 {
            Backend::Real => {
                let mut out = Vec::new();
                for entry in std::fs::read_dir(dir)? {
                    let entry = entry?;
                    if let Some(name) = entry.file_name().to_str() {
                        out.push((name.to_string(), entry.path()));
                    }
                }
                Ok(out)
            }
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => s.list(dir),
        }
    }

    /// A file's length (blocking; at open only).
    pub(crate) fn len_now(&self, path: &Path) -> io::Result<u64> {
        match &self.0 {
            Backend::Real => std::fs::metadata(path).map(|m| m.len()),
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => s.len(path),
        }
    }

    /// Locks `dir/file_name` for one owner (see [`DirLock`](crate::DirLock)).
    pub(crate) fn lock(&self, dir: &Path, file_name: &str) -> crate::Result<crate::DirLock> {
        match &self.0 {
            Backend::Real => crate::DirLock::acquire(dir, file_name),
            #[cfg(any(test, feature = "fault-injection"))]
            Backend::Fault(s) => s.lock(dir, file_name),
        }
    }
}

/// A simulated call completes at the next tick, not at once, as real I/O
/// does: other tasks (commits, flushes, compactions) run in between, so
/// crash tests see their interleavings.
#[cfg(any(test, feature = "fault-injection"))]
async fn simulated_io() {
    frys_runtime::yield_now().await;
}

impl File {
    /// Reads `len` bytes at `offset`; end of file first is `UnexpectedEof`.
    pub(crate) async fn read_exact_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        match self {
            File::Real(f) => f.read_exact_at(len, offset).await,
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => {
                simulated_io().await;
                f.read_exact_at(len, offset)
            }
        }
    }

    /// As [`read_exact_at`](Self::read_exact_at), blocking the calling
    /// thread (a merge step that outran its readahead).
    pub(crate) fn read_exact_at_now(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        match self {
            File::Real(f) => f.read_exact_at_now(len, offset),
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => f.read_exact_at(len, offset),
        }
    }

    /// Writes all of `bytes` at `offset` on the driver; gives the buffer
    /// back. On error, a prefix may have been written.
    pub(crate) async fn write_all_at(
        &self,
        bytes: Vec<u8>,
        offset: u64,
    ) -> (io::Result<()>, Vec<u8>) {
        match self {
            File::Real(f) => f.write_all_at(bytes, offset).await,
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => {
                simulated_io().await;
                (f.write_all_at(&bytes, offset), bytes)
            }
        }
    }

    /// Writes all of `bytes` at `offset` with a blocking call on the core
    /// thread: a buffered append is a copy into the page cache (see
    /// `db::log`). On error, a prefix may have been written.
    pub(crate) fn write_all_at_now(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        match self {
            File::Real(f) => f.write_all_at_now(bytes, offset),
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => f.write_all_at(bytes, offset),
        }
    }

    /// `fsync`: data and metadata.
    pub(crate) async fn sync_all(&self) -> io::Result<()> {
        match self {
            File::Real(f) => f.file.sync_all().await,
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => {
                simulated_io().await;
                f.sync()
            }
        }
    }

    /// `fdatasync`: data and the metadata needed to read it back.
    pub(crate) async fn sync_data(&self) -> io::Result<()> {
        match self {
            File::Real(f) => f.file.sync_data().await,
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => {
                simulated_io().await;
                f.sync()
            }
        }
    }

    pub(crate) async fn len(&self) -> io::Result<u64> {
        match self {
            File::Real(f) => f.file.metadata().await.map(|m| m.len()),
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => {
                simulated_io().await;
                f.len()
            }
        }
    }

    /// Truncates (or extends with zeros) to `len`; volatile until synced.
    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        match self {
            File::Real(f) => f.file.set_len(len),
            #[cfg(any(test, feature = "fault-injection"))]
            File::Fault(f) => f.set_len(len),
        }
    }
}

/// The directory holding `path`'s entry: its parent, or `.` for a
/// relative name with none (`Path::parent` gives an empty path then).
/// The root is its own parent.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => path,
    }
}
