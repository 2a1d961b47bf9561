//! Errors of the manifest and `CURRENT`.

use std::fmt;

use super::edit::tag_name;
use crate::batch::varint::VarintError;
use crate::wal::WalError;

/// A manifest or `CURRENT` problem.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestError {
    /// An edit's bytes are malformed ([`super::VersionEdit::decode`]).
    Decode(EditError),
    /// An edit contradicts the state ([`super::ManifestState::apply`]).
    Apply(ApplyError),
    /// The manifest file's framing is corrupt (the error names the offset).
    Wal(WalError),
    /// The record at byte `offset` of the manifest file is a bad edit.
    Corrupt {
        /// Byte offset of the record's header in the manifest file.
        offset: u64,
        /// What is wrong with the edit.
        fault: RecordFault,
    },
    /// The manifest holds no complete edit. A manifest is named by
    /// `CURRENT` only after its first edit is durable, so this is not a
    /// torn write.
    NoEdits,
    /// The `CURRENT` file is malformed.
    Current(CurrentError),
}

/// What is wrong with one manifest record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFault {
    /// It does not decode as an edit.
    Decode(EditError),
    /// It does not apply to the state before it.
    Apply(ApplyError),
}

/// Why an edit's bytes do not decode. `at` is the byte offset of the
/// field inside the edit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditError {
    /// The field tag itself is malformed.
    BadTag {
        /// Offset of the field.
        at: usize,
        /// The problem.
        problem: FieldProblem,
    },
    /// A tag this version does not know.
    UnknownTag {
        /// Offset of the field.
        at: usize,
        /// The tag.
        tag: u64,
    },
    /// A field that may appear once per edit appears again.
    DuplicateField {
        /// Offset of the second occurrence.
        at: usize,
        /// The tag.
        tag: u64,
    },
    /// A field's length or body is malformed.
    BadField {
        /// Offset of the field.
        at: usize,
        /// The tag.
        tag: u64,
        /// The problem.
        problem: FieldProblem,
    },
    /// An added table is not self-consistent.
    InvalidTable {
        /// Offset of the field.
        at: usize,
        /// Table id.
        id: u64,
        /// The problem.
        problem: TableProblem,
    },
}

/// What is wrong inside one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// A varint or length prefix is malformed or runs past the end.
    Varint(VarintError),
    /// The body ends early.
    Truncated,
    /// The body has this many bytes left over.
    TrailingBytes(usize),
    /// The value does not fit the field.
    OutOfRange(u64),
}

/// Why a [`super::TableMeta`] is not self-consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableProblem {
    /// The level is not below [`super::NUM_LEVELS`].
    LevelOutOfRange(u8),
    /// `smallest` is not an internal key.
    BadSmallestKey,
    /// `largest` is not an internal key.
    BadLargestKey,
    /// `smallest` sorts after `largest`.
    KeysOutOfOrder,
    /// `min_seqno > max_seqno`, or past `key::MAX_SEQNO`.
    SeqnosOutOfOrder,
}

/// Why an edit cannot apply to the state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplyError {
    /// The deleted table is not at that level (or deleted twice).
    UnknownTable {
        /// Level named by the edit.
        level: u8,
        /// Table id.
        id: u64,
    },
    /// The added table's id is already live (or added twice).
    DuplicateTable {
        /// Table id.
        id: u64,
    },
    /// The added table is not self-consistent.
    InvalidTable {
        /// Table id.
        id: u64,
        /// The problem.
        problem: TableProblem,
    },
    /// The added table's id is not below `next_table_id`, so it could be
    /// handed out again after a restart.
    TableIdNotReserved {
        /// Table id.
        id: u64,
        /// `next_table_id` after the edit.
        next_table_id: u64,
    },
    /// A counter that only grows would go backwards.
    Regressed {
        /// Which counter.
        field: &'static str,
        /// Current value.
        from: u64,
        /// Value in the edit.
        to: u64,
    },
    /// The partition format is already set to something else.
    PartitionFormatChanged {
        /// Current value.
        from: u32,
        /// Value in the edit.
        to: u32,
    },
    /// Two tables of a level at or below L1 overlap.
    Overlap {
        /// The level.
        level: u8,
        /// The table sorting first.
        left: u64,
        /// The table sorting second.
        right: u64,
    },
}

/// Why `CURRENT` is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CurrentError {
    /// No file name.
    Empty,
    /// The content does not end in exactly one `\n`.
    MissingNewline,
    /// The name is not UTF-8.
    NotUtf8,
    /// The name contains `/` or `\`.
    PathSeparator,
    /// The name contains a control character (including NUL or a newline).
    ControlCharacter,
    /// The name is `.` or `..`.
    DotName,
    /// The name is longer than 255 bytes.
    TooLong(usize),
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Decode(e) => write!(f, "malformed version edit: {e}"),
            ManifestError::Apply(e) => write!(f, "version edit does not apply: {e}"),
            ManifestError::Wal(e) => write!(f, "manifest: {e}"),
            ManifestError::Corrupt { offset, fault } => {
                write!(f, "manifest record at byte {offset} is corrupt: {fault}")
            }
            ManifestError::NoEdits => f.write_str("manifest holds no complete version edit"),
            ManifestError::Current(e) => write!(f, "malformed CURRENT file: {e}"),
        }
    }
}

impl fmt::Display for RecordFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordFault::Decode(e) => write!(f, "malformed edit: {e}"),
            RecordFault::Apply(e) => write!(f, "edit does not apply: {e}"),
        }
    }
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::BadTag { at, problem } => {
                write!(f, "field at byte {at}: bad tag: {problem}")
            }
            EditError::UnknownTag { at, tag } => write!(f, "field at byte {at}: unknown tag {tag}"),
            EditError::DuplicateField { at, tag } => {
                write!(
                    f,
                    "field at byte {at}: {} (tag {tag}) given twice",
                    tag_name(*tag)
                )
            }
            EditError::BadField { at, tag, problem } => {
                write!(
                    f,
                    "field at byte {at}: {} (tag {tag}): {problem}",
                    tag_name(*tag)
                )
            }
            EditError::InvalidTable { at, id, problem } => {
                write!(f, "field at byte {at}: added table {id}: {problem}")
            }
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldProblem::Varint(e) => write!(f, "{e}"),
            FieldProblem::Truncated => f.write_str("truncated"),
            FieldProblem::TrailingBytes(n) => write!(f, "{n} trailing bytes"),
            FieldProblem::OutOfRange(v) => write!(f, "value {v} out of range"),
        }
    }
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableProblem::LevelOutOfRange(l) => {
                write!(f, "level {l} is not below {}", super::NUM_LEVELS)
            }
            TableProblem::BadSmallestKey => f.write_str("smallest key is not an internal key"),
            TableProblem::BadLargestKey => f.write_str("largest key is not an internal key"),
            TableProblem::KeysOutOfOrder => f.write_str("smallest key sorts after largest key"),
            TableProblem::SeqnosOutOfOrder => f.write_str("sequence number range is invalid"),
        }
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::UnknownTable { level, id } => {
                write!(f, "deleted table {id} is not in level {level}")
            }
            ApplyError::DuplicateTable { id } => write!(f, "added table {id} already exists"),
            ApplyError::InvalidTable { id, problem } => write!(f, "added table {id}: {problem}"),
            ApplyError::TableIdNotReserved { id, next_table_id } => write!(
                f,
                "added table {id} is not below next_table_id {next_table_id}"
            ),
            ApplyError::Regressed { field, from, to } => {
                write!(f, "{field} goes back from {from} to {to}")
            }
            ApplyError::PartitionFormatChanged { from, to } => {
                write!(f, "partition format changes from {from} to {to}")
            }
            ApplyError::Overlap { level, left, right } => {
                write!(f, "tables {left} and {right} overlap in level {level}")
            }
        }
    }
}

impl fmt::Display for CurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurrentError::Empty => f.write_str("empty manifest name"),
            CurrentError::MissingNewline => {
                f.write_str("content must be the name then one newline")
            }
            CurrentError::NotUtf8 => f.write_str("name is not UTF-8"),
            CurrentError::PathSeparator => f.write_str("name contains a path separator"),
            CurrentError::ControlCharacter => f.write_str("name contains a control character"),
            CurrentError::DotName => f.write_str("name is . or .."),
            CurrentError::TooLong(n) => write!(f, "name of {n} bytes is longer than 255"),
        }
    }
}

impl std::error::Error for ManifestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ManifestError::Wal(e) => Some(e),
            _ => None,
        }
    }
}
