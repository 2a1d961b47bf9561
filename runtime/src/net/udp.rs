//! [`UdpSocket`].

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::sync::Arc;

use super::addr::SockAddr;
use super::fd::SocketFd;
use super::to_addrs::{self, ToSocketAddrs};
use super::{msg, ops, socket};
use crate::buf::{IoBuf, IoBufMut};

/// A UDP socket.
///
/// Datagrams are sent from and received into owned buffers (into their
/// spare capacity). A receive buffer with less room than the datagram gets
/// its first bytes; the rest is
/// dropped by the kernel.
///
/// # Examples
/// ```no_run
/// use frys_runtime::net::UdpSocket;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let socket = UdpSocket::bind("127.0.0.1:0")?;
/// let peer = UdpSocket::bind("127.0.0.1:0")?;
/// let (sent, _) = socket.send_to(b"ping".to_vec(), peer.local_addr()?).await;
/// sent?;
/// let (got, buf) = peer.recv_from(Vec::with_capacity(1500)).await;
/// let (len, from) = got?;
/// assert_eq!((&buf[..len], from), (&b"ping"[..], socket.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    fd: Arc<SocketFd>,
}

impl UdpSocket {
    /// Creates a socket bound to `addr` (port 0 picks a free port).
    ///
    /// `addr` is a socket address, or a `"host:port"` looked up on the
    /// calling thread (see [`ToSocketAddrs`]).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let addrs = to_addrs::resolve_blocking(&addr)?;
        to_addrs::first_ok(&addrs, |addr| {
            let addr = SockAddr::from_std(&addr);
            let fd = socket::new_socket(addr.family(), libc::SOCK_DGRAM)?;
            socket::bind(fd.as_raw_fd(), &addr)?;
            Ok(Self { fd: Arc::new(fd) })
        })
    }

    /// Takes over a std socket, in either blocking mode (each driver
    /// switches it to the mode it needs).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<Self> {
        Ok(Self {
            fd: socket::from_std(socket)?,
        })
    }

    /// Sets the default peer for [`send`](Self::send) and filters
    /// [`recv`](Self::recv) to it. Does not wait: UDP has no handshake.
    ///
    /// `addr` may name a host, looked up on the blocking pool; the first
    /// address found is used.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `connect` leaves the socket as it was, or
    /// connected (UDP's connect only records the peer).
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = to_addrs::resolve(&addr).await?[0];
        ops::connect(&self.fd, SockAddr::from_std(&addr)).await
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_raw_fd())
    }

    /// Sends the initialized bytes of `buf` as one datagram to `addr`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the send. On io_uring the buffer is
    /// freed only after the kernel completes, and the datagram may or may
    /// not have been sent. On epoll it is only sent in the poll that
    /// returns, so a dropped send sent nothing.
    pub async fn send_to<B: IoBuf>(&self, buf: B, addr: SocketAddr) -> (io::Result<usize>, B) {
        msg::send_to(&self.fd, buf, SockAddr::from_std(&addr)).await
    }

    /// Receives one datagram into `buf`'s spare capacity (appended after
    /// its initialized bytes, as [`TcpStream::read`](crate::net::TcpStream::read)
    /// does; `buf`'s length grows by the datagram's); returns its length
    /// and sender.
    ///
    /// # Errors
    /// `InvalidInput` if `buf` has no spare capacity.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the receive. On io_uring the buffer is
    /// freed only after the kernel completes, and a datagram received
    /// before the cancellation took effect is lost. On epoll a datagram is
    /// only taken in the poll that returns it, so a dropped receive loses
    /// none.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> (io::Result<(usize, SocketAddr)>, B) {
        let (result, buf) = msg::recv_from(&self.fd, buf).await;
        (result.and_then(|(n, addr)| Ok((n, addr.to_std()?))), buf)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Cancel safety
    ///
    /// As for [`send_to`](Self::send_to).
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        ops::send(&self.fd, buf).await
    }

    /// Receives one datagram from the connected peer into `buf`'s spare
    /// capacity, as [`recv_from`](Self::recv_from).
    ///
    /// # Cancel safety
    ///
    /// As for [`recv_from`](Self::recv_from).
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        ops::recv(&self.fd, buf).await
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for UdpSocket {
    /// Gives the fd to the caller, who must close it. If an abandoned
    /// operation (a future dropped before its completion) may still name
    /// the fd, the number returned is a duplicate of it for the same
    /// socket: whatever the caller does with it, that operation can finish
    /// only on this socket, never on a file that reuses a number.
    fn into_raw_fd(self) -> RawFd {
        socket::into_raw_fd(self.fd)
    }
}
