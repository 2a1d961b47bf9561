//! Reading and writing collections on a core's partitions (the layout is
//! in [`super::collection`]).
//!
//! Every function here expects the caller to hold the key's lock: a
//! collection command reads metadata, then elements, then writes one
//! batch, and no other command on the key may run in between.

use frys_storage::{Scan, WriteBatch};

use super::collection::{element_prefix, encode_score, prefix_end, Meta, ELEMENT_TAG, SCORE_TAG};
use super::encoding::{data_key, Entry, ValueType};
use super::{add_put, CoreStore, StoreError, StoreResult};
use crate::errors;
use crate::keyspace::{key_slot, PartitionMap};

/// A collection as stored: its type, expiry and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// Its type.
    pub kind: ValueType,
    /// Unix milliseconds after which it no longer exists.
    pub expires_at: Option<u64>,
    /// Version, count, list ends.
    pub meta: Meta,
}

impl Collection {
    /// A new, empty collection of `kind` without expiry.
    pub fn new(kind: ValueType) -> Collection {
        Collection {
            kind,
            expires_at: None,
            meta: Meta::new(),
        }
    }

    /// The key's data record for this collection.
    pub fn entry(&self) -> Entry {
        Entry {
            kind: self.kind,
            expires_at: self.expires_at,
            payload: self.meta.encode(self.kind),
        }
    }

    /// Decodes the collection stored as `entry`; `None` for a string.
    pub fn from_entry(entry: &Entry) -> StoreResult<Option<Collection>> {
        if !entry.kind.is_collection() {
            return Ok(None);
        }
        let meta = Meta::decode(&entry.payload).ok_or_else(damaged)?;
        Ok(Some(Collection {
            kind: entry.kind,
            expires_at: entry.expires_at,
            meta,
        }))
    }
}

/// The most bytes one partition's batch may encode to (one WAL record).
const MAX_BATCH_BYTES: usize = frys_storage::wal::MAX_PAYLOAD_LEN as usize;

/// Whether `writes`, merged into one batch per partition as
/// [`CoreStore::apply_all`] merges them, fit one batch each, with the
/// error the storage gives a batch over the limit. Pure: a caller that
/// writes several cores checks every core's share before writing any.
pub fn check_merged(writes: &[CollectionWrite], map: PartitionMap) -> StoreResult<()> {
    merged_fit(writes, map, MAX_BATCH_BYTES)
}

fn merged_fit(writes: &[CollectionWrite], map: PartitionMap, limit: usize) -> StoreResult<()> {
    let header = frys_storage::batch::BATCH_HEADER_LEN;
    // (partition, merged encoded size): a core owns few partitions.
    let mut sizes: Vec<(u16, usize)> = Vec::new();
    for w in writes.iter().filter(|w| !w.is_empty()) {
        let p = map.partition_of_slot(w.slot);
        let ops = w.batch.approximate_size().saturating_sub(header);
        match sizes.iter_mut().find(|(id, _)| *id == p) {
            Some((_, size)) => *size = size.saturating_add(ops),
            None => sizes.push((p, header.saturating_add(ops))),
        }
    }
    match sizes.iter().find(|(_, size)| *size > limit) {
        Some(&(_, size)) => {
            let e = frys_storage::batch::BatchError::TooLarge { size };
            Err(frys_storage::Error::InvalidArgument(e.to_string()).into())
        }
        None => Ok(()),
    }
}

fn damaged() -> StoreError {
    StoreError("ERR storage: collection metadata is damaged (unknown encoding)".into())
}

/// The records of one command's change to one collection, written by
/// [`CoreStore::apply`] as one atomic batch.
pub struct CollectionWrite {
    ns: u16,
    slot: u16,
    key: Vec<u8>,
    element_prefix: Vec<u8>,
    score_prefix: Vec<u8>,
    batch: WriteBatch,
    scratch: Vec<u8>,
}

impl CollectionWrite {
    /// A change to the elements of version `version` of `key` in `ns`.
    pub fn new(ns: u16, key: &[u8], version: u64) -> CollectionWrite {
        let slot = key_slot(key);
        CollectionWrite {
            ns,
            slot,
            key: key.to_vec(),
            element_prefix: element_prefix(ELEMENT_TAG, ns, slot, key, version),
            score_prefix: element_prefix(SCORE_TAG, ns, slot, key, version),
            batch: WriteBatch::new(),
            scratch: Vec::new(),
        }
    }

    fn record(&mut self, score: bool, parts: &[&[u8]]) -> &[u8] {
        self.scratch.clear();
        self.scratch.extend_from_slice(if score {
            &self.score_prefix
        } else {
            &self.element_prefix
        });
        for p in parts {
            self.scratch.extend_from_slice(p);
        }
        &self.scratch
    }

    /// Sets element `sub` to `value`.
    pub fn put(&mut self, sub: &[u8], value: &[u8]) {
        let rec = self.record(false, &[sub]).to_vec();
        self.batch.put(&rec, value);
    }

    /// Deletes element `sub`.
    pub fn delete(&mut self, sub: &[u8]) {
        let rec = self.record(false, &[sub]).to_vec();
        self.batch.delete(&rec);
    }

    /// Adds the score record of `member` at `score`.
    pub fn put_score(&mut self, score: f64, member: &[u8]) {
        let s = encode_score(score);
        let rec = self.record(true, &[&s, member]).to_vec();
        self.batch.put(&rec, b"");
    }

    /// Deletes the score record of `member` at `score`.
    pub fn delete_score(&mut self, score: f64, member: &[u8]) {
        let s = encode_score(score);
        let rec = self.record(true, &[&s, member]).to_vec();
        self.batch.delete(&rec);
    }

    /// Writes the key's metadata: `c`, or deletes the key when `c` has no
    /// elements left (an empty collection ceases to exist).
    pub fn set_meta(&mut self, c: &Collection) {
        if c.meta.count == 0 {
            self.batch.delete(&data_key(self.ns, self.slot, &self.key));
        } else {
            add_put(&mut self.batch, self.ns, self.slot, &self.key, &c.entry());
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Whether every record fits the storage limits, with the error the
    /// storage gives a plain write (`ERR storage: invalid argument: ...`):
    /// a batch drops a record over them and only remembers why, so a
    /// write must be checked before it is skipped as empty or merged.
    pub fn check(&self) -> StoreResult<()> {
        self.batch
            .validate()
            .map_err(|e| frys_storage::Error::InvalidArgument(e.to_string()).into())
    }

    /// Replaces the key's data record with `entry` (a whole new value,
    /// e.g. a string), or deletes the key (`None`): for a change that
    /// rewrites the key rather than its elements (the old elements die
    /// with the old metadata, as for DEL).
    pub fn set_entry(&mut self, entry: Option<&Entry>) -> StoreResult<()> {
        match entry {
            Some(e) => {
                super::check_size(e)?;
                add_put(&mut self.batch, self.ns, self.slot, &self.key, e);
            }
            None => self.batch.delete(&data_key(self.ns, self.slot, &self.key)),
        }
        Ok(())
    }
}

/// A forward scan of one collection's element (or score) records,
/// yielding `(subkey, value)`.
pub struct ElementScan {
    scan: Scan,
    prefix_len: usize,
}

impl ElementScan {
    /// The next element, or `None` at the end.
    pub async fn next(&mut self) -> StoreResult<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self.scan.next().await?.map(|(mut k, v)| {
            k.drain(..self.prefix_len.min(k.len()));
            (k, v)
        }))
    }
}

impl CoreStore {
    /// Reads `key` as a collection of `kind`: `None` if absent, Redis'
    /// WRONGTYPE error for a key of another type.
    pub async fn collection(
        &self,
        ns: u16,
        key: &[u8],
        kind: ValueType,
    ) -> StoreResult<Option<Collection>> {
        let Some(entry) = self.get_unlocked(ns, key).await? else {
            return Ok(None);
        };
        if entry.kind != kind {
            return Err(StoreError(errors::WRONGTYPE.into()));
        }
        Collection::from_entry(&entry)
    }

    /// Element `sub` of version `version` of `key`.
    pub async fn element(
        &self,
        ns: u16,
        key: &[u8],
        version: u64,
        sub: &[u8],
    ) -> StoreResult<Option<Vec<u8>>> {
        let slot = key_slot(key);
        let db = self.db_of_slot(slot)?;
        let mut rec = element_prefix(ELEMENT_TAG, ns, slot, key, version);
        rec.extend_from_slice(sub);
        Ok(db.get(&rec).await?)
    }

    /// Scans the element records (`score: false`) or score records of
    /// version `version` of `key`, from subkey `from` (inclusive) to `to`
    /// (exclusive; `None` = to the end).
    pub fn elements(
        &self,
        ns: u16,
        key: &[u8],
        version: u64,
        score: bool,
        from: &[u8],
        to: Option<&[u8]>,
    ) -> StoreResult<ElementScan> {
        let slot = key_slot(key);
        let db = self.db_of_slot(slot)?;
        let tag = if score { SCORE_TAG } else { ELEMENT_TAG };
        let prefix = element_prefix(tag, ns, slot, key, version);
        let mut start = prefix.clone();
        start.extend_from_slice(from);
        let end = match to {
            Some(t) => {
                let mut e = prefix.clone();
                e.extend_from_slice(t);
                e
            }
            None => prefix_end(&prefix),
        };
        Ok(ElementScan {
            scan: db.scan(start..end),
            prefix_len: prefix.len(),
        })
    }

    /// Writes the changes of several keys atomically per partition: one
    /// batch for each partition they live in, written concurrently (keys
    /// of one hash slot, as a plugin call's, are one batch).
    ///
    /// Every write is checked first (a record over the storage limits is
    /// refused by its batch, which only remembers why; a merged batch must
    /// fit one WAL record; every partition written must take writes, not
    /// be poisoned or closed): one that fails fails the whole call and
    /// nothing is written.
    pub async fn apply_all(&self, writes: Vec<CollectionWrite>) -> StoreResult<()> {
        use frys_storage::batch::BatchOp;
        for w in &writes {
            w.check()?;
        }
        check_merged(&writes, self.map)?;
        let writes: Vec<CollectionWrite> = writes.into_iter().filter(|w| !w.is_empty()).collect();
        for w in &writes {
            self.db_of_slot(w.slot)?.check_writable()?;
        }
        let mut batches: Vec<(u16, WriteBatch)> = Vec::new();
        for w in writes {
            self.note_write(w.ns, &w.key);
            let p = self.map.partition_of_slot(w.slot);
            let Some(i) = batches.iter().position(|(id, _)| *id == p) else {
                batches.push((p, w.batch));
                continue;
            };
            let batch = &mut batches[i].1;
            for op in w.batch.iter() {
                match op {
                    BatchOp::Put {
                        key,
                        value,
                        expires_at: Some(at),
                    } => batch.put_with_expiry(key, value, at),
                    BatchOp::Put { key, value, .. } => batch.put(key, value),
                    BatchOp::Delete { key } => batch.delete(key),
                }
            }
        }
        let mut pending = Vec::with_capacity(batches.len());
        for (p, batch) in batches {
            let db = self
                .partition(p)
                .ok_or_else(|| StoreError(format!("ERR internal: partition {p} not owned here")))?;
            pending.push(super::disk_state::write(db, batch));
        }
        for result in crate::exec::join_all(pending).await {
            result?;
        }
        Ok(())
    }

    /// Writes one collection change atomically; fails, writing nothing,
    /// if one of its records is over the storage limits.
    pub async fn apply(&self, write: CollectionWrite) -> StoreResult<()> {
        write.check()?;
        if write.is_empty() {
            return Ok(());
        }
        let db = self.db_of_slot(write.slot)?;
        self.note_write(write.ns, &write.key);
        super::disk_state::write(db, write.batch).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_write(key: &str, bytes: usize) -> CollectionWrite {
        let mut w = CollectionWrite::new(0, key.as_bytes(), 0);
        let entry = Entry {
            kind: ValueType::String,
            expires_at: None,
            payload: vec![b'x'; bytes],
        };
        w.set_entry(Some(&entry)).expect("a small record");
        w
    }

    #[test]
    fn writes_merged_into_one_partition_are_measured_together() {
        let map = PartitionMap::new(16, 1);
        // Two keys of one slot: one partition, one merged batch.
        let (a, b) = (string_write("{t}a", 600), string_write("{t}b", 600));
        let one = a.batch.approximate_size();
        let merged = one + b.batch.approximate_size() - frys_storage::batch::BATCH_HEADER_LEN;
        let writes = [a, b];
        assert!(merged_fit(&writes, map, merged).is_ok());
        let e = merged_fit(&writes, map, merged - 1).unwrap_err();
        assert!(
            e.0.contains(&format!("batch encodes to {merged} bytes")),
            "{}",
            e.0
        );
        // Each alone fits: only the merge is over.
        assert!(merged_fit(&writes[..1], map, one).is_ok());
    }

    #[test]
    fn writes_to_different_partitions_are_measured_apart() {
        let map = PartitionMap::new(16, 1);
        let keys: Vec<String> = (0..)
            .map(|i| format!("k{i}"))
            .scan(None, |first: &mut Option<u16>, k| {
                let p = map.partition_of_slot(key_slot(k.as_bytes()));
                Some((k, *first.get_or_insert(p) != p))
            })
            .filter(|(_, other)| *other)
            .map(|(k, _)| k)
            .take(1)
            .collect();
        let (a, b) = (string_write("k0", 600), string_write(&keys[0], 600));
        let limit = a.batch.approximate_size().max(b.batch.approximate_size());
        assert!(merged_fit(&[a, b], map, limit).is_ok());
    }
}
