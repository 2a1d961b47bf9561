//! Automatic leveled compaction: scoring levels and picking one job.

use std::collections::HashSet;

use super::table::{overlapping, Levels, TableMeta, UserRange};

/// Tuning of the leveled policy and of write stalls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// L0 file count at which L0→L1 compaction starts (score 1.0).
    pub l0_compaction_trigger: usize,
    /// L0 file count at which writes start to be delayed.
    pub l0_slowdown: usize,
    /// L0 file count at which writes stop until compaction catches up.
    pub l0_stop: usize,
    /// Target size of L1 in bytes.
    pub level_base_bytes: u64,
    /// Each level below L1 targets this many times the level above.
    pub level_multiplier: u64,
    /// Number of levels, L0 included; the last one is the bottom.
    pub max_levels: usize,
    /// Size at which the worker cuts output files.
    pub target_file_size: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            l0_compaction_trigger: 4,
            l0_slowdown: 8,
            l0_stop: 12,
            level_base_bytes: 64 << 20,
            level_multiplier: 10,
            max_levels: 7,
            target_file_size: 8 << 20,
        }
    }
}

impl PolicyConfig {
    /// Target size in bytes of `level` (>= 1): `level_base_bytes *
    /// level_multiplier^(level - 1)`, saturating, never 0.
    pub fn level_target(&self, level: usize) -> u64 {
        let mut target = self.level_base_bytes.max(1);
        for _ in 1..level {
            target = target.saturating_mul(self.level_multiplier.max(1));
        }
        target
    }
}

/// One compaction job for the worker, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Nothing needs compacting (or everything that does is busy).
    DoNothing,
    /// Trivial move: relabel `table` from level `from` to `to`; nothing in
    /// `to` overlaps it, so no data is rewritten.
    Move {
        /// Table id.
        table: u64,
        /// Current level.
        from: u8,
        /// New level.
        to: u8,
    },
    /// Merge `inputs` (`(level, table id)`, level by level, each level in
    /// its own order) into new tables at `output_level`.
    Merge {
        /// Tables to read, as `(level, table id)`.
        inputs: Vec<(u8, u64)>,
        /// Level the outputs go to.
        output_level: u8,
        /// No level below `output_level` holds data in the inputs' key
        /// range, so tombstones (and expired values) may be purged.
        drop_tombstones: bool,
    },
}

/// Picks the next compaction job. Pure: the same inputs give the same
/// choice. See the module docs for the rules.
///
/// `busy` holds the ids of tables that in-flight jobs are reading.
///
/// # Examples
///
/// ```
/// use std::collections::HashSet;
/// use frys_storage::compaction::{choose, Choice, Levels, PolicyConfig, TableMeta};
/// use frys_storage::key::{internal_key, Kind};
///
/// let table = |id: u64| TableMeta {
///     id,
///     level: 0,
///     size: 1 << 20,
///     smallest: internal_key(b"a", id, Kind::Put),
///     largest: internal_key(b"z", id, Kind::Put),
///     min_seqno: id,
///     max_seqno: id,
///     entries: 1_000,
/// };
/// // Four overlapping L0 tables, newest first, reach the trigger.
/// let levels = Levels { levels: vec![vec![table(4), table(3), table(2), table(1)]] };
/// let choice = choose(&levels, &PolicyConfig::default(), &HashSet::new());
/// assert_eq!(
///     choice,
///     Choice::Merge {
///         inputs: vec![(0, 4), (0, 3), (0, 2), (0, 1)],
///         output_level: 1,
///         drop_tombstones: true,
///     }
/// );
/// ```
pub fn choose(levels: &Levels, cfg: &PolicyConfig, busy: &HashSet<u64>) -> Choice {
    let mut scores = level_scores(levels, cfg, busy);
    // Highest score first; ties go to the upper level (stable sort).
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (level, score) in scores {
        if score < 1.0 {
            break;
        }
        let picked = if level == 0 {
            pick_l0(levels, busy)
        } else {
            pick_level(levels, level, busy)
        };
        if let Some(choice) = picked {
            return choice;
        }
    }
    Choice::DoNothing
}

/// `(level, score)` for every level that may be compacted (all but the
/// bottom one). Busy tables do not count: their job is already under way.
pub(crate) fn level_scores(
    levels: &Levels,
    cfg: &PolicyConfig,
    busy: &HashSet<u64>,
) -> Vec<(usize, f64)> {
    let scored = cfg.max_levels.saturating_sub(1).min(levels.levels.len());
    (0..scored)
        .map(|level| {
            let idle = levels.level(level).iter().filter(|t| !busy.contains(&t.id));
            let score = if level == 0 {
                idle.count() as f64 / cfg.l0_compaction_trigger.max(1) as f64
            } else {
                let bytes: u64 = idle.map(|t| t.size).sum();
                bytes as f64 / cfg.level_target(level) as f64
            };
            (level, score)
        })
        .collect()
}

/// L0→L1: seed with each idle L0 table, oldest first; take every L0 table
/// that overlaps (transitively) and the L1 tables under them.
fn pick_l0(levels: &Levels, busy: &HashSet<u64>) -> Option<Choice> {
    let l0 = levels.level(0);
    let mut tried = HashSet::new();
    for seed in l0.iter().rev() {
        if busy.contains(&seed.id) || tried.contains(&seed.id) {
            continue;
        }
        let (inputs, range) = l0_closure(l0, seed.user_range());
        tried.extend(inputs.iter().map(|t| t.id));
        if let Some(choice) = plan(levels, 0, inputs, range, busy) {
            return Some(choice);
        }
    }
    None
}

/// Ln→Ln+1: try the idle tables of `level` by size descending, ties by
/// smallest user key, then id; the first that is not blocked wins.
fn pick_level(levels: &Levels, level: usize, busy: &HashSet<u64>) -> Option<Choice> {
    let mut candidates: Vec<&TableMeta> = levels
        .level(level)
        .iter()
        .filter(|t| !busy.contains(&t.id))
        .collect();
    candidates.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| a.user_range().lo.cmp(b.user_range().lo))
            .then_with(|| a.id.cmp(&b.id))
    });
    candidates
        .into_iter()
        .find_map(|t| plan(levels, level, vec![t], t.user_range(), busy))
}

/// The L0 tables (in L0 order) reachable from `range` by overlap, and the
/// range they cover together.
pub(crate) fn l0_closure<'a>(
    l0: &'a [TableMeta],
    mut range: UserRange<'a>,
) -> (Vec<&'a TableMeta>, UserRange<'a>) {
    loop {
        let members: Vec<&TableMeta> = l0
            .iter()
            .filter(|t| t.user_range().overlaps(&range))
            .collect();
        let grown = members.iter().fold(range, |r, t| r.union(t.user_range()));
        if grown == range {
            return (members, range);
        }
        range = grown;
    }
}

/// Completes a job that reads `upper` (tables of `from` covering `range`)
/// with the overlapping tables of `from + 1`; `None` if it would touch a
/// busy table or the output level does not fit in a `u8`.
fn plan(
    levels: &Levels,
    from: usize,
    upper: Vec<&TableMeta>,
    range: UserRange<'_>,
    busy: &HashSet<u64>,
) -> Option<Choice> {
    let to = from + 1;
    let lower = overlapping(levels.level(to), range.lo, range.hi);
    let hull = lower.iter().fold(range, |r, t| r.union(t.user_range()));
    // Inputs intersect `hull`, so this also rules out busy inputs; it also
    // keeps this job's outputs clear of any in-flight job's.
    let blocked = levels
        .level(from)
        .iter()
        .chain(levels.level(to))
        .any(|t| busy.contains(&t.id) && t.user_range().overlaps(&hull));
    if blocked {
        return None;
    }
    let (from_u8, to_u8) = (u8::try_from(from).ok()?, u8::try_from(to).ok()?);
    if let ([table], []) = (upper.as_slice(), lower.as_slice()) {
        return Some(Choice::Move {
            table: table.id,
            from: from_u8,
            to: to_u8,
        });
    }
    let inputs = upper
        .iter()
        .map(|t| (from_u8, t.id))
        .chain(lower.iter().map(|t| (to_u8, t.id)))
        .collect();
    Some(Choice::Merge {
        inputs,
        output_level: to_u8,
        drop_tombstones: nothing_below(levels, to, hull),
    })
}

/// Whether no level below `level` holds a table intersecting `range`.
pub(crate) fn nothing_below(levels: &Levels, level: usize, range: UserRange<'_>) -> bool {
    levels
        .levels
        .iter()
        .skip(level + 1)
        .all(|tables| overlapping(tables, range.lo, range.hi).is_empty())
}
