//! Errors of building, encoding and decoding batches.

use std::fmt;

use super::varint::VarintError;
use crate::key::SeqNo;

/// A batch is invalid, or a payload is not a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchError {
    /// Op `index` has a key longer than [`super::MAX_KEY_LEN`].
    KeyTooLarge {
        /// Position of the op in the batch (ops before it were stored).
        index: usize,
        /// Key length.
        len: usize,
    },
    /// Op `index` has a value longer than [`super::MAX_VALUE_LEN`].
    ValueTooLarge {
        /// Position of the op in the batch.
        index: usize,
        /// Value length.
        len: usize,
    },
    /// The encoded batch would exceed [`crate::wal::MAX_PAYLOAD_LEN`].
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
    },
    /// `first_seqno + count` goes past [`crate::key::MAX_SEQNO`].
    SeqnoOverflow {
        /// First sequence number.
        first_seqno: SeqNo,
        /// Number of ops.
        count: u64,
    },
    /// A payload is not a well-formed batch.
    Malformed {
        /// Byte offset in the payload where the bad part starts.
        at: usize,
        /// What is wrong.
        reason: Malformed,
    },
}

/// Why a payload is not a well-formed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// Shorter than the 12-byte header.
    TruncatedHeader,
    /// `count` ops cannot fit in the bytes that follow the header.
    CountExceedsPayload {
        /// The count field.
        count: u32,
    },
    /// The kind byte is not a [`crate::key::Kind`].
    BadKind(u8),
    /// A length varint (of `what`) is malformed or reaches past the end.
    BadLength {
        /// `"key"` or `"value field"`.
        what: &'static str,
        /// The varint problem.
        error: VarintError,
    },
    /// The input ends before an op's kind byte.
    MissingOp,
    /// A put's value field does not decode (`key::decode_value`).
    BadValueField,
    /// Bytes remain after `count` ops.
    TrailingBytes {
        /// How many.
        len: usize,
    },
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::KeyTooLarge { index, len } => write!(
                f,
                "op {index}: key of {len} bytes exceeds the limit of {} bytes",
                super::MAX_KEY_LEN
            ),
            BatchError::ValueTooLarge { index, len } => write!(
                f,
                "op {index}: value of {len} bytes exceeds the limit of {} bytes",
                super::MAX_VALUE_LEN
            ),
            BatchError::TooLarge { size } => write!(
                f,
                "batch encodes to {size} bytes, over the WAL record limit of {} bytes",
                crate::wal::MAX_PAYLOAD_LEN
            ),
            BatchError::SeqnoOverflow { first_seqno, count } => write!(
                f,
                "{count} ops from sequence number {first_seqno} exceed the largest sequence number"
            ),
            BatchError::Malformed { at, reason } => {
                write!(f, "malformed batch at byte {at}: {reason}")
            }
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::TruncatedHeader => f.write_str("shorter than the 12-byte header"),
            Malformed::CountExceedsPayload { count } => {
                write!(f, "count {count} cannot fit in the payload")
            }
            Malformed::BadKind(k) => write!(f, "unknown op kind {k}"),
            Malformed::BadLength { what, error } => write!(f, "bad {what} length: {error}"),
            Malformed::MissingOp => f.write_str("payload ends before the last op"),
            Malformed::BadValueField => f.write_str("value field does not decode"),
            Malformed::TrailingBytes { len } => write!(f, "{len} bytes after the last op"),
        }
    }
}

impl std::error::Error for BatchError {}
