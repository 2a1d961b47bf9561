//! A plugin call whose declared keys live on several cores, through the
//! transaction layer (`txn`).
//!
//! It runs at the connection, as a barrier, in four steps:
//!
//! 1. Lock every declared key on its owning core in the global order, as
//!    EXEC does ([`Txn::run`]): cores ascending, sorted within a core.
//! 2. Snapshot: each owning core reads its share of the keys, one core
//!    after the other in ascending order, with the same caps as a local
//!    call (`plugin-max-collection-elements` per key, and one
//!    `plugin-max-snapshot-bytes` budget for the whole call: each core
//!    reads with what the cores before it left). The values come back by
//!    message: the plugin never touches another core's memory.
//! 3. Run the plugin once, here, on this core's instance, against the
//!    snapshot (so it sees and writes only its own copy, as a local call
//!    does, with the same write limits).
//! 4. Apply: only when the call succeeded, its writes are split by owning
//!    core and every one is turned into records and checked against the
//!    storage limits here ([`apply::prepare`]) before any is sent; then
//!    each core writes its share ([`apply::commit`]), all at once.
//!
//! Isolation and atomicity: every key stays locked from step 1 until every
//! core has written, so no other command or transaction on one of the keys
//! runs in between, on any core, and no client sees part of the call
//! (strict two-phase locking, `txn`'s guarantee). A trap, a timeout, an
//! error reply, a refused key or a write over a limit writes nothing on
//! any core. What can be known before the commit is checked before any
//! core writes: every record and every partition's merged batch against
//! the storage limits ([`apply::prepare`]), and the partition of every
//! written key for writes (each core notes its poisoned or closed
//! partitions during its snapshot step). As for EXEC, crash atomicity
//! across cores is not provided (each partition has its own WAL), and a
//! storage failure on one core's write after the checks (a full disk, a
//! partition failing in between) fails the call with that error while the
//! other cores' shares are written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use frys_plugins::{Plugin, Value, Write};

use crate::command::{BarrierCtx, KeyCtx};
use crate::exec::{join_all, LocalBoxFuture};
use crate::keyspace::key_slot;
use crate::protocol::{Argv, Reply};
use crate::store::{self, StoreError};
use crate::txn::Txn;

use super::apply;
use super::call::{declared_keys, new_call, refusal, Limits};
use super::snapshot::{self, Refused, Snapshot};

/// Runs a plugin call whose keys span cores, as a barrier: command `cmd`
/// of `plugin`, the version the call was routed and ACL-checked by (a
/// RELOAD while the pipeline's earlier commands ran does not change it).
pub fn run(ctx: BarrierCtx, plugin: Arc<Plugin>, cmd: usize, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if ctx.held {
            // Plugin commands are refused inside MULTI, so EXEC never
            // runs one (its locks would be taken twice).
            return Reply::error("ERR internal: a plugin call inside EXEC");
        }
        call(ctx.ns, ctx.resp, plugin, cmd, argv).await
    })
}

/// Runs command `cmd` of `plugin` on `argv` for a client of namespace
/// `ns` and protocol `resp`, from any core, the caller holding no lock.
async fn call(ns: u16, resp: u8, plugin: Arc<Plugin>, cmd: usize, argv: Argv) -> Reply {
    let keys = declared_keys(&plugin, cmd, &argv);
    let map = store::current().map();
    // Each core's keys, cores ascending, in declaration order within.
    let mut by_core: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for k in &keys {
        by_core
            .entry(map.core_of_slot(key_slot(k)))
            .or_default()
            .push(k.clone());
    }
    let limits = Limits::now();
    let elements = plugin.info.abi_version >= 2;
    let locked = keys.iter().map(|k| (ns, k.clone())).collect();
    let mut txn = Txn::lock(ns, resp, locked).await;
    // Cluster mode: once the keys are locked, the slot may have opened or
    // moved since the call was admitted (see `Txn::begin_checking`).
    if crate::cluster::enabled() {
        let refused = match txn.locked().await {
            Err(e) => Some(e),
            Ok(()) => crate::cluster::refuse_locked(keys.iter().map(Vec::as_slice), false)
                .map(Reply::error),
        };
        if let Some(reply) = refused {
            txn.end().await;
            return reply;
        }
    }
    let result = async {
        let (snapshot, unwritable) = match read_all(&txn, by_core, elements, limits).await? {
            Ok(read) => read,
            Err(refused) => return Err(refusal(&plugin, limits, refused)),
        };
        let values = in_order(&keys, snapshot.values);
        let outcome = plugin.run(cmd, new_call(&argv, values, limits));
        if !outcome.writes.is_empty() {
            write_all(&txn, ns, &snapshot.stored, &unwritable, outcome.writes).await?;
        }
        Ok(super::to_reply(outcome.reply))
    }
    .await;
    txn.end().await;
    match result {
        Ok(r) | Err(r) => r,
    }
}

/// The keys whose partition refused writes at the snapshot, with the
/// error a write would get.
type Unwritable = HashMap<Vec<u8>, String, foldhash::fast::RandomState>;

/// Reads each core's keys on that core, cores ascending, sharing one byte
/// budget, and notes the keys whose partition refuses writes (poisoned or
/// closed). The outer error is the transaction layer's, the inner one a
/// refusal of the call.
async fn read_all(
    txn: &Txn,
    by_core: BTreeMap<usize, Vec<Vec<u8>>>,
    elements: bool,
    limits: Limits,
) -> Result<Result<(Snapshot, Unwritable), Refused>, Reply> {
    let mut unwritable = Unwritable::default();
    let mut all = Snapshot {
        values: Vec::new(),
        stored: Vec::new(),
        bytes: 0,
    };
    for (_, core_keys) in by_core {
        let Some(first) = core_keys.first().cloned() else {
            continue;
        };
        let left = limits.snapshot_bytes - all.bytes;
        let cap = limits.elements;
        let (part, refusing) = txn
            .on(&first, move |kctx| {
                Box::pin(async move {
                    let refusing = refusing_writes(&kctx, &core_keys);
                    let part = snapshot::read(&kctx, core_keys, elements, cap, left).await;
                    (part, refusing)
                })
            })
            .await?;
        unwritable.extend(refusing);
        match part {
            Ok(s) => {
                all.values.extend(s.values);
                all.stored.extend(s.stored);
                all.bytes += s.bytes;
            }
            Err(refused) => return Ok(Err(refused)),
        }
    }
    Ok(Ok((all, unwritable)))
}

/// The keys of `keys` (of this core) whose partition refuses writes now,
/// with the error a write would get: a poisoned partition refuses every
/// write until restart, so a call writing it must fail before any other
/// core commits its share.
fn refusing_writes(kctx: &KeyCtx, keys: &[Vec<u8>]) -> Vec<(Vec<u8>, String)> {
    keys.iter()
        .filter_map(|k| {
            let db = kctx.store.db_of_slot(key_slot(k));
            let refused = db.and_then(|db| db.check_writable().map_err(StoreError::from));
            Some((k.clone(), refused.err()?.0))
        })
        .collect()
}

/// `values` in the order of `keys` (the declaration order a local call
/// hands the plugin).
fn in_order(keys: &[Vec<u8>], values: Vec<(Vec<u8>, Value)>) -> Vec<(Vec<u8>, Value)> {
    // Each key's place, looked up once per value: linear, not quadratic.
    let place: HashMap<&[u8], usize, foldhash::fast::RandomState> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_slice(), i))
        .collect();
    let mut slots: Vec<Option<(Vec<u8>, Value)>> = (0..keys.len()).map(|_| None).collect();
    for (key, value) in values {
        if let Some(slot) = place.get(key.as_slice()).and_then(|&i| slots.get_mut(i)) {
            *slot = Some((key, value));
        }
    }
    slots.into_iter().flatten().collect()
}

/// Prepares every core's share of `writes` here (nothing is written if
/// one fails its checks, or writes a key whose partition refused writes
/// at the snapshot), then writes all shares at once, each on its core.
async fn write_all(
    txn: &Txn,
    ns: u16,
    stored: &[(Vec<u8>, crate::store::Collection)],
    unwritable: &Unwritable,
    writes: Vec<Write>,
) -> Result<(), Reply> {
    if let Some(text) = writes.iter().find_map(|w| unwritable.get(write_key(w))) {
        return Err(Reply::Error(text.clone().into()));
    }
    let map = store::current().map();
    let mut by_core: BTreeMap<usize, (Vec<u8>, Vec<Write>)> = BTreeMap::new();
    for w in writes {
        let key = write_key(&w).to_vec();
        let core = map.core_of_slot(key_slot(&key));
        by_core
            .entry(core)
            .or_insert_with(|| (key, Vec::new()))
            .1
            .push(w);
    }
    let mut shares = Vec::with_capacity(by_core.len());
    for (_, (first, core_writes)) in by_core {
        let prepared =
            apply::prepare(ns, map, stored, core_writes).map_err(|e| Reply::Error(e.into()))?;
        shares.push((first, prepared));
    }
    let commits = shares.into_iter().map(|(first, prepared)| async move {
        txn.on(&first, move |kctx| {
            Box::pin(async move { apply::commit(&kctx, prepared).await })
        })
        .await
    });
    let mut failed = None;
    for result in join_all(commits.collect()).await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = failed.or(Some(Reply::Error(e.into()))),
            Err(reply) => failed = failed.or(Some(reply)),
        }
    }
    failed.map_or(Ok(()), Err)
}

/// The key a write changes.
fn write_key(w: &Write) -> &[u8] {
    match w {
        Write::Set { key, .. }
        | Write::Delete { key }
        | Write::Collection { key, .. }
        | Write::Expire { key, .. } => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_in_declaration_order_and_strays_are_dropped() {
        let keys: Vec<Vec<u8>> = (0..2000).map(|i| format!("k{i}").into_bytes()).collect();
        // Cores answer in their own order; one value is for no declared key.
        let mut values: Vec<(Vec<u8>, Value)> = keys
            .iter()
            .rev()
            .map(|k| (k.clone(), Value::Missing))
            .collect();
        values.push((b"stray".to_vec(), Value::Missing));
        let ordered = in_order(&keys, values);
        let got: Vec<&Vec<u8>> = ordered.iter().map(|(k, _)| k).collect();
        assert_eq!(got, keys.iter().collect::<Vec<_>>());
    }
}
