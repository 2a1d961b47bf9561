//! Collections (hash, set, sorted set, list) as a call sees them, and the
//! change a successful call leaves on each.
//!
//! The server loads a declared collection whole (bounded by its
//! `plugin-max-collection-elements`) into a [`Collection`]; the call edits
//! a [`Live`] copy and remembers, per element it touched, what the element
//! was before the call's first change of it ([`Live::base`]). A call that
//! succeeds hands back a [`Change`]: the elements added, changed and
//! removed (for lists: how many were popped at each end, what was
//! pushed, and which stored elements LSET overwrote; an insertion or
//! removal between the ends rewrites the list), so the server writes only
//! what changed; a collection the call
//! made anew (the key was missing, or deleted first) is a
//! [`Change::Replace`].
//!
//! Invariants: a `Live` is never empty once an operation returned (the
//! call turns an emptied collection into a missing key: it ceases to
//! exist, as in Redis); for a list based on the stored one,
//! `pushed_front + (orig_len - popped_front - popped_back) + pushed_back
//! == items.len()`, the middle part being the stored elements
//! `popped_front..orig_len - popped_back` in order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod ops;
pub use ops::{clamp_range, trim_ends, ScoreRange};

/// A collection's elements.
#[derive(Debug, Clone, PartialEq)]
pub enum Collection {
    /// Field -> value.
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// Members.
    Set(BTreeSet<Vec<u8>>),
    /// Member -> score (never NaN).
    ZSet(BTreeMap<Vec<u8>, f64>),
    /// Elements, front first.
    List(VecDeque<Vec<u8>>),
}

/// The type of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A hash.
    Hash,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A list.
    List,
}

impl Collection {
    /// An empty collection of `kind`.
    pub fn empty(kind: Kind) -> Collection {
        match kind {
            Kind::Hash => Collection::Hash(BTreeMap::new()),
            Kind::Set => Collection::Set(BTreeSet::new()),
            Kind::ZSet => Collection::ZSet(BTreeMap::new()),
            Kind::List => Collection::List(VecDeque::new()),
        }
    }

    /// Its type.
    pub fn kind(&self) -> Kind {
        match self {
            Collection::Hash(_) => Kind::Hash,
            Collection::Set(_) => Kind::Set,
            Collection::ZSet(_) => Kind::ZSet,
            Collection::List(_) => Kind::List,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Collection::Hash(m) => m.len(),
            Collection::Set(s) => s.len(),
            Collection::ZSet(z) => z.len(),
            Collection::List(l) => l.len(),
        }
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `member` is a field (hash) or member (set, sorted set) of
    /// it; a list has none.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Collection::Hash(m) => m.contains_key(member),
            Collection::Set(s) => s.contains(member),
            Collection::ZSet(z) => z.contains_key(member),
            Collection::List(_) => false,
        }
    }
}

/// What a successful call writes to one collection key.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Whatever the key holds is replaced by a new collection of exactly
    /// these elements (never empty), without expiry.
    Replace(Collection),
    /// Edits of the stored hash (its expiry kept).
    Hash {
        /// Fields set (new or changed), with their values.
        put: Vec<(Vec<u8>, Vec<u8>)>,
        /// Fields removed (each existed).
        removed: Vec<Vec<u8>>,
        /// Fields after the change (never 0).
        len: u64,
    },
    /// Edits of the stored set (its expiry kept).
    Set {
        /// Members added (each new).
        added: Vec<Vec<u8>>,
        /// Members removed (each existed).
        removed: Vec<Vec<u8>>,
        /// Members after the change (never 0).
        len: u64,
    },
    /// Edits of the stored sorted set (its expiry kept).
    ZSet {
        /// Members with a new score: `(member, score, old score if it was
        /// a member)`.
        put: Vec<(Vec<u8>, f64, Option<f64>)>,
        /// Members removed, with the score they had.
        removed: Vec<(Vec<u8>, f64)>,
        /// Members after the change (never 0).
        len: u64,
    },
    /// Edits of the stored list (its expiry kept).
    List {
        /// Stored elements removed from the front.
        popped_front: u64,
        /// Stored elements removed from the back.
        popped_back: u64,
        /// New elements before the remaining stored ones, front first.
        pushed_front: Vec<Vec<u8>>,
        /// New elements after them, front first.
        pushed_back: Vec<Vec<u8>>,
        /// Stored elements that remain with a new value (LSET), by their
        /// index in the stored list (0: its first element before the
        /// call), in index order.
        replaced: Vec<(u64, Vec<u8>)>,
        /// Elements after the change (never 0).
        len: u64,
    },
}

/// Per element touched, its state before the call's first change of it.
#[derive(Debug, Clone)]
enum Base {
    Hash(BTreeMap<Vec<u8>, Option<Vec<u8>>>),
    Set(BTreeMap<Vec<u8>, bool>),
    ZSet(BTreeMap<Vec<u8>, Option<f64>>),
    List {
        orig_len: u64,
        popped_front: u64,
        popped_back: u64,
        pushed_front: u64,
        pushed_back: u64,
        /// Stored elements LSET overwrote, by their index in the stored
        /// list (0: its first element before the call).
        replaced: BTreeSet<u64>,
        /// Elements were inserted or removed between the ends (LINSERT,
        /// LREM): the change rewrites every element.
        rewritten: bool,
    },
}

/// A collection during a call.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub(crate) items: Collection,
    /// `Some`: `items` began as the stored collection; `None`: made by
    /// this call.
    base: Option<Base>,
    /// Members in index order (hash / set: byte order; sorted set: by
    /// score, then member), rebuilt after a write; not used for lists.
    order: Option<Vec<Vec<u8>>>,
}

impl Live {
    /// The stored collection `items`, to be edited.
    pub(crate) fn stored(items: Collection) -> Live {
        let base = match &items {
            Collection::Hash(_) => Base::Hash(BTreeMap::new()),
            Collection::Set(_) => Base::Set(BTreeMap::new()),
            Collection::ZSet(_) => Base::ZSet(BTreeMap::new()),
            Collection::List(l) => Base::List {
                orig_len: l.len() as u64,
                popped_front: 0,
                popped_back: 0,
                pushed_front: 0,
                pushed_back: 0,
                replaced: BTreeSet::new(),
                rewritten: false,
            },
        };
        Live {
            items,
            base: Some(base),
            order: None,
        }
    }

    /// A new, empty collection of `kind`.
    pub(crate) fn new(kind: Kind) -> Live {
        Live {
            items: Collection::empty(kind),
            base: None,
            order: None,
        }
    }

    /// Sets hash field `f`; whether it is new.
    pub(crate) fn hset(&mut self, f: &[u8], v: &[u8]) -> bool {
        let Collection::Hash(m) = &mut self.items else {
            return false;
        };
        if let Some(Base::Hash(b)) = &mut self.base {
            b.entry(f.to_vec()).or_insert_with(|| m.get(f).cloned());
        }
        let new = m.insert(f.to_vec(), v.to_vec()).is_none();
        // Last: `f` or `v` may be a member of `order` the host lent out.
        self.order = None;
        new
    }

    /// Removes hash field `f`; whether it existed.
    pub(crate) fn hdel(&mut self, f: &[u8]) -> bool {
        let Collection::Hash(m) = &mut self.items else {
            return false;
        };
        if !m.contains_key(f) {
            return false;
        }
        if let Some(Base::Hash(b)) = &mut self.base {
            b.entry(f.to_vec()).or_insert_with(|| m.get(f).cloned());
        }
        m.remove(f);
        self.order = None;
        true
    }

    /// Adds set member `m`; whether it is new.
    pub(crate) fn sadd(&mut self, member: &[u8]) -> bool {
        let Collection::Set(s) = &mut self.items else {
            return false;
        };
        if s.contains(member) {
            return false;
        }
        if let Some(Base::Set(b)) = &mut self.base {
            b.entry(member.to_vec()).or_insert(false);
        }
        s.insert(member.to_vec());
        self.order = None;
        true
    }

    /// Removes set member `m`; whether it was one.
    pub(crate) fn srem(&mut self, member: &[u8]) -> bool {
        let Collection::Set(s) = &mut self.items else {
            return false;
        };
        if !s.remove(member) {
            return false;
        }
        if let Some(Base::Set(b)) = &mut self.base {
            b.entry(member.to_vec()).or_insert(true);
        }
        self.order = None;
        true
    }

    /// Sets `member`'s score (not NaN; -0 is stored as 0); whether it is
    /// new.
    pub(crate) fn zadd(&mut self, score: f64, member: &[u8]) -> bool {
        let score = if score == 0.0 { 0.0 } else { score };
        let Collection::ZSet(z) = &mut self.items else {
            return false;
        };
        if let Some(Base::ZSet(b)) = &mut self.base {
            b.entry(member.to_vec())
                .or_insert_with(|| z.get(member).copied());
        }
        let new = z.insert(member.to_vec(), score).is_none();
        self.order = None;
        new
    }

    /// Removes `member`; whether it was one.
    pub(crate) fn zrem(&mut self, member: &[u8]) -> bool {
        let Collection::ZSet(z) = &mut self.items else {
            return false;
        };
        let Some(old) = z.remove(member) else {
            return false;
        };
        if let Some(Base::ZSet(b)) = &mut self.base {
            b.entry(member.to_vec()).or_insert(Some(old));
        }
        self.order = None;
        true
    }

    /// Pushes `v` at the front (or back) of a list.
    pub(crate) fn push(&mut self, front: bool, v: &[u8]) {
        let Collection::List(l) = &mut self.items else {
            return;
        };
        if let Some(Base::List {
            pushed_front,
            pushed_back,
            ..
        }) = &mut self.base
        {
            *if front { pushed_front } else { pushed_back } += 1;
        }
        if front {
            l.push_front(v.to_vec());
        } else {
            l.push_back(v.to_vec());
        }
    }

    /// Pops the front (or back) element of a list.
    pub(crate) fn pop(&mut self, front: bool) -> Option<Vec<u8>> {
        let Collection::List(l) = &mut self.items else {
            return None;
        };
        let v = if front { l.pop_front() } else { l.pop_back() }?;
        if let Some(Base::List {
            orig_len,
            popped_front,
            popped_back,
            pushed_front,
            pushed_back,
            rewritten: false,
            ..
        }) = &mut self.base
        {
            let stored_left = *orig_len - *popped_front - *popped_back;
            // The element came from this end's pushes, else from the
            // stored middle, else (the middle is gone) from the far
            // end's pushes.
            let (near, popped, far) = if front {
                (pushed_front, popped_front, pushed_back)
            } else {
                (pushed_back, popped_back, pushed_front)
            };
            if *near > 0 {
                *near -= 1;
            } else if stored_left > 0 {
                *popped += 1;
            } else {
                *far -= 1;
            }
        }
        Some(v)
    }

    /// The member at index `i` (negative: from the end) in index order
    /// (hash / set: byte order; sorted set: rank), or list element.
    pub(crate) fn at(&mut self, i: i64) -> Option<&[u8]> {
        let len = self.items.len();
        let i = if i < 0 {
            usize::try_from(len as i64 + i).ok()?
        } else {
            usize::try_from(i).ok()?
        };
        if i >= len {
            return None;
        }
        if let Collection::List(l) = &self.items {
            return l.get(i).map(Vec::as_slice);
        }
        if self.order.is_none() {
            self.order = Some(match &self.items {
                Collection::Hash(m) => m.keys().cloned().collect(),
                Collection::Set(s) => s.iter().cloned().collect(),
                Collection::ZSet(z) => {
                    let mut by_score: Vec<(&Vec<u8>, f64)> =
                        z.iter().map(|(m, s)| (m, *s)).collect();
                    by_score.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
                    by_score.into_iter().map(|(m, _)| m.clone()).collect()
                }
                Collection::List(_) => Vec::new(),
            });
        }
        self.order.as_ref()?.get(i).map(Vec::as_slice)
    }

    /// What the call changed (`None`: nothing). Never called on an empty
    /// collection (the call made it a missing key).
    pub(crate) fn change(self) -> Option<Change> {
        let len = self.items.len() as u64;
        let Some(base) = self.base else {
            return Some(Change::Replace(self.items));
        };
        let change = match (base, self.items) {
            (Base::Hash(b), Collection::Hash(m)) => {
                let (mut put, mut removed) = (Vec::new(), Vec::new());
                for (f, was) in b {
                    match m.get(&f) {
                        Some(v) if was.as_ref() != Some(v) => put.push((f, v.clone())),
                        Some(_) => {}
                        None if was.is_some() => removed.push(f),
                        None => {}
                    }
                }
                if put.is_empty() && removed.is_empty() {
                    return None;
                }
                Change::Hash { put, removed, len }
            }
            (Base::Set(b), Collection::Set(s)) => {
                let (mut added, mut removed) = (Vec::new(), Vec::new());
                for (m, was) in b {
                    match (was, s.contains(&m)) {
                        (false, true) => added.push(m),
                        (true, false) => removed.push(m),
                        _ => {}
                    }
                }
                if added.is_empty() && removed.is_empty() {
                    return None;
                }
                Change::Set {
                    added,
                    removed,
                    len,
                }
            }
            (Base::ZSet(b), Collection::ZSet(z)) => {
                let (mut put, mut removed) = (Vec::new(), Vec::new());
                for (m, was) in b {
                    match (was, z.get(&m)) {
                        (Some(w), Some(&s)) if w == s => {}
                        (was, Some(&s)) => put.push((m, s, was)),
                        (Some(w), None) => removed.push((m, w)),
                        (None, None) => {}
                    }
                }
                if put.is_empty() && removed.is_empty() {
                    return None;
                }
                Change::ZSet { put, removed, len }
            }
            (
                Base::List {
                    popped_front,
                    popped_back,
                    pushed_front,
                    pushed_back,
                    rewritten,
                    orig_len,
                    replaced,
                },
                Collection::List(mut l),
            ) => {
                if rewritten {
                    // Every stored element goes, the whole list comes
                    // back behind them: same version, same expiry.
                    return Some(Change::List {
                        popped_front: orig_len,
                        popped_back: 0,
                        pushed_front: Vec::new(),
                        pushed_back: l.into(),
                        replaced: Vec::new(),
                        len,
                    });
                }
                // The overwritten stored elements the call did not pop.
                let replaced: Vec<(u64, Vec<u8>)> = replaced
                    .range(popped_front..orig_len - popped_back)
                    .filter_map(|&s| {
                        let at = usize::try_from(pushed_front + s - popped_front).ok()?;
                        Some((s, l.get(at)?.clone()))
                    })
                    .collect();
                if popped_front + popped_back + pushed_front + pushed_back == 0
                    && replaced.is_empty()
                {
                    return None;
                }
                let back = l.split_off(l.len() - pushed_back as usize);
                l.truncate(pushed_front as usize);
                Change::List {
                    popped_front,
                    popped_back,
                    pushed_front: l.into(),
                    pushed_back: back.into(),
                    replaced,
                    len,
                }
            }
            (_, items) => Change::Replace(items),
        };
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Collection {
        Collection::List(items.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    fn strings(v: &[Vec<u8>]) -> Vec<&str> {
        v.iter().map(|b| std::str::from_utf8(b).unwrap()).collect()
    }

    #[test]
    fn list_changes_name_the_pops_and_pushes_at_each_end() {
        let mut l = Live::stored(list(&["a", "b", "c", "d"]));
        l.push(true, b"x");
        assert_eq!(l.pop(true).as_deref(), Some(&b"x"[..]));
        assert_eq!(l.pop(true).as_deref(), Some(&b"a"[..]));
        l.push(false, b"y");
        l.push(false, b"z");
        assert_eq!(l.pop(false).as_deref(), Some(&b"z"[..]));
        l.push(true, b"w");
        let Some(Change::List {
            popped_front,
            popped_back,
            pushed_front,
            pushed_back,
            len,
            ..
        }) = l.change()
        else {
            panic!("a list change");
        };
        assert_eq!((popped_front, popped_back, len), (1, 0, 5));
        assert_eq!(strings(&pushed_front), ["w"]);
        assert_eq!(strings(&pushed_back), ["y"]);
    }

    #[test]
    fn popping_past_the_stored_middle_takes_the_far_ends_pushes() {
        let mut l = Live::stored(list(&["a"]));
        l.push(false, b"b");
        l.push(false, b"c");
        assert_eq!(l.pop(true).as_deref(), Some(&b"a"[..]));
        assert_eq!(l.pop(true).as_deref(), Some(&b"b"[..]));
        let Some(Change::List {
            popped_front,
            popped_back,
            pushed_front,
            pushed_back,
            len,
            ..
        }) = l.change()
        else {
            panic!("a list change");
        };
        assert_eq!((popped_front, popped_back, len), (1, 0, 1));
        assert!(pushed_front.is_empty());
        assert_eq!(strings(&pushed_back), ["c"]);
    }

    #[test]
    fn map_changes_hold_only_what_differs_from_the_stored_elements() {
        let stored: BTreeMap<Vec<u8>, Vec<u8>> = [(b"f".to_vec(), b"1".to_vec())].into();
        let mut h = Live::stored(Collection::Hash(stored));
        assert!(!h.hset(b"f", b"2"));
        assert!(!h.hset(b"f", b"1")); // back to what it was
        assert!(h.hset(b"g", b"3"));
        assert!(h.hdel(b"g")); // added then removed: nothing
        assert!(h.change().is_none());

        let stored: BTreeMap<Vec<u8>, f64> = [(b"m".to_vec(), 1.0), (b"n".to_vec(), 2.0)].into();
        let mut z = Live::stored(Collection::ZSet(stored));
        assert!(!z.zadd(5.0, b"m"));
        assert!(z.zrem(b"n"));
        assert!(z.zadd(-0.0, b"o"));
        assert_eq!(z.at(0), Some(&b"o"[..]));
        assert_eq!(z.at(-1), Some(&b"m"[..]));
        assert_eq!(
            z.change(),
            Some(Change::ZSet {
                put: vec![(b"m".to_vec(), 5.0, Some(1.0)), (b"o".to_vec(), 0.0, None)],
                removed: vec![(b"n".to_vec(), 2.0)],
                len: 2,
            })
        );
    }

    #[test]
    fn a_new_collection_replaces_the_key() {
        let mut s = Live::new(Kind::Set);
        assert!(s.sadd(b"b"));
        assert!(s.sadd(b"a"));
        assert!(!s.sadd(b"a"));
        assert_eq!(s.at(0), Some(&b"a"[..]));
        assert_eq!(s.at(2), None);
        assert_eq!(
            s.change(),
            Some(Change::Replace(Collection::Set(
                [b"a".to_vec(), b"b".to_vec()].into()
            )))
        );
    }
}
