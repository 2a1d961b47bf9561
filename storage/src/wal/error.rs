//! Errors of WAL framing.

use std::fmt;

/// A WAL framing error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WalError {
    /// The record starting at byte `offset` of the segment is corrupt and
    /// is not the torn tail: refuse to open, name file and offset.
    Corrupt {
        /// Byte offset of the record's header in the segment.
        offset: u64,
        /// What is wrong with it.
        reason: CorruptReason,
    },
    /// A payload longer than [`super::MAX_PAYLOAD_LEN`] cannot be framed.
    PayloadTooLarge {
        /// Length of the payload.
        len: usize,
        /// The limit.
        max: u32,
    },
}

/// Why a record is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The stored checksum does not match the payload, and more data
    /// follows the record.
    ChecksumMismatch {
        /// Masked CRC in the header.
        stored: u32,
        /// Masked CRC of the payload as read.
        computed: u32,
    },
    /// The `len` field exceeds [`super::MAX_PAYLOAD_LEN`].
    ImpossibleLength {
        /// The `len` field.
        len: u32,
    },
}

impl fmt::Display for WalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalError::Corrupt { offset, reason } => {
                write!(f, "WAL record at byte {offset} is corrupt: {reason}")
            }
            WalError::PayloadTooLarge { len, max } => write!(
                f,
                "WAL payload of {len} bytes exceeds the record limit of {max} bytes"
            ),
        }
    }
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x}) with data after the record"
            ),
            CorruptReason::ImpossibleLength { len } => write!(
                f,
                "length field {len} exceeds the limit of {} bytes",
                super::MAX_PAYLOAD_LEN
            ),
        }
    }
}

impl std::error::Error for WalError {}
