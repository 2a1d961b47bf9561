//! What TCP and Unix stream sockets share: the owned fd, the owned-buffer
//! read/write calls and the `futures-io` state (see `poll_io`).
//!
//! Invariant: no byte written through one API overtakes a byte written
//! through the other, and no byte is read out of order across them. A `futures-io` `poll_write` returns while its send
//! may still be in flight inside the poll state, so every owned-buffer
//! write and `shutdown` first waits for that send to finish (and reports
//! its error, if it failed); and an owned-buffer `read` first takes the
//! bytes the poll state received and has not handed out (or waits for its
//! receive in flight). `recv_pooled` does not (`TcpStream`'s docs say so). The poll state sits in a `RefCell` because the
//! owned-buffer calls take `&self`; it is borrowed only within one poll
//! (or a waiting future's drop, with `try_borrow_mut`), never across an
//! await, and the `&mut self` poll paths use `get_mut`.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::fd::SocketFd;
use super::ops;
use super::poll_io::PollIo;
use super::pooled::PooledRecv;
use super::vectored;
use crate::buf::{IoBuf, IoBufMut, PooledBuf};

/// A connected stream socket.
pub(crate) struct Stream {
    fd: Arc<SocketFd>,
    io: RefCell<PollIo>,
    /// Dropped with the stream (or in `into_fd`), which cancels an armed
    /// multishot receive.
    pooled: PooledRecv,
}

impl Stream {
    pub(crate) fn new(fd: Arc<SocketFd>) -> Self {
        Self {
            fd,
            io: RefCell::default(),
            pooled: PooledRecv::default(),
        }
    }

    pub(crate) async fn recv_pooled(&self) -> io::Result<Option<PooledBuf>> {
        self.pooled.recv(&self.fd).await
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(crate) fn into_fd(self) -> Arc<SocketFd> {
        self.fd
    }

    pub(crate) async fn read<B: IoBufMut>(&self, mut buf: B) -> (io::Result<usize>, B) {
        if self.io.borrow().recv_in_progress() {
            let taken = PollStateRead {
                stream: self,
                buf: &mut buf,
                slot: None,
            }
            .await;
            match taken {
                Ok(Some(n)) => return (Ok(n), buf),
                Ok(None) => {}
                Err(e) => return (Err(e), buf),
            }
        }
        ops::recv(&self.fd, buf).await
    }

    pub(crate) async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        if let Err(e) = self.finish_poll_send().await {
            return (Err(e), buf);
        }
        ops::send(&self.fd, buf).await
    }

    pub(crate) async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
        if let Err(e) = self.finish_poll_send().await {
            return (Err(e), buf);
        }
        ops::send_all(&self.fd, buf).await
    }

    pub(crate) async fn write_vectored<B: IoBuf>(
        &self,
        bufs: Vec<B>,
    ) -> (io::Result<usize>, Vec<B>) {
        if let Err(e) = self.finish_poll_send().await {
            return (Err(e), bufs);
        }
        vectored::send_vectored(&self.fd, bufs).await
    }

    pub(crate) async fn write_all_vectored<B: IoBuf>(
        &self,
        bufs: Vec<B>,
    ) -> (io::Result<()>, Vec<B>) {
        if let Err(e) = self.finish_poll_send().await {
            return (Err(e), bufs);
        }
        vectored::send_all_vectored(&self.fd, bufs).await
    }

    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        if how != std::net::Shutdown::Read {
            self.finish_poll_send().await?;
        }
        ops::shutdown(&self.fd, how).await
    }

    /// Waits until the bytes a `futures-io` `poll_write` accepted have been
    /// sent, so that an owned-buffer write cannot overtake them. Returns at
    /// once when there are none (the common case: one API per stream).
    /// Dropping the wait leaves the send in the poll state.
    async fn finish_poll_send(&self) -> io::Result<()> {
        if !self.io.borrow().send_in_flight() {
            return Ok(());
        }
        PollStateSend {
            stream: self,
            slot: None,
        }
        .await
    }

    /// A wait in slot `id` of one of the poll state's waiter lists is
    /// dropped while pending: `leave` removes the slot and hands out the
    /// other waiters of that list, woken here (after the borrow ends: a
    /// waker runs foreign code). If the state is borrowed at this moment
    /// (the wait is dropped by foreign code run inside a borrow, which
    /// frys' own wakers never do) the slot stays until the operation
    /// finishes: a drop must not panic.
    fn leave_wait(&self, id: u64, leave: fn(&mut PollIo, u64) -> Vec<Waker>) {
        let waiters = match self.io.try_borrow_mut() {
            Ok(mut io) => leave(&mut io, id),
            Err(_) => return,
        };
        waiters.into_iter().for_each(crate::task::wake_user);
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io.get_mut().poll_read(&self.fd, cx, out)
    }

    #[cfg(feature = "hyper")]
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.io.get_mut().poll_fill(&self.fd, cx)
    }

    #[cfg(feature = "hyper")]
    pub(crate) fn consume(&mut self, n: usize) {
        let io = self.io.get_mut();
        io.consume(n);
        io.wake_recv_waiters();
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.get_mut().poll_write(&self.fd, cx, data)
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.get_mut().poll_flush(&self.fd, cx)
    }

    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.get_mut().poll_close(&self.fd, cx)
    }
}

/// An owned-buffer read taking its bytes from the poll state (see
/// [`PollIo::poll_read_for_owned`]). Dropped while it waits, it leaves
/// its slot and wakes the other readers of the same receive, since the
/// driver may hold only this wait's waker.
struct PollStateRead<'a, B> {
    stream: &'a Stream,
    buf: &'a mut B,
    /// Its entry in `recv_waiters`, while it has one.
    slot: Option<u64>,
}

impl<B: IoBufMut> Future for PollStateRead<'_, B> {
    type Output = io::Result<Option<usize>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (done, waiters) = this.stream.io.borrow_mut().poll_read_for_owned(
            &this.stream.fd,
            cx,
            this.buf,
            &mut this.slot,
        );
        if done.is_ready() {
            // Every slot was handed out with `waiters`.
            this.slot = None;
        }
        // Woken after the borrow ends: a waker runs foreign code.
        waiters.into_iter().for_each(crate::task::wake_user);
        done
    }
}

impl<B> Drop for PollStateRead<'_, B> {
    fn drop(&mut self) {
        if let Some(id) = self.slot.take() {
            self.stream.leave_wait(id, PollIo::leave_recv);
        }
    }
}

/// An owned-buffer write or shutdown waiting for the poll state's send
/// (see [`PollIo::poll_send_for_owned`]); dropped while it waits, it
/// leaves its slot and wakes the other writers, as [`PollStateRead`].
struct PollStateSend<'a> {
    stream: &'a Stream,
    /// Its entry in `send_waiters`, while it has one.
    slot: Option<u64>,
}

impl Future for PollStateSend<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (done, waiters) =
            this.stream
                .io
                .borrow_mut()
                .poll_send_for_owned(&this.stream.fd, cx, &mut this.slot);
        if done.is_ready() {
            this.slot = None;
        }
        waiters.into_iter().for_each(crate::task::wake_user);
        done
    }
}

impl Drop for PollStateSend<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.slot.take() {
            self.stream.leave_wait(id, PollIo::leave_send);
        }
    }
}

/// Implements `futures_io::AsyncRead`/`AsyncWrite` for a type with a
/// `stream: Stream` field.
macro_rules! impl_futures_io {
    ($ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().stream.poll_read(cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().stream.poll_write(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.get_mut().stream.poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.get_mut().stream.poll_close(cx)
            }
        }
    };
}

pub(crate) use impl_futures_io;

#[cfg(test)]
impl Stream {
    pub(crate) fn waiter_counts(&self) -> (usize, usize) {
        self.io.borrow().waiter_counts()
    }
}
