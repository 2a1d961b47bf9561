//! Owned read and write halves of a stream, and the [`OwnedRead`] /
//! [`OwnedWrite`] traits that buffered reading and the halves are written
//! against.
//!
//! A stream's reads and writes already take `&self`, so one task may read
//! while another writes; the halves make that ownership explicit: each is
//! an `Rc` of the stream (streams are `!Send`, so both halves stay on their
//! core). Dropping the write half shuts down the write direction (the peer
//! sees end of stream), as tokio's owned halves do.

use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use super::{TcpStream, UnixStream};
use crate::buf::{IoBuf, IoBufMut};

/// A byte stream read into owned buffers (see [`TcpStream::read`] for the
/// buffer rules: bytes are appended into the spare capacity).
// Frys' I/O futures are `!Send` by design (they belong to one core), so
// the `Send`-bound question `async fn` in public traits raises does not
// apply.
#[allow(async_fn_in_trait)]
pub trait OwnedRead {
    /// Reads into `buf`'s spare capacity; 0 means end of stream.
    async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B);
}

/// A byte stream written from owned buffers.
#[allow(async_fn_in_trait)]
pub trait OwnedWrite {
    /// Writes all initialized bytes of `buf`.
    async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B);
}

macro_rules! owned_io {
    ($ty:ty) => {
        impl OwnedRead for $ty {
            async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
                <$ty>::read(self, buf).await
            }
        }

        impl OwnedWrite for $ty {
            async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
                <$ty>::write_all(self, buf).await
            }
        }

        impl $ty {
            /// Splits the stream into a read half and a write half that
            /// separate tasks of this core can own. Dropping the write half
            /// shuts down the write direction.
            ///
            /// Flush first if the stream was written through
            /// `futures_io::AsyncWrite`: a send its `poll_write` left in
            /// flight goes out before the next write through the write
            /// half (which waits for it), but the shutdown when the half is
            /// dropped does not wait and cuts it short.
            pub fn into_split(self) -> (ReadHalf<$ty>, WriteHalf<$ty>) {
                let stream = Rc::new(self);
                (
                    ReadHalf {
                        stream: stream.clone(),
                    },
                    WriteHalf { stream },
                )
            }
        }
    };
}

owned_io!(TcpStream);
owned_io!(UnixStream);

/// The read half of a stream (see [`TcpStream::into_split`]).
#[derive(Debug)]
pub struct ReadHalf<S> {
    stream: Rc<S>,
}

impl<S: OwnedRead> ReadHalf<S> {
    /// Reads into `buf`'s spare capacity, as the stream's `read`.
    ///
    /// # Cancel safety
    /// As the stream's `read`.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        self.stream.read(buf).await
    }
}

impl<S: OwnedRead> OwnedRead for ReadHalf<S> {
    async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        self.stream.read(buf).await
    }
}

/// The write half of a stream (see [`TcpStream::into_split`]); dropping it
/// shuts down the write direction.
#[derive(Debug)]
pub struct WriteHalf<S: AsRawFd> {
    stream: Rc<S>,
}

impl<S: OwnedWrite + AsRawFd> WriteHalf<S> {
    /// Writes all initialized bytes of `buf`, as the stream's `write_all`.
    ///
    /// # Cancel safety
    /// As the stream's `write_all`: some bytes may have been sent.
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
        self.stream.write_all(buf).await
    }
}

impl<S: OwnedWrite + AsRawFd> OwnedWrite for WriteHalf<S> {
    async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
        self.stream.write_all(buf).await
    }
}

impl<S: AsRawFd> Drop for WriteHalf<S> {
    fn drop(&mut self) {
        // SAFETY: shutdown(2) on the stream's fd, which the `Rc` keeps open;
        // it does not block and does not close the fd. An error (the peer
        // already gone) changes nothing here.
        unsafe { libc::shutdown(self.stream.as_raw_fd(), libc::SHUT_WR) };
    }
}
