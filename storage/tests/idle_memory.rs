//! Idle memory: an empty partition opened with default options allocates
//! nothing large up front (memtable arena, block cache and buffers grow on
//! use). Its own test binary, so no other test shares the process's RSS.

mod common;

use common::{runtime, TempDir};
use frys_storage::{Db, Options};

/// Resident set size of this process, from `/proc/self/status`.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

#[test]
fn empty_partitions_with_default_options_allocate_nothing_large() {
    const PARTITIONS: usize = 16;
    let dirs: Vec<_> = (0..PARTITIONS)
        .map(|i| TempDir::new(&format!("idle-{i}")))
        .collect();
    let before_runtime = rss_bytes();
    let rt = runtime();
    let with_runtime = rss_bytes();
    rt.block_on(async {
        // Warm up one open/close so one-time allocations (thread locals,
        // the runtime's first I/O) are not charged to the partitions.
        let warm = TempDir::new("idle-warm");
        Db::open(warm.path(), Options::default())
            .await
            .unwrap()
            .close()
            .await
            .unwrap();
        let before = rss_bytes();
        let mut dbs = Vec::new();
        for dir in &dirs {
            dbs.push(Db::open(dir.path(), Options::default()).await.unwrap());
        }
        let after = rss_bytes();
        let per_partition = after.saturating_sub(before) / PARTITIONS;
        eprintln!(
            "idle RSS: {} KiB without the runtime, {} KiB with a one-core runtime, \
             {} KiB after one open and close, {} KiB with {PARTITIONS} empty partitions \
             ({} KiB each)",
            before_runtime / 1024,
            with_runtime / 1024,
            before / 1024,
            after / 1024,
            per_partition / 1024
        );
        // An eager 8 MiB memtable arena or 64 MiB cache would be millions
        // of bytes each; what an empty partition needs is a few KiB.
        assert!(
            per_partition < 256 << 10,
            "an empty partition costs {per_partition} bytes of RSS"
        );
        for db in dbs {
            db.close().await.unwrap();
        }
    });
}
