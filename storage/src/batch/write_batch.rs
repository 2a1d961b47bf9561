//! The user-facing atomic batch.

use super::decode::{check_seqnos, read_op};
use super::error::BatchError;
use super::varint::{put_len_prefixed, put_varint, varint_len};
use super::{BATCH_HEADER_LEN, MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::key::{self, Kind, SeqNo};
use crate::wal::MAX_PAYLOAD_LEN;

/// An atomic group of puts and deletes, applied in order.
///
/// Ops are kept already encoded (the payload layout minus its header), so
/// [`WriteBatch::encode`] is a header plus one copy. Adding an op never
/// fails; an op over the size limits is dropped and remembered, and
/// [`WriteBatch::validate`] reports it (see [`super`]).
///
/// # Examples
///
/// ```
/// use frys_storage::batch::{BatchOp, WriteBatch};
/// let mut batch = WriteBatch::new();
/// batch.put_with_expiry(b"session", b"abc", 1_700_000_000_000);
/// batch.delete(b"old");
/// batch.validate().unwrap();
/// assert_eq!(batch.len(), 2);
/// assert_eq!(batch.iter().nth(1), Some(BatchOp::Delete { key: b"old" }));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<u8>,
    count: usize,
    error: Option<BatchError>,
}

/// One op of a [`WriteBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOp<'a> {
    /// Set `key` to `value`, expiring at `expires_at` (unix ms) if set.
    Put {
        /// User key.
        key: &'a [u8],
        /// Value bytes.
        value: &'a [u8],
        /// Expiry time in unix milliseconds.
        expires_at: Option<u64>,
    },
    /// Delete `key`.
    Delete {
        /// User key.
        key: &'a [u8],
    },
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds a put of `key` to `value` with no expiry.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.push_put(key, value, None);
    }

    /// Adds a put of `key` to `value` that expires at `expires_at_unix_ms`.
    pub fn put_with_expiry(&mut self, key: &[u8], value: &[u8], expires_at_unix_ms: u64) {
        self.push_put(key, value, Some(expires_at_unix_ms));
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: &[u8]) {
        if self.check_key(key) {
            self.ops
                .reserve(1 + varint_len(key.len() as u64) + key.len());
            self.ops.push(Kind::Delete as u8);
            put_len_prefixed(&mut self.ops, key);
            self.count += 1;
        }
    }

    /// Number of ops stored.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no op is stored.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the encoded payload in bytes (exact, header included).
    pub fn approximate_size(&self) -> usize {
        BATCH_HEADER_LEN + self.ops.len()
    }

    /// Removes every op and any remembered error; keeps the allocation.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.count = 0;
        self.error = None;
    }

    /// The ops in order.
    pub fn iter(&self) -> Ops<'_> {
        Ops {
            rest: &self.ops,
            remaining: self.count,
        }
    }

    /// Checks the batch can be written: the first op that broke a size
    /// limit, else whether the payload fits one WAL record.
    pub fn validate(&self) -> Result<(), BatchError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let size = self.approximate_size();
        if size > MAX_PAYLOAD_LEN as usize || u32::try_from(self.count).is_err() {
            return Err(BatchError::TooLarge { size });
        }
        Ok(())
    }

    /// Appends the payload (see [`super`]) with ops numbered from
    /// `first_seqno`. Fails, leaving `out` untouched, if [`Self::validate`]
    /// fails or the sequence numbers would pass `key::MAX_SEQNO`.
    pub fn encode(&self, first_seqno: SeqNo, out: &mut Vec<u8>) -> Result<(), BatchError> {
        self.validate()?;
        check_seqnos(first_seqno, self.count as u64)?;
        out.reserve(self.approximate_size());
        out.extend_from_slice(&first_seqno.to_le_bytes());
        // `validate` bounded the count by u32::MAX.
        out.extend_from_slice(&(self.count as u32).to_le_bytes());
        out.extend_from_slice(&self.ops);
        Ok(())
    }

    fn push_put(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) {
        if !self.check_key(key) {
            return;
        }
        if let Err(error) = check_value_len(self.count, value.len()) {
            self.error.get_or_insert(error);
            return;
        }
        let field_len = 1 + if expires_at.is_some() { 8 } else { 0 } + value.len();
        // One reservation for the whole op: a batch usually holds one op,
        // and growing it piece by piece would reallocate three times.
        self.ops.reserve(
            1 + varint_len(key.len() as u64) + key.len() + varint_len(field_len as u64) + field_len,
        );
        self.ops.push(Kind::Put as u8);
        put_len_prefixed(&mut self.ops, key);
        put_varint(&mut self.ops, field_len as u64);
        key::encode_value(expires_at, value, &mut self.ops);
        self.count += 1;
    }

    /// Whether `key` may be stored; remembers the error if not.
    fn check_key(&mut self, key: &[u8]) -> bool {
        if key.len() > MAX_KEY_LEN {
            self.error.get_or_insert(BatchError::KeyTooLarge {
                index: self.count,
                len: key.len(),
            });
            return false;
        }
        true
    }
}

pub(super) fn check_value_len(index: usize, len: usize) -> Result<(), BatchError> {
    if len > MAX_VALUE_LEN {
        return Err(BatchError::ValueTooLarge { index, len });
    }
    Ok(())
}

impl<'a> IntoIterator for &'a WriteBatch {
    type Item = BatchOp<'a>;
    type IntoIter = Ops<'a>;

    fn into_iter(self) -> Ops<'a> {
        self.iter()
    }
}

/// Iterator over the ops of a [`WriteBatch`].
#[derive(Debug, Clone)]
pub struct Ops<'a> {
    rest: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for Ops<'a> {
    type Item = BatchOp<'a>;

    fn next(&mut self) -> Option<BatchOp<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        // The bytes were written by `WriteBatch`, so they always parse.
        let op = read_op(&mut self.rest).ok()?;
        Some(match op.kind {
            Kind::Delete => BatchOp::Delete { key: op.key },
            Kind::Put => {
                let (expires_at, value) = key::decode_value(op.value_field)?;
                BatchOp::Put {
                    key: op.key,
                    value,
                    expires_at,
                }
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Ops<'_> {}
