//! [`OpenOptions`]: how to open a file, with std's rules for flag
//! combinations plus `O_DIRECT`.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::ops;
use super::path::to_cstring;
use super::File;

/// Options for opening a file, like `std::fs::OpenOptions`, plus
/// [`direct`](Self::direct) for `O_DIRECT`.
///
/// # Examples
///
/// ```no_run
/// # let rt = frys_runtime::Runtime::builder().build().unwrap();
/// # rt.block_on(async {
/// use frys_runtime::fs::OpenOptions;
///
/// let file = OpenOptions::new().write(true).create(true).truncate(true).open("data").await?;
/// let (res, _buf) = file.write_all_at(b"hello".to_vec(), 0).await;
/// res?;
/// file.sync_data().await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    direct: bool,
    custom_flags: libc::c_int,
    mode: libc::mode_t,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// All options off; mode `0o666` (before the umask).
    pub fn new() -> Self {
        Self {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            direct: false,
            custom_flags: 0,
            mode: 0o666,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Open for appending (`O_APPEND`; on Linux positional writes append too).
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Truncate to 0 bytes on open (needs write access).
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (needs write access).
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// Open with `O_DIRECT`: I/O bypasses the page cache, and every read and
    /// write must use a buffer address, a length and a file offset that are
    /// multiples of the device's logical block size (512 or 4096 bytes; use
    /// [`AlignedBuf`](crate::buf::AlignedBuf), 4096-aligned by default).
    /// [`File`] rejects anything not aligned to 512 with `InvalidInput`; the
    /// kernel rejects finer misalignment with `EINVAL`. Some filesystems
    /// (tmpfs) refuse `O_DIRECT` at open with `EINVAL`.
    pub fn direct(&mut self, direct: bool) -> &mut Self {
        self.direct = direct;
        self
    }

    /// Extra `open(2)` flags, or'ed in; the access mode bits are ignored.
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// Permission bits for a created file (default `0o666`, then the umask).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Opens `path` with these options.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the open; if the kernel opened the file
    /// anyway, the fd is closed (a file created by it stays).
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let flags = self.flags()?;
        let path = to_cstring(path.as_ref())?;
        let fd = ops::open(path, flags, self.mode).await?;
        Ok(File::from_parts(Arc::new(fd), self.direct))
    }

    fn flags(&self) -> io::Result<libc::c_int> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) | (false, _, true) => libc::O_WRONLY,
            (true, true, false) | (true, _, true) => libc::O_RDWR,
            (false, false, false) => {
                return Err(invalid("no access mode (read, write or append) set"))
            }
        };
        let writable = self.write || self.append;
        if !writable && (self.truncate || self.create || self.create_new) {
            return Err(invalid(
                "create, create_new and truncate need write or append access",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid("append and truncate cannot be combined"));
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
        };
        let mut flags = access | creation | (self.custom_flags & !libc::O_ACCMODE);
        if self.append {
            flags |= libc::O_APPEND;
        }
        if self.direct {
            flags |= libc::O_DIRECT;
        }
        Ok(flags)
    }
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_combinations_follow_std() {
        let f = OpenOptions::new().read(true).flags().unwrap();
        assert_eq!(f, libc::O_RDONLY);
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .flags()
            .unwrap();
        assert_eq!(f, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC);
        let f = OpenOptions::new()
            .read(true)
            .append(true)
            .direct(true)
            .flags()
            .unwrap();
        assert_eq!(f, libc::O_RDWR | libc::O_APPEND | libc::O_DIRECT);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .flags()
            .unwrap();
        assert_eq!(f, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL);
        for bad in [
            OpenOptions::new(),
            OpenOptions::new().read(true).create(true).clone(),
            OpenOptions::new().append(true).truncate(true).clone(),
        ] {
            assert_eq!(bad.flags().unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
    }
}
