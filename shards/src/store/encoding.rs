//! How keys and values are laid out in a partition's LSM.
//!
//! ```text
//! data record   'k' | ns u16 | slot u16 | hash u32 | user key   -> value
//! expiry index  'x' | deadline ms u64 | ns u16 | user key        -> (empty)
//! value         type u8 | expires_at ms u64 (0 = none) | payload
//! ```
//!
//! A string's payload is its bytes; a collection's data record is its
//! metadata and its elements are separate records (`store::collection`).
//!
//! All integers are big-endian so that byte order is numeric order. `ns`
//! is the namespace id of a logical database (SWAPDB swaps ids, never
//! data). Putting the slot first keeps each slot contiguous (per-slot
//! scans, moving slots later), and the 32-bit key hash after it gives SCAN
//! a numeric cursor `(slot, hash)` that stays valid across calls, cores
//! and restarts. The expiry index lets the active expiry cycle find due
//! keys without reading the keyspace; its entries may be stale (the key
//! was overwritten or deleted), and the cycle checks the data record.

/// Tag byte of data records.
pub const DATA_TAG: u8 = b'k';
/// Tag byte of expiry index entries.
pub const EXPIRY_TAG: u8 = b'x';
/// Bytes before the user key in a data record.
pub const DATA_PREFIX_LEN: usize = 1 + 2 + 2 + 4;
/// Bytes before the payload in a value record.
pub const VALUE_HEADER_LEN: usize = 1 + 8;

/// The longest payload a record can hold (the storage engine's value limit
/// less the header).
pub const MAX_PAYLOAD_LEN: usize = frys_storage::MAX_VALUE_LEN - VALUE_HEADER_LEN;

/// The type of a stored value (`TYPE` answers its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueType {
    /// A Redis string: the payload is its bytes.
    String = 0,
    /// A hash: the payload is collection metadata (`store::collection`).
    Hash = 1,
    /// A list (collection metadata).
    List = 2,
    /// A set (collection metadata).
    Set = 3,
    /// A sorted set (collection metadata).
    ZSet = 4,
}

impl ValueType {
    /// The name `TYPE` answers.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Hash => "hash",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
        }
    }

    /// The type named `name` (any case), as SCAN's TYPE option takes it.
    pub fn from_name(name: &[u8]) -> Option<ValueType> {
        [
            ValueType::String,
            ValueType::Hash,
            ValueType::List,
            ValueType::Set,
            ValueType::ZSet,
        ]
        .into_iter()
        .find(|t| t.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether values of this type are collections (metadata + elements).
    pub fn is_collection(self) -> bool {
        self != ValueType::String
    }

    fn from_byte(b: u8) -> Option<ValueType> {
        match b {
            0 => Some(ValueType::String),
            1 => Some(ValueType::Hash),
            2 => Some(ValueType::List),
            3 => Some(ValueType::Set),
            4 => Some(ValueType::ZSet),
            _ => None,
        }
    }
}

/// A decoded value record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its type.
    pub kind: ValueType,
    /// Unix milliseconds after which it no longer exists.
    pub expires_at: Option<u64>,
    /// The payload (a string's bytes).
    pub payload: Vec<u8>,
}

impl Entry {
    /// A string without expiry.
    pub fn string(payload: Vec<u8>) -> Entry {
        Entry {
            kind: ValueType::String,
            expires_at: None,
            payload,
        }
    }

    /// Encodes the value record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(VALUE_HEADER_LEN + self.payload.len());
        out.push(self.kind as u8);
        out.extend_from_slice(&self.expires_at.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Decodes a value record; `None` if it is malformed.
    pub fn decode(mut bytes: Vec<u8>) -> Option<Entry> {
        if bytes.len() < VALUE_HEADER_LEN {
            return None;
        }
        let kind = ValueType::from_byte(bytes[0])?;
        let mut at = [0u8; 8];
        at.copy_from_slice(&bytes[1..VALUE_HEADER_LEN]);
        let at = u64::from_be_bytes(at);
        bytes.drain(..VALUE_HEADER_LEN);
        Some(Entry {
            kind,
            expires_at: (at != 0).then_some(at),
            payload: bytes,
        })
    }

    /// The type and expiry of an encoded value, without copying the payload.
    pub fn peek(bytes: &[u8]) -> Option<(ValueType, Option<u64>)> {
        let kind = ValueType::from_byte(*bytes.first()?)?;
        let at: [u8; 8] = bytes.get(1..VALUE_HEADER_LEN)?.try_into().ok()?;
        let at = u64::from_be_bytes(at);
        Some((kind, (at != 0).then_some(at)))
    }
}

/// The 32-bit hash that orders keys inside a slot (FNV-1a, folded).
pub fn key_hash(key: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// The data record key of `key` in namespace `ns`.
pub fn data_key(ns: u16, slot: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DATA_PREFIX_LEN + key.len());
    out.push(DATA_TAG);
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(&slot.to_be_bytes());
    out.extend_from_slice(&key_hash(key).to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// The first data record key at or after position `(slot, hash)` of `ns`.
pub fn data_position(ns: u16, slot: u16, hash: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(DATA_PREFIX_LEN);
    out.push(DATA_TAG);
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(&slot.to_be_bytes());
    out.extend_from_slice(&hash.to_be_bytes());
    out
}

/// The bound just past every data record of `ns` in slots `< end_slot`.
pub fn data_end(ns: u16, end_slot: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    out.push(DATA_TAG);
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(&end_slot.to_be_bytes());
    out
}

/// The parts of a data record key: `(ns, slot, hash, user key)`.
pub fn split_data_key(record: &[u8]) -> Option<(u16, u16, u32, &[u8])> {
    if record.len() < DATA_PREFIX_LEN || record[0] != DATA_TAG {
        return None;
    }
    let ns = u16::from_be_bytes([record[1], record[2]]);
    let slot = u16::from_be_bytes([record[3], record[4]]);
    let hash = u32::from_be_bytes([record[5], record[6], record[7], record[8]]);
    Some((ns, slot, hash, &record[DATA_PREFIX_LEN..]))
}

/// The expiry index key of `key` in `ns` due at `deadline`.
pub fn expiry_key(deadline: u64, ns: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(11 + key.len());
    out.push(EXPIRY_TAG);
    out.extend_from_slice(&deadline.to_be_bytes());
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// The parts of an expiry index key: `(deadline, ns, user key)`.
pub fn split_expiry_key(record: &[u8]) -> Option<(u64, u16, &[u8])> {
    if record.len() < 11 || record[0] != EXPIRY_TAG {
        return None;
    }
    let deadline = u64::from_be_bytes(record[1..9].try_into().ok()?);
    let ns = u16::from_be_bytes([record[9], record[10]]);
    Some((deadline, ns, &record[11..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_with_and_without_expiry() {
        for e in [
            Entry::string(b"hello".to_vec()),
            Entry {
                kind: ValueType::String,
                expires_at: Some(1_700_000_000_123),
                payload: Vec::new(),
            },
        ] {
            let bytes = e.encode();
            assert_eq!(Entry::peek(&bytes), Some((e.kind, e.expires_at)));
            assert_eq!(Entry::decode(bytes), Some(e));
        }
        assert_eq!(Entry::decode(vec![0, 1, 2]), None);
        assert_eq!(Entry::decode(vec![9; 12]), None);
    }

    #[test]
    fn data_keys_sort_by_namespace_then_slot_then_hash() {
        let a = data_key(0, 5, b"zzz");
        let b = data_key(0, 6, b"aaa");
        let c = data_key(1, 0, b"aaa");
        assert!(a < b && b < c);
        let (ns, slot, hash, key) = split_data_key(&a).unwrap();
        assert_eq!((ns, slot, hash, key), (0, 5, key_hash(b"zzz"), &b"zzz"[..]));
        assert!(data_position(0, 5, key_hash(b"zzz")) <= a);
        assert!(a < data_end(0, 6));
    }

    #[test]
    fn expiry_keys_sort_by_deadline() {
        let early = expiry_key(10, 3, b"b");
        let late = expiry_key(11, 0, b"a");
        assert!(early < late);
        assert_eq!(split_expiry_key(&early), Some((10, 3, &b"b"[..])));
    }
}
