//! Version edits and their tagged-field encoding (layout in [`super`]).

use super::error::{EditError, FieldProblem, ManifestError, TableProblem};
use super::NUM_LEVELS;
use crate::batch::varint::{get_len_prefixed, get_varint, put_len_prefixed, put_varint};
use crate::key::{self, MAX_SEQNO};
use std::cmp::Ordering;

/// One SSTable as the manifest knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMeta {
    /// Table id (its file number); unique in the partition.
    pub id: u64,
    /// Level, below [`NUM_LEVELS`].
    pub level: u8,
    /// File size in bytes.
    pub size: u64,
    /// Smallest internal key.
    pub smallest: Vec<u8>,
    /// Largest internal key.
    pub largest: Vec<u8>,
    /// Smallest sequence number of an entry.
    pub min_seqno: u64,
    /// Largest sequence number of an entry.
    pub max_seqno: u64,
    /// Number of entries.
    pub entries: u64,
}

/// A change to the table set and counters; fields left `None` are
/// unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// Tables added.
    pub added: Vec<TableMeta>,
    /// Tables removed, as `(level, id)`.
    pub deleted: Vec<(u8, u64)>,
    /// The next table id to hand out.
    pub next_table_id: Option<u64>,
    /// Last sequence number persisted in tables.
    pub last_seqno: Option<u64>,
    /// Oldest WAL segment still needed by recovery.
    pub wal_segment: Option<u64>,
    /// The partitioning scheme of the data directory.
    pub partition_format: Option<u32>,
}

pub(super) const TAG_NEXT_TABLE_ID: u64 = 1;
pub(super) const TAG_LAST_SEQNO: u64 = 2;
pub(super) const TAG_WAL_SEGMENT: u64 = 3;
pub(super) const TAG_PARTITION_FORMAT: u64 = 4;
pub(super) const TAG_DELETED_TABLE: u64 = 5;
pub(super) const TAG_ADDED_TABLE: u64 = 6;

/// Name of a field tag, for messages.
pub(super) fn tag_name(tag: u64) -> &'static str {
    match tag {
        TAG_NEXT_TABLE_ID => "next_table_id",
        TAG_LAST_SEQNO => "last_seqno",
        TAG_WAL_SEGMENT => "wal_segment",
        TAG_PARTITION_FORMAT => "partition_format",
        TAG_DELETED_TABLE => "deleted table",
        TAG_ADDED_TABLE => "added table",
        _ => "unknown",
    }
}

impl TableMeta {
    /// Checks the table is self-consistent: level in range, both bounds
    /// valid internal keys in order, seqno range in order.
    pub fn check(&self) -> Result<(), TableProblem> {
        if usize::from(self.level) >= NUM_LEVELS {
            return Err(TableProblem::LevelOutOfRange(self.level));
        }
        if key::split_internal_key(&self.smallest).is_none() {
            return Err(TableProblem::BadSmallestKey);
        }
        if key::split_internal_key(&self.largest).is_none() {
            return Err(TableProblem::BadLargestKey);
        }
        if key::compare_internal_keys(&self.smallest, &self.largest) == Ordering::Greater {
            return Err(TableProblem::KeysOutOfOrder);
        }
        if self.min_seqno > self.max_seqno || self.max_seqno > MAX_SEQNO {
            return Err(TableProblem::SeqnosOutOfOrder);
        }
        Ok(())
    }
}

impl VersionEdit {
    /// Appends the encoded edit to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut body = Vec::new();
        let singles = [
            (TAG_NEXT_TABLE_ID, self.next_table_id),
            (TAG_LAST_SEQNO, self.last_seqno),
            (TAG_WAL_SEGMENT, self.wal_segment),
            (TAG_PARTITION_FORMAT, self.partition_format.map(u64::from)),
        ];
        for (tag, value) in singles {
            if let Some(v) = value {
                body.clear();
                put_varint(&mut body, v);
                put_field(out, tag, &body);
            }
        }
        for &(level, id) in &self.deleted {
            body.clear();
            body.push(level);
            put_varint(&mut body, id);
            put_field(out, TAG_DELETED_TABLE, &body);
        }
        for t in &self.added {
            body.clear();
            put_varint(&mut body, t.id);
            body.push(t.level);
            put_varint(&mut body, t.size);
            put_len_prefixed(&mut body, &t.smallest);
            put_len_prefixed(&mut body, &t.largest);
            put_varint(&mut body, t.min_seqno);
            put_varint(&mut body, t.max_seqno);
            put_varint(&mut body, t.entries);
            put_field(out, TAG_ADDED_TABLE, &body);
        }
    }

    /// Decodes an edit; malformed input (including an unknown tag, a
    /// repeated single field, or an inconsistent table) is an error, never a
    /// panic.
    pub fn decode(bytes: &[u8]) -> Result<VersionEdit, ManifestError> {
        decode_edit(bytes).map_err(ManifestError::Decode)
    }
}

fn put_field(out: &mut Vec<u8>, tag: u64, body: &[u8]) {
    put_varint(out, tag);
    put_len_prefixed(out, body);
}

pub(super) fn decode_edit(bytes: &[u8]) -> Result<VersionEdit, EditError> {
    let mut edit = VersionEdit::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let at = bytes.len() - rest.len();
        let tag = get_varint(&mut rest).map_err(|e| EditError::BadTag {
            at,
            problem: FieldProblem::Varint(e),
        })?;
        let body = get_len_prefixed(&mut rest).map_err(|e| EditError::BadField {
            at,
            tag,
            problem: FieldProblem::Varint(e),
        })?;
        let bad = |problem| EditError::BadField { at, tag, problem };
        let mut body = Body(body);
        let first_time = match tag {
            TAG_NEXT_TABLE_ID => set_once(&mut edit.next_table_id, body.single().map_err(bad)?),
            TAG_LAST_SEQNO => set_once(&mut edit.last_seqno, body.single().map_err(bad)?),
            TAG_WAL_SEGMENT => set_once(&mut edit.wal_segment, body.single().map_err(bad)?),
            TAG_PARTITION_FORMAT => {
                let v = body.single().map_err(bad)?;
                let v = u32::try_from(v).map_err(|_| bad(FieldProblem::OutOfRange(v)))?;
                set_once(&mut edit.partition_format, v)
            }
            TAG_DELETED_TABLE => {
                edit.deleted.push(body.deleted_table().map_err(bad)?);
                true
            }
            TAG_ADDED_TABLE => {
                let table = body.added_table().map_err(bad)?;
                table.check().map_err(|problem| EditError::InvalidTable {
                    at,
                    id: table.id,
                    problem,
                })?;
                edit.added.push(table);
                true
            }
            _ => return Err(EditError::UnknownTag { at, tag }),
        };
        if !first_time {
            return Err(EditError::DuplicateField { at, tag });
        }
    }
    Ok(edit)
}

/// Stores a field that may appear once per edit; `false` if already set.
fn set_once<T>(slot: &mut Option<T>, value: T) -> bool {
    slot.replace(value).is_none()
}

/// The body of one field, read front to back.
struct Body<'a>(&'a [u8]);

impl<'a> Body<'a> {
    fn varint(&mut self) -> Result<u64, FieldProblem> {
        get_varint(&mut self.0).map_err(FieldProblem::Varint)
    }

    fn u8(&mut self) -> Result<u8, FieldProblem> {
        let (&b, rest) = self.0.split_first().ok_or(FieldProblem::Truncated)?;
        self.0 = rest;
        Ok(b)
    }

    fn bytes(&mut self) -> Result<&'a [u8], FieldProblem> {
        get_len_prefixed(&mut self.0).map_err(FieldProblem::Varint)
    }

    /// A body that is exactly one varint.
    fn single(&mut self) -> Result<u64, FieldProblem> {
        let v = self.varint()?;
        self.finish()?;
        Ok(v)
    }

    fn deleted_table(&mut self) -> Result<(u8, u64), FieldProblem> {
        let level = self.u8()?;
        let id = self.varint()?;
        self.finish()?;
        Ok((level, id))
    }

    fn added_table(&mut self) -> Result<TableMeta, FieldProblem> {
        let table = TableMeta {
            id: self.varint()?,
            level: self.u8()?,
            size: self.varint()?,
            smallest: self.bytes()?.to_vec(),
            largest: self.bytes()?.to_vec(),
            min_seqno: self.varint()?,
            max_seqno: self.varint()?,
            entries: self.varint()?,
        };
        self.finish()?;
        Ok(table)
    }

    fn finish(&self) -> Result<(), FieldProblem> {
        match self.0.len() {
            0 => Ok(()),
            len => Err(FieldProblem::TrailingBytes(len)),
        }
    }
}
