//! Backups: BGSAVE writes a checkpoint of every partition to `backup-dir`
//! while the server keeps serving; `--restore` starts a server from one.
//!
//! One point in time across the server: each partition has its own
//! sequence numbers, so "the WAL up to one sequence number" means one
//! instant at which every partition's last applied sequence number is
//! read. BGSAVE gets that instant with a barrier of all cores: a task on
//! each core, once every core's task runs, blocks its thread until every
//! core has reached the barrier, then pins its partitions' checkpoints
//! ([`frys_storage::Db::begin_checkpoint`]) before it yields. While any core waits at the barrier it runs nothing,
//! and a core that passed it pins before it runs anything else, so no
//! write anywhere is applied between the barrier and the pins: a write
//! acknowledged before BGSAVE started is in the backup; a write applied
//! after the barrier is in no partition of it. (A transaction spanning
//! cores whose parts are applied on either side of the barrier is split;
//! each part alone is whole.) The copying then runs on each core as
//! ordinary tasks.
//!
//! Layout: `<backup-dir>/<unix-ms>/` holds the data directory's `FRYS`
//! and `DBMAP` files and one checkpointed partition directory each,
//! plus `BACKUP` (written last: time and each partition's sequence
//! number). A directory without `BACKUP` is an unfinished backup and is
//! refused by `--restore`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use super::shared;
use crate::store;

/// Written last into a finished backup.
const BACKUP_FILE: &str = "BACKUP";
/// Files of the data directory copied into a backup (if present).
const DATA_DIR_FILES: [&str; 2] = ["FRYS", "DBMAP"];

static IN_PROGRESS: AtomicBool = AtomicBool::new(false);
static LAST_FAILED: AtomicBool = AtomicBool::new(false);
static LAST_BACKUP: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Whether a BGSAVE runs now (INFO `rdb_bgsave_in_progress`).
pub fn in_progress() -> bool {
    IN_PROGRESS.load(Ordering::Relaxed)
}

/// Whether the last BGSAVE failed (INFO `rdb_last_bgsave_status:err`).
pub fn last_failed() -> bool {
    LAST_FAILED.load(Ordering::Relaxed)
}

/// The directory of the last finished backup.
pub fn last_backup() -> Option<PathBuf> {
    LAST_BACKUP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Where backups go: `backup-dir`, or `<dir>/backup` when it is empty.
fn backup_root() -> PathBuf {
    let (dir, configured) =
        crate::config::live(|c| (c.dir(), c.get("backup-dir").unwrap_or_default().to_string()));
    if configured.is_empty() {
        dir.join("backup")
    } else {
        PathBuf::from(configured)
    }
}

/// Starts a BGSAVE; `Err` (Redis' text) if one is running.
pub fn start() -> Result<(), &'static str> {
    if IN_PROGRESS.swap(true, Ordering::SeqCst) {
        return Err("ERR Background save already in progress");
    }
    frys_runtime::spawn_local(async {
        let result = run().await;
        match &result {
            Ok(dir) => {
                tracing::info!(dir = %dir.display(), "BGSAVE: backup written");
                let now = store::now_ms() / 1000;
                shared().last_save.store(now, Ordering::Relaxed);
                *LAST_BACKUP.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.clone());
            }
            Err(e) => tracing::error!(error = %e, "BGSAVE failed"),
        }
        LAST_FAILED.store(result.is_err(), Ordering::Relaxed);
        IN_PROGRESS.store(false, Ordering::SeqCst);
    });
    Ok(())
}

async fn run() -> Result<PathBuf, String> {
    let root = backup_root();
    // Durable entries: a finished backup must not vanish with its
    // directory at a power loss.
    crate::keyspace::create_dir_all_durably(&root)
        .map_err(|e| format!("backup-dir {}: {e}", root.display()))?;
    let mut dest = root.join(store::now_ms().to_string());
    while dest.exists() {
        dest = root.join(format!("{}", store::now_ms() + 1));
    }
    std::fs::create_dir(&dest)
        .and_then(|()| crate::keyspace::sync_parent(&dest))
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    let cores = usize::from(shared().map.cores());
    let meeting = Arc::new(Meeting {
        arrived: AtomicUsize::new(0),
        cores,
        barrier: Barrier::new(cores),
    });
    let handles: Vec<_> = (0..cores)
        .map(|c| {
            let meeting = meeting.clone();
            let dest = dest.clone();
            frys_runtime::spawn_on(c, move || checkpoint_core(meeting, dest))
        })
        .collect();
    let mut seqnos = Vec::new();
    for h in crate::exec::join_all(handles).await {
        seqnos.extend(h.map_err(|e| e.to_string())??);
    }
    seqnos.sort_unstable();
    let data_dir = shared().data_dir.root().to_path_buf();
    for name in DATA_DIR_FILES {
        let from = data_dir.join(name);
        if from.exists() {
            std::fs::copy(&from, dest.join(name))
                .map_err(|e| format!("{}: {e}", from.display()))?;
        }
    }
    let mut text = format!("unix_ms {}\n", store::now_ms());
    for (p, seqno) in &seqnos {
        text.push_str(&format!("p{p:05} {seqno}\n"));
    }
    write_synced(&dest.join(BACKUP_FILE), text.as_bytes())?;
    Ok(dest)
}

/// Where the cores meet. Two steps, because a core blocked at the
/// barrier cannot pass mesh messages on: first every core's task runs
/// (`arrived`, waited for by yielding), then the blocking barrier, which
/// every core reaches without needing the others.
struct Meeting {
    arrived: AtomicUsize,
    cores: usize,
    barrier: Barrier,
}

/// On one core: meets the others, pins every owned partition at once
/// (nothing is awaited between the barrier and the pins), then finishes
/// the copies.
async fn checkpoint_core(meeting: Arc<Meeting>, dest: PathBuf) -> Result<Vec<(u16, u64)>, String> {
    let store = store::current();
    meeting.arrived.fetch_add(1, Ordering::SeqCst);
    while meeting.arrived.load(Ordering::SeqCst) < meeting.cores {
        frys_runtime::yield_now().await;
    }
    // Blocks this core's thread until every core is here: see the module docs.
    meeting.barrier.wait();
    let pinned: Vec<_> = store
        .owned()
        .map(|(p, db)| {
            let dir = dest.join(format!("p{p:05}"));
            (p, db.begin_checkpoint(&dir))
        })
        .collect();
    let mut seqnos = Vec::new();
    for (p, checkpoint) in pinned {
        let stats = checkpoint
            .map_err(|e| format!("partition {p}: {e}"))?
            .finish()
            .await
            .map_err(|e| format!("partition {p}: {e}"))?;
        seqnos.push((p, stats.seqno));
    }
    Ok(seqnos)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Copies the finished backup `from` into the data directory `to`, which
/// must be missing or empty (start-up, before the directory is opened).
pub fn restore(from: &Path, to: &Path) -> Result<(), String> {
    if !from.join(BACKUP_FILE).is_file() {
        return Err(format!(
            "restore: {} is not a finished backup (no {BACKUP_FILE} file)",
            from.display()
        ));
    }
    if to.exists() {
        let mut entries =
            std::fs::read_dir(to).map_err(|e| format!("restore: {}: {e}", to.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "restore: the data directory {} is not empty; restore into a new one",
                to.display()
            ));
        }
    }
    restore_entries(from, to).map_err(|e| format!("restore from {}: {e}", from.display()))?;
    tracing::info!(from = %from.display(), dir = %to.display(), "restored a backup");
    Ok(())
}

/// Copies only what a data directory is made of: the `FRYS` and `DBMAP`
/// files and the `pNNNNN` partition directories. Anything else a backup
/// directory may hold (a compiled-plugin cache planted in it, say) is not
/// restored: cached machine code is trusted on load, so it must come only
/// from this server's own compiler.
fn restore_entries(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_partition = name.len() == 6
            && name.starts_with('p')
            && name[1..].bytes().all(|b| b.is_ascii_digit());
        let target = to.join(entry.file_name());
        if is_partition && entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if DATA_DIR_FILES.contains(&name.as_ref()) && entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), &target)?;
            std::fs::File::open(&target)?.sync_all()?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
            std::fs::File::open(&target)?.sync_all()?;
        }
    }
    Ok(())
}
