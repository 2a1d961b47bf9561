//! The keyspace of one core: the partitions it owns, its key locks, and
//! typed reads and writes of Redis values on them.
//!
//! A [`CoreStore`] is created on its core when the server starts and is
//! reachable there through [`current`]; it is `!Send` and never leaves the
//! core. Every key passed in must belong to a slot this core owns: the
//! router guarantees it, and a misrouted key is answered with an error,
//! never a panic.
//!
//! Every function that writes a key calls [`CoreStore::note_write`] for it
//! before the write (WATCH's hook; see `watches`): a new write function
//! must too.

pub mod blocking;
pub mod collection;
mod collection_io;
pub mod disk_state;
mod encoding;
mod expire;
mod filter;
mod key_locks;
mod key_value;
mod watches;

use std::cell::RefCell;
use std::rc::Rc;

use frys_storage::{Db, WriteBatch};

pub use collection::Meta;
pub use collection_io::{check_merged, Collection, CollectionWrite, ElementScan};
pub use encoding::{
    data_end, data_key, data_position, key_hash, split_data_key, Entry, ValueType, DATA_PREFIX_LEN,
    DATA_TAG, MAX_PAYLOAD_LEN,
};
pub use expire::run_expire_cycles;
pub use filter::DeadElements;
pub use key_locks::{KeyGuard, KeyLocks};
pub use key_value::KeyValue;
pub use watches::{DirtyFlag, Watches};

use crate::keyspace::{key_slot, PartitionMap};

/// A storage failure, as the text a client gets after `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl From<frys_storage::Error> for StoreError {
    fn from(e: frys_storage::Error) -> Self {
        match e {
            frys_storage::Error::DiskFull { source, .. } => {
                StoreError(disk_state::misconf(&source))
            }
            e => StoreError(format!("ERR storage: {e}")),
        }
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The partitions and key locks of one core.
pub struct CoreStore {
    core: usize,
    map: PartitionMap,
    /// Indexed by partition id; `Some` for the partitions this core owns.
    partitions: Vec<Option<Db>>,
    locks: KeyLocks,
    /// Who watches which key of this core (WATCH).
    watches: Watches,
    /// Logical database -> namespace id (SWAPDB swaps entries).
    db_map: RefCell<Vec<u16>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<CoreStore>>> = const { RefCell::new(None) };
}

/// This core's store.
///
/// # Panics
/// Panics on a thread where the server did not install one (a bug, not
/// something a client can cause).
pub fn current() -> Rc<CoreStore> {
    CURRENT.with(|c| {
        c.borrow()
            .clone()
            .expect("store::current() on a core without a store")
    })
}

/// This core's store, or `None` where none is installed (a task that may
/// run after shutdown has closed the partitions).
pub fn try_current() -> Option<Rc<CoreStore>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Installs `store` as this core's store.
pub fn install(store: Rc<CoreStore>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(store));
}

/// Removes and returns this core's store (at shutdown).
pub fn uninstall() -> Option<Rc<CoreStore>> {
    CURRENT.with(|c| c.borrow_mut().take())
}

/// Milliseconds since the Unix epoch (the clock of every expiry).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl CoreStore {
    /// A store over `partitions` (id, opened Db) owned by `core`.
    pub fn new(
        core: usize,
        map: PartitionMap,
        owned: Vec<(u16, Db)>,
        db_map: Vec<u16>,
    ) -> CoreStore {
        let mut partitions: Vec<Option<Db>> = (0..map.partitions()).map(|_| None).collect();
        for (id, db) in owned {
            if let Some(slot) = partitions.get_mut(usize::from(id)) {
                *slot = Some(db);
            }
        }
        CoreStore {
            core,
            map,
            partitions,
            locks: KeyLocks::default(),
            watches: Watches::default(),
            db_map: RefCell::new(db_map),
        }
    }

    /// The namespace id of logical database `db`.
    pub fn ns_of(&self, db: u16) -> u16 {
        self.db_map
            .borrow()
            .get(usize::from(db))
            .copied()
            .unwrap_or(db)
    }

    /// Swaps the namespaces of two logical databases (SWAPDB), on this
    /// core; their watchers move with them (see `watches`).
    pub fn swap_dbs(&self, a: u16, b: u16) {
        let mut map = self.db_map.borrow_mut();
        if usize::from(a.max(b)) < map.len() {
            self.watches
                .swap_ns(map[usize::from(a)], map[usize::from(b)]);
            map.swap(usize::from(a), usize::from(b));
        }
    }

    /// The database map (to persist it).
    pub fn db_map(&self) -> Vec<u16> {
        self.db_map.borrow().clone()
    }

    /// This core's index.
    pub fn core(&self) -> usize {
        self.core
    }

    /// The server's partition map.
    pub fn map(&self) -> PartitionMap {
        self.map
    }

    /// The key locks of this core.
    pub fn locks(&self) -> &KeyLocks {
        &self.locks
    }

    /// The watch registry of this core.
    pub fn watches(&self) -> &Watches {
        &self.watches
    }

    /// WATCH's write hook: every write function calls it for each key it
    /// writes, before the write. One check of an empty map when nobody
    /// watches.
    #[inline]
    pub fn note_write(&self, ns: u16, key: &[u8]) {
        self.watches.note_write(ns, key);
    }

    /// The partitions this core owns, with their ids.
    pub fn owned(&self) -> impl Iterator<Item = (u16, &Db)> {
        self.partitions
            .iter()
            .enumerate()
            .filter_map(|(i, db)| db.as_ref().map(|db| (i as u16, db)))
    }

    /// The partition `id`, if this core owns it.
    pub fn partition(&self, id: u16) -> Option<&Db> {
        self.partitions.get(usize::from(id))?.as_ref()
    }

    /// The partition holding `slot`.
    pub fn db_of_slot(&self, slot: u16) -> StoreResult<&Db> {
        let p = self.map.partition_of_slot(slot);
        self.partition(p).ok_or_else(|| {
            StoreError(format!(
                "ERR internal: slot {slot} (partition {p}) is not owned by core {}",
                self.core
            ))
        })
    }

    /// Reads `key` of namespace `ns`, waiting behind in-flight writers.
    pub async fn get(&self, ns: u16, key: &[u8]) -> StoreResult<Option<Entry>> {
        let slot = key_slot(key);
        let dk = data_key(ns, slot, key);
        let _behind = self.locks.wait_for_writers(&dk).await;
        self.get_unlocked(ns, key).await
    }

    /// Reads `key` without looking at the lock table: for a caller that
    /// holds the key's lock itself.
    pub async fn get_unlocked(&self, ns: u16, key: &[u8]) -> StoreResult<Option<Entry>> {
        let slot = key_slot(key);
        let db = self.db_of_slot(slot)?;
        let Some(raw) = db.get(&data_key(ns, slot, key)).await? else {
            return Ok(None);
        };
        let entry = Entry::decode(raw).ok_or_else(|| {
            StoreError("ERR storage: a stored value is damaged (unknown encoding)".into())
        })?;
        Ok(match entry.expires_at {
            Some(at) if at <= now_ms() => None,
            _ => Some(entry),
        })
    }

    /// Whether a record of `key` is stored at all, expired or not (the
    /// storage engine hides values past their expiry, so this reads with
    /// expiry ignored: it is for the expiry cycle, which must know whether
    /// there is something left to delete).
    pub async fn is_stored(&self, ns: u16, key: &[u8]) -> StoreResult<bool> {
        let slot = key_slot(key);
        let db = self.db_of_slot(slot)?;
        Ok(db
            .get_ignoring_expiry(&data_key(ns, slot, key))
            .await?
            .is_some())
    }

    /// Takes the write lock of `key` in `ns`.
    pub async fn lock(&self, ns: u16, key: &[u8]) -> KeyGuard {
        self.locks.lock(&data_key(ns, key_slot(key), key)).await
    }

    /// Takes the write locks of several keys of `ns` (sorted, no deadlock).
    pub async fn lock_all(&self, ns: u16, keys: &[&[u8]]) -> Vec<KeyGuard> {
        let dks: Vec<Vec<u8>> = keys.iter().map(|k| data_key(ns, key_slot(k), k)).collect();
        let refs: Vec<&[u8]> = dks.iter().map(|k| k.as_slice()).collect();
        self.locks.lock_all(&refs).await
    }

    /// Writes `entry` as `key`'s value (the caller holds the key's lock, or
    /// the write is blind).
    pub async fn put(&self, ns: u16, key: &[u8], entry: &Entry) -> StoreResult<()> {
        check_size(entry)?;
        let slot = key_slot(key);
        let db = self.db_of_slot(slot)?;
        self.note_write(ns, key);
        let mut batch = WriteBatch::new();
        add_put(&mut batch, ns, slot, key, entry);
        disk_state::write(db, batch).await?;
        Ok(())
    }

    /// Deletes `key` (the caller holds its lock).
    pub async fn delete(&self, ns: u16, key: &[u8]) -> StoreResult<()> {
        let slot = key_slot(key);
        let db = self.db_of_slot(slot)?;
        self.note_write(ns, key);
        db.delete(&data_key(ns, slot, key)).await?;
        Ok(())
    }

    /// Applies puts (`Some`) and deletes (`None`) of keys in `ns` that may
    /// live in several partitions of this core: one atomic batch per
    /// partition, all partitions written concurrently.
    pub async fn write_many(&self, ns: u16, ops: &[(&[u8], Option<&Entry>)]) -> StoreResult<()> {
        let mut batches: Vec<(u16, WriteBatch)> = Vec::new();
        for (key, entry) in ops {
            self.note_write(ns, key);
            let slot = key_slot(key);
            let p = self.map.partition_of_slot(slot);
            let batch = match batches.iter_mut().find(|(id, _)| *id == p) {
                Some((_, b)) => b,
                None => {
                    batches.push((p, WriteBatch::new()));
                    &mut batches.last_mut().expect("just pushed").1
                }
            };
            match entry {
                Some(e) => {
                    check_size(e)?;
                    add_put(batch, ns, slot, key, e)
                }
                None => batch.delete(&data_key(ns, slot, key)),
            }
        }
        let mut writes = Vec::with_capacity(batches.len());
        for (p, batch) in batches {
            let db = self
                .partition(p)
                .ok_or_else(|| StoreError(format!("ERR internal: partition {p} not owned here")))?;
            writes.push(disk_state::write(db, batch));
        }
        for result in crate::exec::join_all(writes).await {
            result?;
        }
        Ok(())
    }
}

/// Refuses a value the storage engine cannot hold, with Redis' text.
pub(super) fn check_size(entry: &Entry) -> StoreResult<()> {
    if entry.payload.len() > MAX_PAYLOAD_LEN {
        return Err(StoreError(crate::errors::STRING_TOO_LONG.to_string()));
    }
    Ok(())
}

/// Adds the records of `entry` (data record, and expiry index entry if it
/// expires) to `batch`.
pub(super) fn add_put(batch: &mut WriteBatch, ns: u16, slot: u16, key: &[u8], entry: &Entry) {
    let dk = data_key(ns, slot, key);
    let value = entry.encode();
    match entry.expires_at {
        Some(at) => {
            batch.put_with_expiry(&dk, &value, at);
            batch.put(&encoding::expiry_key(at, ns, key), b"");
        }
        None => batch.put(&dk, &value),
    }
}
