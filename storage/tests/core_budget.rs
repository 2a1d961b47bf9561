//! One memory budget per core: partitions given the same `CoreBudget`
//! share one block cache within its byte budget, and the largest of their
//! memtables is frozen and flushed when together they pass the write-buffer
//! budget.

mod common;

use std::time::Duration;

use common::{runtime, TempDir};
use frys_storage::{CoreBudget, Db, Options};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(tag: u8, i: u32) -> Vec<u8> {
    let mut v = vec![tag; 1000];
    v[..4].copy_from_slice(&i.to_le_bytes());
    v
}

fn opts(budget: &CoreBudget) -> Options {
    Options {
        budget: Some(budget.clone()),
        // Big enough that only the core's budget freezes memtables.
        memtable_bytes: 64 << 20,
        compression: false,
        ..Options::default()
    }
}

#[test]
fn two_partitions_sharing_a_1mib_cache_never_hold_more_than_it_together() {
    const CACHE: usize = 1 << 20;
    let dirs = [
        TempDir::new("budget-cache-a"),
        TempDir::new("budget-cache-b"),
    ];
    runtime().block_on(async {
        let budget = CoreBudget::new(CACHE, 64 << 20);
        let mut dbs = Vec::new();
        for (tag, dir) in dirs.iter().enumerate() {
            let db = Db::open(dir.path(), opts(&budget)).await.unwrap();
            // ~2 MiB per partition: each alone could fill the cache twice.
            for i in 0..2000 {
                db.put(&key(i), &value(tag as u8, i)).await.unwrap();
            }
            db.flush().await.unwrap();
            dbs.push(db);
        }
        for round in 0..2 {
            for i in 0..2000 {
                for (tag, db) in dbs.iter().enumerate() {
                    assert_eq!(
                        db.get(&key(i)).await.unwrap(),
                        Some(value(tag as u8, i)),
                        "round {round}"
                    );
                    assert!(
                        budget.block_cache_bytes() <= CACHE,
                        "the shared cache holds {} bytes, over its budget",
                        budget.block_cache_bytes()
                    );
                }
            }
        }
        assert!(
            budget.block_cache_bytes() > CACHE / 2,
            "the shared cache is in use"
        );
        // One cache: both partitions report its counters.
        assert_eq!(
            dbs[0].metrics().block_cache_misses,
            dbs[1].metrics().block_cache_misses
        );
        for db in dbs {
            db.close().await.unwrap();
        }
    });
}

#[test]
fn the_write_budget_freezes_and_flushes_the_largest_memtable() {
    const WRITE_BUFFER: usize = 256 << 10;
    let dirs = [
        TempDir::new("budget-write-a"),
        TempDir::new("budget-write-b"),
    ];
    runtime().block_on(async {
        let budget = CoreBudget::new(1 << 20, WRITE_BUFFER);
        let a = Db::open(dirs[0].path(), opts(&budget)).await.unwrap();
        let b = Db::open(dirs[1].path(), opts(&budget)).await.unwrap();
        // ~150 KiB + ~90 KiB: under the budget together.
        for i in 0..150 {
            a.put(&key(i), &value(b'a', i)).await.unwrap();
        }
        for i in 0..90 {
            b.put(&key(i), &value(b'b', i)).await.unwrap();
        }
        assert!(budget.memtable_bytes() <= WRITE_BUFFER);
        assert_eq!(a.metrics().write_buffer_switches, 0);
        assert_eq!(b.metrics().write_buffer_switches, 0);

        // Writes to `b` push the pair over: `a`, the largest, is flushed.
        for i in 90..120 {
            b.put(&key(i), &value(b'b', i)).await.unwrap();
        }
        let mut waits = 0;
        while a.metrics().flushes == 0 {
            waits += 1;
            assert!(waits < 10_000, "the budget never flushed `a`");
            frys_runtime::time::sleep(Duration::from_millis(1)).await;
        }
        let (ma, mb) = (a.metrics(), b.metrics());
        assert_eq!(ma.write_buffer_switches, 1);
        assert_eq!(ma.tables_per_level.first(), Some(&1));
        assert_eq!(ma.memtable_bytes, 0);
        assert_eq!(mb.write_buffer_switches, 0);
        assert_eq!(mb.flushes, 0, "the smaller memtable stays");
        assert!(budget.memtable_bytes() <= WRITE_BUFFER);
        // The flushed data is still there.
        for i in 0..150 {
            assert_eq!(a.get(&key(i)).await.unwrap(), Some(value(b'a', i)));
        }
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
}

#[test]
fn a_partition_without_a_budget_keeps_its_own_cache() {
    let dir = TempDir::new("budget-none");
    let shared_dir = TempDir::new("budget-none-shared");
    runtime().block_on(async {
        let budget = CoreBudget::new(1 << 20, 1 << 20);
        let shared = Db::open(shared_dir.path(), opts(&budget)).await.unwrap();
        let own = Db::open(dir.path(), Options::default()).await.unwrap();
        for i in 0..500 {
            own.put(&key(i), &value(b'o', i)).await.unwrap();
        }
        own.flush().await.unwrap();
        for i in 0..500 {
            assert_eq!(own.get(&key(i)).await.unwrap(), Some(value(b'o', i)));
        }
        assert_eq!(budget.block_cache_bytes(), 0);
        assert_eq!(budget.memtable_bytes(), 0);
        assert_eq!(shared.metrics().block_cache_misses, 0);
        own.close().await.unwrap();
        shared.close().await.unwrap();
    });
}
