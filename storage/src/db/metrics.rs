//! Counters of a partition.

use std::cell::Cell;
use std::time::{Duration, Instant};

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
    /// Subcompactions run by merges that were split (see
    /// [`Options::max_subcompactions`](crate::Options::max_subcompactions)).
    pub subcompactions: u64,
    /// Most bytes one merge's (or one subcompaction's) inputs held in
    /// memory at once (readahead windows plus decoded blocks), over all
    /// merges so far.
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
    /// Microseconds those writes were delayed, summed over the writes.
    pub write_slowdown_micros: u64,
    /// Writes that waited for compaction or flush to catch up.
    pub write_stops: u64,
    /// Times writes stopped: a stop starts when a write meets the stop
    /// threshold and ends when the pressure drops below it.
    pub write_stop_periods: u64,
    /// Microseconds writes were stopped, wall time (periods during which
    /// writers waited, not summed per writer); includes a stop under way.
    pub write_stop_micros: u64,
    /// The longest stop period, in microseconds.
    pub longest_write_stop_micros: u64,
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
    pub(crate) subcompactions: Cell<u64>,
    pub(crate) compaction_peak_input_bytes: Cell<u64>,
    pub(crate) compaction_blocking_reads: Cell<u64>,
    pub(crate) write_slowdowns: Cell<u64>,
    pub(crate) write_slowdown_micros: Cell<u64>,
    pub(crate) write_stops: Cell<u64>,
    pub(crate) write_stop_periods: Cell<u64>,
    pub(crate) write_stop_micros: Cell<u64>,
    pub(crate) longest_write_stop_micros: Cell<u64>,
    /// When the stop under way started, if one is.
    pub(crate) stop_started: Cell<Option<Instant>>,
    pub(crate) write_buffer_switches: Cell<u64>,
}

pub(crate) fn add(cell: &Cell<u64>, n: u64) {
    cell.set(cell.get() + n);
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Counters {
    /// A writer met the stop threshold: starts a stop period unless one
    /// is under way.
    pub(crate) fn stop_begins(&self) {
        if self.stop_started.get().is_none() {
            self.stop_started.set(Some(Instant::now()));
            add(&self.write_stop_periods, 1);
        }
    }

    /// The pressure dropped below the stop threshold: ends the stop period
    /// under way, if any.
    pub(crate) fn stop_ends(&self) {
        if let Some(start) = self.stop_started.take() {
            let us = micros(start.elapsed());
            add(&self.write_stop_micros, us);
            self.longest_write_stop_micros
                .set(self.longest_write_stop_micros.get().max(us));
        }
    }

    /// A write was delayed for `slept`.
    pub(crate) fn slowed_down(&self, slept: Duration) {
        add(&self.write_slowdowns, 1);
        add(&self.write_slowdown_micros, micros(slept));
    }

    /// Stop time including the period under way: (total, longest).
    fn stop_micros(&self) -> (u64, u64) {
        let ongoing = self.stop_started.get().map_or(0, |s| micros(s.elapsed()));
        (
            self.write_stop_micros.get() + ongoing,
            self.longest_write_stop_micros.get().max(ongoing),
        )
    }
}

pub(crate) fn snapshot(inner: &super::Inner) -> Metrics {
    let c = &inner.counters;
    let state = inner.state.borrow();
    let cache = inner.cache.borrow().stats();
    let (write_stop_micros, longest_write_stop_micros) = c.stop_micros();
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
        subcompactions: c.subcompactions.get(),
        compaction_peak_input_bytes: c.compaction_peak_input_bytes.get(),
        compaction_blocking_reads: c.compaction_blocking_reads.get(),
        write_slowdowns: c.write_slowdowns.get(),
        write_slowdown_micros: c.write_slowdown_micros.get(),
        write_stops: c.write_stops.get(),
        write_stop_periods: c.write_stop_periods.get(),
        write_stop_micros,
        longest_write_stop_micros,
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
