//! Randomized property test: drive the policy against a simulated LSM that
//! tracks real keys and sequence numbers, with jobs in flight concurrently.

use std::collections::{BTreeMap, HashSet};

use super::*;
use crate::key::{internal_key, Kind};
use crate::test_rng::Rng;

const ENTRY_BYTES: u64 = 1_000;
const KEYSPACE: u64 = 5_000;

fn config() -> PolicyConfig {
    PolicyConfig {
        l0_compaction_trigger: 4,
        l0_slowdown: 8,
        l0_stop: 12,
        level_base_bytes: 200 * ENTRY_BYTES,
        level_multiplier: 4,
        max_levels: 5,
        target_file_size: 50 * ENTRY_BYTES,
    }
}

struct SimTable {
    meta: TableMeta,
    /// user key -> sequence number of its one version in this table.
    keys: BTreeMap<u64, u64>,
}

struct Sim {
    cfg: PolicyConfig,
    levels: Vec<Vec<SimTable>>,
    /// Newest sequence number per user key ever written.
    model: BTreeMap<u64, u64>,
    next_id: u64,
    next_seqno: u64,
}

impl Sim {
    fn new(cfg: PolicyConfig) -> Sim {
        let levels = (0..cfg.max_levels).map(|_| Vec::new()).collect();
        Sim {
            cfg,
            levels,
            model: BTreeMap::new(),
            next_id: 1,
            next_seqno: 1,
        }
    }

    fn view(&self) -> Levels {
        Levels {
            levels: self
                .levels
                .iter()
                .map(|l| l.iter().map(|t| t.meta.clone()).collect())
                .collect(),
        }
    }

    fn table(&mut self, level: u8, keys: BTreeMap<u64, u64>) -> SimTable {
        let id = self.next_id;
        self.next_id += 1;
        let (lo, lo_seq) = keys.first_key_value().map(|(k, s)| (*k, *s)).unwrap();
        let (hi, hi_seq) = keys.last_key_value().map(|(k, s)| (*k, *s)).unwrap();
        let meta = TableMeta {
            id,
            level,
            size: keys.len() as u64 * ENTRY_BYTES,
            smallest: internal_key(&lo.to_be_bytes(), lo_seq, Kind::Put),
            largest: internal_key(&hi.to_be_bytes(), hi_seq, Kind::Put),
            min_seqno: *keys.values().min().unwrap(),
            max_seqno: *keys.values().max().unwrap(),
            entries: keys.len() as u64,
        };
        SimTable { meta, keys }
    }

    fn flush(&mut self, rng: &mut Rng) {
        let lo = rng.below(KEYSPACE);
        let span = rng.range(10, 1_500);
        let mut keys = BTreeMap::new();
        for _ in 0..rng.range(5, 100) {
            let key = (lo + rng.below(span)).min(KEYSPACE - 1);
            keys.insert(key, self.next_seqno);
            self.model.insert(key, self.next_seqno);
            self.next_seqno += 1;
        }
        let table = self.table(0, keys);
        self.levels[0].insert(0, table);
    }

    fn take(&mut self, level: u8, id: u64) -> SimTable {
        let tables = &mut self.levels[level as usize];
        let at = tables.iter().position(|t| t.meta.id == id);
        tables.remove(at.unwrap_or_else(|| panic!("table {id} not in L{level}")))
    }

    fn place(&mut self, table: SimTable) {
        let level = table.meta.level as usize;
        assert!(level >= 1, "jobs never write L0");
        let tables = &mut self.levels[level];
        let at = tables.partition_point(|t| t.meta.user_range().lo < table.meta.user_range().lo);
        tables.insert(at, table);
    }

    fn apply(&mut self, choice: &Choice) {
        match *choice {
            Choice::DoNothing => {}
            Choice::Move { table, from, to } => {
                let mut moved = self.take(from, table);
                let range = moved.meta.user_range();
                let view = self.view();
                assert!(overlapping(view.level(to as usize), range.lo, range.hi).is_empty());
                moved.meta.level = to;
                self.place(moved);
            }
            Choice::Merge {
                ref inputs,
                output_level,
                drop_tombstones,
            } => {
                let mut merged: BTreeMap<u64, u64> = BTreeMap::new();
                for &(level, id) in inputs {
                    for (k, s) in self.take(level, id).keys {
                        let newest = merged.entry(k).or_insert(s);
                        *newest = (*newest).max(s);
                    }
                }
                if drop_tombstones {
                    let (lo, hi) = (merged.keys().next(), merged.keys().last());
                    let (lo, hi) = (lo.unwrap().to_be_bytes(), hi.unwrap().to_be_bytes());
                    for below in &self.levels[output_level as usize + 1..] {
                        assert!(below.iter().all(|t| {
                            let r = t.meta.user_range();
                            !(r.lo <= &hi[..] && &lo[..] <= r.hi)
                        }));
                    }
                }
                let per_file = (self.cfg.target_file_size / ENTRY_BYTES) as usize;
                let entries: Vec<(u64, u64)> = merged.into_iter().collect();
                for chunk in entries.chunks(per_file) {
                    let table = self.table(output_level, chunk.iter().copied().collect());
                    self.place(table);
                }
            }
        }
    }

    /// Checks a fresh choice against the table set it was chosen from.
    fn check_choice(&self, choice: &Choice, busy: &HashSet<u64>, automatic: bool) {
        let view = self.view();
        match choice {
            Choice::DoNothing => {}
            Choice::Move { table, from, to } => {
                assert!(!busy.contains(table));
                assert_eq!(*to, from + 1);
            }
            Choice::Merge {
                inputs,
                output_level,
                drop_tombstones,
            } => {
                let mut hull: Option<UserRange<'_>> = None;
                for (level, id) in inputs {
                    assert!(!busy.contains(id), "busy table {id} chosen");
                    if automatic {
                        assert!(*level == output_level - 1 || level == output_level);
                    }
                    assert!(level <= output_level);
                    let t = view.level(*level as usize).iter().find(|t| t.id == *id);
                    let range = t.expect("input exists").user_range();
                    hull = Some(hull.map_or(range, |h| h.union(range)));
                }
                let hull = hull.expect("merge has inputs");
                let below = view.levels[*output_level as usize + 1..]
                    .iter()
                    .any(|l| !overlapping(l, hull.lo, hull.hi).is_empty());
                assert_eq!(*drop_tombstones, !below);
            }
        }
    }

    fn check_invariants(&self) {
        for (level, tables) in self.levels.iter().enumerate() {
            for t in tables {
                assert_eq!(t.meta.level as usize, level);
            }
            if level == 0 {
                for pair in tables.windows(2) {
                    assert!(pair[0].meta.max_seqno > pair[1].meta.max_seqno);
                }
            } else {
                for pair in tables.windows(2) {
                    let (a, b) = (pair[0].meta.user_range(), pair[1].meta.user_range());
                    assert!(a.hi < b.lo, "L{level} tables overlap");
                }
            }
        }
        // Reading top-down (L0 newest first), every key's versions must get
        // strictly older, and the first one found is the newest written.
        let mut seen = vec![0u64; KEYSPACE as usize];
        for t in self.levels.iter().flatten() {
            for (&k, &s) in &t.keys {
                let newer = seen[k as usize];
                if newer == 0 {
                    assert_eq!(self.model.get(&k), Some(&s), "key {k}");
                } else {
                    assert!(s < newer, "key {k}: {s} under {newer}");
                }
                seen[k as usize] = s;
            }
        }
        assert_eq!(seen.iter().filter(|&&s| s != 0).count(), self.model.len());
    }

    fn all_levels_under_target(&self) -> bool {
        let view = self.view();
        view.level(0).len() < self.cfg.l0_compaction_trigger
            && (1..self.cfg.max_levels - 1).all(|n| {
                view.level(n).iter().map(|t| t.size).sum::<u64>() < self.cfg.level_target(n)
            })
    }
}

fn busy_ids(in_flight: &[Choice]) -> HashSet<u64> {
    let mut busy = HashSet::new();
    for choice in in_flight {
        match choice {
            Choice::DoNothing => {}
            Choice::Move { table, .. } => {
                busy.insert(*table);
            }
            Choice::Merge { inputs, .. } => busy.extend(inputs.iter().map(|(_, id)| *id)),
        }
    }
    busy
}

#[test]
fn random_workload_keeps_invariants_and_settles() {
    for seed in 1..=4 {
        let mut rng = Rng::new(seed);
        let mut sim = Sim::new(config());
        let mut in_flight: Vec<Choice> = Vec::new();
        let (mut flushes, mut jobs) = (0, 0);
        for _ in 0..2_500 {
            let roll = rng.below(100);
            if roll < 35 {
                let pressure = write_pressure(&sim.view(), 0, &sim.cfg);
                if pressure != Pressure::Stop {
                    sim.flush(&mut rng);
                    flushes += 1;
                }
            } else if roll < 70 {
                let busy = busy_ids(&in_flight);
                let choice = choose(&sim.view(), &sim.cfg, &busy);
                sim.check_choice(&choice, &busy, true);
                if choice != Choice::DoNothing {
                    in_flight.push(choice);
                    jobs += 1;
                }
            } else if !in_flight.is_empty() {
                let job = in_flight.swap_remove(rng.below(in_flight.len() as u64) as usize);
                sim.apply(&job);
                sim.check_invariants();
            }
        }
        for job in std::mem::take(&mut in_flight) {
            sim.apply(&job);
        }
        sim.check_invariants();
        let mut settled = false;
        for _ in 0..10_000 {
            let choice = choose(&sim.view(), &sim.cfg, &HashSet::new());
            sim.check_choice(&choice, &HashSet::new(), true);
            if choice == Choice::DoNothing {
                settled = true;
                break;
            }
            sim.apply(&choice);
            sim.check_invariants();
        }
        assert!(settled, "seed {seed}: policy did not settle");
        assert!(sim.all_levels_under_target(), "seed {seed}");
        assert!(flushes > 300 && jobs > 100, "seed {seed}: {flushes} {jobs}");
        assert!(
            sim.levels[3].len() + sim.levels[4].len() > 0,
            "seed {seed}: never deep"
        );
    }
}

#[test]
fn compact_range_over_everything_leaves_one_sorted_level_per_group() {
    let mut rng = Rng::new(99);
    let mut sim = Sim::new(config());
    for _ in 0..300 {
        sim.flush(&mut rng);
        let choice = choose(&sim.view(), &sim.cfg, &HashSet::new());
        sim.apply(&choice);
    }
    let plan = compact_range(&sim.view(), &[0; 8], &[0xff; 8], &sim.cfg);
    assert!(!plan.is_empty());
    for job in &plan {
        sim.check_choice(job, &HashSet::new(), false);
        sim.apply(job);
        sim.check_invariants();
    }
    // Every key now has exactly one version, and no table is in L0.
    assert!(sim.levels[0].is_empty());
    let versions: usize = sim.levels.iter().flatten().map(|t| t.keys.len()).sum();
    assert_eq!(versions, sim.model.len());
}
