//! The simulated machine's files: a page cache over a disk.
//!
//! Files are inodes named by directory entries. Each inode has two
//! images: `data`, what reads see (the page cache), and `disk`, what a
//! power loss leaves. A sync copies `data` to `disk`, except the ranges a
//! failed sync dropped (`dropped`: their pages were marked clean, as Linux
//! does, so no later sync writes them; they read back as the old disk
//! bytes, zeros past its end). Each directory has its entries and its
//! durable entries; a directory sync makes the first the second. A power
//! loss keeps only what is reachable from `/` through durable entries,
//! each inode with its disk image (plus, optionally, a random prefix of
//! the bytes appended since its last sync: a torn write).
//!
//! Paths are absolute and taken as given (no `..`, no symlinks).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::super::OpenMode;
use crate::test_rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File(u64),
    Dir,
}

#[derive(Default, Clone)]
struct Dir {
    entries: BTreeMap<String, Entry>,
    durable: BTreeMap<String, Entry>,
}

#[derive(Default)]
struct Inode {
    data: Vec<u8>,
    disk: Vec<u8>,
    dropped: Vec<Range<usize>>,
    /// Open handles of the current power-on period.
    handles: usize,
}

pub(super) struct Disk {
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    dirs: HashMap<PathBuf, Dir>,
}

pub(super) fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn split(path: &Path) -> io::Result<(&Path, String)> {
    match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        (Some(parent), Some(name)) => Ok((parent, name.to_string())),
        _ => Err(errno(libc::EINVAL)),
    }
}

impl Disk {
    pub(super) fn new() -> Disk {
        let mut dirs = HashMap::new();
        dirs.insert(PathBuf::from("/"), Dir::default());
        Disk {
            inodes: HashMap::new(),
            next_inode: 1,
            dirs,
        }
    }

    fn lookup(&self, path: &Path) -> io::Result<Option<Entry>> {
        if path == Path::new("/") {
            return Ok(Some(Entry::Dir));
        }
        let (parent, name) = split(path)?;
        let dir = self.dirs.get(parent).ok_or_else(|| errno(libc::ENOENT))?;
        Ok(dir.entries.get(&name).copied())
    }

    fn parent_mut(&mut self, path: &Path) -> io::Result<(&mut Dir, String)> {
        let (parent, name) = split(path)?;
        let dir = self
            .dirs
            .get_mut(parent)
            .ok_or_else(|| errno(libc::ENOENT))?;
        Ok((dir, name))
    }

    fn file_id(&self, path: &Path) -> io::Result<u64> {
        match self.lookup(path)? {
            Some(Entry::File(id)) => Ok(id),
            Some(Entry::Dir) => Err(errno(libc::EISDIR)),
            None => Err(errno(libc::ENOENT)),
        }
    }

    pub(super) fn is_dir(&self, path: &Path) -> bool {
        matches!(self.lookup(path), Ok(Some(Entry::Dir)))
    }

    pub(super) fn exists(&self, path: &Path) -> bool {
        matches!(self.lookup(path), Ok(Some(_)))
    }

    pub(super) fn create_dir(&mut self, path: &Path) -> io::Result<()> {
        if self.lookup(path)?.is_some() {
            return Err(errno(libc::EEXIST));
        }
        let (dir, name) = self.parent_mut(path)?;
        dir.entries.insert(name, Entry::Dir);
        self.dirs.insert(path.to_path_buf(), Dir::default());
        Ok(())
    }

    /// Opens (or creates) a file; returns its inode, with one more handle.
    pub(super) fn open(&mut self, path: &Path, mode: OpenMode) -> io::Result<u64> {
        let existing = self.lookup(path)?;
        let id = match (mode, existing) {
            (_, Some(Entry::Dir)) => return Err(errno(libc::EISDIR)),
            (OpenMode::CreateNew, Some(_)) => return Err(errno(libc::EEXIST)),
            (OpenMode::Read | OpenMode::Write, None) => return Err(errno(libc::ENOENT)),
            (OpenMode::Create, Some(Entry::File(id))) => {
                self.set_len(id, 0);
                id
            }
            (OpenMode::Read | OpenMode::Write, Some(Entry::File(id))) => id,
            (OpenMode::Create | OpenMode::CreateNew, None) => {
                let id = self.next_inode;
                self.next_inode += 1;
                self.inodes.insert(id, Inode::default());
                let (dir, name) = self.parent_mut(path)?;
                dir.entries.insert(name, Entry::File(id));
                id
            }
        };
        if let Some(inode) = self.inodes.get_mut(&id) {
            inode.handles += 1;
        }
        Ok(id)
    }

    pub(super) fn close(&mut self, id: u64) {
        if let Some(inode) = self.inodes.get_mut(&id) {
            inode.handles = inode.handles.saturating_sub(1);
        }
        self.collect(id);
    }

    pub(super) fn used_bytes(&self) -> u64 {
        self.inodes
            .values()
            .map(|i| i.data.len().max(i.disk.len()) as u64)
            .sum()
    }

    pub(super) fn read(&self, id: u64, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let inode = self.inodes.get(&id).ok_or_else(|| errno(libc::EBADF))?;
        let start = usize::try_from(offset).map_err(|_| errno(libc::EINVAL))?;
        let end = start.checked_add(len).ok_or_else(|| errno(libc::EINVAL))?;
        match inode.data.get(start..end) {
            Some(bytes) => Ok(bytes.to_vec()),
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    pub(super) fn len(&self, id: u64) -> u64 {
        self.inodes.get(&id).map_or(0, |i| i.data.len() as u64)
    }

    /// Writes at `offset` (growing the file with zeros as needed).
    pub(super) fn write(&mut self, id: u64, bytes: &[u8], offset: u64) -> io::Result<()> {
        let inode = self.inodes.get_mut(&id).ok_or_else(|| errno(libc::EBADF))?;
        let start = usize::try_from(offset).map_err(|_| errno(libc::EINVAL))?;
        let end = start + bytes.len();
        if inode.data.len() < end {
            inode.data.resize(end, 0);
        }
        inode.data[start..end].copy_from_slice(bytes);
        // Pages written again are dirty again: a sync writes them.
        inode.dropped = subtract(&inode.dropped, start..end);
        Ok(())
    }

    pub(super) fn set_len(&mut self, id: u64, len: u64) {
        if let Some(inode) = self.inodes.get_mut(&id) {
            inode.data.resize(len as usize, 0);
        }
    }

    /// A successful sync: the page cache reaches the disk, except the
    /// pages a failed sync dropped.
    pub(super) fn sync(&mut self, id: u64) {
        let Some(inode) = self.inodes.get_mut(&id) else {
            return;
        };
        let mut disk = inode.data.clone();
        for r in &inode.dropped {
            let end = r.end.min(disk.len());
            for (i, byte) in disk.iter_mut().enumerate().take(end).skip(r.start) {
                *byte = inode.disk.get(i).copied().unwrap_or(0);
            }
        }
        inode.disk = disk;
    }

    /// A sync that failed: the dirty pages' writeback failed, they are
    /// marked clean and never reach the disk (fsyncgate).
    pub(super) fn fail_sync(&mut self, id: u64) {
        let Some(inode) = self.inodes.get_mut(&id) else {
            return;
        };
        let first_dirty = inode
            .data
            .iter()
            .zip(&inode.disk)
            .position(|(a, b)| a != b)
            .unwrap_or(inode.data.len().min(inode.disk.len()));
        if first_dirty < inode.data.len() {
            inode.dropped.push(first_dirty..inode.data.len());
        }
    }

    pub(super) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let entry = self.lookup(from)?.ok_or_else(|| errno(libc::ENOENT))?;
        if entry == Entry::Dir || self.is_dir(to) {
            return Err(errno(libc::EISDIR)); // the engine renames files only
        }
        let replaced = self.lookup(to)?;
        self.parent_mut(to)?;
        let (dir, name) = self.parent_mut(from)?;
        dir.entries.remove(&name);
        let (dir, name) = self.parent_mut(to)?;
        dir.entries.insert(name, entry);
        if let Some(Entry::File(old)) = replaced {
            self.collect(old);
        }
        Ok(())
    }

    pub(super) fn remove_file(&mut self, path: &Path) -> io::Result<()> {
        let id = self.file_id(path)?;
        let (dir, name) = self.parent_mut(path)?;
        dir.entries.remove(&name);
        self.collect(id);
        Ok(())
    }

    pub(super) fn hard_link(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let id = self.file_id(from)?;
        if self.lookup(to)?.is_some() {
            return Err(errno(libc::EEXIST));
        }
        let (dir, name) = self.parent_mut(to)?;
        dir.entries.insert(name, Entry::File(id));
        Ok(())
    }

    pub(super) fn sync_dir(&mut self, path: &Path) -> io::Result<()> {
        let dir = self.dirs.get_mut(path).ok_or_else(|| errno(libc::ENOENT))?;
        dir.durable = dir.entries.clone();
        let gone: Vec<u64> = self.inodes.keys().copied().collect();
        for id in gone {
            self.collect(id);
        }
        Ok(())
    }

    pub(super) fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let dir = self.dirs.get(path).ok_or_else(|| errno(libc::ENOENT))?;
        Ok(dir.entries.keys().cloned().collect())
    }

    pub(super) fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(self.len(self.file_id(path)?))
    }

    /// The current contents of a file (what reads see).
    pub(super) fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let id = self.file_id(path).ok()?;
        self.inodes.get(&id).map(|i| i.data.clone())
    }

    /// Drops an inode no entry names and no handle holds.
    fn collect(&mut self, id: u64) {
        let held = self.inodes.get(&id).is_some_and(|i| i.handles > 0);
        let named = self.dirs.values().any(|d| {
            d.entries
                .values()
                .chain(d.durable.values())
                .any(|e| *e == Entry::File(id))
        });
        if !held && !named {
            self.inodes.remove(&id);
        }
    }

    /// The power goes: only durable entries and synced bytes remain (plus,
    /// with `torn`, a random prefix of each file's unsynced appends).
    pub(super) fn power_loss(&mut self, mut torn: Option<&mut Rng>) {
        let mut dirs = HashMap::new();
        let mut live = HashSet::new();
        let mut stack = vec![PathBuf::from("/")];
        while let Some(path) = stack.pop() {
            let durable = self
                .dirs
                .get(&path)
                .map(|d| d.durable.clone())
                .unwrap_or_default();
            for (name, entry) in &durable {
                match entry {
                    Entry::File(id) => {
                        live.insert(*id);
                    }
                    Entry::Dir => stack.push(path.join(name)),
                }
            }
            dirs.insert(
                path,
                Dir {
                    entries: durable.clone(),
                    durable,
                },
            );
        }
        self.dirs = dirs;
        self.inodes.retain(|id, _| live.contains(id));
        for inode in self.inodes.values_mut() {
            let appended = inode.data.len() > inode.disk.len()
                && inode.data.starts_with(&inode.disk)
                && inode.dropped.is_empty();
            let mut after = std::mem::take(&mut inode.disk);
            if let (true, Some(rng)) = (appended, torn.as_deref_mut()) {
                let extra = (inode.data.len() - after.len()) as u64;
                let keep = rng.below(extra + 1) as usize;
                after.extend_from_slice(&inode.data[after.len()..after.len() + keep]);
            }
            inode.data = after.clone();
            inode.disk = after;
            inode.dropped.clear();
            inode.handles = 0;
        }
    }
}

/// `ranges` minus `cut`.
fn subtract(ranges: &[Range<usize>], cut: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for r in ranges {
        if r.end <= cut.start || r.start >= cut.end {
            out.push(r.clone());
            continue;
        }
        if r.start < cut.start {
            out.push(r.start..cut.start);
        }
        if r.end > cut.end {
            out.push(cut.end..r.end);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(disk: &mut Disk, path: &str, bytes: &[u8]) -> u64 {
        let id = disk.open(Path::new(path), OpenMode::CreateNew).unwrap();
        disk.write(id, bytes, 0).unwrap();
        id
    }

    #[test]
    fn unsynced_bytes_and_entries_are_lost_and_synced_ones_kept() {
        let mut d = Disk::new();
        d.create_dir(Path::new("/a")).unwrap();
        d.sync_dir(Path::new("/")).unwrap();
        let synced = file(&mut d, "/a/synced", b"hello");
        d.sync(synced);
        d.write(synced, b" world", 5).unwrap();
        let unsynced_entry = file(&mut d, "/a/no-dir-sync", b"x");
        d.sync(unsynced_entry);
        d.sync_dir(Path::new("/a")).unwrap();
        // Created after the directory sync: its entry is volatile.
        let late = file(&mut d, "/a/late", b"y");
        d.sync(late);
        d.power_loss(None);
        assert_eq!(d.contents(Path::new("/a/synced")).unwrap(), b"hello");
        assert_eq!(d.contents(Path::new("/a/no-dir-sync")).unwrap(), b"x");
        assert!(!d.exists(Path::new("/a/late")));
    }

    #[test]
    fn a_directory_whose_own_entry_was_never_synced_vanishes() {
        let mut d = Disk::new();
        d.create_dir(Path::new("/a")).unwrap();
        let id = file(&mut d, "/a/f", b"data");
        d.sync(id);
        d.sync_dir(Path::new("/a")).unwrap();
        d.power_loss(None);
        assert!(!d.exists(Path::new("/a")));
    }

    #[test]
    fn a_rename_is_durable_only_after_the_directory_sync() {
        let mut d = Disk::new();
        let old = file(&mut d, "/CURRENT", b"old");
        d.sync(old);
        let new = file(&mut d, "/CURRENT.tmp", b"new");
        d.sync(new);
        d.sync_dir(Path::new("/")).unwrap();
        d.rename(Path::new("/CURRENT.tmp"), Path::new("/CURRENT"))
            .unwrap();
        assert_eq!(d.contents(Path::new("/CURRENT")).unwrap(), b"new");
        d.power_loss(None);
        assert_eq!(d.contents(Path::new("/CURRENT")).unwrap(), b"old");
        assert!(d.exists(Path::new("/CURRENT.tmp")));
    }

    #[test]
    fn pages_a_failed_sync_dropped_never_reach_the_disk_even_after_a_later_sync() {
        let mut d = Disk::new();
        let id = file(&mut d, "/wal", b"aaaa");
        d.sync(id);
        d.sync_dir(Path::new("/")).unwrap();
        d.write(id, b"bbbb", 4).unwrap();
        d.fail_sync(id);
        // The page cache still shows the lost bytes...
        assert_eq!(d.contents(Path::new("/wal")).unwrap(), b"aaaabbbb");
        d.write(id, b"cc", 8).unwrap();
        d.sync(id);
        d.power_loss(None);
        // ...but the disk has zeros there, and what came after.
        assert_eq!(d.contents(Path::new("/wal")).unwrap(), b"aaaa\0\0\0\0cc");
    }

    #[test]
    fn torn_writes_keep_a_prefix_of_the_unsynced_appends() {
        let mut rng = Rng::new(7);
        let mut seen = HashSet::new();
        for _ in 0..64 {
            let mut d = Disk::new();
            let id = file(&mut d, "/log", b"ab");
            d.sync(id);
            d.sync_dir(Path::new("/")).unwrap();
            d.write(id, b"cdef", 2).unwrap();
            d.power_loss(Some(&mut rng));
            let got = d.contents(Path::new("/log")).unwrap();
            assert!(b"abcdef".starts_with(&got) && got.len() >= 2, "{got:?}");
            seen.insert(got.len());
        }
        assert!(seen.len() > 2, "torn lengths vary: {seen:?}");
    }

    #[test]
    fn a_removed_file_stays_readable_through_an_open_handle() {
        let mut d = Disk::new();
        let id = file(&mut d, "/t", b"table");
        d.remove_file(Path::new("/t")).unwrap();
        assert_eq!(d.read(id, 5, 0).unwrap(), b"table");
        d.close(id);
        assert!(d.read(id, 5, 0).is_err());
    }
}
