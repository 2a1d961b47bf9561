use std::ops::Bound;

use super::*;
use crate::key::{decode_value, encode_value, internal_key, split_internal_key, Kind, MAX_SEQNO};

pub(super) fn put(user_key: &str, seqno: u64, value: &str) -> (Vec<u8>, Vec<u8>) {
    put_expiring(user_key, seqno, value, None)
}

pub(super) fn put_expiring(
    user_key: &str,
    seqno: u64,
    value: &str,
    expires_at: Option<u64>,
) -> (Vec<u8>, Vec<u8>) {
    let mut field = Vec::new();
    encode_value(expires_at, value.as_bytes(), &mut field);
    (internal_key(user_key.as_bytes(), seqno, Kind::Put), field)
}

pub(super) fn del(user_key: &str, seqno: u64) -> (Vec<u8>, Vec<u8>) {
    (
        internal_key(user_key.as_bytes(), seqno, Kind::Delete),
        Vec::new(),
    )
}

pub(super) fn merged(sources: Vec<Vec<(Vec<u8>, Vec<u8>)>>) -> MergingIter<VecIter> {
    MergingIter::new(sources.into_iter().map(VecIter::new).collect())
}

pub(super) fn drain(iter: &mut impl EntryIter) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    while iter.valid() {
        out.push((iter.key().to_vec(), iter.value().to_vec()));
        iter.next();
    }
    out
}

pub(super) fn visible<I: EntryIter>(mut view: VisibleIter<I>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while view.valid() {
        let key = String::from_utf8_lossy(view.key()).into_owned();
        out.push((key, String::from_utf8_lossy(view.value()).into_owned()));
        view.next();
    }
    out
}

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `(user key, seqno, kind)` of each output entry, for readable asserts.
pub(super) fn versions(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, u64, Kind)> {
    entries
        .iter()
        .map(|(k, _)| {
            let (user_key, seqno, kind) = split_internal_key(k).expect("well-formed");
            (String::from_utf8_lossy(user_key).into_owned(), seqno, kind)
        })
        .collect()
}

#[test]
fn merging_iter_orders_by_internal_key_and_puts_newer_sources_first_on_ties() {
    let mut iter = merged(vec![
        vec![put("b", 5, "new"), put("d", 1, "d")],
        vec![put("a", 2, "a"), put("b", 5, "old"), put("b", 7, "b7")],
        vec![],
    ]);
    let got = drain(&mut iter);
    let expected = vec![
        put("a", 2, "a"),
        put("b", 7, "b7"),
        put("b", 5, "new"),
        put("b", 5, "old"),
        put("d", 1, "d"),
    ];
    assert_eq!(got, expected);
    iter.seek(&internal_key(b"b", 6, Kind::Put));
    assert_eq!(iter.key(), internal_key(b"b", 5, Kind::Put).as_slice());
    assert_eq!(iter.current_source(), Some(0));
    iter.seek(&internal_key(b"e", MAX_SEQNO, Kind::Put));
    assert!(!iter.valid());
    assert_eq!(iter.key(), b"");
    iter.seek_to_first();
    assert_eq!(iter.key(), internal_key(b"a", 2, Kind::Put).as_slice());
}

#[test]
fn visible_iter_shows_newest_version_at_the_snapshot() {
    let sources = vec![
        vec![put("a", 9, "a9"), del("b", 8)],
        vec![put("a", 3, "a3"), put("b", 2, "b2"), put("c", 4, "c4")],
    ];
    let at = |snapshot| {
        visible(VisibleIter::new(
            merged(sources.clone()),
            snapshot,
            0,
            Bound::Unbounded,
        ))
    };
    assert_eq!(at(MAX_SEQNO), pairs(&[("a", "a9"), ("c", "c4")]));
    assert_eq!(at(7), pairs(&[("a", "a3"), ("b", "b2"), ("c", "c4")]));
    assert_eq!(at(3), pairs(&[("a", "a3"), ("b", "b2")]));
    assert_eq!(at(1), pairs(&[]));
    assert_eq!(at(u64::MAX), at(MAX_SEQNO));
}

#[test]
fn visible_iter_hides_expired_values_without_showing_older_ones() {
    let sources = vec![vec![
        put_expiring("a", 5, "a5", Some(100)),
        put("a", 1, "a1"),
        put_expiring("b", 2, "b2", Some(200)),
    ]];
    let at = |now| {
        visible(VisibleIter::new(
            merged(sources.clone()),
            MAX_SEQNO,
            now,
            Bound::Unbounded,
        ))
    };
    assert_eq!(at(99), pairs(&[("a", "a5"), ("b", "b2")]));
    assert_eq!(at(100), pairs(&[("b", "b2")]));
    assert_eq!(at(200), pairs(&[]));
    let view = VisibleIter::new(merged(sources.clone()), MAX_SEQNO, 0, Bound::Unbounded);
    assert_eq!(view.expires_at(), Some(100));
}

#[test]
fn visible_iter_seeks_and_stops_at_the_upper_bound() {
    let source = vec![
        put("a", 1, "a"),
        put("b", 2, "b"),
        del("c", 3),
        put("d", 4, "d"),
    ];
    let mut view = VisibleIter::new(
        merged(vec![source.clone()]),
        MAX_SEQNO,
        0,
        Bound::Excluded(b"d".to_vec()),
    );
    view.seek(b"bb");
    assert!(!view.valid(), "c is deleted and d is excluded");
    view.seek(b"b");
    assert_eq!(visible(view), pairs(&[("b", "b")]));
    let mut view = VisibleIter::new(
        merged(vec![source]),
        MAX_SEQNO,
        0,
        Bound::Included(b"d".to_vec()),
    );
    view.seek(b"c");
    assert_eq!(visible(view), pairs(&[("d", "d")]));
}

#[test]
fn malformed_entries_are_skipped_by_readers_and_kept_by_compaction() {
    let bad_kind = {
        let mut k = b"b".to_vec();
        k.extend_from_slice(&((3u64 << 8) | 7).to_be_bytes());
        k
    };
    let bad_value = (internal_key(b"c", 2, Kind::Put), vec![1, 0]);
    let source = vec![
        put("a", 1, "a"),
        (bad_kind.clone(), b"x".to_vec()),
        bad_value.clone(),
        put("d", 1, "d"),
    ];
    let view = VisibleIter::new(merged(vec![source.clone()]), MAX_SEQNO, 0, Bound::Unbounded);
    assert_eq!(visible(view), pairs(&[("a", "a"), ("d", "d")]));
    let mut compacted = CompactionIter::new(merged(vec![source.clone()]), vec![], true, 0);
    let out = drain(&mut compacted);
    assert_eq!(compacted.malformed(), 1);
    assert_eq!(out, VecIter::new(source).entries().to_vec());
}

#[test]
fn compaction_keeps_the_newest_version_per_snapshot_stripe() {
    let source = vec![
        put("a", 10, "a10"),
        put("a", 8, "a8"),
        put("a", 6, "a6"),
        put("a", 4, "a4"),
        put("a", 2, "a2"),
        put("b", 3, "b3"),
        put("b", 3, "b3-duplicate"),
    ];
    let mut compacted = CompactionIter::new(merged(vec![source]), vec![7, 4, 7], false, 0);
    let out = drain(&mut compacted);
    // Stripes: (..4] -> a4, (4, 7] -> a6, (7, ..) -> a10; one b3.
    assert_eq!(
        versions(&out),
        vec![
            ("a".into(), 10, Kind::Put),
            ("a".into(), 6, Kind::Put),
            ("a".into(), 4, Kind::Put),
            ("b".into(), 3, Kind::Put),
        ]
    );
    assert_eq!(decode_value(&out[3].1), Some((None, &b"b3"[..])));
}

#[test]
fn compaction_drops_tombstones_only_when_allowed_and_nothing_needs_them() {
    let source = vec![
        del("a", 9),
        put("a", 5, "a5"),
        del("b", 4),
        put("c", 1, "c1"),
    ];
    let run = |snapshots: Vec<u64>, drop| {
        let mut compacted = CompactionIter::new(merged(vec![source.clone()]), snapshots, drop, 0);
        versions(&drain(&mut compacted))
    };
    // Not at the bottom: tombstones stay to hide older data below.
    assert_eq!(
        run(vec![], false),
        vec![
            ("a".into(), 9, Kind::Delete),
            ("b".into(), 4, Kind::Delete),
            ("c".into(), 1, Kind::Put),
        ]
    );
    // At the bottom with no snapshot: deleted keys vanish.
    assert_eq!(run(vec![], true), vec![("c".into(), 1, Kind::Put)]);
    // A snapshot at 6 still sees a5, so a's tombstone must stay above it.
    assert_eq!(
        run(vec![6], true),
        vec![
            ("a".into(), 9, Kind::Delete),
            ("a".into(), 5, Kind::Put),
            ("c".into(), 1, Kind::Put),
        ]
    );
}

#[test]
fn compaction_turns_expired_values_into_tombstones_unless_the_key_can_go() {
    let source = vec![
        put_expiring("a", 5, "a5", Some(100)),
        put("a", 1, "a1"),
        put_expiring("b", 2, "b2", Some(100)),
        put_expiring("c", 3, "c3", Some(500)),
    ];
    let run = |snapshots: Vec<u64>, drop| {
        let mut compacted = CompactionIter::new(merged(vec![source.clone()]), snapshots, drop, 100);
        versions(&drain(&mut compacted))
    };
    assert_eq!(
        run(vec![], false),
        vec![
            ("a".into(), 5, Kind::Delete),
            ("b".into(), 2, Kind::Delete),
            ("c".into(), 3, Kind::Put),
        ]
    );
    assert_eq!(run(vec![], true), vec![("c".into(), 3, Kind::Put)]);
    // A snapshot at 1 keeps a1; the expired a5 must keep hiding it.
    assert_eq!(
        run(vec![1], true),
        vec![
            ("a".into(), 5, Kind::Delete),
            ("a".into(), 1, Kind::Put),
            ("c".into(), 3, Kind::Put),
        ]
    );
}

#[test]
fn compaction_iter_seek_lands_on_the_first_output_at_or_after_the_key() {
    let source = vec![
        put("a", 3, "a3"),
        put("a", 1, "a1"),
        put("b", 9, "b9"),
        put("b", 2, "b2"),
    ];
    let mut compacted = CompactionIter::new(merged(vec![source]), vec![2], false, 0);
    compacted.seek(&internal_key(b"b", 5, Kind::Put));
    assert_eq!(
        versions(&drain(&mut compacted)),
        vec![("b".into(), 2, Kind::Put)]
    );
    compacted.seek(&internal_key(b"a", MAX_SEQNO, Kind::Put));
    assert_eq!(versions(&drain(&mut compacted)).len(), 4);
}
