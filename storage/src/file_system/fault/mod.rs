//! [`FaultFs`]: a simulated file system for crash tests, as RocksDB's
//! `FaultInjectionTestFS`: everything in memory, with a page cache that a
//! power loss empties, and calls that fail on request.
//!
//! - Writes, directory entries and syncs follow the contract of the
//!   [seam](crate::FileSystem) strictly (see `disk`): nothing is durable
//!   before its sync, and a failed sync loses its dirty pages for good.
//! - [`power_loss`](FaultFs::power_loss) (or
//!   [`power_loss_after`](FaultFs::power_loss_after) a number of calls, to
//!   cut at a chosen point of a workload) keeps only what was durable,
//!   optionally with torn writes ([`set_torn_writes`](FaultFs::set_torn_writes)).
//! - Power periods: a partition opened on the file system is bound to the
//!   current one. After a power loss every call of the old partition fails
//!   with `EIO` and changes nothing (its machine is dead), and its lock is
//!   gone, so the test can open the directory again while the old
//!   partition is dropped.
//! - [`inject`](FaultFs::inject) makes chosen calls fail ([`FaultRule`]);
//!   [`set_capacity`](FaultFs::set_capacity) makes writes past a size fail
//!   with `ENOSPC` after writing what fits.
//!
//! Shared by the test and the partitions through an `Arc<Mutex<..>>`:
//! partitions may live on several cores, and a merge reads in a `Send`
//! task. Nothing here blocks: every call completes at once.

mod disk;
mod rules;

pub use rules::{FaultOp, FaultRule};

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{FileSystem, OpenMode};
use crate::error::{Error, Result};
use crate::test_rng::Rng;
use disk::{errno, Disk};

/// The simulated machine: its files and what will fail. Cheap to clone
/// (clones share it).
///
/// # Examples
/// ```
/// use frys_storage::fault::FaultFs;
/// use frys_storage::{Db, Options, SyncPolicy};
///
/// let fs = FaultFs::new();
/// let opts = Options {
///     sync: SyncPolicy::Always,
///     file_system: fs.file_system(),
///     ..Options::default()
/// };
/// let rt = frys_runtime::Runtime::builder()
///     .cores(frys_runtime::Cores::Count(1))
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let db = Db::open("/db", opts.clone()).await?;
///     db.put(b"k", b"acknowledged").await?;
///     fs.power_loss(); // `db` is dead now: its calls fail with EIO
///     drop(db);
///     let db = Db::open("/db", opts).await?;
///     assert_eq!(db.get(b"k").await?.as_deref(), Some(&b"acknowledged"[..]));
///     Ok::<(), frys_storage::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone, Default)]
pub struct FaultFs {
    shared: Arc<Mutex<Machine>>,
}

struct Machine {
    disk: Disk,
    /// The power-on period; handles of an older one are dead.
    period: u64,
    ops: u64,
    power_loss_at: Option<u64>,
    power_losses: u64,
    torn: Option<Rng>,
    capacity: Option<u64>,
    rules: Vec<FaultRule>,
    injected: u64,
    locks: Vec<PathBuf>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            disk: Disk::new(),
            period: 0,
            ops: 0,
            power_loss_at: None,
            power_losses: 0,
            torn: None,
            capacity: None,
            rules: Vec::new(),
            injected: 0,
            locks: Vec::new(),
        }
    }
}

/// What a gated call may do.
enum Verdict {
    Proceed,
    Fail { errno: i32, short: bool },
}

impl Machine {
    fn cut_power(&mut self) {
        self.disk.power_loss(self.torn.as_mut());
        self.period += 1;
        self.power_losses += 1;
        self.power_loss_at = None;
        self.locks.clear();
    }

    /// Every call passes here: a dead handle fails; a changing call is
    /// counted (the power may go now) and matched against the rules.
    fn gate(&mut self, period: u64, op: Option<FaultOp>, path: &Path) -> io::Result<Verdict> {
        if period != self.period {
            return Err(errno(libc::EIO));
        }
        let Some(op) = op else {
            return Ok(Verdict::Proceed);
        };
        self.ops += 1;
        if self.power_loss_at.is_some_and(|at| self.ops >= at) {
            self.cut_power();
            return Err(errno(libc::EIO));
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        for rule in &mut self.rules {
            if rule.fires(op, name) {
                self.injected += 1;
                return Ok(Verdict::Fail {
                    errno: rule.errno,
                    short: rule.short,
                });
            }
        }
        Ok(Verdict::Proceed)
    }

    fn simple(&mut self, period: u64, op: Option<FaultOp>, path: &Path) -> io::Result<()> {
        match self.gate(period, op, path)? {
            Verdict::Proceed => Ok(()),
            Verdict::Fail { errno: e, .. } => Err(errno(e)),
        }
    }
}

impl FaultFs {
    /// An empty machine: only `/` exists; nothing fails.
    pub fn new() -> FaultFs {
        FaultFs::default()
    }

    fn machine(&self) -> MutexGuard<'_, Machine> {
        // A test that panicked while holding it leaves nothing half-done
        // (every change is made in one locked call).
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The [`FileSystem`] to put in [`Options`](crate::Options): each
    /// `Db::open` binds to the power period current at that time.
    pub fn file_system(&self) -> FileSystem {
        let period = self.machine().period;
        FileSystem::fault(Session {
            shared: self.shared.clone(),
            period,
        })
    }

    /// The power goes now: every unsynced byte and directory entry is
    /// dropped, every open partition's handles die.
    pub fn power_loss(&self) {
        self.machine().cut_power();
    }

    /// The power goes at the `n`-th changing call from now (that call does
    /// not happen); `0` disarms.
    pub fn power_loss_after(&self, n: u64) {
        let mut m = self.machine();
        m.power_loss_at = (n > 0).then(|| m.ops + n);
    }

    /// Power losses so far.
    pub fn power_losses(&self) -> u64 {
        self.machine().power_losses
    }

    /// Changing calls (creates, writes, syncs, renames, removes, links,
    /// truncations) so far.
    pub fn ops(&self) -> u64 {
        self.machine().ops
    }

    /// With a seed, a power loss keeps a random prefix of each file's
    /// unsynced appends (torn writes); `None` (the default) drops them all.
    pub fn set_torn_writes(&self, seed: Option<u64>) {
        self.machine().torn = seed.map(Rng::new);
    }

    /// Makes the disk hold at most `bytes` (writes past it write what fits,
    /// then fail with `ENOSPC`); `None` lifts the limit.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.machine().capacity = bytes;
    }

    /// Bytes the files take.
    pub fn used_bytes(&self) -> u64 {
        self.machine().disk.used_bytes()
    }

    /// Adds a failure rule (rules are tried in order; the first that fires
    /// fails the call).
    pub fn inject(&self, rule: FaultRule) {
        self.machine().rules.push(rule);
    }

    /// Removes every rule.
    pub fn clear_faults(&self) {
        self.machine().rules.clear();
    }

    /// Calls failed by rules so far.
    pub fn injected(&self) -> u64 {
        self.machine().injected
    }

    /// Creates a directory and makes it durable (test setup).
    ///
    /// # Errors
    /// As `mkdir`: the parent must exist.
    pub fn create_dir_durably(&self, path: &Path) -> io::Result<()> {
        let mut m = self.machine();
        m.disk.create_dir(path)?;
        m.disk.sync_dir(path.parent().unwrap_or(Path::new("/")))
    }

    /// What reads of `path` see now, if it exists.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        self.machine().disk.contents(path)
    }

    /// Whether `path` exists now.
    pub fn exists(&self, path: &Path) -> bool {
        self.machine().disk.exists(path)
    }

    /// Names in the directory `path`, sorted.
    ///
    /// # Errors
    /// `ENOENT` if it does not exist.
    pub fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        self.machine().disk.list(path)
    }

    /// Replaces (or creates) a file with `bytes`, durably (test setup, or
    /// damaging a file on purpose).
    ///
    /// # Errors
    /// As `open`: the directory must exist.
    pub fn write_durably(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut m = self.machine();
        let id = m.disk.open(path, OpenMode::Create)?;
        m.disk.write(id, bytes, 0)?;
        m.disk.sync(id);
        m.disk.close(id);
        m.disk.sync_dir(path.parent().unwrap_or(Path::new("/")))
    }
}

/// A partition's handle on the machine, bound to one power period.
#[derive(Clone)]
pub(crate) struct Session {
    shared: Arc<Mutex<Machine>>,
    period: u64,
}

impl Session {
    fn machine(&self) -> MutexGuard<'_, Machine> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A handle on the current power period.
    pub(crate) fn renew(&self) -> Session {
        Session {
            shared: self.shared.clone(),
            period: self.machine().period,
        }
    }

    pub(crate) fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FaultFile> {
        let creates = matches!(mode, OpenMode::Create | OpenMode::CreateNew);
        let mut m = self.machine();
        m.simple(self.period, creates.then_some(FaultOp::Create), path)?;
        let inode = m.disk.open(path, mode)?;
        Ok(FaultFile {
            session: self.clone(),
            inode,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn is_dir(&self, path: &Path) -> io::Result<bool> {
        let mut m = self.machine();
        m.simple(self.period, None, path)?;
        Ok(m.disk.is_dir(path))
    }

    pub(crate) fn create_dir(&self, path: &Path) -> io::Result<()> {
        let mut m = self.machine();
        m.simple(self.period, Some(FaultOp::Create), path)?;
        m.disk.create_dir(path)
    }

    pub(crate) fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut m = self.machine();
        m.simple(self.period, Some(FaultOp::Link), to)?;
        m.disk.hard_link(from, to)
    }

    pub(crate) fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut m = self.machine();
        m.simple(self.period, Some(FaultOp::Rename), to)?;
        m.disk.rename(from, to)
    }

    pub(crate) fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut m = self.machine();
        m.simple(self.period, Some(FaultOp::Remove), path)?;
        m.disk.remove_file(path)
    }

    pub(crate) fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut m = self.machine();
        m.simple(self.period, Some(FaultOp::SyncDir), path)?;
        m.disk.sync_dir(path)
    }

    pub(crate) fn list(&self, dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
        let mut m = self.machine();
        m.simple(self.period, None, dir)?;
        let names = m.disk.list(dir)?;
        Ok(names
            .into_iter()
            .map(|n| {
                let p = dir.join(&n);
                (n, p)
            })
            .collect())
    }

    pub(crate) fn len(&self, path: &Path) -> io::Result<u64> {
        let mut m = self.machine();
        m.simple(self.period, None, path)?;
        m.disk.file_len(path)
    }

    pub(crate) fn lock(&self, dir: &Path, file_name: &str) -> Result<crate::DirLock> {
        let path = dir.join(file_name);
        let mut m = self.machine();
        m.simple(self.period, None, &path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        if !m.disk.is_dir(dir) {
            return Err(Error::io("open lock file", &path, errno(libc::ENOENT)));
        }
        if m.locks.contains(&path) {
            return Err(Error::Locked {
                dir: dir.to_path_buf(),
                pid: Some(std::process::id()),
            });
        }
        m.locks.push(path.clone());
        drop(m);
        Ok(crate::DirLock::simulated(
            FaultLock {
                session: self.clone(),
                path: path.clone(),
            },
            path,
        ))
    }
}

/// A file open on the simulated machine.
pub(crate) struct FaultFile {
    session: Session,
    inode: u64,
    path: PathBuf,
}

impl FaultFile {
    pub(crate) fn read_exact_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let mut m = self.session.machine();
        m.simple(self.session.period, None, &self.path)?;
        m.disk.read(self.inode, len, offset)
    }

    pub(crate) fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        let mut m = self.session.machine();
        let (fits, fail) = match m.gate(self.session.period, Some(FaultOp::Write), &self.path)? {
            Verdict::Proceed => (bytes.len(), None),
            Verdict::Fail { errno, short } => {
                (if short { bytes.len() / 2 } else { 0 }, Some(errno))
            }
        };
        // What the capacity leaves room for (growth only).
        let end = offset + fits as u64;
        let growth = end.saturating_sub(m.disk.len(self.inode));
        let (fits, fail) = match m.capacity {
            Some(cap) if m.disk.used_bytes() + growth > cap => {
                let room = cap.saturating_sub(m.disk.used_bytes());
                let past_end = m.disk.len(self.inode).saturating_sub(offset);
                let n = (past_end + room).min(fits as u64) as usize;
                (n, fail.or(Some(libc::ENOSPC)))
            }
            _ => (fits, fail),
        };
        m.disk.write(self.inode, &bytes[..fits], offset)?;
        match fail {
            Some(e) => Err(errno(e)),
            None => Ok(()),
        }
    }

    pub(crate) fn sync(&self) -> io::Result<()> {
        let mut m = self.session.machine();
        match m.gate(self.session.period, Some(FaultOp::Sync), &self.path)? {
            Verdict::Proceed => {
                m.disk.sync(self.inode);
                Ok(())
            }
            Verdict::Fail { errno: e, .. } => {
                m.disk.fail_sync(self.inode);
                Err(errno(e))
            }
        }
    }

    pub(crate) fn len(&self) -> io::Result<u64> {
        let mut m = self.session.machine();
        m.simple(self.session.period, None, &self.path)?;
        Ok(m.disk.len(self.inode))
    }

    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        let mut m = self.session.machine();
        m.simple(self.session.period, Some(FaultOp::SetLen), &self.path)?;
        m.disk.set_len(self.inode, len);
        Ok(())
    }
}

impl Drop for FaultFile {
    fn drop(&mut self) {
        let mut m = self.session.machine();
        if m.period == self.session.period {
            m.disk.close(self.inode);
        }
    }
}

/// A partition's lock on the simulated machine; released when dropped,
/// unless the power went since (that released it).
pub(crate) struct FaultLock {
    session: Session,
    path: PathBuf,
}

impl Drop for FaultLock {
    fn drop(&mut self) {
        let mut m = self.session.machine();
        if m.period == self.session.period {
            m.locks.retain(|p| *p != self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (FaultFs, Session) {
        let fs = FaultFs::new();
        fs.create_dir_durably(Path::new("/d")).unwrap();
        let FileSystem(super::super::Backend::Fault(session)) = fs.file_system() else {
            unreachable!()
        };
        (fs, session)
    }

    #[test]
    fn a_rule_fires_after_its_skips_for_its_count_on_matching_files_only() {
        let (fs, s) = setup();
        let log = s.open(Path::new("/d/1.log"), OpenMode::Create).unwrap();
        let sst = s.open(Path::new("/d/2.sst"), OpenMode::Create).unwrap();
        fs.inject(
            FaultRule::new(FaultOp::Sync, libc::EIO)
                .on_files(".log")
                .after(1)
                .times(2),
        );
        assert!(log.sync().is_ok(), "skipped");
        assert!(sst.sync().is_ok(), "another file");
        assert_eq!(log.sync().unwrap_err().raw_os_error(), Some(libc::EIO));
        assert!(log.sync().is_err());
        assert!(log.sync().is_ok(), "used up");
        assert_eq!(fs.injected(), 2);
    }

    #[test]
    fn a_short_write_lands_half_its_bytes_then_fails() {
        let (fs, s) = setup();
        let f = s.open(Path::new("/d/x"), OpenMode::Create).unwrap();
        fs.inject(FaultRule::new(FaultOp::Write, libc::ENOSPC).short_write());
        let e = f.write_all_at(b"abcdefgh", 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(fs.contents(Path::new("/d/x")).unwrap(), b"abcd");
    }

    #[test]
    fn a_full_disk_writes_what_fits_then_fails_and_room_comes_back_with_removals() {
        let (fs, s) = setup();
        let f = s.open(Path::new("/d/x"), OpenMode::Create).unwrap();
        fs.set_capacity(Some(6));
        let e = f.write_all_at(b"abcdefgh", 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(fs.contents(Path::new("/d/x")).unwrap(), b"abcdef");
        // Overwriting in place needs no room.
        f.write_all_at(b"AB", 0).unwrap();
        drop(f);
        s.remove_file(Path::new("/d/x")).unwrap();
        assert_eq!(fs.used_bytes(), 0);
        let g = s.open(Path::new("/d/y"), OpenMode::Create).unwrap();
        g.write_all_at(b"123456", 0).unwrap();
    }

    #[test]
    fn after_a_power_loss_old_handles_fail_and_change_nothing_and_locks_are_free() {
        let (fs, s) = setup();
        let f = s.open(Path::new("/d/x"), OpenMode::Create).unwrap();
        f.write_all_at(b"synced", 0).unwrap();
        f.sync().unwrap();
        s.sync_dir(Path::new("/d")).unwrap();
        let lock = s.lock(Path::new("/d"), "LOCK").unwrap();
        fs.power_loss_after(2);
        f.write_all_at(b"!", 6).unwrap(); // call 1
        assert!(f.sync().is_err(), "call 2: the power goes");
        assert_eq!(fs.power_losses(), 1);
        assert!(f.write_all_at(b"late", 0).is_err());
        assert!(s.remove_file(Path::new("/d/x")).is_err());
        assert_eq!(fs.contents(Path::new("/d/x")).unwrap(), b"synced");
        let FileSystem(super::super::Backend::Fault(now)) = fs.file_system() else {
            unreachable!()
        };
        let relocked = now.lock(Path::new("/d"), "LOCK").unwrap();
        drop(lock); // the dead one must not release the new one
        assert!(matches!(
            now.lock(Path::new("/d"), "LOCK"),
            Err(Error::Locked { .. })
        ));
        drop(relocked);
        now.lock(Path::new("/d"), "LOCK").unwrap();
    }
}
