//! Internal keys and value fields: the shared vocabulary of the memtable,
//! the WAL, SSTables and compaction.
//!
//! An internal key is the user key followed by an 8-byte big-endian trailer
//! `seqno << 8 | kind`. Internal keys order by user key ascending, then by
//! sequence number *descending* (newest first), then kind descending — so a
//! forward scan meets the newest version of each user key first. Use
//! [`compare_internal_keys`]; plain byte order is NOT the right order.
//!
//! A value field is `flags: u8`, then `expires_at: u64` big-endian (unix
//! milliseconds) if `flags & HAS_EXPIRY`, then the value bytes. Deletions
//! (tombstones) have an empty value field.

use std::cmp::Ordering;

/// A write's position in the partition's history; higher is newer.
pub type SeqNo = u64;

/// Largest usable sequence number (56 bits, the trailer keeps 8 for kind).
pub const MAX_SEQNO: SeqNo = (1 << 56) - 1;

/// What a version of a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// A tombstone: the key is deleted as of this sequence number.
    Delete = 0,
    /// A value.
    Put = 1,
}

impl Kind {
    /// Parses a kind byte.
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            _ => None,
        }
    }
}

/// Bytes of the trailer.
pub const TRAILER_LEN: usize = 8;

/// Appends the internal key of `(user_key, seqno, kind)` to `out`.
pub fn encode_internal_key(user_key: &[u8], seqno: SeqNo, kind: Kind, out: &mut Vec<u8>) {
    debug_assert!(seqno <= MAX_SEQNO);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&((seqno << 8) | kind as u64).to_be_bytes());
}

/// The internal key of `(user_key, seqno, kind)`.
pub fn internal_key(user_key: &[u8], seqno: SeqNo, kind: Kind) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    encode_internal_key(user_key, seqno, kind, &mut out);
    out
}

/// Splits an internal key; `None` if it is malformed (too short, bad kind).
pub fn split_internal_key(ikey: &[u8]) -> Option<(&[u8], SeqNo, Kind)> {
    let split = ikey.len().checked_sub(TRAILER_LEN)?;
    let (user, trailer) = ikey.split_at(split);
    let trailer = u64::from_be_bytes(trailer.try_into().ok()?);
    let kind = Kind::from_u8((trailer & 0xff) as u8)?;
    Some((user, trailer >> 8, kind))
}

/// The user-key part of an internal key (the whole input if too short).
pub fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(TRAILER_LEN)]
}

/// Orders internal keys: user key ascending, then trailer descending.
pub fn compare_internal_keys(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ta) = a.split_at(a.len().saturating_sub(TRAILER_LEN));
    let (ub, tb) = b.split_at(b.len().saturating_sub(TRAILER_LEN));
    compare_user_keys(ua, ub).then_with(|| tb.cmp(ta))
}

/// Byte-wise (lexicographic) order of user keys, with the first 8 bytes
/// compared as one big-endian word: most comparisons in a memtable or
/// block search are decided there, without a call to `memcmp`.
#[inline]
pub fn compare_user_keys(a: &[u8], b: &[u8]) -> Ordering {
    if let (Some(pa), Some(pb)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        let (x, y) = (u64::from_be_bytes(*pa), u64::from_be_bytes(*pb));
        if x != y {
            return x.cmp(&y);
        }
        return a[8..].cmp(&b[8..]);
    }
    a.cmp(b)
}

/// The internal key that sorts before every version of `user_key` visible
/// at `snapshot` (use it to seek).
pub fn seek_key(user_key: &[u8], snapshot: SeqNo) -> Vec<u8> {
    internal_key(user_key, snapshot, Kind::Put)
}

/// Value-field flag: an expiry time follows.
pub const HAS_EXPIRY: u8 = 1;

/// Appends a value field.
pub fn encode_value(expires_at: Option<u64>, value: &[u8], out: &mut Vec<u8>) {
    match expires_at {
        Some(t) => {
            out.push(HAS_EXPIRY);
            out.extend_from_slice(&t.to_be_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(value);
}

/// Splits a value field into `(expires_at, value)`; `None` if malformed.
pub fn decode_value(field: &[u8]) -> Option<(Option<u64>, &[u8])> {
    let (&flags, rest) = field.split_first()?;
    if flags & HAS_EXPIRY != 0 {
        let (t, value) = rest.split_at_checked(8)?;
        Some((Some(u64::from_be_bytes(t.try_into().ok()?)), value))
    } else {
        Some((None, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_fast_path_orders_keys_as_bytes_do() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"ab",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgi",
            b"abcdefghz",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\x00\x00\x00\x00\x00\x00\x00\x00\x01",
            b"zzzzzzzzzzzz",
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(compare_user_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn internal_keys_order_by_user_key_then_newest_first() {
        let a1 = internal_key(b"a", 1, Kind::Put);
        let a9 = internal_key(b"a", 9, Kind::Put);
        let ab = internal_key(b"ab", 1, Kind::Put);
        let b0 = internal_key(b"b", 0, Kind::Delete);
        let mut keys = vec![b0.clone(), a1.clone(), ab.clone(), a9.clone()];
        keys.sort_by(|x, y| compare_internal_keys(x, y));
        assert_eq!(keys, vec![a9, a1, ab, b0]);
        assert_eq!(
            split_internal_key(&internal_key(b"k", 42, Kind::Delete)),
            Some((&b"k"[..], 42, Kind::Delete))
        );
        assert_eq!(split_internal_key(b"short"), None);
    }

    #[test]
    fn value_fields_round_trip() {
        let mut f = Vec::new();
        encode_value(Some(123), b"v", &mut f);
        assert_eq!(decode_value(&f), Some((Some(123), &b"v"[..])));
        f.clear();
        encode_value(None, b"", &mut f);
        assert_eq!(decode_value(&f), Some((None, &b""[..])));
        assert_eq!(decode_value(&[HAS_EXPIRY, 1, 2]), None);
    }
}
