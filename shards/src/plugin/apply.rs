//! Writing what a successful plugin call changed, under the keys' locks.
//!
//! Each write becomes one [`CollectionWrite`] ([`prepare`], which checks
//! every record against the storage limits and may run on any core) and
//! all of them are applied in one batch per partition ([`commit`], on the
//! keys' core: [`crate::store::CoreStore::apply_all`]).
//! A collection edit is written against the metadata the call was
//! snapshotted from (version, list ends, sorted-set floor), keeping the
//! invariants the built-in commands keep: the count is the number of
//! elements, an emptied collection is deleted (the call hands it back as
//! a delete), a hash field or set member lives behind its hash, a
//! sorted-set member has one element and one score record; the key's
//! expiry is the one the call leaves (the stored one unless the call set
//! or removed it; an expiry-only change rewrites the metadata alone). After the
//! write, clients blocked on a key that became a non-empty list or sorted
//! set are served, as after LPUSH or ZADD.

use std::collections::HashMap;

use frys_plugins::{Change, Collection as Items, Write};

use crate::command::KeyCtx;
use crate::keyspace::PartitionMap;
use crate::store::collection::{encode_score, member_subkey};
use crate::store::{check_merged, Collection, CollectionWrite, Entry, ValueType};

/// A call's writes to the keys of one core, turned into records and
/// checked against the storage limits, not yet written.
pub struct Prepared {
    batch: Vec<CollectionWrite>,
    /// Keys whose blocked clients are to be served: (key, is a list).
    filled: Vec<(Vec<u8>, bool)>,
}

/// Turns `writes` to keys of namespace `ns` into records; `stored` is the
/// metadata of every key the call read as a collection. Pure: it may run
/// on any core. Every record, and every partition's merged batch (`map`
/// places the keys), is checked, so a write over the storage limits fails
/// here, before anything is written anywhere.
pub fn prepare(
    ns: u16,
    map: PartitionMap,
    stored: &[(Vec<u8>, Collection)],
    writes: Vec<Write>,
) -> Result<Prepared, String> {
    // Looked up once per write: linear in the call's keys.
    let stored: HashMap<&[u8], Collection, foldhash::fast::RandomState> =
        stored.iter().map(|(k, c)| (k.as_slice(), *c)).collect();
    let mut p = Prepared {
        batch: Vec::with_capacity(writes.len()),
        filled: Vec::new(),
    };
    for w in writes {
        match w {
            Write::Set {
                key,
                bytes,
                expires_at_ms,
            } => {
                let mut cw = CollectionWrite::new(ns, &key, 0);
                let entry = Entry {
                    kind: ValueType::String,
                    expires_at: expires_at_ms,
                    payload: bytes,
                };
                cw.set_entry(Some(&entry)).map_err(|e| e.0)?;
                p.batch.push(cw);
            }
            Write::Expire { key, expires_at_ms } => {
                let Some(mut c) = stored.get(key.as_slice()).copied() else {
                    return Err(
                        "ERR internal: a plugin expired a collection it did not read".into(),
                    );
                };
                let mut cw = CollectionWrite::new(ns, &key, c.meta.version);
                c.expires_at = expires_at_ms;
                cw.set_meta(&c);
                p.batch.push(cw);
            }
            Write::Delete { key } => {
                let mut cw = CollectionWrite::new(ns, &key, 0);
                cw.set_entry(None).map_err(|e| e.0)?;
                p.batch.push(cw);
            }
            Write::Collection {
                key,
                change,
                expires_at_ms,
            } => {
                let base = stored.get(key.as_slice()).copied();
                let (cw, wakes) = collection_write(ns, &key, base, change, expires_at_ms)?;
                if let Some(list) = wakes {
                    p.filled.push((key, list));
                }
                p.batch.push(cw);
            }
        }
    }
    for cw in &p.batch {
        cw.check().map_err(|e| e.0)?;
    }
    check_merged(&p.batch, map).map_err(|e| e.0)?;
    Ok(p)
}

/// Writes `prepared` on this core (whose store is `ctx`'s, the caller
/// holding the keys' locks), in one batch per partition, then serves the
/// clients blocked on the lists and sorted sets it filled.
pub async fn commit(ctx: &KeyCtx, prepared: Prepared) -> Result<(), String> {
    ctx.store.apply_all(prepared.batch).await.map_err(|e| e.0)?;
    for (key, list) in prepared.filled {
        if list {
            crate::command::serve_list_waiters(ctx, &key).await;
        } else {
            crate::command::serve_zset_waiters(ctx, &key).await;
        }
    }
    Ok(())
}

/// Applies `writes` to keys of this core: [`prepare`], then [`commit`].
pub async fn apply(
    ctx: &KeyCtx,
    stored: &[(Vec<u8>, Collection)],
    writes: Vec<Write>,
) -> Result<(), String> {
    commit(ctx, prepare(ctx.ns, ctx.store.map(), stored, writes)?).await
}

fn type_of(items: &Items) -> ValueType {
    match items {
        Items::Hash(_) => ValueType::Hash,
        Items::Set(_) => ValueType::Set,
        Items::ZSet(_) => ValueType::ZSet,
        Items::List(_) => ValueType::List,
    }
}

/// The records of `change` to `key` (whose stored metadata is `base`), and
/// whether clients blocked on it may be served (`Some(true)`: as a list,
/// `Some(false)`: as a sorted set).
fn collection_write(
    ns: u16,
    key: &[u8],
    base: Option<Collection>,
    change: Change,
    expires_at: Option<u64>,
) -> Result<(CollectionWrite, Option<bool>), String> {
    let edit_of = |kind: ValueType| -> Result<Collection, String> {
        base.filter(|c| c.kind == kind)
            .map(|c| Collection { expires_at, ..c })
            .ok_or_else(|| "ERR internal: a plugin edited a collection it did not read".to_string())
    };
    match change {
        Change::Replace(items) => {
            let mut c = Collection {
                expires_at,
                ..Collection::new(type_of(&items))
            };
            let mut w = CollectionWrite::new(ns, key, c.meta.version);
            c.meta.count = items.len() as u64;
            let wakes = match items {
                Items::Hash(m) => {
                    for (f, v) in &m {
                        w.put(&member_subkey(f), v);
                    }
                    None
                }
                Items::Set(s) => {
                    for m in &s {
                        w.put(&member_subkey(m), b"");
                    }
                    None
                }
                Items::ZSet(z) => {
                    for (m, s) in &z {
                        w.put(m, &encode_score(*s));
                        w.put_score(*s, m);
                    }
                    Some(false)
                }
                Items::List(l) => {
                    for v in &l {
                        w.put(&c.meta.tail.to_be_bytes(), v);
                        c.meta.tail += 1;
                    }
                    Some(true)
                }
            };
            w.set_meta(&c);
            Ok((w, wakes))
        }
        Change::Hash { put, removed, len } => {
            let mut c = edit_of(ValueType::Hash)?;
            let mut w = CollectionWrite::new(ns, key, c.meta.version);
            for f in &removed {
                w.delete(&member_subkey(f));
            }
            for (f, v) in &put {
                w.put(&member_subkey(f), v);
            }
            c.meta.count = len;
            w.set_meta(&c);
            Ok((w, None))
        }
        Change::Set {
            added,
            removed,
            len,
        } => {
            let mut c = edit_of(ValueType::Set)?;
            let mut w = CollectionWrite::new(ns, key, c.meta.version);
            for m in &removed {
                w.delete(&member_subkey(m));
            }
            for m in &added {
                w.put(&member_subkey(m), b"");
            }
            c.meta.count = len;
            w.set_meta(&c);
            Ok((w, None))
        }
        Change::ZSet { put, removed, len } => {
            let mut c = edit_of(ValueType::ZSet)?;
            let mut w = CollectionWrite::new(ns, key, c.meta.version);
            for (m, old) in &removed {
                w.delete(m);
                w.delete_score(*old, m);
            }
            for (m, s, old) in &put {
                if let Some(old) = old {
                    w.delete_score(*old, m);
                }
                let encoded = encode_score(*s);
                w.put(m, &encoded);
                w.put_score(*s, m);
                // Every score record sorts at or after the floor.
                c.meta.floor = c.meta.floor.min(u64::from_be_bytes(encoded));
            }
            c.meta.count = len;
            w.set_meta(&c);
            Ok((w, (!put.is_empty()).then_some(false)))
        }
        Change::List {
            popped_front,
            popped_back,
            pushed_front,
            pushed_back,
            replaced,
            len,
        } => {
            let mut c = edit_of(ValueType::List)?;
            let mut w = CollectionWrite::new(ns, key, c.meta.version);
            if popped_front + popped_back > c.meta.count {
                return Err("ERR internal: a plugin popped more than the list held".into());
            }
            // Overwritten stored elements, by index from the stored head.
            for (s, v) in &replaced {
                if *s >= c.meta.count {
                    return Err("ERR internal: a plugin set an element past the list".into());
                }
                w.put(&(c.meta.head + s).to_be_bytes(), v);
            }
            for i in c.meta.head..c.meta.head + popped_front {
                w.delete(&i.to_be_bytes());
            }
            for i in c.meta.tail - popped_back..c.meta.tail {
                w.delete(&i.to_be_bytes());
            }
            c.meta.head += popped_front;
            c.meta.tail -= popped_back;
            c.meta.head -= pushed_front.len() as u64;
            for (i, v) in pushed_front.iter().enumerate() {
                w.put(&(c.meta.head + i as u64).to_be_bytes(), v);
            }
            for v in &pushed_back {
                w.put(&c.meta.tail.to_be_bytes(), v);
                c.meta.tail += 1;
            }
            c.meta.count = len;
            debug_assert_eq!(c.meta.tail - c.meta.head, c.meta.count);
            w.set_meta(&c);
            let pushed = !(pushed_front.is_empty() && pushed_back.is_empty());
            Ok((w, pushed.then_some(true)))
        }
    }
}
