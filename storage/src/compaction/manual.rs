//! Manual compaction of a user-key range ("compact everything in
//! `[a, b]` down to the bottom").

use super::policy::{nothing_below, Choice, PolicyConfig};
use super::table::{Levels, TableMeta, UserRange};

/// Plans a manual compaction of `[smallest_user_key, largest_user_key]`
/// (inclusive): every table that holds data in the range ends up rewritten
/// in the deepest level holding data for it, tombstones and expired values
/// purged.
///
/// The plan is one [`Choice::Merge`] per independent group of tables, in
/// key order; groups share no key range, so the jobs may run in any order
/// or side by side. How the groups are formed:
///
/// 1. Gather, level by level, every table intersecting the range, widen
///    the range to cover them, and repeat until no table outside the set
///    intersects the widened range (so no version of a key in the range is
///    left behind above or below the output).
/// 2. Split the set into groups whose key ranges do not touch.
/// 3. Each group merges into the deepest level it has tables in (at least
///    L1), with `drop_tombstones: true` — nothing lies below it.
///
/// Every group is a `Merge`, even a lone bottom table: rewriting is what
/// purges its tombstones. The plan does not look at busy tables: the caller
/// runs it when no automatic job is in flight on these tables (or retries
/// later). Empty if no table intersects the range, the range is inverted,
/// or `cfg.max_levels < 2`.
pub fn compact_range(
    levels: &Levels,
    smallest_user_key: &[u8],
    largest_user_key: &[u8],
    cfg: &PolicyConfig,
) -> Vec<Choice> {
    if smallest_user_key > largest_user_key || cfg.max_levels < 2 {
        return Vec::new();
    }
    let mut range = UserRange {
        lo: smallest_user_key,
        hi: largest_user_key,
    };
    let members = loop {
        let members: Vec<(usize, &TableMeta)> = levels
            .levels
            .iter()
            .enumerate()
            .flat_map(|(level, tables)| tables.iter().map(move |t| (level, t)))
            .filter(|(_, t)| t.user_range().overlaps(&range))
            .collect();
        let grown = members
            .iter()
            .fold(range, |r, (_, t)| r.union(t.user_range()));
        if grown == range {
            break members;
        }
        range = grown;
    };
    groups(members)
        .into_iter()
        .filter_map(|group| merge_group(levels, group))
        .collect()
}

/// Splits `members` into groups with disjoint key ranges, in key order;
/// each group keeps level order (levels ascending, each in level order).
fn groups(members: Vec<(usize, &TableMeta)>) -> Vec<Vec<(usize, &TableMeta)>> {
    let mut by_start: Vec<(usize, (usize, &TableMeta))> = members.into_iter().enumerate().collect();
    by_start.sort_by(|a, b| a.1 .1.user_range().lo.cmp(b.1 .1.user_range().lo));
    let mut groups: Vec<Vec<(usize, (usize, &TableMeta))>> = Vec::new();
    let mut group_hi: &[u8] = &[];
    for member in by_start {
        let range = member.1 .1.user_range();
        match groups.last_mut() {
            Some(group) if range.lo <= group_hi => {
                group_hi = group_hi.max(range.hi);
                group.push(member);
            }
            _ => {
                group_hi = range.hi;
                groups.push(vec![member]);
            }
        }
    }
    groups
        .into_iter()
        .map(|mut group| {
            // Back to level order: the gathering order was level order.
            group.sort_by_key(|(order, _)| *order);
            group.into_iter().map(|(_, member)| member).collect()
        })
        .collect()
}

fn merge_group(levels: &Levels, group: Vec<(usize, &TableMeta)>) -> Option<Choice> {
    let deepest = group.iter().map(|(level, _)| *level).max()?.max(1);
    let output_level = u8::try_from(deepest).ok()?;
    let hull = UserRange::hull(group.iter().map(|(_, t)| *t))?;
    let inputs = group
        .iter()
        .map(|(level, t)| Some((u8::try_from(*level).ok()?, t.id)))
        .collect::<Option<Vec<_>>>()?;
    Some(Choice::Merge {
        inputs,
        output_level,
        drop_tombstones: nothing_below(levels, deepest, hull),
    })
}
