//! Compaction work: the merge runs as a `Send` task (stealable by an idle
//! core, yielding every few thousand entries); reading the inputs and
//! writing and installing the outputs happen on the owning core. With a
//! [`CompactionFilter`](crate::CompactionFilter), the dependencies of the
//! inputs are resolved first (`db::filter`) and the merge consults them.

use std::rc::Rc;
use std::sync::Arc;

use frys_runtime as rt;

use super::filter::{self, Resolved};
use super::metrics::add;
use super::read::now_ms;
use super::{install, maintenance, Inner};
use crate::compaction::Choice;
use crate::error::{Error, Result};
use crate::files;
use crate::key::SeqNo;
use crate::manifest::{TableMeta, VersionEdit};
use crate::merge::{CompactionIter, EntryIter, MergingIter};
use crate::sstable::{TableBuilder, TableError, TableIter, TableOptions};

/// Entries merged between two yields.
pub(super) const YIELD_EVERY: usize = 4096;

/// A table's file as a merge input.
pub(super) struct TableSource {
    id: u64,
    iter: TableIter,
    error: Option<TableError>,
}

/// Why a merge failed.
#[derive(Debug)]
pub(crate) enum MergeError {
    /// Input table `id` does not decode.
    Input { id: u64, error: TableError },
    /// The merged stream could not be written as a table (inputs whose
    /// keys are out of order, an entry too large).
    Output(TableError),
}

impl TableSource {
    fn check(&mut self, r: std::result::Result<(), TableError>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

/// The inputs as merge sources, each on its first entry.
pub(super) fn open_sources(
    inputs: Vec<(u64, Arc<[u8]>)>,
) -> std::result::Result<Vec<TableSource>, MergeError> {
    let mut sources = Vec::with_capacity(inputs.len());
    for (id, bytes) in inputs {
        let iter = TableIter::new(bytes).map_err(|error| MergeError::Input { id, error })?;
        let mut src = TableSource {
            id,
            iter,
            error: None,
        };
        src.seek_to_first();
        sources.push(src);
    }
    Ok(sources)
}

/// The first error a source met, if any: an input that stopped early.
pub(super) fn source_error(sources: &mut [TableSource]) -> Option<MergeError> {
    sources.iter_mut().find_map(|s| {
        s.error
            .take()
            .map(|error| MergeError::Input { id: s.id, error })
    })
}

/// The outcome of a task over the inputs (the merge, or collecting
/// dependencies), as the partition reports it.
pub(super) fn task_result<T>(
    inner: &Inner,
    r: std::result::Result<std::result::Result<T, MergeError>, rt::JoinError>,
) -> Result<T> {
    Err(match r {
        Ok(Ok(t)) => return Ok(t),
        Ok(Err(MergeError::Input { id, error })) => {
            crate::table::corrupt(&files::table_path(&inner.dir, id), error)
        }
        // Keys out of order across inputs: some input is wrong, and the
        // merge cannot tell which.
        Ok(Err(MergeError::Output(error))) => {
            Error::corruption(&inner.dir, 0, format!("compaction output: {error}"))
        }
        Err(e) => Error::InvalidArgument(format!("compaction task failed: {e}")),
    })
}

impl EntryIter for TableSource {
    fn valid(&self) -> bool {
        self.error.is_none() && self.iter.valid()
    }
    fn key(&self) -> &[u8] {
        self.iter.key()
    }
    fn value(&self) -> &[u8] {
        self.iter.value()
    }
    fn next(&mut self) {
        let r = self.iter.next();
        self.check(r);
    }
    fn seek(&mut self, ikey: &[u8]) {
        let r = self.iter.seek(ikey);
        self.check(r);
    }
    fn seek_to_first(&mut self) {
        let r = self.iter.seek_to_first();
        self.check(r);
    }
}

/// Everything the merge needs, all `Send`.
pub(crate) struct MergeJob {
    /// Input table files, newest source first.
    pub(crate) inputs: Vec<(u64, Arc<[u8]>)>,
    pub(crate) snapshots: Vec<SeqNo>,
    pub(crate) drop_tombstones: bool,
    pub(crate) now_ms: u64,
    pub(crate) table: TableOptions,
    pub(crate) target_file_size: u64,
    /// The resolved dependencies of the inputs, if a filter is installed.
    pub(crate) dead: Option<Resolved>,
}

/// What a merge produced.
pub(crate) struct MergeOutput {
    /// Output table files.
    pub(crate) tables: Vec<Vec<u8>>,
    /// Versions the compaction filter declared dead.
    pub(crate) filtered: u64,
}

/// Merges the inputs into output table files (bytes), cut at the target
/// size on user-key boundaries.
pub(crate) async fn merge(job: MergeJob) -> std::result::Result<MergeOutput, MergeError> {
    let sources = open_sources(job.inputs)?;
    let mut merged = CompactionIter::with_dead_values(
        MergingIter::new(sources),
        job.snapshots,
        job.drop_tombstones,
        job.now_ms,
        job.dead,
    );
    let mut outputs = Vec::new();
    let mut builder = TableBuilder::new(job.table.clone());
    let mut last_user: Vec<u8> = Vec::new();
    let mut n = 0usize;
    while merged.valid() {
        let key = merged.key();
        let user = crate::key::user_key(key);
        // Cut only between user keys, so a key's versions share a table.
        if builder.estimated_size() as u64 >= job.target_file_size && user != last_user.as_slice() {
            let full = std::mem::replace(&mut builder, TableBuilder::new(job.table.clone()));
            outputs.push(full.finish().map_err(MergeError::Output)?);
        }
        last_user.clear();
        last_user.extend_from_slice(user);
        builder
            .add(key, merged.value())
            .map_err(MergeError::Output)?;
        merged.next();
        n += 1;
        if n.is_multiple_of(YIELD_EVERY) {
            rt::yield_now().await;
        }
    }
    let filtered = merged.filtered();
    let mut sources = merged.into_inner().into_children();
    if let Some(e) = source_error(&mut sources) {
        return Err(e);
    }
    if builder.entries() > 0 {
        outputs.push(builder.finish().map_err(MergeError::Output)?);
    }
    Ok(MergeOutput {
        tables: outputs,
        filtered,
    })
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
    let mut files = Vec::with_capacity(tables.len());
    let mut read = 0u64;
    for t in &tables {
        let bytes = t.read_all().await?;
        read += bytes.len() as u64;
        files.push((t.id, bytes));
    }
    let dead = match inner.opts.compaction_filter.clone() {
        Some(f) => Some(filter::resolve_dependencies(inner, f, &files).await?),
        None => None,
    };
    // Taken after the resolution: a snapshot taken during it sees the
    // dependencies' resolved state or a newer one.
    let snapshots: Vec<SeqNo> = inner.snapshots.borrow().keys().copied().collect();
    let job = MergeJob {
        inputs: files,
        snapshots,
        drop_tombstones,
        now_ms: now_ms(),
        table: table_options(inner),
        target_file_size: inner.opts.target_file_size,
        dead,
    };
    #[cfg(test)]
    inner.test_hooks.merge_gate.pass().await;
    let output = task_result(inner, rt::spawn(merge(job)).await)?;
    let mut written = 0u64;
    let mut added = Vec::with_capacity(output.tables.len());
    let mut opened = Vec::with_capacity(output.tables.len());
    for bytes in output.tables {
        written += bytes.len() as u64;
        let (meta, table) = install::write_table(inner, bytes, output_level).await?;
        added.push(meta);
        opened.push(table);
    }
    let edit = VersionEdit {
        deleted: inputs.clone(),
        added,
        ..Default::default()
    };
    install::log_and_install(inner, edit, opened).await?;
    for t in &tables {
        inner.cache.borrow_mut().remove_table(t.cache_key);
        // Readers holding the table keep its open file; unlinking is safe.
        let _ = rt::fs::remove_file(&t.path).await;
    }
    add(&inner.counters.compactions, 1);
    add(&inner.counters.compaction_bytes_read, read);
    // `write_table` already counted these bytes in `disk_bytes_written`.
    add(&inner.counters.compaction_bytes_written, written);
    add(&inner.counters.compaction_filtered, output.filtered);
    Ok(())
}

/// Asks the maintenance task for a manual compaction and waits for it.
pub(crate) async fn compact_all(inner: &Rc<Inner>) -> Result<()> {
    inner.manual_requested.set(true);
    maintenance::kick(inner);
    maintenance::wait_idle(inner).await
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

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>(_: &T) {}
    let job = MergeJob {
        inputs: Vec::new(),
        snapshots: Vec::new(),
        drop_tombstones: false,
        now_ms: 0,
        table: TableOptions::default(),
        target_file_size: 0,
        dead: None,
    };
    is_send(&merge(job));
    let _: Option<TableMeta> = None;
}
