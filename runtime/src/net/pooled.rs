//! Pooled receives: a stream's bytes handed over in buffers of the core's
//! receive pool ([`PooledBuf`]), so a connection waiting for data holds no
//! buffer of its own.
//!
//! Two ways, chosen per call from the core's driver:
//! - **multishot** (io_uring with multishot receive and a provided buffer
//!   ring): one `RECV` SQE armed for the stream, with
//!   `IORING_RECVSEND_POLL_FIRST` (the kernel waits for data before it picks
//!   a buffer), which posts a CQE with a ring buffer for every chunk that
//!   arrives. CQEs queue in the driver's multishot slot, in arrival order,
//!   until the stream takes them, so a dropped `recv_pooled` future loses
//!   nothing. The stream re-arms when the kernel ends the operation (a CQE
//!   without `IORING_CQE_F_MORE`). Ends:
//!   - `ENOBUFS`: the ring was empty when the kernel picked a buffer,
//!     nothing was consumed. That does not mean data is waiting (the kernel
//!     may pick before it receives): the stream reads once, directly, into
//!     a heap pool buffer, and if nothing is there (`EAGAIN`) it waits for
//!     readiness as the readiness way does, instead of re-arming into the
//!     same empty ring (which would spin the core). So an exhausted ring
//!     slows receives down but never loses, stalls or spins them;
//!   - `ECANCELED` after the stream's queue reached
//!     `multishot::RECV_QUEUE_CAP` buffers: the driver stops a stream's
//!     receive when that many of its CQEs wait untaken, so a stream whose
//!     caller stops receiving holds at most that many ring buffers (plus
//!     what the kernel filled in the batch that reached the cap); the
//!     caller drains the queue and re-arms, and meanwhile the data waits in
//!     the socket;
//! - **readiness** (epoll; io_uring without the fast path): wait until the
//!   socket is readable (epoll's edge, or an io_uring `POLL_ADD`), then one
//!   non-blocking `recv` into a heap pool buffer taken for that call.
//!
//! Invariants: a stream has at most one armed multishot operation
//! (`armed`), on the driver recorded with it; only the caller that sees an
//! operation end clears `armed`, and only if it still names that operation
//! (several tasks may receive on one stream: one that saw an old operation
//! end must not forget a newer one another task armed). Dropping the
//! stream cancels it (the driver returns the buffers of its queued and
//! later CQEs to the ring and keeps the socket open until the kernel's
//! final CQE). If the stream is dropped on a thread that no longer runs
//! that driver (another runtime entered on the same thread), the operation
//! stays armed until that driver is dropped, which cancels everything.

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

/// `IORING_RECVSEND_POLL_FIRST` (5.19; every kernel with multishot receive,
/// 6.0, has it): wait for readiness before the first attempt, so arming on
/// an idle socket takes no buffer and ends nothing with `ENOBUFS`.
const RECVSEND_POLL_FIRST: u16 = 1 << 0; // include/uapi/linux/io_uring.h

/// A stream's pooled-receive state.
#[derive(Default)]
pub(crate) struct PooledRecv {
    armed: Cell<Option<Armed>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
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
            self.disarm(armed);
            return Ok(Got::Retry);
        };
        if !cqe.more() {
            self.disarm(armed);
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
                // is there into a heap buffer, or, if nothing is, wait for
                // readiness (re-arming now would hit the empty ring again);
                // re-arm on the next call.
                match direct_recv(fd)? {
                    Got::Retry => recv_ready(fd).await,
                    got => Ok(got),
                }
            }
            e if e == -libc::ENOBUFS || e == -libc::EINTR || e == -libc::ECANCELED => {
                Ok(Got::Retry)
            }
            e => Err(io::Error::from_raw_os_error(-e)),
        }
    }

    /// Forgets `ended`, which the kernel has ended, unless `armed` already
    /// names a newer operation (armed by another task on this stream).
    fn disarm(&self, ended: Armed) {
        if self.armed.get() == Some(ended) {
            self.armed.set(None);
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
            let sqe = poll_first(opcode::RecvMulti::new(types::Fd(fd.for_uring()), bgid).build());
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

/// `sqe` (a receive) with `IORING_RECVSEND_POLL_FIRST` added to its
/// `ioprio`, which `io_uring`'s `RecvMulti` builder has no setter for.
fn poll_first(mut sqe: squeue::Entry) -> squeue::Entry {
    let sqe_ptr: *mut squeue::Entry = &mut sqe;
    // SAFETY: `squeue::Entry` is `#[repr(C)]` around the kernel's
    // `io_uring_sqe`, whose ABI layout puts the `u16` `ioprio` at byte 2
    // (after the `u8`s `opcode` and `flags`); the entry is 8-aligned, so
    // the `u16` is aligned, in bounds, and initialized (the builder wrote
    // `IORING_RECV_MULTISHOT` there). `sqe` is ours alone.
    unsafe {
        let ioprio = sqe_ptr.cast::<u8>().add(2).cast::<u16>();
        *ioprio |= RECVSEND_POLL_FIRST;
    }
    sqe
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
