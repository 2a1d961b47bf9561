//! Splitting an L0→L1 merge into subcompactions by user-key range.
//!
//! The shares are consecutive ranges `[None, b1), [b1, b2), ..., [bk, None)`
//! with strictly increasing user-key bounds, so together they cover every
//! key exactly once and every version of a user key falls in one share.
//! Each share merges the same inputs restricted to its range, with the
//! same snapshots, tombstone rule and resolved dependencies, so the shares'
//! outputs, in order, are exactly what one merge writes, except that
//! output tables are also cut at the bounds (model test:
//! `subcompact::tests`). The outputs of share `i` lie in its range, so all
//! outputs are disjoint and in key order, as L1 needs.
//!
//! Bounds are quantiles of the inputs' index separators (user keys), which
//! spread the shares' sizes roughly evenly by data blocks.

use super::stream::{KeyRange, StreamInput};
use crate::key;

/// The shares of a merge of `inputs` (`total_bytes` together): at most
/// `max_shares`, and about one per `target_file_size` of input at most; a
/// single unbounded share when splitting is not worth it.
pub(crate) fn split(
    inputs: &[StreamInput],
    total_bytes: u64,
    target_file_size: u64,
    max_shares: usize,
) -> Vec<KeyRange> {
    let by_size = usize::try_from(total_bytes / target_file_size.max(1)).unwrap_or(usize::MAX);
    let shares = max_shares.min(by_size).max(1);
    let mut keys: Vec<&[u8]> = inputs
        .iter()
        .flat_map(|i| (0..i.index.len()).map(|b| key::user_key(i.index.separator(b))))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        // Inputs without index entries (only a crafted table): one share.
        return ranges(Vec::new());
    }
    let mut bounds: Vec<Vec<u8>> = Vec::new();
    for s in 1..shares {
        let k = keys[s * keys.len() / shares];
        if bounds.last().is_none_or(|b| b.as_slice() < k) {
            bounds.push(k.to_vec());
        }
    }
    ranges(bounds)
}

/// The consecutive ranges cut at `bounds` (strictly increasing).
pub(crate) fn ranges(bounds: Vec<Vec<u8>>) -> Vec<KeyRange> {
    let mut out = Vec::with_capacity(bounds.len() + 1);
    let mut lo = None;
    for b in bounds {
        out.push(KeyRange {
            lo: lo.take(),
            hi: Some(b.clone()),
        });
        lo = Some(b);
    }
    out.push(KeyRange { lo, hi: None });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::merge_run::{fill_sources, MergeJob, MergeRun, Step};
    use crate::db::test_hooks::{runtime, TempDir};
    use crate::key::{encode_value, internal_key, Kind};
    use crate::sstable::{TableBuilder, TableIter, TableOptions};
    use crate::test_rng::Rng;
    use std::collections::BTreeMap;
    use std::path::Path;

    type Entries = Vec<(Vec<u8>, Vec<u8>)>;

    fn table_options() -> TableOptions {
        TableOptions {
            block_size: 256,
            ..TableOptions::default()
        }
    }

    /// Writes a table of `entries` (sorted internal keys) as file `id`.
    fn write_table(dir: &Path, id: u64, entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> StreamInput {
        let mut b = TableBuilder::new(table_options());
        let mut sorted: Vec<_> = entries.iter().collect();
        sorted.sort_by(|a, b| key::compare_internal_keys(a.0, b.0));
        for (k, v) in sorted {
            b.add(k, v).unwrap();
        }
        let bytes = b.finish().unwrap();
        let index = TableIter::new(bytes.clone().into())
            .unwrap()
            .index()
            .clone();
        let path = dir.join(format!("{id}.sst"));
        std::fs::write(&path, &bytes).unwrap();
        StreamInput {
            fs: crate::FileSystem::real(),
            id,
            path,
            index,
        }
    }

    /// Random overlapping inputs, newest first: each holds versions of keys
    /// from a small key space, seqnos above the next input's.
    fn inputs(dir: &Path, rng: &mut Rng) -> (Vec<StreamInput>, u64) {
        let count = rng.range(2, 5);
        let mut seqno = 0;
        let mut tables = Vec::new();
        for id in 0..count {
            let mut entries = BTreeMap::new();
            for _ in 0..rng.range(50, 400) {
                seqno += 1;
                let user = format!("k{:04}", rng.below(300));
                let (kind, field) = if rng.below(5) == 0 {
                    (Kind::Delete, Vec::new())
                } else {
                    let mut f = Vec::new();
                    let len = rng.below(60) as usize;
                    encode_value(None, &rng.bytes(len), &mut f);
                    (Kind::Put, f)
                };
                entries.insert(internal_key(user.as_bytes(), seqno, kind), field);
            }
            tables.push(write_table(dir, id, &entries));
        }
        tables.reverse();
        (tables, seqno)
    }

    async fn merged(
        inputs: &[StreamInput],
        range: KeyRange,
        snapshots: &[u64],
        drop_tombstones: bool,
    ) -> Entries {
        let job = MergeJob {
            inputs: inputs.to_vec(),
            range,
            readahead: 300,
            snapshots: snapshots.to_vec(),
            drop_tombstones,
            now_ms: 0,
            table: table_options(),
            target_file_size: 2048,
            dead: None,
        };
        let mut run = MergeRun::open(job).await.unwrap();
        let mut out = Vec::new();
        loop {
            fill_sources(run.sources()).await;
            match run.step().await.unwrap() {
                Step::Table(bytes) => {
                    let mut it = TableIter::new(bytes.into()).unwrap();
                    it.seek_to_first().unwrap();
                    while it.valid() {
                        out.push((it.key().to_vec(), it.value().to_vec()));
                        it.next().unwrap();
                    }
                }
                Step::NeedInput => {}
                Step::Done => return out,
            }
        }
    }

    #[test]
    fn subcompactions_write_what_one_merge_writes() {
        let dir = TempDir::new("subcompaction-model");
        std::fs::create_dir_all(dir.path()).unwrap();
        runtime().block_on(async {
            for seed in 0..40 {
                let mut rng = Rng::new(seed);
                let (inputs, max_seqno) = inputs(dir.path(), &mut rng);
                let snapshots: Vec<u64> =
                    (0..rng.below(4)).map(|_| rng.range(1, max_seqno)).collect();
                let drop_tombstones = rng.below(2) == 0;
                let whole = merged(&inputs, KeyRange::default(), &snapshots, drop_tombstones).await;
                // Bounds from `split`, and random ones (some between keys,
                // some on keys, some outside every key).
                let total: u64 = 1 << 20;
                let mut cuts = vec![split(&inputs, total, total / 8, 8)];
                let mut bounds: Vec<Vec<u8>> = (0..rng.range(1, 6))
                    .map(|_| format!("k{:04}", rng.below(320)).into_bytes())
                    .collect();
                if rng.below(2) == 0 {
                    bounds.push(b"k0150x".to_vec());
                }
                bounds.sort();
                bounds.dedup();
                cuts.push(ranges(bounds));
                for shares in cuts {
                    assert!(shares.len() > 1, "seed {seed}: nothing was split");
                    let mut joined = Vec::new();
                    for range in shares.clone() {
                        let part =
                            merged(&inputs, range.clone(), &snapshots, drop_tombstones).await;
                        for (k, _) in &part {
                            let user = key::user_key(k);
                            assert!(range.lo.as_deref().is_none_or(|lo| user >= lo));
                            assert!(range.hi.as_deref().is_none_or(|hi| user < hi));
                        }
                        joined.extend(part);
                    }
                    assert_eq!(joined, whole, "seed {seed}, shares {shares:?}");
                }
            }
        });
    }

    #[test]
    fn a_partition_splits_l0_merges_and_reads_back() {
        use crate::db::test_hooks::flush_only;
        use crate::{Db, Options, SyncPolicy};
        let dir = TempDir::new("subcompaction-db");
        let opts = Options {
            sync: SyncPolicy::No,
            memtable_bytes: 256 << 10,
            target_file_size: 64 << 10,
            max_subcompactions: 4,
            ..Options::default()
        };
        runtime().block_on(async {
            let db = Db::open(dir.path(), opts.clone()).await.unwrap();
            let mut rng = Rng::new(11);
            let mut model = BTreeMap::new();
            for round in 0..4u64 {
                for _ in 0..2_000 {
                    let k = format!("key{:05}", rng.below(5_000)).into_bytes();
                    if rng.below(8) == 0 {
                        db.delete(&k).await.unwrap();
                        model.remove(&k);
                    } else {
                        let v = format!("{round}-{}", rng.next_u64()).into_bytes();
                        db.put(&k, &v).await.unwrap();
                        model.insert(k, v);
                    }
                }
                flush_only(&db).await;
            }
            db.flush().await.unwrap();
            let m = db.metrics();
            assert!(m.subcompactions > 1, "{m:?}");
            let want: Entries = model.clone().into_iter().collect();
            assert_eq!(db.scan(..).collect().await.unwrap(), want);
            db.close().await.unwrap();
            let db = Db::open(dir.path(), opts).await.unwrap();
            assert_eq!(db.scan(..).collect().await.unwrap(), want);
            db.close().await.unwrap();
        });
    }

    #[test]
    fn small_merges_are_not_split() {
        assert_eq!(split(&[], 10 << 20, 8 << 20, 4), vec![KeyRange::default()]);
        assert_eq!(split(&[], 1 << 30, 8 << 20, 1), vec![KeyRange::default()]);
    }
}
