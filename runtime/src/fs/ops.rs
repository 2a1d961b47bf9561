//! The operations of files and paths: io_uring SQEs or, on epoll, blocking
//! system calls that the driver runs on its thread pool.
//!
//! Paths are `CString`s owned by the operation, so the kernel reads them
//! from the operation's box, which lives until the completion. File
//! operations hold a clone of the file's `Arc<OwnedFd>` so the fd stays open
//! until every operation naming it has completed.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use io_uring::{opcode, squeue, types};

use crate::buf::{self, IoBuf, IoBufMut};
use crate::driver::{Op, Operation, Syscall};

/// `openat(AT_FDCWD, path, flags | O_CLOEXEC, mode)`.
pub(crate) struct OpenAt {
    path: CString,
    flags: libc::c_int,
    mode: libc::mode_t,
}

impl Operation for OpenAt {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags | libc::O_CLOEXEC)
            .mode(self.mode)
            .build()
    }

    fn syscall(&mut self) -> Syscall {
        Syscall::OpenAt {
            path: self.path.as_ptr(),
            flags: self.flags,
            mode: self.mode,
        }
    }

    fn orphan_completed(self: Box<Self>, result: i32) {
        if result >= 0 {
            // SAFETY: the kernel returned a new fd that nobody else knows.
            drop(unsafe { OwnedFd::from_raw_fd(result) });
        }
    }
}

pub(crate) async fn open(
    path: CString,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let done = Op::submit(OpenAt { path, flags, mode })
        .map_err(|(e, _)| e)?
        .await;
    let fd = done.result?;
    // SAFETY: the kernel returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `pread` into `buf[start..bytes_total]` at file offset `offset`.
pub(crate) struct ReadAt<B> {
    fd: Arc<OwnedFd>,
    buf: B,
    start: usize,
    offset: u64,
}

impl<B: IoBufMut> ReadAt<B> {
    /// Where the read lands: `buf[start..bytes_total]` (`start` clamped).
    fn target(&mut self) -> (*mut u8, usize) {
        let start = self.start.min(self.buf.bytes_total());
        // In bounds: `start <= bytes_total()`.
        let ptr = self.buf.stable_mut_ptr().wrapping_add(start);
        (ptr, self.buf.bytes_total() - start)
    }
}

impl<B: IoBufMut> Operation for ReadAt<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let (ptr, len) = self.target();
        opcode::Read::new(types::Fd(self.fd.as_raw_fd()), ptr, buf::sqe_len(len))
            .offset(self.offset)
            .build()
    }

    fn syscall(&mut self) -> Syscall {
        let (buf, len) = self.target();
        Syscall::ReadAt {
            fd: self.fd.as_raw_fd(),
            buf,
            len,
            offset: self.offset,
        }
    }
}

/// Reads at `offset` into `buf` from byte `start` on; returns the count.
pub(crate) async fn read_at<B: IoBufMut>(
    fd: &Arc<OwnedFd>,
    buf: B,
    start: usize,
    offset: u64,
) -> (io::Result<usize>, B) {
    let op = ReadAt {
        fd: fd.clone(),
        buf,
        start,
        offset,
    };
    let done = match buf::submit(op) {
        Ok(op) => op.await,
        Err((e, data)) => return (Err(e), data.buf),
    };
    let mut buf = done.data.buf;
    let result = done.result.map(|n| {
        let n = n as usize;
        // SAFETY: the kernel wrote `n` bytes at `start`, and `n` is at most
        // the `bytes_total() - start` we asked for, so `0..start + n` is
        // initialized (the prefix by an earlier read or by the caller).
        unsafe { buf.set_init(start + n) };
        n
    });
    (result, buf)
}

/// `pwrite` of `buf[start..bytes_init]` at file offset `offset`.
pub(crate) struct WriteAt<B> {
    fd: Arc<OwnedFd>,
    buf: B,
    start: usize,
    offset: u64,
}

impl<B: IoBuf> WriteAt<B> {
    /// What is written: `buf[start..bytes_init]` (`start` clamped).
    fn source(&self) -> (*const u8, usize) {
        let start = self.start.min(self.buf.bytes_init());
        // In bounds: `start <= bytes_init()`.
        let ptr = self.buf.stable_ptr().wrapping_add(start);
        (ptr, self.buf.bytes_init() - start)
    }
}

impl<B: IoBuf> Operation for WriteAt<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let (ptr, len) = self.source();
        opcode::Write::new(types::Fd(self.fd.as_raw_fd()), ptr, buf::sqe_len(len))
            .offset(self.offset)
            .build()
    }

    fn syscall(&mut self) -> Syscall {
        let (buf, len) = self.source();
        Syscall::WriteAt {
            fd: self.fd.as_raw_fd(),
            buf,
            len,
            offset: self.offset,
        }
    }
}

pub(crate) async fn write_at<B: IoBuf>(
    fd: &Arc<OwnedFd>,
    buf: B,
    start: usize,
    offset: u64,
) -> (io::Result<usize>, B) {
    let op = WriteAt {
        fd: fd.clone(),
        buf,
        start,
        offset,
    };
    match buf::submit(op) {
        Ok(op) => {
            let done = op.await;
            (done.result.map(|n| n as usize), done.data.buf)
        }
        Err((e, data)) => (Err(e), data.buf),
    }
}

/// `fsync` or, with `data_only`, `fdatasync`.
pub(crate) struct Fsync {
    fd: Arc<OwnedFd>,
    data_only: bool,
}

impl Operation for Fsync {
    fn sqe(&mut self) -> squeue::Entry {
        let flags = if self.data_only {
            types::FsyncFlags::DATASYNC
        } else {
            types::FsyncFlags::empty()
        };
        opcode::Fsync::new(types::Fd(self.fd.as_raw_fd()))
            .flags(flags)
            .build()
    }

    fn syscall(&mut self) -> Syscall {
        Syscall::Fsync {
            fd: self.fd.as_raw_fd(),
            data_only: self.data_only,
        }
    }
}

pub(crate) async fn fsync(fd: &Arc<OwnedFd>, data_only: bool) -> io::Result<()> {
    let op = Op::submit(Fsync {
        fd: fd.clone(),
        data_only,
    })
    .map_err(|(e, _)| e)?;
    op.await.result.map(drop)
}

/// The path operations that take no buffer and return only a status.
pub(crate) enum PathOp {
    MkDir { path: CString, mode: libc::mode_t },
    Unlink { path: CString, flags: libc::c_int },
    Rename { from: CString, to: CString },
}

impl Operation for PathOp {
    fn sqe(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        match self {
            PathOp::MkDir { path, mode } => {
                opcode::MkDirAt::new(cwd, path.as_ptr()).mode(*mode).build()
            }
            PathOp::Unlink { path, flags } => opcode::UnlinkAt::new(cwd, path.as_ptr())
                .flags(*flags)
                .build(),
            PathOp::Rename { from, to } => {
                opcode::RenameAt::new(cwd, from.as_ptr(), cwd, to.as_ptr()).build()
            }
        }
    }

    fn syscall(&mut self) -> Syscall {
        match self {
            PathOp::MkDir { path, mode } => Syscall::MkDirAt {
                path: path.as_ptr(),
                mode: *mode,
            },
            PathOp::Unlink { path, flags } => Syscall::UnlinkAt {
                path: path.as_ptr(),
                flags: *flags,
            },
            PathOp::Rename { from, to } => Syscall::RenameAt {
                from: from.as_ptr(),
                to: to.as_ptr(),
            },
        }
    }
}

pub(crate) async fn path_op(op: PathOp) -> io::Result<()> {
    Op::submit(op).map_err(|(e, _)| e)?.await.result.map(drop)
}

/// `statx` of a path (relative to the cwd), or of `fd` itself when `fd` is
/// given and the path is empty (`AT_EMPTY_PATH`).
pub(crate) struct Statx {
    fd: Option<Arc<OwnedFd>>,
    path: CString,
    flags: libc::c_int,
    statx: libc::statx,
}

impl Statx {
    pub(crate) fn of_path(path: CString, follow_symlinks: bool) -> Self {
        let flags = if follow_symlinks {
            0
        } else {
            libc::AT_SYMLINK_NOFOLLOW
        };
        Self::new(None, path, flags)
    }

    pub(crate) fn of_fd(fd: Arc<OwnedFd>) -> Self {
        Self::new(Some(fd), CString::default(), libc::AT_EMPTY_PATH)
    }

    fn new(fd: Option<Arc<OwnedFd>>, path: CString, flags: libc::c_int) -> Self {
        Self {
            fd,
            path,
            flags: flags | libc::AT_STATX_SYNC_AS_STAT,
            // SAFETY: `statx` is plain old data; all zero is a valid value.
            statx: unsafe { std::mem::zeroed() },
        }
    }
}

impl Statx {
    fn dirfd(&self) -> libc::c_int {
        self.fd.as_ref().map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd())
    }
}

impl Operation for Statx {
    fn sqe(&mut self) -> squeue::Entry {
        let out: *mut libc::statx = &mut self.statx;
        opcode::Statx::new(types::Fd(self.dirfd()), self.path.as_ptr(), out.cast())
            .flags(self.flags)
            .mask(libc::STATX_BASIC_STATS)
            .build()
    }

    fn syscall(&mut self) -> Syscall {
        Syscall::Statx {
            dirfd: self.dirfd(),
            path: self.path.as_ptr(),
            flags: self.flags,
            mask: libc::STATX_BASIC_STATS,
            out: &mut self.statx,
        }
    }
}

pub(crate) async fn statx(op: Statx) -> io::Result<libc::statx> {
    let done = Op::submit(op).map_err(|(e, _)| e)?.await;
    done.result?;
    Ok(done.data.statx)
}
