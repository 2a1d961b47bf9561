//! Range scans: a lazily merged, snapshot-consistent forward iterator.
//!
//! Sources, newest first: the memtable, the frozen memtables, each L0
//! table, then one source per deeper level (its tables in key order). A
//! table source reads one block at a time through the block cache, only
//! when the merge reaches it. The memtable is read in small batches, each
//! resumed after the last key seen, so writes during the scan never borrow-
//! conflict with it (and are invisible: they have newer sequence numbers).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};
use std::rc::Rc;

use super::read::{now_ms, visible_value};
use super::{Inner, Snapshot};
use crate::error::Result;
use crate::key::{self, Kind, SeqNo, MAX_SEQNO};
use crate::memtable::Memtable;
use crate::sstable::BlockIter;
use crate::table::Table;

/// Entries copied out of a memtable per borrow, at most: the first batch
/// after a seek copies [`MEM_FIRST_BATCH`], each next one twice as many,
/// so a scan that wants one entry (a random probe, a short range) copies
/// a few, and a long one soon borrows rarely.
const MEM_BATCH: usize = 256;
/// Entries copied by the first borrow after a seek.
const MEM_FIRST_BATCH: usize = 4;

/// A forward scan. Call [`next`](Scan::next) until it gives `None`.
pub struct Scan {
    inner: Rc<Inner>,
    snapshot: Snapshot,
    sources: Vec<Source>,
    started: bool,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    last_user_key: Option<Vec<u8>>,
    now_ms: u64,
    done: bool,
}

enum Source {
    Mem {
        mem: Rc<RefCell<Memtable>>,
        buf: VecDeque<(Vec<u8>, Vec<u8>)>,
        /// Resume strictly after this internal key.
        after: Option<Vec<u8>>,
        exhausted: bool,
        /// Entries the next borrow copies.
        batch: usize,
    },
    Tables {
        tables: Vec<Rc<Table>>,
        table: usize,
        block: usize,
        iter: Option<BlockIter>,
        /// Where to position inside the first block loaded.
        pending_seek: Option<Vec<u8>>,
    },
}

impl Scan {
    pub(crate) fn new(
        inner: Rc<Inner>,
        range: impl RangeBounds<Vec<u8>>,
        snapshot: Snapshot,
    ) -> Scan {
        let mut sources = Vec::new();
        {
            let state = inner.state.borrow();
            sources.push(Source::mem(state.mem.clone()));
            for f in state.frozen.iter().rev() {
                sources.push(Source::mem(f.mem.clone()));
            }
            for (level, tables) in state.version.levels.iter().enumerate() {
                if level == 0 {
                    sources.extend(tables.iter().map(|t| Source::tables(vec![t.clone()])));
                } else if !tables.is_empty() {
                    sources.push(Source::tables(tables.clone()));
                }
            }
        }
        Scan {
            inner,
            snapshot,
            sources,
            started: false,
            start: range.start_bound().cloned(),
            end: range.end_bound().cloned(),
            last_user_key: None,
            now_ms: now_ms(),
            done: false,
        }
    }

    /// The next `(key, value)` in the range, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        if self.done {
            return Ok(None);
        }
        if !self.started {
            self.started = true;
            let seek = match &self.start {
                Bound::Included(k) | Bound::Excluded(k) => Some(key::seek_key(k, MAX_SEQNO)),
                Bound::Unbounded => None,
            };
            for s in &mut self.sources {
                s.seek(seek.as_deref());
            }
        }
        let snapshot = self.snapshot.seqno();
        loop {
            for s in &mut self.sources {
                s.fill(&self.inner).await?;
            }
            let Some(i) = self.min_source() else {
                self.done = true;
                return Ok(None);
            };
            let (ikey, value) = match self.sources[i].current() {
                Some((k, v)) => (k.to_vec(), v.to_vec()),
                None => continue,
            };
            self.sources[i].advance();
            let Some((user, seqno, kind)) = key::split_internal_key(&ikey) else {
                continue;
            };
            if seqno > snapshot || self.last_user_key.as_deref() == Some(user) {
                continue;
            }
            self.last_user_key = Some(user.to_vec());
            if let Bound::Excluded(s) = &self.start {
                if user == s.as_slice() {
                    continue;
                }
            }
            let past_end = match &self.end {
                Bound::Included(e) => user > e.as_slice(),
                Bound::Excluded(e) => user >= e.as_slice(),
                Bound::Unbounded => false,
            };
            if past_end {
                self.done = true;
                return Ok(None);
            }
            if kind == Kind::Delete {
                continue;
            }
            if let Some(v) = visible_value(&value, self.now_ms) {
                return Ok(Some((user.to_vec(), v)));
            }
        }
    }

    /// Collects the rest of the scan.
    pub async fn collect(mut self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        while let Some(kv) = self.next().await? {
            out.push(kv);
        }
        Ok(out)
    }

    fn min_source(&self) -> Option<usize> {
        let mut best: Option<(usize, &[u8])> = None;
        for (i, s) in self.sources.iter().enumerate() {
            if let Some((k, _)) = s.current() {
                if best.is_none_or(|(_, b)| key::compare_internal_keys(k, b).is_lt()) {
                    best = Some((i, k));
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// The snapshot sequence number this scan reads at.
    pub fn seqno(&self) -> SeqNo {
        self.snapshot.seqno()
    }
}

impl Source {
    fn mem(mem: Rc<RefCell<Memtable>>) -> Source {
        Source::Mem {
            mem,
            buf: VecDeque::new(),
            after: None,
            exhausted: false,
            batch: MEM_FIRST_BATCH,
        }
    }

    fn tables(tables: Vec<Rc<Table>>) -> Source {
        Source::Tables {
            tables,
            table: 0,
            block: 0,
            iter: None,
            pending_seek: None,
        }
    }

    /// Positions before the first entry >= `seek` (all entries if `None`).
    fn seek(&mut self, seek: Option<&[u8]>) {
        match self {
            Source::Mem {
                mem,
                buf,
                after,
                exhausted,
                batch,
            } => {
                buf.clear();
                *exhausted = false;
                *batch = MEM_FIRST_BATCH;
                load_mem_batch(&mem.borrow(), seek, false, *batch, buf, after, exhausted);
            }
            Source::Tables {
                tables,
                table,
                block,
                iter,
                pending_seek,
            } => {
                *iter = None;
                *table = 0;
                *block = 0;
                *pending_seek = None;
                if let Some(seek) = seek {
                    let user = key::user_key(seek);
                    *table = tables.partition_point(|t| key::user_key(&t.props.largest) < user);
                    if let Some(t) = tables.get(*table) {
                        *block = t.index.position(seek);
                    }
                    // `fill` loads the block and seeks inside it.
                    *pending_seek = Some(seek.to_vec());
                }
            }
        }
    }

    /// Loads whatever the source needs to show its current entry.
    async fn fill(&mut self, inner: &Inner) -> Result<()> {
        match self {
            Source::Mem {
                mem,
                buf,
                after,
                exhausted,
                batch,
            } => {
                if buf.is_empty() && !*exhausted {
                    let from = after.take();
                    *batch = (*batch * 2).min(MEM_BATCH);
                    let n = *batch;
                    load_mem_batch(
                        &mem.borrow(),
                        from.as_deref(),
                        true,
                        n,
                        buf,
                        after,
                        exhausted,
                    );
                }
                Ok(())
            }
            Source::Tables {
                tables,
                table,
                block,
                iter,
                pending_seek,
            } => {
                loop {
                    if iter.as_ref().is_some_and(|it| it.valid()) {
                        return Ok(());
                    }
                    let Some(t) = tables.get(*table).cloned() else {
                        return Ok(());
                    };
                    if iter.is_some() {
                        // Current block exhausted.
                        *block += 1;
                        *iter = None;
                    }
                    match t.index.handle(*block) {
                        Some(handle) => {
                            let b = t.block(&inner.cache, handle).await?;
                            let mut it = b.iter();
                            match pending_seek.take() {
                                Some(seek) => it.seek(&seek),
                                None => it.seek_to_first(),
                            }
                            *iter = Some(it);
                        }
                        None => {
                            *table += 1;
                            *block = 0;
                            *iter = None;
                        }
                    }
                }
            }
        }
    }

    fn current(&self) -> Option<(&[u8], &[u8])> {
        match self {
            Source::Mem { buf, .. } => buf.front().map(|(k, v)| (k.as_slice(), v.as_slice())),
            Source::Tables { iter, .. } => iter
                .as_ref()
                .filter(|it| it.valid())
                .map(|it| (it.key(), it.value())),
        }
    }

    fn advance(&mut self) {
        match self {
            Source::Mem { buf, .. } => {
                buf.pop_front();
            }
            Source::Tables { iter, .. } => {
                if let Some(it) = iter {
                    it.next();
                }
            }
        }
    }
}

/// Copies up to `n` entries of `mem` from `from` (skipping `from` itself
/// when `skip_from`, i.e. it was returned already) into `buf`, and records
/// where to resume.
fn load_mem_batch(
    mem: &Memtable,
    from: Option<&[u8]>,
    skip_from: bool,
    n: usize,
    buf: &mut VecDeque<(Vec<u8>, Vec<u8>)>,
    after: &mut Option<Vec<u8>>,
    exhausted: &mut bool,
) {
    let skip = usize::from(skip_from && from.is_some());
    buf.extend(
        mem.iter_from(from)
            .skip(skip)
            .take(n)
            .map(|(k, v)| (k.to_vec(), v.to_vec())),
    );
    if buf.len() < n {
        *exhausted = true;
    }
    *after = buf.back().map(|(k, _)| k.clone());
}
