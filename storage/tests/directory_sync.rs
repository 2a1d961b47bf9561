//! Directory entries are volatile until their directory is synced (the
//! simulated file system drops unsynced entries at a power loss, as the
//! strictest file systems may): every file the partition relies on after a
//! power loss (its directory itself, tables, WAL segments, CURRENT) must
//! have had its entry synced before the partition acknowledged anything
//! that depends on it.

mod common;

use std::path::Path;

use common::faults::{key_of, machine, opts, value_of, DB};
use common::runtime;
use frys_storage::fault::{FaultOp, FaultRule};
use frys_storage::{Db, Options, SyncPolicy};

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

/// A partition created in directories that did not exist: their entries
/// are synced too, or every write acknowledged in it would vanish with the
/// directory.
#[test]
fn a_new_partition_in_new_directories_survives_power_loss() {
    let fs = machine();
    let dir = "/data/new/nested/db";
    let opts = opts(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(dir, opts.clone()).await.unwrap();
        write_keys(&db, 0..20).await;
    });
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(
            dir,
            Options {
                create_if_missing: false,
                ..opts
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the partition is gone after a power loss: {e}"));
        assert_keys(&db, 0..20, "new partition").await;
    });
}

/// A flush installs a table and deletes the WAL that held its data: the
/// table's entry must be durable before the manifest names it.
#[test]
fn a_flushed_table_is_found_after_power_loss() {
    let fs = machine();
    let opts = Options {
        memtable_bytes: 1 << 20,
        manifest_rotate_bytes: 1 << 20, // no rotation: its CURRENT swap syncs the directory
        ..opts(&fs, SyncPolicy::Always)
    };
    runtime().block_on(async {
        let db = Db::open(common::faults::DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..100).await;
        db.flush().await.unwrap();
    });
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(common::faults::DB, opts)
            .await
            .unwrap_or_else(|e| panic!("reopen after a flush and a power loss: {e}"));
        assert_eq!(db.metrics().tables_per_level[0], 1, "the table is used");
        assert_keys(&db, 0..100, "flushed").await;
    });
}

/// A checkpoint whose `finish` returned `Ok` survives a power loss whole,
/// its directory's entry included.
#[test]
fn a_finished_checkpoint_survives_power_loss() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    let dest = Path::new("/data/backup");
    runtime().block_on(async {
        let db = Db::open(common::faults::DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..300).await;
        let stats = db.checkpoint(dest).await.unwrap();
        assert!(stats.tables > 0 && stats.wal_records > 0, "{stats:?}");
    });
    fs.power_loss();
    runtime().block_on(async {
        let copy = Db::open(
            dest,
            Options {
                create_if_missing: false,
                ..opts
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the checkpoint after a power loss: {e}"));
        assert_keys(&copy, 0..300, "checkpoint").await;
    });
}

/// An open that created the partition's directory but failed to sync its
/// parent leaves a directory that looks like any other: the next open must
/// still sync its entry, or everything acknowledged in it vanishes with it.
#[test]
fn a_directory_left_by_an_open_whose_parent_sync_failed_is_made_durable_by_the_next_open() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    fs.inject(FaultRule::new(FaultOp::SyncDir, libc::EIO).on_files("data"));
    runtime().block_on(async {
        assert!(Db::open(DB, opts.clone()).await.is_err());
    });
    assert_eq!(
        fs.injected(),
        1,
        "the sync of the new directory's parent failed"
    );
    assert!(fs.list(Path::new(DB)).is_ok(), "the directory was created");
    fs.clear_faults();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..20).await;
        db.close().await.unwrap();
    });
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(
            DB,
            Options {
                create_if_missing: false,
                ..opts
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the partition is gone after a power loss: {e}"));
        assert_keys(&db, 0..20, "after the power loss").await;
    });
}
