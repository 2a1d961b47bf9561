//! Background work: the flush task and the compaction tasks, and the
//! write throttle that keeps writers from outrunning them.
//!
//! - **The flush task** (at most one) writes frozen memtables to L0 tables,
//!   oldest first (`db::flush`). It never waits for a compaction: a long
//!   merge holds no lock the flush needs except the
//!   [`EditLock`](super::install::EditLock), for the time of one manifest
//!   edit.
//! - **Compaction tasks** (at most
//!   [`Options::max_compactions`](crate::Options::max_compactions) at once)
//!   each carry out one choice of the pure policy. The scheduler marks a
//!   choice's input tables busy before the task starts and clears them
//!   when it ends; the policy never picks a job that reads a busy table or
//!   whose key range overlaps a busy table of the two levels involved, so
//!   concurrent jobs read disjoint inputs and write disjoint key ranges,
//!   and a job's `drop_tombstones` (nothing below its output level in its
//!   range) stays true while it runs: no other job can move data into that
//!   range below it.
//! - **A manual compaction** (`compact_range`) runs alone among
//!   compactions: once requested, no automatic one starts; it starts when
//!   the running ones have ended, and automatic ones resume after it.
//!   Flushes go on meanwhile (they only add newer L0 tables, which the
//!   manual plan leaves alone).
//!
//! **Where they run:** compactions are spawned into the runtime's
//! [`BACKGROUND_QUEUE`] task queue, of
//! [`Options::background_shares`](crate::Options::background_shares)
//! (`background_queue`), and what they spawn (merge steps,
//! subcompactions, the filter's reads) inherits it; on a core the
//! foreground keeps busy they get a small share of its time instead of an
//! equal turn. With `background_shares: None` they run in the default
//! queue. The flush task always runs in the default queue: a write stop
//! at 4 frozen memtables ends only when a flush catches up, and with the
//! background's share a stop would last about 11 times the flush's CPU
//! time on a core that readers keep busy.
//!
//! A failed step poisons the partition; no task starts a step after that,
//! or once the partition is closed or abandoned. Except a full disk: a
//! flush or compaction that could not write a table, or whose manifest
//! append did not fit (`ENOSPC`), has changed nothing durable (the table
//! is removed, the append cut off), so it is retried every
//! [`SPACE_RETRY`] instead, and succeeds once space is back. Until then
//! `flush`, `compact_range` and `close` report the disk-full error (a new
//! call waits for the next attempt), and writers that the backlog would
//! stall get it too: acknowledged data stays in the WAL and readable, and
//! the partition takes writes again without a reopen. A failed sync, or
//! a failed append that could not be cut off, still poisons. The pause
//! ends at once when the partition is closed or dropped (the task holds
//! the partition, and so its directory lock). A manual compaction that
//! failed for want of space is not retried: its caller gets the error,
//! and nothing else does.
//!
//! Write stalls (see `compaction::write_pressure`): with the defaults,
//! writes are delayed 1–4 ms each from 8 L0 tables (or 2 frozen memtables)
//! upward, growing linearly, and wait entirely at 12 L0 tables (or 4 frozen
//! memtables) until flushes and compactions catch up. Every delay is counted
//! and timed, and so is every stop period (wall time from the first writer
//! that meets the stop until the pressure drops): see [`Metrics`](crate::Metrics).

use std::rc::Rc;
use std::time::{Duration, Instant};

use frys_runtime as rt;

use super::metrics::add;
use super::{compact, flush, Inner};
use crate::compaction::{self, Choice, Levels, PolicyConfig, Pressure};
use crate::error::{Error, Result};
use crate::options::BACKGROUND_QUEUE;

/// Starts whatever background work is due: the flush task if a memtable
/// is frozen, compactions the policy asks for.
pub(crate) fn kick(inner: &Rc<Inner>) {
    start_flush(inner);
    schedule_compactions(inner);
}

/// The task queue background tasks are spawned into (see the module
/// docs): the runtime's shared [`BACKGROUND_QUEUE`], made on first use.
fn background_queue(inner: &Inner) -> rt::TaskQueue {
    let Some(shares) = inner.opts.background_shares else {
        return rt::TaskQueue::default();
    };
    match rt::TaskQueue::new(BACKGROUND_QUEUE, shares.clamp(1, rt::MAX_SHARES)) {
        Ok(queue) | Err(rt::TaskQueueError::Exists(queue)) => queue,
        Err(e) => {
            // Once per thread (core), not on every spawn.
            thread_local!(static WARNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
            if !WARNED.with(|w| w.replace(true)) {
                tracing::warn!(error = %e, "storage background work runs in the default task queue");
            }
            rt::TaskQueue::default()
        }
    }
}

/// Whether new background steps may start.
fn may_start(inner: &Inner) -> bool {
    inner.poisoned.borrow().is_none() && !inner.closed.get() && !inner.abandoned.get()
}

/// Records a failed step: poison, keep the error for `flush`/`close`.
fn fail(inner: &Inner, e: Error) {
    inner.poison(format!("background flush/compaction failed: {e}"));
    inner.background_error.borrow_mut().get_or_insert(e);
}

/// How long a step that failed for want of space waits before it is tried
/// again.
pub(crate) const SPACE_RETRY: Duration = Duration::from_secs(1);

/// Whether a failed step may be retried: the disk was full.
fn for_want_of_space(e: &Error) -> bool {
    // Every `DiskFull` a step returns comes from a point that left no
    // trace: a table `write_table` removed again, or a manifest append cut
    // off again, with the tables of that edit removed
    // (`install::log_and_install`; an append it could not cut off, and a
    // rotation failing after the edit was installed, poisoned the
    // partition already, and `failed` checks that first).
    matches!(e, Error::DiskFull { .. })
}

/// Handles a failed step: a full disk is noted and waited out for
/// [`SPACE_RETRY`] (returns true: try again, if the partition still
/// runs); anything else poisons (returns false).
async fn failed(inner: &Inner, e: Error) -> bool {
    if !for_want_of_space(&e) || inner.poisoned.borrow().is_some() {
        fail(inner, e);
        return false;
    }
    if inner.out_of_space.borrow().is_none() {
        tracing::warn!(dir = %inner.dir.display(), error = %e, "disk full: flushes and compactions wait for space");
    }
    *inner.out_of_space.borrow_mut() = Some(e);
    // Waiters (`wait_idle`, stalled writers) see it now.
    inner.maintenance_progress.notify_all();
    // The pause ends early once the partition is closed or abandoned: the
    // task holds the partition (and so its directory lock) while it waits.
    let until = Instant::now() + SPACE_RETRY;
    loop {
        if !may_start(inner) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        let _ = rt::time::timeout(left, inner.maintenance_progress.notified()).await;
    }
}

/// A caller asks for the work again (`flush`, `compact_range`): forget an
/// earlier disk-full failure and wait for the next attempt's outcome.
pub(crate) fn retry_now(inner: &Inner) {
    inner.out_of_space.borrow_mut().take();
}

/// A step succeeded: space is back, if it was short.
fn succeeded(inner: &Inner) {
    if inner.out_of_space.borrow_mut().take().is_some() {
        tracing::info!(dir = %inner.dir.display(), "disk has room again: flushes and compactions resume");
    }
}

/// Whether any background task runs.
pub(crate) fn busy(inner: &Inner) -> bool {
    inner.flush_running.get() || inner.compactions_running.get() > 0 || inner.manual_running.get()
}

/// Starts the flush task unless it runs or nothing is frozen.
fn start_flush(inner: &Rc<Inner>) {
    if !may_start(inner) || inner.state.borrow().frozen.is_empty() {
        return;
    }
    if inner.flush_running.replace(true) {
        return;
    }
    let inner = inner.clone();
    // In the default queue, not the background one: only a flush ends a
    // write stop, and stopped writers wait on it (see the module docs).
    rt::TaskQueue::default().spawn_local(async move {
        while may_start(&inner) && !inner.state.borrow().frozen.is_empty() {
            if let Err(e) = flush::flush_oldest(&inner).await {
                if failed(&inner, e).await {
                    continue;
                }
                break;
            }
            succeeded(&inner);
            update_pressure(&inner);
            inner.maintenance_progress.notify_all();
            // A new L0 table may make a compaction due.
            schedule_compactions(&inner);
            rt::yield_now().await;
        }
        inner.flush_running.set(false);
        update_pressure(&inner);
        inner.maintenance_progress.notify_all();
    });
}

/// Starts compactions while the policy finds idle work and slots are free
/// (or the manual compaction, once nothing else compacts).
pub(crate) fn schedule_compactions(inner: &Rc<Inner>) {
    loop {
        if !may_start(inner) || inner.manual_running.get() {
            return;
        }
        if inner.manual_requested.get() {
            if inner.compactions_running.get() == 0 {
                start_manual(inner);
            }
            return;
        }
        if inner.compactions_running.get() >= inner.opts.max_compactions.max(1) {
            return;
        }
        let choice = {
            let busy = inner.busy_tables.borrow();
            compaction::choose(&levels(inner), &policy_config(inner), &busy)
        };
        match choice {
            Choice::DoNothing => return,
            choice => start_compaction(inner, choice),
        }
    }
}

/// The tables a choice reads.
fn inputs_of(choice: &Choice) -> Vec<u64> {
    match choice {
        Choice::DoNothing => Vec::new(),
        Choice::Move { table, .. } => vec![*table],
        Choice::Merge { inputs, .. } => inputs.iter().map(|(_, id)| *id).collect(),
    }
}

/// Marks the choice's inputs busy and runs it in a task of its own.
fn start_compaction(inner: &Rc<Inner>, choice: Choice) {
    let ids = inputs_of(&choice);
    inner.busy_tables.borrow_mut().extend(ids.iter().copied());
    inner
        .compactions_running
        .set(inner.compactions_running.get() + 1);
    let inner = inner.clone();
    background_queue(&inner).spawn_local(async move {
        match compact::run_choice(&inner, choice).await {
            Ok(()) => succeeded(&inner),
            // Inputs stay busy during a pause for space: the policy does
            // not pick the same job again at once.
            Err(e) => {
                failed(&inner, e).await;
            }
        }
        {
            let mut busy = inner.busy_tables.borrow_mut();
            for id in &ids {
                busy.remove(id);
            }
        }
        inner
            .compactions_running
            .set(inner.compactions_running.get() - 1);
        update_pressure(&inner);
        inner.maintenance_progress.notify_all();
        schedule_compactions(&inner);
    });
}

/// Runs the requested manual compaction (no other compaction runs).
fn start_manual(inner: &Rc<Inner>) {
    inner.manual_requested.set(false);
    inner.manual_running.set(true);
    let inner = inner.clone();
    background_queue(&inner).spawn_local(async move {
        let result = compact::manual(&inner).await;
        inner.manual_running.set(false);
        match result {
            // Reported to the caller (`compact_all`), not retried, and not
            // kept: later writers, flushes and `close` must not see it.
            Err(e) if for_want_of_space(&e) && inner.poisoned.borrow().is_none() => {
                *inner.manual_out_of_space.borrow_mut() = Some(e);
            }
            Err(e) => fail(&inner, e),
            Ok(()) => succeeded(&inner),
        }
        update_pressure(&inner);
        inner.maintenance_progress.notify_all();
        schedule_compactions(&inner);
    });
}

/// The policy's view of the current table set.
pub(crate) fn levels(inner: &Inner) -> Levels {
    Levels {
        levels: inner.state.borrow().manifest.levels().to_vec(),
    }
}

pub(crate) fn policy_config(inner: &Inner) -> PolicyConfig {
    PolicyConfig {
        level_base_bytes: inner.opts.level_base_bytes,
        target_file_size: inner.opts.target_file_size,
        ..PolicyConfig::default()
    }
}

/// Recomputes the write pressure (after the table set or the number of
/// frozen memtables changed).
pub(crate) fn update_pressure(inner: &Inner) {
    let frozen = inner.state.borrow().frozen.len();
    let p = compaction::write_pressure(&levels(inner), frozen, &policy_config(inner));
    inner.pressure.set(p);
    if p != Pressure::Stop {
        inner.counters.stop_ends();
    }
}

/// Slows a writer down, or makes it wait, while compaction is behind.
pub(crate) async fn throttle_writes(inner: &Rc<Inner>) -> Result<()> {
    let mut counted_stop = false;
    loop {
        match inner.pressure.get() {
            Pressure::None => return Ok(()),
            Pressure::Slowdown { delay_micros } => {
                let start = Instant::now();
                rt::time::sleep(Duration::from_micros(delay_micros)).await;
                inner.counters.slowed_down(start.elapsed());
                return Ok(());
            }
            Pressure::Stop => {
                inner.check_writable()?;
                // The backlog cannot shrink until the disk has room.
                if let Some(e) = &*inner.out_of_space.borrow() {
                    return Err(e.duplicate());
                }
                if !counted_stop {
                    add(&inner.counters.write_stops, 1);
                    inner.counters.stop_begins();
                    counted_stop = true;
                }
                kick(inner);
                inner.maintenance_progress.notified().await;
            }
        }
    }
}

/// Waits until no write is queued and no flush or compaction is pending.
pub(crate) async fn wait_idle(inner: &Rc<Inner>) -> Result<()> {
    loop {
        if let Some(e) = &*inner.background_error.borrow() {
            return Err(e.duplicate());
        }
        if let Some(reason) = &*inner.poisoned.borrow() {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        if let Some(e) = &*inner.out_of_space.borrow() {
            return Err(e.duplicate());
        }
        let idle = !busy(inner)
            && inner.state.borrow().frozen.is_empty()
            && !inner.switch_requested.get()
            && !inner.manual_requested.get()
            && !inner.commit.busy();
        if idle {
            return Ok(());
        }
        if !inner.commit.busy() {
            // Work may be pending that nobody runs (kicking is idempotent).
            kick(inner);
        }
        inner.maintenance_progress.notified().await;
    }
}
