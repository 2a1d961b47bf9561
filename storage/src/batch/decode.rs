//! Decoding a batch payload (one WAL record) for replay.

use super::error::{BatchError, Malformed};
use super::varint::get_len_prefixed;
use super::BATCH_HEADER_LEN;
use crate::key::{self, Kind, SeqNo, MAX_SEQNO};

/// A batch payload checked in full by [`decode_batch`]: iterating it
/// cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedBatch<'a> {
    first_seqno: SeqNo,
    count: u32,
    ops: &'a [u8],
}

/// Decodes and checks a batch payload; every malformed input is an error,
/// never a panic, and nothing is allocated.
///
/// # Examples
///
/// ```
/// use frys_storage::batch::{decode_batch, WriteBatch};
/// use frys_storage::key::Kind;
/// let mut batch = WriteBatch::new();
/// batch.put(b"k", b"v");
/// batch.delete(b"gone");
/// let mut payload = Vec::new();
/// batch.encode(7, &mut payload).unwrap();
/// let decoded = decode_batch(&payload).unwrap();
/// let kinds: Vec<(u64, Kind)> = decoded.iter().map(|(s, k, _, _)| (s, k)).collect();
/// assert_eq!(kinds, [(7, Kind::Put), (8, Kind::Delete)]);
/// ```
pub fn decode_batch(payload: &[u8]) -> Result<DecodedBatch<'_>, BatchError> {
    let malformed = |at, reason| BatchError::Malformed { at, reason };
    let (header, ops) = payload
        .split_first_chunk::<BATCH_HEADER_LEN>()
        .ok_or(malformed(0, Malformed::TruncatedHeader))?;
    let [s0, s1, s2, s3, s4, s5, s6, s7, c0, c1, c2, c3] = *header;
    let first_seqno = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
    let count = u32::from_le_bytes([c0, c1, c2, c3]);
    if count as usize > ops.len() / MIN_OP_LEN {
        return Err(malformed(8, Malformed::CountExceedsPayload { count }));
    }
    check_seqnos(first_seqno, u64::from(count))?;
    let mut rest = ops;
    for _ in 0..count {
        let at = payload.len() - rest.len();
        read_op(&mut rest).map_err(|reason| malformed(at, reason))?;
    }
    if !rest.is_empty() {
        let at = payload.len() - rest.len();
        return Err(malformed(at, Malformed::TrailingBytes { len: rest.len() }));
    }
    Ok(DecodedBatch {
        first_seqno,
        count,
        ops,
    })
}

impl<'a> DecodedBatch<'a> {
    /// Sequence number of the first op.
    pub fn first_seqno(&self) -> SeqNo {
        self.first_seqno
    }

    /// Number of ops.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Sequence number of the last op; `None` for an empty batch.
    pub fn last_seqno(&self) -> Option<SeqNo> {
        // Cannot overflow: checked by `decode_batch`.
        (self.count > 0).then(|| self.first_seqno + u64::from(self.count) - 1)
    }

    /// The ops as `(seqno, kind, user_key, value_field)`; a delete's value
    /// field is empty, a put's is a `key::encode_value` field, ready for the
    /// memtable.
    pub fn iter(&self) -> DecodedOps<'a> {
        DecodedOps {
            rest: self.ops,
            seqno: self.first_seqno,
            remaining: self.count,
        }
    }
}

impl<'a> IntoIterator for &DecodedBatch<'a> {
    type Item = (SeqNo, Kind, &'a [u8], &'a [u8]);
    type IntoIter = DecodedOps<'a>;

    fn into_iter(self) -> DecodedOps<'a> {
        self.iter()
    }
}

/// Iterator over a [`DecodedBatch`].
#[derive(Debug, Clone)]
pub struct DecodedOps<'a> {
    rest: &'a [u8],
    seqno: SeqNo,
    remaining: u32,
}

impl<'a> Iterator for DecodedOps<'a> {
    type Item = (SeqNo, Kind, &'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        // Checked by `decode_batch`, so this never ends early.
        let op = read_op(&mut self.rest).ok()?;
        let seqno = self.seqno;
        self.seqno += 1;
        Some((seqno, op.kind, op.key, op.value_field))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl ExactSizeIterator for DecodedOps<'_> {}

/// Smallest encoded op: kind byte and a zero key length.
const MIN_OP_LEN: usize = 2;

/// One op as encoded.
pub(super) struct RawOp<'a> {
    pub(super) kind: Kind,
    pub(super) key: &'a [u8],
    /// Empty for deletes.
    pub(super) value_field: &'a [u8],
}

/// Reads one op from the front of `rest`, checking that a put's value
/// field decodes.
pub(super) fn read_op<'a>(rest: &mut &'a [u8]) -> Result<RawOp<'a>, Malformed> {
    let (&kind_byte, mut cur) = rest.split_first().ok_or(Malformed::MissingOp)?;
    let kind = Kind::from_u8(kind_byte).ok_or(Malformed::BadKind(kind_byte))?;
    let key =
        get_len_prefixed(&mut cur).map_err(|error| Malformed::BadLength { what: "key", error })?;
    let value_field = match kind {
        Kind::Delete => &[][..],
        Kind::Put => {
            let field = get_len_prefixed(&mut cur).map_err(|error| Malformed::BadLength {
                what: "value field",
                error,
            })?;
            key::decode_value(field).ok_or(Malformed::BadValueField)?;
            field
        }
    };
    *rest = cur;
    Ok(RawOp {
        kind,
        key,
        value_field,
    })
}

/// Checks that ops `first_seqno .. first_seqno + count` are all at most
/// `MAX_SEQNO`.
pub(super) fn check_seqnos(first_seqno: SeqNo, count: u64) -> Result<(), BatchError> {
    match first_seqno.checked_add(count) {
        Some(end) if end <= MAX_SEQNO + 1 => Ok(()),
        _ => Err(BatchError::SeqnoOverflow { first_seqno, count }),
    }
}
