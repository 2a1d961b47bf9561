//! The error type of table building and decoding.

use std::fmt;

/// Why a table could not be built or decoded.
///
/// Offsets are file offsets of the block or structure at fault (as passed
/// to the decoder), so a message names where in the file to look.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    /// [`TableBuilder::add`](super::TableBuilder::add) got a key that is not
    /// strictly greater than the previous one.
    OutOfOrder,
    /// [`TableBuilder::add`](super::TableBuilder::add) got bytes that are not
    /// an internal key (shorter than the trailer or an unknown kind).
    MalformedKey,
    /// One entry is too large for a block (payloads must stay below 4 GiB).
    EntryTooLarge {
        /// Key plus value length.
        len: u64,
    },
    /// The input is shorter than the fixed-size footer.
    TooShort {
        /// Length of the input.
        len: u64,
    },
    /// The footer does not end with [`MAGIC`](super::MAGIC): not a table
    /// file, or its tail is lost.
    BadMagic {
        /// The 8 bytes found where the magic belongs.
        found: u64,
    },
    /// The table was written in a format version this code cannot read.
    UnsupportedVersion(u32),
    /// The stored checksum does not match the bytes.
    ChecksumMismatch {
        /// Offset of the block (or footer) whose checksum failed.
        offset: u64,
    },
    /// The bytes passed their checksum but do not parse.
    Corrupt {
        /// What was being decoded and what is wrong with it.
        what: &'static str,
        /// Offset of the block (or structure) that does not parse.
        offset: u64,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::OutOfOrder => {
                f.write_str("sstable: keys must be added in strictly increasing order")
            }
            TableError::MalformedKey => f.write_str("sstable: key is not a valid internal key"),
            TableError::EntryTooLarge { len } => {
                write!(f, "sstable: entry of {len} bytes does not fit in a block")
            }
            TableError::TooShort { len } => write!(
                f,
                "sstable: {len} bytes is shorter than the {}-byte footer (truncated file?)",
                super::FOOTER_LEN
            ),
            TableError::BadMagic { found } => write!(
                f,
                "sstable: bad magic {found:#018x} in footer (not a frys table, or truncated)"
            ),
            TableError::UnsupportedVersion(v) => write!(
                f,
                "sstable: format version {v} is not supported (this build reads version {})",
                super::FORMAT_VERSION
            ),
            TableError::ChecksumMismatch { offset } => {
                write!(f, "sstable: checksum mismatch in block at offset {offset}")
            }
            TableError::Corrupt { what, offset } => {
                write!(f, "sstable: corrupt {what} at offset {offset}")
            }
        }
    }
}

impl std::error::Error for TableError {}
