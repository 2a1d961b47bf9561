//! The manifest: a log of version edits describing the partition's table
//! set, and the `CURRENT` file that names the live manifest.
//!
//! # File layout
//!
//! A manifest file is WAL-framed ([`crate::wal`]): each record's payload is
//! one encoded [`VersionEdit`]; the first record of a manifest is a full
//! snapshot ([`ManifestState::snapshot_edit`]). A torn tail is tolerated —
//! the last edit was never acknowledged — and the caller truncates the file
//! to [`ManifestReplay::valid_len`] (or rotates) before appending again.
//!
//! # Edit layout
//!
//! An edit is a sequence of tagged fields, `[tag: varint][len: varint][body]`,
//! in any order; the length prefix lets a future reader skip a field it was
//! taught to ignore, but today an unknown tag is an error naming it.
//!
//! | tag | field            | body                                        | repeat |
//! |-----|------------------|---------------------------------------------|--------|
//! | 1   | next_table_id    | varint                                      | once   |
//! | 2   | last_seqno       | varint                                      | once   |
//! | 3   | wal_segment      | varint                                      | once   |
//! | 4   | partition_format | varint (fits u32)                           | once   |
//! | 5   | deleted table    | level u8, id varint                         | many   |
//! | 6   | added table      | id varint, level u8, size varint, smallest and largest (varint-length-prefixed internal keys), min_seqno, max_seqno, entries (varints) | many |
//!
//! Varints are [`crate::batch::varint`].
//!
//! # Applying an edit
//!
//! [`ManifestState::apply`] is all-or-nothing and checks the invariants:
//! deletes are applied before adds (a move is delete + add of the same id);
//! a deleted table must exist at that level; an added table's id must be
//! new and below the (updated) `next_table_id`; `next_table_id`,
//! `last_seqno` and `wal_segment` never go backwards; `partition_format`
//! never changes once set; tables of L1 and deeper never overlap. The Db
//! applies an edit to its live state *before* logging it, so an invalid
//! edit is refused at write time instead of at the next open.

mod current;
mod edit;
mod error;
mod state;
#[cfg(test)]
mod tests;

pub use current::{decode_current, encode_current};
pub use edit::{TableMeta, VersionEdit};
pub use error::{
    ApplyError, CurrentError, EditError, FieldProblem, ManifestError, RecordFault, TableProblem,
};
pub use state::{replay_manifest, ManifestReplay, ManifestState};

/// Number of LSM levels, L0 to L6.
pub const NUM_LEVELS: usize = 7;
