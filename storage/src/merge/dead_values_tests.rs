//! Rule 5 of `CompactionIter`: values a `DeadValues` declares dead.

use std::collections::HashMap;
use std::ops::Bound;

use super::tests::{del, drain, merged, pairs, put, put_expiring, versions, visible};
use super::*;
use crate::key::{internal_key, Kind, SeqNo, MAX_SEQNO};

/// Declares user keys dead since a seqno, and records what it was asked.
#[derive(Debug, Default)]
struct Deaths {
    since: HashMap<&'static str, SeqNo>,
    asked: Vec<(String, String)>,
}

impl Deaths {
    fn new(since: &[(&'static str, SeqNo)]) -> Deaths {
        Deaths {
            since: since.iter().copied().collect(),
            asked: Vec::new(),
        }
    }
}

impl DeadValues for &mut Deaths {
    fn dead_since(&mut self, user_key: &[u8], value: &[u8]) -> Option<SeqNo> {
        let user_key = String::from_utf8_lossy(user_key).into_owned();
        let since = self.since.get(user_key.as_str()).copied();
        self.asked
            .push((user_key, String::from_utf8_lossy(value).into_owned()));
        since
    }
}

type Source = Vec<(Vec<u8>, Vec<u8>)>;

/// Compacts `source`, returning the output and how many were filtered.
fn compact(
    source: &Source,
    snapshots: Vec<SeqNo>,
    drop_tombstones: bool,
    deaths: &mut Deaths,
) -> (Source, u64) {
    let mut compacted = CompactionIter::with_dead_values(
        merged(vec![source.clone()]),
        snapshots,
        drop_tombstones,
        100,
        deaths,
    );
    let out = drain(&mut compacted);
    (out, compacted.filtered())
}

#[test]
fn dead_newest_versions_become_tombstones_that_hide_older_ones() {
    let source = vec![
        put("a", 5, "a5"),
        put("a", 2, "a2"),
        put("b", 4, "b4"),
        put("c", 3, "c3"),
    ];
    let mut deaths = Deaths::new(&[("a", 7), ("c", 3)]);
    let (out, filtered) = compact(&source, vec![], false, &mut deaths);
    assert_eq!(
        versions(&out),
        vec![
            ("a".into(), 5, Kind::Delete),
            ("b".into(), 4, Kind::Put),
            ("c".into(), 3, Kind::Delete),
        ]
    );
    assert_eq!(filtered, 2);
    // Only the newest version of each key is asked about, with its value.
    assert_eq!(
        deaths.asked,
        pairs(&[("a", "a5"), ("b", "b4"), ("c", "c3")])
    );

    // Not at the bottom, an older version below must stay hidden.
    let lower = vec![put("a", 1, "a1"), put("c", 1, "c1")];
    let view = VisibleIter::new(merged(vec![out, lower]), MAX_SEQNO, 100, Bound::Unbounded);
    assert_eq!(visible(view), pairs(&[("b", "b4")]));

    // At the bottom, the tombstones go too.
    let (out, filtered) = compact(
        &source,
        vec![],
        true,
        &mut Deaths::new(&[("a", 7), ("c", 3)]),
    );
    assert_eq!(versions(&out), vec![("b".into(), 4, Kind::Put)]);
    assert_eq!(filtered, 2);
}

#[test]
fn a_snapshot_that_sees_the_version_before_its_death_keeps_it() {
    let source = vec![put("a", 5, "a5"), put("a", 2, "a2")];
    let run = |snapshots: Vec<SeqNo>, drop| {
        let (out, filtered) = compact(&source, snapshots, drop, &mut Deaths::new(&[("a", 8)]));
        (versions(&out), filtered)
    };
    // Snapshots at 5 and 7 see a5 and not yet what killed it at 8.
    for s in [5, 7] {
        assert_eq!(
            run(vec![s], true),
            (vec![("a".into(), 5, Kind::Put)], 0),
            "snapshot {s}"
        );
    }
    // A snapshot at 8 or later sees the death.
    assert_eq!(run(vec![8], true), (vec![], 1));
    assert_eq!(
        run(vec![20], false),
        (vec![("a".into(), 5, Kind::Delete)], 1)
    );
    // A snapshot below the version never saw it; it keeps a2, and the
    // tombstone stays above a2 even at the bottom.
    let (out, filtered) = compact(&source, vec![3], true, &mut Deaths::new(&[("a", 8)]));
    assert_eq!(
        versions(&out),
        vec![("a".into(), 5, Kind::Delete), ("a".into(), 2, Kind::Put)]
    );
    assert_eq!(filtered, 1);
    let at = |snapshot| {
        visible(VisibleIter::new(
            merged(vec![out.clone()]),
            snapshot,
            100,
            Bound::Unbounded,
        ))
    };
    assert_eq!(at(3), pairs(&[("a", "a2")]));
    assert_eq!(at(MAX_SEQNO), pairs(&[]));
}

#[test]
fn tombstones_expired_values_and_malformed_entries_are_not_offered() {
    let bad_kind = {
        let mut k = b"f".to_vec();
        k.extend_from_slice(&((3u64 << 8) | 7).to_be_bytes());
        (k, b"x".to_vec())
    };
    let bad_value = (internal_key(b"g", 2, Kind::Put), vec![1, 0]);
    let source = vec![
        del("d", 6),
        put("d", 3, "d3"),
        put_expiring("e", 5, "e5", Some(100)),
        bad_kind.clone(),
        put("f", 2, "f2"),
        bad_value.clone(),
    ];
    let mut deaths = Deaths::new(&[("d", 1), ("e", 1), ("f", 1), ("g", 1)]);
    let (out, filtered) = compact(&source, vec![], false, &mut deaths);
    // f's newest well-formed version is the one asked about.
    assert_eq!(deaths.asked, pairs(&[("f", "f2")]));
    assert_eq!(filtered, 1);
    assert_eq!(
        out,
        vec![
            del("d", 6),
            (internal_key(b"e", 5, Kind::Delete), Vec::new()),
            bad_kind,
            (internal_key(b"f", 2, Kind::Delete), Vec::new()),
            bad_value,
        ]
    );
}
