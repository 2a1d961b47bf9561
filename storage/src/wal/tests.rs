use super::record::frame_len;
use super::*;
use crate::test_rng::Rng;

fn segment(payloads: &[&[u8]]) -> (Vec<u8>, Vec<u64>) {
    let mut seg = Vec::new();
    let mut starts = Vec::new();
    for p in payloads {
        starts.push(seg.len() as u64);
        encode_record(p, &mut seg).unwrap();
    }
    (seg, starts)
}

const THREE: [&[u8]; 3] = [b"first record", b"", b"the third and last record"];

#[test]
fn ten_thousand_random_payloads_round_trip() {
    let mut rng = Rng::new(0x5eed);
    let payloads: Vec<Vec<u8>> = (0..10_000)
        .map(|i| {
            let len = if i % 1000 == 7 {
                70_000
            } else {
                rng.below(300) as usize
            };
            rng.bytes(len)
        })
        .collect();
    let mut seg = Vec::new();
    for p in &payloads {
        encode_record(p, &mut seg).unwrap();
    }
    let replay = decode_segment(&seg).unwrap();
    assert_eq!(replay.torn_tail, None);
    assert_eq!(replay.valid_len, seg.len() as u64);
    assert_eq!(replay.records.len(), payloads.len());
    for (got, want) in replay.records.iter().zip(&payloads) {
        assert_eq!(got, want);
    }
}

#[test]
fn empty_segment_is_clean() {
    let replay = decode_segment(&[]).unwrap();
    assert!(replay.records.is_empty());
    assert_eq!((replay.valid_len, replay.torn_tail), (0, None));
}

#[test]
fn truncation_at_every_offset_is_a_torn_tail_at_a_record_boundary() {
    let (seg, starts) = segment(&THREE);
    let mut boundaries = starts.clone();
    boundaries.push(seg.len() as u64);
    for cut in 0..=seg.len() {
        let replay = decode_segment(&seg[..cut])
            .unwrap_or_else(|e| panic!("cut at {cut}: unexpected error {e}"));
        let complete = boundaries[1..].iter().filter(|&&b| b <= cut as u64).count();
        let valid = boundaries[complete];
        assert_eq!(replay.records, THREE[..complete], "cut at {cut}");
        assert_eq!(replay.valid_len, valid, "cut at {cut}");
        if valid == cut as u64 {
            assert_eq!(replay.torn_tail, None, "cut at {cut}");
        } else {
            assert_eq!(
                replay.torn_tail.map(|t| t.offset),
                Some(valid),
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn flipped_byte_in_last_record_checksum_or_payload_is_a_torn_tail() {
    let (seg, starts) = segment(&THREE);
    for i in starts[2] as usize + 4..seg.len() {
        let mut bad = seg.clone();
        bad[i] ^= 0x40;
        let replay = decode_segment(&bad).unwrap();
        assert_eq!(replay.records, THREE[..2], "flip at {i}");
        assert_eq!(replay.valid_len, starts[2]);
        assert_eq!(
            replay.torn_tail,
            Some(TornTail {
                offset: starts[2],
                reason: TornReason::ChecksumMismatch
            })
        );
    }
}

#[test]
fn flipped_length_byte_in_last_record_never_returns_it() {
    let (seg, starts) = segment(&THREE);
    for i in starts[2] as usize..starts[2] as usize + 4 {
        for bit in 0..8 {
            let mut bad = seg.clone();
            bad[i] ^= 1 << bit;
            match decode_segment(&bad) {
                Ok(replay) => {
                    assert_eq!(replay.records, THREE[..2]);
                    assert_eq!(replay.valid_len, starts[2]);
                }
                Err(WalError::Corrupt { offset, .. }) => assert_eq!(offset, starts[2]),
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }
}

#[test]
fn flipped_byte_in_first_record_is_corruption_at_offset_zero() {
    let (seg, starts) = segment(&THREE);
    for i in 4..starts[1] as usize {
        let mut bad = seg.clone();
        bad[i] ^= 0x01;
        match decode_segment(&bad) {
            Err(WalError::Corrupt {
                offset: 0,
                reason: CorruptReason::ChecksumMismatch { .. },
            }) => {}
            other => panic!("flip at {i}: {other:?}"),
        }
    }
}

#[test]
fn length_beyond_the_limit_is_corruption() {
    let (mut seg, _) = segment(&THREE);
    seg[3] = 0xff;
    assert_eq!(
        decode_segment(&seg),
        Err(WalError::Corrupt {
            offset: 0,
            reason: CorruptReason::ImpossibleLength {
                len: u32::from_le_bytes([seg[0], seg[1], seg[2], 0xff])
            }
        })
    );
}

#[test]
fn zero_filled_tail_is_a_torn_tail() {
    let (seg, _) = segment(&THREE);
    for zeros in [1, 3, 8, 9, 4096] {
        let mut padded = seg.clone();
        padded.resize(seg.len() + zeros, 0);
        let replay = decode_segment(&padded).unwrap();
        assert_eq!(replay.records, THREE);
        assert_eq!(replay.valid_len, seg.len() as u64);
        assert_eq!(
            replay.torn_tail,
            Some(TornTail {
                offset: seg.len() as u64,
                reason: TornReason::ZeroFilled { len: zeros as u64 }
            })
        );
    }
}

#[test]
fn torn_write_into_preallocated_space_is_a_torn_tail() {
    // Header of the last record landed, its payload did not, zeros follow.
    let (seg, starts) = segment(&THREE);
    let mut bad = seg.clone();
    bad[starts[2] as usize + HEADER_LEN + 3..].fill(0);
    bad.resize(seg.len() + 512, 0);
    let replay = decode_segment(&bad).unwrap();
    assert_eq!(replay.records, THREE[..2]);
    assert_eq!(replay.valid_len, starts[2]);
    assert_eq!(
        replay.torn_tail.map(|t| t.reason),
        Some(TornReason::ChecksumMismatch)
    );
}

#[test]
fn zero_hole_before_valid_records_is_corruption() {
    let (seg, starts) = segment(&THREE);
    let mut bad = seg.clone();
    bad[starts[1] as usize..starts[2] as usize].fill(0);
    assert!(matches!(
        decode_segment(&bad),
        Err(WalError::Corrupt { offset, .. }) if offset == starts[1]
    ));
}

#[test]
fn random_garbage_and_mutations_never_panic() {
    let mut rng = Rng::new(42);
    let (seg, _) = segment(&THREE);
    for round in 0..5_000 {
        let input = match round % 3 {
            0 => {
                let len = rng.below(200) as usize;
                rng.bytes(len)
            }
            1 => {
                let mut m = seg.clone();
                for _ in 0..=rng.below(4) {
                    let i = rng.below(m.len() as u64) as usize;
                    m[i] = rng.next_u64() as u8;
                }
                m.truncate(rng.below(m.len() as u64 + 1) as usize);
                m
            }
            _ => {
                let mut m = seg.clone();
                let len = rng.below(24) as usize;
                m.extend(rng.bytes(len));
                m
            }
        };
        if let Ok(replay) = decode_segment(&input) {
            let framed: u64 = replay
                .records
                .iter()
                .map(|r| (HEADER_LEN + r.len()) as u64)
                .sum();
            assert_eq!(framed, replay.valid_len);
            assert!(replay.valid_len <= input.len() as u64);
            match replay.torn_tail {
                Some(t) => assert_eq!(t.offset, replay.valid_len),
                None => assert_eq!(replay.valid_len, input.len() as u64),
            }
        }
    }
}

#[test]
fn records_with_offsets_name_each_header() {
    let (seg, starts) = segment(&THREE);
    let replay = decode_segment(&seg).unwrap();
    let offsets: Vec<u64> = replay.records_with_offsets().map(|(o, _)| o).collect();
    assert_eq!(offsets, starts);
}

#[test]
fn oversized_payload_is_refused_before_framing() {
    assert_eq!(frame_len(MAX_PAYLOAD_LEN as usize), Ok(MAX_PAYLOAD_LEN));
    assert_eq!(
        frame_len(MAX_PAYLOAD_LEN as usize + 1),
        Err(WalError::PayloadTooLarge {
            len: MAX_PAYLOAD_LEN as usize + 1,
            max: MAX_PAYLOAD_LEN
        })
    );
}

#[test]
fn empty_payload_record_has_a_nonzero_header() {
    let mut seg = Vec::new();
    encode_record(b"", &mut seg).unwrap();
    assert_eq!(seg.len(), HEADER_LEN);
    assert!(seg.iter().any(|&b| b != 0));
}
