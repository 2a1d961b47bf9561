//! The active expiry cycle of one core.
//!
//! Reads never return an expired key (the check is on access), and the
//! storage engine drops expired values when it compacts. This cycle also
//! deletes due keys that nobody reads, so their space comes back and
//! DBSIZE, SCAN and KEYS (which skip expired keys anyway) are matched by
//! the data itself. It walks only the expiry index (`'x' | deadline | ..`),
//! never the keyspace: at most [`KEYS_PER_STEP`] due entries per partition
//! per step, each step one write batch (well under a millisecond of core
//! time), repeated at once while a partition has more due and every
//! [`CYCLE`] otherwise.

use std::rc::Rc;
use std::time::Duration;

use frys_storage::WriteBatch;

use super::encoding::{data_key, split_expiry_key, EXPIRY_TAG};
use super::{now_ms, CoreStore, StoreResult};
use crate::keyspace::key_slot;

/// How often each core looks for due keys.
pub const CYCLE: Duration = Duration::from_millis(100);
/// Most due keys handled per partition per step.
pub const KEYS_PER_STEP: usize = 200;

/// Runs the cycle on this core until the task is dropped.
pub async fn run_expire_cycles(store: Rc<CoreStore>) {
    loop {
        frys_runtime::time::sleep(CYCLE).await;
        let ids: Vec<u16> = store.owned().map(|(id, _)| id).collect();
        for id in ids {
            loop {
                match expire_step(&store, id).await {
                    Ok(n) if n >= KEYS_PER_STEP => frys_runtime::yield_now().await,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(partition = id, error = %e.0, "active expiry step failed");
                        break;
                    }
                }
            }
        }
    }
}

/// Deletes up to [`KEYS_PER_STEP`] due keys of partition `id`; returns how
/// many index entries it handled.
pub async fn expire_step(store: &CoreStore, id: u16) -> StoreResult<usize> {
    let Some(db) = store.partition(id) else {
        return Ok(0);
    };
    let now = now_ms();
    let start = vec![EXPIRY_TAG];
    let mut end = vec![EXPIRY_TAG];
    end.extend_from_slice(&(now + 1).to_be_bytes());
    let mut scan = db.scan(start..end);
    let mut due: Vec<(Vec<u8>, u16, Vec<u8>)> = Vec::new();
    while due.len() < KEYS_PER_STEP {
        let Some((index_key, _)) = scan.next().await? else {
            break;
        };
        if let Some((_, ns, key)) = split_expiry_key(&index_key) {
            let key = key.to_vec();
            due.push((index_key, ns, key));
        }
    }
    drop(scan);
    if due.is_empty() {
        return Ok(0);
    }
    // Lock every key first (sorted: no deadlock), so no client write slips
    // between our check and our delete.
    let data_keys: Vec<Vec<u8>> = due
        .iter()
        .map(|(_, ns, key)| data_key(*ns, key_slot(key), key))
        .collect();
    let refs: Vec<&[u8]> = data_keys.iter().map(|k| k.as_slice()).collect();
    let _guards = store.locks().lock_all(&refs).await;
    let mut batch = WriteBatch::new();
    let mut expired = 0;
    // A key given several deadlines has several index entries: count and
    // delete it once.
    let mut handled: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    for ((index_key, ns, key), dk) in due.iter().zip(&data_keys) {
        batch.delete(index_key);
        if !handled.insert(dk.as_slice()) {
            continue;
        }
        if store.get_unlocked(*ns, key).await?.is_none() && store.is_stored(*ns, key).await? {
            // Expired but still stored: a tombstone lets compaction drop it.
            batch.delete(dk);
            store.watches().note_expired(*ns, key);
            expired += 1;
        }
    }
    super::disk_state::write(db, batch).await?;
    crate::server::stats::count_expired(expired);
    Ok(due.len())
}
