//! A full disk meeting the manifest (ENOSPC injected on the simulated file
//! system): a manifest append that did not fit is cut off and the step is
//! retried without leaving its table behind; a rotation that meets a full
//! disk before the CURRENT swap is postponed; one that fails from the swap
//! on, after the edit was installed, poisons the partition rather than
//! being retried (a retry would log and install the step twice), and the
//! partition reopens with every acknowledged key.

mod common;

use std::path::Path;
use std::time::Duration;

use common::faults::{key_of, machine, opts, value_of, DB};
use common::runtime;
use frys_storage::fault::{FaultFs, FaultOp, FaultRule};
use frys_storage::{Db, Error, Options, SyncPolicy};

fn big_memtable(fs: &FaultFs) -> Options {
    Options {
        memtable_bytes: 1 << 20,
        ..opts(fs, SyncPolicy::Always)
    }
}

/// Rotates the manifest after every edit.
fn rotating(fs: &FaultFs) -> Options {
    Options {
        manifest_rotate_bytes: 1,
        ..big_memtable(fs)
    }
}

async fn write_keys(db: &Db, range: std::ops::Range<u64>) {
    for i in range {
        db.put(&key_of(i), &value_of(i)).await.unwrap();
    }
}

async fn assert_keys(db: &Db, range: std::ops::Range<u64>, context: &str) {
    for i in range {
        assert_eq!(
            db.get(&key_of(i)).await.unwrap(),
            Some(value_of(i)),
            "{context}: acknowledged key {i}"
        );
    }
}

fn files_ending(fs: &FaultFs, suffix: &str) -> Vec<String> {
    fs.list(Path::new(DB))
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .collect()
}

fn manifests(fs: &FaultFs) -> Vec<String> {
    fs.list(Path::new(DB))
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("MANIFEST"))
        .collect()
}

fn tables_in_manifest(db: &Db) -> usize {
    db.metrics().tables_per_level.iter().sum::<usize>()
}

/// Retries `step` (bounded, pausing between tries): the partition retries
/// its own work about once a second.
async fn until_ok<F, Fut>(mut step: F) -> frys_storage::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = frys_storage::Result<()>>,
{
    let mut last = Ok(());
    for _ in 0..1000 {
        last = step().await;
        if last.is_ok() {
            return last;
        }
        frys_runtime::time::sleep(Duration::from_millis(20)).await;
    }
    last
}

/// Opens the partition after a power loss; every key of `range` is there
/// and the manifest names `tables` tables.
fn reopen_after_power_loss(
    fs: &FaultFs,
    opts: Options,
    range: std::ops::Range<u64>,
    tables: usize,
) {
    fs.clear_faults();
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(DB, opts)
            .await
            .expect("the partition opens after the power loss");
        assert_keys(&db, range, "after the power loss").await;
        assert_eq!(tables_in_manifest(&db), tables, "tables in the manifest");
        assert_eq!(files_ending(fs, ".sst").len(), tables, "tables on disk");
    });
}

#[test]
fn a_manifest_append_that_did_not_fit_is_cut_off_and_its_table_removed_until_the_retry() {
    let fs = machine();
    let opts = big_memtable(&fs);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        fs.inject(FaultRule::new(FaultOp::Write, libc::ENOSPC).on_files("MANIFEST"));
        match db.flush().await.unwrap_err() {
            Error::DiskFull { path, .. } => assert!(
                path.to_string_lossy().contains("MANIFEST"),
                "{}",
                path.display()
            ),
            other => panic!("expected DiskFull, got {other}"),
        }
        assert_eq!(fs.injected(), 1);
        assert_eq!(
            files_ending(&fs, ".sst"),
            Vec::<String>::new(),
            "the table of the edit that did not fit was removed"
        );
        until_ok(|| db.flush()).await.unwrap();
        assert_eq!(db.metrics().flushes, 1);
        assert_eq!(tables_in_manifest(&db), 1);
        assert_eq!(
            files_ending(&fs, ".sst").len(),
            1,
            "one table, the one named"
        );
        assert_keys(&db, 0..80, "after the retried flush").await;
        db.close().await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, 0..80, 1);
}

#[test]
fn a_rotation_that_meets_a_full_disk_before_the_swap_is_postponed_and_done_later() {
    let fs = machine();
    let opts = rotating(&fs);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        let before = manifests(&fs);
        fs.inject(FaultRule::new(FaultOp::Create, libc::ENOSPC).on_files("MANIFEST"));
        // The edit is logged in the old manifest; the rotation waits.
        db.flush().await.unwrap();
        assert_eq!(fs.injected(), 1, "the new manifest could not be created");
        assert_eq!(
            manifests(&fs),
            before,
            "nothing left of the postponed rotation"
        );
        assert_eq!(files_ending(&fs, ".tmp"), Vec::<String>::new());
        fs.clear_faults();
        write_keys(&db, 80..160).await;
        db.flush().await.unwrap();
        let after = manifests(&fs);
        assert_eq!(after.len(), 1, "{after:?}");
        assert_ne!(after, before, "the next edit rotated the manifest");
        db.close().await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, 0..160, 2);
}

/// The rotation fails after the edit was installed: on the CURRENT rename,
/// or on the directory sync after it. Neither may be retried.
fn rotation_failing_after_the_install(rule: FaultRule, what: &str) {
    let fs = machine();
    let opts = rotating(&fs);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        fs.inject(rule);
        let e = db.flush().await.unwrap_err();
        assert_eq!(fs.injected(), 1, "{what}");
        assert!(
            !matches!(e, Error::DiskFull { .. }),
            "{what}: an installed edit's failure is not retryable: {e}"
        );
        assert!(e.to_string().contains("rotation"), "{what}: {e}");
        assert!(
            matches!(db.put(b"k", b"v").await, Err(Error::Poisoned { .. })),
            "{what}: the partition is poisoned"
        );
        assert_keys(&db, 0..80, what).await;
        assert!(db.close().await.is_err());
    });
    fs.clear_faults();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone())
            .await
            .unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
        assert_keys(&db, 0..80, what).await;
        assert_eq!(
            tables_in_manifest(&db),
            1,
            "{what}: the memtable installed once"
        );
        write_keys(&db, 80..160).await;
        db.flush().await.unwrap();
        db.close().await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, 0..160, 2);
}

#[test]
fn enospc_on_the_current_rename_of_a_rotation_poisons_instead_of_installing_twice() {
    rotation_failing_after_the_install(
        FaultRule::new(FaultOp::Rename, libc::ENOSPC).on_files("CURRENT"),
        "rename",
    );
}

#[test]
fn enospc_on_the_directory_sync_after_a_manifest_swap_poisons_and_edits_follow_current() {
    // The flush syncs the directory after its new WAL segment, then after
    // its table; the rotation's sync after the CURRENT rename is the third.
    rotation_failing_after_the_install(
        FaultRule::new(FaultOp::SyncDir, libc::ENOSPC)
            .on_files("db")
            .after(2),
        "directory sync",
    );
}
