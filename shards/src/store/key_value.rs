//! A key's whole value as one movable object, for RENAME, COPY and MOVE:
//! the data record plus, for a collection, every element and score record.
//!
//! Written back under another key (or namespace) with a new version, in
//! one batch, so the copy appears whole or not at all, and the old
//! version's records at the destination become dead for compaction.

use frys_storage::WriteBatch;

use super::collection::{element_prefix, Meta, ELEMENT_TAG, SCORE_TAG};
use super::collection_io::Collection;
use super::encoding::{Entry, ValueType};
use super::{add_put, check_size, CoreStore, StoreError, StoreResult};
use crate::keyspace::key_slot;

/// A key's value, detached from its key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The data record (a string, or collection metadata).
    pub entry: Entry,
    /// A collection's element records: `(subkey, value)`.
    pub elements: Vec<(Vec<u8>, Vec<u8>)>,
    /// A sorted set's score records: `(score | member, '')`.
    pub scores: Vec<(Vec<u8>, Vec<u8>)>,
}

impl CoreStore {
    /// Reads the whole value of `key` (the caller holds its lock).
    pub async fn read_value(&self, ns: u16, key: &[u8]) -> StoreResult<Option<KeyValue>> {
        let Some(entry) = self.get_unlocked(ns, key).await? else {
            return Ok(None);
        };
        let mut value = KeyValue {
            entry,
            elements: Vec::new(),
            scores: Vec::new(),
        };
        if let Some(c) = Collection::from_entry(&value.entry)? {
            value.elements = self.collect(ns, key, c.meta.version, false).await?;
            if c.kind == ValueType::ZSet {
                value.scores = self.collect(ns, key, c.meta.version, true).await?;
            }
        }
        Ok(Some(value))
    }

    async fn collect(
        &self,
        ns: u16,
        key: &[u8],
        version: u64,
        score: bool,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut scan = self.elements(ns, key, version, score, b"", None)?;
        let mut out = Vec::new();
        while let Some(e) = scan.next().await? {
            out.push(e);
        }
        Ok(out)
    }

    /// Writes `value` as `key`'s value in one batch, replacing whatever
    /// `key` held (the caller holds its lock). A collection gets a new
    /// version.
    pub async fn write_value(&self, ns: u16, key: &[u8], value: &KeyValue) -> StoreResult<()> {
        let slot = key_slot(key);
        let db = self.db_of_slot(slot)?;
        self.note_write(ns, key);
        let mut batch = WriteBatch::new();
        let mut entry = value.entry.clone();
        if let Some(mut c) = Collection::from_entry(&entry)? {
            c.meta = Meta {
                version: super::collection::next_version(),
                ..c.meta
            };
            let add = |batch: &mut WriteBatch, tag: u8, records: &[(Vec<u8>, Vec<u8>)]| {
                let prefix = element_prefix(tag, ns, slot, key, c.meta.version);
                let mut rec = prefix.clone();
                for (sub, v) in records {
                    rec.truncate(prefix.len());
                    rec.extend_from_slice(sub);
                    batch.put(&rec, v);
                }
            };
            add(&mut batch, ELEMENT_TAG, &value.elements);
            add(&mut batch, SCORE_TAG, &value.scores);
            entry = c.entry();
        }
        check_size(&entry).map_err(|e| StoreError(e.0))?;
        add_put(&mut batch, ns, slot, key, &entry);
        super::disk_state::write(db, batch).await?;
        Ok(())
    }
}
