//! The byte stream of one client connection, plain TCP or TLS: the seam
//! that lets one connection loop serve both ports.
//!
//! Both read into and write from owned buffers with the runtime's
//! semantics (a read fills the buffer from its first byte up to its
//! capacity and returns the count, 0 at the end of the stream; a write
//! sends all of it). A read may be kept in flight while a write runs.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use frys_runtime::net::TcpStream;

use super::tls::TlsStream;

/// A client's stream.
// The plain stream, the common case, stays inline (one per connection:
// boxing it would add a pointer chase to every read); the TLS state is
// the one boxed.
#[allow(clippy::large_enum_variant)]
pub enum ClientStream {
    /// The plain port.
    Plain(TcpStream),
    /// The TLS port, after the handshake.
    Tls(Box<TlsStream>),
}

impl ClientStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(s) => s,
            ClientStream::Tls(s) => s.tcp(),
        }
    }

    /// Reads (plaintext) bytes into `buf`'s spare capacity, appended after
    /// its bytes, as `TcpStream::read` does.
    pub async fn read(&self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        match self {
            ClientStream::Plain(s) => s.read(buf).await,
            ClientStream::Tls(s) => s.read(buf).await,
        }
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            ClientStream::Plain(s) => s.write_all(buf).await,
            ClientStream::Tls(s) => s.write_all(buf).await,
        }
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.tcp().set_nodelay(nodelay)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().local_addr()
    }
}

impl AsRawFd for ClientStream {
    fn as_raw_fd(&self) -> RawFd {
        self.tcp().as_raw_fd()
    }
}
