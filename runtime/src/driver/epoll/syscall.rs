//! [`Syscall`]: the epoll driver's equivalent of an SQE — one system call
//! described by plain values and raw pointers into its operation.
//!
//! Invariant: every pointer in a `Syscall` points into the boxed operation
//! that built it (a buffer, an address, a `msghdr`, a path, a `statx`) or
//! at static memory, and the fds it names are held open by that operation.
//! The driver runs a `Syscall` only while that box is alive: held by the
//! `Op` future or, for a call running on the pool, by the driver's orphaned
//! slot until the pool has returned. That is the whole safety argument of
//! [`Syscall::attempt`] and [`Syscall::run_blocking`].
//!
//! Three classes:
//! - readiness calls on non-blocking sockets and eventfds: tried at once,
//!   and again each time epoll reports the fd ready, until they stop
//!   failing with `EAGAIN`;
//! - inline calls that never wait (`shutdown`);
//! - blocking calls (files and paths), which epoll cannot wait for: they run
//!   on the pool.
//!
//! Results follow the CQE convention: the non-negative value or `-errno`.

use std::os::fd::RawFd;

use super::source::SourceRef;
use crate::driver::PoolRecv;

/// What a readiness call waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

/// How the driver runs a [`Syscall`].
pub(crate) enum Class {
    /// Try now; on `EAGAIN` wait until `fd` is ready for `interest`.
    Ready {
        fd: RawFd,
        source: SourceRef,
        interest: Interest,
    },
    /// Run now; it never waits.
    Inline,
    /// Run on the pool.
    Blocking,
}

/// The outcome of one try of a readiness call.
pub(crate) enum Attempt {
    /// Finished, with a CQE-style result.
    Done(i32),
    /// `EAGAIN`: wait for readiness and try again.
    WouldBlock,
}

/// One system call of an operation (see the module docs).
#[derive(Debug)]
pub(crate) enum Syscall {
    Accept {
        fd: RawFd,
        source: SourceRef,
        addr: *mut libc::sockaddr,
        len: *mut libc::socklen_t,
    },
    Connect {
        fd: RawFd,
        source: SourceRef,
        addr: *const libc::sockaddr,
        len: libc::socklen_t,
    },
    /// A non-blocking `connect` in progress: done when writable, with the
    /// socket's pending error.
    ConnectResult {
        fd: RawFd,
        source: SourceRef,
    },
    Recv {
        fd: RawFd,
        source: SourceRef,
        buf: *mut u8,
        len: usize,
    },
    Send {
        fd: RawFd,
        source: SourceRef,
        buf: *const u8,
        len: usize,
    },
    /// `recv` into a buffer of the core's pool, taken only for the call.
    RecvPooled {
        fd: RawFd,
        source: SourceRef,
        target: *mut PoolRecv,
    },
    RecvMsg {
        fd: RawFd,
        source: SourceRef,
        msg: *mut libc::msghdr,
    },
    SendMsg {
        fd: RawFd,
        source: SourceRef,
        msg: *const libc::msghdr,
    },
    /// `read` of a non-blocking fd that is not a socket (an eventfd).
    Read {
        fd: RawFd,
        source: SourceRef,
        buf: *mut u8,
        len: usize,
    },
    Shutdown {
        fd: RawFd,
        how: libc::c_int,
    },
    OpenAt {
        path: *const libc::c_char,
        flags: libc::c_int,
        mode: libc::mode_t,
    },
    ReadAt {
        fd: RawFd,
        buf: *mut u8,
        len: usize,
        offset: u64,
    },
    WriteAt {
        fd: RawFd,
        buf: *const u8,
        len: usize,
        offset: u64,
    },
    Fsync {
        fd: RawFd,
        data_only: bool,
    },
    MkDirAt {
        path: *const libc::c_char,
        mode: libc::mode_t,
    },
    UnlinkAt {
        path: *const libc::c_char,
        flags: libc::c_int,
    },
    RenameAt {
        from: *const libc::c_char,
        to: *const libc::c_char,
    },
    Statx {
        dirfd: RawFd,
        path: *const libc::c_char,
        flags: libc::c_int,
        mask: libc::c_uint,
        out: *mut libc::statx,
    },
}

/// The most one read or write moves, as Linux caps it (`MAX_RW_COUNT`), so
/// every byte count fits the `i32` result.
const MAX_RW: usize = 0x7fff_f000;

impl Syscall {
    pub(crate) fn class(&self) -> Class {
        let (fd, source, interest) = match *self {
            Syscall::Accept { fd, source, .. }
            | Syscall::Recv { fd, source, .. }
            | Syscall::RecvPooled { fd, source, .. }
            | Syscall::RecvMsg { fd, source, .. }
            | Syscall::Read { fd, source, .. } => (fd, source, Interest::Read),
            Syscall::Connect { fd, source, .. }
            | Syscall::ConnectResult { fd, source }
            | Syscall::Send { fd, source, .. }
            | Syscall::SendMsg { fd, source, .. } => (fd, source, Interest::Write),
            Syscall::Shutdown { .. } => return Class::Inline,
            _ => return Class::Blocking,
        };
        Class::Ready {
            fd,
            source,
            interest,
        }
    }

    /// Tries a readiness or inline call once, without blocking (the fds are
    /// non-blocking and socket calls pass `MSG_DONTWAIT` besides). A
    /// `connect` that is in progress turns `self` into `ConnectResult`.
    ///
    /// # Safety
    ///
    /// The operation that built `self` is alive (module invariant).
    pub(crate) unsafe fn attempt(&mut self) -> Attempt {
        loop {
            // SAFETY: forwarded from our caller.
            let ret = unsafe { self.attempt_once() };
            match ret {
                r if r >= 0 => return Attempt::Done(r),
                r if r == -libc::EINTR => continue,
                r if r == -libc::EAGAIN || r == -libc::EWOULDBLOCK => {
                    // A Unix socket whose listener's backlog is full refuses
                    // a non-blocking connect with EAGAIN and would only ever
                    // be ready again by chance: report it, as tokio does.
                    if matches!(self, Syscall::Connect { .. }) {
                        return Attempt::Done(r);
                    }
                    return Attempt::WouldBlock;
                }
                r if r == -libc::EINPROGRESS => {
                    if let Syscall::Connect { fd, source, .. } = *self {
                        *self = Syscall::ConnectResult { fd, source };
                        return Attempt::WouldBlock;
                    }
                    return Attempt::Done(r);
                }
                r => return Attempt::Done(r),
            }
        }
    }

    /// # Safety
    ///
    /// As for [`attempt`](Self::attempt).
    unsafe fn attempt_once(&self) -> i32 {
        let dontwait = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        // SAFETY (every arm): the pointers point into the live operation
        // with the sizes it recorded (module invariant), and the fds are
        // held open by it.
        unsafe {
            match *self {
                Syscall::Accept { fd, addr, len, .. } => {
                    cvt(
                        libc::accept4(fd, addr, len, libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                            as isize,
                    )
                }
                Syscall::Connect { fd, addr, len, .. } => {
                    cvt(libc::connect(fd, addr, len) as isize)
                }
                Syscall::ConnectResult { fd, .. } => connect_result(fd),
                Syscall::Recv { fd, buf, len, .. } => cvt(libc::recv(
                    fd,
                    buf.cast(),
                    len.min(MAX_RW),
                    libc::MSG_DONTWAIT,
                )),
                // The target is a field of the live operation's box, which
                // nothing else accesses while the driver runs its call.
                Syscall::RecvPooled { fd, target, .. } => (*target).attempt(fd),
                Syscall::Send { fd, buf, len, .. } => {
                    cvt(libc::send(fd, buf.cast(), len.min(MAX_RW), dontwait))
                }
                Syscall::RecvMsg { fd, msg, .. } => cvt(libc::recvmsg(fd, msg, libc::MSG_DONTWAIT)),
                Syscall::SendMsg { fd, msg, .. } => cvt(libc::sendmsg(fd, msg, dontwait)),
                Syscall::Read { fd, buf, len, .. } => {
                    cvt(libc::read(fd, buf.cast(), len.min(MAX_RW)))
                }
                Syscall::Shutdown { fd, how } => cvt(libc::shutdown(fd, how) as isize),
                _ => -libc::EINVAL,
            }
        }
    }

    /// Runs a blocking call to completion (on a pool thread), retrying on
    /// `EINTR`.
    ///
    /// # Safety
    ///
    /// As for [`attempt`](Self::attempt); nothing else touches the memory
    /// the call writes until it returns.
    pub(crate) unsafe fn run_blocking(&self) -> i32 {
        loop {
            // SAFETY (every arm): as in `attempt_once`; the pointed-to
            // paths are NUL-terminated `CString`s of the operation.
            let ret = unsafe {
                match *self {
                    Syscall::OpenAt { path, flags, mode } => {
                        cvt(
                            libc::openat(libc::AT_FDCWD, path, flags | libc::O_CLOEXEC, mode)
                                as isize,
                        )
                    }
                    Syscall::ReadAt {
                        fd,
                        buf,
                        len,
                        offset,
                    } => match libc::off_t::try_from(offset) {
                        Ok(off) => cvt(libc::pread(fd, buf.cast(), len.min(MAX_RW), off)),
                        Err(_) => -libc::EINVAL,
                    },
                    Syscall::WriteAt {
                        fd,
                        buf,
                        len,
                        offset,
                    } => match libc::off_t::try_from(offset) {
                        Ok(off) => cvt(libc::pwrite(fd, buf.cast(), len.min(MAX_RW), off)),
                        Err(_) => -libc::EINVAL,
                    },
                    Syscall::Fsync { fd, data_only } => {
                        let ret = if data_only {
                            libc::fdatasync(fd)
                        } else {
                            libc::fsync(fd)
                        };
                        cvt(ret as isize)
                    }
                    Syscall::MkDirAt { path, mode } => {
                        cvt(libc::mkdirat(libc::AT_FDCWD, path, mode) as isize)
                    }
                    Syscall::UnlinkAt { path, flags } => {
                        cvt(libc::unlinkat(libc::AT_FDCWD, path, flags) as isize)
                    }
                    Syscall::RenameAt { from, to } => {
                        cvt(libc::renameat(libc::AT_FDCWD, from, libc::AT_FDCWD, to) as isize)
                    }
                    Syscall::Statx {
                        dirfd,
                        path,
                        flags,
                        mask,
                        out,
                    } => super::statx::statx(dirfd, path, flags, mask, out),
                    // Readiness calls never reach the pool; run them once.
                    _ => self.attempt_once(),
                }
            };
            if ret != -libc::EINTR {
                return ret;
            }
        }
    }
}

/// The outcome of a non-blocking `connect` once the socket is writable:
/// its pending error, or success if it is connected. Still connecting (a
/// spurious wake) is `EAGAIN`.
fn connect_result(fd: RawFd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` and `len` are live locals of the sizes given.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if ret < 0 {
        return -errno();
    }
    if err != 0 {
        return -err;
    }
    // SAFETY: an all-zero `sockaddr_storage` is valid; the kernel writes at
    // most `len` bytes into it.
    let mut peer: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as above, `peer` has room for `len` bytes.
    let ret = unsafe {
        libc::getpeername(
            fd,
            (&mut peer as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    match ret {
        0 => 0,
        _ if errno() == libc::ENOTCONN => -libc::EAGAIN,
        _ => -errno(),
    }
}

/// A syscall's return value as a CQE-style result.
fn cvt(ret: isize) -> i32 {
    if ret < 0 {
        -errno()
    } else {
        // Byte counts are capped at `MAX_RW` and fds are small: it fits.
        i32::try_from(ret).unwrap_or(i32::MAX)
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
