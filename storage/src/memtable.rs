//! The memtable: recent writes, sorted, with keys and values in an arena.
//!
//! Invariants: every `ArenaBytes` in `map` and `newest` points into
//! `arena`, which outlives both and is reset only in `Drop`, after both
//! are emptied. Bump chunks never move, so the pointers stay valid. A
//! memtable is mutated only by its core; once frozen (immutable) it is only
//! read. `newest` holds, for every user key in `map`, its highest-seqno
//! version (inserts arrive in seqno order), so a point read at the latest
//! snapshot is one hash probe, and a key absent from `newest` is absent
//! from the memtable. Each key in `map` carries the first 8 bytes of its
//! user key as a big-endian word (`head`), so most comparisons of the
//! ordered insert are decided without reading the arena.
//!
//! Recycling: a dropped memtable leaves its emptied arena (its largest
//! chunk) and hash index on its thread (`SPARE`, one per thread), and the
//! next memtable made there starts with them: memory the kernel has already
//! faulted in and zeroed is reused instead of being returned and faulted
//! in again at every memtable switch. At most one spare per thread is
//! kept, and only if its arena is at most `SPARE_ARENA_LIMIT` (32 MiB) and
//! its index at most `SPARE_INDEX_LIMIT` buckets, so a thread holds at most
//! that much beyond its live memtables.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::hash_map::Entry;
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
        // arena, which outlives every stored `ArenaBytes` and is reset only
        // after `map` and `newest` are emptied (module invariant), or from a
        // probe buffer that the caller keeps alive while the probe is
        // compared; the bytes are never written.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

/// An internal key ordered by `key::compare_internal_keys`, with its user
/// key's first 8 bytes inline (see [`head_of`]).
#[derive(Clone, Copy)]
struct InternalKey {
    head: u64,
    bytes: ArenaBytes,
}

impl InternalKey {
    /// `bytes` is an internal key (or a probe that `key::user_key` splits).
    fn new(bytes: ArenaBytes) -> Self {
        Self {
            head: head_of(key::user_key(bytes.as_slice())),
            bytes,
        }
    }
}

/// The first 8 bytes of `user_key` as a big-endian word, zero-padded.
///
/// When two heads differ, they order the keys as byte order does: either
/// the keys differ in one of these bytes, or the shorter key is a proper
/// prefix of the longer, which has a non-zero byte where the shorter is
/// padded (a zero byte there would make the heads equal). Equal heads
/// decide nothing.
fn head_of(user_key: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = user_key.len().min(8);
    word[..n].copy_from_slice(&user_key[..n]);
    u64::from_be_bytes(word)
}

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
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match self.head.cmp(&other.head) {
            Ordering::Equal => {
                key::compare_internal_keys(self.bytes.as_slice(), other.bytes.as_slice())
            }
            decided => decided,
        }
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

type NewestIndex = HashMap<UserKey, Newest, foldhash::fast::RandomState>;

/// What a dropped memtable leaves for the next one on its thread: its
/// arena, reset, and its hash index, empty (no pointers into the arena).
struct Spare {
    arena: Bump,
    newest: NewestIndex,
}

thread_local! {
    static SPARE: RefCell<Option<Spare>> = const { RefCell::new(None) };
}

/// A dropped memtable's arena is kept for reuse only up to this many
/// bytes (the default `memtable_bytes` is 8 MiB; bumpalo doubles its
/// chunks, so an arena is at most about twice what it held).
const SPARE_ARENA_LIMIT: usize = 32 << 20;

/// ... and its hash index only up to this many buckets.
const SPARE_INDEX_LIMIT: usize = 1 << 19;

/// Sorted recent writes of one partition.
pub(crate) struct Memtable {
    // Declared before `arena`: dropped first.
    map: BTreeMap<InternalKey, ArenaBytes>,
    /// Point-read index: the newest version of each user key.
    newest: NewestIndex,
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
    /// An empty memtable, on this thread's spare arena and index if a
    /// dropped memtable left them.
    pub(crate) fn new() -> Self {
        let spare = SPARE.try_with(|s| s.borrow_mut().take()).ok().flatten();
        let (arena, newest) = match spare {
            Some(Spare { arena, newest }) => (arena, newest),
            None => (Bump::new(), HashMap::default()),
        };
        Self {
            map: BTreeMap::new(),
            newest,
            arena,
            data_bytes: 0,
            max_seqno: 0,
            scratch: Vec::new(),
        }
    }

    /// Inserts one version. `value_field` is empty for deletes.
    pub(crate) fn insert(&mut self, user_key: &[u8], seqno: SeqNo, kind: Kind, value_field: &[u8]) {
        self.scratch.clear();
        key::encode_internal_key(user_key, seqno, kind, &mut self.scratch);
        let bytes = ArenaBytes::copy_in(&self.arena, &self.scratch);
        let k = InternalKey {
            head: head_of(user_key),
            bytes,
        };
        let v = ArenaBytes::copy_in(&self.arena, value_field);
        self.data_bytes += self.scratch.len() + value_field.len();
        self.max_seqno = self.max_seqno.max(seqno);
        // The user key is the internal key's prefix, already in the arena.
        let user = UserKey(ArenaBytes {
            ptr: bytes.ptr,
            len: user_key.len(),
        });
        self.map.insert(k, v);
        let newest = Newest {
            seqno,
            kind,
            value: v,
        };
        // One hash of the key: `user` is a copy of a pointer, not a copy
        // of the bytes.
        match self.newest.entry(user) {
            Entry::Occupied(mut n) => {
                if n.get().seqno <= seqno {
                    *n.get_mut() = newest;
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(newest);
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
            .range((Bound::Included(InternalKey::new(probe)), Bound::Unbounded))
            .next()?;
        let (found_user, seqno, kind) = key::split_internal_key(k.bytes.as_slice())?;
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
            Some(from) => Bound::Included(InternalKey::new(ArenaBytes {
                ptr: NonNull::from(from).cast(),
                len: from.len(),
            })),
            None => Bound::Unbounded,
        };
        // The bound is only compared against during `range` construction,
        // which completes before `from` could go away.
        self.map
            .range((start, Bound::Unbounded))
            .map(|(k, v)| (k.bytes.as_slice(), v.as_slice()))
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

impl Drop for Memtable {
    fn drop(&mut self) {
        // Nothing may point into the arena once it is reset.
        self.map.clear();
        self.newest.clear();
        let mut arena = std::mem::take(&mut self.arena);
        arena.reset();
        // `reset` keeps the arena's last (largest) chunk, and the index
        // keeps its buckets: a memtable that one huge value or a long WAL
        // replay grew must not pin that memory on its thread for ever.
        if arena.allocated_bytes() > SPARE_ARENA_LIMIT || self.newest.capacity() > SPARE_INDEX_LIMIT
        {
            return;
        }
        let spare = Spare {
            arena,
            newest: std::mem::take(&mut self.newest),
        };
        // At thread exit the slot may be gone already: then drop the spare.
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.is_none() {
                *s = Some(spare);
            }
        });
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

    /// Keys that stress the inline head: shorter than 8 bytes, zero bytes
    /// where shorter keys are padded, equal heads with different tails.
    fn tricky_keys() -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\0".to_vec(),
            b"\0\0".to_vec(),
            b"a".to_vec(),
            b"a\0".to_vec(),
            b"a\0\0\0\0\0\0\0".to_vec(),
            b"a\0\0\0\0\0\0\0\0".to_vec(),
            b"a\x01".to_vec(),
            b"abcdefgh".to_vec(),
            b"abcdefgh\0".to_vec(),
            b"abcdefghz".to_vec(),
            b"abcdefgi".to_vec(),
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        ];
        let mut rng = crate::test_rng::Rng::new(7);
        for _ in 0..300 {
            let len = rng.below(12) as usize;
            // Few distinct byte values, so that prefixes collide often.
            keys.push(
                (0..len)
                    .map(|_| [0u8, 1, b'k', 0xff][rng.below(4) as usize])
                    .collect(),
            );
        }
        keys
    }

    #[test]
    fn scans_follow_internal_key_order_whatever_the_heads() {
        let keys = tricky_keys();
        let mut m = Memtable::new();
        let mut expected = Vec::new();
        for (seqno, k) in keys.iter().enumerate() {
            let seqno = seqno as u64 + 1;
            let kind = if seqno.is_multiple_of(5) {
                Kind::Delete
            } else {
                Kind::Put
            };
            m.insert(k, seqno, kind, b"");
            expected.push(key::internal_key(k, seqno, kind));
        }
        expected.sort_by(|a, b| key::compare_internal_keys(a, b));
        let got: Vec<Vec<u8>> = m.iter_from(None).map(|(k, _)| k.to_vec()).collect();
        assert_eq!(got, expected);
        // A seek lands on the first entry at or after it, for every key.
        for (i, from) in expected.iter().enumerate() {
            let first = m.iter_from(Some(from)).next().map(|(k, _)| k.to_vec());
            assert_eq!(first.as_ref(), Some(&expected[i]));
        }
        // And old snapshots find their version through the ordered map.
        for k in &keys {
            let newest_at_1 = m.get(k, 1).map(|(s, _)| s);
            assert_eq!(newest_at_1, (k == &keys[0]).then_some(1));
        }
    }

    #[test]
    fn a_memtable_made_after_a_drop_reuses_its_arena_and_starts_empty() {
        let mut m = Memtable::new();
        let mut f = Vec::new();
        key::encode_value(None, &[7u8; 100], &mut f);
        for i in 0..1000u32 {
            m.insert(&i.to_be_bytes(), u64::from(i) + 1, Kind::Put, &f);
        }
        drop(m);
        let mut m = Memtable::new();
        assert!(
            m.arena.allocated_bytes() > 0,
            "the dropped memtable's arena is reused"
        );
        assert!(m.is_empty() && m.newest.is_empty() && m.data_bytes() == 0);
        assert!(m.get(&5u32.to_be_bytes(), u64::MAX >> 8).is_none());
        m.insert(b"k", 1, Kind::Put, &f);
        assert_eq!(m.iter_from(None).count(), 1);
        assert!(matches!(m.get(b"k", 1), Some((1, Found::Value(v))) if v == f.as_slice()));
    }

    #[test]
    fn a_huge_memtable_leaves_no_spare_behind() {
        let mut m = Memtable::new();
        let mut f = Vec::new();
        key::encode_value(None, &vec![1u8; SPARE_ARENA_LIMIT + 1], &mut f);
        m.insert(b"big", 1, Kind::Put, &f);
        drop(m);
        let m = Memtable::new();
        assert!(
            m.arena.allocated_bytes() <= SPARE_ARENA_LIMIT,
            "an arena of {} bytes was kept",
            m.arena.allocated_bytes()
        );
    }
}
