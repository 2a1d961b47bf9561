//! The WAL task: group commit, the once-a-second sync, memtable switches.
//!
//! At most one runs per partition (`CommitQueue` tracks it). It owns the WAL
//! writer while it runs and applies committed batches to the memtable, so
//! the memtable is written by one task only.
//!
//! Memtable switches (freeze the memtable, start a new WAL segment):
//! - one is tried, before the turn's group, when the memtable is full or
//!   a switch was requested (`flush`, the core's budget). Every request
//!   gets exactly one attempt, with or without writes to commit, and is
//!   cleared after it, so nothing waits on a request nobody serves;
//! - no room for the new segment's file (its exclusive create fails with
//!   `DiskFull`: `ENOSPC`, no free inode, `EDQUOT`) changed nothing: the
//!   error is kept in `switch_no_room`, the memtable goes on writing the
//!   old segment, and a full memtable retries the switch at the next
//!   write only (once per group, never in a loop of its own); the switch
//!   that succeeds clears it. `flush` reports the kept error;
//! - any other failure poisons the partition, and a poisoned partition
//!   tries no switch at all;
//! - the memtable's bound is checked per batch (`admit`): while the last
//!   switch found no room, no batch takes the memtable past twice
//!   `memtable_bytes`; such batches are refused with the kept error.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use frys_runtime as rt;

use super::commit::Slot;
use super::log::LogWriter;
use super::metrics::add;
use super::{maintenance, Frozen, Inner};
use crate::batch::{BatchOp, WriteBatch};
use crate::error::{Error, Result};
use crate::files;
use crate::key::{self, Kind};
use crate::memtable::Memtable;
use crate::options::SyncPolicy;
use crate::wal;

/// Starts the WAL task (the caller checked none runs).
pub(crate) fn start(inner: &Rc<Inner>) {
    if !inner.commit.claim_task() {
        return;
    }
    let inner = inner.clone();
    // In the default queue, not the first writer's: it commits for every
    // writer of the partition.
    rt::TaskQueue::default().spawn_local(async move {
        // Let the other tasks of this tick queue their writes first.
        rt::yield_now().await;
        run(&inner).await;
    });
}

async fn run(inner: &Rc<Inner>) {
    let Some(mut wal) = inner.wal.borrow_mut().take() else {
        // Closed: nobody will commit these.
        for (_, slot) in inner.commit.take_all() {
            slot.complete(Err(Error::Closed));
        }
        // Nor switch: a `flush` waiting for its request must not wait on.
        inner.switch_requested.set(false);
        inner.commit.release_task();
        inner.maintenance_progress.notify_all();
        return;
    };
    // Batches held back until the memtable switch due before them
    // (`admit`); they go first in the next group.
    let mut held = Vec::new();
    loop {
        let mut group = std::mem::take(&mut held);
        group.extend(inner.commit.take_all());
        let sync_due = inner.sync_due.replace(false);
        let switch = switch_due(inner, !group.is_empty());
        if group.is_empty() && !sync_due && !switch {
            break;
        }
        // Before the group: after a switch that had failed, the first
        // write once there is room goes into the new memtable rather than
        // being refused.
        if switch {
            try_switch(inner, &mut wal).await;
        }
        if !group.is_empty() {
            let admitted = admit(inner, group, &mut held);
            if !admitted.is_empty() {
                commit_group(inner, &mut wal, admitted).await;
            }
        }
        if sync_due && wal.unsynced && inner.opts.sync != SyncPolicy::No {
            if let Err(e) = sync(inner, &mut wal).await {
                inner.poison(format!("WAL sync failed: {e}"));
            }
        }
        // Between groups, let readers and other tasks run.
        rt::yield_now().await;
    }
    *inner.wal.borrow_mut() = Some(wal);
    inner.commit.release_task();
    inner.maintenance_progress.notify_all();
}

/// Whether this turn of the WAL task tries a memtable switch: one attempt
/// per request (`flush`, the core's budget), even with no write waiting;
/// and when the memtable is full, unless the last attempt found no room
/// and no write waits (it is retried at the next write, never in a loop
/// of its own). Never on a poisoned or closed partition.
fn switch_due(inner: &Inner, writes_waiting: bool) -> bool {
    if inner.switch_requested.get() {
        return true;
    }
    if inner.check_writable().is_err() {
        return false;
    }
    let full = inner.state.borrow().mem.borrow().data_bytes() >= inner.opts.memtable_bytes;
    full && (writes_waiting || inner.switch_no_room.borrow().is_none())
}

/// Makes one switch attempt and records its outcome; clears the request
/// it answers and wakes `flush` callers waiting for that.
async fn try_switch(inner: &Rc<Inner>, wal: &mut LogWriter) {
    let worth_it = inner.check_writable().is_ok() && !inner.state.borrow().mem.borrow().is_empty();
    if worth_it {
        match switch_memtable(inner, wal).await {
            Ok(()) => {
                if inner.switch_no_room.borrow_mut().take().is_some() {
                    tracing::info!(dir = %inner.dir.display(), "room for a new WAL segment again: writes are taken past the memtable's bound");
                }
            }
            Err(Switch::NoRoom(e)) => {
                if inner.switch_no_room.borrow().is_none() {
                    tracing::warn!(dir = %inner.dir.display(), error = %e, "no room for a new WAL segment: the memtable keeps the old one, up to twice its size");
                }
                *inner.switch_no_room.borrow_mut() = Some(e);
            }
            Err(Switch::Failed(e)) => {
                inner.poison(format!("cannot start a new WAL segment: {e}"));
            }
        }
    }
    // Cleared only once the attempt is over, so that the core's budget
    // does not ask again for a switch under way.
    inner.switch_requested.set(false);
    inner.maintenance_progress.notify_all();
}

/// The memtable's bound, per batch: a batch goes in if the memtable stays
/// within twice `memtable_bytes` with it, or, while switches succeed, if
/// the memtable is below `memtable_bytes` (a batch larger than the
/// memtable goes in whole, then the memtable switches; the WAL's record
/// limit bounds it). Past that, a batch waits for the switch (`held`, in
/// order, with every batch behind it), or, if the last switch found no
/// room, is refused with that error. So once a switch has found no room,
/// the memtable grows past neither twice `memtable_bytes` nor the size it
/// had then: a batch admitted below the limit before the first failed
/// switch can take it further, by at most that one batch (itself bounded
/// by the WAL's record limit).
fn admit(
    inner: &Inner,
    group: Vec<(WriteBatch, Rc<Slot>)>,
    held: &mut Vec<(WriteBatch, Rc<Slot>)>,
) -> Vec<(WriteBatch, Rc<Slot>)> {
    if inner.check_writable().is_err() {
        // `commit_group` refuses them all.
        return group;
    }
    let limit = inner.opts.memtable_bytes;
    let mut bytes = inner.state.borrow().mem.borrow().data_bytes();
    let no_room = inner.switch_no_room.borrow();
    let mut admitted = Vec::with_capacity(group.len());
    let mut batches = group.into_iter();
    while let Some((batch, slot)) = batches.next() {
        let size: usize = batch.iter().map(memtable_bytes_of).sum();
        let within_twice = bytes.saturating_add(size) <= limit.saturating_mul(2);
        if within_twice || (bytes < limit && no_room.is_none()) {
            bytes += size;
            admitted.push((batch, slot));
            continue;
        }
        match &*no_room {
            // Not applied: the batches behind it may still fit.
            Some(e) => slot.complete(Err(e.duplicate())),
            None => {
                held.push((batch, slot));
                held.extend(batches);
                break;
            }
        }
    }
    admitted
}

async fn sync(inner: &Inner, wal: &mut LogWriter) -> Result<()> {
    wal.sync().await?;
    add(&inner.counters.wal_syncs, 1);
    Ok(())
}

/// Writes one group to the WAL, syncs it if the policy says so, applies it.
async fn commit_group(inner: &Rc<Inner>, wal: &mut LogWriter, group: Vec<(WriteBatch, Rc<Slot>)>) {
    if let Err(e) = inner.check_writable() {
        for (_, slot) in group {
            slot.complete(Err(e.duplicate()));
        }
        return;
    }
    let first = inner.state.borrow().last_seqno + 1;
    let mut next = first;
    // Sized once for the whole group: one record (header + payload) per batch.
    let mut buf = Vec::with_capacity(
        group
            .iter()
            // A batch over the payload limit is refused below: reserve
            // nothing past the limit for it.
            .map(|(b, _)| wal::HEADER_LEN + b.approximate_size().min(wal::MAX_PAYLOAD_LEN as usize))
            .sum(),
    );
    let mut payload = Vec::new();
    let mut user_bytes = 0u64;
    let mut accepted = Vec::with_capacity(group.len());
    for (batch, slot) in group {
        payload.clear();
        let encoded = batch
            .encode(next, &mut payload)
            .map_err(|e| Error::InvalidArgument(e.to_string()))
            .and_then(|()| {
                wal::encode_record(&payload, &mut buf)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))
            });
        match encoded {
            Ok(()) => {
                user_bytes += batch.iter().map(user_bytes_of).sum::<u64>();
                next += batch.len() as u64;
                accepted.push((batch, slot));
            }
            Err(e) => slot.complete(Err(e)),
        }
    }
    if accepted.is_empty() {
        return;
    }
    let written = buf.len() as u64;
    let result = match wal.append(&buf) {
        Ok(_) if inner.opts.sync == SyncPolicy::Always => sync(inner, wal).await.map_err(|e| {
            inner.poison(format!("WAL fdatasync failed: {e}"));
            e
        }),
        Ok(_) => Ok(()),
        Err(e) => {
            if !matches!(e, Error::DiskFull { .. }) {
                inner.poison(format!("WAL write failed: {e}"));
            }
            Err(e)
        }
    };
    if let Err(e) = result {
        for (_, slot) in accepted {
            slot.complete(Err(e.duplicate()));
        }
        return;
    }
    {
        let state = inner.state.borrow();
        let mut mem = state.mem.borrow_mut();
        let mut seqno = first;
        let mut field = Vec::new();
        for (batch, _) in &accepted {
            for op in batch.iter() {
                match op {
                    BatchOp::Put {
                        key: k,
                        value,
                        expires_at,
                    } => {
                        field.clear();
                        key::encode_value(expires_at, value, &mut field);
                        mem.insert(k, seqno, Kind::Put, &field);
                    }
                    BatchOp::Delete { key: k } => mem.insert(k, seqno, Kind::Delete, b""),
                }
                seqno += 1;
            }
        }
    }
    inner.state.borrow_mut().last_seqno = next - 1;
    add(&inner.counters.writes, accepted.len() as u64);
    add(&inner.counters.commit_groups, 1);
    add(&inner.counters.user_bytes_written, user_bytes);
    add(&inner.counters.disk_bytes_written, written);
    for (_, slot) in accepted {
        slot.complete(Ok(()));
    }
    enforce_write_buffer(inner);
}

/// Over the core's write-buffer budget: freeze the largest live memtable
/// of the core's partitions (this one's WAL task picks the request up at
/// its next turn; another's is started).
fn enforce_write_buffer(inner: &Inner) {
    let Some(budget) = &inner.opts.budget else {
        return;
    };
    if let Some(largest) = budget.over_budget_partition() {
        largest.switch_requested.set(true);
        add(&largest.counters.write_buffer_switches, 1);
        start(&largest);
    }
}

/// Bytes one operation adds to the memtable (`Memtable::data_bytes`):
/// its internal key and value field.
fn memtable_bytes_of(op: BatchOp<'_>) -> usize {
    match op {
        BatchOp::Put {
            key: k,
            value,
            expires_at,
        } => k.len() + key::TRAILER_LEN + 1 + expires_at.map_or(0, |_| 8) + value.len(),
        BatchOp::Delete { key: k } => k.len() + key::TRAILER_LEN,
    }
}

/// Bytes of user data in one operation: key plus value.
fn user_bytes_of(op: BatchOp<'_>) -> u64 {
    match op {
        BatchOp::Put { key, value, .. } => (key.len() + value.len()) as u64,
        BatchOp::Delete { key } => key.len() as u64,
    }
}

/// Why a memtable switch did not happen.
enum Switch {
    /// No room for the new segment's file (`DiskFull` from its exclusive
    /// create, which then made no file): nothing changed, the memtable
    /// goes on writing the old segment.
    NoRoom(Error),
    /// Anything else: the partition's state is not known (a directory or
    /// segment sync failed, the create failed otherwise).
    Failed(Error),
}

impl From<Error> for Switch {
    fn from(e: Error) -> Switch {
        Switch::Failed(e)
    }
}

/// Freezes the memtable and starts a new WAL segment for the next one.
async fn switch_memtable(inner: &Rc<Inner>, wal: &mut LogWriter) -> Result<(), Switch> {
    let number = inner.state.borrow_mut().allocate_file();
    // A number left unused by a failed create is harmless: numbers only
    // order files, and recovery takes the next one past every file.
    let fresh = match LogWriter::create(&inner.fs, files::wal_path(&inner.dir, number)).await {
        Ok(fresh) => fresh,
        Err(e @ Error::DiskFull { .. }) => return Err(Switch::NoRoom(e)),
        Err(e) => return Err(Switch::Failed(e)),
    };
    files::sync_dir(&inner.fs, &inner.dir).await?;
    let mut old = std::mem::replace(wal, fresh);
    // Synced under every policy, `No` too: recovery takes a damaged
    // record followed by a newer segment with data for corruption, so no
    // segment may get data before the older ones are durable. (Power-loss
    // case under `No`: an unsynced segment torn by the power loss, with
    // the next one's pages on disk, left a partition that would not open.)
    if old.unsynced {
        sync(inner, &mut old).await?;
    }
    {
        let mut state = inner.state.borrow_mut();
        let mem = std::mem::replace(&mut state.mem, Rc::new(RefCell::new(Memtable::new())));
        let wals = std::mem::replace(&mut state.mem_wals, vec![number]);
        state.frozen.push(Frozen { mem, wals });
    }
    maintenance::update_pressure(inner);
    maintenance::kick(inner);
    Ok(())
}

/// Under `EverySec`, marks a sync due every second and makes sure the WAL
/// task runs. Stops when the partition is closed or abandoned; it holds only
/// a `Weak`, so it never keeps the directory's lock.
pub(crate) fn start_everysec_timer(inner: &Rc<Inner>) {
    if inner.opts.sync != SyncPolicy::EverySec {
        return;
    }
    let weak: Weak<Inner> = Rc::downgrade(inner);
    // In the default queue, not the opener's (it lives as long as the
    // partition).
    rt::TaskQueue::default().spawn_local(async move {
        let mut tick = rt::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            if inner.closed.get() || inner.abandoned.get() {
                return;
            }
            if inner.wal.borrow().as_ref().is_some_and(|w| !w.unsynced) {
                continue;
            }
            inner.sync_due.set(true);
            start(&inner);
        }
    });
}

/// Waits until every queued write is committed (the WAL task notifies
/// `maintenance_progress` when it stops).
pub(crate) async fn drain(inner: &Rc<Inner>) {
    while inner.commit.busy() {
        if !inner.commit.task_running() {
            start(inner);
        }
        inner.maintenance_progress.notified().await;
    }
}

/// Syncs the WAL at close (unless the policy is `No`).
pub(crate) async fn final_sync(inner: &Rc<Inner>) -> Result<()> {
    let wal = inner.wal.borrow_mut().take();
    if let Some(mut wal) = wal {
        if wal.unsynced && inner.opts.sync != SyncPolicy::No {
            sync(inner, &mut wal).await?;
        }
    }
    Ok(())
}
