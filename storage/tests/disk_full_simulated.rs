//! A full disk on the simulated file system (a capacity: writes past it
//! write what fits, then fail with ENOSPC). The partition reports it, keeps
//! everything acknowledged readable and durable, is not poisoned, and takes
//! writes, flushes and compactions again once space is back, without a
//! reopen.

mod common;

use std::path::Path;
use std::time::Duration;

use common::faults::{key_of, machine, opts, value_of, DB};
use common::runtime;
use frys_storage::fault::FaultFs;
use frys_storage::{Db, Error, Options, SyncPolicy};

fn big_memtable(fs: &FaultFs) -> Options {
    Options {
        memtable_bytes: 1 << 20,
        ..opts(fs, SyncPolicy::Always)
    }
}

async fn write_keys(db: &Db, range: std::ops::Range<u64>) {
    for i in range {
        db.put(&key_of(i), &value_of(i)).await.unwrap();
    }
}

async fn assert_keys(db: &Db, keys: impl IntoIterator<Item = u64>, context: &str) {
    for i in keys {
        assert_eq!(
            db.get(&key_of(i)).await.unwrap(),
            Some(value_of(i)),
            "{context}: acknowledged key {i}"
        );
    }
}

fn assert_disk_full(e: &Error, file_suffix: &str) {
    match e {
        Error::DiskFull { path, .. } => assert!(
            path.to_string_lossy().ends_with(file_suffix),
            "disk full names a {file_suffix} file: {}",
            path.display()
        ),
        other => panic!("expected DiskFull, got {other}"),
    }
}

/// Retries `step` (a bounded number of times, pausing between tries)
/// until it succeeds: the partition retries its own work about once a
/// second once space is back.
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

fn tables(fs: &FaultFs) -> usize {
    let names = fs.list(Path::new(DB)).unwrap();
    names.iter().filter(|n| n.ends_with(".sst")).count()
}

fn reopen_after_power_loss(fs: &FaultFs, opts: Options, acked: &[u64], context: &str) {
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(DB, opts)
            .await
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        assert_keys(&db, acked.iter().copied(), context).await;
    });
}

#[test]
fn enospc_on_the_wal_refuses_the_write_and_writes_resume_when_space_returns() {
    let fs = machine();
    let opts = big_memtable(&fs);
    let mut acked: Vec<u64> = (0..20).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..20).await;
        fs.set_capacity(Some(fs.used_bytes() + 1000));
        let mut i = 20;
        let e = loop {
            match db.put(&key_of(i), &value_of(i)).await {
                Ok(()) => acked.push(i),
                Err(e) => break e,
            }
            i += 1;
            assert!(i < 1000, "1000 bytes of room cannot hold these writes");
        };
        // The write that did not fit wrote part of its record first.
        assert_disk_full(&e, ".log");
        assert_keys(&db, acked.iter().copied(), "reads on a full disk").await;
        fs.set_capacity(None);
        db.put(&key_of(i), &value_of(i)).await.unwrap();
        acked.push(i);
        db.flush().await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, &acked, "after the WAL filled the disk");
}

#[test]
fn enospc_during_a_flush_is_reported_and_the_flush_succeeds_once_space_returns() {
    let fs = machine();
    let opts = big_memtable(&fs);
    let mut acked: Vec<u64> = (0..200).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..200).await;
        fs.set_capacity(Some(fs.used_bytes() + 2048));
        assert_disk_full(&db.flush().await.unwrap_err(), ".sst");
        assert_eq!(tables(&fs), 0, "the partial table was removed");
        // Not poisoned: a small write still fits, reads work.
        db.put(&key_of(200), &value_of(200)).await.unwrap();
        acked.push(200);
        assert_keys(&db, acked.iter().copied(), "reads on a full disk").await;
        fs.set_capacity(None);
        until_ok(|| db.flush()).await.unwrap();
        // The retried memtable, then the one holding key 200.
        assert_eq!(db.metrics().flushes, 2);
        assert_eq!(tables(&fs), 2);
        db.put(b"after", b"space").await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, &acked, "after a flush on a full disk");
}

#[test]
fn enospc_during_a_compaction_is_reported_and_it_succeeds_once_space_returns() {
    let fs = machine();
    let opts = big_memtable(&fs);
    let acked: Vec<u64> = (0..300).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..150).await;
        db.flush().await.unwrap();
        write_keys(&db, 150..300).await;
        db.flush().await.unwrap();
        assert_eq!(tables(&fs), 2);
        fs.set_capacity(Some(fs.used_bytes() + 512));
        assert_disk_full(&db.compact_range().await.unwrap_err(), ".sst");
        assert_eq!(tables(&fs), 2, "the merge's partial output was removed");
        assert_keys(&db, acked.iter().copied(), "reads on a full disk").await;
        fs.set_capacity(None);
        until_ok(|| db.compact_range()).await.unwrap();
        let per_level = db.metrics().tables_per_level;
        assert_eq!(per_level[0], 0, "L0 was compacted: {per_level:?}");
        assert_keys(&db, acked.iter().copied(), "reads after the compaction").await;
    });
    reopen_after_power_loss(&fs, opts, &acked, "after a compaction on a full disk");
}

/// With small memtables a full disk stops flushes while writers go on:
/// writers get the disk-full error (from the WAL, or because the backlog
/// of memtables cannot be flushed) rather than waiting forever, and go on
/// once space is back.
#[test]
fn writers_get_disk_full_rather_than_stalling_and_resume_when_space_returns() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    let mut acked = Vec::new();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        fs.set_capacity(Some(64 << 10));
        let mut i = 0;
        let e = loop {
            match db.put(&key_of(i), &value_of(i)).await {
                Ok(()) => acked.push(i),
                Err(e) => break e,
            }
            i += 1;
            assert!(i < 100_000, "64 KiB cannot hold these writes");
        };
        assert!(matches!(e, Error::DiskFull { .. }), "got {e}");
        assert_keys(&db, acked.iter().copied(), "reads on a full disk").await;
        fs.set_capacity(None);
        let mut next = i;
        until_ok(|| {
            let db = db.clone();
            let n = next;
            async move { db.put(&key_of(n), &value_of(n)).await }
        })
        .await
        .unwrap();
        acked.push(next);
        next += 1;
        write_keys(&db, next..next + 200).await;
        acked.extend(next..next + 200);
        until_ok(|| db.flush()).await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, &acked, "after writers filled the disk");
}

/// A manual compaction that failed for want of space is reported to its
/// caller and then forgotten: with space back, `close` succeeds (no step
/// is pending) rather than returning the old error.
#[test]
fn a_failed_manual_compaction_leaves_no_stale_disk_full_behind() {
    let fs = machine();
    let opts = big_memtable(&fs);
    let acked: Vec<u64> = (0..300).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..150).await;
        db.flush().await.unwrap();
        write_keys(&db, 150..300).await;
        db.flush().await.unwrap();
        fs.set_capacity(Some(fs.used_bytes() + 512));
        assert_disk_full(&db.compact_range().await.unwrap_err(), ".sst");
        fs.set_capacity(None);
        db.close()
            .await
            .expect("nothing waits for space: close succeeds");
    });
    reopen_after_power_loss(&fs, opts, &acked, "after a failed manual compaction");
}

/// Waits for the flush task to pause for space: `flush` reports DiskFull.
async fn flush_waiting_for_space(fs: &FaultFs, db: &Db) {
    fs.set_capacity(Some(fs.used_bytes() + 2048));
    assert_disk_full(&db.flush().await.unwrap_err(), ".sst");
}

/// Lets the partition's tasks run a little (a few scheduler turns, no
/// timer: far less than the pause between retries).
async fn a_few_turns() {
    for _ in 0..100 {
        frys_runtime::yield_now().await;
    }
}

/// A `Db` dropped while its flush waits for space gives up the retry at
/// once: the directory can be opened again right away.
#[test]
fn a_partition_dropped_while_waiting_for_space_releases_its_directory_at_once() {
    let fs = machine();
    let opts = big_memtable(&fs);
    let acked: Vec<u64> = (0..200).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..200).await;
        flush_waiting_for_space(&fs, &db).await;
        drop(db);
        a_few_turns().await;
        fs.set_capacity(None);
        let db = Db::open(DB, opts.clone())
            .await
            .expect("the dropped partition let go of its directory");
        assert_keys(&db, acked.iter().copied(), "after the reopen").await;
        db.close().await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, &acked, "after a drop on a full disk");
}

/// `close` while a flush waits for space reports the disk-full error but
/// closes all the same: the lock is released at once and what was
/// acknowledged is there after a reopen.
#[test]
fn close_while_waiting_for_space_reports_it_and_still_releases_the_directory() {
    let fs = machine();
    let opts = big_memtable(&fs);
    let acked: Vec<u64> = (0..200).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        write_keys(&db, 0..200).await;
        flush_waiting_for_space(&fs, &db).await;
        assert_disk_full(&db.close().await.unwrap_err(), ".sst");
        fs.set_capacity(None);
        let db = Db::open(DB, opts.clone())
            .await
            .expect("the closed partition let go of its directory");
        assert_keys(&db, acked.iter().copied(), "after the reopen").await;
        db.close().await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, &acked, "after a close on a full disk");
}
