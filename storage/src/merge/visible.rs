//! The user-visible view of a merged stream at a snapshot and a time.

use std::ops::Bound;

use super::EntryIter;
use crate::key::{self, Kind, SeqNo};

/// Yields `(user key, value)` for every user key visible at `snapshot` and
/// `now_ms`, in user-key order, up to an optional upper bound.
///
/// For each user key the newest version with seqno <= `snapshot` decides:
/// a `Put` whose expiry is absent or `> now_ms` is yielded; a tombstone, an
/// expired value or an undecodable value field hides the key. Entries with
/// malformed internal keys are skipped. All are counted in
/// [`malformed`](Self::malformed) when undecodable.
///
/// Wraps any [`EntryIter`], usually a [`MergingIter`](super::MergingIter).
///
/// # Examples
///
/// ```
/// use std::ops::Bound;
/// use frys_storage::key::{encode_value, internal_key, Kind};
/// use frys_storage::merge::{MergingIter, VecIter, VisibleIter};
///
/// let put = |k: &[u8], seqno, v: &[u8]| {
///     let mut field = Vec::new();
///     encode_value(None, v, &mut field);
///     (internal_key(k, seqno, Kind::Put), field)
/// };
/// let memtable = VecIter::new(vec![(internal_key(b"b", 3, Kind::Delete), Vec::new())]);
/// let table = VecIter::new(vec![put(b"a", 1, b"1"), put(b"b", 2, b"2")]);
/// let sources = MergingIter::new(vec![memtable, table]);
///
/// // At snapshot 2 the delete of `b` (seqno 3) is not visible yet.
/// let mut view = VisibleIter::new(sources, 2, 0, Bound::Unbounded);
/// view.seek(b"b");
/// assert_eq!((view.key(), view.value()), (&b"b"[..], &b"2"[..]));
/// view.next();
/// assert!(!view.valid());
/// ```
#[derive(Debug)]
pub struct VisibleIter<I: EntryIter> {
    inner: I,
    snapshot: SeqNo,
    now_ms: u64,
    upper: Bound<Vec<u8>>,
    /// `inner` sits on the visible version of the current user key.
    valid: bool,
    /// Reused buffer for the user key being skipped.
    skipping: Vec<u8>,
    malformed: u64,
}

impl<I: EntryIter> VisibleIter<I> {
    /// A view of `inner` at `snapshot` (clamped to [`key::MAX_SEQNO`]) and
    /// `now_ms`, ending at `upper` (a user key), positioned on the first
    /// visible key.
    pub fn new(inner: I, snapshot: SeqNo, now_ms: u64, upper: Bound<Vec<u8>>) -> VisibleIter<I> {
        let mut view = VisibleIter {
            inner,
            snapshot: snapshot.min(key::MAX_SEQNO),
            now_ms,
            upper,
            valid: false,
            skipping: Vec::new(),
            malformed: 0,
        };
        view.seek_to_first();
        view
    }

    /// Whether the view is positioned on a visible key.
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// The current user key (empty when not valid).
    pub fn key(&self) -> &[u8] {
        if self.valid {
            key::user_key(self.inner.key())
        } else {
            &[]
        }
    }

    /// The current value, without its flags and expiry (empty when not
    /// valid).
    pub fn value(&self) -> &[u8] {
        self.decoded().map_or(&[], |(_, value)| value)
    }

    /// The current value's expiry time in unix milliseconds, if any.
    pub fn expires_at(&self) -> Option<u64> {
        self.decoded().and_then(|(expires_at, _)| expires_at)
    }

    /// Moves to the next visible user key.
    pub fn next(&mut self) {
        if !self.valid {
            return;
        }
        self.skipping.clear();
        self.skipping
            .extend_from_slice(key::user_key(self.inner.key()));
        self.skip_current_user_key();
        self.settle();
    }

    /// Positions on the first visible user key >= `user_key`.
    pub fn seek(&mut self, user_key: &[u8]) {
        self.inner.seek(&key::seek_key(user_key, self.snapshot));
        self.settle();
    }

    /// Positions on the first visible user key.
    pub fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
        self.settle();
    }

    /// Undecodable entries met so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The underlying iterator.
    pub fn into_inner(self) -> I {
        self.inner
    }

    fn decoded(&self) -> Option<(Option<u64>, &[u8])> {
        if self.valid {
            key::decode_value(self.inner.value())
        } else {
            None
        }
    }

    /// Advances `inner` to the first version at or after its position that
    /// decides a visible user key; invalid at the end or past the bound.
    fn settle(&mut self) {
        self.valid = false;
        while self.inner.valid() {
            let Some((user_key, seqno, kind)) = key::split_internal_key(self.inner.key()) else {
                self.malformed += 1;
                self.inner.next();
                continue;
            };
            let in_bound = match &self.upper {
                Bound::Unbounded => true,
                Bound::Included(upper) => user_key <= upper.as_slice(),
                Bound::Excluded(upper) => user_key < upper.as_slice(),
            };
            if !in_bound {
                return;
            }
            if seqno > self.snapshot {
                self.inner.next();
                continue;
            }
            // The newest version at the snapshot: it alone decides.
            let visible = match kind {
                Kind::Delete => false,
                Kind::Put => match key::decode_value(self.inner.value()) {
                    Some((expires_at, _)) => expires_at.is_none_or(|t| t > self.now_ms),
                    None => {
                        self.malformed += 1;
                        false
                    }
                },
            };
            if visible {
                self.valid = true;
                return;
            }
            self.skipping.clear();
            self.skipping.extend_from_slice(user_key);
            self.skip_current_user_key();
        }
    }

    /// Advances `inner` past every entry of the user key in `skipping`.
    fn skip_current_user_key(&mut self) {
        while self.inner.valid() && key::user_key(self.inner.key()) == self.skipping.as_slice() {
            self.inner.next();
        }
    }
}
