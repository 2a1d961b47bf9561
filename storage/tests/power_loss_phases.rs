//! Power loss during each background step, at every one of its changing
//! calls in turn: a flush, a compaction, a manifest rotation (CURRENT
//! swap), a checkpoint, and the recovery of a reopen. After each cut the
//! partition must reopen with every acknowledged write; a checkpoint whose
//! `finish` returned `Ok` must open with all of them too. Every other cut
//! also tears the unsynced appends (keeps a random prefix of them).

mod common;

use std::path::Path;

use common::faults::{key_of, machine, opts, value_of, DB};
use common::runtime;
use frys_storage::fault::FaultFs;
use frys_storage::{Db, Options, SyncPolicy};

const CHECKPOINT: &str = "/data/checkpoint";
const KEYS: u64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Flush,
    Compaction,
    ManifestRotation,
    Checkpoint,
    Reopen,
}

fn phase_opts(fs: &FaultFs, phase: Phase) -> Options {
    Options {
        // No automatic flush: the phase decides when.
        memtable_bytes: 1 << 20,
        manifest_rotate_bytes: if phase == Phase::ManifestRotation {
            1 // every edit rotates
        } else {
            1 << 20
        },
        ..opts(fs, SyncPolicy::Always)
    }
}

async fn write_keys(db: &Db, range: std::ops::Range<u64>) {
    for i in range {
        db.put(&key_of(i), &value_of(i)).await.unwrap();
    }
}

/// Acknowledged writes before the phase: two L0 tables (below the
/// compaction trigger) and a memtable.
async fn setup(fs: &FaultFs, phase: Phase) -> Db {
    let db = Db::open(DB, phase_opts(fs, phase)).await.unwrap();
    write_keys(&db, 0..KEYS / 3).await;
    db.flush().await.unwrap();
    write_keys(&db, KEYS / 3..2 * KEYS / 3).await;
    db.flush().await.unwrap();
    write_keys(&db, 2 * KEYS / 3..KEYS).await;
    db
}

/// Runs the phase; `Ok` if it completed.
async fn run_phase(fs: &FaultFs, db: Db, phase: Phase) -> frys_storage::Result<()> {
    match phase {
        Phase::Flush | Phase::ManifestRotation => db.flush().await,
        Phase::Compaction => db.compact_range().await,
        Phase::Checkpoint => db.checkpoint(Path::new(CHECKPOINT)).await.map(|_| ()),
        Phase::Reopen => {
            db.close().await?;
            let db = Db::open(DB, phase_opts(fs, phase)).await?;
            db.close().await
        }
    }
}

async fn assert_all_keys(db: &Db, context: &str) {
    for i in 0..KEYS {
        assert_eq!(
            db.get(&key_of(i)).await.unwrap(),
            Some(value_of(i)),
            "{context}: acknowledged key {i} lost"
        );
    }
}

/// Changing calls the phase makes when nothing fails, and a check that it
/// did what it is named for.
fn calls_of(phase: Phase) -> u64 {
    let fs = machine();
    runtime().block_on(async {
        let db = setup(&fs, phase).await;
        let before = (fs.ops(), db.metrics());
        let manifests_before = manifests(&fs);
        let handle = db.clone();
        run_phase(&fs, db, phase).await.unwrap();
        let calls = fs.ops() - before.0;
        match phase {
            Phase::Flush => assert_eq!(handle.metrics().flushes, before.1.flushes + 1),
            Phase::Compaction => assert!(handle.metrics().compactions > before.1.compactions),
            Phase::ManifestRotation => assert_ne!(manifests(&fs), manifests_before),
            Phase::Checkpoint => assert!(fs.exists(&Path::new(CHECKPOINT).join("CURRENT"))),
            Phase::Reopen => {}
        }
        calls
    })
}

fn manifests(fs: &FaultFs) -> Vec<String> {
    let mut names = fs.list(Path::new(DB)).unwrap();
    names.retain(|n| n.starts_with("MANIFEST-"));
    names
}

fn cut_at_every_call_of(phase: Phase) {
    let calls = calls_of(phase);
    assert!(calls > 3, "{phase:?} makes {calls} changing calls");
    let mut completed = 0;
    // One past the last call: the power goes just after the phase ended.
    for cut in 1..=calls + 1 {
        let fs = machine();
        // Odd cuts also tear the unsynced appends.
        if cut % 2 == 1 {
            fs.set_torn_writes(Some(cut));
        }
        let context = format!("{phase:?}, power lost at call {cut} of {calls}");
        let finished = runtime().block_on(async {
            let db = setup(&fs, phase).await;
            fs.power_loss_after(cut);
            let finished = run_phase(&fs, db, phase).await.is_ok();
            if fs.power_losses() == 0 {
                fs.power_loss();
            }
            finished
        });
        completed += u64::from(finished);
        runtime().block_on(async {
            let db = Db::open(DB, phase_opts(&fs, phase))
                .await
                .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
            assert_all_keys(&db, &context).await;
            db.close().await.unwrap();
            if phase == Phase::Checkpoint && finished {
                let copy = Db::open(CHECKPOINT, phase_opts(&fs, phase))
                    .await
                    .unwrap_or_else(|e| panic!("{context}: the finished checkpoint: {e}"));
                assert_all_keys(&copy, &format!("{context}, checkpoint")).await;
            }
        });
    }
    assert!(
        completed > 0,
        "{phase:?}: the last cut comes after the phase"
    );
}

#[test]
fn power_loss_at_every_call_of_a_flush_keeps_every_acknowledged_write() {
    cut_at_every_call_of(Phase::Flush);
}

#[test]
fn power_loss_at_every_call_of_a_compaction_keeps_every_acknowledged_write() {
    cut_at_every_call_of(Phase::Compaction);
}

#[test]
fn power_loss_at_every_call_of_a_manifest_rotation_keeps_every_acknowledged_write() {
    cut_at_every_call_of(Phase::ManifestRotation);
}

#[test]
fn power_loss_at_every_call_of_a_checkpoint_keeps_the_partition_and_a_finished_copy() {
    cut_at_every_call_of(Phase::Checkpoint);
}

#[test]
fn power_loss_at_every_call_of_a_recovery_keeps_every_acknowledged_write() {
    cut_at_every_call_of(Phase::Reopen);
}

/// Creating a partition writes manifest 1, WAL segment 2 and CURRENT
/// last: cut anywhere in it, the directory must open again (as a new
/// partition if nothing was acknowledged), and a write acknowledged right
/// after the creation must survive.
#[test]
fn power_loss_at_every_call_of_creating_a_partition_leaves_one_that_opens() {
    let opts = |fs: &FaultFs| phase_opts(fs, Phase::Flush);
    let calls = {
        let fs = machine();
        runtime().block_on(async { drop(Db::open(DB, opts(&fs)).await.unwrap()) });
        fs.ops()
    };
    assert!(calls > 3, "creating makes {calls} changing calls");
    for cut in 1..=calls + 1 {
        let fs = machine();
        let context = format!("creation, power lost at call {cut} of {calls}");
        let acked = runtime().block_on(async {
            fs.power_loss_after(cut);
            let acked = match Db::open(DB, opts(&fs)).await {
                Ok(db) => db.put(b"first", b"write").await.is_ok(),
                Err(_) => false,
            };
            if fs.power_losses() == 0 {
                fs.power_loss();
            }
            acked
        });
        runtime().block_on(async {
            let db = Db::open(DB, opts(&fs))
                .await
                .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
            if acked {
                assert_eq!(
                    db.get(b"first").await.unwrap().as_deref(),
                    Some(&b"write"[..]),
                    "{context}: the acknowledged write"
                );
            }
            db.put(b"second", b"write").await.unwrap();
            db.close().await.unwrap();
        });
    }
}
