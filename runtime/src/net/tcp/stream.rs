//! [`TcpStream`].

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::sync::Arc;

use crate::buf::{IoBuf, IoBufMut, PooledBuf};
use crate::net::addr::SockAddr;
use crate::net::fd::SocketFd;
use crate::net::stream::{impl_futures_io, Stream};
use crate::net::to_addrs::{self, ToSocketAddrs};
use crate::net::{ops, socket};

/// A connected TCP socket.
///
/// Reads and writes take owned buffers and give them back with the result.
/// The stream also implements `futures_io::AsyncRead` and `AsyncWrite`
/// through internal buffers; only one read and one write may be in flight
/// at a time through those traits (they take `&mut self`, which ensures it).
/// A trait `poll_write` reports its bytes written once their send has
/// started; the owned-buffer writes and [`shutdown`](Self::shutdown) first
/// wait for that send to finish (and return its error if it failed), so
/// bytes go out in the order they were written, whichever API wrote them.
/// Likewise an owned-buffer [`read`](Self::read) first returns the bytes
/// the `AsyncRead` side received and has not handed out yet (waiting for
/// its receive in flight, if any). [`recv_pooled`](Self::recv_pooled) does
/// not: do not switch to it after reading through `AsyncRead`.
///
/// Dropping the stream closes the socket once every operation still in the
/// kernel has completed.
///
/// # Examples
///
/// ```no_run
/// # let rt = frys_runtime::Runtime::builder().build().unwrap();
/// # rt.block_on(async {
/// use frys_runtime::net::TcpStream;
///
/// let stream = TcpStream::connect("127.0.0.1:6379").await?;
/// let (res, mut buf) = stream.write_all(b"PING\r\n".to_vec()).await;
/// res?;
/// buf.clear();
/// let (n, buf) = stream.read(buf).await;
/// println!("{:?}", &buf[..n?]);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct TcpStream {
    stream: Stream,
}

impl TcpStream {
    /// Opens a connection to `addr`: a socket address, or a `"host:port"`
    /// whose name is looked up on the blocking pool (see
    /// [`ToSocketAddrs`]); several addresses are tried in order.
    ///
    /// # Errors
    /// The last address's error if none connects; a failed lookup.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the connect and closes the socket (on
    /// either driver).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let mut last = None;
        for addr in to_addrs::resolve(&addr).await? {
            match Self::connect_one(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve gives at least one address"))
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<Self> {
        let addr = SockAddr::from_std(&addr);
        let fd = Arc::new(socket::new_socket(addr.family(), libc::SOCK_STREAM)?);
        ops::connect(&fd, addr).await?;
        Ok(Self::from_fd(fd))
    }

    /// Takes over a connected std stream, in either blocking mode (each
    /// driver switches it to the mode it needs).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<Self> {
        Ok(Self::from_fd(socket::from_std(stream)?))
    }

    pub(crate) fn from_fd(fd: Arc<SocketFd>) -> Self {
        Self {
            stream: Stream::new(fd),
        }
    }

    /// Receives into `buf`'s spare capacity: the bytes are appended after
    /// its initialized ones (a `Vec`'s `len`), up to its capacity
    /// ([`IoBuf::bytes_total`]), and its length grows by the count. Returns
    /// the count (0 means end of stream) and the buffer.
    ///
    /// # Errors
    /// `InvalidInput` if `buf` has no spare capacity (e.g. `Vec::new()` or
    /// `vec![0; n]`), so that a 0 is never mistaken for end of stream.
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

    /// Receives the next bytes of the stream in a buffer of the core's
    /// receive pool; `Ok(None)` at end of stream.
    ///
    /// Unlike [`read`](Self::read), the caller brings no buffer, and a
    /// connection waiting for data holds none: on io_uring kernels with
    /// multishot receive (6.0+) the kernel fills a buffer of the core's
    /// provided buffer ring only when bytes arrive; elsewhere (epoll, older
    /// kernels, [`Builder::net_fast_path(false)`]) a heap pool buffer is
    /// taken only once the socket is readable. The returned [`PooledBuf`]
    /// goes back to the pool when dropped; it holds at most one buffer's
    /// worth ([`Builder::recv_buffers`]). Once the ring is empty (its
    /// buffers are all held), receives read into heap buffers until some
    /// return.
    ///
    /// On io_uring the first call arms a multishot receive that keeps
    /// receiving until the stream is dropped, whether or not the caller
    /// calls again; it stops once 16 received buffers wait untaken (so a
    /// stream whose caller stops receiving holds at most about that many of
    /// the core's ring buffers) and resumes when the caller takes them: do
    /// not mix `recv_pooled` with
    /// [`read`](Self::read) or the `AsyncRead` impl on one stream, or the
    /// bytes interleave unpredictably; bytes it took and that were not
    /// returned yet are dropped with the stream (and lost to the new owner
    /// of an `into_raw_fd`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses no bytes. With multishot
    /// receive the bytes that arrive meanwhile wait, in order, for the next
    /// call; otherwise bytes are taken only in the poll that returns them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # let rt = frys_runtime::Runtime::builder().build().unwrap();
    /// # rt.block_on(async {
    /// use frys_runtime::net::TcpStream;
    ///
    /// let stream = TcpStream::connect("127.0.0.1:7").await?;
    /// while let Some(bytes) = stream.recv_pooled().await? {
    ///     // Echo the bytes back without copying them.
    ///     let (res, _bytes) = stream.write_all(bytes).await;
    ///     res?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// [`Builder::net_fast_path(false)`]: crate::Builder::net_fast_path
    /// [`Builder::recv_buffers`]: crate::Builder::recv_buffers
    pub async fn recv_pooled(&self) -> io::Result<Option<PooledBuf>> {
        self.stream.recv_pooled().await
    }

    /// Sends the initialized bytes of `buf` ([`IoBuf::bytes_init`]); returns
    /// how many the kernel took, which may be fewer.
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

    /// Sends the initialized bytes of several buffers, in order, with one
    /// `sendmsg` (one SQE on io_uring; on epoll one call once writable):
    /// a reply made of a header and a body needs no copy into one buffer
    /// and no second system call. Returns how many bytes the kernel took,
    /// which may be fewer (one call takes at most 1,024 buffers), and the
    /// buffers.
    ///
    /// # Cancel safety
    ///
    /// As [`write`](Self::write): on io_uring some bytes may have been sent;
    /// on epoll a dropped call sent nothing.
    pub async fn write_vectored<B: IoBuf>(&self, bufs: Vec<B>) -> (io::Result<usize>, Vec<B>) {
        self.stream.write_vectored(bufs).await
    }

    /// Sends every initialized byte of `bufs`, in order, resuming after
    /// short sends; usually one system call (see
    /// [`write_vectored`](Self::write_vectored)).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`write_all`](Self::write_all): an unknown
    /// prefix of the bytes may have been sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # let rt = frys_runtime::Runtime::builder().build().unwrap();
    /// # rt.block_on(async {
    /// use frys_runtime::net::TcpStream;
    ///
    /// let stream = TcpStream::connect("127.0.0.1:6379").await?;
    /// let body = b"hello".to_vec();
    /// let header = format!("${}\r\n", body.len()).into_bytes();
    /// let (res, _bufs) = stream
    ///     .write_all_vectored(vec![header, body, b"\r\n".to_vec()])
    ///     .await;
    /// res?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
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

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        socket::set_int_option(
            self.stream.raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            libc::c_int::from(nodelay),
        )
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        socket::int_option(self.stream.raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY)
            .map(|v| v != 0)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::peer_addr(self.stream.raw_fd())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.stream.raw_fd())
    }
}

impl_futures_io!(TcpStream);

#[cfg(feature = "hyper")]
impl TcpStream {
    /// The shared stream state, for the hyper adapter (`crate::hyper`).
    pub(crate) fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.stream.raw_fd())
            .finish()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.raw_fd()
    }
}

impl IntoRawFd for TcpStream {
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

#[cfg(test)]
impl TcpStream {
    /// How many owned-buffer waits sit in the poll state's send and
    /// receive waiter lists.
    pub(crate) fn waiter_counts(&self) -> (usize, usize) {
        self.stream.waiter_counts()
    }
}
