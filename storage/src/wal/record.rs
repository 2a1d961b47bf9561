//! Encoding one record: header then payload.

use super::WalError;

/// Bytes of a record header: `len: u32 LE` then `masked crc: u32 LE`.
pub const HEADER_LEN: usize = 8;

/// Largest payload a record may carry (1 GiB). A larger `len` field read
/// back is corruption. It is large enough for one put of the largest value
/// [`crate::batch`] accepts; the real guard against a huge allocation is
/// that a `len` reaching past EOF is never allocated (it is a torn tail).
pub const MAX_PAYLOAD_LEN: u32 = 1 << 30;

const MASK_DELTA: u32 = 0xa282_ead8;

/// Appends one framed record holding `payload` to `out`.
///
/// Fails with [`WalError::PayloadTooLarge`] (leaving `out` untouched) if
/// `payload` is longer than [`MAX_PAYLOAD_LEN`]: such a record would read
/// back as corruption.
///
/// # Examples
///
/// ```
/// use frys_storage::wal::{decode_segment, encode_record};
/// let mut seg = Vec::new();
/// encode_record(b"hello", &mut seg).unwrap();
/// let replay = decode_segment(&seg).unwrap();
/// assert_eq!(replay.records, vec![&b"hello"[..]]);
/// ```
pub fn encode_record(payload: &[u8], out: &mut Vec<u8>) -> Result<(), WalError> {
    let len = frame_len(payload.len())?;
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// The `len` field for a payload of `len` bytes, if it may be framed.
pub(super) fn frame_len(len: usize) -> Result<u32, WalError> {
    u32::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_PAYLOAD_LEN)
        .ok_or(WalError::PayloadTooLarge {
            len,
            max: MAX_PAYLOAD_LEN,
        })
}

/// The masked CRC-32C stored in a header for `payload`.
pub(super) fn checksum(payload: &[u8]) -> u32 {
    crc32c::crc32c(payload)
        .rotate_right(15)
        .wrapping_add(MASK_DELTA)
}
