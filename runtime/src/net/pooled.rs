//! Pooled receives: a stream's bytes handed over in buffers of the core's
//! receive pool ([`PooledBuf`]), so a connection waiting for data holds no
//! buffer of its own.
//!
//! Two ways, chosen per call from the core's driver:
//! - **multishot** (io_uring with multishot receive and a provided buffer
//!   ring): one `RECV` SQE armed for the stream, which posts a CQE with a
//!   ring buffer for every chunk that arrives. CQEs queue in the driver's
//!   multishot slot, in arrival order, until the stream takes them, so a
//!   dropped `recv_pooled` future loses nothing. The stream re-arms when
//!   the kernel ends the operation (a CQE without `IORING_CQE_F_MORE`). The
//!   kernel ends it with `ENOBUFS` when the ring is empty, having consumed
//!   nothing: the stream then reads once, directly, into a heap pool
//!   buffer (the data is there, the ring is not), and re-arms on the next
//!   call — so an exhausted ring slows receives down but never loses or
//!   stalls them;
//! - **readiness** (epoll; io_uring without the fast path): wait until the
//!   socket is readable (epoll's edge, or an io_uring `POLL_ADD`), then one
//!   non-blocking `recv` into a heap pool buffer taken for that call.
//!
//! Invariants: a stream has at most one armed multishot operation
//! (`armed`), on the driver recorded with it; dropping the stream cancels
//! it (the driver returns the buffers of its queued and later CQEs to the
//! ring and keeps the socket open until the kernel's final CQE). If the
//! stream is dropped on a thread that no longer runs that driver (another
//! runtime entered on the same thread), the operation stays armed until
//! that driver is dropped, which cancels everything.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::Poll;

use io_uring::{cqueue, opcode, squeue, types};

use super::fd::SocketFd;
use crate::buf::PooledBuf;
use crate::driver::{MultishotCqe, MultishotKind, Op, Operation, PoolRecv, Syscall};
use crate::runtime::context;

/// A stream's pooled-receive state.
#[derive(Default)]
pub(crate) struct PooledRecv {
    armed: Cell<Option<Armed>>,
}

#[derive(Clone, Copy)]
struct Armed {
    driver: u64,
    token: u64,
}

/// What a pooled receive got.
enum Got {
    Data(PooledBuf),
    Eof,
    /// Nothing yet: wait and try again.
    Retry,
}

impl PooledRecv {
    /// The next bytes of the stream, `None` at end of stream.
    pub(crate) async fn recv(&self, fd: &Arc<SocketFd>) -> io::Result<Option<PooledBuf>> {
        let multishot = context::with_driver(|d| d.features().recv_multishot)
            .ok_or_else(context::not_on_core)?;
        loop {
            let got = if multishot {
                self.recv_multishot(fd).await?
            } else {
                recv_ready(fd).await?
            };
            match got {
                Got::Data(buf) => return Ok(Some(buf)),
                Got::Eof => return Ok(None),
                Got::Retry => {}
            }
        }
    }

    async fn recv_multishot(&self, fd: &Arc<SocketFd>) -> io::Result<Got> {
        let armed = self.arm(fd)?;
        let polled = poll_fn(|cx| {
            match context::with_driver(|d| {
                (d.id() == armed.driver).then(|| d.poll_multishot(armed.token, cx))
            }) {
                Some(Some(p)) => p,
                _ => Poll::Ready(None),
            }
        })
        .await;
        let Some(cqe) = polled else {
            // Over (or armed on a driver this thread no longer runs).
            self.armed.set(None);
            return Ok(Got::Retry);
        };
        if !cqe.more() {
            self.armed.set(None);
        }
        let buf = ring_buffer(&cqe);
        match cqe.result {
            n if n > 0 => buf
                .map(Got::Data)
                .ok_or_else(|| io::Error::other("a multishot receive completed without a buffer")),
            0 => Ok(Got::Eof),
            e if e == -libc::ENOBUFS && !cqe.more() => {
                drop(buf);
                // The ring ran dry and the kernel took nothing: read what
                // is there into a heap buffer; re-arm on the next call.
                direct_recv(fd)
            }
            e if e == -libc::ENOBUFS || e == -libc::EINTR || e == -libc::ECANCELED => {
                Ok(Got::Retry)
            }
            e => Err(io::Error::from_raw_os_error(-e)),
        }
    }

    /// The armed multishot receive of this stream on the current driver,
    /// armed now if there is none.
    fn arm(&self, fd: &Arc<SocketFd>) -> io::Result<Armed> {
        let current = context::with_driver(|d| d.id()).ok_or_else(context::not_on_core)?;
        if let Some(armed) = self.armed.get() {
            if armed.driver == current {
                return Ok(armed);
            }
        }
        let keep = fd.clone();
        let token = context::with_driver(|d| {
            let bgid = d
                .buf_ring()
                .map(|r| r.bgid())
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EOPNOTSUPP))?;
            let sqe = opcode::RecvMulti::new(types::Fd(fd.for_uring()), bgid).build();
            d.submit_multishot(sqe, MultishotKind::Recv, Box::new(keep))
        })
        .ok_or_else(context::not_on_core)??;
        let armed = Armed {
            driver: current,
            token,
        };
        self.armed.set(Some(armed));
        Ok(armed)
    }
}

impl Drop for PooledRecv {
    fn drop(&mut self) {
        if let Some(armed) = self.armed.take() {
            let _ = context::with_driver(|d| {
                if d.id() == armed.driver {
                    d.cancel_multishot(armed.token);
                }
            });
        }
    }
}

/// The ring buffer a multishot CQE carries, as a [`PooledBuf`] (dropped at
/// once, it goes back to the ring).
fn ring_buffer(cqe: &MultishotCqe) -> Option<PooledBuf> {
    let bid = cqueue::buffer_select(cqe.flags)?;
    let ring = context::with_driver(|d| d.buf_ring().cloned()).flatten()?;
    if bid >= ring.entries() {
        return None;
    }
    let len = usize::try_from(cqe.result)
        .unwrap_or(0)
        .min(ring.buf_size() as usize);
    // SAFETY: the CQE named `bid`, which the driver counted as taken from
    // the ring when it reaped the CQE and which the stream now holds alone
    // (one CQE, one holder); the kernel wrote `result` bytes into it, at
    // most one buffer's size.
    Some(unsafe { PooledBuf::from_ring(ring, bid, len) })
}

/// One non-blocking `recv` into a heap pool buffer, now.
fn direct_recv(fd: &Arc<SocketFd>) -> io::Result<Got> {
    let pool = context::with_driver(|d| d.recv_pool().clone()).ok_or_else(context::not_on_core)?;
    pool.note_direct_read();
    let mut target = PoolRecv::new(pool);
    let result = target_attempt(&mut target, fd);
    finish(&mut target, result)
}

fn target_attempt(target: &mut PoolRecv, fd: &Arc<SocketFd>) -> i32 {
    loop {
        let ret = target.attempt(std::os::fd::AsRawFd::as_raw_fd(&**fd));
        if ret != -libc::EINTR {
            return ret;
        }
    }
}

fn finish(target: &mut PoolRecv, result: i32) -> io::Result<Got> {
    match result {
        n if n > 0 => Ok(target.take_received().map_or(Got::Retry, Got::Data)),
        0 => Ok(Got::Eof),
        e if e == -libc::EAGAIN || e == -libc::EWOULDBLOCK => Ok(Got::Retry),
        e => Err(io::Error::from_raw_os_error(-e)),
    }
}

/// A readiness wait, then a `recv` into a pool buffer.
async fn recv_ready(fd: &Arc<SocketFd>) -> io::Result<Got> {
    let pool = context::with_driver(|d| d.recv_pool().clone()).ok_or_else(context::not_on_core)?;
    let op = Op::submit(RecvPooled {
        fd: fd.clone(),
        target: PoolRecv::new(pool),
        epoll: false,
    })
    .map_err(|(e, _)| e)?;
    let mut done = op.await;
    if done.data.epoll {
        // The readiness call itself received (or failed).
        let result = match done.result {
            Ok(n) => i32::try_from(n).unwrap_or(i32::MAX),
            Err(e) => -e.raw_os_error().unwrap_or(libc::EIO),
        };
        return finish(&mut done.data.target, result);
    }
    // io_uring: the poll says the socket is readable (or failed).
    done.result?;
    let result = target_attempt(&mut done.data.target, fd);
    finish(&mut done.data.target, result)
}

/// Waits for readability; on epoll also receives (see the module docs).
struct RecvPooled {
    fd: Arc<SocketFd>,
    target: PoolRecv,
    /// Built as an epoll readiness call (which receives), not a poll SQE.
    epoll: bool,
}

impl Operation for RecvPooled {
    fn sqe(&mut self) -> squeue::Entry {
        self.epoll = false;
        let events = (libc::POLLIN | libc::POLLRDHUP) as u32;
        opcode::PollAdd::new(types::Fd(self.fd.for_uring()), events).build()
    }

    fn syscall(&mut self) -> Syscall {
        self.epoll = true;
        let (fd, source) = self.fd.for_epoll();
        Syscall::RecvPooled {
            fd,
            source,
            target: &mut self.target,
        }
    }
}
