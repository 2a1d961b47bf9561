//! Compaction work: the merging runs in `Send` steps (stealable by an idle
//! core, yielding every few thousand entries, `db::merge_run`); reading the
//! inputs ahead (`db::stream`) and writing and installing the outputs happen
//! on the owning core. With a [`CompactionFilter`](crate::CompactionFilter),
//! the dependencies of the inputs are resolved first (`db::filter`) and the
//! merge consults them. A large L0→L1 merge may be split into
//! subcompactions by key range (`db::subcompact`), run side by side.
//!
//! Crash safety: outputs are written and synced one by one as they are cut,
//! but only the one edit at the end (`install::log_and_install`) names them
//! and drops the inputs, so a crash mid-merge leaves the old table set plus
//! unreferenced outputs, which the next open removes. A failed merge removes
//! the outputs it wrote (every share's) and installs nothing.

use std::rc::Rc;

use frys_runtime as rt;

use super::filter;
use super::merge_run::{fill_sources, MergeError, MergeJob, MergeRun, Step};
use super::metrics::add;
use super::read::now_ms;
use super::stream::{KeyRange, MergeMemory, StreamError, StreamInput};
use super::{install, maintenance, subcompact, Inner};
use crate::compaction::Choice;
use crate::error::{Error, Result};
use crate::files;
use crate::key::SeqNo;
use crate::manifest::{TableMeta, VersionEdit};
use crate::sstable::TableOptions;
use crate::table::Table;

/// The outcome of a task over the inputs (the merge, or collecting
/// dependencies), as the partition reports it.
pub(super) fn task_result<T>(
    inner: &Inner,
    r: std::result::Result<std::result::Result<T, MergeError>, rt::JoinError>,
) -> Result<T> {
    Err(match r {
        Ok(Ok(t)) => return Ok(t),
        Ok(Err(MergeError::Input { id, error })) => {
            let path = files::table_path(&inner.dir, id);
            match error {
                StreamError::Table(e) => crate::table::corrupt(&path, e),
                StreamError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    Error::corruption(&path, 0, "file ends before a block its index names")
                }
                StreamError::Io(e) => Error::io("read", &path, e),
                StreamError::Rewind => Error::InvalidArgument(format!(
                    "compaction input {} was asked to move backwards",
                    path.display()
                )),
            }
        }
        // Keys out of order across inputs: some input is wrong, and the
        // merge cannot tell which.
        Ok(Err(MergeError::Output(error))) => {
            Error::corruption(&inner.dir, 0, format!("compaction output: {error}"))
        }
        Ok(Err(MergeError::Task(e))) => {
            Error::InvalidArgument(format!("compaction task failed: {e}"))
        }
        Err(e) => join_failed(e),
    })
}

fn join_failed(e: rt::JoinError) -> Error {
    Error::InvalidArgument(format!("compaction task failed: {e}"))
}

pub(crate) fn table_options(inner: &Inner) -> TableOptions {
    TableOptions {
        block_size: inner.opts.block_size,
        bloom_bits_per_key: inner.opts.bloom_bits_per_key,
        compression: inner.opts.compression,
        ..TableOptions::default()
    }
}

/// Carries out one choice of the policy.
pub(crate) async fn run_choice(inner: &Rc<Inner>, choice: Choice) -> Result<()> {
    match choice {
        Choice::DoNothing => Ok(()),
        Choice::Move { table, from, to } => {
            let meta = inner.state.borrow().manifest.table(table).cloned();
            let Some(mut meta) = meta else { return Ok(()) };
            meta.level = to;
            let edit = VersionEdit {
                deleted: vec![(from, table)],
                added: vec![meta],
                ..Default::default()
            };
            install::log_and_install(inner, edit, Vec::new()).await?;
            add(&inner.counters.compactions, 1);
            Ok(())
        }
        Choice::Merge {
            inputs,
            output_level,
            drop_tombstones,
        } => run_merge(inner, inputs, output_level, drop_tombstones).await,
    }
}

async fn run_merge(
    inner: &Rc<Inner>,
    inputs: Vec<(u8, u64)>,
    output_level: u8,
    drop_tombstones: bool,
) -> Result<()> {
    let tables: Vec<_> = {
        let state = inner.state.borrow();
        inputs
            .iter()
            .filter_map(|(_, id)| state.tables.get(id).cloned())
            .collect()
    };
    if tables.len() != inputs.len() {
        return Ok(()); // the set changed meanwhile; the policy will choose again
    }
    let inputs_streamed: Vec<StreamInput> = tables
        .iter()
        .map(|t| StreamInput {
            fs: inner.fs.clone(),
            id: t.id,
            path: t.path.clone(),
            index: t.index.clone(),
        })
        .collect();
    let read: u64 = tables.iter().map(|t| t.size).sum();
    let dead = match inner.opts.compaction_filter.clone() {
        Some(f) => Some(filter::resolve_dependencies(inner, f, &inputs_streamed).await?),
        None => None,
    };
    // Taken after the resolution: a snapshot taken during it sees the
    // dependencies' resolved state or a newer one.
    let snapshots: Vec<SeqNo> = inner.snapshots.borrow().keys().copied().collect();
    let from_l0 = inputs.iter().any(|(level, _)| *level == 0);
    let ranges = if from_l0 && output_level == 1 {
        subcompact::split(
            &inputs_streamed,
            read,
            inner.opts.target_file_size,
            inner.opts.max_subcompactions,
        )
    } else {
        vec![KeyRange::default()]
    };
    let now = now_ms();
    let mut shares = Vec::with_capacity(ranges.len());
    for range in ranges {
        let job = MergeJob {
            inputs: inputs_streamed.clone(),
            range,
            readahead: inner.opts.compaction_readahead_bytes,
            snapshots: snapshots.clone(),
            drop_tombstones,
            now_ms: now,
            table: table_options(inner),
            target_file_size: inner.opts.target_file_size,
            dead: dead.clone(),
        };
        let inner = inner.clone();
        // Subcompactions run side by side; each merges in `Send` steps.
        shares.push(rt::spawn_local(async move {
            merge_share(&inner, job, output_level).await
        }));
    }
    let mut done = Vec::with_capacity(shares.len());
    let mut failed = None;
    for share in shares {
        match share.await.map_err(join_failed).and_then(|r| r) {
            Ok(out) => done.push(out),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        let written: Vec<TableMeta> = done.into_iter().flat_map(|d| d.added).collect();
        return Err(abandon_outputs(inner, &written, e).await);
    }
    if done.len() > 1 {
        add(&inner.counters.subcompactions, done.len() as u64);
    }
    let (mut added, mut opened, mut filtered) = (Vec::new(), Vec::new(), 0);
    // Shares come in key order, so their outputs do too.
    for d in done {
        added.extend(d.added);
        opened.extend(d.opened);
        filtered += d.filtered;
    }
    let written: u64 = added.iter().map(|m| m.size).sum();
    let edit = VersionEdit {
        deleted: inputs.clone(),
        added,
        ..Default::default()
    };
    install::log_and_install(inner, edit, opened).await?;
    for t in &tables {
        inner.cache.borrow_mut().remove_table(t.cache_key);
        // Readers holding the table keep its open file; unlinking is safe.
        let _ = inner.fs.remove_file(&t.path).await;
    }
    add(&inner.counters.compactions, 1);
    add(&inner.counters.compaction_bytes_read, read);
    // `write_table` already counted these bytes in `disk_bytes_written`.
    add(&inner.counters.compaction_bytes_written, written);
    add(&inner.counters.compaction_filtered, filtered);
    Ok(())
}

/// What one share of a merge (all of it, or one subcompaction) wrote.
struct ShareOutput {
    added: Vec<TableMeta>,
    opened: Vec<Rc<Table>>,
    filtered: u64,
}

/// Merges one share: opens its inputs, then alternates topping them up on
/// this core and merging in a `Send` task, writing each output table as
/// soon as it is cut. On failure, removes what it wrote.
async fn merge_share(inner: &Rc<Inner>, job: MergeJob, output_level: u8) -> Result<ShareOutput> {
    let mut run = task_result(inner, Ok(MergeRun::open(job).await))?;
    #[cfg(test)]
    inner.test_hooks.merge_gate.pass().await;
    let mut added: Vec<TableMeta> = Vec::new();
    let mut opened = Vec::new();
    loop {
        fill_sources(run.sources()).await;
        let step = rt::spawn(async move {
            let r = run.step().await;
            (run, r)
        })
        .await;
        let (back, r) = match step {
            Ok(pair) => pair,
            Err(e) => return Err(abandon_outputs(inner, &added, join_failed(e)).await),
        };
        run = back;
        let bytes = match task_result(inner, Ok(r)) {
            Ok(Step::Table(bytes)) => bytes,
            Ok(Step::NeedInput) => continue,
            Ok(Step::Done) => break,
            Err(e) => return Err(abandon_outputs(inner, &added, e).await),
        };
        match install::write_table(inner, bytes, output_level).await {
            Ok((meta, table)) => {
                added.push(meta);
                opened.push(table);
            }
            Err(e) => return Err(abandon_outputs(inner, &added, e).await),
        }
    }
    note_merge_memory(inner, run.memory());
    Ok(ShareOutput {
        added,
        opened,
        filtered: run.filtered(),
    })
}

/// Removes the outputs a failed merge wrote (no edit names them; the next
/// open would remove them too) and gives back its error.
async fn abandon_outputs(inner: &Inner, written: &[TableMeta], e: Error) -> Error {
    for meta in written {
        let _ = inner
            .fs
            .remove_file(&files::table_path(&inner.dir, meta.id))
            .await;
    }
    e
}

/// Records what a merge's inputs held in memory.
fn note_merge_memory(inner: &Inner, memory: &MergeMemory) {
    let c = &inner.counters;
    c.compaction_peak_input_bytes
        .set(c.compaction_peak_input_bytes.get().max(memory.peak_bytes()));
    add(&c.compaction_blocking_reads, memory.blocking_reads());
}

/// Asks the maintenance task for a manual compaction and waits for it.
pub(crate) async fn compact_all(inner: &Rc<Inner>) -> Result<()> {
    inner.manual_out_of_space.borrow_mut().take();
    inner.manual_requested.set(true);
    maintenance::kick(inner);
    let idle = maintenance::wait_idle(inner).await;
    if let Some(e) = inner.manual_out_of_space.borrow_mut().take() {
        return Err(e);
    }
    idle
}

/// Manual compaction: merges every table into the bottom level, group by
/// group of overlapping tables. Runs while no other compaction does
/// (`maintenance`); flushes meanwhile only add newer L0 tables, which the
/// plan leaves alone.
pub(crate) async fn manual(inner: &Rc<Inner>) -> Result<()> {
    let levels = maintenance::levels(inner);
    let mut bounds: Option<(Vec<u8>, Vec<u8>)> = None;
    for t in levels.levels.iter().flatten() {
        let r = t.user_range();
        bounds = Some(match bounds {
            None => (r.lo.to_vec(), r.hi.to_vec()),
            Some((lo, hi)) => (lo.min(r.lo.to_vec()), hi.max(r.hi.to_vec())),
        });
    }
    let Some((lo, hi)) = bounds else {
        return Ok(());
    };
    let cfg = maintenance::policy_config(inner);
    for choice in crate::compaction::compact_range(&levels, &lo, &hi, &cfg) {
        if inner.abandoned.get() {
            break; // nobody waits for it; leave the rest undone
        }
        run_choice(inner, choice).await?;
    }
    Ok(())
}
