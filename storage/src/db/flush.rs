//! Flushing frozen memtables to L0 tables, oldest first, by the one flush
//! task (`maintenance`), which never waits for a compaction: it only takes
//! the [`EditLock`](super::install::EditLock) for the time of one edit.
//!
//! Invariants: frozen memtables are flushed in the order they were frozen,
//! one at a time, so the manifest's oldest live WAL segment only moves
//! forward, and every new L0 table holds seqnos above those of every table
//! already in L0 (a concurrent L0→L1 merge moves older data down, never
//! newer). A frozen memtable leaves `State::frozen` only after the edit
//! naming its table is synced; its WAL segments are unlinked after that.

use std::rc::Rc;

use frys_runtime as rt;

use super::install::{log_and_install, write_table};
use super::metrics::add;
use super::{compact, Inner};
use crate::error::{Error, Result};
use crate::files;
use crate::manifest::VersionEdit;
use crate::sstable::TableBuilder;

/// Writes the oldest frozen memtable to an L0 table and installs it.
// The frozen memtable's `Ref` spans yields on purpose: nothing ever borrows
// a frozen memtable mutably (only the WAL task writes, and only the live one).
#[allow(clippy::await_holding_refcell_ref)]
pub(super) async fn flush_oldest(inner: &Rc<Inner>) -> Result<()> {
    let (mem, wals, next_wal) = {
        let state = inner.state.borrow();
        let Some(f) = state.frozen.first() else {
            return Ok(());
        };
        let next_wal = state
            .frozen
            .get(1)
            .map_or(state.mem_wals[0], |next| next.wals[0]);
        (f.mem.clone(), f.wals.clone(), next_wal)
    };
    let mut builder = TableBuilder::new(compact::table_options(inner));
    let max_seqno = {
        // Frozen: nothing writes it, so the borrow may span the yields.
        let mem = mem.borrow();
        for (n, (k, v)) in mem.iter_from(None).enumerate() {
            builder
                .add(k, v)
                .map_err(|e| Error::InvalidArgument(format!("memtable flush: {e}")))?;
            if n % 4096 == 4095 {
                // Let the core's requests run between slices of the flush.
                rt::yield_now().await;
            }
        }
        mem.max_seqno()
    };
    let mut edit = VersionEdit {
        wal_segment: Some(next_wal),
        ..Default::default()
    };
    let mut opened = Vec::new();
    if builder.entries() > 0 {
        let bytes = builder
            .finish()
            .map_err(|e| Error::InvalidArgument(format!("memtable flush: {e}")))?;
        let (meta, table) = write_table(inner, bytes, 0).await?;
        edit.added.push(meta);
        opened.push(table);
    }
    let last = inner.state.borrow().manifest.last_seqno().max(max_seqno);
    edit.last_seqno = Some(last);
    log_and_install(inner, edit, opened).await?;
    inner.state.borrow_mut().frozen.remove(0);
    for n in wals {
        let _ = inner.fs.remove_file(&files::wal_path(&inner.dir, n)).await;
    }
    add(&inner.counters.flushes, 1);
    Ok(())
}
