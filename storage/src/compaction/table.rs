//! The policy's view of the table set: per-table metadata, levels, and
//! user-key ranges.

use crate::key;

/// What the policy knows about one SSTable (mirrors the manifest's record).
/// The manifest's table metadata is the policy's input too.
pub use crate::manifest::TableMeta;

impl TableMeta {
    /// The user-key range `[smallest, largest]` the table covers.
    pub fn user_range(&self) -> UserRange<'_> {
        UserRange {
            lo: key::user_key(&self.smallest),
            hi: key::user_key(&self.largest),
        }
    }
}

/// The table set, level by level.
///
/// `levels[0]` is L0: tables may overlap, ordered newest first (highest
/// `max_seqno` first). `levels[1..]` are sorted by `smallest` and do not
/// overlap in user-key space. A missing level is an empty level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Levels {
    /// Tables per level.
    pub levels: Vec<Vec<TableMeta>>,
}

impl Levels {
    /// The tables of `level` (empty if the level does not exist).
    pub fn level(&self, level: usize) -> &[TableMeta] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }
}

/// The tables of `level` whose user-key range intersects
/// `[smallest_user_key, largest_user_key]` (both inclusive), in level order.
///
/// A linear scan, so it is also right for L0; compaction choices are rare
/// and levels hold at most a few thousand tables.
pub fn overlapping<'a>(
    level: &'a [TableMeta],
    smallest_user_key: &[u8],
    largest_user_key: &[u8],
) -> Vec<&'a TableMeta> {
    let range = UserRange {
        lo: smallest_user_key,
        hi: largest_user_key,
    };
    level
        .iter()
        .filter(|t| t.user_range().overlaps(&range))
        .collect()
}

/// An inclusive range of user keys, borrowed from table metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRange<'a> {
    /// Smallest user key (inclusive).
    pub lo: &'a [u8],
    /// Largest user key (inclusive).
    pub hi: &'a [u8],
}

impl<'a> UserRange<'a> {
    /// Whether the two ranges share at least one user key.
    pub fn overlaps(&self, other: &UserRange<'_>) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }

    /// The smallest range covering both.
    pub fn union(self, other: UserRange<'a>) -> UserRange<'a> {
        UserRange {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// The smallest range covering every table in `tables`; `None` if empty.
    pub fn hull<'t: 'a>(tables: impl IntoIterator<Item = &'t TableMeta>) -> Option<UserRange<'a>> {
        tables
            .into_iter()
            .map(TableMeta::user_range)
            .reduce(UserRange::union)
    }
}
