//! Paths as the kernel reads them: NUL-terminated bytes.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Converts a path for an SQE. A path with an interior NUL byte cannot be
/// named to the kernel and is an `InvalidInput` error.
pub(crate) fn to_cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}
