//! Randomized model tests: the iterators against a plain `BTreeMap` model.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::*;
use crate::key::{encode_value, internal_key, split_internal_key, Kind, MAX_SEQNO};
use crate::test_rng::Rng;

#[derive(Debug, Clone)]
struct Op {
    key: Vec<u8>,
    seqno: u64,
    /// `None` for a delete.
    put: Option<(Vec<u8>, Option<u64>)>,
}

type Entry = (Vec<u8>, Vec<u8>);
/// user key -> (value, expires_at)
type View = Vec<(Vec<u8>, Vec<u8>, Option<u64>)>;

impl Op {
    fn entry(&self) -> Entry {
        match &self.put {
            Some((value, expires_at)) => {
                let mut field = Vec::new();
                encode_value(*expires_at, value, &mut field);
                (internal_key(&self.key, self.seqno, Kind::Put), field)
            }
            None => (
                internal_key(&self.key, self.seqno, Kind::Delete),
                Vec::new(),
            ),
        }
    }
}

/// Keys of 1..=3 bytes over {0x00, 'a', 0xff}: plenty of prefixes and
/// extreme bytes next to the trailer.
fn random_key(rng: &mut Rng) -> Vec<u8> {
    let len = rng.range(1, 3);
    (0..len)
        .map(|_| [0x00, b'a', 0xff][rng.below(3) as usize])
        .collect()
}

/// Operations with strictly increasing (gappy) seqnos.
fn random_ops(rng: &mut Rng) -> Vec<Op> {
    let mut seqno = 0;
    (0..rng.range(0, 150))
        .map(|_| {
            seqno += rng.range(1, 2);
            let put = match rng.below(100) {
                0..=19 => None,
                20..=44 => Some((seqno.to_string().into_bytes(), Some(rng.range(1, 100)))),
                _ => Some((seqno.to_string().into_bytes(), None)),
            };
            Op {
                key: random_key(rng),
                seqno,
                put,
            }
        })
        .collect()
}

/// The model: for each key the newest op at or below `snapshot`, shown if
/// it is a put that has not expired at `now_ms`.
fn model(ops: &[Op], snapshot: u64, now_ms: u64) -> BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)> {
    let mut newest: BTreeMap<&[u8], &Op> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.seqno <= snapshot) {
        let slot = newest.entry(&op.key).or_insert(op);
        if op.seqno > slot.seqno {
            *slot = op;
        }
    }
    newest
        .into_iter()
        .filter_map(|(key, op)| {
            let (value, expires_at) = op.put.clone()?;
            let live = expires_at.is_none_or(|t| t > now_ms);
            live.then(|| (key.to_vec(), (value, expires_at)))
        })
        .collect()
}

fn flatten(model: impl IntoIterator<Item = (Vec<u8>, (Vec<u8>, Option<u64>))>) -> View {
    model.into_iter().map(|(k, (v, e))| (k, v, e)).collect()
}

fn scan<I: EntryIter>(view: &mut VisibleIter<I>) -> View {
    let mut out = Vec::new();
    while view.valid() {
        out.push((
            view.key().to_vec(),
            view.value().to_vec(),
            view.expires_at(),
        ));
        view.next();
    }
    out
}

fn read(
    sources: &[VecIter],
    snapshot: u64,
    now_ms: u64,
    upper: Bound<Vec<u8>>,
) -> VisibleIter<MergingIter<VecIter>> {
    VisibleIter::new(MergingIter::new(sources.to_vec()), snapshot, now_ms, upper)
}

#[test]
fn visible_iter_matches_the_model_at_random_snapshots_and_times() {
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let ops = random_ops(&mut rng);
        let source_count = rng.range(1, 5) as usize;
        let mut sources: Vec<Vec<Entry>> = vec![Vec::new(); source_count];
        for op in &ops {
            sources[rng.below(source_count as u64) as usize].push(op.entry());
            if rng.below(100) < 5 {
                // The same version in a second source (e.g. replayed WAL).
                sources[rng.below(source_count as u64) as usize].push(op.entry());
            }
        }
        let sources: Vec<VecIter> = sources.into_iter().map(VecIter::new).collect();
        let top = ops.last().map_or(0, |op| op.seqno);
        for _ in 0..8 {
            let snapshot = match rng.below(4) {
                0 => MAX_SEQNO,
                _ => rng.range(0, top + 1),
            };
            let now = rng.range(0, 110);
            let expected = model(&ops, snapshot, now);
            let mut view = read(&sources, snapshot, now, Bound::Unbounded);
            assert_eq!(scan(&mut view), flatten(expected.clone()), "seed {seed}");
            assert_eq!(view.malformed(), 0);
            for _ in 0..4 {
                let start = random_key(&mut rng);
                let limit = random_key(&mut rng);
                let upper = match rng.below(3) {
                    0 => Bound::Unbounded,
                    1 => Bound::Included(limit),
                    _ => Bound::Excluded(limit),
                };
                let mut view = read(&sources, snapshot, now, upper.clone());
                view.seek(&start);
                let want: View = match (Bound::Included(start.clone()), upper) {
                    (lo, Bound::Included(hi) | Bound::Excluded(hi)) if hi < start => {
                        let _ = lo;
                        Vec::new()
                    }
                    range => flatten(expected.range(range).map(|(k, v)| (k.clone(), v.clone()))),
                };
                assert_eq!(scan(&mut view), want, "seed {seed} seek {start:?}");
            }
        }
    }
}

#[test]
fn compaction_keeps_every_live_snapshot_view() {
    for seed in 0..400 {
        let mut rng = Rng::new(seed);
        let ops = random_ops(&mut rng);
        let top = ops.last().map_or(0, |op| op.seqno);
        // LSM-shaped sources: contiguous seqno ranges, newest source first.
        let source_count = rng.range(1, 5) as usize;
        let mut cuts: Vec<usize> = (1..source_count)
            .map(|_| rng.below(ops.len() as u64 + 1) as usize)
            .collect();
        cuts.push(0);
        cuts.push(ops.len());
        cuts.sort_unstable();
        let sources: Vec<VecIter> = cuts
            .windows(2)
            .rev()
            .map(|w| VecIter::new(ops[w[0]..w[1]].iter().map(Op::entry).collect()))
            .collect();
        let snapshots: Vec<u64> = (0..rng.below(4)).map(|_| rng.range(0, top + 1)).collect();
        let now = rng.range(0, 100);
        let first = rng.below(source_count as u64) as usize;
        let last = rng.range(first as u64, source_count as u64 - 1) as usize;
        let drop_tombstones = last == source_count - 1 && rng.below(100) < 70;

        let inputs = MergingIter::new(sources[first..=last].to_vec());
        let mut compaction = CompactionIter::new(inputs, snapshots.clone(), drop_tombstones, now);
        let mut output = Vec::new();
        while compaction.valid() {
            output.push((compaction.key().to_vec(), compaction.value().to_vec()));
            compaction.next();
        }
        let compacted = VecIter::new(output.clone());
        assert_eq!(
            compacted.entries(),
            output.as_slice(),
            "seed {seed}: output unsorted"
        );
        let mut per_key: BTreeMap<&[u8], usize> = BTreeMap::new();
        for (ikey, _) in &output {
            let (user_key, _, _) = split_internal_key(ikey).expect("well-formed");
            *per_key.entry(user_key).or_default() += 1;
        }
        assert!(
            per_key.values().all(|&n| n <= snapshots.len() + 1),
            "seed {seed}"
        );

        let mut after = sources[..first].to_vec();
        after.push(compacted);
        after.extend_from_slice(&sources[last + 1..]);
        for &snapshot in snapshots.iter().chain([MAX_SEQNO].iter()) {
            for now_read in [now, now + rng.range(0, 20), 200] {
                let expected = flatten(model(&ops, snapshot, now_read));
                let before = scan(&mut read(&sources, snapshot, now_read, Bound::Unbounded));
                let got = scan(&mut read(&after, snapshot, now_read, Bound::Unbounded));
                assert_eq!(before, expected, "seed {seed}");
                assert_eq!(
                    got, expected,
                    "seed {seed} snapshot {snapshot} now {now_read}"
                );
            }
        }

        // A full bottom compaction with no snapshot leaves exactly the live
        // keys, one version each, no tombstones.
        if first == 0 && drop_tombstones && snapshots.is_empty() {
            let live = flatten(model(&ops, MAX_SEQNO, now));
            assert_eq!(output.len(), live.len(), "seed {seed}");
            for ((ikey, _), (key, _, _)) in output.iter().zip(&live) {
                assert_eq!(
                    split_internal_key(ikey).map(|(k, _, kind)| (k, kind)),
                    Some((key.as_slice(), Kind::Put))
                );
            }
        }
    }
}
