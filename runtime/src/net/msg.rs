//! `sendmsg`/`recvmsg` of one datagram with its peer address.
//!
//! The `msghdr`, its single `iovec` and the address storage live inside the
//! boxed operation; `sqe()` / `syscall()` point them at each other and at
//! the buffer once the operation is at its final address, as the driver
//! guarantees.

use std::io;
use std::mem;
use std::sync::Arc;

use io_uring::{opcode, squeue, types};

use super::addr::SockAddr;
use super::fd::SocketFd;
use crate::buf::{self, IoBuf, IoBufMut};
use crate::driver::{Operation, Syscall};

/// Sends the initialized bytes of `buf` to `addr` as one datagram.
pub(crate) struct SendMsg<B> {
    fd: Arc<SocketFd>,
    buf: B,
    addr: SockAddr,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<B: IoBuf> SendMsg<B> {
    /// Points the header at the address and the buffer (in `self`).
    fn prepare(&mut self) {
        self.iov = libc::iovec {
            iov_base: self.buf.stable_ptr() as *mut libc::c_void,
            iov_len: self.buf.bytes_init(),
        };
        self.msg = empty_msghdr();
        self.msg.msg_name = self.addr.as_mut_ptr().cast();
        self.msg.msg_namelen = self.addr.len();
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
    }
}

impl<B: IoBuf> Operation for SendMsg<B> {
    fn sqe(&mut self) -> squeue::Entry {
        self.prepare();
        opcode::SendMsg::new(types::Fd(self.fd.for_uring()), &self.msg)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build()
    }

    fn syscall(&mut self) -> Syscall {
        self.prepare();
        let (fd, source) = self.fd.for_epoll();
        Syscall::SendMsg {
            fd,
            source,
            msg: &self.msg,
        }
    }
}

pub(crate) async fn send_to<B: IoBuf>(
    fd: &Arc<SocketFd>,
    buf: B,
    addr: SockAddr,
) -> (io::Result<usize>, B) {
    let op = SendMsg {
        fd: fd.clone(),
        buf,
        addr,
        iov: empty_iovec(),
        msg: empty_msghdr(),
    };
    match buf::submit(op) {
        Ok(op) => {
            let done = op.await;
            (done.result.map(|n| n as usize), done.data.buf)
        }
        Err((e, data)) => (Err(e), data.buf),
    }
}

/// Receives one datagram into `buf`'s spare capacity (after its
/// initialized bytes) and its sender.
pub(crate) struct RecvMsg<B> {
    fd: Arc<SocketFd>,
    buf: B,
    /// `bytes_init()` when the op was made: where the datagram goes.
    start: usize,
    addr: SockAddr,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<B: IoBufMut> RecvMsg<B> {
    /// Points the header at the address storage and the buffer (in `self`).
    fn prepare(&mut self) {
        self.iov = libc::iovec {
            // SAFETY: `start <= bytes_total()`, so the offset stays inside
            // (or one past the end of) the buffer's allocation.
            iov_base: unsafe { self.buf.stable_mut_ptr().add(self.start) }.cast(),
            iov_len: self.buf.bytes_total() - self.start,
        };
        self.msg = empty_msghdr();
        self.msg.msg_name = self.addr.as_mut_ptr().cast();
        self.msg.msg_namelen = self.addr.len();
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
    }
}

impl<B: IoBufMut> Operation for RecvMsg<B> {
    fn sqe(&mut self) -> squeue::Entry {
        self.prepare();
        opcode::RecvMsg::new(types::Fd(self.fd.for_uring()), &mut self.msg).build()
    }

    fn syscall(&mut self) -> Syscall {
        self.prepare();
        let (fd, source) = self.fd.for_epoll();
        Syscall::RecvMsg {
            fd,
            source,
            msg: &mut self.msg,
        }
    }
}

pub(crate) async fn recv_from<B: IoBufMut>(
    fd: &Arc<SocketFd>,
    buf: B,
) -> (io::Result<(usize, SockAddr)>, B) {
    if buf.bytes_init() >= buf.bytes_total() {
        let e = io::Error::new(
            io::ErrorKind::InvalidInput,
            "receive into a buffer with no spare capacity (reserve room first, e.g. Vec::with_capacity)",
        );
        return (Err(e), buf);
    }
    let start = buf.bytes_init();
    let op = RecvMsg {
        fd: fd.clone(),
        buf,
        start,
        addr: SockAddr::empty(),
        iov: empty_iovec(),
        msg: empty_msghdr(),
    };
    let done = match buf::submit(op) {
        Ok(op) => op.await,
        Err((e, data)) => return (Err(e), data.buf),
    };
    let RecvMsg {
        mut buf,
        start,
        mut addr,
        msg,
        ..
    } = done.data;
    let result = done.result.map(|n| {
        let n = n as usize;
        // SAFETY: bytes `0..start` were initialized before, and the kernel
        // wrote `n <= bytes_total() - start` bytes from `start` (a longer
        // datagram is truncated to the spare room).
        unsafe { buf.set_init(start + n) };
        addr.set_len(msg.msg_namelen);
        (n, addr)
    });
    (result, buf)
}

pub(crate) fn empty_msghdr() -> libc::msghdr {
    // SAFETY: `msghdr` is plain old data (integers and raw pointers); all
    // zero is a valid, empty header.
    unsafe { mem::zeroed() }
}

fn empty_iovec() -> libc::iovec {
    libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }
}
