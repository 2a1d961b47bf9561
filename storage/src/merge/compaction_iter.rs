//! The stream a compaction writes: the merged inputs minus every version
//! no reader can see any more, and minus the values a [`DeadValues`] says
//! no reader would still look at.

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
///    from rules 2 and 5): nothing older is left for it to hide. A
///    tombstone with a kept older version below it stays, since a snapshot
///    still needs it. So expired (or dead) values vanish entirely exactly
///    when the key can go.
/// 4. **Malformed entries** (undecodable internal key) are copied through
///    unchanged and counted; they take no part in rules 1-3 and 5.
/// 5. **Dead values.** The newest version of a user key, if it is a `Put`
///    with a decodable value field that rule 2 left alone, is offered to
///    [`DeadValues`]. If that says it is dead to every reader at or after
///    seqno `d`, and no live snapshot `s` has `seqno <= s < d` (a reader
///    that sees this version but not yet what killed it), it becomes a
///    tombstone with the same seqno, like an expired value, and rule 3
///    treats it as one. Readers below `seqno` never saw it; older
///    versions they need are kept by rule 1. Counted in
///    [`filtered`](CompactionIter::filtered).
///
/// Buffers the kept versions of one user key at a time (at most one per
/// stripe, plus malformed entries).
#[derive(Debug)]
pub struct CompactionIter<I: EntryIter, D: DeadValues = ()> {
    inner: I,
    /// Live snapshots, ascending, deduplicated.
    snapshots: Vec<SeqNo>,
    drop_tombstones: bool,
    now_ms: u64,
    dead: D,
    /// Output entries of the current user key.
    out: Vec<Output>,
    pos: usize,
    malformed: u64,
    filtered: u64,
}

/// Tells a compaction which values are dead (rule 5 of
/// [`CompactionIter`]).
pub trait DeadValues {
    /// If the value `value` (the value field's value, expiry removed) of
    /// `user_key` is dead to every reader whose snapshot is at or after
    /// some seqno, returns that seqno. Asked about the newest version of
    /// each user key only (again if a seek reads the key again).
    fn dead_since(&mut self, user_key: &[u8], value: &[u8]) -> Option<SeqNo>;
}

/// No value is dead.
impl DeadValues for () {
    fn dead_since(&mut self, _: &[u8], _: &[u8]) -> Option<SeqNo> {
        None
    }
}

/// `None`: no value is dead.
impl<D: DeadValues> DeadValues for Option<D> {
    fn dead_since(&mut self, user_key: &[u8], value: &[u8]) -> Option<SeqNo> {
        self.as_mut()?.dead_since(user_key, value)
    }
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
    /// the first output entry. No value is dead by rule 5.
    pub fn new(
        inner: I,
        snapshots: Vec<SeqNo>,
        drop_tombstones: bool,
        now_ms: u64,
    ) -> CompactionIter<I> {
        CompactionIter::with_dead_values(inner, snapshots, drop_tombstones, now_ms, ())
    }
}

impl<I: EntryIter, D: DeadValues> CompactionIter<I, D> {
    /// As [`new`](CompactionIter::new), with `dead` deciding rule 5.
    pub fn with_dead_values(
        inner: I,
        mut snapshots: Vec<SeqNo>,
        drop_tombstones: bool,
        now_ms: u64,
        dead: D,
    ) -> CompactionIter<I, D> {
        snapshots.sort_unstable();
        snapshots.dedup();
        let mut compaction = CompactionIter {
            inner,
            snapshots,
            drop_tombstones,
            now_ms,
            dead,
            out: Vec::new(),
            pos: 0,
            malformed: 0,
            filtered: 0,
        };
        compaction.seek_to_first();
        compaction
    }

    /// The inner iterator, to top up its sources' buffers; moving it
    /// breaks this iterator's position.
    pub(crate) fn inner_mut(&mut self) -> &mut I {
        &mut self.inner
    }

    /// Gives back the inner iterator (to inspect its sources' errors).
    pub fn into_inner(self) -> I {
        self.inner
    }

    /// Malformed entries copied through so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Versions turned into tombstones by rule 5 so far.
    pub fn filtered(&self) -> u64 {
        self.filtered
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
                        let newest = last_stripe.is_none();
                        last_stripe = Some(stripe);
                        let mut kept = self.keep(user_key, seqno, kind, ikey, value);
                        if newest {
                            self.apply_dead_values(&mut kept, seqno);
                        }
                        self.out.push(kept);
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

    /// Rule 5, for the kept newest version `kept` (rule 2 already applied).
    fn apply_dead_values(&mut self, kept: &mut Output, seqno: SeqNo) {
        if kept.slot != Slot::Value {
            return;
        }
        let user_key = key::user_key(&kept.ikey);
        let Some((_, value)) = key::decode_value(&kept.value) else {
            return;
        };
        let Some(since) = self.dead.dead_since(user_key, value) else {
            return;
        };
        // Snapshots at or after `seqno` see this version; those before
        // `since` may not see its death yet.
        let first_seeing = self.snapshots.partition_point(|&s| s < seqno);
        if self.snapshots.get(first_seeing).is_some_and(|&s| s < since) {
            return;
        }
        *kept = Output {
            ikey: key::internal_key(user_key, seqno, Kind::Delete),
            value: Vec::new(),
            slot: Slot::Tombstone,
        };
        self.filtered += 1;
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

impl<I: EntryIter, D: DeadValues> EntryIter for CompactionIter<I, D> {
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
