//! Failed syncs and writes, on the simulated file system, which treats a
//! failed sync as Linux does: the dirty pages are dropped, and a later
//! sync that succeeds does not bring them back ("fsyncgate").
//!
//! The partition must not acknowledge the write whose sync failed, must
//! refuse every later write (saying why) instead of taking a later,
//! successful sync for durability, must keep serving reads of what it
//! acknowledged, and must reopen with all of it after a power loss.

mod common;

use common::faults::{key_of, machine, opts, value_of, DB};
use common::runtime;
use frys_storage::fault::{FaultFs, FaultOp, FaultRule};
use frys_storage::{Db, Error, Options, SyncPolicy};

fn big_memtable(fs: &FaultFs, sync: SyncPolicy) -> Options {
    Options {
        memtable_bytes: 1 << 20,
        ..opts(fs, sync)
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

fn assert_poisoned(e: &Error, cause: &str) {
    match e {
        Error::Poisoned { reason } => assert!(
            reason.contains(cause),
            "the refusal names the cause {cause:?}: {reason}"
        ),
        other => panic!("expected the partition to refuse writes, got {other}"),
    }
}

/// Power loss, then a reopen that must hold `0..acked`.
fn reopen_after_power_loss(fs: &FaultFs, opts: Options, acked: u64, context: &str) {
    fs.clear_faults();
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(DB, opts)
            .await
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        assert_keys(&db, 0..acked, context).await;
        db.put(b"after", b"reopen").await.unwrap();
        db.close().await.unwrap();
    });
}

#[test]
fn a_failed_wal_fdatasync_fails_the_write_and_the_partition_refuses_writes_but_serves_reads() {
    let fs = machine();
    let opts = big_memtable(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..50).await;
        assert!(db.check_writable().is_ok());
        fs.inject(FaultRule::new(FaultOp::Sync, libc::EIO).on_files(".log"));
        match db.put(&key_of(50), &value_of(50)).await {
            Err(Error::Io { op, source, .. }) => {
                assert_eq!(op, "fdatasync");
                assert_eq!(source.raw_os_error(), Some(libc::EIO));
            }
            other => panic!("the write whose sync failed must fail, got {other:?}"),
        }
        assert_eq!(fs.injected(), 1);
        // The sync would succeed now, but the partition must not try.
        let e = db.put(&key_of(51), &value_of(51)).await.unwrap_err();
        assert_poisoned(&e, "fdatasync");
        assert_poisoned(&db.check_writable().unwrap_err(), "fdatasync");
        assert_poisoned(&db.flush().await.unwrap_err(), "fdatasync");
        assert_keys(&db, 0..50, "reads after the failed sync").await;
        assert!(db.close().await.is_err(), "close must not report success");
    });
    reopen_after_power_loss(&fs, opts, 50, "after the failed WAL sync");
}

/// The fsyncgate case itself: whatever the partition acknowledges after a
/// failed sync must survive, though the failed sync's pages are gone and a
/// retried sync succeeds. (A partition that retried and went on would
/// acknowledge writes that follow a hole in its WAL.)
#[test]
fn no_write_acknowledged_after_a_failed_sync_is_lost_though_a_retried_sync_succeeds() {
    for sync in [SyncPolicy::Always, SyncPolicy::EverySec] {
        let fs = machine();
        let opts = big_memtable(&fs, sync);
        let acked = runtime().block_on(async {
            let db = Db::open(DB, opts.clone()).await.unwrap();
            write_keys(&db, 0..40).await;
            db.flush().await.unwrap(); // durable under either policy
            write_keys(&db, 40..60).await;
            fs.inject(FaultRule::new(FaultOp::Sync, libc::EIO).on_files(".log"));
            // Under everysec the failed sync is the one of the memtable switch.
            let failed = match sync {
                SyncPolicy::Always => db.put(&key_of(60), &value_of(60)).await.is_err(),
                _ => db.flush().await.is_err(),
            };
            assert!(failed, "{sync:?}: the failed sync is reported");
            assert_eq!(fs.injected(), 1);
            let mut acked_after = Vec::new();
            for i in 61..90 {
                if db.put(&key_of(i), &value_of(i)).await.is_ok() {
                    acked_after.push(i);
                }
            }
            // Whatever it acknowledged must also be there after `close`.
            let closed = db.close().await.is_ok();
            (acked_after, closed)
        });
        let (acked_after, closed) = acked;
        fs.power_loss();
        runtime().block_on(async {
            let db = Db::open(DB, opts.clone())
                .await
                .unwrap_or_else(|e| panic!("{sync:?}: reopen after the failed sync: {e}"));
            let durable = if sync == SyncPolicy::Always { 60 } else { 40 };
            assert_keys(&db, 0..durable, &format!("{sync:?}")).await;
            for &i in &acked_after {
                assert_eq!(
                    db.get(&key_of(i)).await.unwrap(),
                    Some(value_of(i)),
                    "{sync:?}: key {i} was acknowledged after the failed sync, then lost"
                );
            }
            if closed {
                // A clean close promises every acknowledged write.
                let lost: Vec<u64> = {
                    let mut lost = Vec::new();
                    for i in 40..60 {
                        if db.get(&key_of(i)).await.unwrap().is_none() {
                            lost.push(i);
                        }
                    }
                    lost
                };
                assert!(lost.is_empty(), "{sync:?}: close said Ok, lost {lost:?}");
            }
        });
    }
}

#[test]
fn a_failed_table_sync_fails_the_flush_and_keeps_every_acknowledged_write() {
    let fs = machine();
    let opts = big_memtable(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        fs.inject(FaultRule::new(FaultOp::Sync, libc::EIO).on_files(".sst"));
        let e = db.flush().await.unwrap_err();
        assert!(e.to_string().contains(".sst"), "names the table: {e}");
        assert_eq!(fs.injected(), 1);
        assert_poisoned(&db.put(b"x", b"y").await.unwrap_err(), "flush");
        assert_keys(&db, 0..80, "reads after the failed flush").await;
    });
    reopen_after_power_loss(&fs, opts, 80, "after the failed table sync");
}

#[test]
fn a_failed_manifest_sync_fails_the_flush_and_keeps_every_acknowledged_write() {
    let fs = machine();
    let opts = big_memtable(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        fs.inject(FaultRule::new(FaultOp::Sync, libc::EIO).on_files("MANIFEST"));
        let e = db.flush().await.unwrap_err();
        assert!(
            e.to_string().contains("MANIFEST"),
            "names the manifest: {e}"
        );
        assert_poisoned(&db.put(b"x", b"y").await.unwrap_err(), "MANIFEST");
        assert_keys(&db, 0..80, "reads after the failed manifest sync").await;
    });
    reopen_after_power_loss(&fs, opts, 80, "after the failed manifest sync");
}

#[test]
fn a_failed_current_rename_fails_the_rotation_and_keeps_every_acknowledged_write() {
    let fs = machine();
    let opts = Options {
        manifest_rotate_bytes: 1,
        ..big_memtable(&fs, SyncPolicy::Always)
    };
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        fs.inject(FaultRule::new(FaultOp::Rename, libc::EIO).on_files("CURRENT"));
        let e = db.flush().await.unwrap_err();
        assert!(e.to_string().contains("rename"), "{e}");
        assert_eq!(fs.injected(), 1);
        assert_keys(&db, 0..80, "reads after the failed rotation").await;
    });
    reopen_after_power_loss(&fs, opts, 80, "after the failed CURRENT rename");
}

#[test]
fn a_failed_wal_write_poisons_and_a_short_write_leaves_no_bytes_behind() {
    for short in [false, true] {
        let fs = machine();
        let opts = big_memtable(&fs, SyncPolicy::Always);
        runtime().block_on(async {
            let db = Db::open(DB, opts.clone()).await.unwrap();
            write_keys(&db, 0..30).await;
            let rule = FaultRule::new(FaultOp::Write, libc::EIO).on_files(".log");
            fs.inject(if short { rule.short_write() } else { rule });
            let e = db.put(&key_of(30), &value_of(30)).await.unwrap_err();
            assert!(matches!(e, Error::Io { op: "write", .. }), "{e}");
            assert_poisoned(&db.put(b"x", b"y").await.unwrap_err(), "WAL write");
            assert_keys(&db, 0..30, "reads after the failed write").await;
        });
        reopen_after_power_loss(&fs, opts, 30, &format!("short write {short}"));
    }
}

/// A table whose directory entry could not be synced is never named by
/// the manifest: after a power loss the data comes from the WAL.
#[test]
fn a_table_whose_directory_entry_was_not_synced_is_not_relied_on() {
    let fs = machine();
    let opts = big_memtable(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        fs.inject(FaultRule::new(FaultOp::SyncDir, libc::EIO).on_files("db"));
        let e = db.flush().await.unwrap_err();
        assert!(e.to_string().contains("fsync dir"), "{e}");
        assert_eq!(fs.injected(), 1);
    });
    reopen_after_power_loss(&fs, opts, 80, "after the failed directory sync");
}

/// Reopening after a failed WAL sync, with no power loss in between (the
/// documented remedy for a poisoned partition): the pages of the failed
/// write are still in the page cache, marked clean, so the new process
/// replays them and a plain sync would not write them. Writes acknowledged
/// after the reopen must survive the next power loss, and so must the
/// partition: it must open.
#[test]
fn a_reopen_after_a_failed_wal_sync_makes_the_replayed_writes_durable_before_new_ones() {
    let fs = machine();
    let opts = big_memtable(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..50).await;
        fs.inject(FaultRule::new(FaultOp::Sync, libc::EIO).on_files(".log"));
        assert!(db.put(&key_of(50), &value_of(50)).await.is_err());
        assert!(db.close().await.is_err(), "a poisoned partition's close");
    });
    assert_eq!(fs.injected(), 1, "the WAL sync failed");
    fs.clear_faults();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        // The failed write is in the page cache: the reopen replays it.
        assert_eq!(db.get(&key_of(50)).await.unwrap(), Some(value_of(50)));
        write_keys(&db, 100..120).await;
        db.close().await.unwrap();
    });
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone())
            .await
            .expect("the partition opens after the power loss");
        assert_keys(&db, 0..51, "after reopen and power loss").await;
        assert_keys(&db, 100..120, "after reopen and power loss").await;
    });
}

/// The same for the manifest: a flush whose manifest sync failed, a reopen
/// without power loss (which replays the unsynced edit and deletes the WAL
/// segments it made obsolete), more edits, a clean close, a power loss:
/// the partition must open with every key.
#[test]
fn a_reopen_after_a_failed_manifest_sync_makes_the_replayed_edit_durable_before_new_ones() {
    let fs = machine();
    let opts = big_memtable(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..80).await;
        fs.inject(FaultRule::new(FaultOp::Sync, libc::EIO).on_files("MANIFEST"));
        assert!(db.flush().await.is_err(), "the flush whose edit failed");
        let _ = db.close().await;
    });
    assert_eq!(fs.injected(), 1, "the manifest sync failed");
    fs.clear_faults();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 100..180).await;
        db.flush().await.unwrap();
        db.close().await.unwrap();
    });
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone())
            .await
            .expect("the partition opens after the power loss");
        assert_keys(&db, 0..80, "after reopen and power loss").await;
        assert_keys(&db, 100..180, "after reopen and power loss").await;
    });
}
