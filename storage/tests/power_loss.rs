//! Power loss at random points of a workload, on the simulated file
//! system: every round cuts the power at a random changing call (a write,
//! sync, create, rename, remove...), reopens, and checks what the sync
//! policy promises. Rounds are fast because nothing touches a real disk;
//! `FRYS_FAULT_SEEDS=N` runs more of them.

mod common;

use common::faults::{self, machine, opts, surviving_prefixes, write_until_error, DB};
use common::{runtime, Rng};
use frys_storage::fault::FaultFs;
use frys_storage::{Db, SyncPolicy};

const PER_WRITER: u64 = 120;

/// Changing calls the whole workload makes when nothing fails.
fn calls_of_workload(sync: SyncPolicy) -> u64 {
    let fs = machine();
    runtime().block_on(async {
        let db = Db::open(DB, opts(&fs, sync)).await.unwrap();
        let acked = write_until_error(&db, PER_WRITER).await;
        assert!(acked.iter().all(|a| a.len() as u64 == PER_WRITER));
        let m = db.metrics();
        assert!(
            m.flushes > 3 && m.compactions > 0,
            "the workload must flush and compact: {m:?}"
        );
    });
    fs.ops()
}

/// One round: power lost at a random call (torn writes on odd seeds);
/// returns what was acknowledged and what survived, per writer.
fn round(sync: SyncPolicy, seed: u64, calls: u64) -> (FaultFs, Vec<Vec<u64>>, Vec<u64>) {
    let mut rng = Rng(0x9e37_79b9 ^ (seed + 1).wrapping_mul(0x2545_f491));
    let fs = machine();
    if seed % 2 == 1 {
        fs.set_torn_writes(Some(seed));
    }
    let cut = 1 + rng.below(calls);
    let context = format!("{sync:?} seed {seed} (power lost at call {cut} of {calls})");
    let acked = runtime().block_on(async {
        let db = Db::open(DB, opts(&fs, sync)).await.unwrap();
        fs.power_loss_after(cut);
        let acked = write_until_error(&db, PER_WRITER).await;
        if fs.power_losses() == 0 {
            fs.power_loss(); // the workload ended first
        }
        acked
    });
    let survived = runtime().block_on(async {
        let db = Db::open(DB, opts(&fs, sync))
            .await
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        let survived = surviving_prefixes(&db, &context).await;
        // The store takes writes again and keeps them.
        db.put(b"after", b"power came back").await.unwrap();
        db.close().await.unwrap();
        survived
    });
    (fs, acked, survived)
}

#[test]
fn power_loss_at_random_points_loses_no_acknowledged_write_with_always() {
    let calls = calls_of_workload(SyncPolicy::Always);
    let mut lost_tail = 0;
    for seed in 0..faults::seeds(100) {
        let (fs, acked, survived) = round(SyncPolicy::Always, seed, calls);
        for w in 0..acked.len() {
            let (a, s) = (acked[w].len() as u64, survived[w]);
            // Every acknowledged write is there; at most the one write in
            // flight when the power went is there too, unacknowledged.
            assert!(
                s == a || s == a + 1,
                "seed {seed}: writer {w} had {a} writes acknowledged, {s} survived"
            );
            lost_tail += u64::from(a < PER_WRITER);
        }
        runtime().block_on(async {
            let db = Db::open(DB, opts(&fs, SyncPolicy::Always)).await.unwrap();
            assert_eq!(
                db.get(b"after").await.unwrap().as_deref(),
                Some(&b"power came back"[..]),
                "seed {seed}: a write after the reopen was lost"
            );
        });
    }
    assert!(lost_tail > 0, "some rounds must cut the power mid-workload");
}

#[test]
fn power_loss_with_everysec_reopens_to_a_prefix_of_every_writer() {
    let calls = calls_of_workload(SyncPolicy::EverySec);
    let mut lost_some = false;
    for seed in 0..faults::seeds(60) {
        // `surviving_prefixes` checks values and that no writer has a gap.
        let (_, acked, survived) = round(SyncPolicy::EverySec, seed, calls);
        for w in 0..acked.len() {
            let a = acked[w].len() as u64;
            assert!(
                survived[w] <= a + 1,
                "seed {seed}: writer {w}: {} survived, only {a} acknowledged",
                survived[w]
            );
            lost_some |= survived[w] < a;
        }
    }
    // Unsynced acknowledged writes are what everysec may lose: the rounds
    // must have lost some, or they did not test the policy.
    assert!(lost_some, "no round lost an unsynced write");
}

/// `no`: the OS decides what reaches the disk, so a power loss may lose
/// any unsynced write; the partition must still reopen, to a prefix of
/// every writer (flushes sync what they write, the WAL is never synced).
#[test]
fn power_loss_with_sync_no_reopens_to_a_prefix_of_every_writer() {
    let calls = calls_of_workload(SyncPolicy::No);
    for seed in 0..faults::seeds(60) {
        let (_, acked, survived) = round(SyncPolicy::No, seed, calls);
        for w in 0..acked.len() {
            assert!(survived[w] <= acked[w].len() as u64 + 1, "seed {seed}");
        }
    }
}

/// Two partitions of one core sharing a [`CoreBudget`]: the budget freezes
/// the larger one's memtable when their sum is over it, so switches happen
/// from the other partition's commits. A power loss at a random call loses
/// nothing either acknowledged.
#[test]
fn power_loss_with_two_partitions_sharing_a_core_budget_loses_nothing_acknowledged() {
    use frys_storage::CoreBudget;
    const DIRS: [&str; 2] = ["/data/p0", "/data/p1"];
    let both = |fs: &FaultFs, budget: &CoreBudget| frys_storage::Options {
        memtable_bytes: 64 << 10, // the budget, not the size, freezes them
        budget: Some(budget.clone()),
        ..opts(fs, SyncPolicy::Always)
    };
    let run = |fs: &FaultFs, cut: Option<u64>| -> Vec<Vec<Vec<u64>>> {
        runtime().block_on(async {
            let budget = CoreBudget::new(64 << 10, 6 << 10);
            let mut dbs = Vec::new();
            for dir in DIRS {
                dbs.push(Db::open(dir, both(fs, &budget)).await.unwrap());
            }
            if let Some(cut) = cut {
                fs.power_loss_after(cut);
            }
            let tasks: Vec<_> = dbs
                .iter()
                .map(|db| {
                    let db = db.clone();
                    frys_runtime::spawn_local(async move { write_until_error(&db, 60).await })
                })
                .collect();
            let mut acked = Vec::new();
            for t in tasks {
                acked.push(t.await.unwrap());
            }
            if cut.is_none() {
                let switches: u64 = dbs.iter().map(|d| d.metrics().write_buffer_switches).sum();
                assert!(switches > 0, "the budget must freeze memtables");
            }
            acked
        })
    };
    let calls = {
        let fs = machine();
        run(&fs, None);
        fs.ops()
    };
    let mut rng = Rng(0x5eed_b0d9);
    let mut cut_short = 0;
    for seed in 0..faults::seeds(30) {
        let fs = machine();
        let cut = 1 + rng.below(calls);
        let acked = run(&fs, Some(cut));
        cut_short += acked.iter().flatten().filter(|a| a.len() < 60).count();
        if fs.power_losses() == 0 {
            fs.power_loss();
        }
        runtime().block_on(async {
            let budget = CoreBudget::new(64 << 10, 6 << 10);
            for (p, dir) in DIRS.iter().enumerate() {
                let context = format!("seed {seed}, partition {p}, cut at {cut} of {calls}");
                let db = Db::open(dir, both(&fs, &budget))
                    .await
                    .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
                let survived = surviving_prefixes(&db, &context).await;
                for (w, a) in acked[p].iter().enumerate() {
                    let a = a.len() as u64;
                    assert!(
                        survived[w] == a || survived[w] == a + 1,
                        "{context}: writer {w}: {a} acknowledged, {} survived",
                        survived[w]
                    );
                }
            }
        });
    }
    assert!(cut_short > 0, "some rounds must cut the power mid-workload");
}
