//! Which members a range names, read from the score index: by rank, by
//! score or by lex, forward or reversed, with LIMIT.
//!
//! The storage engine scans forward only, so every walk here is forward:
//! - by score, the scan starts at the encoded low bound and ends at the
//!   high bound: O(M) for M members in range, plus one seek;
//! - by rank, the scan starts at the index's beginning and skips `start`
//!   records: O(start + M);
//! - by lex, the scan starts at the beginning and skips members below the
//!   low bound: O(skipped + M) (the index is ordered by score first, so
//!   even a set whose scores are all equal cannot seek to a member);
//! - reversed ranges (REV, ZREVRANGE*) walk the same forward range and
//!   keep only its last `offset + count` members: O(M) time even with a
//!   small LIMIT, O(offset + count) memory. ZREVRANGE by rank is forward
//!   ranks `len-1-stop ..= len-1-start`.
//!
//! A reverse iterator in `frys-storage` would make REV ranges O(offset +
//! count); a "single score" flag in the metadata would let BYLEX seek the
//! member records (which are in member order) instead of skipping.
//!
//! Lex ranges over members with different scores: Redis says the result
//! is unspecified, and it depends on the encoding. A set of at most
//! [`SMALL`] members (Redis keeps those in a listpack) is read whole and
//! walked exactly as the listpack is (both ends checked first, REV walks
//! back from the last member at or below `max`); a larger one takes, in
//! score order, the members from the first one at or above `min` until
//! the first one above `max` (Redis' skiplist search gives other answers
//! that depend on its random node levels).

use std::collections::VecDeque;

use super::access::{index_position, ScoreWalk, Scored};
use super::parse::{rank_span, LexRange, ScoreRange};
use crate::command::KeyCtx;
use crate::protocol::Reply;
use crate::store::Collection;

/// The most members Redis keeps in a listpack (`zset-max-listpack-entries`).
pub const SMALL: u64 = 128;

/// LIMIT offset count of a score or lex range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Members skipped first; negative selects nothing (Redis 7 walks off
    /// the end).
    pub offset: i64,
    /// Members returned; negative means all.
    pub count: i64,
}

impl Limit {
    /// No LIMIT.
    pub const ALL: Limit = Limit {
        offset: 0,
        count: -1,
    };
}

/// What a range names.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Ranks `start..=stop` (negative from the end).
    Rank {
        /// First rank.
        start: i64,
        /// Last rank.
        stop: i64,
    },
    /// Scores in a range.
    Score(ScoreRange, Limit),
    /// Members in a lex range.
    Lex(LexRange, Limit),
}

/// A range and its direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The members named.
    pub sel: Selection,
    /// Highest first (ranks, offsets and limits count from the top).
    pub rev: bool,
}

/// The members `q` names in `c`, in reply order, with their scores.
pub async fn select(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    q: &Query,
) -> Result<Vec<Scored>, Reply> {
    if let Selection::Lex(range, limit) = &q.sel {
        if c.meta.count <= SMALL {
            let all = whole(ctx, key, c).await?;
            return Ok(lex_small(all, range, *limit, q.rev));
        }
    }
    let (mut walk, limit) = match Covered::new(ctx, key, c, &q.sel, q.rev)? {
        Some(w) => w,
        None => return Ok(Vec::new()),
    };
    if limit.offset < 0 || limit.count == 0 {
        return Ok(Vec::new());
    }
    let offset = limit.offset as usize;
    let count = usize::try_from(limit.count).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    if !q.rev {
        let mut skipped = 0;
        while out.len() < count {
            let Some(item) = walk.next().await? else {
                break;
            };
            if skipped < offset {
                skipped += 1;
            } else {
                out.push(item);
            }
        }
        return Ok(out);
    }
    let keep = offset.saturating_add(count);
    let mut tail = VecDeque::new();
    while let Some(item) = walk.next().await? {
        if tail.len() == keep {
            tail.pop_front();
        }
        tail.push_back(item);
    }
    out.extend(tail.into_iter().rev().skip(offset).take(count));
    Ok(out)
}

/// How many members `sel` names in `c` (ZCOUNT, ZLEXCOUNT): O(M).
pub async fn count(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    sel: &Selection,
) -> Result<u64, Reply> {
    if let Selection::Lex(..) = sel {
        if c.meta.count <= SMALL {
            let q = Query {
                sel: sel.clone(),
                rev: false,
            };
            return Ok(select(ctx, key, c, &q).await?.len() as u64);
        }
    }
    let Some((mut walk, _)) = Covered::new(ctx, key, c, sel, false)? else {
        return Ok(0);
    };
    let mut n = 0;
    while walk.next().await?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Every member of `c`, in score order.
pub async fn whole(ctx: &KeyCtx, key: &[u8], c: &Collection) -> Result<Vec<Scored>, Reply> {
    let mut walk = ScoreWalk::all(ctx, key, c)?;
    let mut out = Vec::with_capacity(c.meta.count.min(1 << 16) as usize);
    while let Some(item) = walk.next().await? {
        out.push(item);
    }
    Ok(out)
}

/// A lex range over a whole small set as Redis walks a listpack
/// (`zzlIsInLexRange`, `zzlFirstInLexRange` / `zzlLastInLexRange`, then
/// the offset skipped unchecked and the limit taken while in range).
fn lex_small(items: Vec<Scored>, range: &LexRange, limit: Limit, rev: bool) -> Vec<Scored> {
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Vec::new();
    };
    if range.is_empty() || !range.above_min(&last.0) || !range.below_max(&first.0) {
        return Vec::new();
    }
    if limit.offset < 0 {
        return Vec::new();
    }
    let offset = limit.offset as usize;
    let count = usize::try_from(limit.count).unwrap_or(usize::MAX);
    let start = if rev {
        items.iter().rposition(|(m, _)| range.below_max(m))
    } else {
        items.iter().position(|(m, _)| range.above_min(m))
    };
    let Some(start) = start else {
        return Vec::new();
    };
    let in_range = |m: &[u8]| {
        if rev {
            range.above_min(m)
        } else {
            range.below_max(m)
        }
    };
    if !in_range(&items[start].0) {
        return Vec::new();
    }
    let order: Box<dyn Iterator<Item = Scored>> = if rev {
        Box::new(items.into_iter().take(start + 1).rev())
    } else {
        Box::new(items.into_iter().skip(start))
    };
    order
        .skip(offset)
        .take(count)
        .take_while(|(m, _)| in_range(m))
        .collect()
}

/// The members a selection covers, ascending, before LIMIT and REV.
struct Covered {
    walk: ScoreWalk,
    kind: Cover,
}

enum Cover {
    /// Skip `skip` records, then yield `left`.
    Ranks { skip: u64, left: u64 },
    /// The scan's bounds are the range.
    Scores,
    /// Skip members below `min`, stop at the first above `max`.
    Lex { range: LexRange, started: bool },
}

impl Covered {
    /// The walk for `sel` and the LIMIT to apply to it; `None` when the
    /// selection is empty without reading anything.
    fn new(
        ctx: &KeyCtx,
        key: &[u8],
        c: &Collection,
        sel: &Selection,
        rev: bool,
    ) -> Result<Option<(Covered, Limit)>, Reply> {
        let (walk, kind, limit) = match sel {
            Selection::Rank { start, stop } => {
                let Some((first, last)) = rank_span(*start, *stop, c.meta.count) else {
                    return Ok(None);
                };
                // rank_span is Some only for a non-empty set, last < count.
                let top = c.meta.count - 1;
                let (first, last) = if rev {
                    (top - last, top - first)
                } else {
                    (first, last)
                };
                let kind = Cover::Ranks {
                    skip: first,
                    left: last - first + 1,
                };
                (ScoreWalk::all(ctx, key, c)?, kind, Limit::ALL)
            }
            Selection::Score(range, limit) => {
                if range.is_empty() {
                    return Ok(None);
                }
                let from = index_position(range.min.value, range.min.exclusive);
                let to = index_position(range.max.value, !range.max.exclusive);
                let walk = ScoreWalk::new(ctx, key, c, &from, Some(&to))?;
                (walk, Cover::Scores, *limit)
            }
            Selection::Lex(range, limit) => {
                if range.is_empty() {
                    return Ok(None);
                }
                let kind = Cover::Lex {
                    range: range.clone(),
                    started: false,
                };
                (ScoreWalk::all(ctx, key, c)?, kind, *limit)
            }
        };
        Ok(Some((Covered { walk, kind }, limit)))
    }

    async fn next(&mut self) -> Result<Option<Scored>, Reply> {
        loop {
            let Some((member, score)) = self.walk.next().await? else {
                return Ok(None);
            };
            match &mut self.kind {
                Cover::Ranks { skip, left } => {
                    if *skip > 0 {
                        *skip -= 1;
                        continue;
                    }
                    if *left == 0 {
                        return Ok(None);
                    }
                    *left -= 1;
                }
                Cover::Scores => {}
                Cover::Lex { range, started } => {
                    if !*started {
                        if !range.above_min(&member) {
                            continue;
                        }
                        *started = true;
                    }
                    if !range.below_max(&member) {
                        return Ok(None);
                    }
                }
            }
            return Ok(Some((member, score)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(members: &str) -> Vec<Scored> {
        // "b:1 d:1 c:2 a:3": members in score order.
        members
            .split_whitespace()
            .map(|t| {
                let (m, s) = t.split_once(':').unwrap_or((t, "0"));
                (m.as_bytes().to_vec(), s.parse().unwrap_or(0.0))
            })
            .collect()
    }

    fn names(items: &[Scored]) -> String {
        let v: Vec<String> = items
            .iter()
            .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect();
        v.join(" ")
    }

    fn lex(items: &str, min: &str, max: &str, limit: Limit, rev: bool) -> String {
        let r = LexRange::parse(min.as_bytes(), max.as_bytes()).unwrap();
        names(&lex_small(set(items), &r, limit, rev))
    }

    #[test]
    fn small_lex_ranges_walk_like_a_listpack() {
        let same = "a b c d e f g";
        assert_eq!(lex(same, "[b", "(e", Limit::ALL, false), "b c d");
        assert_eq!(lex(same, "[b", "(e", Limit::ALL, true), "d c b");
        let l = Limit {
            offset: 1,
            count: 2,
        };
        assert_eq!(lex(same, "-", "+", l, false), "b c");
        assert_eq!(lex(same, "-", "+", l, true), "f e");
        assert_eq!(
            lex(
                same,
                "-",
                "+",
                Limit {
                    offset: -1,
                    count: 2
                },
                false
            ),
            ""
        );
        assert_eq!(
            lex(
                same,
                "-",
                "+",
                Limit {
                    offset: 9,
                    count: 2
                },
                false
            ),
            ""
        );
        // Mixed scores: the last member (a) is below [b, so nothing.
        let mixed = "b:1 d:1 c:2 a:3";
        assert_eq!(lex(mixed, "[b", "+", Limit::ALL, false), "");
        assert_eq!(lex(mixed, "-", "[b", Limit::ALL, false), "b");
        // The first member (b) is above [a: nothing, though a is in the set.
        assert_eq!(lex(mixed, "-", "[a", Limit::ALL, false), "");
        assert_eq!(lex(mixed, "-", "+", Limit::ALL, false), "b d c a");
        assert_eq!(lex(mixed, "-", "[c", Limit::ALL, false), "b");
        assert_eq!(lex(mixed, "-", "[c", Limit::ALL, true), "a c d b");
    }
}
