//! Counters of a partition.

use std::cell::Cell;

/// A snapshot of a partition's counters.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// Batches committed.
    pub writes: u64,
    /// WAL groups written (a group holds all batches of one tick).
    pub commit_groups: u64,
    /// fdatasync calls on the WAL.
    pub wal_syncs: u64,
    /// Bytes of keys and values the user wrote.
    pub user_bytes_written: u64,
    /// Bytes written to disk: WAL, tables, manifest.
    pub disk_bytes_written: u64,
    /// Memtable flushes.
    pub flushes: u64,
    /// Compactions run (merges and moves).
    pub compactions: u64,
    /// Bytes compactions read and wrote.
    pub compaction_bytes_read: u64,
    /// Bytes compactions wrote.
    pub compaction_bytes_written: u64,
    /// Most bytes one merge's inputs held in memory at once (readahead
    /// windows plus decoded blocks), over all merges so far.
    pub compaction_peak_input_bytes: u64,
    /// Readahead windows read with a blocking read because a merge step ran
    /// through a whole window (see
    /// [`Options::compaction_readahead_bytes`](crate::Options::compaction_readahead_bytes)).
    pub compaction_blocking_reads: u64,
    /// Versions compactions found dead by the
    /// [`CompactionFilter`](crate::CompactionFilter); each became a
    /// tombstone, removed with what it hides as the tombstone rules allow.
    pub compaction_filtered: u64,
    /// Writes that were slowed down because compaction fell behind.
    pub write_slowdowns: u64,
    /// Writes that waited for compaction or flush to catch up.
    pub write_stops: u64,
    /// Block cache hits (of the core's shared cache, all partitions
    /// together, when [`Options::budget`](crate::Options::budget) is set).
    pub block_cache_hits: u64,
    /// Block cache misses.
    pub block_cache_misses: u64,
    /// Table count per level.
    pub tables_per_level: Vec<usize>,
    /// Bytes of table files per level.
    pub bytes_per_level: Vec<u64>,
    /// Bytes of keys and values in the memtables.
    pub memtable_bytes: u64,
    /// Memtables frozen because the core's write-buffer budget
    /// ([`CoreBudget`](crate::CoreBudget)) was exceeded.
    pub write_buffer_switches: u64,
}

impl Metrics {
    /// Bytes written to disk per byte of user data (1.0 is perfect).
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        self.disk_bytes_written as f64 / self.user_bytes_written as f64
    }
}

/// The live counters (one core: plain cells).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) writes: Cell<u64>,
    pub(crate) commit_groups: Cell<u64>,
    pub(crate) wal_syncs: Cell<u64>,
    pub(crate) user_bytes_written: Cell<u64>,
    pub(crate) disk_bytes_written: Cell<u64>,
    pub(crate) flushes: Cell<u64>,
    pub(crate) compactions: Cell<u64>,
    pub(crate) compaction_bytes_read: Cell<u64>,
    pub(crate) compaction_bytes_written: Cell<u64>,
    pub(crate) compaction_filtered: Cell<u64>,
    pub(crate) compaction_peak_input_bytes: Cell<u64>,
    pub(crate) compaction_blocking_reads: Cell<u64>,
    pub(crate) write_slowdowns: Cell<u64>,
    pub(crate) write_stops: Cell<u64>,
    pub(crate) write_buffer_switches: Cell<u64>,
}

pub(crate) fn add(cell: &Cell<u64>, n: u64) {
    cell.set(cell.get() + n);
}

pub(crate) fn snapshot(inner: &super::Inner) -> Metrics {
    let c = &inner.counters;
    let state = inner.state.borrow();
    let cache = inner.cache.borrow().stats();
    let mut memtable_bytes = state.mem.borrow().data_bytes() as u64;
    for f in &state.frozen {
        memtable_bytes += f.mem.borrow().data_bytes() as u64;
    }
    Metrics {
        writes: c.writes.get(),
        commit_groups: c.commit_groups.get(),
        wal_syncs: c.wal_syncs.get(),
        user_bytes_written: c.user_bytes_written.get(),
        disk_bytes_written: c.disk_bytes_written.get(),
        flushes: c.flushes.get(),
        compactions: c.compactions.get(),
        compaction_bytes_read: c.compaction_bytes_read.get(),
        compaction_bytes_written: c.compaction_bytes_written.get(),
        compaction_filtered: c.compaction_filtered.get(),
        compaction_peak_input_bytes: c.compaction_peak_input_bytes.get(),
        compaction_blocking_reads: c.compaction_blocking_reads.get(),
        write_slowdowns: c.write_slowdowns.get(),
        write_stops: c.write_stops.get(),
        block_cache_hits: cache.hits,
        block_cache_misses: cache.misses,
        tables_per_level: state.manifest.levels().iter().map(Vec::len).collect(),
        bytes_per_level: state
            .manifest
            .levels()
            .iter()
            .map(|l| l.iter().map(|t| t.size).sum())
            .collect(),
        memtable_bytes,
        write_buffer_switches: c.write_buffer_switches.get(),
    }
}
