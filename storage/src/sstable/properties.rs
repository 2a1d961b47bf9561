//! Table properties: counts and key range, stored in a small meta block.

use super::coding::{get_bytes, get_varint64, put_varint};
use super::TableError;
use crate::key::{split_internal_key, Kind, SeqNo};

const TAG_ENTRIES: u64 = 1;
const TAG_SMALLEST: u64 = 2;
const TAG_LARGEST: u64 = 3;
const TAG_MIN_SEQNO: u64 = 4;
const TAG_MAX_SEQNO: u64 = 5;
const TAG_TOMBSTONES: u64 = 6;
const TAG_RAW_KEY_BYTES: u64 = 7;
const TAG_RAW_VALUE_BYTES: u64 = 8;
const TAG_COUNT: usize = 8;

/// What a table holds, known without reading its data blocks. For an empty
/// table every field is zero or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableProperties {
    /// Number of entries (versions, tombstones included).
    pub entries: u64,
    /// First internal key.
    pub smallest: Vec<u8>,
    /// Last internal key.
    pub largest: Vec<u8>,
    /// Lowest sequence number of any entry.
    pub min_seqno: SeqNo,
    /// Highest sequence number of any entry.
    pub max_seqno: SeqNo,
    /// Entries of kind [`Kind::Delete`].
    pub tombstones: u64,
    /// Sum of the internal key lengths.
    pub raw_key_bytes: u64,
    /// Sum of the value field lengths.
    pub raw_value_bytes: u64,
}

impl TableProperties {
    /// Parses a properties block payload. `offset` is the block's file
    /// offset, used only in errors.
    pub fn decode(payload: &[u8], offset: u64) -> Result<TableProperties, TableError> {
        let corrupt = |what| TableError::Corrupt { what, offset };
        let mut props = TableProperties::default();
        let mut seen = [false; TAG_COUNT];
        let mut cur = payload;
        while !cur.is_empty() {
            let tag = get_varint64(&mut cur).ok_or(corrupt("properties record tag"))?;
            let len = get_varint64(&mut cur).ok_or(corrupt("properties record length"))?;
            let mut value = usize::try_from(len)
                .ok()
                .and_then(|len| get_bytes(&mut cur, len))
                .ok_or(corrupt("properties record out of bounds"))?;
            let Some(slot) = tag
                .checked_sub(1)
                .and_then(|i| seen.get_mut(usize::try_from(i).ok()?))
            else {
                continue; // a property from a newer writer
            };
            if std::mem::replace(slot, true) {
                return Err(corrupt("properties record repeated"));
            }
            let field = match tag {
                TAG_SMALLEST => {
                    props.smallest = value.to_vec();
                    continue;
                }
                TAG_LARGEST => {
                    props.largest = value.to_vec();
                    continue;
                }
                TAG_ENTRIES => &mut props.entries,
                TAG_MIN_SEQNO => &mut props.min_seqno,
                TAG_MAX_SEQNO => &mut props.max_seqno,
                TAG_TOMBSTONES => &mut props.tombstones,
                TAG_RAW_KEY_BYTES => &mut props.raw_key_bytes,
                _ => &mut props.raw_value_bytes,
            };
            *field = get_varint64(&mut value)
                .filter(|_| value.is_empty())
                .ok_or(corrupt("properties number"))?;
        }
        if seen.contains(&false) {
            return Err(corrupt("properties record missing"));
        }
        Ok(props)
    }

    /// Encodes the properties block payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.smallest.len() + self.largest.len());
        let mut bytes = |tag: u64, value: &[u8]| {
            put_varint(&mut out, tag);
            put_varint(&mut out, value.len() as u64);
            out.extend_from_slice(value);
        };
        bytes(TAG_SMALLEST, &self.smallest);
        bytes(TAG_LARGEST, &self.largest);
        for (tag, v) in [
            (TAG_ENTRIES, self.entries),
            (TAG_MIN_SEQNO, self.min_seqno),
            (TAG_MAX_SEQNO, self.max_seqno),
            (TAG_TOMBSTONES, self.tombstones),
            (TAG_RAW_KEY_BYTES, self.raw_key_bytes),
            (TAG_RAW_VALUE_BYTES, self.raw_value_bytes),
        ] {
            let mut num = Vec::with_capacity(10);
            put_varint(&mut num, v);
            bytes(tag, &num);
        }
        out
    }

    /// Accounts for one entry appended after all previous ones.
    pub(crate) fn record(&mut self, ikey: &[u8], value: &[u8]) {
        let (seqno, kind) = match split_internal_key(ikey) {
            Some((_, seqno, kind)) => (seqno, kind),
            None => (0, Kind::Put), // the builder rejects such keys first
        };
        if self.entries == 0 {
            self.smallest = ikey.to_vec();
            self.min_seqno = seqno;
            self.max_seqno = seqno;
        }
        self.largest.clear();
        self.largest.extend_from_slice(ikey);
        self.entries += 1;
        self.min_seqno = self.min_seqno.min(seqno);
        self.max_seqno = self.max_seqno.max(seqno);
        self.tombstones += u64::from(kind == Kind::Delete);
        self.raw_key_bytes += ikey.len() as u64;
        self.raw_value_bytes += value.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::internal_key;

    #[test]
    fn properties_round_trip_and_unknown_tags_are_skipped() {
        let mut p = TableProperties::default();
        p.record(&internal_key(b"a", 9, Kind::Put), b"\0xyz");
        p.record(&internal_key(b"a", 3, Kind::Delete), b"");
        p.record(&internal_key(b"b", 5, Kind::Put), b"\0v");
        assert_eq!(
            (p.entries, p.min_seqno, p.max_seqno, p.tombstones),
            (3, 3, 9, 1)
        );
        assert_eq!((p.raw_key_bytes, p.raw_value_bytes), (3 * 9, 6));
        let mut bytes = p.encode();
        assert_eq!(TableProperties::decode(&bytes, 0).unwrap(), p);
        bytes.extend_from_slice(&[99, 2, 0xab, 0xcd]);
        assert_eq!(TableProperties::decode(&bytes, 0).unwrap(), p);
        let empty = TableProperties::default();
        assert_eq!(TableProperties::decode(&empty.encode(), 0).unwrap(), empty);
    }

    #[test]
    fn missing_repeated_or_truncated_records_are_corrupt() {
        let bytes = TableProperties::default().encode();
        assert!(TableProperties::decode(&bytes[..bytes.len() - 3], 5).is_err());
        assert!(TableProperties::decode(&bytes[..bytes.len() - 1], 5).is_err());
        let mut twice = bytes.clone();
        twice.extend_from_slice(&bytes[..2]); // smallest again, empty
        assert!(TableProperties::decode(&twice, 5).is_err());
        assert!(TableProperties::decode(&[], 5).is_err());
    }
}
