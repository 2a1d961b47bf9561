//! [`TcpListener`].

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::sync::Arc;

use super::claim::{self, Claim};
use super::{Incoming, TcpStream};
use crate::net::fd::SocketFd;
use crate::net::to_addrs::{self, ToSocketAddrs};
use crate::net::{ops, socket};

/// A TCP socket listening for connections.
///
/// Each core can bind its own listener on the same address, and the
/// kernel balances connections between them (`SO_REUSEPORT`); but an
/// address that another process listens on is refused with `AddrInUse`,
/// as a plain bind would be. `SO_REUSEADDR` is set, so a restart does not
/// wait for the old connections' `TIME_WAIT`.
///
/// # Examples
///
/// ```no_run
/// # let rt = frys_runtime::Runtime::builder().build().unwrap();
/// # rt.block_on(async {
/// use frys_runtime::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:6379")?;
/// loop {
///     let (stream, _peer) = listener.accept().await?;
///     frys_runtime::spawn_local(async move {
///         // Echo until the peer closes.
///         let mut buf = Vec::with_capacity(4096);
///         loop {
///             buf.clear();
///             let (n, back) = stream.read(buf).await;
///             if !matches!(n, Ok(n) if n > 0) {
///                 return;
///             }
///             let (res, back) = stream.write_all(back).await;
///             if res.is_err() {
///                 return;
///             }
///             buf = back;
///         }
///     });
/// }
/// # #[allow(unreachable_code)]
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct TcpListener {
    fd: Arc<SocketFd>,
    /// This process' share of the address (none for `from_std`).
    _claim: Option<Claim>,
}

impl TcpListener {
    /// Creates a socket bound to `addr` and listening (backlog 1024). Port 0
    /// picks a free port; see [`local_addr`](Self::local_addr). Binding
    /// the address (with its port) that another listener of this process
    /// holds joins it: connections are spread over both.
    ///
    /// `addr` is a socket address, or a `"host:port"` looked up on the
    /// calling thread (blocking it; see [`ToSocketAddrs`]); several
    /// addresses are tried in order.
    ///
    /// # Errors
    /// `AddrInUse` if another process listens on the address.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let addrs = to_addrs::resolve_blocking(&addr)?;
        let (fd, claim) = to_addrs::first_ok(&addrs, claim::bind_listener)?;
        Ok(Self {
            fd: Arc::new(fd),
            _claim: Some(claim),
        })
    }

    /// Takes over a std listener, in either blocking mode (each driver
    /// switches it to the mode it needs).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        Ok(Self {
            fd: socket::from_std(listener)?,
            _claim: None,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_raw_fd())
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Must be called on a frys core thread.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the accept. On io_uring, a connection
    /// the kernel accepted before the cancellation took effect is closed,
    /// not leaked; the peer sees it reset. On epoll a connection is only
    /// taken in the poll that returns it, so a dropped accept loses none:
    /// it stays queued for the next one.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, peer) = ops::accept(&self.fd).await?;
        let stream = TcpStream::from_fd(Arc::new(fd));
        Ok((stream, peer.to_std()?))
    }

    /// The listener's connections, for an accept loop on this core: where
    /// the kernel has multishot accept (io_uring, Linux 5.19+) one armed
    /// operation accepts them all, instead of one accept per connection;
    /// elsewhere [`Incoming::accept`] is [`accept`](Self::accept). The
    /// multishot accept keeps accepting whether or not anyone calls
    /// `accept`; it stops once 64 connections wait unclaimed (plus those the
    /// kernel accepted in the same batch) and resumes when they are taken,
    /// so a paused server leaves later connections in the listen backlog. Dropping
    /// the `Incoming` stops the multishot accept (`Incoming` is `!Send`:
    /// keep it on the core that made it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # let rt = frys_runtime::Runtime::builder().build().unwrap();
    /// # rt.block_on(async {
    /// use frys_runtime::net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:6379")?;
    /// let mut incoming = listener.incoming();
    /// loop {
    ///     let (stream, _peer) = incoming.accept().await?;
    ///     frys_runtime::spawn_local(async move {
    ///         // Echo with pooled buffers until the peer closes.
    ///         while let Ok(Some(bytes)) = stream.recv_pooled().await {
    ///             if stream.write_all(bytes).await.0.is_err() {
    ///                 return;
    ///             }
    ///         }
    ///     });
    /// }
    /// # #[allow(unreachable_code)]
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming::new(self)
    }

    pub(crate) fn fd(&self) -> &Arc<SocketFd> {
        &self.fd
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for TcpListener {
    /// Gives the fd to the caller, who must close it. If an abandoned
    /// operation (a future dropped before its completion) may still name
    /// the fd, the number returned is a duplicate of it for the same
    /// socket: whatever the caller does with it, that operation can finish
    /// only on this socket, never on a file that reuses a number.
    fn into_raw_fd(self) -> RawFd {
        socket::into_raw_fd(self.fd)
    }
}
