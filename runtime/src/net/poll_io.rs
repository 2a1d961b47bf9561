//! `futures-io` `AsyncRead`/`AsyncWrite` over the owned-buffer operations.
//!
//! Poll-based callers lend a slice only for the duration of one `poll_*`
//! call, but the kernel needs a buffer until the completion. So each stream
//! keeps one internal read buffer and one internal write buffer:
//!
//! - `poll_read` serves bytes left over from the previous receive; when there
//!   are none it starts a `recv` into the read buffer and, when that
//!   completes, copies what fits into the caller's slice and keeps the rest.
//! - `poll_write` first waits until the previous send has gone out entirely,
//!   then copies up to [`CHUNK`] bytes into the write buffer, starts a `send`
//!   and reports those bytes as written. `poll_flush` waits for the send;
//!   `poll_close` flushes and then shuts down the write direction.
//!
//! Invariants: at most one receive and one send are in flight per stream;
//! `read_buf[read_pos..]` are the unread bytes; while `write_op` is set the
//! write buffer is inside it and `write_done` bytes of it have been sent.
//! An error from a background send is reported by the next `poll_write`,
//! `poll_flush` or `poll_close` (or owned-buffer write, below), and the
//! bytes it did not send are dropped.
//!
//! Ordering with the owned-buffer calls: a `poll_write` returns before its
//! bytes have left, so the stream's owned-buffer writes and `shutdown`
//! first finish the send left here ([`PollIo::poll_send_for_owned`]):
//! bytes go out in the order the calls were made, whichever API made them.
//! Those calls take `&self`, so several tasks may wait on one send; each
//! registers its waker in `send_waiters` (the driver keeps only the last
//! poller's; see `poll_waiters`) and all are woken when the send is done,
//! or when a waiting one is dropped (so that a live one polls again).
//!
//! The same holds for reads: while the poll state holds received bytes
//! not handed out yet, or has a receive in flight, an owned-buffer `read`
//! takes its bytes from here ([`PollIo::poll_read_for_owned`], waiters in
//! `recv_waiters`) instead of starting a receive that would overtake them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use super::fd::SocketFd;
use super::ops::{Recv, Send, Shutdown};
use super::poll_waiters::Waiters;
use crate::buf::{self, IoBufMut};
use crate::driver::Op;

/// Size of each internal buffer, and the most one `poll_write` accepts.
pub(crate) const CHUNK: usize = 16 * 1024;

#[derive(Default)]
pub(crate) struct PollIo {
    read_buf: Option<Vec<u8>>,
    read_pos: usize,
    read_op: Option<Op<Recv<Vec<u8>>>>,
    write_buf: Option<Vec<u8>>,
    write_done: usize,
    write_op: Option<Op<Send<Vec<u8>>>>,
    shutdown_op: Option<Op<Shutdown>>,
    write_closed: bool,
    /// Owned-buffer writers waiting for `write_op` to finish.
    send_waiters: Waiters,
    /// Owned-buffer readers waiting for `read_op` to finish.
    recv_waiters: Waiters,
}

impl PollIo {
    pub(crate) fn poll_read(
        &mut self,
        fd: &Arc<SocketFd>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let unread = ready!(self.poll_fill(fd, cx))?;
        let n = unread.len().min(out.len());
        out[..n].copy_from_slice(&unread[..n]);
        self.consume(n);
        self.wake_recv_waiters();
        Poll::Ready(Ok(n))
    }

    /// The unread bytes of the read buffer, receiving more first if there
    /// are none; empty at end of stream. [`consume`](Self::consume) marks
    /// how many the caller took (callers that copy into memory they cannot
    /// lend as a `&mut [u8]`, such as hyper's `ReadBufCursor`, use this).
    pub(crate) fn poll_fill(
        &mut self,
        fd: &Arc<SocketFd>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&[u8]>> {
        loop {
            if let Some(op) = &mut self.read_op {
                let done = ready!(Pin::new(op).poll(cx));
                self.read_op = None;
                let (result, buf) = Recv::finish(done);
                self.read_buf = Some(buf);
                self.read_pos = 0;
                match result {
                    Ok(0) => return Poll::Ready(Ok(&[])),
                    Ok(_) => {}
                    // A signal interrupted the receive before it took
                    // anything (the buffer is still empty): receive again,
                    // as the send and accept paths do.
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if self.read_pos < self.read_buf.as_ref().map_or(0, Vec::len) {
                let buf = self.read_buf.as_deref().unwrap_or_default();
                return Poll::Ready(Ok(&buf[self.read_pos..]));
            }
            let mut buf = self
                .read_buf
                .take()
                .unwrap_or_else(|| Vec::with_capacity(CHUNK));
            buf.clear();
            self.read_pos = 0;
            match buf::submit(Recv::new(fd.clone(), buf)) {
                // Loop once more to poll it, which registers our waker.
                Ok(op) => self.read_op = Some(op),
                Err((e, data)) => {
                    self.read_buf = Some(data.into_buf());
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    /// Whether received bytes wait here, or a receive is in flight.
    pub(crate) fn recv_in_progress(&self) -> bool {
        self.read_op.is_some() || self.read_pos < self.read_buf.as_ref().map_or(0, Vec::len)
    }

    /// For an owned-buffer read that must not overtake the bytes held
    /// here: appends what fits of them (receiving the one in flight first)
    /// into `out`'s spare capacity. `Ready(Ok(None))` when nothing is in
    /// progress here any more: the caller receives directly. The caller
    /// wakes the returned wakers (other readers waiting on the same
    /// receive) once it no longer borrows the state. `slot` is the wait's
    /// entry in `recv_waiters` (see `poll_waiters`).
    pub(crate) fn poll_read_for_owned<B: IoBufMut>(
        &mut self,
        fd: &Arc<SocketFd>,
        cx: &mut Context<'_>,
        out: &mut B,
        slot: &mut Option<u64>,
    ) -> (Poll<io::Result<Option<usize>>>, Vec<Waker>) {
        let init = out.bytes_init();
        let spare = out.bytes_total().saturating_sub(init);
        if !self.recv_in_progress() || spare == 0 {
            // Nothing to take here, or a buffer `recv` refuses anyway.
            return (Poll::Ready(Ok(None)), self.recv_waiters.take());
        }
        let unread = match self.poll_fill(fd, cx) {
            Poll::Pending => {
                self.recv_waiters.register(slot, cx.waker());
                return (Poll::Pending, Vec::new());
            }
            Poll::Ready(Err(e)) => {
                return (Poll::Ready(Err(e)), self.recv_waiters.take());
            }
            Poll::Ready(Ok(unread)) => unread,
        };
        let n = unread.len().min(spare);
        // SAFETY: `out` has `spare` writable bytes from `init` on
        // (`bytes_total` is its capacity from `stable_mut_ptr`), and
        // `n <= spare`; `unread` is this state's own buffer, so the ranges
        // do not overlap. The `n` bytes are then initialized, so
        // `set_init(init + n)` (at most `bytes_total`) is truthful.
        unsafe {
            std::ptr::copy_nonoverlapping(unread.as_ptr(), out.stable_mut_ptr().add(init), n);
            out.set_init(init + n);
        }
        self.consume(n);
        (Poll::Ready(Ok(Some(n))), self.recv_waiters.take())
    }

    /// Marks `n` of the bytes [`poll_fill`](Self::poll_fill) returned as
    /// taken (at most that many).
    pub(crate) fn consume(&mut self, n: usize) {
        let len = self.read_buf.as_ref().map_or(0, Vec::len);
        self.read_pos = (self.read_pos + n).min(len);
    }

    pub(crate) fn poll_write(
        &mut self,
        fd: &Arc<SocketFd>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_flush(fd, cx))?;
        let mut buf = self
            .write_buf
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        buf.clear();
        let n = data.len().min(CHUNK);
        buf.extend_from_slice(&data[..n]);
        self.write_done = 0;
        match buf::submit(Send::new(fd.clone(), buf, 0)) {
            // The send proceeds in the kernel without being polled; the next
            // flush or write collects its completion.
            Ok(op) => self.write_op = Some(op),
            Err((e, op)) => {
                self.write_buf = Some(op.into_buf());
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(Ok(n))
    }

    /// Owned-buffer readers that waited on the receive here (and were
    /// dropped, or are still waiting) may go on.
    pub(crate) fn wake_recv_waiters(&mut self) {
        self.recv_waiters
            .take()
            .into_iter()
            .for_each(crate::task::wake_user);
    }

    /// An owned-buffer read that waited in slot `id` is dropped: returns
    /// the other readers' wakers to wake (outside the borrow), as this one
    /// may have been the last to poll the receive, whose waker the driver
    /// keeps; woken, a live one polls again and puts its own waker there.
    pub(crate) fn leave_recv(&mut self, id: u64) -> Vec<Waker> {
        if self.recv_waiters.remove(id) {
            self.recv_waiters.take()
        } else {
            // Already woken with all the others.
            Vec::new()
        }
    }

    /// As [`leave_recv`](Self::leave_recv), for a writer waiting on the
    /// send.
    pub(crate) fn leave_send(&mut self, id: u64) -> Vec<Waker> {
        if self.send_waiters.remove(id) {
            self.send_waiters.take()
        } else {
            Vec::new()
        }
    }

    /// Whether bytes a `poll_write` accepted are still being sent.
    pub(crate) fn send_in_flight(&self) -> bool {
        self.write_op.is_some()
    }

    /// Finishes the send [`poll_write`](Self::poll_write) left in flight,
    /// for an owned-buffer write or shutdown that must not overtake it.
    /// The caller wakes the returned wakers (the other writers waiting on
    /// the same send) once it no longer borrows the state. `slot` is the
    /// wait's entry in `send_waiters` (see `poll_waiters`).
    pub(crate) fn poll_send_for_owned(
        &mut self,
        fd: &Arc<SocketFd>,
        cx: &mut Context<'_>,
        slot: &mut Option<u64>,
    ) -> (Poll<io::Result<()>>, Vec<Waker>) {
        match self.poll_send(fd, cx) {
            Poll::Pending => {
                self.send_waiters.register(slot, cx.waker());
                (Poll::Pending, Vec::new())
            }
            done => (done, self.send_waiters.take()),
        }
    }

    /// Waits until every accepted byte has been sent.
    pub(crate) fn poll_flush(
        &mut self,
        fd: &Arc<SocketFd>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let done = ready!(self.poll_send(fd, cx));
        // Owned-buffer writers that waited on this send (and were dropped
        // or are still waiting) may go on.
        self.send_waiters
            .take()
            .into_iter()
            .for_each(crate::task::wake_user);
        Poll::Ready(done)
    }

    /// Drives `write_op` to the end, resubmitting the rest of a partial
    /// send.
    fn poll_send(&mut self, fd: &Arc<SocketFd>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(op) = &mut self.write_op {
            let done = ready!(Pin::new(op).poll(cx));
            self.write_op = None;
            let (result, buf) = Send::finish(done);
            let sent = match result {
                Ok(0) => Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
                Err(e) => Err(e),
            };
            match sent {
                Ok(n) => {
                    self.write_done += n;
                    if self.write_done < buf.len() {
                        match buf::submit(Send::new(fd.clone(), buf, self.write_done)) {
                            Ok(op) => self.write_op = Some(op),
                            Err((e, op)) => {
                                self.write_buf = Some(op.into_buf());
                                return Poll::Ready(Err(e));
                            }
                        }
                    } else {
                        self.write_buf = Some(buf);
                    }
                }
                Err(e) => {
                    self.write_buf = Some(buf);
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Flushes, then shuts down the write direction (once).
    pub(crate) fn poll_close(
        &mut self,
        fd: &Arc<SocketFd>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.write_closed {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_flush(fd, cx))?;
        if self.shutdown_op.is_none() {
            let op = Op::submit(Shutdown::new(fd.clone(), std::net::Shutdown::Write))
                .map_err(|(e, _)| e)?;
            self.shutdown_op = Some(op);
        }
        if let Some(op) = &mut self.shutdown_op {
            let done = ready!(Pin::new(op).poll(cx));
            self.shutdown_op = None;
            done.result?;
            self.write_closed = true;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
impl PollIo {
    pub(crate) fn waiter_counts(&self) -> (usize, usize) {
        (self.send_waiters.len(), self.recv_waiters.len())
    }
}
