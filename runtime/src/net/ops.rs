//! The operations of connected and listening sockets, and their
//! `(result, buffer)` completions. Each is an io_uring SQE or, on epoll, a
//! readiness system call (`driver::Syscall`).
//!
//! Every operation holds a clone of the socket's `Arc<SocketFd>`, so the fd
//! is closed only after the socket value *and* every in-flight (possibly
//! abandoned) operation on it are gone. Without that, a socket dropped in the
//! same tick as an abandoned read would close its fd before the read's SQE
//! reaches the kernel, and a new socket could reuse the number.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use io_uring::{opcode, squeue, types};

use super::addr::SockAddr;
use super::fd::SocketFd;
use crate::buf::{self, IoBuf, IoBufMut};
use crate::driver::{Completion, Op, Operation, Syscall};
use crate::runtime::context;

/// `accept4` of one connection; the new fd is `SOCK_CLOEXEC`, and in the
/// accepting driver's mode.
pub(crate) struct Accept {
    fd: Arc<SocketFd>,
    peer: SockAddr,
    /// Whether the new fd is non-blocking (accepted by epoll).
    nonblocking: bool,
}

impl Operation for Accept {
    fn sqe(&mut self) -> squeue::Entry {
        self.nonblocking = false;
        opcode::Accept::new(
            types::Fd(self.fd.for_uring()),
            self.peer.as_mut_ptr(),
            self.peer.len_mut(),
        )
        .flags(libc::SOCK_CLOEXEC)
        .build()
    }

    fn syscall(&mut self) -> Syscall {
        self.nonblocking = true;
        let (fd, source) = self.fd.for_epoll();
        Syscall::Accept {
            fd,
            source,
            addr: self.peer.as_mut_ptr(),
            len: self.peer.len_mut(),
        }
    }

    fn orphan_completed(self: Box<Self>, result: i32) {
        if result >= 0 {
            // SAFETY: the kernel returned a new fd that nobody else knows.
            drop(unsafe { OwnedFd::from_raw_fd(result) });
        }
    }
}

/// Accepts one connection: the new socket and the peer's address.
pub(crate) async fn accept(fd: &Arc<SocketFd>) -> io::Result<(SocketFd, SockAddr)> {
    let op = Op::submit(Accept {
        fd: fd.clone(),
        peer: SockAddr::empty(),
        nonblocking: false,
    })
    .map_err(|(e, _)| e)?;
    let done = op.await;
    let new_fd = done.result?;
    // SAFETY: the kernel returned a new fd that nobody else owns.
    let stream = unsafe { OwnedFd::from_raw_fd(new_fd as i32) };
    Ok((SocketFd::new(stream, done.data.nonblocking), done.data.peer))
}

/// `connect` of a socket to an address.
pub(crate) struct Connect {
    fd: Arc<SocketFd>,
    addr: SockAddr,
}

impl Operation for Connect {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Connect::new(
            types::Fd(self.fd.for_uring()),
            self.addr.as_ptr(),
            self.addr.len(),
        )
        .build()
    }

    fn syscall(&mut self) -> Syscall {
        let (fd, source) = self.fd.for_epoll();
        Syscall::Connect {
            fd,
            source,
            addr: self.addr.as_ptr(),
            len: self.addr.len(),
        }
    }
}

pub(crate) async fn connect(fd: &Arc<SocketFd>, addr: SockAddr) -> io::Result<()> {
    let op = Op::submit(Connect {
        fd: fd.clone(),
        addr,
    })
    .map_err(|(e, _)| e)?;
    op.await.result.map(drop)
}

/// `recv` into a buffer's spare capacity: after its initialized bytes, up
/// to `bytes_total()`; the bytes received are appended.
pub(crate) struct Recv<B> {
    fd: Arc<SocketFd>,
    buf: B,
    /// `bytes_init()` when the op was made: where the kernel writes.
    start: usize,
}

impl<B: IoBufMut> Recv<B> {
    pub(crate) fn new(fd: Arc<SocketFd>, buf: B) -> Self {
        let start = buf.bytes_init().min(buf.bytes_total());
        Self { fd, buf, start }
    }

    /// The address and length of the spare capacity.
    fn spare(&mut self) -> (*mut u8, usize) {
        let len = self.buf.bytes_total() - self.start;
        // SAFETY: `start <= bytes_total()`, so the offset stays inside (or
        // one past the end of) the buffer's allocation, which the IoBufMut
        // contract makes valid for `bytes_total()` bytes.
        (unsafe { self.buf.stable_mut_ptr().add(self.start) }, len)
    }

    pub(crate) fn into_buf(self) -> B {
        self.buf
    }

    /// The bytes received and the buffer, marked initialized up to them.
    pub(crate) fn finish(done: Completion<Self>) -> (io::Result<usize>, B) {
        let start = done.data.start;
        let mut buf = done.data.buf;
        let result = done.result.map(|n| {
            let n = n as usize;
            // SAFETY: bytes `0..start` were initialized before the op and
            // the kernel wrote `n` bytes from `start`; `n` is at most the
            // spare length we passed, so `start + n <= bytes_total()`.
            unsafe { buf.set_init(start + n) };
            n
        });
        (result, buf)
    }
}

impl<B: IoBufMut> Operation for Recv<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let (ptr, len) = self.spare();
        opcode::Recv::new(types::Fd(self.fd.for_uring()), ptr, buf::sqe_len(len)).build()
    }

    fn syscall(&mut self) -> Syscall {
        let (fd, source) = self.fd.for_epoll();
        let (ptr, len) = self.spare();
        Syscall::Recv {
            fd,
            source,
            buf: ptr,
            len,
        }
    }
}

pub(crate) async fn recv<B: IoBufMut>(fd: &Arc<SocketFd>, buf: B) -> (io::Result<usize>, B) {
    if buf.bytes_init() >= buf.bytes_total() {
        // A read of 0 bytes would look like end of stream.
        let e = io::Error::new(
            io::ErrorKind::InvalidInput,
            "read into a buffer with no spare capacity (reserve room first, e.g. Vec::with_capacity)",
        );
        return (Err(e), buf);
    }
    match buf::submit(Recv::new(fd.clone(), buf)) {
        Ok(op) => Recv::finish(op.await),
        Err((e, data)) => (Err(e), data.buf),
    }
}

/// `send` of a buffer's initialized bytes from `offset` on. `MSG_NOSIGNAL`:
/// a closed peer is an `EPIPE` error, not a process-killing `SIGPIPE`.
pub(crate) struct Send<B> {
    fd: Arc<SocketFd>,
    buf: B,
    offset: usize,
    /// Sent as `SEND_ZC` on io_uring (see `Builder::send_zc_threshold`).
    zero_copy: bool,
}

impl<B: IoBuf> Send<B> {
    pub(crate) fn new(fd: Arc<SocketFd>, buf: B, offset: usize) -> Self {
        Self {
            fd,
            buf,
            offset,
            zero_copy: false,
        }
    }

    /// As `new`, zero-copy if the unsent bytes reach the core's
    /// `SEND_ZC` threshold and the socket has not refused zero-copy.
    fn new_maybe_zero_copy(fd: Arc<SocketFd>, buf: B, offset: usize) -> Self {
        let allowed = fd.zero_copy_allowed();
        let mut send = Self::new(fd, buf, offset);
        let threshold = context::with_driver(|d| d.send_zc_threshold()).flatten();
        send.zero_copy = allowed && threshold.is_some_and(|t| send.unsent().1 >= t);
        send
    }

    pub(crate) fn into_buf(self) -> B {
        self.buf
    }

    pub(crate) fn finish(done: Completion<Self>) -> (io::Result<usize>, B) {
        (done.result.map(|n| n as usize), done.data.buf)
    }
}

impl<B: IoBuf> Send<B> {
    /// The unsent bytes: from `offset` (clamped) to `bytes_init()`.
    fn unsent(&self) -> (*const u8, usize) {
        let offset = self.offset.min(self.buf.bytes_init());
        // In bounds: `offset <= bytes_init() <= bytes_total()`.
        let ptr = self.buf.stable_ptr().wrapping_add(offset);
        (ptr, self.buf.bytes_init() - offset)
    }
}

impl<B: IoBuf> Operation for Send<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let (ptr, len) = self.unsent();
        let fd = types::Fd(self.fd.for_uring());
        if self.zero_copy {
            // The driver completes the operation only at the kernel's
            // buffer notification, so the buffer outlives the kernel's use.
            return opcode::SendZc::new(fd, ptr, buf::sqe_len(len))
                .flags(libc::MSG_NOSIGNAL)
                .build();
        }
        opcode::Send::new(fd, ptr, buf::sqe_len(len))
            .flags(libc::MSG_NOSIGNAL)
            .build()
    }

    fn syscall(&mut self) -> Syscall {
        let (ptr, len) = self.unsent();
        let (fd, source) = self.fd.for_epoll();
        Syscall::Send {
            fd,
            source,
            buf: ptr,
            len,
        }
    }
}

pub(crate) async fn send<B: IoBuf>(fd: &Arc<SocketFd>, buf: B) -> (io::Result<usize>, B) {
    send_from(fd, buf, 0).await
}

async fn send_from<B: IoBuf>(fd: &Arc<SocketFd>, buf: B, offset: usize) -> (io::Result<usize>, B) {
    let send = Send::new_maybe_zero_copy(fd.clone(), buf, offset);
    let zero_copy = send.zero_copy;
    let (result, buf) = submit_send(send).await;
    match result {
        // Only TCP sockets take `SEND_ZC`; the kernel refuses it before
        // sending anything. Remember that, and send plainly.
        Err(e) if zero_copy && e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            fd.refuse_zero_copy();
            submit_send(Send::new(fd.clone(), buf, offset)).await
        }
        result => (result, buf),
    }
}

async fn submit_send<B: IoBuf>(send: Send<B>) -> (io::Result<usize>, B) {
    match buf::submit(send) {
        Ok(op) => Send::finish(op.await),
        Err((e, data)) => (Err(e), data.buf),
    }
}

/// Sends every initialized byte of `buf`, resuming after short sends.
pub(crate) async fn send_all<B: IoBuf>(fd: &Arc<SocketFd>, mut buf: B) -> (io::Result<()>, B) {
    let mut sent = 0;
    while sent < buf.bytes_init() {
        let (result, back) = send_from(fd, buf, sent).await;
        buf = back;
        match result {
            Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

/// `shutdown` of one or both directions.
pub(crate) struct Shutdown {
    fd: Arc<SocketFd>,
    how: libc::c_int,
}

impl Shutdown {
    pub(crate) fn new(fd: Arc<SocketFd>, how: std::net::Shutdown) -> Self {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        Self { fd, how }
    }
}

impl Operation for Shutdown {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Shutdown::new(types::Fd(self.fd.for_uring()), self.how).build()
    }

    fn syscall(&mut self) -> Syscall {
        let (fd, _) = self.fd.for_epoll();
        Syscall::Shutdown { fd, how: self.how }
    }
}

pub(crate) async fn shutdown(fd: &Arc<SocketFd>, how: std::net::Shutdown) -> io::Result<()> {
    let op = Op::submit(Shutdown::new(fd.clone(), how)).map_err(|(e, _)| e)?;
    op.await.result.map(drop)
}
