//! What a plugin call sees: its declared keys, read under their locks
//! before any plugin code runs.
//!
//! A string is read as is. A collection is loaded whole (hash fields and
//! set members, sorted-set members with their scores, list elements in
//! order) for a plugin of ABI version 2 or later; a version-1 plugin only
//! sees that the key holds another type. A loaded collection's stored metadata is kept ([`Snapshot::stored`]) so the
//! call's changes are written against the same version, count and list
//! ends ([`super::apply`]). A collection of more than the cap's elements
//! is refused before anything is loaded, and the call is refused as soon
//! as the elements loaded for all its keys pass the byte budget: a call
//! never holds more than `cap` elements of one key, nor (about) `max_bytes`
//! bytes of fields, members and values of all its collections, in memory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use frys_plugins::{Collection as Items, Value};

use crate::command::KeyCtx;
use crate::store::collection::{decode_score, subkey_prefix_len};
use crate::store::{Collection, ValueType};

/// The values a call starts from.
pub struct Snapshot {
    /// Each declared key with its value, in declaration order.
    pub values: Vec<(Vec<u8>, Value)>,
    /// The stored metadata of each key that holds a collection.
    pub stored: Vec<(Vec<u8>, Collection)>,
    /// Bytes of fields, members and values loaded (counted against the
    /// budget).
    pub bytes: u64,
}

/// `plugin-max-snapshot-bytes`' default.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Why a call cannot start.
#[derive(Debug)]
pub enum Refused {
    /// `key` holds a collection of `kind` with more elements than the cap.
    OverCap {
        /// The key.
        key: Vec<u8>,
        /// Its type's name (`hash`, `list`, ...).
        kind: &'static str,
        /// Its elements.
        count: u64,
    },
    /// Loading `key`'s elements took the call past its byte budget.
    OverBytes {
        /// The key.
        key: Vec<u8>,
    },
    /// The store failed (its error text).
    Store(String),
}

fn store_err(e: crate::store::StoreError) -> Refused {
    Refused::Store(e.0)
}

/// Reads `keys` (the caller holds their locks); a collection may have at
/// most `cap` elements, and all of them together `max_bytes` bytes (a
/// call whose keys are on several cores reads each core's share with what
/// the shares before it left of the budget). With
/// `elements` false (a version-1 plugin, which has no collection
/// functions) a collection's elements are not loaded and no cap applies.
pub async fn read(
    ctx: &KeyCtx,
    keys: Vec<Vec<u8>>,
    elements: bool,
    cap: u64,
    max_bytes: u64,
) -> Result<Snapshot, Refused> {
    let mut budget = max_bytes;
    let mut s = Snapshot {
        values: Vec::with_capacity(keys.len()),
        stored: Vec::new(),
        bytes: 0,
    };
    for key in keys {
        let value = match ctx
            .store
            .get_unlocked(ctx.ns, &key)
            .await
            .map_err(store_err)?
        {
            None => Value::Missing,
            Some(e) if e.kind == ValueType::String => Value::String {
                bytes: e.payload,
                expires_at_ms: e.expires_at,
            },
            Some(e) if !elements => Value::Unloaded {
                expires_at_ms: e.expires_at,
            },
            Some(e) => {
                let Some(c) = Collection::from_entry(&e).map_err(store_err)? else {
                    return Err(Refused::Store("ERR internal: not a collection".into()));
                };
                if c.meta.count > cap {
                    return Err(Refused::OverCap {
                        key,
                        kind: c.kind.name(),
                        count: c.meta.count,
                    });
                }
                let items = load(ctx, &key, &c, cap, &mut budget).await?;
                s.stored.push((key.clone(), c));
                Value::Collection {
                    items,
                    expires_at_ms: e.expires_at,
                }
            }
        };
        s.values.push((key, value));
    }
    s.bytes = max_bytes - budget;
    Ok(s)
}

/// Every element of `c`, the collection at `key`; at most `cap` are read
/// (metadata whose count is short of its records cannot make it more),
/// and their bytes are taken from `budget`, refusing when it runs out.
async fn load(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    cap: u64,
    budget: &mut u64,
) -> Result<Items, Refused> {
    // A list's live elements are its indices head..tail.
    let (head, tail) = (c.meta.head.to_be_bytes(), c.meta.tail.to_be_bytes());
    let (from, to): (&[u8], Option<&[u8]>) = if c.kind == ValueType::List {
        (&head, Some(&tail))
    } else {
        (b"", None)
    };
    let mut scan = ctx
        .store
        .elements(ctx.ns, key, c.meta.version, false, from, to)
        .map_err(store_err)?;
    let skip = subkey_prefix_len(c.kind);
    let mut items = match c.kind {
        ValueType::Hash => Items::Hash(BTreeMap::new()),
        ValueType::Set => Items::Set(BTreeSet::new()),
        ValueType::ZSet => Items::ZSet(BTreeMap::new()),
        _ => Items::List(VecDeque::new()),
    };
    let mut n = 0u64;
    while let Some((mut sub, value)) = scan.next().await.map_err(store_err)? {
        n += 1;
        if n > cap {
            return Err(Refused::OverCap {
                key: key.to_vec(),
                kind: c.kind.name(),
                count: n,
            });
        }
        sub.drain(..skip.min(sub.len()));
        let size = (sub.len() + value.len()) as u64;
        let Some(left) = budget.checked_sub(size) else {
            return Err(Refused::OverBytes { key: key.to_vec() });
        };
        *budget = left;
        match &mut items {
            Items::Hash(m) => {
                m.insert(sub, value);
            }
            Items::Set(m) => {
                m.insert(sub);
            }
            Items::ZSet(m) => {
                let score = decode_score(&value).ok_or_else(|| {
                    Refused::Store("ERR storage: a sorted-set member record is damaged".into())
                })?;
                m.insert(sub, score);
            }
            Items::List(l) => l.push_back(value),
        }
    }
    Ok(items)
}
