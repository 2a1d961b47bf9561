//! Commands over the whole keyspace of a database: KEYS, SCAN, RANDOMKEY,
//! DBSIZE, FLUSHDB, FLUSHALL, SWAPDB; and OBJECT's routing.
//!
//! They run as barriers and visit every core over the mesh. SCAN's cursor
//! is a position `(slot, key hash)` in the stored key order (see
//! `store::encoding`): `0` starts, `1 + (slot << 32 | hash)` resumes at that
//! position, on whichever core owns the slot now. A call stops only at a
//! hash boundary, so every key present for the whole scan is returned at
//! least once, across calls, cores and restarts.

use super::body::{arg, store_err};
use super::glob::glob_match;
use super::spec::{BarrierCtx, KeyCtx};
use crate::errors;
use crate::exec::{join_all, LocalBoxFuture};
use crate::keyspace::SLOTS;
use crate::protocol::{Argv, Reply};
use crate::store::{self, data_end, data_position, split_data_key, Entry};

/// Runs `f` on every core (with a context for namespace `ns`) and collects
/// the results in core order.
pub async fn on_every_core<R, F>(ns: u16, f: F) -> Result<Vec<R>, Reply>
where
    R: Send + 'static,
    F: Fn(KeyCtx) -> LocalBoxFuture<R> + Send + Sync + Copy + 'static,
{
    let cores = usize::from(store::current().map().cores());
    let handles: Vec<_> = (0..cores)
        .map(|core| {
            frys_runtime::spawn_on(core, move || {
                let store = store::current();
                let ctx = KeyCtx::new(store, ns);
                f(ctx)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(cores);
    for (core, r) in join_all(handles).await.into_iter().enumerate() {
        out.push(
            r.map_err(|e| Reply::error(format!("ERR internal: core {core} did not answer: {e}")))?,
        );
    }
    Ok(out)
}

/// How many keys a keyspace-wide walk visits before it lets the core run
/// other tasks (so KEYS, DBSIZE and INFO on a big data set delay other
/// clients' commands by a slice at a time, not by the whole walk).
const KEYS_PER_SLICE: usize = 1024;

/// Calls `f` with every live key of `ctx.ns` on this core.
async fn visit_local_keys(ctx: &KeyCtx, mut f: impl FnMut(&[u8])) -> Result<(), Reply> {
    let mut seen = 0usize;
    for (id, db) in ctx.store.owned() {
        let slots = ctx.store.map().slots_of_partition(id);
        let mut scan = db.scan(data_position(ctx.ns, slots.start, 0)..data_end(ctx.ns, slots.end));
        while let Some((k, _)) = scan.next().await.map_err(|e| store_err(e.into()))? {
            if let Some((_, _, _, key)) = split_data_key(&k) {
                f(key);
            }
            seen += 1;
            if seen.is_multiple_of(KEYS_PER_SLICE) {
                frys_runtime::yield_now().await;
            }
        }
    }
    Ok(())
}

/// Every live key of `ctx.ns` on this core (optionally only those matching
/// `pattern`).
async fn local_keys(ctx: &KeyCtx, pattern: Option<&[u8]>) -> Result<Vec<Vec<u8>>, Reply> {
    let mut out = Vec::new();
    visit_local_keys(ctx, |key| {
        if pattern.is_none_or(|p| glob_match(p, key)) {
            out.push(key.to_vec());
        }
    })
    .await?;
    Ok(out)
}

/// KEYS pattern
pub fn keys(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let pattern = arg(&argv, 1).to_vec();
        let all = pattern == b"*";
        // The closure must be Copy: each core gets the pattern through a
        // thread-safe clone made inside.
        let pattern = std::sync::Arc::new(pattern);
        let cores = usize::from(store::current().map().cores());
        let mut handles = Vec::new();
        for core in 0..cores {
            let p = pattern.clone();
            let ns = ctx.ns;
            handles.push(frys_runtime::spawn_on(core, move || async move {
                let store = store::current();
                let kctx = KeyCtx::new(store, ns);
                local_keys(&kctx, if all { None } else { Some(p.as_slice()) }).await
            }));
        }
        let mut keys = Vec::new();
        for r in join_all(handles).await {
            match r {
                Ok(Ok(k)) => keys.extend(k),
                Ok(Err(e)) => return e,
                Err(e) => return Reply::error(format!("ERR internal: {e}")),
            }
        }
        Reply::Array(keys.into_iter().map(Reply::Bulk).collect())
    })
}

/// DBSIZE
pub fn dbsize(ctx: BarrierCtx, _: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let counts = on_every_core(ctx.ns, |c| {
            Box::pin(async move {
                let mut n = 0i64;
                visit_local_keys(&c, |_| n += 1).await.map(|()| n)
            })
        })
        .await;
        match counts {
            Ok(v) => v
                .into_iter()
                .try_fold(0i64, |acc, r| r.map(|n| acc + n))
                .map_or_else(|e| e, Reply::Integer),
            Err(e) => e,
        }
    })
}

/// Deletes every record of namespace `ns` (or, with `None`, every record)
/// on this core, in batches. Each batch's keys are locked first (sorted,
/// on this core only, released before the next batch: no lock is held
/// while waiting on another core, so no deadlock), so a read-modify-write
/// in flight on a key finishes before the key is deleted, never after;
/// watchers of each deleted key are told. Inside EXEC (`ctx.held`) the
/// transaction's keys are locked already and nothing is locked again.
async fn flush_local(ctx: &KeyCtx, ns: Option<u16>) -> Result<(), Reply> {
    ctx.store
        .touch_watched_before_flush(ns)
        .await
        .map_err(store_err)?;
    for (_, db) in ctx.store.owned() {
        let range = match ns {
            Some(ns) => data_position(ns, 0, 0)..data_end(ns, SLOTS),
            None => Vec::new()..vec![0xff; 4],
        };
        let mut scan = db.scan(range);
        loop {
            let mut records = Vec::with_capacity(FLUSH_BATCH);
            while records.len() < FLUSH_BATCH {
                match scan.next().await.map_err(|e| store_err(e.into()))? {
                    Some((k, _)) => records.push(k),
                    None => break,
                }
            }
            if records.is_empty() {
                break;
            }
            let data: Vec<&[u8]> = records
                .iter()
                .filter(|k| split_data_key(k).is_some())
                .map(Vec::as_slice)
                .collect();
            let _guards = if ctx.held {
                Vec::new()
            } else {
                ctx.store.locks().lock_all(&data).await
            };
            let mut batch = frys_storage::WriteBatch::new();
            for k in &records {
                if let Some((ns, _, _, key)) = split_data_key(k) {
                    ctx.store.note_write(ns, key);
                }
                batch.delete(k);
            }
            db.write(batch).await.map_err(|e| store_err(e.into()))?;
        }
    }
    Ok(())
}

/// Records deleted (and keys locked) per FLUSHDB / FLUSHALL batch.
const FLUSH_BATCH: usize = 512;

fn flush_option(argv: &Argv, first: usize) -> Result<(), Reply> {
    match argv.get(first) {
        None => Ok(()),
        Some(o)
            if argv.len() == first + 1
                && (o.eq_ignore_ascii_case(b"ASYNC") || o.eq_ignore_ascii_case(b"SYNC")) =>
        {
            Ok(())
        }
        Some(_) => Err(Reply::error(errors::SYNTAX)),
    }
}

/// FLUSHDB [ASYNC | SYNC]
pub fn flushdb(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if let Err(e) = flush_option(&argv, 1) {
            return e;
        }
        // Inside EXEC the transaction's keys are locked already.
        let held = ctx.held;
        let r = on_every_core(ctx.ns, move |mut c| {
            c.held = held;
            Box::pin(async move { flush_local(&c, Some(c.ns)).await })
        })
        .await;
        collect_unit(r)
    })
}

/// FLUSHALL [ASYNC | SYNC]
pub fn flushall(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if let Err(e) = flush_option(&argv, 1) {
            return e;
        }
        let held = ctx.held;
        let r = on_every_core(ctx.ns, move |mut c| {
            c.held = held;
            Box::pin(async move { flush_local(&c, None).await })
        })
        .await;
        collect_unit(r)
    })
}

/// COMPACT (as Kvrocks): a full compaction of every partition on every
/// core, which also drops the elements of deleted collections. Answers
/// when all are done.
pub fn compact(ctx: BarrierCtx, _argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let r = on_every_core(ctx.ns, |c| {
            Box::pin(async move {
                for (_, db) in c.store.owned() {
                    db.compact_range().await.map_err(|e| store_err(e.into()))?;
                }
                Ok(())
            })
        })
        .await;
        collect_unit(r)
    })
}

fn collect_unit(r: Result<Vec<Result<(), Reply>>, Reply>) -> Reply {
    match r {
        Ok(v) => v
            .into_iter()
            .find_map(|r| r.err())
            .unwrap_or_else(Reply::ok),
        Err(e) => e,
    }
}

/// The lock (on core 0's table) that serialises SWAPDB; no data key can
/// collide with it (data keys start with `'k'`).
const SWAPDB_LOCK: &[u8] = b"\0swapdb";

/// SWAPDB index1 index2
pub fn swapdb(_ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if crate::cluster::enabled() {
            return Reply::error(errors::SWAPDB_IN_CLUSTER);
        }
        let Some(a) = super::parse_i64(arg(&argv, 1)) else {
            return Reply::error(errors::INVALID_FIRST_DB_INDEX);
        };
        let Some(b) = super::parse_i64(arg(&argv, 2)) else {
            return Reply::error(errors::INVALID_SECOND_DB_INDEX);
        };
        let dbs = i64::from(crate::config::live(|c| c.databases()));
        if a < 0 || a >= dbs || b < 0 || b >= dbs {
            return Reply::error(errors::DB_INDEX_OUT_OF_RANGE);
        }
        let (a, b) = (a as u16, b as u16);
        // Swaps do not commute: every SWAPDB is serialised on core 0 (one
        // lock there), applied to the cores one after another, and the map
        // is persisted before the reply, so all cores and the DBMAP file
        // always hold the same map.
        let done = frys_runtime::spawn_on(0, move || async move {
            let _serial = store::current().locks().lock(SWAPDB_LOCK).await;
            let cores = usize::from(store::current().map().cores());
            let mut map = Vec::new();
            for core in 0..cores {
                let applied = frys_runtime::spawn_on(core, move || async move {
                    let store = store::current();
                    store.swap_dbs(a, b);
                    let (na, nb) = (store.ns_of(a), store.ns_of(b));
                    if let Err(e) = store.touch_watched_after_swap(na, nb).await {
                        tracing::warn!(error = %e.0, "SWAPDB: watched keys not checked");
                    }
                    store.db_map()
                })
                .await;
                match applied {
                    Ok(m) => map = m,
                    Err(e) => return Err(format!("core {core} did not answer: {e}")),
                }
            }
            crate::server::save_db_map(&map)
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Reply::error(format!("ERR could not swap the databases: {e}")),
            Err(e) => return Reply::error(format!("ERR internal: {e}")),
        }
        Reply::ok()
    })
}

/// A SCAN position: `(slot, hash)`.
type Position = (u16, u32);

fn decode_cursor(c: u64) -> Position {
    if c == 0 {
        return (0, 0);
    }
    let c = c - 1;
    (((c >> 32) as u16).min(SLOTS), c as u32)
}

fn encode_cursor(p: Position) -> u64 {
    1 + ((u64::from(p.0) << 32) | u64::from(p.1))
}

/// One step of SCAN on the owner of `from.0`: up to `count` keys of the
/// partition holding that slot, from `from`; and where to go next (`None`:
/// the partition's slots are done).
/// The keys a SCAN step found, each with its type.
type Found = Vec<(Vec<u8>, Option<crate::store::ValueType>)>;

async fn scan_step(
    ctx: &KeyCtx,
    from: Position,
    count: usize,
) -> Result<(Found, Option<Position>, u16), Reply> {
    let map = ctx.store.map();
    let p = map.partition_of_slot(from.0);
    let slots = map.slots_of_partition(p);
    let db = ctx.store.db_of_slot(from.0).map_err(store_err)?;
    let mut scan = db.scan(data_position(ctx.ns, from.0, from.1)..data_end(ctx.ns, slots.end));
    let mut out = Vec::new();
    let mut last: Option<Position> = None;
    while let Some((k, v)) = scan.next().await.map_err(|e| store_err(e.into()))? {
        let Some((_, slot, hash, key)) = split_data_key(&k) else {
            continue;
        };
        if out.len() >= count && last != Some((slot, hash)) {
            return Ok((out, Some((slot, hash)), slots.end));
        }
        last = Some((slot, hash));
        // Only the type byte of the value is kept, never the value.
        out.push((key.to_vec(), Entry::peek(&v).map(|(kind, _)| kind)));
    }
    Ok((out, None, slots.end))
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let cursor = std::str::from_utf8(arg(&argv, 1))
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let Some(cursor) = cursor else {
            return Reply::error(errors::INVALID_CURSOR);
        };
        let (mut pattern, mut count, mut type_filter) = (None, 10usize, None);
        let mut i = 2;
        while i < argv.len() {
            let opt = arg(&argv, i).to_ascii_uppercase();
            let Some(value) = argv.get(i + 1) else {
                return Reply::error(errors::SYNTAX);
            };
            match opt.as_slice() {
                b"MATCH" => pattern = Some(value.to_vec()),
                b"COUNT" => match super::parse_i64(value) {
                    Some(n) if n >= 1 => count = n as usize,
                    Some(_) => return Reply::error(errors::SYNTAX),
                    None => return Reply::error(errors::NOT_AN_INTEGER),
                },
                b"TYPE" => type_filter = Some(value.to_ascii_lowercase()),
                _ => return Reply::error(errors::SYNTAX),
            }
            i += 2;
        }
        let mut pos = decode_cursor(cursor);
        let mut found: Found = Vec::new();
        let next = loop {
            if pos.0 >= SLOTS {
                break 0;
            }
            let want = count.saturating_sub(found.len()).max(1);
            let from = pos;
            let ns = ctx.ns;
            let core = store::current().map().core_of_slot(pos.0);
            let result = frys_runtime::spawn_on(core, move || async move {
                let store = store::current();
                let c = KeyCtx::new(store, ns);
                scan_step(&c, from, want).await
            })
            .await;
            let (keys, resume, end_slot) = match result {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return e,
                Err(e) => return Reply::error(format!("ERR internal: {e}")),
            };
            found.extend(keys);
            match resume {
                Some(p) => break encode_cursor(p),
                None if end_slot >= SLOTS => break 0,
                None => {
                    pos = (end_slot, 0);
                    if found.len() >= count {
                        break encode_cursor(pos);
                    }
                }
            }
        };
        let keys: Vec<Reply> = found
            .into_iter()
            .filter(|(k, kind)| {
                pattern.as_deref().is_none_or(|p| glob_match(p, k))
                    && type_filter
                        .as_deref()
                        .is_none_or(|t| kind.is_some_and(|kind| kind.name().as_bytes() == t))
            })
            .map(|(k, _)| Reply::Bulk(k))
            .collect();
        Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(keys)])
    })
}

/// RANDOMKEY
pub fn randomkey(ctx: BarrierCtx, _: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let map = store::current().map();
        let partitions = map.partitions();
        let seed = random_u64();
        let first = (seed % u64::from(partitions)) as u16;
        for i in 0..partitions {
            let p = (first + i) % partitions;
            let slots = map.slots_of_partition(p);
            let span = u64::from(slots.end - slots.start).max(1);
            let start = (
                slots.start + ((seed >> 16) % span) as u16,
                (seed >> 32) as u32,
            );
            let core = map.core_of_partition(p);
            let ns = ctx.ns;
            let got = frys_runtime::spawn_on(core, move || async move {
                let store = store::current();
                let c = KeyCtx::new(store, ns);
                // From the random point to the end, then from the start.
                let (mut k, _, _) = scan_step(&c, start, 1).await?;
                if let Some((key, _)) = k.pop() {
                    return Ok(Some(key));
                }
                let (mut k, _, _) = scan_step(&c, (slots.start, 0), 1).await?;
                Ok::<_, Reply>(k.pop().map(|(key, _)| key))
            })
            .await;
            match got {
                Ok(Ok(Some(key))) => return Reply::Bulk(key),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return e,
                Err(e) => return Reply::error(format!("ERR internal: {e}")),
            }
        }
        Reply::Null
    })
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(store::now_ms());
    h.finish()
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key — runs the body on the key's owner.
pub fn object_via_owner(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let Some(body) = super::keys::object_body(arg(&argv, 1)) else {
            return Reply::error(errors::SYNTAX);
        };
        let key = arg(&argv, 2).to_vec();
        // Through a transaction: inside EXEC (`held`) the body must not
        // wait behind the caller's own lock of the key.
        let txn = match crate::txn::Txn::begin(&ctx, vec![key.clone()]).await {
            Ok(t) => t,
            Err(e) => return e,
        };
        let reply = txn.on(&key, move |c| body(c, argv)).await;
        txn.end().await;
        match reply {
            Ok(r) | Err(r) => r,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_zero_starts() {
        assert_eq!(decode_cursor(0), (0, 0));
        for p in [(0u16, 0u32), (5, 77), (16383, u32::MAX)] {
            assert_eq!(decode_cursor(encode_cursor(p)), p);
            assert_ne!(encode_cursor(p), 0);
        }
        // A cursor past the end is clamped (and ends the scan).
        assert_eq!(decode_cursor(u64::MAX).0, SLOTS);
    }
}
