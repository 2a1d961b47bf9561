//! Socket creation and the few synchronous socket calls (`bind`, `listen`,
//! `setsockopt`, `getsockname`...). These never block, so they run as plain
//! syscalls; everything that waits goes through the core's driver (see
//! `ops`).
//!
//! Sockets are `SOCK_CLOEXEC`, created in the mode the current core's
//! driver wants (blocking for io_uring and off a core, non-blocking for
//! epoll); each driver switches the mode if it differs (see `fd`).

use std::io;
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use super::addr::SockAddr;
use super::fd::SocketFd;
use crate::driver::DriverKind;
use crate::runtime::context;

/// Creates a socket of `family` (`AF_INET`...) and `ty` (`SOCK_STREAM`...).
pub(crate) fn new_socket(family: libc::c_int, ty: libc::c_int) -> io::Result<SocketFd> {
    let nonblocking = context::driver_kind() == Some(DriverKind::Epoll);
    let mode = if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC | mode, 0) })?;
    // SAFETY: `socket` just returned this fd and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(SocketFd::new(fd, nonblocking))
}

/// Sets an integer socket option.
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option value points at a live `c_int` of the given size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Reads an integer socket option.
pub(crate) fn int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len point at live locals of the sizes given.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

pub(crate) fn bind(fd: RawFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` points at `addr.len()` valid bytes of a sockaddr.
    cvt(unsafe { libc::bind(fd, addr.as_ptr(), addr.len()) })?;
    Ok(())
}

pub(crate) fn listen(fd: RawFd, backlog: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    cvt(unsafe { libc::listen(fd, backlog) })?;
    Ok(())
}

/// The local IP address of a socket.
pub(crate) fn local_addr(fd: RawFd) -> io::Result<SocketAddr> {
    let mut addr = SockAddr::empty();
    // SAFETY: `addr` has room for any address and its length field says so.
    cvt(unsafe { libc::getsockname(fd, addr.as_mut_ptr(), addr.len_mut()) })?;
    addr.to_std()
}

/// The remote IP address of a connected socket.
pub(crate) fn peer_addr(fd: RawFd) -> io::Result<SocketAddr> {
    let mut addr = SockAddr::empty();
    // SAFETY: as in `local_addr`.
    cvt(unsafe { libc::getpeername(fd, addr.as_mut_ptr(), addr.len_mut()) })?;
    addr.to_std()
}

/// Runs `f` on a std view of `fd` (for calls std already implements, such
/// as Unix socket addresses) without taking ownership of the fd.
pub(crate) fn with_std<S, R>(fd: RawFd, f: impl FnOnce(&S) -> R) -> R
where
    S: FromRawFd + IntoRawFd,
{
    // SAFETY: the caller's fd stays open for the whole call (it is borrowed
    // from an owner that outlives it), and `ManuallyDrop` keeps the view from
    // closing it.
    let view = ManuallyDrop::new(unsafe { S::from_raw_fd(fd) });
    f(&view)
}

/// Takes over a std socket in whatever mode it is in (the drivers switch it
/// as they need, see module docs).
pub(crate) fn from_std<S: Into<OwnedFd>>(socket: S) -> io::Result<Arc<SocketFd>> {
    let fd: OwnedFd = socket.into();
    // SAFETY: fcntl with integer arguments on an fd we own.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    Ok(Arc::new(SocketFd::new(fd, flags & libc::O_NONBLOCK != 0)))
}

/// Gives up ownership of the fd. If abandoned operations still name it,
/// the caller gets a duplicate instead (see `raw_fd`).
pub(crate) fn into_raw_fd(fd: Arc<SocketFd>) -> RawFd {
    crate::raw_fd::release(fd, SocketFd::into_owned)
}

pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
