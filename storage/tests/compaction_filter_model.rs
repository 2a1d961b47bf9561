//! Model test of the compaction filter: random collection writes, deletes,
//! expiries, flushes, compactions and snapshots. Whatever compaction drops,
//! every element that the latest state or a live snapshot still considers
//! live stays readable with its value, and nothing that was never written
//! (or was overwritten) shows up. Once no snapshot is left, a full
//! compaction leaves exactly the live elements.

mod common;

use std::collections::BTreeMap;

use common::collections::{all_elements, element_key, meta_key, version_value, with_filter};
use common::{runtime, Rng, TempDir};
use frys_storage::{Db, Options, Snapshot, WriteBatch};

const NAMES: [&str; 4] = ["0", "1", "2", "3"];

/// What the partition holds, as plain maps.
#[derive(Clone, Default)]
struct Model {
    /// Collection name → its current version (absent: deleted or expired).
    meta: BTreeMap<&'static str, u64>,
    /// Every element record written and not deleted or overwritten,
    /// dead or alive: element key → (name, version, value).
    elements: BTreeMap<Vec<u8>, (&'static str, u64, Vec<u8>)>,
}

impl Model {
    fn live(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.elements
            .iter()
            .filter(|(_, (name, version, _))| self.meta.get(name) == Some(version))
            .map(|(k, (_, _, v))| (k.clone(), v.clone()))
            .collect()
    }
}

fn opts() -> Options {
    with_filter(Options {
        memtable_bytes: 16 << 10,
        target_file_size: 16 << 10,
        level_base_bytes: 64 << 10,
        ..Options::default()
    })
}

/// `seen` (a scan) holds every live element and only records the model
/// holds, with their values.
fn check(seen: &[(Vec<u8>, Vec<u8>)], model: &Model, what: &str) {
    for (k, v) in seen {
        let written = model.elements.get(k).map(|(_, _, v)| v);
        assert_eq!(written, Some(v), "{what}: unexpected {k:?}");
    }
    let seen: BTreeMap<_, _> = seen.iter().cloned().collect();
    for (k, v) in model.live() {
        assert_eq!(seen.get(&k), Some(&v), "{what}: live {k:?} lost");
    }
}

fn pick(rng: &mut Rng) -> &'static str {
    NAMES[rng.below(NAMES.len() as u64) as usize]
}

#[test]
fn filtering_never_loses_what_the_latest_state_or_a_snapshot_sees() {
    for seed in [3u64, 11, 29] {
        let dir = TempDir::new("filter-model");
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        runtime().block_on(async {
            let db = Db::open(dir.path(), opts()).await.unwrap();
            let mut model = Model::default();
            let mut snapshots: Vec<(Snapshot, Model)> = Vec::new();
            let mut next_version = 1u64;
            for step in 0..700usize {
                let name = pick(&mut rng);
                let value = format!("{step}:{}", "x".repeat(rng.below(120) as usize));
                match rng.below(100) {
                    // A new version of the collection, with a few elements.
                    0..=24 => {
                        let version = next_version;
                        next_version += 1;
                        let mut batch = WriteBatch::new();
                        batch.put(&meta_key(name), &version_value(version));
                        model.meta.insert(name, version);
                        for sub in 0..rng.below(6) {
                            let key = element_key(name, version, &sub.to_string());
                            batch.put(&key, value.as_bytes());
                            model
                                .elements
                                .insert(key, (name, version, value.clone().into_bytes()));
                        }
                        db.write(batch).await.unwrap();
                    }
                    // Set or remove one element of the current version,
                    // rewriting the metadata in the same batch.
                    25..=54 => {
                        let Some(&version) = model.meta.get(name) else {
                            continue;
                        };
                        let key = element_key(name, version, &rng.below(8).to_string());
                        let mut batch = WriteBatch::new();
                        batch.put(&meta_key(name), &version_value(version));
                        if rng.below(4) == 0 {
                            batch.delete(&key);
                            model.elements.remove(&key);
                        } else {
                            batch.put(&key, value.as_bytes());
                            model
                                .elements
                                .insert(key, (name, version, value.into_bytes()));
                        }
                        db.write(batch).await.unwrap();
                    }
                    55..=61 => {
                        db.delete(&meta_key(name)).await.unwrap();
                        model.meta.remove(name);
                    }
                    62..=66 => {
                        let Some(&version) = model.meta.get(name) else {
                            continue;
                        };
                        let meta = version_value(version);
                        db.put_with_expiry(&meta_key(name), &meta, 1).await.unwrap();
                        model.meta.remove(name);
                    }
                    67..=76 => db.flush().await.unwrap(),
                    77..=80 => db.compact_range().await.unwrap(),
                    81..=87 => snapshots.push((db.snapshot(), model.clone())),
                    88..=93 if !snapshots.is_empty() => {
                        let at = rng.below(snapshots.len() as u64) as usize;
                        snapshots.swap_remove(at);
                    }
                    _ => {
                        let seen = db.scan(all_elements()).collect().await.unwrap();
                        check(&seen, &model, &format!("seed {seed} step {step}"));
                        for (n, (snapshot, then)) in snapshots.iter().enumerate() {
                            let seen = db.scan_at(snapshot, all_elements());
                            let seen = seen.collect().await.unwrap();
                            check(
                                &seen,
                                then,
                                &format!("seed {seed} step {step} snapshot {n}"),
                            );
                        }
                    }
                }
            }
            for (n, (snapshot, then)) in snapshots.iter().enumerate() {
                db.compact_range().await.unwrap();
                let seen = db
                    .scan_at(snapshot, all_elements())
                    .collect()
                    .await
                    .unwrap();
                check(&seen, then, &format!("seed {seed} end snapshot {n}"));
            }
            snapshots.clear();
            db.compact_range().await.unwrap();
            let seen = db.scan(all_elements()).collect().await.unwrap();
            assert_eq!(seen, model.live(), "seed {seed}: dead elements left");
            let m = db.metrics();
            assert!(m.compaction_filtered > 0, "{m:?}");
            db.close().await.unwrap();
        });
    }
}
