//! The compaction filter that drops the elements of deleted, overwritten
//! and expired collections (see `collection` for the layout).
//!
//! An element or score record depends on its key's metadata record; it
//! is dead when that record is gone (deleted, or replaced by a tombstone
//! once it expired: the expiry cycle or compaction does that), holds a
//! string, or carries another version. An expired but still stored
//! record keeps its elements: judging expiry by the clock here would race
//! a TTL extended during the merge, and a clock that jumps forward. Versions are never reused, so a dead
//! element stays dead: dropping it can never lose a live one. A record
//! the filter cannot decode is kept.

use frys_storage::CompactionFilter;

use super::collection::{metadata_key_of, split_element_key, Meta};
use super::encoding::Entry;

/// Drops dead collection elements during compactions.
#[derive(Debug, Default)]
pub struct DeadElements;

impl CompactionFilter for DeadElements {
    fn dependency(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
        metadata_key_of(key, out)
    }

    fn is_dead(&self, key: &[u8], _value: &[u8], dependency: Option<&[u8]>) -> bool {
        let Some(element) = split_element_key(key) else {
            return false;
        };
        let Some(meta) = dependency else {
            return true; // deleted
        };
        let Some((kind, _)) = Entry::peek(meta) else {
            return false;
        };
        if !kind.is_collection() {
            return true;
        }
        match Meta::decode(&meta[super::encoding::VALUE_HEADER_LEN..]) {
            Some(m) => m.version != element.version,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::collection::{element_prefix, ELEMENT_TAG, SCORE_TAG};
    use crate::store::{Collection, ValueType};

    fn element(version: u64) -> Vec<u8> {
        let mut k = element_prefix(ELEMENT_TAG, 0, 7, b"key", version);
        k.extend_from_slice(b"field");
        k
    }

    #[test]
    fn elements_die_with_their_metadata_version() {
        let f = DeadElements;
        let mut c = Collection::new(ValueType::Hash);
        let live = c.entry().encode();
        let v = c.meta.version;
        let mut dep = Vec::new();
        assert!(f.dependency(&element(v), &mut dep));
        assert_eq!(dep, crate::store::data_key(0, 7, b"key"));
        assert!(!f.is_dead(&element(v), b"x", Some(&live)));
        assert!(f.is_dead(&element(v - 1), b"x", Some(&live)));
        assert!(f.is_dead(&element(v), b"x", None));
        assert!(f.is_dead(
            &element(v),
            b"x",
            Some(&Entry::string(b"s".to_vec()).encode())
        ));
        // Expired but still stored: kept (the tombstone that replaces it
        // is what kills the elements).
        c.expires_at = Some(1);
        assert!(!f.is_dead(&element(v), b"x", Some(&c.entry().encode())));
        let mut score = element_prefix(SCORE_TAG, 0, 7, b"key", v - 1);
        score.extend_from_slice(&[0; 8]);
        assert!(f.is_dead(&score, b"", Some(&live)));
        // Other records never depend on anything; damaged metadata keeps.
        assert!(!f.dependency(&dep, &mut Vec::new()));
        assert!(!f.is_dead(&element(v), b"x", Some(&[1, 0, 0])));
    }
}
