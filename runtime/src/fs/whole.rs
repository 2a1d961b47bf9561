//! Whole-file convenience calls: [`read`], [`read_to_string`], [`write`],
//! and [`read_dir`].

use std::io;
use std::path::Path;

use super::File;

/// Reads the whole file at `path`.
///
/// Files whose size the kernel reports as 0 (such as `/proc` files) are
/// read until end of file all the same.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let bytes = frys_runtime::fs::read("/etc/hostname").await?;
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
///
/// # Cancel safety
/// Dropping the future cancels the current read; what was read is lost.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(size);
    // One byte more than the size, so that a file of the reported size
    // takes one read plus the read that sees end of file.
    let mut chunk = vec![0u8; size.saturating_add(1).clamp(4096, 1 << 20)];
    loop {
        let (result, back) = file.read_at(chunk, out.len() as u64).await;
        chunk = back;
        match result? {
            0 => return Ok(out),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads the whole file at `path` as UTF-8.
///
/// # Errors
/// `InvalidData` if the file is not UTF-8, or any error of [`read`].
///
/// # Cancel safety
/// As [`read`].
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    String::from_utf8(read(path).await?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes `contents` as the whole file at `path`, creating it or
/// truncating it first. Nothing is synced: call [`File::sync_all`] on a
/// file you open yourself when it must survive a crash.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// frys_runtime::fs::write("/tmp/greeting", b"hello".to_vec()).await?;
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
///
/// # Cancel safety
/// Dropping the future may leave the file created, truncated or partly
/// written.
pub async fn write(path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
    let file = File::create(path).await?;
    let contents = contents.into();
    if contents.is_empty() {
        return Ok(());
    }
    file.write_all_at(contents, 0).await.0
}

/// The entries of the directory at `path` (without `.` and `..`), in the
/// order the file system gives them.
///
/// Listing runs on the blocking pool ([`spawn_blocking`]), since neither
/// driver reads directories asynchronously.
///
/// # Examples
/// ```no_run
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// for entry in frys_runtime::fs::read_dir("/tmp").await? {
///     println!("{}", entry.file_name().to_string_lossy());
/// }
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
///
/// # Cancel safety
/// Dropping the future drops the listing (it still runs to its end).
///
/// [`spawn_blocking`]: crate::spawn_blocking
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<Vec<std::fs::DirEntry>> {
    let path = path.as_ref().to_path_buf();
    crate::spawn_blocking(move || std::fs::read_dir(path)?.collect())
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}
