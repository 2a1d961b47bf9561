//! Opening a partition: create it, or recover it from manifest and WAL.
//!
//! Nothing in the directory is read or removed before its lock is held.
//!
//! Recovery rules:
//! - temporary files (`*.tmp`) are half-written leftovers: removed;
//! - the manifest is replayed; a torn last edit (never acknowledged) is cut
//!   off, any other damage fails the open with file and offset;
//! - every table the manifest lists must open cleanly; tables it does not
//!   list are leftovers of an interrupted flush or compaction: removed;
//! - WAL segments from the manifest's `wal_segment` on are replayed in order
//!   into the memtable; a torn tail is truncated (that write was never
//!   acknowledged under `always`), damage before the tail fails the open;
//! - new writes go to a fresh WAL segment; if there is no room for its
//!   file (`ENOSPC`, no free inode, `EDQUOT`), to the newest replayed
//!   segment, synced up to its replayed end, so that a partition restarted
//!   on a full disk comes up and serves reads (writes fit while the file
//!   system has room for data; the memtable switch makes the new segment
//!   once it has room for a file);
//! - files nothing refers to are removed before the new segment is made
//!   (their room may be what it needs).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use super::commit::CommitQueue;
use super::log::LogWriter;
use super::notify::Notify;
use super::version::Version;
use super::{Inner, State};
use crate::batch::decode_batch;
use crate::error::{Error, Result};
use crate::file_system::{File, FileSystem, OpenMode};
use crate::files::{self, FileKind};
use crate::manifest::{self, ManifestState, VersionEdit};
use crate::memtable::Memtable;
use crate::options::Options;
use crate::sstable::BlockCache;
use crate::table::Table;
use crate::wal;

/// Format of a partition directory, recorded in its manifest.
const PARTITION_FORMAT: u32 = 1;

pub(crate) async fn open(dir: &Path, opts: Options) -> Result<Inner> {
    let fs = opts.file_system.session();
    if opts.create_if_missing {
        // Parents synced too: a partition whose directory entry a power
        // loss drops would lose every write acknowledged in it.
        fs.create_dir_all_durably(dir)
            .await
            .map_err(|e| Error::io("create dir", dir, e))?;
    }
    let lock = fs.lock(dir, files::LOCK_FILE)?;
    let cache = match &opts.budget {
        Some(budget) => budget.cache(),
        None => Rc::new(RefCell::new(BlockCache::new(opts.block_cache_bytes))),
    };
    let listing = files::list(&fs, dir)?;
    for (kind, path) in &listing {
        if *kind == FileKind::Temp {
            tracing::info!(path = %path.display(), "removing leftover temporary file");
            let _ = fs.remove_file(path).await;
        }
    }
    let has_current = listing.iter().any(|(k, _)| *k == FileKind::Current);
    let (state, manifest_log) = if has_current {
        recover(&fs, dir, &listing, &cache).await?
    } else {
        if interrupted_create(&fs, &listing) {
            // `create` writes CURRENT last; without it nothing was ever
            // acknowledged, so start over.
            tracing::info!(dir = %dir.display(), "finishing a partition creation that was interrupted");
            for (_, path) in &listing {
                let _ = fs.remove_file(path).await;
            }
        } else if listing.iter().any(|(k, _)| {
            matches!(
                k,
                FileKind::Manifest(_) | FileKind::Table(_) | FileKind::Wal(_)
            )
        }) {
            return Err(Error::corruption(
                dir.join("CURRENT"),
                0,
                "CURRENT is missing but the directory holds partition files",
            ));
        }
        if !opts.create_if_missing {
            return Err(Error::InvalidArgument(format!(
                "no partition in {}",
                dir.display()
            )));
        }
        create(&fs, dir).await?
    };
    Ok(Inner {
        dir: dir.to_path_buf(),
        fs,
        opts,
        state: RefCell::new(state.0),
        wal: RefCell::new(Some(state.1)),
        manifest_log: RefCell::new(Some(manifest_log)),
        commit: CommitQueue::default(),
        sync_due: Cell::new(false),
        switch_requested: Cell::new(false),
        switch_no_room: RefCell::new(None),
        flush_running: Cell::new(false),
        compactions_running: Cell::new(0),
        busy_tables: RefCell::new(HashSet::new()),
        manual_requested: Cell::new(false),
        manual_running: Cell::new(false),
        edit_lock: Default::default(),
        pressure: Cell::new(crate::compaction::Pressure::None),
        maintenance_progress: Notify::default(),
        cache,
        snapshots: RefCell::new(BTreeMap::new()),
        poisoned: RefCell::new(None),
        background_error: RefCell::new(None),
        out_of_space: RefCell::new(None),
        manual_out_of_space: RefCell::new(None),
        closed: Cell::new(false),
        abandoned: Cell::new(false),
        counters: Default::default(),
        #[cfg(test)]
        test_hooks: Default::default(),
        lock: RefCell::new(Some(lock)),
    })
}

/// Whether the directory holds exactly what an interrupted `create` leaves:
/// manifest 1 and an empty WAL segment 2 (and possibly temp files), no
/// CURRENT.
fn interrupted_create(fs: &FileSystem, listing: &[(FileKind, std::path::PathBuf)]) -> bool {
    let mut saw_manifest = false;
    for (kind, path) in listing {
        match kind {
            FileKind::Manifest(1) => saw_manifest = true,
            FileKind::Wal(2) if fs.len_now(path).is_ok_and(|len| len == 0) => {}
            FileKind::Temp => {}
            _ => return false,
        }
    }
    saw_manifest
}

/// A new, empty partition: manifest 1, WAL segment 2, CURRENT (last).
async fn create(fs: &FileSystem, dir: &Path) -> Result<((State, LogWriter), LogWriter)> {
    let mut manifest_state = ManifestState::new();
    let edit = VersionEdit {
        next_table_id: Some(3),
        last_seqno: Some(0),
        wal_segment: Some(2),
        partition_format: Some(PARTITION_FORMAT),
        ..Default::default()
    };
    manifest_state
        .apply(&edit)
        .map_err(|e| Error::corruption(dir, 0, e))?;
    let manifest_path = dir.join(files::manifest_name(1));
    let mut manifest_log = LogWriter::create(fs, manifest_path).await?;
    append_edit(&mut manifest_log, &edit).await?;
    let wal = LogWriter::create(fs, files::wal_path(dir, 2)).await?;
    files::write_atomically(
        fs,
        dir,
        &dir.join("CURRENT"),
        manifest::encode_current(&files::manifest_name(1)),
    )
    .await?;
    let state = State {
        mem: Rc::new(RefCell::new(Memtable::new())),
        mem_wals: vec![2],
        frozen: Vec::new(),
        version: Rc::new(Version { levels: Vec::new() }),
        tables: HashMap::new(),
        manifest: manifest_state,
        last_seqno: 0,
        next_file: 3,
    };
    Ok(((state, wal), manifest_log))
}

/// Makes the replayed prefix of a log durable before new data goes behind
/// it: writes `valid` back over itself, then syncs.
///
/// A sync alone is not enough: after a failed sync (in an earlier process,
/// before no power loss) Linux keeps the pages in the page cache but marks
/// them clean, so a reopen reads and replays them, and its sync returns Ok
/// without writing them. Newer data appended behind them would then follow
/// a hole that exists only on disk, and the next power loss would leave a
/// log that does not open. Writing the bytes again dirties those pages, so
/// the sync writes them. The cost is bounded by one memtable's WAL (or one
/// manifest) per open; a cut during the rewrite is harmless, since it
/// writes the bytes already there.
pub(crate) async fn rewrite_and_sync(file: &File, path: &Path, valid: &[u8]) -> Result<()> {
    if !valid.is_empty() {
        let (res, _) = file.write_all_at(valid.to_vec(), 0).await;
        res.map_err(|e| Error::io("rewrite", path, e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| Error::io("fsync", path, e))
}

/// Appends one version edit to the manifest and syncs it.
pub(crate) async fn append_edit(log: &mut LogWriter, edit: &VersionEdit) -> Result<u64> {
    let mut payload = Vec::new();
    edit.encode(&mut payload);
    let mut record = Vec::with_capacity(payload.len() + wal::HEADER_LEN);
    wal::encode_record(&payload, &mut record).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let len = record.len() as u64;
    log.append(&record)?;
    log.sync().await?;
    Ok(len)
}

async fn recover(
    fs: &FileSystem,
    dir: &Path,
    listing: &[(FileKind, std::path::PathBuf)],
    cache: &RefCell<BlockCache>,
) -> Result<((State, LogWriter), LogWriter)> {
    let current_path = dir.join("CURRENT");
    let current = files::read_all(fs, &current_path).await?;
    let manifest_name = manifest::decode_current(&current)
        .map_err(|e| Error::corruption(&current_path, 0, e))?
        .to_string();
    let manifest_number = match files::parse(&manifest_name) {
        Some(FileKind::Manifest(n)) => n,
        _ => {
            return Err(Error::corruption(
                &current_path,
                0,
                format!("names {manifest_name:?}, not a manifest"),
            ))
        }
    };
    let manifest_path = dir.join(&manifest_name);
    let manifest_bytes = files::read_all(fs, &manifest_path).await?;
    let replay = manifest::replay_manifest(&manifest_bytes)
        .map_err(|e| Error::corruption(&manifest_path, manifest_error_offset(&e), e))?;
    if let Some(torn) = &replay.torn_tail {
        tracing::warn!(path = %manifest_path.display(), offset = torn.offset, "truncating torn manifest tail");
    }
    let manifest_valid_len = replay.valid_len;
    let mut manifest_state = replay.state;

    // Classify the directory before touching anything.
    let mut max_file = manifest_number;
    let mut wal_segments = Vec::new();
    let mut removable = Vec::new();
    for (kind, path) in listing {
        match *kind {
            FileKind::Table(id) => {
                max_file = max_file.max(id);
                if manifest_state.table(id).is_none() {
                    removable.push(path.clone());
                }
            }
            FileKind::Wal(n) => {
                max_file = max_file.max(n);
                if n >= manifest_state.wal_segment() {
                    wal_segments.push(n);
                } else {
                    removable.push(path.clone());
                }
            }
            FileKind::Manifest(n) => {
                max_file = max_file.max(n);
                if n != manifest_number {
                    // Left by a rotation interrupted before or after the
                    // CURRENT swap; CURRENT names the live one.
                    removable.push(path.clone());
                }
            }
            _ => {}
        }
    }
    wal_segments.sort_unstable();
    // The oldest live WAL segment is deleted only after a later manifest
    // edit moved past it was synced. If it is missing, the manifest lost
    // that edit, and the data it recorded lives in tables the manifest no
    // longer lists: refuse rather than delete them.
    if !wal_segments.contains(&manifest_state.wal_segment()) {
        return Err(Error::corruption(
            &manifest_path,
            manifest_valid_len,
            format!(
                "names WAL segment {} as the oldest live one, but that file is missing: a manifest edit was lost",
                manifest_state.wal_segment()
            ),
        ));
    }

    // Tables.
    let mut tables = HashMap::new();
    for meta in manifest_state.levels().iter().flatten() {
        let path = files::table_path(dir, meta.id);
        let cache_key = cache.borrow_mut().new_table_key();
        let table = Table::open(fs, meta.id, cache_key, path).await?;
        tables.insert(meta.id, Rc::new(table));
    }

    // WAL replay.
    let mut mem = Memtable::new();
    let mut last_seqno = manifest_state.last_seqno();
    // The newest segment, open, and its replayed length: where new writes
    // go if there is no room for a new segment.
    let mut newest = None;
    for (i, &n) in wal_segments.iter().enumerate() {
        let path = files::wal_path(dir, n);
        let bytes = files::read_all(fs, &path).await?;
        let replay = wal::decode_segment(&bytes)
            .map_err(|e| Error::corruption(&path, wal_error_offset(&e), e))?;
        if let Some(torn) = &replay.torn_tail {
            // Older segments were synced before newer ones got data, so a
            // damaged tail followed by newer data is corruption, not a
            // torn write.
            let newer_has_data = wal_segments[i + 1..].iter().any(|m| {
                fs.len_now(&files::wal_path(dir, *m))
                    .is_ok_and(|len| len > 0)
            });
            if newer_has_data {
                return Err(Error::corruption(
                    &path,
                    torn.offset,
                    "damaged record in a WAL segment that newer segments follow",
                ));
            }
        }
        for (offset, payload) in replay.records_with_offsets() {
            let batch = decode_batch(payload).map_err(|e| Error::corruption(&path, offset, e))?;
            // Segments from `wal_segment` on hold only unflushed writes.
            for (seqno, kind, key, value) in batch.iter() {
                mem.insert(key, seqno, kind, value);
                last_seqno = last_seqno.max(seqno);
            }
        }
        let file = fs
            .open(&path, OpenMode::Write)
            .await
            .map_err(|e| Error::io("open", &path, e))?;
        if let Some(torn) = replay.torn_tail {
            tracing::warn!(path = %path.display(), offset = torn.offset, "truncating torn WAL tail");
            file.set_len(replay.valid_len)
                .map_err(|e| Error::io("truncate", &path, e))?;
        }
        // What we replay becomes the base of new writes: make it durable
        // first, so a power loss cannot keep later writes and drop these.
        rewrite_and_sync(&file, &path, &bytes[..replay.valid_len as usize]).await?;
        newest = Some((file, path, replay.valid_len));
    }

    let mut manifest_log = LogWriter::append_to(
        fs,
        manifest_path,
        &manifest_bytes[..manifest_valid_len as usize],
    )
    .await?;
    // Leftovers go first: their room may be what the new segment needs.
    remove_unreferenced(fs, std::mem::take(&mut removable)).await;
    let next_file = manifest_state.next_table_id().max(max_file + 1);
    let wal_number = next_file;
    let mut mem_wals = wal_segments;
    let wal = match LogWriter::create(fs, files::wal_path(dir, wal_number)).await {
        Ok(wal) => {
            files::sync_dir(fs, dir).await?;
            if mem.is_empty() {
                // Nothing to keep: move the oldest live segment to the new
                // one (in the manifest first), then the replayed ones can go.
                let edit = VersionEdit {
                    wal_segment: Some(wal_number),
                    next_table_id: Some(next_file + 1),
                    ..Default::default()
                };
                manifest_state
                    .apply(&edit)
                    .map_err(|e| Error::corruption(&manifest_log.path, 0, e))?;
                append_edit(&mut manifest_log, &edit).await?;
                removable.extend(mem_wals.drain(..).map(|n| files::wal_path(dir, n)));
            }
            mem_wals.push(wal_number);
            wal
        }
        // No room for a new segment's file (the failed exclusive create
        // made none): new writes go on in the newest replayed segment,
        // which is synced up to its replayed end, so the partition comes
        // up and serves reads, and the memtable switch makes the new
        // segment once there is room (`wal_task`). There always is one:
        // the manifest's oldest live segment was found above.
        Err(e @ Error::DiskFull { .. }) => {
            let Some((file, path, offset)) = newest else {
                return Err(e);
            };
            tracing::warn!(error = %e, segment = %path.display(), "no room for a new WAL segment: writing on in the newest one");
            // The segment's directory entry may never have been synced
            // (the last process died between its create and the directory
            // sync); acknowledged writes must not go into a file a power
            // loss can drop. A directory sync needs no new inode.
            files::sync_dir(fs, dir).await?;
            LogWriter::resume(file, path, offset)
        }
        Err(e) => return Err(e),
    };
    remove_unreferenced(fs, removable).await;
    let version = Rc::new(Version::from_state(&manifest_state, &tables));
    let state = State {
        mem: Rc::new(RefCell::new(mem)),
        mem_wals,
        frozen: Vec::new(),
        version,
        tables,
        manifest: manifest_state,
        last_seqno,
        next_file: next_file + 1,
    };
    Ok(((state, wal), manifest_log))
}

/// Removes files nothing refers to any more (best effort: a leftover is
/// removed at the next open).
async fn remove_unreferenced(fs: &FileSystem, paths: Vec<std::path::PathBuf>) {
    for path in paths {
        tracing::info!(path = %path.display(), "removing a file no longer referenced");
        let _ = fs.remove_file(&path).await;
    }
}

fn wal_error_offset(e: &wal::WalError) -> u64 {
    match e {
        wal::WalError::Corrupt { offset, .. } => *offset,
        _ => 0,
    }
}

fn manifest_error_offset(e: &manifest::ManifestError) -> u64 {
    match e {
        manifest::ManifestError::Corrupt { offset, .. } => *offset,
        manifest::ManifestError::Wal(w) => wal_error_offset(w),
        _ => 0,
    }
}
