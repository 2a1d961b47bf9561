//! The real file system: frys-runtime's files, plus the blocking
//! positional calls the engine makes on the core thread on purpose.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use frys_runtime::fs;

use super::OpenMode;

pub(crate) struct RealFile {
    pub(super) file: fs::File,
}

pub(super) async fn open(path: &Path, mode: OpenMode) -> io::Result<RealFile> {
    let mut o = fs::OpenOptions::new();
    match mode {
        OpenMode::Read => o.read(true),
        OpenMode::Write => o.write(true),
        OpenMode::Create => o.write(true).create(true).truncate(true),
        OpenMode::CreateNew => o.write(true).create_new(true),
    };
    Ok(RealFile {
        file: o.open(path).await?,
    })
}

impl RealFile {
    pub(super) async fn read_exact_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let (res, mut buf) = self
            .file
            .read_exact_at(Vec::with_capacity(len), offset)
            .await;
        res?;
        buf.truncate(len);
        Ok(buf)
    }

    pub(super) async fn write_all_at(
        &self,
        bytes: Vec<u8>,
        offset: u64,
    ) -> (io::Result<()>, Vec<u8>) {
        self.file.write_all_at(bytes, offset).await
    }

    pub(super) fn read_exact_at_now(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut done = 0;
        while done < len {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is a live, writable slice of `rest.len()` bytes
            // that nothing else touches during the call, and the fd is kept
            // open by `self.file` for its duration.
            let n = unsafe {
                libc::pread(
                    self.file.as_raw_fd(),
                    rest.as_mut_ptr().cast(),
                    rest.len(),
                    to_off(offset + done as u64)?,
                )
            };
            match n {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n if n > 0 => done += n as usize,
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
        Ok(buf)
    }

    pub(super) fn write_all_at_now(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        while done < bytes.len() {
            let rest = &bytes[done..];
            // SAFETY: `rest` is a live slice of `rest.len()` readable bytes
            // for the duration of the call, and the fd is kept open by
            // `self.file`.
            let n = unsafe {
                libc::pwrite(
                    self.file.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    to_off(offset + done as u64)?,
                )
            };
            match n {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n if n > 0 => done += n as usize,
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}

fn to_off(offset: u64) -> io::Result<libc::off_t> {
    libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))
}
