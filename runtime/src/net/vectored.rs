//! Vectored sends: one `sendmsg` (an io_uring `SENDMSG` SQE, or on epoll
//! one readiness `sendmsg` call) for a message made of several buffers,
//! with `MSG_NOSIGNAL` (a closed peer is `EPIPE`, never `SIGPIPE`, which a
//! plain `writev` would raise).
//!
//! The `iovec` array and the `msghdr` live in the boxed operation; they are
//! filled in `sqe()` / `syscall()`, when the operation is at its final
//! address, and point into the buffers, which the operation owns until it
//! completes (`driver::op` invariant). One call takes at most `IOV_MAX`
//! buffers; the rest is a short send, which `send_all_vectored` resumes.

use std::io;
use std::sync::Arc;

use io_uring::{opcode, squeue, types};

use super::fd::SocketFd;
use super::msg::empty_msghdr;
use crate::buf::{self, IoBuf};
use crate::driver::{Operation, Syscall};

/// The most buffers one `sendmsg` takes (Linux's `UIO_MAXIOV`).
const IOV_MAX: usize = 1024;

/// `sendmsg` of the initialized bytes of `bufs`, after the first `skip`.
struct SendVectored<B> {
    fd: Arc<SocketFd>,
    bufs: Vec<B>,
    skip: usize,
    iovs: Vec<libc::iovec>,
    msg: libc::msghdr,
}

impl<B: IoBuf> SendVectored<B> {
    /// Points the header at `iovs` and `iovs` at the unsent bytes.
    fn prepare(&mut self) {
        self.iovs.clear();
        let mut skip = self.skip;
        for b in &self.bufs {
            let len = b.bytes_init();
            if skip >= len {
                skip -= len;
                continue;
            }
            self.iovs.push(libc::iovec {
                // In bounds: `skip < len = bytes_init() <= bytes_total()`.
                iov_base: b.stable_ptr().wrapping_add(skip) as *mut libc::c_void,
                iov_len: len - skip,
            });
            skip = 0;
            if self.iovs.len() == IOV_MAX {
                break;
            }
        }
        self.msg = empty_msghdr();
        self.msg.msg_iov = self.iovs.as_mut_ptr();
        self.msg.msg_iovlen = self.iovs.len() as _;
    }
}

impl<B: IoBuf> Operation for SendVectored<B> {
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

/// Sends the initialized bytes of `bufs`, in order, from byte `skip` on;
/// returns how many the kernel took.
async fn send_vectored_from<B: IoBuf>(
    fd: &Arc<SocketFd>,
    bufs: Vec<B>,
    skip: usize,
) -> (io::Result<usize>, Vec<B>) {
    let op = SendVectored {
        fd: fd.clone(),
        bufs,
        skip,
        iovs: Vec::new(),
        msg: empty_msghdr(),
    };
    match buf::submit(op) {
        Ok(op) => {
            let done = op.await;
            (done.result.map(|n| n as usize), done.data.bufs)
        }
        Err((e, data)) => (Err(e), data.bufs),
    }
}

pub(crate) async fn send_vectored<B: IoBuf>(
    fd: &Arc<SocketFd>,
    bufs: Vec<B>,
) -> (io::Result<usize>, Vec<B>) {
    send_vectored_from(fd, bufs, 0).await
}

/// Sends every initialized byte of `bufs`, resuming after short sends.
pub(crate) async fn send_all_vectored<B: IoBuf>(
    fd: &Arc<SocketFd>,
    mut bufs: Vec<B>,
) -> (io::Result<()>, Vec<B>) {
    let total: usize = bufs.iter().map(IoBuf::bytes_init).sum();
    let mut sent = 0;
    while sent < total {
        let (result, back) = send_vectored_from(fd, bufs, sent).await;
        bufs = back;
        match result {
            Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), bufs),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), bufs),
        }
    }
    (Ok(()), bufs)
}
