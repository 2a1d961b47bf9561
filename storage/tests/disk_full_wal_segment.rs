//! No room for a new WAL segment's file (its exclusive create fails with
//! `ENOSPC`, no free inode, or `EDQUOT`), simulated by failing `.log`
//! creates on the fault file system; clearing the rule frees the room.
//!
//! The partition is not poisoned: writes go on into the old segment up to
//! twice the memtable's size and are then refused with `DiskFull` naming
//! the segment and the OS error; `flush` reports the failure rather than
//! `Ok`, and neither it nor `close` hangs; the switch is retried at the
//! next write, not in a loop; a restart on the full disk comes up and
//! serves reads; and once there is room, writes and flushes succeed again
//! without a restart, with everything acknowledged durable.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::faults::{key_of, machine, opts, value_of, DB};
use common::runtime;
use frys_storage::fault::{FaultFs, FaultOp, FaultRule};
use frys_storage::{Db, Error, Options, SyncPolicy, WriteBatch};

/// Every new WAL segment's create fails with `errno` until cleared.
fn no_room_for_segments(fs: &FaultFs, errno: i32) {
    fs.inject(
        FaultRule::new(FaultOp::Create, errno)
            .on_files(".log")
            .times(u64::MAX),
    );
}

/// Hang detector: a step that would wait forever fails the test instead
/// (far longer than any step takes; not a measured duration).
async fn finishes<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    frys_runtime::time::timeout(Duration::from_secs(120), step)
        .await
        .unwrap_or_else(|_| panic!("{what} waits forever"))
}

fn assert_no_room_for_a_segment(e: &Error, errno: i32) {
    match e {
        Error::DiskFull {
            path, op, source, ..
        } => {
            assert!(
                path.to_string_lossy().ends_with(".log"),
                "names the segment: {e}"
            );
            assert_eq!(*op, "create", "{e}");
            assert_eq!(source.raw_os_error(), Some(errno), "{e}");
        }
        other => panic!("expected DiskFull, got {other}"),
    }
}

/// Writes keys from `next` on, one at a time, until one is refused;
/// returns the error (the acknowledged ones are pushed to `acked`).
async fn write_until_refused(db: &Db, next: &mut u64, acked: &mut Vec<u64>) -> Error {
    loop {
        let i = *next;
        *next += 1;
        match db.put(&key_of(i), &value_of(i)).await {
            Ok(()) => acked.push(i),
            Err(e) => return e,
        }
        assert!(i < 100_000, "writes are never refused");
    }
}

async fn assert_keys(db: &Db, keys: &[u64], context: &str) {
    for &i in keys {
        assert_eq!(
            db.get(&key_of(i)).await.unwrap(),
            Some(value_of(i)),
            "{context}: acknowledged key {i}"
        );
    }
}

fn reopen_after_power_loss(fs: &FaultFs, opts: Options, acked: &[u64], context: &str) {
    fs.clear_faults();
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(DB, opts)
            .await
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        assert_keys(&db, acked, context).await;
    });
}

/// Runs the partition's tasks for many scheduler turns (no timer).
async fn many_turns() {
    for _ in 0..2000 {
        frys_runtime::yield_now().await;
    }
}

#[test]
fn writes_are_refused_with_disk_full_and_taken_again_once_there_is_room() {
    for errno in [libc::ENOSPC, libc::EDQUOT] {
        let fs = machine();
        let opts = opts(&fs, SyncPolicy::Always);
        let mut acked = Vec::new();
        runtime().block_on(async {
            let db = Db::open(DB, opts.clone()).await.unwrap();
            no_room_for_segments(&fs, errno);
            let mut next = 0;
            let e = write_until_refused(&db, &mut next, &mut acked).await;
            assert_no_room_for_a_segment(&e, errno);
            assert!(
                e.to_string().starts_with("disk full: create /data/db/"),
                "{e}"
            );
            assert!(fs.injected() > 0, "the refusal came from a segment create");
            db.check_writable().expect("not poisoned");
            assert_keys(&db, &acked, "reads without room").await;
            fs.clear_faults();
            // The very next write is taken: the switch is retried before
            // the write is refused.
            db.put(&key_of(next), &value_of(next)).await.unwrap();
            acked.push(next);
            db.flush().await.unwrap();
            assert_keys(&db, &acked, "after room came back").await;
        });
        reopen_after_power_loss(&fs, opts, &acked, "after no room for a segment");
    }
}

#[test]
fn flush_reports_no_room_for_a_segment_and_neither_it_nor_close_hangs() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    let mut acked = Vec::new();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        no_room_for_segments(&fs, libc::ENOSPC);
        db.put(&key_of(1), &value_of(1)).await.unwrap();
        acked.push(1);
        let flushes = db.metrics().flushes;
        let e = finishes("flush", db.flush()).await.unwrap_err();
        assert_no_room_for_a_segment(&e, libc::ENOSPC);
        assert_eq!(db.metrics().flushes, flushes, "nothing was flushed");
        // A second flush with no write in between: its request is served
        // (one more create, failing) rather than left standing.
        let creates = fs.injected();
        let e = finishes("a second flush", db.flush()).await.unwrap_err();
        assert_no_room_for_a_segment(&e, libc::ENOSPC);
        assert_eq!(fs.injected(), creates + 1, "one attempt per flush");
        finishes("close", db.close())
            .await
            .expect("close: what was acknowledged is in the synced WAL");
    });
    reopen_after_power_loss(&fs, opts, &acked, "after close without room");
}

#[test]
fn under_sync_no_a_flush_that_succeeds_is_durable_and_one_that_cannot_fails() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::No);
    let acked: Vec<u64> = (0..10).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        no_room_for_segments(&fs, libc::ENOSPC);
        for &i in &acked {
            db.put(&key_of(i), &value_of(i)).await.unwrap();
        }
        assert_no_room_for_a_segment(&db.flush().await.unwrap_err(), libc::ENOSPC);
        fs.clear_faults();
        db.flush().await.expect("room again: the flush succeeds");
        assert_eq!(db.metrics().flushes, 1);
        // Power loss right after the Ok: nothing else was synced.
        std::mem::forget(db);
    });
    reopen_after_power_loss(&fs, opts, &acked, "after an Ok flush under `No`");
}

#[test]
fn a_memtable_that_cannot_switch_never_grows_past_twice_its_size() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    let limit = opts.memtable_bytes as u64;
    let acked = Rc::new(std::cell::RefCell::new(Vec::new()));
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        no_room_for_segments(&fs, libc::ENOSPC);
        // A flush that cannot switch leaves a small memtable: a batch
        // larger than the room left is still refused.
        db.put(&key_of(0), &value_of(0)).await.unwrap();
        acked.borrow_mut().push(0);
        db.flush().await.unwrap_err();
        let mut big = WriteBatch::new();
        big.put(b"big", &vec![7u8; 4 * opts.memtable_bytes]);
        assert_no_room_for_a_segment(&db.write(big).await.unwrap_err(), libc::ENOSPC);
        // Many writers at once, in groups: each batch is checked.
        let refused = Rc::new(Cell::new(0u32));
        let writers: Vec<_> = (1..=2000u64)
            .map(|i| {
                let (db, acked, refused) = (db.clone(), acked.clone(), refused.clone());
                frys_runtime::spawn_local(async move {
                    match db.put(&key_of(i), &value_of(i)).await {
                        Ok(()) => acked.borrow_mut().push(i),
                        Err(e) => {
                            assert_no_room_for_a_segment(&e, libc::ENOSPC);
                            refused.set(refused.get() + 1);
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        assert!(refused.get() > 0, "2000 writes cannot fit in 2 memtables");
        let bytes = db.metrics().memtable_bytes;
        assert!(
            bytes <= 2 * limit,
            "memtable holds {bytes} bytes, bound {}",
            2 * limit
        );
        assert!(bytes > limit, "writes went on past the switch point");
        fs.clear_faults();
        db.put(b"after", b"room").await.unwrap();
        db.flush().await.unwrap();
        let keys = acked.borrow().clone();
        assert_keys(&db, &keys, "after room came back").await;
    });
    let acked = acked.borrow().clone();
    reopen_after_power_loss(&fs, opts, &acked, "after the bound held");
}

#[test]
fn a_failed_switch_is_retried_at_the_next_write_not_in_a_loop() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        no_room_for_segments(&fs, libc::ENOSPC);
        let (mut next, mut acked) = (0, Vec::new());
        write_until_refused(&db, &mut next, &mut acked).await;
        let creates = fs.injected();
        many_turns().await;
        frys_runtime::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(fs.injected(), creates, "no create without a write");
        // One attempt per write at most (each one waits for its reply).
        for i in 0..10 {
            let _ = db.put(&key_of(next + i), &value_of(next + i)).await;
        }
        many_turns().await;
        assert!(
            fs.injected() <= creates + 10,
            "{} creates for 10 writes",
            fs.injected() - creates
        );
    });
}

#[test]
fn a_switch_that_fails_otherwise_poisons_once_and_does_not_spin() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    let mut acked = Vec::new();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        no_room_for_segments(&fs, libc::EIO);
        let mut next = 0;
        let e = write_until_refused(&db, &mut next, &mut acked).await;
        assert!(matches!(e, Error::Poisoned { .. }), "got {e}");
        let creates = fs.injected();
        assert_eq!(creates, 1, "one failed create poisoned the partition");
        many_turns().await;
        assert_eq!(fs.injected(), creates, "no create in a loop");
        assert!(matches!(
            finishes("flush", db.flush()).await,
            Err(Error::Poisoned { .. })
        ));
        finishes("close", db.close()).await.unwrap_err();
    });
    reopen_after_power_loss(&fs, opts, &acked, "after a poisoning switch");
}

#[test]
fn a_restart_without_room_for_a_segment_serves_reads_and_takes_writes_once_there_is_room() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    let mut acked: Vec<u64> = (0..20).collect();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        for &i in &acked {
            db.put(&key_of(i), &value_of(i)).await.unwrap();
        }
        db.close().await.unwrap();
        no_room_for_segments(&fs, libc::ENOSPC);
        let db = Db::open(DB, opts.clone())
            .await
            .expect("opens on a disk without room for a new segment");
        assert_keys(&db, &acked, "reads after the restart").await;
        // Writes go into the replayed segment up to the bound.
        let mut next = 20;
        let e = write_until_refused(&db, &mut next, &mut acked).await;
        assert_no_room_for_a_segment(&e, libc::ENOSPC);
        assert!(acked.len() > 20, "writes were taken into the old segment");
        db.close().await.unwrap();
    });
    // What went into the reused segment survives a power loss.
    let reopened = acked.clone();
    fs.power_loss();
    runtime().block_on(async {
        no_room_for_segments(&fs, libc::ENOSPC);
        let db = Db::open(DB, opts.clone()).await.unwrap();
        assert_keys(&db, &reopened, "after a power loss without room").await;
        fs.clear_faults();
        let i = acked.len() as u64 + 1000;
        db.put(&key_of(i), &value_of(i)).await.unwrap();
        acked.push(i);
        db.flush().await.unwrap();
    });
    reopen_after_power_loss(&fs, opts, &acked, "after room came back");
}

#[test]
fn a_new_partition_on_a_full_disk_is_refused_with_disk_full() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    fs.inject(FaultRule::new(FaultOp::Create, libc::ENOSPC).times(u64::MAX));
    runtime().block_on(async {
        match Db::open(DB, opts.clone()).await {
            Err(e @ Error::DiskFull { .. }) => {
                assert!(e.to_string().contains("No space left on device"), "{e}")
            }
            Err(other) => panic!("expected DiskFull, got {other}"),
            Ok(_) => panic!("a partition was created without room"),
        }
    });
}

/// The core's write-buffer budget does not pick a partition whose switch
/// found no room: it would retry that partition's segment create at every
/// commit of the core's other partitions.
#[test]
fn the_core_budget_leaves_a_partition_without_room_to_its_next_write() {
    let (fs_a, fs_b) = (machine(), machine());
    let budget = frys_storage::CoreBudget::new(1 << 20, 4 << 10);
    let with_budget = |fs: &FaultFs| Options {
        budget: Some(budget.clone()),
        ..opts(fs, SyncPolicy::Always)
    };
    runtime().block_on(async {
        let a = Db::open(DB, with_budget(&fs_a)).await.unwrap();
        let b = Db::open(DB, with_budget(&fs_b)).await.unwrap();
        no_room_for_segments(&fs_a, libc::ENOSPC);
        let (mut next, mut acked) = (0, Vec::new());
        write_until_refused(&a, &mut next, &mut acked).await;
        let creates = fs_a.injected();
        for i in 0..200 {
            b.put(&key_of(i), &value_of(i)).await.unwrap();
        }
        many_turns().await;
        assert_eq!(fs_a.injected(), creates, "no create in the full partition");
        assert!(b.metrics().flushes > 0, "the other partition was switched");
        fs_a.clear_faults();
        a.put(&key_of(next), &value_of(next)).await.unwrap();
    });
}

// Power cuts around a reused segment (the review of this change).

/// A segment whose create succeeded but whose directory entry was never
/// made durable (the directory sync failed, or the process died between
/// the create and the sync) is the newest one at the next open; if that
/// open finds no room for a new segment it reuses it: are the writes it
/// acknowledges into it durable?
#[test]
fn writes_into_a_reused_segment_whose_directory_entry_was_never_synced_survive_a_power_loss() {
    let fs = machine();
    let opts = opts(&fs, SyncPolicy::Always);
    let mut acked: Vec<u64> = Vec::new();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        for i in 0..5 {
            db.put(&key_of(i), &value_of(i)).await.unwrap();
            acked.push(i);
        }
        // The switch's create succeeds, its directory sync fails: the new
        // segment exists, its entry is not durable.
        fs.inject(FaultRule::new(FaultOp::SyncDir, libc::EIO));
        db.flush().await.unwrap_err();
        let _ = db.close().await;
    });
    // A restart (no power loss) on a disk without room for a new segment.
    fs.clear_faults();
    no_room_for_segments(&fs, libc::ENOSPC);
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        for i in 5..10 {
            db.put(&key_of(i), &value_of(i)).await.unwrap();
            acked.push(i);
        }
        std::mem::forget(db);
    });
    fs.clear_faults();
    fs.power_loss();
    runtime().block_on(async {
        let db = Db::open(DB, opts.clone()).await.unwrap();
        let lost: Vec<u64> = {
            let mut v = Vec::new();
            for &i in &acked {
                if db.get(&key_of(i)).await.unwrap().is_none() {
                    v.push(i);
                }
            }
            v
        };
        assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    });
}

/// One workload through no room, a restart without room (the reuse),
/// and room coming back; the power is cut at every changing call in turn
/// (optionally with torn tails). Checks: the partition opens; under
/// `Always` every acknowledged key is there; a refused key never is; the
/// surviving keys are a prefix of the acknowledged ones (no gap).
fn sweep_power_cuts(sync: SyncPolicy, torn: Option<u64>) {
    use std::cell::RefCell;
    #[derive(Default)]
    struct Log {
        acked: Vec<u64>,
        /// The power period each acked key was acked in.
        periods: Vec<u64>,
        refused: Vec<u64>,
        uncertain: Vec<u64>,
    }
    async fn phase(
        fs: &FaultFs,
        db: &Db,
        next: &mut u64,
        log: &RefCell<Log>,
        until_refused: bool,
        n: u64,
    ) -> bool {
        for _ in 0..n {
            let i = *next;
            *next += 1;
            let period = fs.power_losses();
            match db.put(&key_of(i), &value_of(i)).await {
                Ok(()) => {
                    log.borrow_mut().acked.push(i);
                    log.borrow_mut().periods.push(period);
                }
                Err(Error::DiskFull { .. }) => {
                    log.borrow_mut().refused.push(i);
                    if until_refused {
                        return true;
                    }
                }
                Err(_) => {
                    log.borrow_mut().uncertain.push(i);
                    return false;
                }
            }
        }
        true
    }
    async fn workload(fs: &FaultFs, opts: &Options, log: &RefCell<Log>) {
        let mut next = 0;
        // 1: a running partition meets no room for its next segment.
        if let Ok(db) = Db::open(DB, opts.clone()).await {
            phase(fs, &db, &mut next, log, false, 30).await;
            no_room_for_segments(fs, libc::ENOSPC);
            if phase(fs, &db, &mut next, log, true, 10_000).await {
                let _ = db.flush().await;
            }
            let _ = db.close().await;
        }
        // 2: a restart without room reuses the newest segment.
        if let Ok(db) = Db::open(DB, opts.clone()).await {
            phase(fs, &db, &mut next, log, true, 10_000).await;
            let _ = db.close().await;
        }
        // 3: another restart without room, then room comes back.
        if let Ok(db) = Db::open(DB, opts.clone()).await {
            phase(fs, &db, &mut next, log, false, 5).await;
            fs.clear_faults();
            if phase(fs, &db, &mut next, log, false, 60).await {
                let _ = db.flush().await;
            }
            phase(fs, &db, &mut next, log, false, 20).await;
            let _ = db.close().await;
        }
    }
    // Count the calls of an uncut run.
    let total = {
        let fs = machine();
        let log = RefCell::new(Log::default());
        runtime().block_on(workload(&fs, &opts(&fs, sync), &log));
        fs.ops()
    };
    let mut failures = Vec::new();
    for cut in 1..=total + 1 {
        let fs = machine();
        fs.set_torn_writes(torn.map(|s| s + cut));
        let opts = opts(&fs, sync);
        let log = RefCell::new(Log::default());
        fs.power_loss_after(cut);
        runtime().block_on(workload(&fs, &opts, &log));
        fs.clear_faults();
        fs.power_loss_after(0);
        fs.power_loss();
        let log = log.into_inner();
        let outcome = runtime().block_on(async {
            let db = match Db::open(DB, opts.clone()).await {
                Ok(db) => db,
                Err(e) => return Err(format!("reopen failed: {e}")),
            };
            let mut present = Vec::new();
            for &i in log.acked.iter().chain(&log.refused).chain(&log.uncertain) {
                if db.get(&key_of(i)).await.unwrap().is_some() {
                    present.push(i);
                }
            }
            for &i in &log.refused {
                if present.contains(&i) {
                    return Err(format!("refused key {i} is present"));
                }
            }
            if sync == SyncPolicy::Always {
                let lost: Vec<_> = log.acked.iter().filter(|i| !present.contains(i)).collect();
                if !lost.is_empty() {
                    return Err(format!("acked keys lost: {lost:?}"));
                }
            }
            // Survivors among the acked of one power period: a prefix.
            for period in 0..=1 {
                let of: Vec<u64> = log
                    .acked
                    .iter()
                    .zip(&log.periods)
                    .filter(|(_, p)| **p == period)
                    .map(|(i, _)| *i)
                    .collect();
                let kept: Vec<_> = of.iter().map(|i| present.contains(i)).collect();
                if let Some(first_gap) = kept.iter().position(|k| !k) {
                    if kept[first_gap..].iter().any(|k| *k) {
                        return Err(format!(
                            "gap: acked key {} lost but later ones of the same power period kept",
                            of[first_gap]
                        ));
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = outcome {
            failures.push(format!("cut at call {cut}/{total}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cuts failed, first: {}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn power_cuts_at_every_step_through_no_room_and_back_lose_nothing_acknowledged_always_torn() {
    sweep_power_cuts(SyncPolicy::Always, Some(7));
}

#[test]
fn power_cuts_at_every_step_through_no_room_and_back_leave_a_prefix_everysec_torn() {
    sweep_power_cuts(SyncPolicy::EverySec, Some(11));
}
