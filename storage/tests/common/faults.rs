//! Helpers of the tests on the simulated file system (`frys_storage::fault`):
//! options that make flushes, compactions and manifest rotations frequent,
//! and a workload of writers whose acknowledged keys are recorded.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use frys_storage::fault::FaultFs;
use frys_storage::{Db, Options, SyncPolicy};

/// The partition's directory on the simulated machine.
pub const DB: &str = "/data/db";

/// Writers of the workload; writer `w` writes keys `w, w + WRITERS, ...`.
pub const WRITERS: u64 = 4;

/// A machine with `/data` durable.
pub fn machine() -> FaultFs {
    let fs = FaultFs::new();
    fs.create_dir_durably(Path::new("/data")).unwrap();
    fs
}

/// Small memtables, tables and manifest: a few hundred writes flush,
/// compact and rotate the manifest many times.
pub fn opts(fs: &FaultFs, sync: SyncPolicy) -> Options {
    Options {
        sync,
        memtable_bytes: 4 << 10,
        target_file_size: 8 << 10,
        level_base_bytes: 32 << 10,
        manifest_rotate_bytes: 1 << 10,
        compaction_readahead_bytes: 2 << 10,
        max_subcompactions: 2,
        file_system: fs.file_system(),
        ..Options::default()
    }
}

pub fn key_of(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

pub fn value_of(i: u64) -> Vec<u8> {
    format!("value-{i}-{}", "v".repeat((i % 97) as usize)).into_bytes()
}

/// Runs `WRITERS` writers until each has written `per_writer` keys or met
/// an error; returns the indexes acknowledged, per writer, in order.
pub async fn write_until_error(db: &Db, per_writer: u64) -> Vec<Vec<u64>> {
    let acked = Rc::new(RefCell::new(vec![Vec::new(); WRITERS as usize]));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = db.clone();
            let acked = acked.clone();
            frys_runtime::spawn_local(async move {
                for n in 0..per_writer {
                    let i = w + n * WRITERS;
                    if db.put(&key_of(i), &value_of(i)).await.is_err() {
                        return;
                    }
                    acked.borrow_mut()[w as usize].push(i);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let out = acked.borrow().clone();
    out
}

/// Reads every key of the workload's writers back: per writer, how many of
/// its keys (from its first) are present, checking each value, and that no
/// key follows a gap.
pub async fn surviving_prefixes(db: &Db, context: &str) -> Vec<u64> {
    let all = db
        .scan(b"key".to_vec()..b"kez".to_vec())
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{context}: scan failed: {e}"));
    let mut per_writer = vec![0u64; WRITERS as usize];
    for (k, v) in &all {
        let i: u64 = std::str::from_utf8(&k[3..]).unwrap().parse().unwrap();
        assert_eq!(v, &value_of(i), "{context}: key {i} has a wrong value");
        let w = (i % WRITERS) as usize;
        assert_eq!(
            i / WRITERS,
            per_writer[w],
            "{context}: writer {w} has a gap before key {i}"
        );
        per_writer[w] += 1;
    }
    per_writer
}

/// Seeds for the randomized rounds: `default`, or `FRYS_FAULT_SEEDS`.
pub fn seeds(default: u64) -> u64 {
    std::env::var("FRYS_FAULT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
