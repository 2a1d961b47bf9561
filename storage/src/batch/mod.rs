//! Write batches: the user-facing atomic batch and its encoding, which is
//! the payload of one WAL record.
//!
//! # Payload layout
//!
//! ```text
//! [first_seqno: u64 LE][count: u32 LE] then `count` ops, each:
//!   kind: u8                        key::Kind (0 Delete, 1 Put)
//!   key_len: varint, key            user key
//!   (Put only) field_len: varint, value field (key::encode_value)
//! ```
//!
//! The i-th op (from 0) has sequence number `first_seqno + i`. Varints are
//! LEB128 u64 ([`varint`]); a payload must hold exactly `count` ops.
//!
//! # Limits
//!
//! [`WriteBatch::put`] and friends are infallible: an op whose key exceeds
//! [`MAX_KEY_LEN`] or whose value exceeds [`MAX_VALUE_LEN`] is not stored,
//! and the batch remembers the first such error. [`WriteBatch::validate`]
//! reports it, or [`BatchError::TooLarge`] if the encoding would exceed
//! [`crate::wal::MAX_PAYLOAD_LEN`]. The Db calls `validate` when a write is
//! submitted (so one bad batch never fails a whole group commit);
//! [`WriteBatch::encode`] checks again and never emits a payload that
//! [`decode_batch`] would reject. Decoding checks structure, not limits, so
//! that raising a limit later keeps old logs readable.

mod decode;
mod error;
#[cfg(test)]
mod tests;
pub mod varint;
mod write_batch;

pub use decode::{decode_batch, DecodedBatch, DecodedOps};
pub use error::{BatchError, Malformed};
pub use write_batch::{BatchOp, Ops, WriteBatch};

/// Largest user key a batch accepts (64 KiB).
pub const MAX_KEY_LEN: usize = 64 << 10;

/// Largest value a batch accepts (512 MiB, Redis' bulk-string limit).
pub const MAX_VALUE_LEN: usize = 512 << 20;

/// Bytes of the payload header: `first_seqno` then `count`.
pub const BATCH_HEADER_LEN: usize = 12;
