//! [`BufReader`]: buffered, line-oriented reading over an owned-buffer
//! stream.
//!
//! Invariant: `buf[pos..]` holds bytes read from the stream and not yet
//! handed out; the buffer's capacity is fixed at construction, and a fill
//! happens only when `buf[pos..]` is empty, so memory stays bounded by the
//! capacity (plus what the caller's own output grows to).

use std::io;

use super::split::OwnedRead;

/// Default buffer size of [`BufReader::new`].
const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Reads a stream through a buffer, for `read_until`, `read_line` and
/// [`lines`](Self::lines).
///
/// # Examples
/// ```no_run
/// use frys_runtime::net::{BufReader, TcpStream};
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let stream = TcpStream::connect("127.0.0.1:7000").await?;
/// let mut lines = BufReader::new(stream).lines();
/// while let Some(line) = lines.next_line().await? {
///     println!("{line}");
/// }
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
#[derive(Debug)]
pub struct BufReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    /// The buffer's size: restored if a cancelled read took the buffer.
    capacity: usize,
}

impl<R: OwnedRead> BufReader<R> {
    /// A reader with an 8 KiB buffer.
    pub fn new(inner: R) -> BufReader<R> {
        BufReader::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A reader with a buffer of `capacity` bytes (at least 1).
    pub fn with_capacity(capacity: usize, inner: R) -> BufReader<R> {
        BufReader {
            inner,
            buf: Vec::with_capacity(capacity.max(1)),
            pos: 0,
            capacity: capacity.max(1),
        }
    }

    /// The buffered bytes, reading more from the stream first if none are
    /// left; empty at end of stream. Follow with [`consume`](Self::consume).
    ///
    /// # Cancel safety
    /// As the stream's `read` (on io_uring, bytes of a cancelled read are
    /// lost); the reader stays usable.
    pub async fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            // A read cancelled in flight took the buffer with it.
            buf.reserve(self.capacity);
            self.pos = 0;
            let (result, back) = self.inner.read(buf).await;
            self.buf = back;
            result?;
        }
        Ok(&self.buf[self.pos..])
    }

    /// Marks `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    /// Appends bytes to `out` up to and including `byte`, or to end of
    /// stream; returns how many were appended (0 at end of stream).
    ///
    /// # Cancel safety
    /// Not cancel-safe: bytes appended to `out` before the cancellation stay
    /// there, and a read in flight may lose bytes.
    pub async fn read_until(&mut self, byte: u8, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let available = self.fill_buf().await?;
            if available.is_empty() {
                return Ok(total);
            }
            let (n, done) = match available.iter().position(|&b| b == byte) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            out.extend_from_slice(&available[..n]);
            self.consume(n);
            total += n;
            if done {
                return Ok(total);
            }
        }
    }

    /// Appends one line (with its `\n`, if any) to `out`; returns the bytes
    /// appended (0 at end of stream).
    ///
    /// # Errors
    /// `InvalidData` if the line is not UTF-8 (`out` is then unchanged).
    ///
    /// # Cancel safety
    /// As [`read_until`](Self::read_until).
    pub async fn read_line(&mut self, out: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let n = self.read_until(b'\n', &mut bytes).await?;
        let line =
            String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        out.push_str(&line);
        Ok(n)
    }

    /// The lines of the stream, without their `\n` or `\r\n`.
    pub fn lines(self) -> Lines<R> {
        Lines { reader: self }
    }

    /// The wrapped stream (buffered bytes not yet consumed are lost).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The wrapped stream, e.g. to write to it.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

/// The lines of a [`BufReader`] (see [`BufReader::lines`]).
#[derive(Debug)]
pub struct Lines<R> {
    reader: BufReader<R>,
}

impl<R: OwnedRead> Lines<R> {
    /// The next line without its line ending; `None` at end of stream.
    ///
    /// # Errors
    /// `InvalidData` for a line that is not UTF-8; read errors.
    ///
    /// # Cancel safety
    /// Not cancel-safe: a cancelled call may lose part of a line.
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        Ok(Some(line))
    }
}
