//! [`UnixListener`].

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use super::UnixStream;
use crate::net::addr::SockAddr;
use crate::net::fd::SocketFd;
use crate::net::{ops, socket};

const BACKLOG: libc::c_int = 1024;

/// A Unix stream socket listening on a filesystem path.
///
/// The socket file is not removed when the listener is dropped (as with
/// std); remove it yourself, or bind fails with `AddrInUse` next time.
///
/// # Examples
/// ```no_run
/// use frys_runtime::net::{UnixListener, UnixStream};
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let listener = UnixListener::bind("/tmp/frys-example.sock")?;
/// let client = UnixStream::connect("/tmp/frys-example.sock").await?;
/// let (server, _) = listener.accept().await?;
/// let (sent, _) = client.write_all(b"hi".to_vec()).await;
/// sent?;
/// let (n, buf) = server.read(Vec::with_capacity(16)).await;
/// assert_eq!(&buf[..n?], b"hi");
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
#[derive(Debug)]
pub struct UnixListener {
    fd: Arc<SocketFd>,
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it (backlog 1024).
    /// A path with a NUL byte or longer than 107 bytes is `InvalidInput`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        let addr = SockAddr::from_unix_path(path.as_ref())?;
        let fd = socket::new_socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        socket::bind(fd.as_raw_fd(), &addr)?;
        socket::listen(fd.as_raw_fd(), BACKLOG)?;
        Ok(Self { fd: Arc::new(fd) })
    }

    /// Takes over a std listener, in either blocking mode (each driver
    /// switches it to the mode it needs).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        Ok(Self {
            fd: socket::from_std(listener)?,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::with_std(
            self.fd.as_raw_fd(),
            |l: &std::os::unix::net::UnixListener| l.local_addr(),
        )
    }

    /// Waits for a connection and returns it with the peer's address
    /// (usually unnamed).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the accept. On io_uring, a connection
    /// the kernel accepted before the cancellation took effect is closed,
    /// not leaked. On epoll a connection is only taken in the poll that
    /// returns it, so a dropped accept loses none.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, _) = ops::accept(&self.fd).await?;
        let stream = UnixStream::from_fd(Arc::new(fd));
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for UnixListener {
    /// Gives the fd to the caller, who must close it. If an abandoned
    /// operation (a future dropped before its completion) may still name
    /// the fd, the number returned is a duplicate of it for the same
    /// socket: whatever the caller does with it, that operation can finish
    /// only on this socket, never on a file that reuses a number.
    fn into_raw_fd(self) -> RawFd {
        socket::into_raw_fd(self.fd)
    }
}
