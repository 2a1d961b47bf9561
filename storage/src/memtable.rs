//! The memtable: recent writes, sorted, with keys and values in an arena.
//!
//! Invariants: every `ArenaBytes` in `map` and `newest` points into
//! `arena`, which is never reset and outlives both (fields drop in
//! declaration order, the maps first). Bump chunks never move, so the
//! pointers stay valid. A memtable is mutated only by its core; once frozen
//! (immutable) it is only read. `newest` holds, for every user key in
//! `map`, its highest-seqno version (inserts arrive in seqno order), so a
//! point read at the latest snapshot is one hash probe, and a key absent
//! from `newest` is absent from the memtable.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::ptr::NonNull;

use bumpalo::Bump;

use crate::key::{self, Kind, SeqNo};

/// Bytes living in the memtable's arena — or, for a lookup probe, in a
/// caller's buffer that outlives the probe (`get`, `iter_from`).
#[derive(Clone, Copy)]
struct ArenaBytes {
    ptr: NonNull<u8>,
    len: usize,
}

impl ArenaBytes {
    fn copy_in(arena: &Bump, bytes: &[u8]) -> Self {
        let slice = arena.alloc_slice_copy(bytes);
        Self {
            len: slice.len(),
            ptr: NonNull::from(slice).cast(),
        }
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr`/`len` came from a live allocation in the memtable's
        // arena, which is never reset and outlives every stored `ArenaBytes`
        // (module invariant), or from a probe buffer that the caller keeps
        // alive while the probe is compared; the bytes are never written.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

/// An internal key ordered by `key::compare_internal_keys`.
#[derive(Clone, Copy)]
struct InternalKey(ArenaBytes);

impl PartialEq for InternalKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for InternalKey {}
impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        key::compare_internal_keys(self.0.as_slice(), other.0.as_slice())
    }
}

/// A user key in the arena, hashed and compared as its bytes (so the
/// `newest` index can be probed with a `&[u8]`).
#[derive(Clone, Copy)]
struct UserKey(ArenaBytes);

impl PartialEq for UserKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }
}
impl Eq for UserKey {}
impl Hash for UserKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_slice().hash(state);
    }
}
impl Borrow<[u8]> for UserKey {
    fn borrow(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The newest version of a user key: seqno, kind and value field.
#[derive(Clone, Copy)]
struct Newest {
    seqno: SeqNo,
    kind: Kind,
    value: ArenaBytes,
}

/// Sorted recent writes of one partition.
pub(crate) struct Memtable {
    // Declared before `arena`: dropped first.
    map: BTreeMap<InternalKey, ArenaBytes>,
    /// Point-read index: the newest version of each user key.
    newest: HashMap<UserKey, Newest, foldhash::fast::RandomState>,
    arena: Bump,
    /// Bytes of keys and values put in (what a flush will write, roughly).
    data_bytes: usize,
    max_seqno: SeqNo,
    /// Scratch buffer for building internal keys.
    scratch: Vec<u8>,
}

/// One version found in the memtable.
pub(crate) enum Found<'a> {
    /// A value field (see `key::decode_value`).
    Value(&'a [u8]),
    /// A tombstone.
    Deleted,
}

impl Memtable {
    pub(crate) fn new() -> Self {
        Self {
            map: BTreeMap::new(),
            newest: HashMap::default(),
            arena: Bump::new(),
            data_bytes: 0,
            max_seqno: 0,
            scratch: Vec::new(),
        }
    }

    /// Inserts one version. `value_field` is empty for deletes.
    pub(crate) fn insert(&mut self, user_key: &[u8], seqno: SeqNo, kind: Kind, value_field: &[u8]) {
        self.scratch.clear();
        key::encode_internal_key(user_key, seqno, kind, &mut self.scratch);
        let k = InternalKey(ArenaBytes::copy_in(&self.arena, &self.scratch));
        let v = ArenaBytes::copy_in(&self.arena, value_field);
        self.data_bytes += self.scratch.len() + value_field.len();
        self.max_seqno = self.max_seqno.max(seqno);
        // The user key is the internal key's prefix, already in the arena.
        let user = UserKey(ArenaBytes {
            ptr: k.0.ptr,
            len: user_key.len(),
        });
        self.map.insert(k, v);
        let newest = Newest {
            seqno,
            kind,
            value: v,
        };
        match self.newest.get_mut(user_key) {
            Some(n) if n.seqno > seqno => {}
            Some(n) => *n = newest,
            None => {
                self.newest.insert(user, newest);
            }
        }
    }

    /// The newest version of `user_key` with seqno <= `snapshot`, and its
    /// seqno.
    pub(crate) fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<(SeqNo, Found<'_>)> {
        let newest = self.newest.get(user_key)?;
        if newest.seqno <= snapshot {
            let found = match newest.kind {
                Kind::Put => Found::Value(newest.value.as_slice()),
                Kind::Delete => Found::Deleted,
            };
            return Some((newest.seqno, found));
        }
        // An older snapshot: find its version in the ordered map.
        let seek = key::seek_key(user_key, snapshot);
        let probe = ArenaBytes {
            ptr: NonNull::from(seek.as_slice()).cast(),
            len: seek.len(),
        };
        // `probe` borrows `seek`, which outlives this lookup.
        let (k, v) = self
            .map
            .range((Bound::Included(InternalKey(probe)), Bound::Unbounded))
            .next()?;
        let (found_user, seqno, kind) = key::split_internal_key(k.0.as_slice())?;
        if found_user != user_key {
            return None;
        }
        let found = match kind {
            Kind::Put => Found::Value(v.as_slice()),
            Kind::Delete => Found::Deleted,
        };
        Some((seqno, found))
    }

    /// Entries with internal key >= `from` (or all), in order.
    pub(crate) fn iter_from<'a>(
        &'a self,
        from: Option<&[u8]>,
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let start = match from {
            Some(from) => Bound::Included(InternalKey(ArenaBytes {
                ptr: NonNull::from(from).cast(),
                len: from.len(),
            })),
            None => Bound::Unbounded,
        };
        // The bound is only compared against during `range` construction,
        // which completes before `from` could go away.
        self.map
            .range((start, Bound::Unbounded))
            .map(|(k, v)| (k.0.as_slice(), v.as_slice()))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes of user data held (keys + value fields).
    pub(crate) fn data_bytes(&self) -> usize {
        self.data_bytes
    }

    pub(crate) fn max_seqno(&self) -> SeqNo {
        self.max_seqno
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_visible_version_wins() {
        let mut m = Memtable::new();
        let mut f = Vec::new();
        key::encode_value(None, b"v1", &mut f);
        m.insert(b"k", 1, Kind::Put, &f);
        f.clear();
        key::encode_value(None, b"v3", &mut f);
        m.insert(b"k", 3, Kind::Put, &f);
        m.insert(b"k", 5, Kind::Delete, b"");
        m.insert(b"j", 9, Kind::Put, &f);
        let value = |s| match m.get(b"k", s) {
            Some((seqno, Found::Value(v))) => {
                Some((seqno, key::decode_value(v).unwrap().1.to_vec()))
            }
            Some((seqno, Found::Deleted)) => Some((seqno, b"<deleted>".to_vec())),
            None => None,
        };
        assert_eq!(value(0), None);
        assert_eq!(value(2), Some((1, b"v1".to_vec())));
        assert_eq!(value(4), Some((3, b"v3".to_vec())));
        assert_eq!(value(9), Some((5, b"<deleted>".to_vec())));
        assert!(m.get(b"kk", 9).is_none());
        let keys: Vec<_> = m
            .iter_from(None)
            .map(|(k, _)| key::split_internal_key(k).unwrap().1)
            .collect();
        assert_eq!(keys, vec![9, 5, 3, 1]);
    }
}
