//! A compaction input read block by block: [`TableStream`].
//!
//! A merge never holds a table file whole. Each input keeps at most two
//! readahead windows of raw blocks (each read in one positional read of
//! about [`Options::compaction_readahead_bytes`](crate::Options::compaction_readahead_bytes):
//! whole blocks, at least one) and the one decoded block its cursor is on.
//!
//! The reads go through the owning core's ring ([`TableStream::fill`], a
//! future that is not `Send`); the merging runs in a `Send` task that an
//! idle core may steal. So a merge alternates: the owning core tops up
//! every input that has fewer than two windows, then the task merges until
//! an input's windows run low (it has used one up) or an output table is
//! cut, and hands the merge back. Between two top-ups an input uses up at
//! most one window, so it never runs dry, except when one step of the
//! merge (one user key, all its versions) runs through a whole window: then
//! the input reads its next window with a blocking positional read, rather
//! than stop. Such reads are counted ([`MergeMemory::blocking_reads`]).
//!
//! Compaction reads bypass the block cache: they neither fill it nor
//! evict the readers' hot set. Every block is checked (checksum, layout) as
//! it is decoded; the index comes from the open [`Table`](crate::table::Table),
//! checked when the table was opened.
//!
//! A stream only moves forward: it is positioned on its first entry and
//! then only advanced (a seek backwards is an error, never a wrong answer).
//!
//! A stream may be limited to a [`KeyRange`] of user keys (a
//! subcompaction's share): it starts at the block that may hold the range's
//! first key, skips the entries before it, and ends before the first entry
//! at or past the range's end. All versions of a user key fall in the same
//! range.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::file_system::{File, FileSystem, OpenMode};
use crate::key::{self, compare_internal_keys};
use crate::merge::EntryIter;
use crate::sstable::{decode_block, BlockHandle, BlockIter, TableError, TableIndex};

/// What a merge's inputs hold in memory, shared by its streams (`Send`:
/// the merge may run on another core).
#[derive(Debug, Default)]
pub(crate) struct MergeMemory {
    held: AtomicU64,
    peak: AtomicU64,
    blocking: AtomicU64,
}

impl MergeMemory {
    fn add(&self, n: usize) {
        let now = self.held.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn release(&self, n: usize) {
        self.held.fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// Most bytes (raw windows plus decoded blocks) the inputs held at once.
    pub(crate) fn peak_bytes(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Windows read with a blocking read because the merge outran them.
    pub(crate) fn blocking_reads(&self) -> u64 {
        self.blocking.load(Ordering::Relaxed)
    }
}

/// User keys `lo <= k < hi`; `None` bounds are open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub(crate) lo: Option<Vec<u8>>,
    pub(crate) hi: Option<Vec<u8>>,
}

impl KeyRange {
    /// Whether `user_key` is at or past the end of the range.
    fn past_end(&self, user_key: &[u8]) -> bool {
        self.hi.as_deref().is_some_and(|hi| user_key >= hi)
    }
}

/// A table to stream: its id, file and index.
#[derive(Clone)]
pub(crate) struct StreamInput {
    pub(crate) fs: FileSystem,
    pub(crate) id: u64,
    pub(crate) path: PathBuf,
    pub(crate) index: TableIndex,
}

/// Why a stream stopped early.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// A block does not decode.
    Table(TableError),
    /// The file could not be read (`UnexpectedEof`: it is shorter than its
    /// index says).
    Io(io::Error),
    /// Asked to move backwards.
    Rewind,
}

/// Raw bytes of consecutive blocks, read in one go.
struct Window {
    /// File offset of `bytes[0]`.
    base: u64,
    bytes: Vec<u8>,
    /// Index positions of the blocks it holds not yet decoded.
    next: usize,
    end: usize,
}

/// One input of a merge, read block by block (see the module docs).
pub(crate) struct TableStream {
    pub(crate) id: u64,
    /// Read on the owning core's driver, or with a blocking read when the
    /// merge outruns the window.
    file: File,
    index: TableIndex,
    readahead: usize,
    /// Index position of the first block not read yet.
    unread: usize,
    windows: VecDeque<Window>,
    /// Raw bytes in `windows`.
    windowed: usize,
    block: Option<BlockIter>,
    /// Bytes of the decoded block `block` is on.
    block_bytes: usize,
    /// Whether the cursor has moved past its first entry.
    advanced: bool,
    range: KeyRange,
    /// The cursor reached the end of `range`: nothing more is read.
    ended: bool,
    memory: Arc<MergeMemory>,
    pub(crate) error: Option<StreamError>,
}

impl TableStream {
    /// Opens `input`'s file, reads its first windows and positions the
    /// cursor on the first entry. On the owning core.
    pub(crate) async fn open(
        input: StreamInput,
        range: KeyRange,
        readahead: usize,
        memory: Arc<MergeMemory>,
    ) -> Result<TableStream, StreamError> {
        let file = input
            .fs
            .open(&input.path, OpenMode::Read)
            .await
            .map_err(StreamError::Io)?;
        let unread = range.lo.as_deref().map_or(0, |lo| {
            input.index.position(&key::seek_key(lo, key::MAX_SEQNO))
        });
        let mut stream = TableStream {
            id: input.id,
            file,
            index: input.index,
            readahead: readahead.max(1),
            unread,
            windows: VecDeque::new(),
            windowed: 0,
            block: None,
            block_bytes: 0,
            advanced: false,
            range,
            ended: false,
            memory,
            error: None,
        };
        stream.fill().await;
        stream.next_block();
        if let Some(lo) = stream.range.lo.clone() {
            // The first block may start before the range.
            while stream.valid() && key::user_key(stream.key()) < lo.as_slice() {
                stream.next();
            }
            stream.advanced = false;
        }
        stream.check_end();
        stream.fill().await;
        Ok(stream)
    }

    /// Whether the windows should be topped up (fewer than two are held
    /// and blocks are left to read).
    pub(crate) fn wants_fill(&self) -> bool {
        self.error.is_none()
            && !self.ended
            && self.unread < self.index.len()
            && self.windows.len() < 2
    }

    /// Ends the stream once the cursor is past its range, releasing what
    /// it holds.
    fn check_end(&mut self) {
        let past = self
            .block
            .as_ref()
            .is_some_and(|it| it.valid() && self.range.past_end(key::user_key(it.key())));
        if past {
            self.ended = true;
            self.block = None;
            self.memory.release(self.block_bytes + self.windowed);
            self.block_bytes = 0;
            self.windowed = 0;
            self.windows.clear();
        }
    }

    /// Reads one more window, on the owning core's ring.
    pub(crate) async fn fill(&mut self) {
        if !self.wants_fill() {
            return;
        }
        let Some((base, len, end)) = self.next_span() else {
            return;
        };
        match self.file.read_exact_at(len, base).await {
            Ok(bytes) => self.push_window(base, bytes, end),
            Err(e) => {
                self.error.get_or_insert(StreamError::Io(e));
            }
        }
    }

    /// The span of the next window: whole blocks from `unread`, at least
    /// one, until `readahead` bytes; `(offset, len, end position)`.
    fn next_span(&mut self) -> Option<(u64, usize, usize)> {
        let first = self.index.handle(self.unread)?;
        let mut last: BlockHandle = first;
        let mut end = self.unread + 1;
        while let Some(h) = self.index.handle(end) {
            if h.end() - first.offset > self.readahead as u64 {
                break;
            }
            last = h;
            end += 1;
        }
        let len = usize::try_from(last.end() - first.offset).ok();
        let Some(len) = len else {
            self.error
                .get_or_insert(StreamError::Table(TableError::Corrupt {
                    what: "block span does not fit in memory",
                    offset: first.offset,
                }));
            return None;
        };
        Some((first.offset, len, end))
    }

    fn push_window(&mut self, base: u64, bytes: Vec<u8>, end: usize) {
        self.memory.add(bytes.len());
        self.windowed += bytes.len();
        self.windows.push_back(Window {
            base,
            bytes,
            next: self.unread,
            end,
        });
        self.unread = end;
    }

    /// Reads the next window with a blocking read (the merge outran the
    /// async readahead).
    fn fill_blocking(&mut self) {
        let Some((base, len, end)) = self.next_span() else {
            return;
        };
        match self.file.read_exact_at_now(len, base) {
            Ok(bytes) => {
                self.memory.blocking.fetch_add(1, Ordering::Relaxed);
                self.push_window(base, bytes, end);
            }
            Err(e) => {
                self.error.get_or_insert(StreamError::Io(e));
            }
        }
    }

    /// Moves to the first entry of the next non-empty block, or to the end.
    fn next_block(&mut self) {
        loop {
            self.memory.release(self.block_bytes);
            self.block = None;
            self.block_bytes = 0;
            if self.error.is_some() {
                return;
            }
            if self.windows.is_empty() {
                if self.unread >= self.index.len() {
                    return; // past the last block
                }
                self.fill_blocking();
                continue;
            }
            let Some(block) = self.decode_front() else {
                return;
            };
            self.memory.add(block.len_bytes());
            self.block_bytes = block.len_bytes();
            let mut it = block.iter();
            it.seek_to_first();
            if it.valid() {
                self.block = Some(it);
                return;
            }
        }
    }

    /// Decodes the first undecoded block of the front window, dropping the
    /// window once it is used up.
    fn decode_front(&mut self) -> Option<crate::sstable::Block> {
        let window = self.windows.front_mut()?;
        let handle = self.index.handle(window.next)?;
        window.next += 1;
        let start = (handle.offset - window.base) as usize;
        let end = (handle.end() - window.base) as usize;
        let decoded = window
            .bytes
            .get(start..end)
            .ok_or(TableError::Corrupt {
                what: "block outside its readahead window",
                offset: handle.offset,
            })
            .and_then(|raw| decode_block(raw, handle.offset));
        if window.next >= window.end {
            let done = self.windows.pop_front().map_or(0, |w| w.bytes.len());
            self.windowed -= done;
            self.memory.release(done);
        }
        match decoded {
            Ok(block) => Some(block),
            Err(e) => {
                self.error.get_or_insert(StreamError::Table(e));
                None
            }
        }
    }
}

impl Drop for TableStream {
    fn drop(&mut self) {
        self.memory.release(self.windowed + self.block_bytes);
    }
}

impl EntryIter for TableStream {
    fn valid(&self) -> bool {
        self.error.is_none() && self.block.as_ref().is_some_and(BlockIter::valid)
    }
    fn key(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::key)
    }
    fn value(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::value)
    }
    fn next(&mut self) {
        let Some(it) = &mut self.block else { return };
        if !it.valid() {
            return;
        }
        self.advanced = true;
        it.next();
        if !it.valid() {
            self.next_block();
        }
        if self.range.hi.is_some() {
            self.check_end();
        }
    }
    /// Forward only: moves ahead to the first entry `>= ikey`.
    fn seek(&mut self, ikey: &[u8]) {
        if self.valid() && compare_internal_keys(self.key(), ikey).is_gt() && self.advanced {
            self.error.get_or_insert(StreamError::Rewind);
            return;
        }
        while self.valid() && compare_internal_keys(self.key(), ikey).is_lt() {
            self.next();
        }
    }
    /// Only before the cursor has moved (the merge positions its children
    /// on their first entries, possibly more than once).
    fn seek_to_first(&mut self) {
        if self.advanced {
            self.error.get_or_insert(StreamError::Rewind);
        }
    }
}
