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
use crate::keyspace::key_slot;

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
    /// refused by its batch, which only remembers why): one that fails
    /// fails the whole call and nothing is written.
    pub async fn apply_all(&self, writes: Vec<CollectionWrite>) -> StoreResult<()> {
        use frys_storage::batch::BatchOp;
        for w in &writes {
            w.check()?;
        }
        let mut batches: Vec<(u16, WriteBatch)> = Vec::new();
        for w in writes.into_iter().filter(|w| !w.is_empty()) {
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
