//! The stream a compaction writes: the merged inputs minus every version
//! no reader can see any more.

use super::EntryIter;
use crate::key::{self, compare_internal_keys, Kind, SeqNo};

/// Filters a merged stream of compaction inputs down to what must be kept.
///
/// Rules, per user key (versions arrive newest first):
///
/// 1. **Snapshot stripes.** Live snapshots `s1 < s2 < ... < sk` cut the
///    seqno line into stripes `(.., s1], (s1, s2], ..., (sk, ..)`; the last
///    one is what the latest reads see. A reader at any snapshot sees the
///    newest version of its stripe or below, so the newest version in each
///    stripe is kept and every other version is dropped. In particular the
///    newest version overall is always kept. An exact duplicate (same seqno)
///    counts as an older version of the same stripe and is dropped.
/// 2. **Expiry.** A kept `Put` whose expiry is `<= now_ms` becomes a
///    tombstone with the same seqno: to every reader from now on it means
///    "deleted", and dropping it outright could resurrect an older version
///    (here or in a lower level). Readers must use a clock `>= now_ms`.
/// 3. **Tombstones.** With `drop_tombstones` (the caller vouches that no
///    version of these keys older than the inputs exists elsewhere), the
///    oldest kept version is dropped while it is a tombstone (original or
///    from rule 2): nothing older is left for it to hide. A tombstone with a
///    kept older version below it stays, since a snapshot still needs it.
///    So expired values vanish entirely exactly when the key can go.
/// 4. **Malformed entries** (undecodable internal key) are copied through
///    unchanged and counted; they take no part in rules 1-3.
///
/// Buffers the kept versions of one user key at a time (at most one per
/// stripe, plus malformed entries).
#[derive(Debug)]
pub struct CompactionIter<I: EntryIter> {
    inner: I,
    /// Live snapshots, ascending, deduplicated.
    snapshots: Vec<SeqNo>,
    drop_tombstones: bool,
    now_ms: u64,
    /// Output entries of the current user key.
    out: Vec<Output>,
    pos: usize,
    malformed: u64,
}

#[derive(Debug)]
struct Output {
    ikey: Vec<u8>,
    value: Vec<u8>,
    slot: Slot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Value,
    Tombstone,
    Malformed,
}

impl<I: EntryIter> CompactionIter<I> {
    /// Filters `inner` for a compaction, given the live `snapshots` (any
    /// order), whether tombstones may be purged, and the time; positioned on
    /// the first output entry.
    /// Gives back the inner iterator (to inspect its sources' errors).
    pub fn into_inner(self) -> I {
        self.inner
    }

    pub fn new(
        inner: I,
        mut snapshots: Vec<SeqNo>,
        drop_tombstones: bool,
        now_ms: u64,
    ) -> CompactionIter<I> {
        snapshots.sort_unstable();
        snapshots.dedup();
        let mut filtered = CompactionIter {
            inner,
            snapshots,
            drop_tombstones,
            now_ms,
            out: Vec::new(),
            pos: 0,
            malformed: 0,
        };
        filtered.seek_to_first();
        filtered
    }

    /// Malformed entries copied through so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Reads user-key groups from `inner` until one leaves output.
    fn fill(&mut self) {
        self.out.clear();
        self.pos = 0;
        while self.out.is_empty() && self.inner.valid() {
            self.read_user_key();
        }
    }

    /// Consumes every version of the user key `inner` sits on.
    fn read_user_key(&mut self) {
        let group = key::user_key(self.inner.key()).to_vec();
        let mut last_stripe = None;
        while self.inner.valid() && key::user_key(self.inner.key()) == group.as_slice() {
            let (ikey, value) = (self.inner.key(), self.inner.value());
            match key::split_internal_key(ikey) {
                None => {
                    self.malformed += 1;
                    self.out.push(Output {
                        ikey: ikey.to_vec(),
                        value: value.to_vec(),
                        slot: Slot::Malformed,
                    });
                }
                Some((user_key, seqno, kind)) => {
                    let stripe = self.snapshots.partition_point(|&s| s < seqno);
                    if last_stripe != Some(stripe) {
                        last_stripe = Some(stripe);
                        self.out.push(self.keep(user_key, seqno, kind, ikey, value));
                    }
                }
            }
            self.inner.next();
        }
        if self.drop_tombstones {
            while let Some(at) = self.out.iter().rposition(|o| o.slot != Slot::Malformed) {
                if self.out[at].slot != Slot::Tombstone {
                    break;
                }
                self.out.remove(at);
            }
        }
    }

    /// The output for a kept version (rule 2 applied).
    fn keep(&self, user_key: &[u8], seqno: SeqNo, kind: Kind, ikey: &[u8], value: &[u8]) -> Output {
        let expired = kind == Kind::Put
            && key::decode_value(value)
                .and_then(|(expires_at, _)| expires_at)
                .is_some_and(|t| t <= self.now_ms);
        if expired {
            return Output {
                ikey: key::internal_key(user_key, seqno, Kind::Delete),
                value: Vec::new(),
                slot: Slot::Tombstone,
            };
        }
        let slot = match kind {
            Kind::Delete => Slot::Tombstone,
            Kind::Put => Slot::Value,
        };
        Output {
            ikey: ikey.to_vec(),
            value: value.to_vec(),
            slot,
        }
    }
}

impl<I: EntryIter> EntryIter for CompactionIter<I> {
    fn valid(&self) -> bool {
        self.pos < self.out.len()
    }

    fn key(&self) -> &[u8] {
        self.out.get(self.pos).map_or(&[], |o| &o.ikey)
    }

    fn value(&self) -> &[u8] {
        self.out.get(self.pos).map_or(&[], |o| &o.value)
    }

    fn next(&mut self) {
        if self.pos < self.out.len() {
            self.pos += 1;
        }
        if self.pos == self.out.len() {
            self.fill();
        }
    }

    /// Seeks to the start of `ikey`'s user key (the rules need all of its
    /// versions), then steps to the first output entry >= `ikey`.
    fn seek(&mut self, ikey: &[u8]) {
        // The largest trailer sorts first: the start of the user key.
        let mut start = key::user_key(ikey).to_vec();
        start.extend_from_slice(&[0xff; key::TRAILER_LEN]);
        self.inner.seek(&start);
        self.fill();
        while self.valid() && compare_internal_keys(self.key(), ikey).is_lt() {
            self.next();
        }
    }

    fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
        self.fill();
    }
}
