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
//! owned-buffer calls take `&self`; it is borrowed only within one poll,
//! never across an await, and the `&mut self` poll paths use `get_mut`.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll};

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
            let taken = std::future::poll_fn(|cx| {
                let (done, waiters) = self
                    .io
                    .borrow_mut()
                    .poll_read_for_owned(&self.fd, cx, &mut buf);
                // Woken after the borrow ends: a waker runs foreign code.
                for waker in waiters {
                    waker.wake();
                }
                done
            })
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
        std::future::poll_fn(|cx| {
            let (done, waiters) = self.io.borrow_mut().poll_send_for_owned(&self.fd, cx);
            // Woken after the borrow ends: a waker runs foreign code.
            for waker in waiters {
                waker.wake();
            }
            done
        })
        .await
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
