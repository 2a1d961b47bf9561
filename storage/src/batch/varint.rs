//! LEB128 varints (u64) and varint-length-prefixed byte strings.
//!
//! Decoding is strict so that every value has exactly one encoding:
//! truncated, overlong (more than 64 bits) and non-minimal encodings (a
//! final `0x00` byte after a continuation) are errors.

use std::fmt;

/// Most bytes a u64 varint takes.
pub const MAX_VARINT_LEN: usize = 10;

/// Why a varint does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VarintError {
    /// The input ends inside the varint.
    Truncated,
    /// The value does not fit in 64 bits.
    Overflow,
    /// The encoding is longer than needed.
    NonMinimal,
}

/// Appends `v` as a varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes `put_varint` writes for `v`.
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads a varint from the front of `buf` and advances it past it; on
/// error `buf` is unchanged.
pub fn get_varint(buf: &mut &[u8]) -> Result<u64, VarintError> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        if i == MAX_VARINT_LEN - 1 && b > 1 {
            return Err(VarintError::Overflow);
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(VarintError::NonMinimal);
            }
            *buf = buf.get(i + 1..).unwrap_or_default();
            return Ok(v);
        }
    }
    Err(VarintError::Truncated)
}

/// Appends `bytes` prefixed by its length as a varint.
pub fn put_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads a varint-length-prefixed byte string from the front of `buf` and
/// advances past it; on error `buf` is unchanged. A length that reaches
/// past the end is [`VarintError::Truncated`].
pub fn get_len_prefixed<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], VarintError> {
    let mut rest = *buf;
    let len = get_varint(&mut rest)?;
    let len = usize::try_from(len).map_err(|_| VarintError::Truncated)?;
    let (bytes, after) = rest.split_at_checked(len).ok_or(VarintError::Truncated)?;
    *buf = after;
    Ok(bytes)
}

impl fmt::Display for VarintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VarintError::Truncated => "truncated",
            VarintError::Overflow => "varint overflows 64 bits",
            VarintError::NonMinimal => "non-minimal varint",
        })
    }
}

impl std::error::Error for VarintError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_values_round_trip_with_predicted_length() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            out.push(0xaa);
            let mut buf = &out[..];
            assert_eq!(get_varint(&mut buf), Ok(v));
            assert_eq!(buf, [0xaa]);
        }
    }

    #[test]
    fn malformed_varints_are_rejected_without_advancing() {
        let cases: [(&[u8], VarintError); 5] = [
            (&[], VarintError::Truncated),
            (&[0x80, 0x80], VarintError::Truncated),
            (&[0x80, 0x00], VarintError::NonMinimal),
            (&[0xff; 10], VarintError::Overflow),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                VarintError::Overflow,
            ),
        ];
        for (input, want) in cases {
            let mut buf = input;
            assert_eq!(get_varint(&mut buf), Err(want), "{input:?}");
            assert_eq!(buf, input);
        }
    }

    #[test]
    fn len_prefixed_past_the_end_is_truncated() {
        let mut out = Vec::new();
        put_len_prefixed(&mut out, b"abc");
        let mut buf = &out[..];
        assert_eq!(get_len_prefixed(&mut buf), Ok(&b"abc"[..]));
        assert!(buf.is_empty());
        let mut short = &out[..3];
        assert_eq!(get_len_prefixed(&mut short), Err(VarintError::Truncated));
        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(get_len_prefixed(&mut huge), Err(VarintError::Truncated));
    }
}
