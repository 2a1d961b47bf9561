//! [`File`]: positional reads and writes on the core's driver.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use super::metadata::Metadata;
use super::ops::{self, Statx};
use super::OpenOptions;
use crate::buf::{IoBuf, IoBufMut};

/// The alignment [`File`] checks for `O_DIRECT` I/O: the smallest logical
/// block size of any device.
pub const DIRECT_IO_ALIGNMENT: usize = 512;

/// An open file. All I/O is positional (`read_at`/`write_at`); there is no
/// cursor.
///
/// Dropping the file closes the fd once every operation still in the kernel
/// has completed. Closing reports no error: call [`sync_all`](Self::sync_all)
/// or [`sync_data`](Self::sync_data) first when durability matters.
///
/// A file opened with [`OpenOptions::direct`] checks every buffer address,
/// length and offset against [`DIRECT_IO_ALIGNMENT`] and fails with
/// `InvalidInput` rather than letting the kernel fail with `EINVAL`.
///
/// # Examples
/// ```no_run
/// use frys_runtime::fs::File;
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let file = File::create("/tmp/frys-example").await?;
/// let (written, _) = file.write_all_at(b"hello".to_vec(), 0).await;
/// written?;
/// file.sync_all().await?;
/// let (read, buf) = file.read_exact_at(vec![0u8; 5], 0).await;
/// read?;
/// assert_eq!(buf, b"hello");
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
#[derive(Debug)]
pub struct File {
    fd: Arc<OwnedFd>,
    direct: bool,
}

impl File {
    /// Opens an existing file for reading.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the open; a file opened anyway is closed.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for writing, creating it or truncating it to 0 bytes.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the open; a file opened anyway is closed.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Takes over a std file (assumed not opened with `O_DIRECT`).
    pub fn from_std(file: std::fs::File) -> Self {
        Self::from_parts(Arc::new(OwnedFd::from(file)), false)
    }

    pub(crate) fn from_parts(fd: Arc<OwnedFd>, direct: bool) -> Self {
        Self { fd, direct }
    }

    /// Whether the file was opened with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Reads at `offset` into `buf` from its first byte, up to its capacity
    /// ([`IoBuf::bytes_total`]); returns the count (0 at end of file, fewer
    /// than asked near it) and the buffer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the read; the buffer is freed only after
    /// the kernel completes.
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> (io::Result<usize>, B) {
        if let Err(e) = self.check_direct(buf.stable_ptr(), buf.bytes_total(), offset) {
            return (Err(e), buf);
        }
        ops::read_at(&self.fd, buf, 0, offset).await
    }

    /// Reads at `offset` until `buf` is full (`bytes_total()` bytes); end of
    /// file before that is `UnexpectedEof`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the current read; the buffer is freed
    /// only after the kernel completes. Partial content is lost with it.
    pub async fn read_exact_at<B: IoBufMut>(&self, mut buf: B, offset: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_total();
        if let Err(e) = self.check_direct(buf.stable_ptr(), total, offset) {
            return (Err(e), buf);
        }
        let mut done = 0;
        while done < total {
            let (result, back) = ops::read_at(&self.fd, buf, done, offset + done as u64).await;
            buf = back;
            match result {
                Ok(0) => return (Err(io::ErrorKind::UnexpectedEof.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes the initialized bytes of `buf` ([`IoBuf::bytes_init`]) at
    /// `offset`; returns how many were written, which may be fewer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the write; the buffer is freed only after
    /// the kernel completes. Some bytes may have been written.
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> (io::Result<usize>, B) {
        if let Err(e) = self.check_direct(buf.stable_ptr(), buf.bytes_init(), offset) {
            return (Err(e), buf);
        }
        ops::write_at(&self.fd, buf, 0, offset).await
    }

    /// Writes all initialized bytes of `buf` at `offset`, resuming after
    /// short writes.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future cancels the current write (the
    /// buffer is freed only after the kernel completes) and an unknown
    /// prefix may have been written.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, offset: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_init();
        if let Err(e) = self.check_direct(buf.stable_ptr(), total, offset) {
            return (Err(e), buf);
        }
        let mut buf = buf;
        let mut done = 0;
        while done < total {
            let (result, back) = ops::write_at(&self.fd, buf, done, offset + done as u64).await;
            buf = back;
            match result {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Flushes data and metadata to the device (`fsync`).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the wait, not necessarily the sync;
    /// durability is then unknown.
    pub async fn sync_all(&self) -> io::Result<()> {
        ops::fsync(&self.fd, false).await
    }

    /// Flushes data, and only the metadata needed to read it back
    /// (`fdatasync`).
    ///
    /// # Cancel safety
    ///
    /// As for [`sync_all`](Self::sync_all).
    pub async fn sync_data(&self) -> io::Result<()> {
        ops::fsync(&self.fd, true).await
    }

    /// The file's metadata (`statx` of the fd).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the request; nothing is left behind.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let stx = ops::statx(Statx::of_fd(self.fd.clone())).await?;
        Ok(Metadata::from_statx(&stx))
    }

    /// Truncates or extends (with zeros) the file to `len` bytes. This is a
    /// direct `ftruncate` call: it changes only metadata and does not wait
    /// for the device.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        let len = libc::off_t::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file length too large"))?;
        // SAFETY: plain syscall on an fd we own.
        if unsafe { libc::ftruncate(self.fd.as_raw_fd(), len) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn check_direct(&self, ptr: *const u8, len: usize, offset: u64) -> io::Result<()> {
        if !self.direct {
            return Ok(());
        }
        // A power of two, so `x & mask` is `x % DIRECT_IO_ALIGNMENT`.
        let mask = DIRECT_IO_ALIGNMENT - 1;
        if (ptr as usize) & mask != 0 || len & mask != 0 || offset & mask as u64 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "O_DIRECT I/O needs the buffer address, its length and the offset aligned to 512 bytes",
            ));
        }
        Ok(())
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for File {
    /// Gives the fd to the caller, who must close it. If an abandoned
    /// operation (a future dropped before its completion) may still name
    /// the fd, the number returned is a duplicate of it for the same file:
    /// whatever the caller does with it, that operation can finish only on
    /// this file, never on a file that reuses a number.
    fn into_raw_fd(self) -> RawFd {
        crate::raw_fd::release(self.fd, |fd| fd)
    }
}
