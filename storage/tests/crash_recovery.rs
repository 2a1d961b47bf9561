//! Crash tests: a child process writes and reports every acknowledged key;
//! it is killed with SIGKILL at random moments; after each kill the
//! partition must open cleanly and hold what the durability policy
//! promises.
//!
//! The child is this test binary re-executed with `FRYS_CRASH_CHILD` set.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{runtime, Rng, TempDir};
use frys_storage::{Db, Options, SyncPolicy};

const CHILD_DIR: &str = "FRYS_CRASH_CHILD";
const CHILD_ROUND: &str = "FRYS_CRASH_ROUND";
const CHILD_POLICY: &str = "FRYS_CRASH_POLICY";

fn opts(sync: SyncPolicy) -> Options {
    // Small memtables so flushes and compactions happen (and get killed).
    Options {
        sync,
        memtable_bytes: 8 << 10,
        target_file_size: 16 << 10,
        level_base_bytes: 64 << 10,
        // Rotate often, so that kills also land around CURRENT swaps.
        manifest_rotate_bytes: 2 << 10,
        // Streaming merges with small windows, split L0 merges, and
        // several compactions at once (the default), all on.
        compaction_readahead_bytes: 4 << 10,
        max_subcompactions: 4,
        ..Options::default()
    }
}

fn value_of(round: u64, i: u64) -> Vec<u8> {
    format!("value-{round}-{i}-{}", "v".repeat((i % 64) as usize)).into_bytes()
}

fn key_of(round: u64, i: u64) -> Vec<u8> {
    format!("r{round:03}-{i:08}").into_bytes()
}

/// Child: write keys of `round` in order forever, printing `ACK i` after
/// each acknowledged write.
fn child(dir: &str, round: u64, sync: SyncPolicy) {
    runtime().block_on(async move {
        // Another test thread may have forked while our parent held the
        // lock; its child shares the lock until it execs.
        let db = common::open_when_unlocked(std::path::Path::new(dir), opts(sync))
            .await
            .expect("child open");
        println!("OPEN");
        // Several writers so that group commit shares syncs, but each
        // writer's keys are in order and acked in order.
        let writers = 4u64;
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let db = db.clone();
                frys_runtime::spawn_local(async move {
                    let mut i = w;
                    loop {
                        db.put(&key_of(round, i), &value_of(round, i))
                            .await
                            .expect("child put");
                        println!("ACK {i}");
                        i += writers;
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.await;
        }
    });
}

fn run_child(dir: &TempDir, round: u64, policy: &str, rng: &mut Rng) -> Vec<u64> {
    let exe = std::env::current_exe().unwrap();
    let test = match policy {
        "always" => "crash_with_always_loses_no_acknowledged_write",
        _ => "crash_with_everysec_keeps_every_written_prefix",
    };
    let mut child = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_ROUND, round.to_string())
        .env(CHILD_POLICY, policy)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let kill_after = 1 + rng.below(400);
    let mut acked = Vec::new();
    let mut opened = false;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if line.ends_with("OPEN") {
            opened = true;
        } else if let Some(i) = line.strip_prefix("ACK ") {
            acked.push(i.parse().unwrap());
            if acked.len() as u64 >= kill_after {
                break;
            }
        }
    }
    // SIGKILL, mid-write.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        opened,
        "round {round}: the child could not open the partition ({status})"
    );
    acked
}

fn crash_rounds(policy: &str, sync: SyncPolicy) {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let round = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
        return child(&dir, round, sync);
    }
    let dir = TempDir::new(&format!("crash-{policy}"));
    let mut rng = Rng(0x5eed_0000 + policy.len() as u64);
    let mut history: Vec<Vec<u64>> = Vec::new();
    for round in 0..20u64 {
        let acked = run_child(&dir, round, policy, &mut rng);
        history.push(acked);
        runtime().block_on(async {
            let db = Db::open(dir.path(), opts(sync))
                .await
                .unwrap_or_else(|e| panic!("round {round}: open after SIGKILL failed: {e}"));
            for (r, acked) in history.iter().enumerate() {
                let r = r as u64;
                // Every acknowledged write is there.
                for &i in acked {
                    let got = db.get(&key_of(r, i)).await.unwrap();
                    assert_eq!(
                        got,
                        Some(value_of(r, i)),
                        "round {round}: acked key {i} of round {r} lost"
                    );
                }
                // What survives of each writer is a prefix of what it wrote.
                let survived = db
                    .scan(key_of(r, 0)..key_of(r + 1, 0))
                    .collect()
                    .await
                    .unwrap();
                let mut per_writer = [0u64; 4];
                for (k, v) in &survived {
                    let i: u64 = std::str::from_utf8(&k[5..]).unwrap().parse().unwrap();
                    assert_eq!(
                        v,
                        &value_of(r, i),
                        "round {round}: key {i} has a wrong value"
                    );
                    let w = (i % 4) as usize;
                    assert_eq!(
                        i / 4,
                        per_writer[w],
                        "round {round}: writer {w} has a gap before key {i}"
                    );
                    per_writer[w] += 1;
                }
            }
            if round == 19 {
                let tables: usize = db.metrics().tables_per_level.iter().sum();
                assert!(
                    tables > 0,
                    "the crash rounds must have exercised flushed tables"
                );
            }
            db.close().await.unwrap();
        });
    }
}

#[test]
fn crash_with_always_loses_no_acknowledged_write() {
    crash_rounds("always", SyncPolicy::Always);
}

/// `everysec`: a process crash (unlike a power loss) loses nothing that was
/// written, and what survives is a prefix of what each writer wrote.
#[test]
fn crash_with_everysec_keeps_every_written_prefix() {
    crash_rounds("everysec", SyncPolicy::EverySec);
}
