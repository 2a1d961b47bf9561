//! The table set and counters a manifest describes, built by applying
//! edits in order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::edit::{decode_edit, TableMeta, VersionEdit};
use super::error::{ApplyError, ManifestError, RecordFault};
use super::NUM_LEVELS;
use crate::key::compare_internal_keys;
use crate::wal::{self, TornTail};

/// The partition's table set and counters.
///
/// Fields are private so that a state only comes from [`Self::apply`] and
/// always holds its invariants: [`NUM_LEVELS`] levels; L0 newest first
/// (by `max_seqno` descending, then id descending) because L0 tables
/// overlap and a read must meet newer data first; L1 and deeper sorted by
/// `smallest` ([`compare_internal_keys`]) and never overlapping; table ids
/// unique and below `next_table_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestState {
    levels: Vec<Vec<TableMeta>>,
    /// Level of every live table, by id.
    index: HashMap<u64, u8>,
    next_table_id: u64,
    last_seqno: u64,
    wal_segment: u64,
    partition_format: Option<u32>,
}

/// The result of replaying a manifest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestReplay {
    /// State after the last complete edit.
    pub state: ManifestState,
    /// Number of edits applied.
    pub edits: usize,
    /// Bytes of the file holding those edits: truncate to this (or rotate)
    /// before appending.
    pub valid_len: u64,
    /// The torn last edit, if any; it was never acknowledged.
    pub torn_tail: Option<TornTail>,
}

/// Replays a manifest file: WAL-framed edits applied in order.
///
/// A torn tail is tolerated and reported. Framing corruption is
/// [`ManifestError::Wal`]; an edit that does not decode or apply is
/// [`ManifestError::Corrupt`] with its record's offset; a file without any
/// complete edit is [`ManifestError::NoEdits`].
pub fn replay_manifest(bytes: &[u8]) -> Result<ManifestReplay, ManifestError> {
    let replay = wal::decode_segment(bytes).map_err(ManifestError::Wal)?;
    if replay.records.is_empty() {
        return Err(ManifestError::NoEdits);
    }
    let mut state = ManifestState::new();
    for (offset, record) in replay.records_with_offsets() {
        let corrupt = |fault| ManifestError::Corrupt { offset, fault };
        let edit = decode_edit(record).map_err(|e| corrupt(RecordFault::Decode(e)))?;
        state
            .apply_edit(&edit)
            .map_err(|e| corrupt(RecordFault::Apply(e)))?;
    }
    Ok(ManifestReplay {
        state,
        edits: replay.records.len(),
        valid_len: replay.valid_len,
        torn_tail: replay.torn_tail,
    })
}

impl Default for ManifestState {
    fn default() -> ManifestState {
        ManifestState::new()
    }
}

impl ManifestState {
    /// The state of a new partition: no tables, counters at zero.
    pub fn new() -> ManifestState {
        ManifestState {
            levels: vec![Vec::new(); NUM_LEVELS],
            index: HashMap::new(),
            next_table_id: 0,
            last_seqno: 0,
            wal_segment: 0,
            partition_format: None,
        }
    }

    /// All levels, `NUM_LEVELS` long, ordered as described on the type.
    pub fn levels(&self) -> &[Vec<TableMeta>] {
        &self.levels
    }

    /// The tables of `level` (empty if out of range).
    pub fn level(&self, level: usize) -> &[TableMeta] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// The live table with this id.
    pub fn table(&self, id: u64) -> Option<&TableMeta> {
        let level = *self.index.get(&id)?;
        self.level(level.into()).iter().find(|t| t.id == id)
    }

    /// Number of live tables.
    pub fn table_count(&self) -> usize {
        self.index.len()
    }

    /// The next table id to hand out.
    pub fn next_table_id(&self) -> u64 {
        self.next_table_id
    }

    /// Last sequence number recorded.
    pub fn last_seqno(&self) -> u64 {
        self.last_seqno
    }

    /// Oldest WAL segment still needed.
    pub fn wal_segment(&self) -> u64 {
        self.wal_segment
    }

    /// The partitioning scheme, once set.
    pub fn partition_format(&self) -> Option<u32> {
        self.partition_format
    }

    /// Applies `edit`, all or nothing: on error the state is unchanged.
    /// The rules are in [`super`].
    pub fn apply(&mut self, edit: &VersionEdit) -> Result<(), ManifestError> {
        self.apply_edit(edit).map_err(ManifestError::Apply)
    }

    /// One edit that rebuilds this state from [`ManifestState::new`]; the
    /// first record of a new (rotated) manifest.
    pub fn snapshot_edit(&self) -> VersionEdit {
        VersionEdit {
            added: self.levels.iter().flatten().cloned().collect(),
            deleted: Vec::new(),
            next_table_id: Some(self.next_table_id),
            last_seqno: Some(self.last_seqno),
            wal_segment: Some(self.wal_segment),
            partition_format: self.partition_format,
        }
    }

    fn apply_edit(&mut self, edit: &VersionEdit) -> Result<(), ApplyError> {
        let next_table_id = advance("next_table_id", self.next_table_id, edit.next_table_id)?;
        let last_seqno = advance("last_seqno", self.last_seqno, edit.last_seqno)?;
        let wal_segment = advance("wal_segment", self.wal_segment, edit.wal_segment)?;
        let partition_format = match (self.partition_format, edit.partition_format) {
            (Some(from), Some(to)) if from != to => {
                return Err(ApplyError::PartitionFormatChanged { from, to })
            }
            (current, new) => new.or(current),
        };

        // Build the touched levels aside; commit only if all checks pass.
        let mut touched: BTreeMap<u8, Vec<TableMeta>> = BTreeMap::new();
        let mut removed = HashSet::new();
        for &(level, id) in &edit.deleted {
            if self.index.get(&id) != Some(&level) || !removed.insert(id) {
                return Err(ApplyError::UnknownTable { level, id });
            }
            touched
                .entry(level)
                .or_insert_with(|| self.level(level.into()).to_vec())
                .retain(|t| t.id != id);
        }
        let mut added = HashSet::new();
        for table in &edit.added {
            let id = table.id;
            table
                .check()
                .map_err(|problem| ApplyError::InvalidTable { id, problem })?;
            if id >= next_table_id {
                return Err(ApplyError::TableIdNotReserved { id, next_table_id });
            }
            let live = self.index.contains_key(&id) && !removed.contains(&id);
            if live || !added.insert(id) {
                return Err(ApplyError::DuplicateTable { id });
            }
            touched
                .entry(table.level)
                .or_insert_with(|| self.level(table.level.into()).to_vec())
                .push(table.clone());
        }
        for (&level, tables) in &mut touched {
            sort_level(level, tables);
            check_disjoint(level, tables)?;
        }

        for id in &removed {
            self.index.remove(id);
        }
        for table in &edit.added {
            self.index.insert(table.id, table.level);
        }
        for (level, tables) in touched {
            if let Some(slot) = self.levels.get_mut(usize::from(level)) {
                *slot = tables;
            }
        }
        self.next_table_id = next_table_id;
        self.last_seqno = last_seqno;
        self.wal_segment = wal_segment;
        self.partition_format = partition_format;
        Ok(())
    }
}

/// The new value of a counter that never goes backwards.
fn advance(field: &'static str, from: u64, to: Option<u64>) -> Result<u64, ApplyError> {
    match to {
        None => Ok(from),
        Some(to) if to >= from => Ok(to),
        Some(to) => Err(ApplyError::Regressed { field, from, to }),
    }
}

fn sort_level(level: u8, tables: &mut [TableMeta]) {
    if level == 0 {
        tables.sort_by(|a, b| b.max_seqno.cmp(&a.max_seqno).then(b.id.cmp(&a.id)));
    } else {
        tables
            .sort_by(|a, b| compare_internal_keys(&a.smallest, &b.smallest).then(a.id.cmp(&b.id)));
    }
}

/// Tables of L1 and deeper must not overlap (sorted input).
fn check_disjoint(level: u8, tables: &[TableMeta]) -> Result<(), ApplyError> {
    if level == 0 {
        return Ok(());
    }
    for pair in tables.windows(2) {
        if let [left, right] = pair {
            if compare_internal_keys(&left.largest, &right.smallest) != Ordering::Less {
                return Err(ApplyError::Overlap {
                    level,
                    left: left.id,
                    right: right.id,
                });
            }
        }
    }
    Ok(())
}
