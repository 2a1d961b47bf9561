//! [`SocketFd`]: a socket's fd and what the two drivers need to know about
//! it.
//!
//! io_uring wants blocking sockets (it waits itself, and on some kernels a
//! non-blocking listener makes its accept fail with `EAGAIN` instead of
//! waiting); epoll needs non-blocking ones. Each driver puts the socket in its mode just before an operation
//! on it ([`for_uring`](SocketFd::for_uring), [`for_epoll`](SocketFd::for_epoll)),
//! so a socket can be created anywhere (a `bind` outside the runtime, a
//! `from_std`) and move between runtimes on different drivers. Sockets
//! created or accepted on a core start in that core's mode, so the switch
//! (one `fcntl`) only happens when a socket changes driver.
//!
//! Invariant: `nonblocking` mirrors the fd's `O_NONBLOCK`, which only this
//! type changes. Using one socket from cores of both drivers *at the same
//! time* is not supported: an operation may then see `EAGAIN` or block its
//! core (memory stays safe).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::driver::{SourceRef, SourceState};

/// An owned socket fd (see the module docs).
#[derive(Debug)]
pub(crate) struct SocketFd {
    fd: OwnedFd,
    nonblocking: AtomicBool,
    /// The epoll drivers' registration state.
    source: SourceState,
    /// The kernel refused a `SEND_ZC` on this socket (`EOPNOTSUPP`: not
    /// TCP, e.g. a Unix stream); its sends are plain `SEND`s from then on.
    zero_copy_refused: AtomicBool,
}

impl SocketFd {
    /// Wraps `fd`, whose `O_NONBLOCK` is `nonblocking`.
    pub(crate) fn new(fd: OwnedFd, nonblocking: bool) -> Self {
        Self {
            fd,
            nonblocking: AtomicBool::new(nonblocking),
            source: SourceState::new(),
            zero_copy_refused: AtomicBool::new(false),
        }
    }

    /// The fd, in blocking mode, for an io_uring operation.
    pub(crate) fn for_uring(&self) -> RawFd {
        self.set_mode(false);
        self.fd.as_raw_fd()
    }

    /// The fd, in non-blocking mode, and its registration state, for an
    /// epoll operation.
    pub(crate) fn for_epoll(&self) -> (RawFd, SourceRef) {
        self.set_mode(true);
        (self.fd.as_raw_fd(), SourceRef::new(&self.source))
    }

    /// Whether a `SEND_ZC` may be tried on this socket.
    pub(crate) fn zero_copy_allowed(&self) -> bool {
        !self.zero_copy_refused.load(Ordering::Relaxed)
    }

    /// The kernel refused a `SEND_ZC` on this socket: never try again.
    pub(crate) fn refuse_zero_copy(&self) {
        self.zero_copy_refused.store(true, Ordering::Relaxed);
    }

    /// Gives up the wrapper; the fd keeps its current mode.
    pub(crate) fn into_owned(self) -> OwnedFd {
        self.fd
    }

    fn set_mode(&self, nonblocking: bool) {
        if self.nonblocking.load(Ordering::Relaxed) == nonblocking {
            return;
        }
        match set_nonblocking(self.fd.as_raw_fd(), nonblocking) {
            Ok(()) => self.nonblocking.store(nonblocking, Ordering::Relaxed),
            // Only fails on a bad fd, which the operation will report.
            Err(e) => tracing::debug!(error = %e, "cannot switch a socket's blocking mode"),
        }
    }
}

impl AsRawFd for SocketFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Sets or clears `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: RawFd, nonblocking: bool) -> io::Result<()> {
    // SAFETY: fcntl with integer arguments on an fd the caller holds.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    if wanted != flags && unsafe { libc::fcntl(fd, libc::F_SETFL, wanted) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
