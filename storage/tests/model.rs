//! Model test: random put/delete/batch/flush/compact/reopen sequences,
//! checked against a `BTreeMap`, including scans and snapshots.

mod common;

use std::collections::BTreeMap;

use common::{runtime, Rng, TempDir};
use frys_storage::{Db, Options, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn opts() -> Options {
    Options {
        memtable_bytes: 16 << 10,
        target_file_size: 16 << 10,
        level_base_bytes: 64 << 10,
        block_cache_bytes: 64 << 10,
        // Streaming merges with small windows, split L0 merges, and
        // several compactions at once (the default), all on.
        compaction_readahead_bytes: 4 << 10,
        max_subcompactions: 4,
        ..Options::default()
    }
}

fn key(rng: &mut Rng) -> Vec<u8> {
    // A small key space so that keys are overwritten and deleted often.
    format!("k{:04}", rng.below(400)).into_bytes()
}

fn value(rng: &mut Rng, step: usize) -> Vec<u8> {
    let len = rng.below(200) as usize;
    let mut v = format!("{step}:").into_bytes();
    v.extend(std::iter::repeat_n(b'a' + (step % 26) as u8, len));
    v
}

async fn check_all(db: &Db, model: &Model, rng: &mut Rng, step: usize) {
    for _ in 0..40 {
        let k = key(rng);
        assert_eq!(
            db.get(&k).await.unwrap(),
            model.get(&k).cloned(),
            "get {k:?} at step {step}"
        );
    }
    let lo = key(rng);
    let hi = key(rng);
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let got = db.scan(lo.clone()..hi.clone()).collect().await.unwrap();
    let want: Vec<_> = model
        .range(lo..hi)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, want, "scan at step {step}");
}

#[test]
fn random_operations_match_a_btreemap() {
    for seed in [1u64, 7, 42] {
        let dir = TempDir::new("model");
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        runtime().block_on(async {
            let mut db = Db::open(dir.path(), opts()).await.unwrap();
            let mut model = Model::new();
            let mut snapshots: Vec<(frys_storage::Snapshot, Model)> = Vec::new();
            for step in 0..2500usize {
                match rng.below(100) {
                    0..=49 => {
                        let (k, v) = (key(&mut rng), value(&mut rng, step));
                        db.put(&k, &v).await.unwrap();
                        model.insert(k, v);
                    }
                    50..=64 => {
                        let k = key(&mut rng);
                        db.delete(&k).await.unwrap();
                        model.remove(&k);
                    }
                    65..=79 => {
                        let mut batch = WriteBatch::new();
                        for _ in 0..rng.below(8) + 1 {
                            let k = key(&mut rng);
                            if rng.below(3) == 0 {
                                batch.delete(&k);
                                model.remove(&k);
                            } else {
                                let v = value(&mut rng, step);
                                batch.put(&k, &v);
                                model.insert(k, v);
                            }
                        }
                        db.write(batch).await.unwrap();
                    }
                    80..=84 => check_all(&db, &model, &mut rng, step).await,
                    85..=87 => db.flush().await.unwrap(),
                    88 => db.compact_range().await.unwrap(),
                    89..=91 => {
                        if snapshots.len() < 3 {
                            snapshots.push((db.snapshot(), model.clone()));
                        } else {
                            let (snap, old) = snapshots.remove(0);
                            let got = db.scan_at(&snap, ..).collect().await.unwrap();
                            let want: Vec<_> = old.into_iter().collect();
                            assert_eq!(got, want, "snapshot scan at step {step}");
                        }
                    }
                    92..=93 => {
                        snapshots.clear();
                        db.close().await.unwrap();
                        db = Db::open(dir.path(), opts()).await.unwrap();
                    }
                    _ => {
                        for (snap, old) in &snapshots {
                            let k = key(&mut rng);
                            assert_eq!(
                                db.get_at(snap, &k).await.unwrap(),
                                old.get(&k).cloned(),
                                "snapshot get at step {step}"
                            );
                        }
                    }
                }
            }
            check_all(&db, &model, &mut rng, usize::MAX).await;
            let all = db.scan(..).collect().await.unwrap();
            assert_eq!(all, model.into_iter().collect::<Vec<_>>());
            let tables: usize = db.metrics().tables_per_level.iter().sum();
            assert!(tables > 0, "the run must have exercised tables");
        });
    }
}
