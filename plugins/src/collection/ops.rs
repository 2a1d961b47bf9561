//! The ABI v3 collection operations on a [`Live`] collection: the list
//! edits between the ends (LSET, LINSERT, LREM), LTRIM, and the ordered
//! reads (LRANGE, ZRANGE by rank and by score), each with the index rules
//! of the server's command of the same name (Redis 7's).
//!
//! LSET writes only the element it names (as the server's LSET); an
//! insertion or removal between a list's ends marks the list rewritten
//! (the change then writes every element once, as the server's LREM
//! does); LTRIM is pops at both ends, so it writes only what it drops. Reads return index
//! ranges, never copies: the host copies what fits the plugin's buffer.

use super::{Base, Collection, Live};

/// Redis' LRANGE / LTRIM / ZRANGE index rules: negative indices count
/// from the end, `start` is raised to 0, `stop` lowered to the last
/// element; `None` when the range is empty.
pub fn clamp_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        start.saturating_add(len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop.min(len - 1)
    };
    if start > stop || start >= len {
        return None;
    }
    Some((start as u64, stop as u64))
}

/// A score interval as ZRANGEBYSCORE takes it (`(` makes an end
/// exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lowest score.
    pub min: f64,
    /// Whether `min` itself is excluded.
    pub min_exclusive: bool,
    /// Highest score.
    pub max: f64,
    /// Whether `max` itself is excluded.
    pub max_exclusive: bool,
}

impl ScoreRange {
    fn above_min(&self, s: f64) -> bool {
        if self.min_exclusive {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.max_exclusive {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// How many elements LTRIM `start stop` pops from the front and from the
/// back of a list of `len` (all of them, from the front, when the range
/// is empty).
pub fn trim_ends(start: i64, stop: i64, len: u64) -> (u64, u64) {
    match clamp_range(start, stop, len) {
        Some((from, to)) => (from, len - 1 - to),
        None => (len, 0),
    }
}

impl Live {
    /// What the first edit between the ends of a stored list adds to the
    /// call's writes (the rewrite: every stored element is deleted and
    /// pushed again): how many stored elements the list still holds and
    /// their bytes. `None` when such an edit adds nothing: the list is
    /// rewritten already, or the call made it (it is written whole, each
    /// element counted by its push). Elements the call pushed are not
    /// counted (their push was), nor stored ones it popped (their pop
    /// was: their delete is in the rewrite too).
    pub(crate) fn rewrite_cost(&self) -> Option<(u64, u64)> {
        let (
            Collection::List(l),
            Some(Base::List {
                orig_len,
                popped_front,
                popped_back,
                pushed_front,
                rewritten: false,
                ..
            }),
        ) = (&self.items, &self.base)
        else {
            return None;
        };
        let stored_left = orig_len - popped_front - popped_back;
        // The module's invariant: the stored middle follows the pushes.
        let bytes = l
            .iter()
            .skip(*pushed_front as usize)
            .take(stored_left as usize)
            .map(|e| e.len() as u64)
            .sum();
        Some((stored_left, bytes))
    }

    /// Marks a stored list as edited between its ends.
    fn rewritten(&mut self) {
        if let Some(Base::List { rewritten, .. }) = &mut self.base {
            *rewritten = true;
        }
    }

    /// LSET: element `index` (negative: from the end) becomes `v`; false
    /// when out of range.
    pub(crate) fn lset(&mut self, index: i64, v: &[u8]) -> bool {
        let Collection::List(l) = &mut self.items else {
            return false;
        };
        let len = l.len() as i64;
        let i = if index < 0 { index + len } else { index };
        if !(0..len).contains(&i) {
            return false;
        }
        l[i as usize] = v.to_vec();
        if let Some(Base::List {
            orig_len,
            popped_front,
            popped_back,
            pushed_front,
            replaced,
            rewritten: false,
            ..
        }) = &mut self.base
        {
            // A stored element (not one the call pushed) is written alone.
            let in_stored = (i as u64).checked_sub(*pushed_front);
            let stored_left = *orig_len - *popped_front - *popped_back;
            if let Some(s) = in_stored.filter(|&s| s < stored_left) {
                replaced.insert(*popped_front + s);
            }
        }
        true
    }

    /// LINSERT: `v` before (or `after`) the first element equal to
    /// `pivot`; the length after, `None` when there is no such element.
    pub(crate) fn linsert(&mut self, after: bool, pivot: &[u8], v: &[u8]) -> Option<u64> {
        let Collection::List(l) = &mut self.items else {
            return None;
        };
        let at = l.iter().position(|e| e == pivot)?;
        l.insert(at + usize::from(after), v.to_vec());
        let len = l.len() as u64;
        self.rewritten();
        Some(len)
    }

    /// LREM: removes up to `count` elements equal to `v` from the front
    /// (`count < 0`: from the back; 0: all of them); how many.
    pub(crate) fn lrem(&mut self, count: i64, v: &[u8]) -> u64 {
        let Collection::List(l) = &mut self.items else {
            return 0;
        };
        let limit = if count == 0 {
            u64::MAX
        } else {
            count.unsigned_abs()
        };
        let mut removed = 0u64;
        let mut keep = |e: &Vec<u8>| {
            if removed < limit && e == v {
                removed += 1;
                false
            } else {
                true
            }
        };
        if count >= 0 {
            l.retain(|e| keep(e));
        } else {
            // Decide back to front, then drop in one pass.
            let flags: Vec<bool> = l.iter().rev().map(&mut keep).collect();
            let mut flags = flags.into_iter().rev();
            l.retain(|_| flags.next().unwrap_or(true));
        }
        if removed > 0 {
            self.rewritten();
        }
        removed
    }

    /// LTRIM: keeps elements `start..=stop` (Redis' index rules), popping
    /// the rest at both ends (it may leave the list empty).
    pub(crate) fn ltrim(&mut self, start: i64, stop: i64) {
        let (front, back) = trim_ends(start, stop, self.items.len() as u64);
        for _ in 0..front {
            self.pop(true);
        }
        for _ in 0..back {
            self.pop(false);
        }
    }

    /// The list elements `from..=to` (indices already clamped).
    pub(crate) fn list_slice(&self, from: u64, to: u64) -> impl Iterator<Item = &[u8]> {
        let l = match &self.items {
            Collection::List(l) => Some(l),
            _ => None,
        };
        l.into_iter()
            .flat_map(move |l| l.range(from as usize..=to as usize))
            .map(Vec::as_slice)
    }

    /// Sorted-set members of ranks `from..=to` (clamped), with scores,
    /// in rank order (built here if a write dropped it).
    pub(crate) fn zset_slice(&mut self, from: u64, to: u64) -> impl Iterator<Item = (&[u8], f64)> {
        let _ = self.at(0);
        let (order, z) = match (&self.order, &self.items) {
            (Some(o), Collection::ZSet(z)) => (o.as_slice(), Some(z)),
            _ => (&[][..], None),
        };
        let slice = usize::try_from(to)
            .ok()
            .and_then(|to| order.get(from as usize..=to))
            .unwrap_or(&[]);
        slice
            .iter()
            .filter_map(move |m| Some((m.as_slice(), z?.get(m).copied()?)))
    }

    /// The ranks of the sorted-set members whose scores are in `r`
    /// (`None`: none are).
    pub(crate) fn zset_ranks_by_score(&mut self, r: &ScoreRange) -> Option<(u64, u64)> {
        self.at(0)?;
        let (Some(order), Collection::ZSet(z)) = (&self.order, &self.items) else {
            return None;
        };
        let score = |m: &Vec<u8>| z.get(m).copied().unwrap_or(f64::NAN);
        let first = order.partition_point(|m| !r.above_min(score(m)));
        let end = order.partition_point(|m| r.below_max(score(m)));
        (first < end).then(|| (first as u64, end as u64 - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Change;
    use super::*;

    fn list(items: &[&str]) -> Live {
        Live::stored(Collection::List(
            items.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ))
    }

    fn items(l: &Live) -> Vec<String> {
        let Collection::List(l) = &l.items else {
            panic!("a list")
        };
        l.iter()
            .map(|e| String::from_utf8(e.clone()).unwrap())
            .collect()
    }

    #[test]
    fn ranges_follow_redis_index_rules() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(-1, -1, 3), Some((2, 2)));
        assert_eq!(clamp_range(0, -4, 3), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 2), Some((0, 1)));
    }

    #[test]
    fn middle_edits_rewrite_the_list_and_keep_its_order() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert!(l.lset(-1, b"z"));
        assert!(l.lset(-1, b"z"));
        assert!(!l.lset(5, b"z"));
        assert_eq!(l.linsert(true, b"b", b"x"), Some(6));
        assert_eq!(l.linsert(false, b"nope", b"x"), None);
        assert_eq!(l.lrem(-1, b"a"), 1);
        assert_eq!(items(&l), ["a", "b", "x", "c", "z"]);
        assert_eq!(l.lrem(0, b"q"), 0);
        assert_eq!(
            l.change(),
            Some(Change::List {
                popped_front: 5,
                popped_back: 0,
                pushed_front: vec![],
                pushed_back: ["a", "b", "x", "c", "z"]
                    .iter()
                    .map(|s| s.as_bytes().to_vec())
                    .collect(),
                replaced: vec![],
                len: 5,
            })
        );
    }

    #[test]
    fn lset_writes_only_the_stored_elements_it_overwrote() {
        let mut l = list(&["a", "b", "c", "d"]);
        l.push(true, b"p");
        assert!(l.lset(0, b"P")); // a pushed element: part of the push
        assert!(l.lset(2, b"B")); // stored index 1
        assert!(l.lset(-1, b"D")); // stored index 3, then popped
        assert!(l.lset(1, b"A")); // stored index 0
        assert_eq!(l.pop(false).as_deref(), Some(&b"D"[..]));
        assert_eq!(
            l.change(),
            Some(Change::List {
                popped_front: 0,
                popped_back: 1,
                pushed_front: vec![b"P".to_vec()],
                pushed_back: vec![],
                replaced: vec![(0, b"A".to_vec()), (1, b"B".to_vec())],
                len: 4,
            })
        );
        let mut l = list(&["a", "b"]);
        assert!(l.lset(0, b"x"));
        assert!(l.pop(true).is_some());
        let Some(Change::List { replaced, .. }) = l.change() else {
            panic!("a list change")
        };
        assert!(replaced.is_empty(), "the overwritten element was popped");
    }

    #[test]
    fn lrem_counts_from_the_end_named_by_its_sign() {
        let mut l = list(&["a", "b", "a", "b", "a"]);
        assert_eq!(l.lrem(2, b"a"), 2);
        assert_eq!(items(&l), ["b", "b", "a"]);
        let mut l = list(&["a", "b", "a", "b", "a"]);
        assert_eq!(l.lrem(-2, b"a"), 2);
        assert_eq!(items(&l), ["a", "b", "b"]);
    }

    #[test]
    fn ltrim_pops_only_what_it_drops() {
        let mut l = list(&["a", "b", "c", "d"]);
        l.ltrim(1, -2);
        assert_eq!(items(&l), ["b", "c"]);
        let Some(Change::List {
            popped_front,
            popped_back,
            pushed_front,
            pushed_back,
            len,
            ..
        }) = l.change()
        else {
            panic!("a list change")
        };
        assert_eq!((popped_front, popped_back, len), (1, 1, 2));
        assert!(pushed_front.is_empty() && pushed_back.is_empty());
        let mut l = list(&["a", "b"]);
        l.ltrim(5, 10);
        assert!(l.items.is_empty());
    }

    #[test]
    fn score_ranges_find_their_ranks() {
        let z = [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)]
            .iter()
            .map(|(m, s)| (m.as_bytes().to_vec(), *s))
            .collect();
        let mut l = Live::stored(Collection::ZSet(z));
        let r = |min, min_exclusive, max, max_exclusive| ScoreRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        };
        assert_eq!(
            l.zset_ranks_by_score(&r(2.0, false, 2.0, false)),
            Some((1, 2))
        );
        assert_eq!(
            l.zset_ranks_by_score(&r(1.0, true, 3.0, true)),
            Some((1, 2))
        );
        let all = r(f64::NEG_INFINITY, false, f64::INFINITY, false);
        assert_eq!(l.zset_ranks_by_score(&all), Some((0, 3)));
        assert_eq!(l.zset_ranks_by_score(&r(3.0, false, 1.0, false)), None);
        assert_eq!(l.zset_ranks_by_score(&r(2.0, true, 3.0, true)), None);
        let got: Vec<_> = l.zset_slice(1, 2).map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(got, [(b"b".to_vec(), 2.0), (b"c".to_vec(), 2.0)]);
    }
}
