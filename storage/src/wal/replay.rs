//! Decoding a whole segment under the recovery rules of [`super`].

use super::record::{checksum, HEADER_LEN, MAX_PAYLOAD_LEN};
use super::{CorruptReason, WalError};

/// The readable part of a WAL segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay<'a> {
    /// Payloads of the complete, valid records, in file order.
    pub records: Vec<&'a [u8]>,
    /// Bytes of the file that hold those records; the file should be
    /// truncated to this length (or written on from here).
    pub valid_len: u64,
    /// The torn tail replay stopped at, if any (`offset == valid_len`).
    pub torn_tail: Option<TornTail>,
}

/// Where and why replay stopped at an unacknowledged, partly written tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset of the torn record (equals [`Replay::valid_len`]).
    pub offset: u64,
    /// What the tail looked like.
    pub reason: TornReason,
}

/// The shape of a torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TornReason {
    /// Only zero bytes remain (preallocated space).
    ZeroFilled {
        /// How many zero bytes.
        len: u64,
    },
    /// Fewer than [`HEADER_LEN`] bytes remain.
    IncompleteHeader {
        /// How many bytes remain.
        available: usize,
    },
    /// The header is complete but the payload reaches past EOF.
    PayloadPastEof {
        /// The `len` field.
        len: u32,
        /// Payload bytes present before EOF.
        available: u64,
    },
    /// The last record's checksum fails and only zeros (or nothing) follow.
    ChecksumMismatch,
}

impl Replay<'_> {
    /// The records with the byte offset of each one's header.
    pub fn records_with_offsets(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.records.iter().scan(0u64, |next, &payload| {
            let offset = *next;
            *next += (HEADER_LEN + payload.len()) as u64;
            Some((offset, payload))
        })
    }
}

/// Decodes a segment under the recovery rules (see [`super`]).
///
/// Never panics and never allocates according to a length field.
///
/// # Examples
///
/// ```
/// use frys_storage::wal::{decode_segment, encode_record};
/// let mut seg = Vec::new();
/// encode_record(b"a", &mut seg).unwrap();
/// let good = seg.len() as u64;
/// encode_record(b"bcd", &mut seg).unwrap();
/// seg.truncate(seg.len() - 1); // the second write was torn
/// let replay = decode_segment(&seg).unwrap();
/// assert_eq!(replay.records, vec![&b"a"[..]]);
/// assert_eq!(replay.valid_len, good);
/// assert!(replay.torn_tail.is_some());
/// ```
pub fn decode_segment(bytes: &[u8]) -> Result<Replay<'_>, WalError> {
    let mut records = Vec::new();
    let mut rest = bytes;
    let mut offset = 0u64;
    loop {
        match next_record(rest) {
            Step::End => {
                return Ok(Replay {
                    records,
                    valid_len: offset,
                    torn_tail: None,
                })
            }
            Step::Record { payload, after } => {
                records.push(payload);
                offset += (HEADER_LEN + payload.len()) as u64;
                rest = after;
            }
            Step::Torn(reason) => {
                return Ok(Replay {
                    records,
                    valid_len: offset,
                    torn_tail: Some(TornTail { offset, reason }),
                })
            }
            Step::Corrupt(reason) => return Err(WalError::Corrupt { offset, reason }),
        }
    }
}

enum Step<'a> {
    End,
    Record { payload: &'a [u8], after: &'a [u8] },
    Torn(TornReason),
    Corrupt(CorruptReason),
}

/// Applies the rules to the record at the start of `rest`.
fn next_record(rest: &[u8]) -> Step<'_> {
    if rest.is_empty() {
        return Step::End;
    }
    // Cheap at every record: a valid header always has a nonzero byte.
    if is_zero(rest) {
        return Step::Torn(TornReason::ZeroFilled {
            len: rest.len() as u64,
        });
    }
    let Some((header, body)) = rest.split_first_chunk::<HEADER_LEN>() else {
        return Step::Torn(TornReason::IncompleteHeader {
            available: rest.len(),
        });
    };
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    let stored = u32::from_le_bytes([c0, c1, c2, c3]);
    if len > MAX_PAYLOAD_LEN {
        return Step::Corrupt(CorruptReason::ImpossibleLength { len });
    }
    let Some((payload, after)) = body.split_at_checked(len as usize) else {
        return Step::Torn(TornReason::PayloadPastEof {
            len,
            available: body.len() as u64,
        });
    };
    let computed = checksum(payload);
    if computed != stored {
        return if is_zero(after) {
            Step::Torn(TornReason::ChecksumMismatch)
        } else {
            Step::Corrupt(CorruptReason::ChecksumMismatch { stored, computed })
        };
    }
    Step::Record { payload, after }
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}
