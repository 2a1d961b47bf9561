//! Which calls of the simulated file system fail, and how.

/// A kind of call that changes the simulated machine (the calls counted
/// by [`FaultFs::ops`](super::FaultFs::ops) and matched by rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultOp {
    /// Creating a file (open with create) or a directory.
    Create,
    /// Writing bytes to a file.
    Write,
    /// `fsync`/`fdatasync` of a file.
    Sync,
    /// `fsync` of a directory.
    SyncDir,
    /// Renaming a file.
    Rename,
    /// Removing a file.
    Remove,
    /// Hard-linking a file.
    Link,
    /// Truncating or extending a file.
    SetLen,
}

/// One injected failure: calls of kind `op` on files whose name contains
/// `file` fail with `errno`, after `skip` matching calls passed, for
/// `times` calls.
///
/// A failed [`FaultOp::Sync`] behaves as Linux after a writeback error:
/// the file's dirty pages are marked clean without reaching the disk, so a
/// later sync that succeeds does not make them durable.
///
/// # Examples
/// ```
/// use frys_storage::fault::{FaultOp, FaultRule};
/// // The second fdatasync of a WAL segment fails with EIO.
/// let rule = FaultRule::new(FaultOp::Sync, libc::EIO).on_files(".log").after(1);
/// ```
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub(super) op: FaultOp,
    pub(super) file: String,
    pub(super) skip: u64,
    pub(super) times: u64,
    pub(super) errno: i32,
    pub(super) short: bool,
}

impl FaultRule {
    /// Fails the next call of kind `op`, on any file, with `errno`.
    pub fn new(op: FaultOp, errno: i32) -> FaultRule {
        FaultRule {
            op,
            file: String::new(),
            skip: 0,
            times: 1,
            errno,
            short: false,
        }
    }

    /// Only calls on files (or directories) whose name contains `part`.
    pub fn on_files(mut self, part: &str) -> FaultRule {
        self.file = part.to_string();
        self
    }

    /// Lets the first `n` matching calls pass.
    pub fn after(mut self, n: u64) -> FaultRule {
        self.skip = n;
        self
    }

    /// Fails `n` matching calls (`u64::MAX`: every one, until cleared).
    pub fn times(mut self, n: u64) -> FaultRule {
        self.times = n;
        self
    }

    /// For [`FaultOp::Write`]: half the bytes land in the file before the
    /// call fails (a short write, then the error).
    pub fn short_write(mut self) -> FaultRule {
        self.short = true;
        self
    }

    /// Whether the rule fires for this call (consuming one use).
    pub(super) fn fires(&mut self, op: FaultOp, name: &str) -> bool {
        if op != self.op || !name.contains(&self.file) || self.times == 0 {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.times -= 1;
        true
    }
}
