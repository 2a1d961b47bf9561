//! Installing the results of flushes and compactions: writing a table
//! file durably, then logging a version edit to the manifest and swapping
//! in the new [`Version`].
//!
//! Several background tasks (the flush task and up to
//! [`Options::max_compactions`](crate::Options::max_compactions)
//! compactions) install concurrently, so:
//!
//! - **One edit at a time.** [`log_and_install`] holds the partition's
//!   [`EditLock`] from reading the manifest state, through validating the
//!   edit against it, appending and syncing it, to installing the new
//!   state (and a manifest rotation). Edits are validated against the state
//!   they are applied to, never against a copy taken before another edit.
//! - **Durable before visible, visible before deleted.** A table file is
//!   written and fsync'ed (and its directory entry synced) before an edit
//!   names it; an edit is synced before the version that uses it is
//!   installed; input tables and WAL segments are unlinked only after the
//!   edit that drops them is synced. A crash at any point leaves either
//!   the old or the new table set, plus unreferenced files that the next
//!   open removes.
//! - **No append after a failed append.** If appending or syncing an edit
//!   fails, the manifest writer is dropped (its tail may hold part of a
//!   record) and the partition is poisoned: no later edit lands behind a
//!   torn one, which replay would take for corruption.
//! - **Retry only what left no trace.** A manifest append cut off for
//!   want of space returns `DiskFull` (retryable) after removing the
//!   tables that edit would have named. Once an edit is installed, a
//!   manifest rotation that fails from the CURRENT rename on poisons the
//!   partition (a retry would install the step twice); after a rename
//!   whose directory sync failed, the writer already points at the new
//!   manifest, the one CURRENT names.
//! - File numbers come from one counter in `State`, so concurrent tasks
//!   never share a file name; every edit records the counter as it is then.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

use super::metrics::add;
use super::notify::Notify;
use super::version::Version;
use super::{open, Inner};
use crate::error::{Error, Result};
use crate::file_system::OpenMode;
use crate::files;
use crate::manifest::{TableMeta, VersionEdit};
use crate::table::Table;

/// Serializes manifest edits (core-local; waiters are woken on release).
#[derive(Default)]
pub(crate) struct EditLock {
    held: Cell<bool>,
    released: Notify,
}

/// Holds the [`EditLock`] until dropped.
pub(crate) struct EditGuard<'a>(&'a EditLock);

impl EditLock {
    pub(crate) async fn lock(&self) -> EditGuard<'_> {
        while self.held.get() {
            self.released.notified().await;
        }
        self.held.set(true);
        EditGuard(self)
    }
}

impl Drop for EditGuard<'_> {
    fn drop(&mut self) {
        self.0.held.set(false);
        self.0.released.notify_all();
    }
}

/// Writes a new table file durably and opens it.
pub(crate) async fn write_table(
    inner: &Rc<Inner>,
    bytes: Vec<u8>,
    level: u8,
) -> Result<(TableMeta, Rc<Table>)> {
    let id = inner.state.borrow_mut().allocate_file();
    let path = files::table_path(&inner.dir, id);
    let len = bytes.len() as u64;
    let bytes = match write_durably(inner, &path, bytes).await {
        Ok(bytes) => bytes,
        Err(e) => {
            // Disk-full case: a partial table would hold on to the space
            // until the next open; nothing names it, so it goes now.
            let _ = inner.fs.remove_file(&path).await;
            return Err(e);
        }
    };
    let cache_key = inner.cache.borrow_mut().new_table_key();
    let table = Table::from_written(&inner.fs, id, cache_key, path, &bytes).await?;
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

/// Writes a new file, syncs it and its directory entry; gives the bytes
/// back.
async fn write_durably(inner: &Inner, path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let file = inner
        .fs
        .open(path, OpenMode::Create)
        .await
        .map_err(|e| Error::io("create", path, e))?;
    let (res, bytes) = file.write_all_at(bytes, 0).await;
    res.map_err(|e| Error::io("write", path, e))?;
    file.sync_all()
        .await
        .map_err(|e| Error::io("fsync", path, e))?;
    drop(file);
    files::sync_dir(&inner.fs, &inner.dir).await?;
    Ok(bytes)
}

/// Validates `edit` against the current state, appends it to the manifest
/// (synced), then installs the new version; one edit at a time (the
/// [`EditLock`]).
pub(crate) async fn log_and_install(
    inner: &Rc<Inner>,
    mut edit: VersionEdit,
    opened: Vec<Rc<Table>>,
) -> Result<()> {
    let _guard = inner.edit_lock.lock().await;
    // A failed step poisons the partition; its manifest writer may be gone.
    if let Some(reason) = &*inner.poisoned.borrow() {
        return Err(Error::Poisoned {
            reason: reason.clone(),
        });
    }
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
    // Put back only after a clean append: see the module docs.
    let appended = match open::append_edit(&mut log, &edit).await {
        Ok(n) => n,
        // Disk-full case: the record did not fit and was cut off again
        // (`LogWriter::append`), nothing was synced after the last edit:
        // the manifest is as before, the step may be retried.
        Err(e @ Error::DiskFull { .. }) if !log.unsynced => {
            *inner.manifest_log.borrow_mut() = Some(log);
            // The step will be retried and write its tables anew: the ones
            // it wrote for this edit are named by nothing, and on a nearly
            // full disk they hold exactly the space the retry needs. (A
            // table the edit only moves between levels is in the manifest
            // already and stays.)
            let unnamed: Vec<u64> = {
                let state = inner.state.borrow();
                edit.added
                    .iter()
                    .map(|m| m.id)
                    .filter(|id| state.manifest.table(*id).is_none())
                    .collect()
            };
            drop(opened);
            for id in unnamed {
                let _ = inner
                    .fs
                    .remove_file(&files::table_path(&inner.dir, id))
                    .await;
            }
            return Err(e);
        }
        Err(e) => {
            inner.poison(format!("manifest append failed: {e}"));
            return Err(e);
        }
    };
    *inner.manifest_log.borrow_mut() = Some(log);
    add(&inner.counters.disk_bytes_written, appended);
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
        // The edit is installed: whatever goes wrong now must not read as
        // retryable (a retry would log and install the step a second
        // time). A rotation that changed nothing returned Ok already; any
        // other failure poisons.
        if let Err(e) = rotate_manifest(inner).await {
            let reason = format!("manifest rotation failed after an installed edit: {e}");
            inner.poison(reason.clone());
            return Err(match e {
                Error::DiskFull { .. } => Error::Poisoned { reason },
                e => e,
            });
        }
    }
    Ok(())
}

/// Rewrites the manifest as one snapshot edit in a new file, then swaps
/// `CURRENT` to it atomically. A crash before the swap leaves the old
/// manifest current; one after it leaves the old file behind, removed at
/// the next open. A full disk before the swap is not an error: the new
/// files are removed and the old manifest goes on (it is current and
/// whole); the next edit tries again.
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
    let path = inner.dir.join(&name);
    let current = inner.dir.join("CURRENT");
    let prepared = async {
        let mut log = super::log::LogWriter::create(&inner.fs, path.clone()).await?;
        let written = open::append_edit(&mut log, &edit).await?;
        let tmp =
            files::write_temp(&inner.fs, &current, crate::manifest::encode_current(&name)).await?;
        Ok::<_, Error>((log, written, tmp))
    };
    let (log, written, tmp) = match prepared.await {
        Ok(p) => p,
        Err(e @ Error::DiskFull { .. }) => {
            tracing::warn!(dir = %inner.dir.display(), error = %e, "disk full: manifest rotation postponed");
            let _ = inner.fs.remove_file(&path).await;
            let _ = inner.fs.remove_file(&files::temp_path(&current)).await;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    inner
        .fs
        .rename(&tmp, &current)
        .await
        .map_err(|e| Error::io("rename", &tmp, e))?;
    // CURRENT names the new manifest now (in the page cache at least):
    // edits go there from here on, even if the directory sync fails (the
    // caller poisons then, and nothing must append to a manifest that
    // CURRENT no longer names).
    let old = inner.manifest_log.borrow_mut().replace(log);
    add(&inner.counters.disk_bytes_written, written);
    files::sync_dir(&inner.fs, &inner.dir).await?;
    // The old manifest goes only once the swap is durable: until then a
    // power loss leaves CURRENT naming it.
    if let Some(old) = old {
        let _ = inner.fs.remove_file(&old.path).await;
    }
    Ok(())
}
