//! What a merge needs to know to apply the
//! [`CompactionFilter`](crate::CompactionFilter): the current state of the
//! records its inputs depend on.
//!
//! Per merge, only when a filter is installed:
//! 1. [`collect`] (a `Send` task, like the merge, so decoding the inputs
//!    a second time need not hold up the owning core): the distinct
//!    dependency keys of the newest version of every user key in the
//!    inputs, sorted. A collection's elements are contiguous, so most
//!    repeats are consecutive and cost one comparison.
//! 2. [`resolve`] (owning core, in the compaction's task): each one's value
//!    as [`Db::get_ignoring_expiry`] reads it (at the last seqno)
//!    and the seqno of its newest record, value or tombstone (0: none).
//! 3. The merge asks [`Resolved`] about each newest version (rule 5 of
//!    [`CompactionIter`](crate::merge::CompactionIter)): dead since the
//!    dependency's seqno `d`, so it may become a tombstone unless a live
//!    snapshot sees the version but not yet `d`.
//!
//! Flushes and other compactions may run during the resolution: each read
//! takes one consistent view (memtables and version together), and they
//! only move versions between memtables and tables, or drop versions no
//! reader at the last seqno sees (or rewrite them as this module's rules
//! allow), so each read answers as of the moment it started.
//!
//! Soundness: a reader at `s >= d`, or of the latest state, sees the
//! dependency as resolved or a newer state of it (writes during the
//! resolution only add newer ones); the filter's contract (death is
//! permanent) makes the version dead for it too. Snapshots taken after the
//! resolution are at or above every `d`. Readers below the version's own
//! seqno never saw it.
//!
//! Memory: the dependencies hold one entry per distinct dependency (key,
//! value, and [`ENTRY_OVERHEAD`] for the bookkeeping), at most
//! [`BUDGET_BYTES`] together; the inputs are streamed (`db::stream`). Dependencies past the budget stay unresolved and their
//! dependents are kept; a later compaction of them tries again.
//!
//! [`Db::get`]: crate::Db::get

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use frys_runtime as rt;

use super::compact::task_result;
use super::merge_run::{
    fill_sources, open_sources, source_error, sources_want_fill, MergeError, YIELD_EVERY,
};
use super::read;
use super::stream::{KeyRange, MergeMemory, StreamInput, TableStream};
use super::Inner;
use crate::compaction_filter::CompactionFilter;
use crate::error::Result;
use crate::key::{self, Kind, SeqNo};
use crate::merge::{DeadValues, EntryIter, MergingIter};

/// Bytes the dependencies of one merge may take in memory.
pub(super) const BUDGET_BYTES: usize = 32 << 20;

/// Bytes counted per dependency on top of its key and value.
pub(super) const ENTRY_OVERHEAD: usize = 64;

/// The dependencies of a merge's inputs as resolved, and the filter that
/// judges by them. `Send`: it travels with the merge job; clones (one per
/// subcompaction) share the dependencies.
#[derive(Clone)]
pub(crate) struct Resolved {
    filter: Arc<dyn CompactionFilter>,
    /// Sorted by key, distinct.
    deps: Arc<Vec<(Vec<u8>, Dependency)>>,
    /// The dependency key of the version being judged.
    scratch: Vec<u8>,
}

/// The state of one dependency when it was resolved.
struct Dependency {
    /// Its value; `None` if absent, deleted or expired.
    value: Option<Vec<u8>>,
    /// Seqno of its newest record, value or tombstone; 0 if it has none.
    seqno: SeqNo,
}

impl DeadValues for Resolved {
    fn dead_since(&mut self, user_key: &[u8], value: &[u8]) -> Option<SeqNo> {
        self.scratch.clear();
        if !self.filter.dependency(user_key, &mut self.scratch) {
            return None;
        }
        let at = self
            .deps
            .binary_search_by(|(k, _)| k.as_slice().cmp(&self.scratch))
            .ok()?;
        let dep = &self.deps[at].1;
        self.filter
            .is_dead(user_key, value, dep.value.as_deref())
            .then_some(dep.seqno)
    }
}

/// Collects and resolves the dependencies of `inputs` (newest source
/// first), streaming them as the merge does.
pub(super) async fn resolve_dependencies(
    inner: &Rc<Inner>,
    filter: Arc<dyn CompactionFilter>,
    inputs: &[StreamInput],
) -> Result<Resolved> {
    let readahead = inner.opts.compaction_readahead_bytes;
    let collected = collect(inputs.to_vec(), readahead, filter.clone(), BUDGET_BYTES).await;
    let keys = task_result(inner, Ok(collected))?;
    let deps = resolve(inner, keys, BUDGET_BYTES).await?;
    Ok(Resolved {
        filter,
        deps: Arc::new(deps),
        scratch: Vec::new(),
    })
}

/// The distinct dependency keys of the newest version of each user key in
/// `inputs`, sorted; stops once they would take more than `budget` bytes
/// (with [`ENTRY_OVERHEAD`] each). Reads on the calling core; the decoding
/// runs in `Send` tasks, as the merge's does.
pub(super) async fn collect(
    inputs: Vec<StreamInput>,
    readahead: usize,
    filter: Arc<dyn CompactionFilter>,
    budget: usize,
) -> std::result::Result<Vec<Vec<u8>>, MergeError> {
    let memory = Arc::new(MergeMemory::default());
    let sources = open_sources(inputs, &KeyRange::default(), readahead, &memory).await?;
    let mut collector = Collector {
        merged: MergingIter::new(sources),
        filter,
        budget,
        found: BTreeSet::new(),
        bytes: 0,
        group: None,
        last: None,
        dep: Vec::new(),
        n: 0,
    };
    loop {
        fill_sources(collector.merged.children_mut()).await;
        let step = rt::spawn(async move {
            let done = collector.step().await;
            (collector, done)
        })
        .await;
        let (back, done) = step.map_err(|e| MergeError::Task(e.to_string()))?;
        collector = back;
        if done {
            break;
        }
    }
    if let Some(e) = source_error(collector.merged.children_mut()) {
        return Err(e);
    }
    Ok(collector.found.into_iter().collect())
}

/// The state of [`collect`] between steps (`Send`).
struct Collector {
    merged: MergingIter<TableStream>,
    filter: Arc<dyn CompactionFilter>,
    budget: usize,
    found: BTreeSet<Vec<u8>>,
    bytes: usize,
    /// The user key whose newest version was seen last (`None` before the
    /// first).
    group: Option<Vec<u8>>,
    /// The dependency last added.
    last: Option<Vec<u8>>,
    dep: Vec<u8>,
    n: usize,
}

impl Collector {
    /// Collects until an input wants topping up (`false`) or the inputs
    /// or the budget end (`true`).
    async fn step(&mut self) -> bool {
        loop {
            if sources_want_fill(self.merged.children_mut()) {
                return false;
            }
            if !self.merged.valid() {
                return true;
            }
            // Malformed entries take no part, as in the merge.
            if let Some((user_key, _, kind)) = key::split_internal_key(self.merged.key()) {
                if self.group.as_deref() != Some(user_key) {
                    let g = self.group.get_or_insert_with(Vec::new);
                    g.clear();
                    g.extend_from_slice(user_key);
                    self.dep.clear();
                    let depends =
                        kind == Kind::Put && self.filter.dependency(user_key, &mut self.dep);
                    if depends && self.last.as_deref() != Some(self.dep.as_slice()) {
                        if !self.found.contains(&self.dep) {
                            self.bytes += self.dep.len() + ENTRY_OVERHEAD;
                            if self.bytes > self.budget {
                                return true;
                            }
                            self.found.insert(self.dep.clone());
                        }
                        self.last.get_or_insert_with(Vec::new).clone_from(&self.dep);
                    }
                }
            }
            self.merged.next();
            self.n += 1;
            if self.n.is_multiple_of(YIELD_EVERY) {
                rt::yield_now().await;
            }
        }
    }
}

/// Reads each of `keys` (sorted) as [`Db::get_ignoring_expiry`]
/// would, with the seqno of its newest record; stops once keys and values would take
/// more than `budget` bytes (with [`ENTRY_OVERHEAD`] each).
async fn resolve(
    inner: &Rc<Inner>,
    keys: Vec<Vec<u8>>,
    budget: usize,
) -> Result<Vec<(Vec<u8>, Dependency)>> {
    let snapshot = inner.state.borrow().last_seqno;
    // Expiry is not applied: a dependency that has expired is still what
    // the filter is shown until a tombstone replaces it (the owner's
    // expiry cycle, or compaction's expiry rule). Judging "expired" here
    // would let a clock that jumps forward kill the records of a key that
    // is live again once the clock is corrected, and would race a TTL
    // being extended while the merge runs.
    let now = 0;
    let mut bytes = 0usize;
    let mut deps = Vec::with_capacity(keys.len());
    for (n, key) in keys.into_iter().enumerate() {
        if n > 0 && n.is_multiple_of(YIELD_EVERY) {
            // Reads served from memory never yield on their own.
            rt::yield_now().await;
        }
        let (seqno, value) = read::get_with_seqno(inner, &key, snapshot, now)
            .await?
            .unwrap_or((0, None));
        bytes += key.len() + value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD;
        if bytes > budget {
            break;
        }
        deps.push((key, Dependency { value, seqno }));
    }
    Ok(deps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{encode_value, internal_key};
    use crate::sstable::{TableBuilder, TableOptions};

    /// `e<name>|...` depends on `m<name>`.
    struct ByName;

    impl CompactionFilter for ByName {
        fn dependency(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
            let Some(rest) = key.strip_prefix(b"e") else {
                return false;
            };
            out.push(b'm');
            out.extend(rest.iter().take_while(|&&b| b != b'|'));
            true
        }
        fn is_dead(&self, _: &[u8], _: &[u8], _: Option<&[u8]>) -> bool {
            true
        }
    }

    /// A table file of `(user key, seqno, put?)`, in internal-key order.
    fn table(id: u64, entries: &[(&str, u64, bool)]) -> StreamInput {
        let mut builder = TableBuilder::new(TableOptions::default());
        for &(user_key, seqno, put) in entries {
            let kind = if put { Kind::Put } else { Kind::Delete };
            let mut field = Vec::new();
            if put {
                encode_value(None, b"v", &mut field);
            }
            let ikey = internal_key(user_key.as_bytes(), seqno, kind);
            builder.add(&ikey, &field).unwrap();
        }
        let bytes = builder.finish().unwrap();
        let index = crate::sstable::TableIter::new(bytes.clone().into())
            .unwrap()
            .index()
            .clone();
        let path = std::env::temp_dir().join(format!(
            "frys-storage-filter-collect-{}-{id}.sst",
            std::process::id()
        ));
        std::fs::write(&path, &bytes).unwrap();
        StreamInput {
            fs: crate::FileSystem::real(),
            id,
            path,
            index,
        }
    }

    fn collected(inputs: Vec<StreamInput>, budget: usize) -> Vec<String> {
        let rt = rt::Runtime::builder()
            .cores(rt::Cores::Count(1))
            .build()
            .unwrap();
        let keys = rt
            .block_on(collect(inputs, 64, Arc::new(ByName), budget))
            .unwrap();
        keys.into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect()
    }

    #[test]
    fn collects_the_distinct_dependencies_of_newest_versions() {
        let newer = table(
            2,
            &[
                ("ea|1|x", 9, true),
                ("eb|2|x", 8, false),
                ("ec|3|x", 7, true),
            ],
        );
        let older = table(
            1,
            &[
                ("ea|1|y", 3, true),
                ("eb|2|x", 2, true),
                ("ed|4|x", 1, true),
                ("plain", 1, true),
            ],
        );
        // b's newest version is a tombstone: nothing to ask about it.
        assert_eq!(
            collected(vec![newer.clone(), older.clone()], BUDGET_BYTES),
            ["ma", "mc", "md"]
        );
        // Room for two entries: the first two in key order.
        assert_eq!(
            collected(vec![newer.clone(), older.clone()], 2 * (2 + ENTRY_OVERHEAD)),
            ["ma", "mc"]
        );
        let _ = std::fs::remove_file(&newer.path);
        let _ = std::fs::remove_file(&older.path);
    }
}
