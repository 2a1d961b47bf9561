use super::*;
use crate::key::{internal_key, Kind};
use crate::test_rng::Rng;
use crate::wal::{encode_record, TornReason};

fn table(id: u64, level: u8, smallest: &str, largest: &str, seqnos: (u64, u64)) -> TableMeta {
    TableMeta {
        id,
        level,
        size: 4096 * id,
        smallest: internal_key(smallest.as_bytes(), seqnos.1, Kind::Put),
        largest: internal_key(largest.as_bytes(), seqnos.0, Kind::Delete),
        min_seqno: seqnos.0,
        max_seqno: seqnos.1,
        entries: 10 * id,
    }
}

/// Create + two flushes + a compaction of L0 into L1.
fn history() -> Vec<VersionEdit> {
    vec![
        VersionEdit {
            next_table_id: Some(1),
            partition_format: Some(16),
            ..VersionEdit::default()
        },
        VersionEdit {
            added: vec![
                table(1, 0, "a", "m", (1, 10)),
                table(2, 0, "c", "z", (11, 20)),
            ],
            next_table_id: Some(3),
            last_seqno: Some(20),
            wal_segment: Some(1),
            ..VersionEdit::default()
        },
        VersionEdit {
            added: vec![table(3, 0, "b", "d", (21, 30))],
            next_table_id: Some(4),
            last_seqno: Some(30),
            wal_segment: Some(2),
            ..VersionEdit::default()
        },
        VersionEdit {
            deleted: vec![(0, 1), (0, 2)],
            added: vec![
                table(5, 1, "n", "z", (1, 20)),
                table(4, 1, "a", "m", (1, 20)),
            ],
            next_table_id: Some(6),
            ..VersionEdit::default()
        },
    ]
}

fn manifest_file(edits: &[VersionEdit]) -> (Vec<u8>, Vec<u64>) {
    let mut file = Vec::new();
    let mut starts = Vec::new();
    for edit in edits {
        starts.push(file.len() as u64);
        let mut payload = Vec::new();
        edit.encode(&mut payload);
        encode_record(&payload, &mut file).unwrap();
    }
    (file, starts)
}

fn ids(tables: &[TableMeta]) -> Vec<u64> {
    tables.iter().map(|t| t.id).collect()
}

#[test]
fn edits_round_trip_through_encoding() {
    for edit in history() {
        let mut bytes = Vec::new();
        edit.encode(&mut bytes);
        assert_eq!(VersionEdit::decode(&bytes), Ok(edit));
    }
    assert_eq!(VersionEdit::decode(&[]), Ok(VersionEdit::default()));
}

#[test]
fn replay_applies_adds_and_deletes_in_order() {
    let (file, _) = manifest_file(&history()[..3]);
    let state = replay_manifest(&file).unwrap().state;
    assert_eq!(ids(state.level(0)), [3, 2, 1], "L0 is newest first");

    let (file, _) = manifest_file(&history());
    let replay = replay_manifest(&file).unwrap();
    assert_eq!(
        (replay.edits, replay.valid_len, replay.torn_tail),
        (4, file.len() as u64, None)
    );
    let state = replay.state;
    assert_eq!(ids(state.level(0)), [3]);
    assert_eq!(ids(state.level(1)), [4, 5], "L1 sorted by smallest key");
    assert!(state.levels()[2..].iter().all(Vec::is_empty));
    assert_eq!(state.levels().len(), NUM_LEVELS);
    assert_eq!(state.table(5), Some(&table(5, 1, "n", "z", (1, 20))));
    assert_eq!(state.table(1), None);
    assert_eq!(state.table_count(), 3);
    assert_eq!(
        (
            state.next_table_id(),
            state.last_seqno(),
            state.wal_segment(),
            state.partition_format()
        ),
        (6, 30, 2, Some(16))
    );

    let mut expected = ManifestState::new();
    for edit in history() {
        expected.apply(&edit).unwrap();
    }
    assert_eq!(state, expected);
}

#[test]
fn deleting_an_unknown_table_is_corruption_at_its_record() {
    let mut edits = history();
    edits.push(VersionEdit {
        deleted: vec![(1, 3)], // table 3 lives in L0
        ..VersionEdit::default()
    });
    let (file, starts) = manifest_file(&edits);
    let err = replay_manifest(&file).unwrap_err();
    assert_eq!(
        err,
        ManifestError::Corrupt {
            offset: starts[4],
            fault: RecordFault::Apply(ApplyError::UnknownTable { level: 1, id: 3 })
        }
    );
    assert!(
        err.to_string().contains(&format!("byte {}", starts[4])),
        "{err}"
    );
}

#[test]
fn snapshot_edit_replays_to_the_same_state() {
    let (file, _) = manifest_file(&history());
    let state = replay_manifest(&file).unwrap().state;
    let snapshot = state.snapshot_edit();
    let (rotated, _) = manifest_file(std::slice::from_ref(&snapshot));
    assert_eq!(replay_manifest(&rotated).unwrap().state, state);
    // The rotated manifest keeps accepting edits.
    let mut fresh = ManifestState::new();
    fresh.apply(&snapshot).unwrap();
    fresh
        .apply(&VersionEdit {
            deleted: vec![(0, 3)],
            added: vec![table(3, 1, "zz", "zzz", (21, 30))],
            ..VersionEdit::default()
        })
        .unwrap();
    assert_eq!(ids(fresh.level(1)), [4, 5, 3]);
}

#[test]
fn torn_last_edit_is_dropped_and_reported() {
    let edits = history();
    let (file, starts) = manifest_file(&edits);
    let (three, _) = manifest_file(&edits[..3]);
    let before_last = replay_manifest(&three).unwrap().state;
    for cut in starts[3] as usize + 1..file.len() {
        let replay = replay_manifest(&file[..cut]).unwrap();
        assert_eq!(replay.state, before_last, "cut at {cut}");
        assert_eq!(replay.valid_len, starts[3]);
        assert_eq!(replay.torn_tail.map(|t| t.offset), Some(starts[3]));
    }
    let mut flipped = file.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let replay = replay_manifest(&flipped).unwrap();
    assert_eq!(
        replay.torn_tail.map(|t| t.reason),
        Some(TornReason::ChecksumMismatch)
    );
}

#[test]
fn corruption_before_the_tail_is_an_error_with_offset() {
    let (mut file, starts) = manifest_file(&history());
    let i = starts[1] as usize + 12;
    file[i] ^= 0x10;
    match replay_manifest(&file) {
        Err(ManifestError::Wal(crate::wal::WalError::Corrupt { offset, .. })) => {
            assert_eq!(offset, starts[1])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn manifest_without_a_complete_edit_is_refused() {
    assert_eq!(replay_manifest(&[]), Err(ManifestError::NoEdits));
    let (file, _) = manifest_file(&history()[..1]);
    assert_eq!(
        replay_manifest(&file[..file.len() - 1]),
        Err(ManifestError::NoEdits)
    );
}

#[test]
fn unknown_tag_is_an_error_naming_it() {
    let mut bytes = Vec::new();
    history()[1].encode(&mut bytes);
    let at = bytes.len();
    bytes.extend_from_slice(&[0x63, 1, 0]); // tag 99, one-byte body
    let err = VersionEdit::decode(&bytes).unwrap_err();
    assert_eq!(
        err,
        ManifestError::Decode(EditError::UnknownTag { at, tag: 99 })
    );
    assert!(err.to_string().contains("unknown tag 99"), "{err}");
}

#[test]
fn repeated_single_field_is_an_error() {
    let mut bytes = Vec::new();
    VersionEdit {
        last_seqno: Some(1),
        ..VersionEdit::default()
    }
    .encode(&mut bytes);
    let at = bytes.len();
    bytes.extend_from_within(..);
    assert_eq!(
        VersionEdit::decode(&bytes),
        Err(ManifestError::Decode(EditError::DuplicateField {
            at,
            tag: 2
        }))
    );
}

#[test]
fn every_truncation_of_an_edit_is_an_error() {
    let mut bytes = Vec::new();
    history()[3].encode(&mut bytes);
    // Cuts at a field boundary decode to a shorter edit; all others fail.
    let mut field_starts = vec![0];
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        crate::batch::varint::get_varint(&mut rest).unwrap();
        crate::batch::varint::get_len_prefixed(&mut rest).unwrap();
        field_starts.push(bytes.len() - rest.len());
    }
    for cut in 0..bytes.len() {
        let result = VersionEdit::decode(&bytes[..cut]);
        assert_eq!(
            result.is_ok(),
            field_starts.contains(&cut),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn invalid_tables_are_refused_by_decode_and_apply() {
    let mut bad_level = table(1, 0, "a", "b", (1, 2));
    bad_level.level = NUM_LEVELS as u8;
    let mut reversed = table(1, 0, "b", "a", (1, 2));
    reversed.largest = internal_key(b"a", 1, Kind::Put);
    let mut short_key = table(1, 0, "a", "b", (1, 2));
    short_key.smallest = b"abc".to_vec();
    let mut seqnos = table(1, 0, "a", "b", (1, 2));
    seqnos.min_seqno = 3;
    let cases = [
        (bad_level, TableProblem::LevelOutOfRange(NUM_LEVELS as u8)),
        (reversed, TableProblem::KeysOutOfOrder),
        (short_key, TableProblem::BadSmallestKey),
        (seqnos, TableProblem::SeqnosOutOfOrder),
    ];
    for (t, problem) in cases {
        let edit = VersionEdit {
            added: vec![t],
            next_table_id: Some(2),
            ..VersionEdit::default()
        };
        let mut bytes = Vec::new();
        edit.encode(&mut bytes);
        assert!(
            matches!(VersionEdit::decode(&bytes), Err(ManifestError::Decode(EditError::InvalidTable { problem: p, .. })) if p == problem)
        );
        assert_eq!(
            ManifestState::new().apply(&edit),
            Err(ManifestError::Apply(ApplyError::InvalidTable {
                id: 1,
                problem
            }))
        );
    }
}

#[test]
fn apply_refuses_broken_invariants_and_leaves_state_unchanged() {
    let mut state = ManifestState::new();
    for edit in history() {
        state.apply(&edit).unwrap();
    }
    let before = state.clone();
    let cases = [
        (
            VersionEdit {
                added: vec![table(6, 0, "a", "b", (31, 40))],
                ..VersionEdit::default()
            },
            ApplyError::TableIdNotReserved {
                id: 6,
                next_table_id: 6,
            },
        ),
        (
            VersionEdit {
                added: vec![table(3, 2, "a", "b", (1, 2))],
                ..VersionEdit::default()
            },
            ApplyError::DuplicateTable { id: 3 },
        ),
        (
            VersionEdit {
                deleted: vec![(0, 3), (0, 3)],
                ..VersionEdit::default()
            },
            ApplyError::UnknownTable { level: 0, id: 3 },
        ),
        (
            VersionEdit {
                deleted: vec![(0, 3)],
                added: vec![table(3, 1, "m", "p", (21, 30))],
                ..VersionEdit::default()
            },
            ApplyError::Overlap {
                level: 1,
                left: 4,
                right: 3,
            },
        ),
        (
            VersionEdit {
                last_seqno: Some(29),
                ..VersionEdit::default()
            },
            ApplyError::Regressed {
                field: "last_seqno",
                from: 30,
                to: 29,
            },
        ),
        (
            VersionEdit {
                next_table_id: Some(5),
                ..VersionEdit::default()
            },
            ApplyError::Regressed {
                field: "next_table_id",
                from: 6,
                to: 5,
            },
        ),
        (
            VersionEdit {
                partition_format: Some(8),
                ..VersionEdit::default()
            },
            ApplyError::PartitionFormatChanged { from: 16, to: 8 },
        ),
    ];
    for (edit, want) in cases {
        assert_eq!(state.apply(&edit), Err(ManifestError::Apply(want)));
        assert_eq!(state, before);
    }
}

#[test]
fn random_garbage_edits_never_panic() {
    let mut rng = Rng::new(99);
    let mut good = Vec::new();
    history()[3].encode(&mut good);
    for round in 0..3_000 {
        let input = if round % 2 == 0 {
            let len = rng.below(80) as usize;
            rng.bytes(len)
        } else {
            let mut m = good.clone();
            let i = rng.below(m.len() as u64) as usize;
            m[i] = rng.next_u64() as u8;
            m
        };
        if let Ok(edit) = VersionEdit::decode(&input) {
            let _ = ManifestState::new().apply(&edit);
        }
        let mut file = Vec::new();
        encode_record(&input, &mut file).unwrap();
        let _ = replay_manifest(&file);
    }
}

#[test]
fn current_round_trips_and_rejects_bad_contents() {
    assert_eq!(encode_current("MANIFEST-000001"), b"MANIFEST-000001\n");
    assert_eq!(decode_current(b"MANIFEST-000001\n"), Ok("MANIFEST-000001"));
    let long = [b'm'; 256];
    let mut too_long = long.to_vec();
    too_long.push(b'\n');
    let cases: [(&[u8], CurrentError); 11] = [
        (b"", CurrentError::MissingNewline),
        (b"\n", CurrentError::Empty),
        (b"MANIFEST-1", CurrentError::MissingNewline),
        (b"MANIFEST-1\n\n", CurrentError::ControlCharacter),
        (b"MANIFEST-1\r\n", CurrentError::ControlCharacter),
        (b"a\nb\n", CurrentError::ControlCharacter),
        (b"dir/MANIFEST-1\n", CurrentError::PathSeparator),
        (b"dir\\MANIFEST-1\n", CurrentError::PathSeparator),
        (b"\xff\xfe\n", CurrentError::NotUtf8),
        (b"..\n", CurrentError::DotName),
        (&too_long, CurrentError::TooLong(256)),
    ];
    for (content, want) in cases {
        assert_eq!(
            decode_current(content),
            Err(ManifestError::Current(want)),
            "{content:?}"
        );
    }
}
