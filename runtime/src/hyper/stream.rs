//! [`HyperStream`]: a frys stream as hyper's I/O.
//!
//! hyper's [`Read`](hyper::rt::Read) lends its buffer (a `ReadBufCursor`)
//! only for the duration of one `poll_read`, but a frys receive owns its
//! buffer until the kernel completes it. So the adapter goes through the
//! stream's own poll state (the one behind its `futures-io` impls): one
//! internal 16 KiB receive buffer and one 16 KiB send buffer, kept between
//! polls together with the operation in flight on each.
//!
//! - `poll_read` hands over bytes left from the previous receive, copied
//!   into the cursor (as many as fit; the rest wait for the next call).
//!   When there are none it starts a receive into the internal buffer, or
//!   polls the one in flight; a receive completing with 0 bytes is end of
//!   stream, reported as a read that filled nothing.
//! - `poll_write` waits until the previous send has gone out, copies up to
//!   16 KiB into the send buffer, starts the send and reports those bytes as
//!   written; `poll_flush` waits for the send to finish; `poll_shutdown`
//!   flushes, then shuts down the write direction.
//!
//! Invariants:
//! - at most one receive and one send are in flight per stream, each
//!   holding the internal buffer it uses and a clone of the socket's fd;
//! - bytes are handed to hyper in stream order: a receive starts only when
//!   every byte of the previous one has been copied out;
//! - dropping the `HyperStream` mid-operation (hyper drops its I/O when a
//!   connection ends, errs or times out, and a caller may drop the
//!   connection future at any await) drops the operations: the driver
//!   cancels them and keeps each buffer, and the socket open, until the
//!   kernel has completed them (`crate::buf`, `crate::net`). What that
//!   loses is what a dropped connection cannot use anyway: bytes a
//!   cancelled receive had taken, and the part of an accepted write the
//!   kernel had not sent yet;
//! - a send's error is reported by the next `poll_write`, `poll_flush` or
//!   `poll_shutdown`, and its unsent bytes are dropped.
//!
//! [`HyperStream::into_inner`] gives the stream back with that state:
//! - bytes received but not yet handed to hyper stay readable, first,
//!   through the stream's `futures_io::AsyncRead` impl and its owned-buffer
//!   `read` (not through `recv_pooled`);
//! - a send still in flight stays in flight: the stream's owned-buffer
//!   writes and `shutdown` first wait for it (the stream layer's invariant,
//!   `net::stream`), so bytes written after `into_inner` go out after those
//!   hyper wrote, and none are lost. Only dropping the stream with the
//!   send unfinished loses its unsent bytes, as dropping the `HyperStream`
//!   would.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use crate::net::{TcpStream, UnixStream};

/// A frys [`TcpStream`] or [`UnixStream`] as hyper's I/O:
/// [`hyper::rt::Read`] and [`hyper::rt::Write`], the way
/// `hyper_util::rt::TokioIo` wraps a tokio stream. Pass it to hyper's
/// `serve_connection` or `handshake`.
///
/// The stream keeps one receive and one send in flight between polls, each
/// with its own 16 KiB buffer (allocated at the first read and write).
/// Bytes received beyond what hyper's buffer takes wait in the receive
/// buffer for the next `poll_read`. `poll_write` copies the bytes and
/// reports them written once their send has started; `poll_flush` waits
/// for it, and a send's error is reported by the next `poll_write`,
/// `poll_flush` or `poll_shutdown`.
///
/// # Cancel safety
///
/// A `poll_read` or `poll_write` that returns `Pending` leaves its
/// operation in flight and the next poll picks it up, so no byte is lost
/// or reordered between polls. Dropping the `HyperStream` (as hyper does
/// when a connection ends, fails or times out, or when the connection
/// future is dropped) cancels its operations; the driver keeps their
/// buffers and the socket until the kernel has completed them. Bytes a
/// cancelled receive had taken, and accepted bytes not yet sent, are lost
/// with it.
///
/// # Examples
///
/// ```no_run
/// use frys_runtime::hyper::HyperStream;
/// use frys_runtime::net::TcpStream;
///
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let stream = TcpStream::connect("127.0.0.1:8080").await?;
/// let io = HyperStream::new(stream);
/// // hand `io` to `hyper::server::conn::http1::Builder::serve_connection`
/// // or `hyper::client::conn::http1::handshake`.
/// let _stream: TcpStream = io.into_inner();
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct HyperStream<S> {
    inner: S,
}

impl<S> HyperStream<S> {
    /// Wraps `stream`.
    pub fn new(stream: S) -> Self {
        Self { inner: stream }
    }

    /// The stream, for its addresses and socket options.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The stream back, with any bytes received but not handed to hyper
    /// still readable, first, through its `futures_io::AsyncRead` impl and
    /// its owned-buffer `read` (not `recv_pooled`), and the
    /// last accepted send, if still in flight, ahead of anything written
    /// next: the stream's owned-buffer writes and `shutdown` wait for it
    /// to finish first (and return its error if it failed). Flush first
    /// (`poll_flush`) to learn that error, or before dropping the stream,
    /// if the unsent bytes matter.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Implements hyper's `Read` and `Write` for `HyperStream<$ty>`, where
/// `$ty` has `stream_mut() -> &mut net::stream::Stream`.
macro_rules! impl_hyper_io {
    ($ty:ty) => {
        impl ::hyper::rt::Read for HyperStream<$ty> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ::hyper::rt::ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                if buf.remaining() == 0 {
                    return Poll::Ready(Ok(()));
                }
                let stream = self.get_mut().inner.stream_mut();
                let unread = ready!(stream.poll_fill(cx))?;
                let n = unread.len().min(buf.remaining());
                buf.put_slice(&unread[..n]);
                stream.consume(n);
                Poll::Ready(Ok(()))
            }
        }

        impl ::hyper::rt::Write for HyperStream<$ty> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.stream_mut().poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.stream_mut().poll_flush(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.stream_mut().poll_close(cx)
            }
        }
    };
}

impl_hyper_io!(TcpStream);
impl_hyper_io!(UnixStream);
