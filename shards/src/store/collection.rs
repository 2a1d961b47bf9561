//! Collections (hashes, lists, sets, sorted sets) on the partition's LSM,
//! laid out as Kvrocks lays them out on RocksDB.
//!
//! ```text
//! metadata  'k' | ns | slot | hash | key                     -> type | expires_at | meta
//! meta      enc u8 (=1) | version u64 | count u64 [| head u64 | tail u64 (lists)] [| floor u64 (sorted sets)]
//! element   'e' | ns | slot | hash | len u32 | key | version u64 | subkey -> value
//! score     'z' | ns | slot | hash | len u32 | key | version u64 | score u64 | member -> ''
//! ```
//!
//! The metadata record is the key's ordinary data record (so TYPE, EXISTS,
//! EXPIRE, TTL, DEL, SCAN and the expiry cycle treat every type alike).
//! Subkeys: a hash field or set member behind its 32-bit hash
//! ([`member_subkey`]: elements spread evenly over the subkey space, so a
//! seek at a random hash finds a random element, and popping them leaves
//! no run of tombstones for later seeks to cross), a list index (u64,
//! big-endian: byte order is list order), a sorted set member (value: its
//! score). A
//! sorted set also has one score record per member, ordered by
//! [`encode_score`], so ranges by score are range scans.
//!
//! Invariants:
//! - An element record is live only while its key's metadata exists, is a
//!   collection, and carries the element's version. Versions are never
//!   reused ([`next_version`]), so deleting or overwriting a collection of
//!   any size is one metadata write; the dead elements are dropped by
//!   compaction ([`super::filter`]).
//! - Metadata and the elements a command changes are written in one atomic
//!   batch of the key's partition (a key and its elements share a slot,
//!   hence a partition).
//! - Sorted sets: every score record sorts at or after `floor` (an
//!   encoded score, 0 = no bound): ZPOPMIN raises it to the last score
//!   it popped and a lower insert lowers it, so walks of the score index
//!   start past the tombstones that repeated pops leave at its front.
//! - `count` is the number of live elements (a collection that becomes
//!   empty is deleted: it ceases to exist, as in Redis). For lists,
//!   `tail - head == count` and the live indices are `head..tail`.
//! - The key length is stored before the key, so the elements of one key
//!   never share a prefix with another key's.

use std::cell::Cell;

use super::encoding::{data_key, key_hash, DATA_TAG};

/// Tag byte of element records.
pub const ELEMENT_TAG: u8 = b'e';
/// Tag byte of sorted-set score records.
pub const SCORE_TAG: u8 = b'z';
/// Encoding version of collection metadata.
const META_ENCODING: u8 = 1;
/// The first index of an empty list (pushes go both ways from here).
pub const LIST_MIDDLE: u64 = 1 << 63;

/// The metadata of one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The version its elements carry.
    pub version: u64,
    /// Number of elements.
    pub count: u64,
    /// Lists: index of the first element.
    pub head: u64,
    /// Lists: one past the index of the last element.
    pub tail: u64,
    /// Sorted sets: a lower bound of every score record (an encoded
    /// score as a big-endian u64; 0 = none).
    pub floor: u64,
}

impl Meta {
    /// The metadata of a new, empty collection.
    pub fn new() -> Meta {
        Meta {
            version: next_version(),
            count: 0,
            head: LIST_MIDDLE,
            tail: LIST_MIDDLE,
            floor: 0,
        }
    }

    /// Encodes the metadata of a collection of `kind` (the payload of the
    /// key's data record).
    pub fn encode(&self, kind: super::ValueType) -> Vec<u8> {
        let mut out = Vec::with_capacity(33);
        out.push(META_ENCODING);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        match kind {
            super::ValueType::List => {
                out.extend_from_slice(&self.head.to_be_bytes());
                out.extend_from_slice(&self.tail.to_be_bytes());
            }
            super::ValueType::ZSet => out.extend_from_slice(&self.floor.to_be_bytes()),
            _ => {}
        }
        out
    }

    /// Decodes metadata; `None` if malformed.
    pub fn decode(bytes: &[u8]) -> Option<Meta> {
        if bytes.first() != Some(&META_ENCODING) {
            return None;
        }
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(bytes.get(i..i + 8)?.try_into().ok()?))
        };
        let version = word(1)?;
        let count = word(9)?;
        let (head, tail, floor) = match bytes.len() {
            17 => (LIST_MIDDLE, LIST_MIDDLE, 0),
            25 => (LIST_MIDDLE, LIST_MIDDLE, word(17)?),
            33 => (word(17)?, word(25)?, 0),
            _ => return None,
        };
        Some(Meta {
            version,
            count,
            head,
            tail,
            floor,
        })
    }
}

impl Default for Meta {
    fn default() -> Self {
        Meta::new()
    }
}

thread_local! {
    static LAST_VERSION: Cell<u64> = const { Cell::new(0) };
}

/// A version no collection of this process has had: microseconds since
/// the epoch shifted left by 10 bits, and strictly increasing on a core.
/// A key lives on one core at a time, and a restart happens later in time,
/// so a key never sees a version twice (unless the clock goes back across
/// a restart by more than the time since the version was made, which is
/// the same assumption Kvrocks makes).
pub fn next_version() -> u64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    LAST_VERSION.with(|last| {
        let v = (micros << 10).max(last.get() + 1);
        last.set(v);
        v
    })
}

/// Bytes a hash field's or set member's subkey has before the member.
pub const MEMBER_HASH_LEN: usize = 4;

/// The subkey of a hash field or set member: its 32-bit hash, then it.
pub fn member_subkey(member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MEMBER_HASH_LEN + member.len());
    out.extend_from_slice(&key_hash(member).to_be_bytes());
    out.extend_from_slice(member);
    out
}

/// Bytes before the member in the subkeys of a collection of `kind`.
pub fn subkey_prefix_len(kind: super::ValueType) -> usize {
    match kind {
        super::ValueType::Hash | super::ValueType::Set => MEMBER_HASH_LEN,
        _ => 0,
    }
}

/// The prefix shared by every record of `tag` of (`ns`, `key`) at `version`.
pub fn element_prefix(tag: u8, ns: u16, slot: u16, key: &[u8], version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(21 + key.len() + 8);
    out.push(tag);
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(&slot.to_be_bytes());
    out.extend_from_slice(&key_hash(key).to_be_bytes());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// The first key past every record that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

/// The parts of an element or score record key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementKey<'a> {
    /// [`ELEMENT_TAG`] or [`SCORE_TAG`].
    pub tag: u8,
    /// Namespace.
    pub ns: u16,
    /// Hash slot.
    pub slot: u16,
    /// The Redis key.
    pub key: &'a [u8],
    /// The collection version.
    pub version: u64,
    /// What follows the version (subkey; score and member).
    pub rest: &'a [u8],
}

/// Splits an element or score record key; `None` for any other record.
pub fn split_element_key(record: &[u8]) -> Option<ElementKey<'_>> {
    let tag = *record.first()?;
    if tag != ELEMENT_TAG && tag != SCORE_TAG {
        return None;
    }
    let ns = u16::from_be_bytes(record.get(1..3)?.try_into().ok()?);
    let slot = u16::from_be_bytes(record.get(3..5)?.try_into().ok()?);
    let len = u32::from_be_bytes(record.get(9..13)?.try_into().ok()?) as usize;
    let key = record.get(13..13 + len)?;
    let at = 13 + len;
    let version = u64::from_be_bytes(record.get(at..at + 8)?.try_into().ok()?);
    Some(ElementKey {
        tag,
        ns,
        slot,
        key,
        version,
        rest: &record[at + 8..],
    })
}

/// Writes into `out` the data record key (the metadata) an element or
/// score record depends on; false for any other record.
pub fn metadata_key_of(record: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(ElementKey { ns, slot, key, .. }) = split_element_key(record) else {
        return false;
    };
    out.clear();
    out.push(DATA_TAG);
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(&slot.to_be_bytes());
    out.extend_from_slice(&record[5..9]);
    out.extend_from_slice(key);
    debug_assert_eq!(out, &data_key(ns, slot, key));
    true
}

/// A score as 8 bytes whose byte order is numeric order (-inf first,
/// +inf last; -0 and +0 are one value). Never called with NaN.
pub fn encode_score(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    ordered.to_be_bytes()
}

/// The score [`encode_score`] encoded.
pub fn decode_score(bytes: &[u8]) -> Option<f64> {
    let ordered = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let bits = if ordered >> 63 == 1 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    Some(f64::from_bits(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_with_and_without_list_ends() {
        use super::super::ValueType;
        let m = Meta {
            version: 7,
            count: 3,
            head: LIST_MIDDLE - 1,
            tail: LIST_MIDDLE + 2,
            floor: 0,
        };
        assert_eq!(Meta::decode(&m.encode(ValueType::List)), Some(m));
        let plain = Meta::decode(&m.encode(ValueType::Hash)).unwrap();
        assert_eq!((plain.version, plain.count, plain.floor), (7, 3, 0));
        let z = Meta { floor: 99, ..m };
        assert_eq!(Meta::decode(&z.encode(ValueType::ZSet)).unwrap().floor, 99);
        assert_eq!(Meta::decode(&[2, 0, 0]), None);
        assert_eq!(Meta::decode(&m.encode(ValueType::List)[..20]), None);
    }

    #[test]
    fn member_subkeys_start_with_the_hash() {
        let s = member_subkey(b"abc");
        assert_eq!(&s[..4], &key_hash(b"abc").to_be_bytes());
        assert_eq!(&s[4..], b"abc");
        assert_eq!(subkey_prefix_len(super::super::ValueType::Set), 4);
        assert_eq!(subkey_prefix_len(super::super::ValueType::ZSet), 0);
    }

    #[test]
    fn versions_increase() {
        let a = next_version();
        let b = next_version();
        assert!(b > a);
    }

    #[test]
    fn element_keys_name_their_metadata_and_keep_keys_apart() {
        let p = element_prefix(ELEMENT_TAG, 3, 99, b"ab", 5);
        let mut rec = p.clone();
        rec.extend_from_slice(b"field");
        let e = split_element_key(&rec).unwrap();
        assert_eq!(
            (e.tag, e.ns, e.slot, e.key, e.version, e.rest),
            (b'e', 3, 99, &b"ab"[..], 5, &b"field"[..])
        );
        let mut meta = Vec::new();
        assert!(metadata_key_of(&rec, &mut meta));
        assert_eq!(meta, data_key(3, 99, b"ab"));
        assert!(!metadata_key_of(&data_key(3, 99, b"ab"), &mut meta));
        // "ab" and "abc" never share an element prefix.
        let other = element_prefix(ELEMENT_TAG, 3, 99, b"abc", 5);
        assert!(!other.starts_with(&p) && !p.starts_with(&other));
        assert!(rec < prefix_end(&p) && p < prefix_end(&p));
    }

    #[test]
    fn scores_sort_numerically() {
        let scores = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        for w in scores.windows(2) {
            assert!(
                encode_score(w[0]) < encode_score(w[1]),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        for s in scores {
            assert_eq!(decode_score(&encode_score(s)), Some(s));
        }
        assert_eq!(encode_score(-0.0), encode_score(0.0));
    }
}
