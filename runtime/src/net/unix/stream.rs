//! [`UnixStream`].

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::buf::{IoBuf, IoBufMut, PooledBuf};
use crate::net::addr::SockAddr;
use crate::net::fd::SocketFd;
use crate::net::stream::{impl_futures_io, Stream};
use crate::net::{ops, socket};

/// A connected Unix stream socket.
///
/// Same I/O model as [`TcpStream`](crate::net::TcpStream): owned-buffer
/// reads and writes, plus `futures_io::AsyncRead`/`AsyncWrite` through
/// internal buffers (one read and one write in flight at a time).
pub struct UnixStream {
    stream: Stream,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the connect and closes the socket (on
    /// either driver).
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<Self> {
        let addr = SockAddr::from_unix_path(path.as_ref())?;
        let fd = Arc::new(socket::new_socket(libc::AF_UNIX, libc::SOCK_STREAM)?);
        ops::connect(&fd, addr).await?;
        Ok(Self::from_fd(fd))
    }

    /// Takes over a connected std stream, in either blocking mode (each
    /// driver switches it to the mode it needs).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<Self> {
        Ok(Self::from_fd(socket::from_std(stream)?))
    }

    pub(crate) fn from_fd(fd: Arc<SocketFd>) -> Self {
        Self {
            stream: Stream::new(fd),
        }
    }

    /// Receives into `buf`'s spare capacity, as [`TcpStream::read`]
    /// does: the bytes are appended after its initialized ones and its
    /// length grows by the count (0 means end of stream).
    ///
    /// # Errors
    /// `InvalidInput` if `buf` has no spare capacity.
    ///
    /// [`TcpStream::read`]: crate::net::TcpStream::read
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the receive. On io_uring the buffer is
    /// freed only after the kernel completes, and bytes received before the
    /// cancellation took effect are lost with it. On epoll bytes are only
    /// taken in the poll that returns them, so a dropped read loses none.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        self.stream.read(buf).await
    }

    /// Receives the next bytes in a buffer of the core's receive pool;
    /// `Ok(None)` at end of stream. As [`TcpStream::recv_pooled`], whose
    /// rules apply (do not mix with `read`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`TcpStream::recv_pooled`].
    ///
    /// [`TcpStream::recv_pooled`]: crate::net::TcpStream::recv_pooled
    pub async fn recv_pooled(&self) -> io::Result<Option<PooledBuf>> {
        self.stream.recv_pooled().await
    }

    /// Sends the initialized bytes of `buf`; returns how many were taken.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the send. On io_uring the buffer is
    /// freed only after the kernel completes, and some bytes may have been
    /// sent. On epoll bytes are only sent in the poll that returns their
    /// count, so a dropped write sent nothing.
    pub async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        self.stream.write(buf).await
    }

    /// Sends all initialized bytes of `buf`, resuming after short sends.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, on either driver: dropping the future cancels the
    /// current send (on io_uring the buffer is freed only after the kernel
    /// completes) and an unknown prefix of the bytes may have been sent.
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
        self.stream.write_all(buf).await
    }

    /// Sends several buffers with one `sendmsg`, as
    /// [`TcpStream::write_vectored`](crate::net::TcpStream::write_vectored).
    ///
    /// # Cancel safety
    ///
    /// As [`write`](Self::write).
    pub async fn write_vectored<B: IoBuf>(&self, bufs: Vec<B>) -> (io::Result<usize>, Vec<B>) {
        self.stream.write_vectored(bufs).await
    }

    /// Sends every byte of several buffers, as
    /// [`TcpStream::write_all_vectored`](crate::net::TcpStream::write_all_vectored).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: an unknown prefix of the bytes may have been sent.
    pub async fn write_all_vectored<B: IoBuf>(&self, bufs: Vec<B>) -> (io::Result<()>, Vec<B>) {
        self.stream.write_all_vectored(bufs).await
    }

    /// Shuts down the read, write or both directions.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the request if it has not run yet (on
    /// epoll it runs at the first poll, so the future is ready at once).
    pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.stream.shutdown(how).await
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::with_std(
            self.stream.raw_fd(),
            |s: &std::os::unix::net::UnixStream| s.peer_addr(),
        )
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::with_std(
            self.stream.raw_fd(),
            |s: &std::os::unix::net::UnixStream| s.local_addr(),
        )
    }
}

impl_futures_io!(UnixStream);

#[cfg(feature = "hyper")]
impl UnixStream {
    /// The shared stream state, for the hyper adapter (`crate::hyper`).
    pub(crate) fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }
}

impl std::fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.stream.raw_fd())
            .finish()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.raw_fd()
    }
}

impl IntoRawFd for UnixStream {
    /// Gives the fd to the caller, who must close it. If an abandoned
    /// operation (a future dropped before its completion) may still name
    /// the fd, the number returned is a duplicate of it for the same
    /// socket: whatever the caller does with it, that operation can finish
    /// only on this socket, never on a file that reuses a number.
    /// Bytes a `futures-io` read received and did not hand out are dropped,
    /// and a `futures-io` send still in flight may complete after writes
    /// the new owner makes on the fd.
    fn into_raw_fd(self) -> RawFd {
        socket::into_raw_fd(self.stream.into_fd())
    }
}
