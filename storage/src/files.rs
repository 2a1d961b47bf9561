//! The files of a partition directory and how they are named.
//!
//! ```text
//! LOCK                 flock'ed by the open Db (holder's pid inside)
//! CURRENT              name of the live manifest, swapped atomically
//! MANIFEST-000007      log of version edits
//! 000012.log           WAL segment 12 (one per memtable)
//! 000015.sst           SSTable 15
//! *.tmp                half-written files; removed at open
//! ```
//! Numbers come from one counter (`next_file` in the manifest).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::file_system::{FileSystem, OpenMode};

/// What a file in the directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Current,
    Manifest(u64),
    Wal(u64),
    Table(u64),
    Temp,
}

pub(crate) fn parse(name: &str) -> Option<FileKind> {
    if name == "CURRENT" {
        return Some(FileKind::Current);
    }
    if name.ends_with(".tmp") {
        return Some(FileKind::Temp);
    }
    if let Some(n) = name.strip_prefix("MANIFEST-") {
        return n.parse().ok().map(FileKind::Manifest);
    }
    if let Some(n) = name.strip_suffix(".log") {
        return n.parse().ok().map(FileKind::Wal);
    }
    if let Some(n) = name.strip_suffix(".sst") {
        return n.parse().ok().map(FileKind::Table);
    }
    None
}

/// The partition's lock file (see `DirLock`).
pub(crate) const LOCK_FILE: &str = "LOCK";

pub(crate) fn manifest_name(n: u64) -> String {
    format!("MANIFEST-{n:06}")
}
pub(crate) fn wal_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.log"))
}
pub(crate) fn table_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.sst"))
}

/// Lists the directory's files we know, with their kinds.
pub(crate) fn list(fs: &FileSystem, dir: &Path) -> Result<Vec<(FileKind, PathBuf)>> {
    let entries = fs.list_now(dir).map_err(|e| Error::io("list", dir, e))?;
    Ok(entries
        .into_iter()
        .filter_map(|(name, path)| parse(&name).map(|kind| (kind, path)))
        .collect())
}

/// Reads a whole file.
pub(crate) async fn read_all(fs: &FileSystem, path: &Path) -> Result<Vec<u8>> {
    let file = fs
        .open(path, OpenMode::Read)
        .await
        .map_err(|e| Error::io("open", path, e))?;
    let len = file.len().await.map_err(|e| Error::io("stat", path, e))?;
    file.read_exact_at(len as usize, 0)
        .await
        .map_err(|e| Error::io("read", path, e))
}

/// Writes `bytes` to `path` atomically: write a temp file, fsync it, rename
/// it over `path`, fsync the directory.
pub(crate) async fn write_atomically(
    fs: &FileSystem,
    dir: &Path,
    path: &Path,
    bytes: Vec<u8>,
) -> Result<()> {
    let tmp = write_temp(fs, path, bytes).await?;
    replace_with_temp(fs, dir, &tmp, path).await
}

/// The temp file `write_atomically` writes first.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    path.with_extension("tmp")
}

/// The first half of [`write_atomically`]: the temp file, written and
/// synced (`path` untouched).
pub(crate) async fn write_temp(fs: &FileSystem, path: &Path, bytes: Vec<u8>) -> Result<PathBuf> {
    let tmp = temp_path(path);
    let file = fs
        .open(&tmp, OpenMode::Create)
        .await
        .map_err(|e| Error::io("create", &tmp, e))?;
    let (res, _) = file.write_all_at(bytes, 0).await;
    res.map_err(|e| Error::io("write", &tmp, e))?;
    file.sync_all()
        .await
        .map_err(|e| Error::io("fsync", &tmp, e))?;
    Ok(tmp)
}

/// The second half: rename the temp file over `path`, sync the directory.
pub(crate) async fn replace_with_temp(
    fs: &FileSystem,
    dir: &Path,
    tmp: &Path,
    path: &Path,
) -> Result<()> {
    fs.rename(tmp, path)
        .await
        .map_err(|e| Error::io("rename", tmp, e))?;
    sync_dir(fs, dir).await
}

pub(crate) async fn sync_dir(fs: &FileSystem, dir: &Path) -> Result<()> {
    fs.sync_dir(dir)
        .await
        .map_err(|e| Error::io("fsync dir", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/d");
        assert_eq!(parse("CURRENT"), Some(FileKind::Current));
        assert_eq!(parse(&manifest_name(7)), Some(FileKind::Manifest(7)));
        let wal = wal_path(dir, 12);
        assert_eq!(
            parse(wal.file_name().unwrap().to_str().unwrap()),
            Some(FileKind::Wal(12))
        );
        let t = table_path(dir, 15);
        assert_eq!(
            parse(t.file_name().unwrap().to_str().unwrap()),
            Some(FileKind::Table(15))
        );
        assert_eq!(parse("000015.sst.tmp"), Some(FileKind::Temp));
        assert_eq!(parse("LOCK"), None);
        assert_eq!(parse("x.sst"), None);
    }
}
