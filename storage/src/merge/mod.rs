//! The read side of the LSM: merging sorted sources of internal keys, and
//! the two views over the merge.
//!
//! - [`MergingIter`]: k-way merge of child iterators by
//!   [`compare_internal_keys`](crate::key::compare_internal_keys). Children
//!   are given newest source first (memtable, immutable memtables, L0
//!   newest first, L1, ...); an exact tie on the internal key goes to the
//!   newer source.
//! - [`VisibleIter`]: what a reader sees at a snapshot and a wall-clock
//!   time: for each user key, the newest version with seqno <= snapshot,
//!   unless it is a tombstone or has expired (`expires_at <= now_ms`). An
//!   expired or deleted newest version hides the key; older versions never
//!   show through.
//! - [`CompactionIter`]: what a compaction writes; see its docs for the
//!   rules (snapshot stripes, tombstones, expiry, values [`DeadValues`]
//!   declares dead).
//! - [`VecIter`]: a source over an in-memory vector (tests, memtable
//!   snapshots).
//!
//! Every constructor here positions its iterator on the first entry.
//! Malformed internal keys or value fields never panic: readers skip them,
//! compaction copies them through unchanged, and both count them
//! (`malformed()`) so the caller can report corruption.

mod compaction_iter;
mod merging;
mod vec_iter;
mod visible;

pub use compaction_iter::{CompactionIter, DeadValues};
pub use merging::MergingIter;
pub use vec_iter::VecIter;
pub use visible::VisibleIter;

/// A sorted source of `(internal key, value field)` entries, ordered by
/// [`compare_internal_keys`](crate::key::compare_internal_keys).
///
/// `key` and `value` are only meaningful while `valid()`; implementations in
/// this module return empty slices otherwise.
pub trait EntryIter {
    /// Whether the iterator is positioned on an entry.
    fn valid(&self) -> bool;
    /// The current internal key.
    fn key(&self) -> &[u8];
    /// The current value field.
    fn value(&self) -> &[u8];
    /// Moves to the next entry (no-op when not valid).
    fn next(&mut self);
    /// Positions on the first entry whose internal key is >= `ikey`.
    fn seek(&mut self, ikey: &[u8]);
    /// Positions on the first entry.
    fn seek_to_first(&mut self);
}

#[cfg(test)]
mod dead_values_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
