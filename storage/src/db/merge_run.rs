//! A merge in progress, as a `Send` state handed between the owning core
//! and the tasks that do the merging ([`MergeRun`]), and its inputs as
//! merge sources (`db::stream`).
//!
//! Division of labour: the owning core opens the inputs, tops up their
//! readahead windows (reads on its ring are not `Send`) and writes each
//! output table; [`MergeRun::step`] merges (a `Send` future, so an idle
//! core may steal it) until an output table is cut, an input's windows run
//! low, or the inputs end.

use std::sync::Arc;

use frys_runtime as rt;

use super::filter::Resolved;
use super::stream::{KeyRange, MergeMemory, StreamError, StreamInput, TableStream};
use crate::key::SeqNo;
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
    range: &KeyRange,
    readahead: usize,
    memory: &Arc<MergeMemory>,
) -> std::result::Result<Vec<TableStream>, MergeError> {
    let mut sources = Vec::with_capacity(inputs.len());
    for input in inputs {
        let id = input.id;
        let stream = TableStream::open(input, range.clone(), readahead, memory.clone())
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

/// Everything the merge needs, all `Send`.
pub(crate) struct MergeJob {
    /// Input tables, newest source first.
    pub(crate) inputs: Vec<StreamInput>,
    /// The user keys to merge (a subcompaction's share, or all).
    pub(crate) range: KeyRange,
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
        let sources = open_sources(job.inputs, &job.range, job.readahead, &memory).await?;
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

#[allow(dead_code)]
fn _assert_send(run: MergeRun) {
    fn is_send<T: Send>(_: &T) {}
    let mut run = run;
    is_send(&async move { run.step().await });
}
