//! The maintenance task: flushes frozen memtables, then runs compactions
//! until the policy says there is nothing to do. One per partition; it alone
//! appends to the manifest. Also the write throttle that keeps writers from
//! outrunning it.
//!
//! Write stalls (see `compaction::write_pressure`): with the defaults,
//! writes are delayed 1–4 ms each from 8 L0 tables (or 2 frozen memtables)
//! upward, growing linearly, and wait entirely at 12 L0 tables (or 4 frozen
//! memtables) until flushes and compactions catch up.

use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use frys_runtime as rt;

use super::metrics::add;
use super::version::Version;
use super::{compact, open, Inner};
use crate::compaction::{self, Choice, Levels, PolicyConfig, Pressure};
use crate::error::{Error, Result};
use crate::files;
use crate::manifest::{TableMeta, VersionEdit};
use crate::sstable::TableBuilder;
use crate::table::Table;

/// Starts the maintenance task unless it runs.
pub(crate) fn kick(inner: &Rc<Inner>) {
    if inner.maintenance_running.replace(true) {
        return;
    }
    let inner = inner.clone();
    rt::spawn_local(async move {
        run(&inner).await;
        inner.maintenance_running.set(false);
        update_pressure(&inner);
        inner.maintenance_progress.notify_all();
    });
}

async fn run(inner: &Rc<Inner>) {
    loop {
        if inner.poisoned.borrow().is_some() || inner.closed.get() || inner.abandoned.get() {
            return;
        }
        let has_frozen = !inner.state.borrow().frozen.is_empty();
        let step = if has_frozen {
            flush_oldest(inner).await
        } else if inner.manual_requested.replace(false) {
            compact::manual(inner).await
        } else {
            match compaction::choose(&levels(inner), &policy_config(inner), &HashSet::new()) {
                Choice::DoNothing => return,
                choice => compact::run_choice(inner, choice).await,
            }
        };
        if let Err(e) = step {
            inner.poison(format!("background flush/compaction failed: {e}"));
            inner.background_error.borrow_mut().get_or_insert(e);
            return;
        }
        update_pressure(inner);
        inner.maintenance_progress.notify_all();
        rt::yield_now().await;
    }
}

/// Writes the oldest frozen memtable to an L0 table and installs it.
// The frozen memtable's `Ref` spans yields on purpose: nothing ever borrows
// a frozen memtable mutably (only the WAL task writes, and only the live one).
#[allow(clippy::await_holding_refcell_ref)]
async fn flush_oldest(inner: &Rc<Inner>) -> Result<()> {
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
        let _ = rt::fs::remove_file(files::wal_path(&inner.dir, n)).await;
    }
    add(&inner.counters.flushes, 1);
    Ok(())
}

/// Writes a new table file durably and opens it.
pub(crate) async fn write_table(
    inner: &Rc<Inner>,
    bytes: Vec<u8>,
    level: u8,
) -> Result<(TableMeta, Rc<Table>)> {
    let id = inner.state.borrow_mut().allocate_file();
    let path = files::table_path(&inner.dir, id);
    let file = rt::fs::File::create(&path)
        .await
        .map_err(|e| Error::io("create", &path, e))?;
    let len = bytes.len() as u64;
    let (res, bytes) = file.write_all_at(bytes, 0).await;
    res.map_err(|e| Error::io("write", &path, e))?;
    file.sync_all()
        .await
        .map_err(|e| Error::io("fsync", &path, e))?;
    drop(file);
    files::sync_dir(&inner.dir).await?;
    let cache_key = inner.cache.borrow_mut().new_table_key();
    let table = Table::from_written(id, cache_key, path, &bytes).await?;
    add(&inner.counters.disk_bytes_written, len);
    let meta = TableMeta {
        id,
        level,
        size: len,
        smallest: table.props.smallest.clone(),
        largest: table.props.largest.clone(),
        min_seqno: table.props.min_seqno,
        max_seqno: table.props.max_seqno,
        entries: table.props.entries,
    };
    Ok((meta, Rc::new(table)))
}

/// Validates `edit` against the current state, appends it to the manifest
/// (synced), then installs the new version.
pub(crate) async fn log_and_install(
    inner: &Rc<Inner>,
    mut edit: VersionEdit,
    opened: Vec<Rc<Table>>,
) -> Result<()> {
    let mut next = {
        let state = inner.state.borrow();
        edit.next_table_id = Some(state.next_file);
        state.manifest.clone()
    };
    let manifest_path = || inner.dir.join("MANIFEST");
    next.apply(&edit).map_err(|e| {
        Error::corruption(
            manifest_path(),
            0,
            format!("refusing a bad version edit: {e}"),
        )
    })?;
    let Some(mut log) = inner.manifest_log.borrow_mut().take() else {
        return Err(Error::Closed);
    };
    let appended = open::append_edit(&mut log, &edit).await;
    *inner.manifest_log.borrow_mut() = Some(log);
    add(&inner.counters.disk_bytes_written, appended?);
    {
        let mut state = inner.state.borrow_mut();
        for t in opened {
            state.tables.insert(t.id, t);
        }
        for (_, id) in &edit.deleted {
            if !edit.added.iter().any(|m| m.id == *id) {
                state.tables.remove(id);
            }
        }
        state.manifest = next;
        state.version = Rc::new(Version::from_state(&state.manifest, &state.tables));
    }
    let size = inner.manifest_log.borrow().as_ref().map_or(0, |l| l.offset);
    if size > inner.opts.manifest_rotate_bytes {
        rotate_manifest(inner).await?;
    }
    Ok(())
}

/// Rewrites the manifest as one snapshot edit in a new file, then swaps
/// `CURRENT` to it atomically. A crash before the swap leaves the old
/// manifest current; one after it leaves the old file behind, removed at
/// the next open.
async fn rotate_manifest(inner: &Rc<Inner>) -> Result<()> {
    let (number, mut edit) = {
        let mut state = inner.state.borrow_mut();
        let number = state.allocate_file();
        let mut edit = state.manifest.snapshot_edit();
        edit.next_table_id = Some(state.next_file);
        (number, edit)
    };
    edit.last_seqno = edit.last_seqno.or(Some(0));
    let name = files::manifest_name(number);
    let mut log = super::log::LogWriter::create(inner.dir.join(&name)).await?;
    let written = open::append_edit(&mut log, &edit).await?;
    files::write_atomically(
        &inner.dir,
        &inner.dir.join("CURRENT"),
        crate::manifest::encode_current(&name),
    )
    .await?;
    let old = inner.manifest_log.borrow_mut().replace(log);
    if let Some(old) = old {
        let _ = rt::fs::remove_file(&old.path).await;
    }
    add(&inner.counters.disk_bytes_written, written);
    Ok(())
}

/// The policy's view of the current table set.
pub(crate) fn levels(inner: &Inner) -> Levels {
    Levels {
        levels: inner.state.borrow().manifest.levels().to_vec(),
    }
}

pub(crate) fn policy_config(inner: &Inner) -> PolicyConfig {
    PolicyConfig {
        level_base_bytes: inner.opts.level_base_bytes,
        target_file_size: inner.opts.target_file_size,
        ..PolicyConfig::default()
    }
}

/// Recomputes the write pressure (after the table set or the number of
/// frozen memtables changed).
pub(crate) fn update_pressure(inner: &Inner) {
    let frozen = inner.state.borrow().frozen.len();
    let p = compaction::write_pressure(&levels(inner), frozen, &policy_config(inner));
    inner.pressure.set(p);
}

/// Slows a writer down, or makes it wait, while compaction is behind.
pub(crate) async fn throttle_writes(inner: &Rc<Inner>) -> Result<()> {
    let mut counted_stop = false;
    loop {
        match inner.pressure.get() {
            Pressure::None => return Ok(()),
            Pressure::Slowdown { delay_micros } => {
                add(&inner.counters.write_slowdowns, 1);
                rt::time::sleep(Duration::from_micros(delay_micros)).await;
                return Ok(());
            }
            Pressure::Stop => {
                inner.check_writable()?;
                if !counted_stop {
                    add(&inner.counters.write_stops, 1);
                    counted_stop = true;
                }
                kick(inner);
                inner.maintenance_progress.notified().await;
            }
        }
    }
}

/// Waits until no write is queued and no flush or compaction is pending.
pub(crate) async fn wait_idle(inner: &Rc<Inner>) -> Result<()> {
    loop {
        if let Some(e) = &*inner.background_error.borrow() {
            return Err(e.duplicate());
        }
        if let Some(reason) = &*inner.poisoned.borrow() {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        let idle = !inner.maintenance_running.get()
            && inner.state.borrow().frozen.is_empty()
            && !inner.switch_requested.get()
            && !inner.manual_requested.get()
            && !inner.commit.busy();
        if idle {
            return Ok(());
        }
        if !inner.maintenance_running.get() && !inner.commit.busy() {
            // Work is pending but nobody runs it.
            if !inner.state.borrow().frozen.is_empty() || inner.manual_requested.get() {
                kick(inner);
            }
        }
        inner.maintenance_progress.notified().await;
    }
}
