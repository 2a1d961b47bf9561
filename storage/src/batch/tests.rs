use super::write_batch::check_value_len;
use super::*;
use crate::key::{decode_value, encode_value, Kind, MAX_SEQNO};
use crate::test_rng::Rng;

fn sample() -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(b"alpha", b"1");
    b.put_with_expiry(b"beta", b"two", 1_700_000_000_123);
    b.delete(b"alpha");
    b.put(b"", b"");
    b.put_with_expiry(b"gamma", &[7; 300], 0);
    b.delete(b"");
    b
}

fn encoded(b: &WriteBatch, first_seqno: u64) -> Vec<u8> {
    let mut out = Vec::new();
    b.encode(first_seqno, &mut out).unwrap();
    out
}

#[test]
fn batch_round_trips_with_expiry_and_deletes() {
    let b = sample();
    assert_eq!(b.len(), 6);
    let ops: Vec<BatchOp<'_>> = b.iter().collect();
    assert_eq!(
        ops,
        [
            BatchOp::Put {
                key: b"alpha",
                value: b"1",
                expires_at: None
            },
            BatchOp::Put {
                key: b"beta",
                value: b"two",
                expires_at: Some(1_700_000_000_123)
            },
            BatchOp::Delete { key: b"alpha" },
            BatchOp::Put {
                key: b"",
                value: b"",
                expires_at: None
            },
            BatchOp::Put {
                key: b"gamma",
                value: &[7; 300],
                expires_at: Some(0)
            },
            BatchOp::Delete { key: b"" },
        ]
    );

    let payload = encoded(&b, 100);
    assert_eq!(payload.len(), b.approximate_size());
    let decoded = decode_batch(&payload).unwrap();
    assert_eq!((decoded.first_seqno(), decoded.count()), (100, 6));
    assert_eq!(decoded.last_seqno(), Some(105));
    assert_eq!(decoded.iter().len(), 6);
    for (i, ((seqno, kind, key, field), op)) in decoded.iter().zip(&ops).enumerate() {
        assert_eq!(seqno, 100 + i as u64);
        match *op {
            BatchOp::Put {
                key: k,
                value,
                expires_at,
            } => {
                assert_eq!((kind, key), (Kind::Put, k));
                let mut want = Vec::new();
                encode_value(expires_at, value, &mut want);
                assert_eq!(field, want);
                assert_eq!(decode_value(field), Some((expires_at, value)));
            }
            BatchOp::Delete { key: k } => {
                assert_eq!((kind, key, field), (Kind::Delete, k, &[][..]));
            }
        }
    }
}

#[test]
fn header_layout_is_seqno_then_count_little_endian() {
    let mut b = WriteBatch::new();
    b.delete(b"k");
    let payload = encoded(&b, 0x0001_0203_0405_0607);
    assert_eq!(
        payload,
        [
            7,
            6,
            5,
            4,
            3,
            2,
            1,
            0,
            1,
            0,
            0,
            0,
            Kind::Delete as u8,
            1,
            b'k'
        ]
    );
}

#[test]
fn empty_batch_round_trips() {
    let b = WriteBatch::new();
    let payload = encoded(&b, 5);
    let decoded = decode_batch(&payload).unwrap();
    assert_eq!((decoded.count(), decoded.last_seqno()), (0, None));
    assert_eq!(decoded.iter().next(), None);
}

#[test]
fn every_truncation_and_any_extension_is_an_error() {
    let payload = encoded(&sample(), 1);
    for cut in 0..payload.len() {
        assert!(
            matches!(
                decode_batch(&payload[..cut]),
                Err(BatchError::Malformed { .. })
            ),
            "cut at {cut}"
        );
    }
    let mut longer = payload.clone();
    longer.push(0);
    assert_eq!(
        decode_batch(&longer),
        Err(BatchError::Malformed {
            at: payload.len(),
            reason: Malformed::TrailingBytes { len: 1 }
        })
    );
}

#[test]
fn huge_count_is_an_error_before_any_work() {
    let mut payload = encoded(&sample(), 1);
    payload[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        decode_batch(&payload),
        Err(BatchError::Malformed {
            at: 8,
            reason: Malformed::CountExceedsPayload { count: u32::MAX }
        })
    );
}

#[test]
fn bad_kind_truncated_varint_and_bad_value_field_are_errors() {
    let header = |count: u32| {
        let mut p = 9u64.to_le_bytes().to_vec();
        p.extend_from_slice(&count.to_le_bytes());
        p
    };
    let cases: [(&[u8], Malformed); 4] = [
        (&[9, 0], Malformed::BadKind(9)),
        (
            &[Kind::Put as u8, 0x80],
            Malformed::BadLength {
                what: "key",
                error: varint::VarintError::Truncated,
            },
        ),
        (
            &[Kind::Delete as u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            Malformed::BadLength {
                what: "key",
                error: varint::VarintError::Truncated,
            },
        ),
        (&[Kind::Put as u8, 1, b'k', 0], Malformed::BadValueField),
    ];
    for (op, reason) in cases {
        let mut p = header(1);
        p.extend_from_slice(op);
        assert_eq!(
            decode_batch(&p),
            Err(BatchError::Malformed { at: 12, reason }),
            "{op:?}"
        );
    }
}

#[test]
fn sequence_numbers_past_the_maximum_are_refused() {
    let b = sample();
    let mut out = Vec::new();
    assert_eq!(
        b.encode(MAX_SEQNO - 4, &mut out),
        Err(BatchError::SeqnoOverflow {
            first_seqno: MAX_SEQNO - 4,
            count: 6
        })
    );
    assert!(out.is_empty());
    let last_fits = encoded(&b, MAX_SEQNO - 5);
    assert_eq!(
        decode_batch(&last_fits).unwrap().last_seqno(),
        Some(MAX_SEQNO)
    );
    let mut p = last_fits;
    p[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        decode_batch(&p),
        Err(BatchError::SeqnoOverflow { .. })
    ));
}

#[test]
fn oversized_key_poisons_the_batch_until_cleared() {
    let mut b = WriteBatch::new();
    b.put(b"ok", b"v");
    b.put(&vec![0; MAX_KEY_LEN + 1], b"v");
    b.delete(&vec![0; MAX_KEY_LEN + 2]);
    b.put(&vec![0; MAX_KEY_LEN], b"max key is fine");
    let first = BatchError::KeyTooLarge {
        index: 1,
        len: MAX_KEY_LEN + 1,
    };
    assert_eq!(b.validate(), Err(first));
    assert_eq!(b.len(), 2);
    assert_eq!(b.encode(1, &mut Vec::new()), Err(first));
    b.clear();
    assert!(b.is_empty());
    assert_eq!(b.validate(), Ok(()));
    assert_eq!(b.approximate_size(), BATCH_HEADER_LEN);
}

#[test]
fn value_limit_is_enforced() {
    assert_eq!(check_value_len(3, MAX_VALUE_LEN), Ok(()));
    assert_eq!(
        check_value_len(3, MAX_VALUE_LEN + 1),
        Err(BatchError::ValueTooLarge {
            index: 3,
            len: MAX_VALUE_LEN + 1
        })
    );
    // A batch holding one largest put still fits one WAL record.
    let one_put = BATCH_HEADER_LEN + 1 + 3 + MAX_KEY_LEN + 5 + 9 + MAX_VALUE_LEN;
    assert!(one_put <= crate::wal::MAX_PAYLOAD_LEN as usize);
}

#[test]
fn random_garbage_and_mutations_never_panic() {
    let mut rng = Rng::new(7);
    let good = encoded(&sample(), 1);
    for round in 0..5_000 {
        let input = if round % 2 == 0 {
            let len = rng.below(64) as usize;
            rng.bytes(len)
        } else {
            let mut m = good.clone();
            for _ in 0..=rng.below(3) {
                let i = rng.below(m.len() as u64) as usize;
                m[i] = rng.next_u64() as u8;
            }
            m
        };
        if let Ok(decoded) = decode_batch(&input) {
            assert_eq!(decoded.iter().count(), decoded.count() as usize);
        }
    }
}
