//! Checkpoints: a copy of a partition as of one sequence number, in
//! another directory, made while the partition keeps serving.
//!
//! Two steps:
//! - [`Db::begin_checkpoint`] is synchronous (no `.await`, so no write is
//!   applied meanwhile): it records the last applied sequence number `S`
//!   and the manifest's state, and hard-links every live table and every
//!   live WAL segment into the destination. The links pin the files: a
//!   compaction or flush that later deletes them from the partition does
//!   not delete them from the checkpoint. A caller that begins the
//!   checkpoints of several partitions in one synchronous stretch (or at
//!   one barrier of all cores) gets one point in time for all of them.
//! - [`Checkpoint::finish`] copies, from the pinned WAL segments, the
//!   records of sequence numbers up to `S` (the segment being written
//!   goes on growing through its link; what follows `S` is left out), then
//!   writes a manifest of the pinned tables and `CURRENT`, and syncs.
//!
//! The result is a partition directory that [`Db::open`] opens as it was
//! at `S`: tables hold only writes at or below `S` (they were flushed from
//! memtables frozen before), and the manifest's oldest live WAL segment
//! says which segments replay.
//!
//! Hard links need the destination on the same file system.

use std::path::{Path, PathBuf};

use super::Db;
use crate::batch::decode_batch;
use crate::error::{Error, Result};
use crate::file_system::FileSystem;
use crate::files;
use crate::key::SeqNo;
use crate::manifest::{self, VersionEdit};
use crate::wal;

/// A checkpoint whose files are pinned, to be completed by
/// [`finish`](Checkpoint::finish).
#[must_use = "a checkpoint is not usable until `finish` completes"]
pub struct Checkpoint {
    fs: FileSystem,
    dest: PathBuf,
    seqno: SeqNo,
    edit: VersionEdit,
    wals: Vec<u64>,
    manifest_number: u64,
    tables: usize,
}

/// What a finished checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The last sequence number it includes.
    pub seqno: SeqNo,
    /// Tables hard-linked.
    pub tables: usize,
    /// WAL records copied (write batches not yet in a table).
    pub wal_records: usize,
}

fn pinned_wal(dest: &Path, n: u64) -> PathBuf {
    // `.tmp`: an interrupted checkpoint's leftovers are removed at open.
    dest.join(format!("{n:06}.wal.tmp"))
}

impl Db {
    /// Pins the partition's state now into `dest` (created; it must not
    /// exist yet): see the [module docs](self). Blocking link(2) calls run
    /// on the core thread, one per live file.
    pub fn begin_checkpoint(&self, dest: &Path) -> Result<Checkpoint> {
        if self.inner.closed.get() {
            return Err(Error::Closed);
        }
        // A failed sync may have lost acknowledged WAL pages: a checkpoint
        // of a poisoned partition could silently stop short.
        self.inner.check_writable()?;
        let fs = &self.inner.fs;
        fs.create_dir_now(dest)
            .map_err(|e| Error::io("create checkpoint dir", dest, e))?;
        let state = self.inner.state.borrow();
        let oldest = state.manifest.wal_segment();
        let mut wals: Vec<u64> = state
            .frozen
            .iter()
            .flat_map(|f| f.wals.iter().copied())
            .chain(state.mem_wals.iter().copied())
            .filter(|&n| n >= oldest)
            .collect();
        wals.sort_unstable();
        wals.dedup();
        let mut tables = 0;
        for meta in state.manifest.levels().iter().flatten() {
            let from = files::table_path(&self.inner.dir, meta.id);
            fs.hard_link_now(&from, &files::table_path(dest, meta.id))
                .map_err(|e| Error::io("link", &from, e))?;
            tables += 1;
        }
        for &n in &wals {
            let from = files::wal_path(&self.inner.dir, n);
            fs.hard_link_now(&from, &pinned_wal(dest, n))
                .map_err(|e| Error::io("link", &from, e))?;
        }
        Ok(Checkpoint {
            fs: fs.clone(),
            dest: dest.to_path_buf(),
            seqno: state.last_seqno,
            edit: state.manifest.snapshot_edit(),
            wals,
            manifest_number: state.next_file,
            tables,
        })
    }

    /// [`begin_checkpoint`](Db::begin_checkpoint) then
    /// [`finish`](Checkpoint::finish): a checkpoint of this partition alone.
    pub async fn checkpoint(&self, dest: &Path) -> Result<CheckpointStats> {
        self.begin_checkpoint(dest)?.finish().await
    }
}

impl Checkpoint {
    /// The last sequence number the checkpoint includes.
    pub fn seqno(&self) -> SeqNo {
        self.seqno
    }

    /// Writes the WAL records up to [`seqno`](Checkpoint::seqno), the
    /// manifest and `CURRENT`, and syncs the directory.
    pub async fn finish(self) -> Result<CheckpointStats> {
        let mut wal_records = 0;
        // The highest seqno the copy holds: the tables' (the manifest's
        // last seqno), then every WAL record copied.
        let mut reached = self.edit.last_seqno.unwrap_or(0);
        for &n in &self.wals {
            let pinned = pinned_wal(&self.dest, n);
            let bytes = files::read_all(&self.fs, &pinned).await?;
            // A torn tail is a record being written after the pin: past `S`.
            let replay =
                wal::decode_segment(&bytes).map_err(|e| Error::corruption(&pinned, 0, e))?;
            let mut out = Vec::new();
            for (offset, payload) in replay.records_with_offsets() {
                let batch =
                    decode_batch(payload).map_err(|e| Error::corruption(&pinned, offset, e))?;
                if batch.first_seqno() > self.seqno {
                    break;
                }
                reached = reached.max(batch.last_seqno().unwrap_or(0));
                wal::encode_record(payload, &mut out)
                    .map_err(|e| Error::corruption(&pinned, offset, e))?;
                wal_records += 1;
            }
            let path = files::wal_path(&self.dest, n);
            files::write_atomically(&self.fs, &self.dest, &path, out).await?;
            self.fs
                .remove_file(&pinned)
                .await
                .map_err(|e| Error::io("remove", &pinned, e))?;
        }
        // A WAL that ends early (pages lost to a failed sync, say) would
        // make a checkpoint short of `S` that still looks whole.
        if reached < self.seqno && !self.wals.is_empty() {
            return Err(Error::corruption(
                &self.dest,
                0,
                format!(
                    "checkpoint holds writes up to seqno {reached}, short of {}",
                    self.seqno
                ),
            ));
        }
        let mut payload = Vec::new();
        self.edit.encode(&mut payload);
        let mut record = Vec::with_capacity(payload.len() + wal::HEADER_LEN);
        wal::encode_record(&payload, &mut record)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let name = files::manifest_name(self.manifest_number);
        files::write_atomically(&self.fs, &self.dest, &self.dest.join(&name), record).await?;
        files::write_atomically(
            &self.fs,
            &self.dest,
            &self.dest.join("CURRENT"),
            manifest::encode_current(&name),
        )
        .await?;
        // Power-loss case: the destination's own entry in its parent was
        // never synced, so a finished checkpoint could vanish whole.
        files::sync_dir(&self.fs, crate::file_system::parent_dir(&self.dest)).await?;
        Ok(CheckpointStats {
            seqno: self.seqno,
            tables: self.tables,
            wal_records,
        })
    }
}
