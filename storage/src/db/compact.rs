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
use super::stream::{MergeMemory, StreamError, StreamInput, TableStream};
use super::{install, maintenance, Inner};
use crate::compaction::Choice;
use crate::error::{Error, Result};
use crate::files;
use crate::key::SeqNo;
use crate::manifest::{TableMeta, VersionEdit};
use crate::merge::{CompactionIter, EntryIter, MergingIter};
use crate::sstable::{TableBuilder, TableError, TableOptions};

/// Entries merged between two yields.
pub(super) const YIELD_EVERY: usize = 4096;

/// Why a merge failed.
#[derive(Debug)]
pub(crate) enum MergeError {
    /// Input table `id` could not be read or does not decode.
    Input { id: u64, error: StreamError },
    /// The merged stream could not be written as a table (inputs whose
    /// keys are out of order, an entry too large).
    Output(TableError),
    /// A `Send` task of the merge failed (panicked).
    Task(String),
}

/// The inputs as merge sources, each on its first entry (its first window
/// read).
pub(super) async fn open_sources(
    inputs: Vec<StreamInput>,
    readahead: usize,
    memory: &Arc<MergeMemory>,
) -> std::result::Result<Vec<TableStream>, MergeError> {
    let mut sources = Vec::with_capacity(inputs.len());
    for input in inputs {
        let id = input.id;
        let stream = TableStream::open(input, readahead, memory.clone())
            .await
            .map_err(|error| MergeError::Input { id, error })?;
        sources.push(stream);
    }
    Ok(sources)
}

/// Tops up the readahead windows of every source that wants it (on the
/// owning core: the reads are not `Send`).
pub(super) async fn fill_sources(sources: &mut [TableStream]) {
    for s in sources {
        while s.wants_fill() {
            s.fill().await;
        }
    }
}

/// Whether some source should be topped up before the merge goes on.
pub(super) fn sources_want_fill(sources: &mut [TableStream]) -> bool {
    sources.iter().any(TableStream::wants_fill)
}

/// The first error a source met, if any: an input that stopped early.
pub(super) fn source_error(sources: &mut [TableStream]) -> Option<MergeError> {
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

/// Everything the merge needs, all `Send`.
pub(crate) struct MergeJob {
    /// Input tables, newest source first.
    pub(crate) inputs: Vec<StreamInput>,
    pub(crate) readahead: usize,
    pub(crate) snapshots: Vec<SeqNo>,
    pub(crate) drop_tombstones: bool,
    pub(crate) now_ms: u64,
    pub(crate) table: TableOptions,
    pub(crate) target_file_size: u64,
    /// The resolved dependencies of the inputs, if a filter is installed.
    pub(crate) dead: Option<Resolved>,
}

/// What one step of a merge ended on.
pub(crate) enum Step {
    /// An output table was cut: its bytes.
    Table(Vec<u8>),
    /// An input's readahead runs low: top the inputs up, then step again.
    NeedInput,
    /// The inputs are used up and every output was handed out.
    Done,
}

/// A merge under way, handed between the owning core (which reads the
/// inputs ahead and writes each output table as soon as it is cut) and a
/// `Send` task (which merges). Holds one output table at most, and each
/// input's windows (`db::stream`).
pub(crate) struct MergeRun {
    merged: CompactionIter<MergingIter<TableStream>, Option<Resolved>>,
    table: TableOptions,
    target_file_size: u64,
    builder: TableBuilder,
    last_user: Vec<u8>,
    entries: usize,
    memory: Arc<MergeMemory>,
}

impl MergeRun {
    /// Opens the inputs (on the owning core) and positions the merge on
    /// its first entry.
    pub(crate) async fn open(job: MergeJob) -> std::result::Result<MergeRun, MergeError> {
        let memory = Arc::new(MergeMemory::default());
        let sources = open_sources(job.inputs, job.readahead, &memory).await?;
        let merged = CompactionIter::with_dead_values(
            MergingIter::new(sources),
            job.snapshots,
            job.drop_tombstones,
            job.now_ms,
            job.dead,
        );
        Ok(MergeRun {
            merged,
            builder: TableBuilder::new(job.table.clone()),
            table: job.table,
            target_file_size: job.target_file_size,
            last_user: Vec::new(),
            entries: 0,
            memory,
        })
    }

    /// The inputs, to top them up.
    pub(crate) fn sources(&mut self) -> &mut [TableStream] {
        self.merged.inner_mut().children_mut()
    }

    /// Merges until an output table is cut at the target size (on a
    /// user-key boundary), an input wants topping up, or the inputs end
    /// (then the last table, then `Done`).
    pub(crate) async fn step(&mut self) -> std::result::Result<Step, MergeError> {
        loop {
            if sources_want_fill(self.sources()) {
                return Ok(Step::NeedInput);
            }
            if !self.merged.valid() {
                break;
            }
            let key = self.merged.key();
            let user = crate::key::user_key(key);
            // Cut only between user keys, so a key's versions share a table.
            if self.builder.estimated_size() as u64 >= self.target_file_size
                && user != self.last_user.as_slice()
            {
                let full =
                    std::mem::replace(&mut self.builder, TableBuilder::new(self.table.clone()));
                return full.finish().map(Step::Table).map_err(MergeError::Output);
            }
            self.last_user.clear();
            self.last_user.extend_from_slice(user);
            self.builder
                .add(key, self.merged.value())
                .map_err(MergeError::Output)?;
            self.merged.next();
            self.entries += 1;
            if self.entries.is_multiple_of(YIELD_EVERY) {
                rt::yield_now().await;
            }
        }
        if let Some(e) = source_error(self.sources()) {
            return Err(e);
        }
        if self.builder.entries() == 0 {
            return Ok(Step::Done);
        }
        let last = std::mem::replace(&mut self.builder, TableBuilder::new(self.table.clone()));
        last.finish().map(Step::Table).map_err(MergeError::Output)
    }

    /// Versions the compaction filter declared dead so far.
    pub(crate) fn filtered(&self) -> u64 {
        self.merged.filtered()
    }

    /// What the inputs held in memory.
    pub(crate) fn memory(&self) -> &MergeMemory {
        &self.memory
    }
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
    let job = MergeJob {
        inputs: inputs_streamed,
        readahead: inner.opts.compaction_readahead_bytes,
        snapshots,
        drop_tombstones,
        now_ms: now_ms(),
        table: table_options(inner),
        target_file_size: inner.opts.target_file_size,
        dead,
    };
    let mut run = task_result(inner, Ok(MergeRun::open(job).await))?;
    #[cfg(test)]
    inner.test_hooks.merge_gate.pass().await;
    let mut added: Vec<TableMeta> = Vec::new();
    let mut opened = Vec::new();
    let written = loop {
        fill_sources(run.sources()).await;
        // The merging runs as a `Send` task an idle core may steal; each
        // output table is written as soon as it is cut.
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
            Ok(Step::Done) => break added.iter().map(|m| m.size).sum::<u64>(),
            Err(e) => return Err(abandon_outputs(inner, &added, e).await),
        };
        match install::write_table(inner, bytes, output_level).await {
            Ok((meta, table)) => {
                added.push(meta);
                opened.push(table);
            }
            Err(e) => return Err(abandon_outputs(inner, &added, e).await),
        }
    };
    note_merge_memory(inner, run.memory());
    let filtered = run.filtered();
    drop(run);
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
    add(&inner.counters.compaction_filtered, filtered);
    Ok(())
}

/// Removes the outputs a failed merge wrote (no edit names them; the next
/// open would remove them too) and gives back its error.
async fn abandon_outputs(inner: &Inner, written: &[TableMeta], e: Error) -> Error {
    for meta in written {
        let _ = rt::fs::remove_file(files::table_path(&inner.dir, meta.id)).await;
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
fn _assert_send(run: MergeRun) {
    fn is_send<T: Send>(_: &T) {}
    let mut run = run;
    is_send(&async move { run.step().await });
}
