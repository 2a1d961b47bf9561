use std::collections::HashSet;

use super::*;
use crate::key::{internal_key, Kind};

const MIB: u64 = 1 << 20;

fn table(id: u64, level: u8, size: u64, lo: &str, hi: &str) -> TableMeta {
    TableMeta {
        id,
        level,
        size,
        smallest: internal_key(lo.as_bytes(), 100 + id, Kind::Put),
        largest: internal_key(hi.as_bytes(), id, Kind::Delete),
        min_seqno: id,
        max_seqno: 100 + id,
        entries: size / 100,
    }
}

fn levels(levels: Vec<Vec<TableMeta>>) -> Levels {
    Levels { levels }
}

fn idle() -> HashSet<u64> {
    HashSet::new()
}

fn merge(inputs: &[(u8, u64)], output_level: u8, drop_tombstones: bool) -> Choice {
    Choice::Merge {
        inputs: inputs.to_vec(),
        output_level,
        drop_tombstones,
    }
}

#[test]
fn empty_table_set_does_nothing() {
    let cfg = PolicyConfig::default();
    assert_eq!(choose(&Levels::default(), &cfg, &idle()), Choice::DoNothing);
    let empty = levels(vec![Vec::new(); 7]);
    assert_eq!(choose(&empty, &cfg, &idle()), Choice::DoNothing);
}

#[test]
fn l0_below_trigger_does_nothing() {
    let l0 = (1..=3).rev().map(|i| table(i, 0, MIB, "a", "z")).collect();
    let set = levels(vec![l0]);
    assert_eq!(
        choose(&set, &PolicyConfig::default(), &idle()),
        Choice::DoNothing
    );
}

#[test]
fn four_l0_files_merge_into_l1_with_overlapping_l1_tables() {
    let set = levels(vec![
        vec![
            table(4, 0, MIB, "d", "f"),
            table(3, 0, MIB, "c", "e"),
            table(2, 0, MIB, "b", "d"),
            table(1, 0, MIB, "a", "c"),
        ],
        vec![
            table(10, 1, MIB, "a", "b"),
            table(11, 1, MIB, "e", "g"),
            table(12, 1, MIB, "x", "z"),
        ],
    ]);
    assert_eq!(
        choose(&set, &PolicyConfig::default(), &idle()),
        merge(&[(0, 4), (0, 3), (0, 2), (0, 1), (1, 10), (1, 11)], 1, true)
    );
}

#[test]
fn l0_merge_takes_transitive_overlaps_and_leaves_disjoint_tables() {
    // 3 overlaps 2 overlaps 1, but 3 and 1 do not overlap; 4 is apart.
    let set = levels(vec![vec![
        table(4, 0, MIB, "x", "z"),
        table(3, 0, MIB, "e", "g"),
        table(2, 0, MIB, "c", "e"),
        table(1, 0, MIB, "a", "c"),
    ]]);
    assert_eq!(
        choose(&set, &PolicyConfig::default(), &idle()),
        merge(&[(0, 3), (0, 2), (0, 1)], 1, true)
    );
}

#[test]
fn lone_l0_table_without_l1_overlap_moves() {
    let set = levels(vec![
        vec![
            table(4, 0, MIB, "m", "n"),
            table(3, 0, MIB, "j", "k"),
            table(2, 0, MIB, "g", "h"),
            table(1, 0, MIB, "a", "b"),
        ],
        vec![table(10, 1, MIB, "c", "d")],
    ]);
    assert_eq!(
        choose(&set, &PolicyConfig::default(), &idle()),
        Choice::Move {
            table: 1,
            from: 0,
            to: 1
        }
    );
}

#[test]
fn non_overlapping_l1_table_with_nothing_below_moves() {
    let set = levels(vec![
        vec![],
        vec![table(10, 1, 70 * MIB, "a", "f")],
        vec![table(20, 2, MIB, "g", "k")],
    ]);
    assert_eq!(
        choose(&set, &PolicyConfig::default(), &idle()),
        Choice::Move {
            table: 10,
            from: 1,
            to: 2
        }
    );
}

#[test]
fn oversized_l1_merges_its_largest_table_with_overlapping_l2_tables() {
    let set = levels(vec![
        vec![],
        vec![
            table(10, 1, 30 * MIB, "a", "c"),
            table(11, 1, 40 * MIB, "d", "h"),
        ],
        vec![
            table(20, 2, MIB, "a", "b"),
            table(21, 2, MIB, "c", "e"),
            table(22, 2, MIB, "f", "j"),
            table(23, 2, MIB, "k", "m"),
        ],
    ]);
    assert_eq!(
        choose(&set, &PolicyConfig::default(), &idle()),
        merge(&[(1, 11), (2, 21), (2, 22)], 2, true)
    );
}

#[test]
fn equal_sized_candidates_tie_break_on_smallest_key() {
    let set = levels(vec![
        vec![],
        vec![
            table(11, 1, 40 * MIB, "d", "h"),
            table(10, 1, 40 * MIB, "a", "c"),
        ],
        vec![table(20, 2, MIB, "a", "b")],
    ]);
    assert_eq!(
        choose(&set, &PolicyConfig::default(), &idle()),
        merge(&[(1, 10), (2, 20)], 2, true)
    );
}

#[test]
fn highest_score_wins_over_l0() {
    // L0 scores 1.0, L2 scores 3.0.
    let cfg = PolicyConfig::default();
    let l0 = (1..=4).rev().map(|i| table(i, 0, MIB, "a", "b")).collect();
    let set = levels(vec![
        l0,
        vec![],
        vec![table(20, 2, 3 * cfg.level_target(2), "p", "q")],
    ]);
    assert_eq!(cfg.level_target(2), 640 * MIB);
    assert_eq!(
        choose(&set, &cfg, &idle()),
        Choice::Move {
            table: 20,
            from: 2,
            to: 3
        }
    );
}

#[test]
fn bottom_level_is_never_compacted() {
    let cfg = PolicyConfig {
        max_levels: 3,
        ..PolicyConfig::default()
    };
    let set = levels(vec![
        vec![],
        vec![],
        vec![table(20, 2, 100 * cfg.level_target(2), "a", "z")],
    ]);
    assert_eq!(choose(&set, &cfg, &idle()), Choice::DoNothing);
}

#[test]
fn busy_inputs_are_skipped_for_the_next_candidate() {
    let set = levels(vec![
        vec![],
        vec![
            table(10, 1, 30 * MIB, "a", "c"),
            table(11, 1, 40 * MIB, "d", "h"),
        ],
        vec![table(20, 2, MIB, "a", "b"), table(21, 2, MIB, "e", "f")],
    ]);
    let cfg = PolicyConfig::default();
    // The largest L1 table is busy: its bytes do not count, so L1 is under
    // target.
    assert_eq!(choose(&set, &cfg, &HashSet::from([11])), Choice::DoNothing);
    // An L2 table under the largest candidate is busy: take the next one.
    let mut bigger = set.clone();
    bigger.levels[1][0].size = 35 * MIB;
    assert_eq!(
        choose(&bigger, &cfg, &HashSet::from([21])),
        merge(&[(1, 10), (2, 20)], 2, true)
    );
    // Everything under both candidates is busy.
    assert_eq!(
        choose(&bigger, &cfg, &HashSet::from([20, 21])),
        Choice::DoNothing
    );
}

#[test]
fn busy_l0_tables_block_their_whole_overlap_group() {
    let l0 = vec![
        table(5, 0, MIB, "a", "b"),
        table(4, 0, MIB, "a", "b"),
        table(3, 0, MIB, "a", "b"),
        table(2, 0, MIB, "a", "b"),
        table(1, 0, MIB, "a", "b"),
    ];
    let set = levels(vec![l0]);
    let cfg = PolicyConfig::default();
    // Four idle files score 1.0, but they overlap the busy one.
    assert_eq!(choose(&set, &cfg, &HashSet::from([1])), Choice::DoNothing);
}

#[test]
fn drop_tombstones_only_when_nothing_lies_below_the_output() {
    let cfg = PolicyConfig::default();
    let with_l3 = |lo: &str, hi: &str| {
        levels(vec![
            vec![],
            vec![table(10, 1, 70 * MIB, "d", "h")],
            vec![table(20, 2, MIB, "c", "e"), table(21, 2, MIB, "f", "j")],
            vec![table(30, 3, MIB, lo, hi)],
        ])
    };
    // L3 overlaps the job's widened range [c, j] (but not the L1 table).
    assert_eq!(
        choose(&with_l3("i", "k"), &cfg, &idle()),
        merge(&[(1, 10), (2, 20), (2, 21)], 2, false)
    );
    assert_eq!(
        choose(&with_l3("k", "m"), &cfg, &idle()),
        merge(&[(1, 10), (2, 20), (2, 21)], 2, true)
    );
}

#[test]
fn overlapping_bounds_are_inclusive() {
    let level = vec![
        table(1, 1, MIB, "a", "c"),
        table(2, 1, MIB, "d", "f"),
        table(3, 1, MIB, "g", "i"),
    ];
    let ids = |lo: &str, hi: &str| -> Vec<u64> {
        overlapping(&level, lo.as_bytes(), hi.as_bytes())
            .iter()
            .map(|t| t.id)
            .collect()
    };
    assert_eq!(ids("c", "d"), vec![1, 2]);
    assert_eq!(ids("ca", "cz"), Vec::<u64>::new());
    assert_eq!(ids("a", "z"), vec![1, 2, 3]);
    assert_eq!(ids("i", "i"), vec![3]);
}

#[test]
fn write_pressure_follows_the_documented_ramp() {
    let cfg = PolicyConfig::default();
    let at = |l0: usize, imm: usize| {
        let set = levels(vec![(0..l0 as u64)
            .map(|i| table(i, 0, 1, "a", "b"))
            .collect()]);
        write_pressure(&set, imm, &cfg)
    };
    let slow = |delay_micros| Pressure::Slowdown { delay_micros };
    assert_eq!(at(0, 0), Pressure::None);
    assert_eq!(at(7, 1), Pressure::None);
    assert_eq!(at(8, 0), slow(1_000));
    assert_eq!(at(11, 0), slow(4_000));
    assert_eq!(at(12, 0), Pressure::Stop);
    assert_eq!(at(0, 2), slow(2_000));
    assert_eq!(at(9, 2), slow(2_000));
    assert_eq!(at(0, 3), slow(4_000));
    assert_eq!(at(0, 4), Pressure::Stop);
}

#[test]
fn write_pressure_is_monotonic() {
    for cfg in [
        PolicyConfig::default(),
        PolicyConfig {
            l0_slowdown: 5,
            l0_stop: 40,
            ..PolicyConfig::default()
        },
        PolicyConfig {
            l0_slowdown: 10,
            l0_stop: 10,
            ..PolicyConfig::default()
        },
    ] {
        for imm in 0..6 {
            let mut previous = Pressure::None;
            for l0 in 0..45u64 {
                let set = levels(vec![(0..l0).map(|i| table(i, 0, 1, "a", "b")).collect()]);
                let now = write_pressure(&set, imm, &cfg);
                assert!(now >= previous, "{cfg:?} imm={imm} l0={l0}");
                if imm > 0 {
                    assert!(now >= write_pressure(&set, imm - 1, &cfg));
                }
                previous = now;
            }
            assert_eq!(previous, Pressure::Stop);
        }
    }
}

#[test]
fn compact_range_merges_everything_touching_the_range_to_the_deepest_level() {
    let cfg = PolicyConfig::default();
    let set = levels(vec![
        vec![table(2, 0, MIB, "a", "c"), table(1, 0, MIB, "x", "y")],
        vec![table(10, 1, MIB, "c", "f"), table(11, 1, MIB, "m", "n")],
        vec![table(20, 2, MIB, "e", "h"), table(21, 2, MIB, "p", "q")],
        vec![table(30, 3, MIB, "s", "t")],
    ]);
    // [b, d] widens through L1 (c..f) and L2 (e..h); m..n and beyond stay.
    assert_eq!(
        compact_range(&set, b"b", b"d", &cfg),
        vec![merge(&[(0, 2), (1, 10), (2, 20)], 2, true)]
    );
    // Two disjoint groups under one range, one job each, in key order; the
    // lone L0 table x..y goes to L1 and a lone bottom table is rewritten.
    assert_eq!(
        compact_range(&set, b"n", b"x", &cfg),
        vec![
            merge(&[(1, 11)], 1, true),
            merge(&[(2, 21)], 2, true),
            merge(&[(3, 30)], 3, true),
            merge(&[(0, 1)], 1, true),
        ]
    );
    assert_eq!(compact_range(&set, b"i", b"l", &cfg), Vec::new());
    assert_eq!(compact_range(&set, b"z", b"a", &cfg), Vec::new());
}
