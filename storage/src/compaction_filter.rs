//! [`CompactionFilter`]: the hook that lets compactions drop records made
//! dead by another record, without storage knowing what the records mean.
//!
//! How a compaction uses it (see `db::filter` and
//! [`CompactionIter`](crate::merge::CompactionIter)):
//!
//! 1. For the newest version of each user key in its inputs, it asks
//!    [`dependency`](CompactionFilter::dependency) and collects the distinct
//!    dependency keys.
//! 2. On the owning core it reads each dependency's current value (as
//!    [`Db::get`](crate::Db::get) would: memtables and every table, expiry
//!    applied) and the seqno of its newest record.
//! 3. In the merge, the newest version of a key whose
//!    [`is_dead`](CompactionFilter::is_dead) says so becomes a tombstone
//!    with its own seqno, unless a live snapshot could still see the
//!    dependency's older state. The ordinary rules then drop it and every
//!    version below it as far as snapshots allow.
//!
//! Flushes never call the filter. Without a filter
//! ([`Options::compaction_filter`](crate::Options::compaction_filter) is
//! `None`) compactions do none of this.

use std::fmt;

/// Decides, during compactions, that records are dead because of another
/// record's current value.
///
/// # Contract
///
/// Death must be permanent: once `is_dead(key, value, d)` is true for some
/// state `d` of the dependency, it must be true for every later state of
/// it, absent included. A compaction relies on that to drop a record that
/// readers of the latest state would no longer look at: it never checks
/// again. Kvrocks-style collections meet it because an element key carries
/// its collection's version and versions are never reused.
///
/// Both methods run on compaction threads (any core) and must not panic: a
/// panic fails the compaction, which refuses further writes.
///
/// # Examples
///
/// Elements `e<name>|<version>|<sub>` live as long as the metadata record
/// `m<name>` holds their version:
///
/// ```
/// use std::sync::Arc;
/// use frys_storage::{CompactionFilter, Options};
///
/// struct Versions;
///
/// impl CompactionFilter for Versions {
///     fn dependency(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
///         let Some(rest) = key.strip_prefix(b"e") else { return false };
///         let Some(name) = rest.split(|&b| b == b'|').next() else { return false };
///         out.push(b'm');
///         out.extend_from_slice(name);
///         true
///     }
///
///     fn is_dead(&self, key: &[u8], _value: &[u8], dependency: Option<&[u8]>) -> bool {
///         let version = key.split(|&b| b == b'|').nth(1);
///         match dependency {
///             None => true,
///             Some(current) => version != Some(current),
///         }
///     }
/// }
///
/// let opts = Options { compaction_filter: Some(Arc::new(Versions)), ..Options::default() };
/// # let _ = opts;
/// ```
pub trait CompactionFilter: Send + Sync + 'static {
    /// If `key`'s liveness depends on another record, writes that record's
    /// key into `out` (cleared by the caller) and returns true.
    fn dependency(&self, key: &[u8], out: &mut Vec<u8>) -> bool;

    /// Whether the record `key` = `value` is dead, given the current value
    /// of its dependency (`None`: absent, deleted or expired).
    fn is_dead(&self, key: &[u8], value: &[u8], dependency: Option<&[u8]>) -> bool;
}

impl fmt::Debug for dyn CompactionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompactionFilter")
    }
}
