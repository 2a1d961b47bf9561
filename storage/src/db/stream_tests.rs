//! Streaming merges: what a merge holds in memory stays bounded by the
//! readahead, not by the tables; compaction leaves the block cache alone;
//! a user key whose versions outrun the readahead is still merged right.

use super::test_hooks::{flush_only, runtime, TempDir};
use super::*;
use crate::options::SyncPolicy;
use crate::test_rng::Rng;

const READAHEAD: usize = 32 << 10;
const BLOCK: usize = 4096;
const VALUE: usize = 100;

fn options() -> Options {
    Options {
        sync: SyncPolicy::No,
        block_size: BLOCK,
        compression: false,
        compaction_readahead_bytes: READAHEAD,
        memtable_bytes: 1 << 20,
        target_file_size: 64 << 20,
        ..Options::default()
    }
}

fn value(key: u64, round: u64) -> Vec<u8> {
    let mut v = format!("{key:08}@{round}|").into_bytes();
    v.resize(VALUE, b'.');
    v
}

#[test]
fn a_merge_holds_a_few_blocks_per_input_not_its_tables() {
    let dir = TempDir::new("merge-memory");
    runtime().block_on(async {
        let db = Db::open(dir.path(), options()).await.unwrap();
        let keys = 8_000u64;
        let mut rng = Rng::new(7);
        // Four overlapping L0 tables of about 1 MiB each: one L0->L1 merge.
        for round in 0..4 {
            for _ in 0..keys {
                let k = rng.below(keys);
                db.put(format!("{k:08}").as_bytes(), &value(k, round))
                    .await
                    .unwrap();
            }
            flush_only(&db).await;
        }
        db.flush().await.unwrap();
        let m = db.metrics();
        assert!(m.compactions >= 1, "{m:?}");
        assert_eq!(m.tables_per_level[0], 0, "{m:?}");
        let inputs = 4u64;
        // Per input: two windows of at most READAHEAD and one decoded block
        // (at most a block plus one entry).
        let bound = inputs * (2 * READAHEAD as u64 + 2 * (BLOCK + 2 * VALUE) as u64);
        assert!(m.compaction_peak_input_bytes > 0, "{m:?}");
        assert!(
            m.compaction_peak_input_bytes <= bound,
            "peak {} > bound {bound}",
            m.compaction_peak_input_bytes
        );
        assert!(
            m.compaction_bytes_read > 4 * bound,
            "the inputs are much larger than what was held: {m:?}"
        );
        assert_eq!(m.compaction_blocking_reads, 0, "{m:?}");
        // Nothing was read by a user: compaction put no block in the cache.
        let cache = db.inner.cache.borrow().stats();
        assert_eq!((cache.entries, cache.misses), (0, 0), "{cache:?}");
        db.close().await.unwrap();
    });
}

#[test]
fn versions_that_outrun_the_readahead_are_merged_right() {
    let dir = TempDir::new("merge-outrun");
    runtime().block_on(async {
        let opts = Options {
            // One block per window: a key's versions span many windows.
            compaction_readahead_bytes: 1,
            ..options()
        };
        let db = Db::open(dir.path(), opts.clone()).await.unwrap();
        // 400 versions of one key (about ten blocks) in one table, kept by
        // snapshots taken between them; plus neighbours on both sides.
        let mut snapshots = Vec::new();
        for round in 0..400u64 {
            db.put(b"hot", &value(0, round)).await.unwrap();
            if round % 2 == 0 {
                snapshots.push(db.snapshot());
            }
        }
        for k in 0..50u64 {
            db.put(format!("a{k:03}").as_bytes(), &value(k, 0))
                .await
                .unwrap();
            db.put(format!("z{k:03}").as_bytes(), &value(k, 0))
                .await
                .unwrap();
        }
        flush_only(&db).await;
        for round in 1..4u64 {
            for k in 0..50u64 {
                db.put(format!("a{k:03}").as_bytes(), &value(k, round))
                    .await
                    .unwrap();
            }
            flush_only(&db).await;
        }
        db.flush().await.unwrap();
        let m = db.metrics();
        assert!(m.compactions >= 1, "{m:?}");
        assert!(m.compaction_blocking_reads > 0, "{m:?}");
        // Every snapshot still sees its version; the latest state is right.
        for (i, snap) in snapshots.iter().enumerate() {
            let got = db.get_at(snap, b"hot").await.unwrap();
            assert_eq!(got, Some(value(0, 2 * i as u64)), "snapshot {i}");
        }
        assert_eq!(db.get(b"hot").await.unwrap(), Some(value(0, 399)));
        for k in 0..50u64 {
            let a = db.get(format!("a{k:03}").as_bytes()).await.unwrap();
            assert_eq!(a, Some(value(k, 3)));
            let z = db.get(format!("z{k:03}").as_bytes()).await.unwrap();
            assert_eq!(z, Some(value(k, 0)));
        }
        drop(snapshots);
        db.close().await.unwrap();
        let db = Db::open(dir.path(), opts).await.unwrap();
        assert_eq!(db.get(b"hot").await.unwrap(), Some(value(0, 399)));
        db.close().await.unwrap();
    });
}
