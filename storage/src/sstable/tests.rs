//! End-to-end tests: build tables, decode every part from the bytes, read
//! every entry back; corrupt them; feed garbage to every decoder.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;
use crate::checksum::masked_crc32c;
use crate::key::{
    compare_internal_keys, encode_value, internal_key, seek_key, split_internal_key, user_key,
    Kind, MAX_SEQNO,
};
use crate::test_rng::Rng;

type Entry = (Vec<u8>, Vec<u8>);

fn random_user_key(rng: &mut Rng) -> Vec<u8> {
    let len = 1 + rng.below(20) as usize;
    // A small alphabet gives long shared prefixes; a few raw bytes test 0x00/0xff.
    (0..len)
        .map(|_| match rng.below(16) {
            0 => rng.next_u64() as u8,
            _ => b'a' + rng.below(6) as u8,
        })
        .collect()
}

/// `n` entries in table order: several versions per user key (newest
/// first), about one in eight a tombstone, values of varied length.
fn random_entries(rng: &mut Rng, n: usize) -> Vec<Entry> {
    let mut users = BTreeSet::new();
    while users.len() < n / 2 {
        users.insert(random_user_key(rng));
    }
    let mut entries = Vec::with_capacity(n);
    for user in users {
        let versions = 1 + rng.below(3);
        let mut seq = 1 + rng.below(1 << 40);
        for _ in 0..versions {
            if entries.len() == n {
                break;
            }
            seq += 1 + rng.below(1000);
            entries.push((user.clone(), seq));
        }
        if entries.len() == n {
            break;
        }
    }
    // Versions must go newest first: reverse each user key's run.
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    entries
        .into_iter()
        .map(|(user, seq)| {
            if rng.below(8) == 0 {
                return (internal_key(&user, seq, Kind::Delete), Vec::new());
            }
            let len = match rng.below(4) {
                0 => 0,
                1 => rng.below(16),
                2 => rng.below(200),
                _ => rng.below(1200),
            } as usize;
            let expiry = (rng.below(4) == 0).then(|| rng.next_u64());
            let mut value = Vec::new();
            encode_value(expiry, &rng.bytes(len), &mut value);
            (internal_key(&user, seq, Kind::Put), value)
        })
        .collect()
}

fn build(entries: &[Entry], opts: TableOptions) -> Vec<u8> {
    let mut b = TableBuilder::new(opts);
    for (k, v) in entries {
        b.add(k, v).unwrap();
    }
    assert_eq!(b.entries(), entries.len() as u64);
    b.finish().unwrap()
}

fn stored(file: &[u8], h: BlockHandle) -> &[u8] {
    &file[h.offset as usize..h.end() as usize]
}

struct Decoded {
    index: TableIndex,
    filter: BloomFilter,
    props: TableProperties,
}

fn decode_parts(file: &[u8]) -> Decoded {
    let footer = Footer::decode(file).unwrap();
    assert_eq!(footer.version, FORMAT_VERSION);
    footer.check_bounds(file.len() as u64).unwrap();
    let f = footer.filter;
    let p = footer.properties;
    let i = footer.index;
    Decoded {
        index: TableIndex::decode(&decode_block(stored(file, i), i.offset).unwrap()).unwrap(),
        filter: BloomFilter::decode(decode_block_payload(stored(file, f), f.offset).unwrap(), 0)
            .unwrap(),
        props: TableProperties::decode(
            &decode_block_payload(stored(file, p), p.offset).unwrap(),
            0,
        )
        .unwrap(),
    }
}

/// The lead's read path: index, cache, decode on miss, seek.
fn lookup(file: &[u8], parts: &Decoded, cache: &mut BlockCache, target: &[u8]) -> Option<Entry> {
    let h = parts.index.find(target)?;
    let block = match cache.get(1, h.offset) {
        Some(b) => b,
        None => cache.insert(
            1,
            h.offset,
            decode_block(stored(file, h), h.offset).unwrap(),
        ),
    };
    let mut it = block.iter();
    it.seek(target);
    it.valid().then(|| (it.key().to_vec(), it.value().to_vec()))
}

fn scan(file: Vec<u8>) -> Result<Vec<Entry>, TableError> {
    let mut it = TableIter::new(file.into())?;
    let mut out = Vec::new();
    it.seek_to_first()?;
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next()?;
    }
    Ok(out)
}

#[test]
fn fifty_thousand_entries_round_trip_through_every_part() {
    let mut rng = Rng::new(0x5eed_0001);
    let entries = random_entries(&mut rng, 50_000);
    let file = build(&entries, TableOptions::default());
    let parts = decode_parts(&file);
    assert!(parts.index.len() > 100, "many data blocks");

    // Every entry is found exactly, through a cache small enough to evict.
    let mut cache = BlockCache::new(256 << 10);
    for (k, v) in &entries {
        assert_eq!(
            lookup(&file, &parts, &mut cache, k),
            Some((k.clone(), v.clone()))
        );
    }
    let stats = cache.stats();
    assert!(stats.hits > 0 && stats.misses > 0 && stats.evictions > 0);
    assert!(stats.bytes <= stats.capacity);

    // A get of the newest version lands on the first version of that user key.
    let mut prev_user: Option<&[u8]> = None;
    for (k, _) in &entries {
        let user = user_key(k);
        if prev_user != Some(user) {
            let found = lookup(&file, &parts, &mut cache, &seek_key(user, MAX_SEQNO));
            assert_eq!(found.map(|e| e.0), Some(k.clone()));
            prev_user = Some(user);
        }
        assert!(parts.filter.may_contain(user), "no false negatives");
    }

    // Missing user keys are not found; the filter rejects almost all of them.
    let present: BTreeSet<&[u8]> = entries.iter().map(|(k, _)| user_key(k)).collect();
    let (mut missing, mut false_positives) = (0, 0);
    while missing < 20_000 {
        let user = random_user_key(&mut rng);
        if present.contains(&user[..]) {
            continue;
        }
        missing += 1;
        false_positives += usize::from(parts.filter.may_contain(&user));
        if let Some((k, _)) = lookup(&file, &parts, &mut cache, &seek_key(&user, MAX_SEQNO)) {
            assert_ne!(user_key(&k), &user[..]);
        }
    }
    let rate = false_positives as f64 / missing as f64;
    assert!(rate < 0.02, "false positive rate {rate}");

    // A full scan returns everything in order; TableIter::seek agrees with a
    // binary search of the reference.
    assert_eq!(scan(file.clone()).unwrap(), entries);
    let mut it = TableIter::new(file.clone().into()).unwrap();
    for _ in 0..2000 {
        let target = internal_key(&random_user_key(&mut rng), rng.below(1 << 41), Kind::Put);
        it.seek(&target).unwrap();
        let at = entries.partition_point(|(k, _)| compare_internal_keys(k, &target).is_lt());
        match entries.get(at) {
            Some((k, v)) => assert_eq!((it.key(), it.value()), (&k[..], &v[..])),
            None => assert!(!it.valid()),
        }
    }

    let seqnos: Vec<u64> = entries
        .iter()
        .map(|(k, _)| split_internal_key(k).unwrap().1)
        .collect();
    let expected = TableProperties {
        entries: entries.len() as u64,
        smallest: entries[0].0.clone(),
        largest: entries[entries.len() - 1].0.clone(),
        min_seqno: *seqnos.iter().min().unwrap(),
        max_seqno: *seqnos.iter().max().unwrap(),
        tombstones: entries.iter().filter(|(_, v)| v.is_empty()).count() as u64,
        raw_key_bytes: entries.iter().map(|(k, _)| k.len() as u64).sum(),
        raw_value_bytes: entries.iter().map(|(_, v)| v.len() as u64).sum(),
    };
    assert!(expected.tombstones > 0);
    assert_eq!(parts.props, expected);
}

#[test]
fn empty_table_round_trips() {
    let file = build(&[], TableOptions::default());
    let parts = decode_parts(&file);
    assert!(parts.index.is_empty());
    assert_eq!(parts.props, TableProperties::default());
    assert!(!parts.filter.may_contain(b"k"));
    assert_eq!(scan(file.clone()).unwrap(), vec![]);
    let mut it = TableIter::new(file.into()).unwrap();
    it.seek(&internal_key(b"k", 1, Kind::Put)).unwrap();
    assert!(!it.valid());
}

#[test]
fn builder_rejects_out_of_order_duplicate_and_malformed_keys() {
    let mut b = TableBuilder::new(TableOptions::default());
    b.add(&internal_key(b"b", 5, Kind::Put), b"\0x").unwrap();
    let older = internal_key(b"b", 4, Kind::Put);
    assert_eq!(
        b.add(&internal_key(b"a", 9, Kind::Put), b""),
        Err(TableError::OutOfOrder)
    );
    assert_eq!(
        b.add(&internal_key(b"b", 6, Kind::Put), b""),
        Err(TableError::OutOfOrder)
    );
    assert_eq!(
        b.add(&internal_key(b"b", 5, Kind::Put), b""),
        Err(TableError::OutOfOrder)
    );
    assert_eq!(b.add(b"short", b""), Err(TableError::MalformedKey));
    let mut bad_kind = internal_key(b"c", 1, Kind::Put);
    *bad_kind.last_mut().unwrap() = 9;
    assert_eq!(b.add(&bad_kind, b""), Err(TableError::MalformedKey));
    // The builder stays usable after a rejected add.
    b.add(&older, b"").unwrap();
    let file = b.finish().unwrap();
    assert_eq!(scan(file).unwrap().len(), 2);
}

#[test]
fn tiny_blocks_and_restart_intervals_still_round_trip() {
    let mut rng = Rng::new(0x5eed_0002);
    let entries = random_entries(&mut rng, 3000);
    for (block_size, restart_interval) in [(0, 1), (64, 1), (300, 3), (1 << 16, 16), (4096, 0)] {
        let opts = TableOptions {
            block_size,
            restart_interval,
            bloom_bits_per_key: 10,
            compression: true,
        };
        let file = build(&entries, opts);
        assert_eq!(scan(file.clone()).unwrap(), entries);
        let parts = decode_parts(&file);
        let mut cache = BlockCache::new(1 << 20);
        for (k, v) in entries.iter().step_by(7) {
            assert_eq!(
                lookup(&file, &parts, &mut cache, k),
                Some((k.clone(), v.clone()))
            );
        }
    }
}

fn value_field(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_value(None, bytes, &mut v);
    v
}

fn data_block_types(file: &[u8]) -> Vec<u8> {
    decode_parts(file)
        .index
        .blocks()
        .map(|h| file[h.end() as usize - BLOCK_TRAILER_LEN])
        .collect()
}

#[test]
fn compressible_values_shrink_the_file_and_read_back_equal() {
    let entries: Vec<Entry> = (0..5000u32)
        .map(|i| {
            let text = format!("user {i} likes the colour blue and the number {} ", i % 7);
            (
                internal_key(format!("user:{i:06}").as_bytes(), 1, Kind::Put),
                value_field(text.repeat(3).as_bytes()),
            )
        })
        .collect();
    let on = build(&entries, TableOptions::default());
    let off = build(
        &entries,
        TableOptions {
            compression: false,
            ..TableOptions::default()
        },
    );
    assert!(
        on.len() < off.len() * 3 / 4,
        "{} vs {}",
        on.len(),
        off.len()
    );
    assert!(data_block_types(&on).iter().all(|&t| t == 1));
    assert!(data_block_types(&off).iter().all(|&t| t == 0));
    assert_eq!(scan(on).unwrap(), entries);
    assert_eq!(scan(off).unwrap(), entries);
}

#[test]
fn incompressible_values_are_stored_uncompressed() {
    let mut rng = Rng::new(0x5eed_0003);
    let entries: Vec<Entry> = (0..2000u32)
        .map(|i| {
            let key = internal_key(&rng.next_u64().to_be_bytes(), 1, Kind::Put);
            (key, value_field(&rng.bytes(100 + i as usize % 300)))
        })
        .collect::<Vec<_>>();
    let mut entries = entries;
    entries.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
    let file = build(&entries, TableOptions::default());
    assert!(data_block_types(&file).iter().all(|&t| t == 0));
    assert_eq!(scan(file).unwrap(), entries);
}

#[test]
fn any_flipped_byte_in_a_data_block_is_a_checksum_mismatch_at_its_offset() {
    let mut rng = Rng::new(0x5eed_0004);
    let entries = random_entries(&mut rng, 2000);
    for compression in [false, true] {
        let file = build(
            &entries,
            TableOptions {
                compression,
                ..TableOptions::default()
            },
        );
        let handles: Vec<BlockHandle> = decode_parts(&file).index.blocks().collect();
        for (n, h) in handles.iter().enumerate() {
            // Every position of the first blocks, a sample of the others.
            let positions: Vec<u64> = if n < 3 {
                (h.offset..h.end()).collect()
            } else {
                (0..40).map(|_| h.offset + rng.below(h.size)).collect()
            };
            for pos in positions {
                let mut bad = file.clone();
                bad[pos as usize] ^= 1 << rng.below(8);
                assert_eq!(
                    decode_block(stored(&bad, *h), h.offset).unwrap_err(),
                    TableError::ChecksumMismatch { offset: h.offset },
                    "flip at {pos} in block at {}",
                    h.offset
                );
            }
        }
        // A scan over a corrupted table stops with the same error.
        let mut bad = file.clone();
        let h = handles[handles.len() / 2];
        bad[(h.offset + h.size / 2) as usize] ^= 0x40;
        assert_eq!(
            scan(bad),
            Err(TableError::ChecksumMismatch { offset: h.offset })
        );
    }
}

#[test]
fn truncated_or_foreign_files_get_clear_errors() {
    let mut rng = Rng::new(0x5eed_0005);
    let file = build(&random_entries(&mut rng, 500), TableOptions::default());
    let n = file.len();
    let open = |bytes: &[u8]| TableIter::new(bytes.to_vec().into()).err();
    assert_eq!(open(&file[..10]), Some(TableError::TooShort { len: 10 }));
    assert!(matches!(
        open(&file[..n - 1]),
        Some(TableError::BadMagic { .. })
    ));
    assert!(matches!(
        open(&file[..n - 100]),
        Some(TableError::BadMagic { .. })
    ));
    let mut future = file.clone();
    future[n - 12..n - 8].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert_eq!(
        open(&future),
        Some(TableError::UnsupportedVersion(FORMAT_VERSION + 1))
    );
    // A valid footer glued to the wrong (shorter) body points past its end.
    let lost_body = file[n - FOOTER_LEN - 10..].to_vec();
    assert!(matches!(open(&lost_body), Some(TableError::Corrupt { .. })));
    for err in [
        TableError::TooShort { len: 10 },
        TableError::BadMagic { found: 7 },
        TableError::UnsupportedVersion(9),
        TableError::ChecksumMismatch { offset: 4096 },
        TableError::Corrupt {
            what: "index block handle",
            offset: 12,
        },
    ] {
        assert!(err.to_string().starts_with("sstable: "), "{err}");
    }
}

/// Wraps `payload` in a valid trailer, so decoders past the CRC see it.
fn with_trailer(payload: &[u8], kind: u8) -> Vec<u8> {
    let mut out = payload.to_vec();
    out.push(kind);
    let crc = masked_crc32c(&[&out]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn exercise_block(block: &Block) {
    let mut it = block.iter();
    it.seek_to_first();
    let mut n = 0;
    while it.valid() && n < 10_000 {
        let _ = (it.key(), it.value());
        it.next();
        n += 1;
    }
    it.seek(b"\x00\x01garbage-target");
    let _ = TableIndex::decode(block).map(|idx| idx.find(b"abcdefghij"));
}

#[test]
fn garbage_never_panics_any_decoder() {
    let mut rng = Rng::new(0x5eed_0006);
    let valid = build(&random_entries(&mut rng, 300), TableOptions::default());
    let valid_block = {
        let h = decode_parts(&valid).index.handle(0).unwrap();
        decode_block_payload(stored(&valid, h), h.offset).unwrap()
    };
    for round in 0..4000 {
        let len = rng.below(if round % 2 == 0 { 40 } else { 400 }) as usize;
        let mut junk = rng.bytes(len);
        if round % 3 == 0 && !junk.is_empty() {
            // Small varints and counts make deeper parses more likely.
            for b in junk.iter_mut() {
                *b &= 0x0f;
            }
        }

        // Blocks: raw, with a valid trailer of each type, and mutated real ones.
        let _ = decode_block(&junk, 0).map(|b| exercise_block(&b));
        for kind in [0, 1, rng.next_u64() as u8] {
            let _ = decode_block(&with_trailer(&junk, kind), 0).map(|b| exercise_block(&b));
        }
        let mut mutated = valid_block.clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(mutated.len() as u64) as usize;
            mutated[at] = rng.next_u64() as u8;
        }
        let _ = Block::from_payload(mutated, 0).map(|b| exercise_block(&b));

        // Footer, alone and with the real magic/version so the CRC is reached.
        let _ = Footer::decode(&junk);
        let mut footer = rng.bytes(48);
        footer.extend_from_slice(&masked_crc32c(&[&footer]).to_le_bytes());
        footer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        footer.extend_from_slice(&MAGIC.to_le_bytes());
        let _ = Footer::decode(&footer).map(|f| f.check_bounds(rng.next_u64()));

        let _ = BloomFilter::decode(junk.clone(), 0).map(|f| f.may_contain(b"key"));
        let _ = TableProperties::decode(&junk, 0);

        // Whole tables: a few bytes of a real one overwritten, or a garbage
        // body behind a footer that passes its checks.
        let mut table = valid.clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(table.len() as u64) as usize;
            table[at] = rng.next_u64() as u8;
        }
        let _ = scan(table);
        let mut body = junk.clone();
        let f = |rng: &mut Rng| BlockHandle {
            offset: rng.below(len as u64 + 1),
            size: rng.below(len as u64 + 1),
        };
        let (index, filter, properties) = (f(&mut rng), f(&mut rng), f(&mut rng));
        Footer {
            index,
            filter,
            properties,
            version: FORMAT_VERSION,
        }
        .encode(&mut body);
        let _ = scan(body);
    }
}

#[test]
fn seek_between_blocks_moves_to_the_next_block() {
    // Separators are shortened, so a target can fall after a block's last
    // key yet before its separator: the table iterator must move on.
    let entries: Vec<Entry> = [
        &b"apple"[..],
        b"apricot",
        b"banana",
        b"blueberry",
        b"cherry",
    ]
    .iter()
    .map(|u| (internal_key(u, 3, Kind::Put), value_field(&[b'x'; 40])))
    .collect();
    let file = build(
        &entries,
        TableOptions {
            block_size: 1,
            ..TableOptions::default()
        },
    );
    assert_eq!(decode_parts(&file).index.len(), entries.len());
    let mut it = TableIter::new(Arc::from(file.clone())).unwrap();
    for (probe, want) in [
        // After "apple", before its separator "apq": continues in the next block.
        (&b"apple\x00"[..], Some(&b"apricot"[..])),
        (b"aq", Some(b"banana")),
        (b"banana\x00", Some(b"blueberry")),
        (b"apricot\x00", Some(b"banana")),
        (b"bm", Some(b"cherry")),
        (b"cherry\x00", None),
        (b"", Some(b"apple")),
    ] {
        it.seek(&seek_key(probe, MAX_SEQNO)).unwrap();
        let got = it.valid().then(|| user_key(it.key()).to_vec());
        assert_eq!(got.as_deref(), want, "seek {probe:?}");
    }
    let index = decode_parts(&file).index;
    assert_eq!(
        index.separator(0),
        &internal_key(b"apq", MAX_SEQNO, Kind::Put)[..]
    );
    assert_eq!(
        index.separator(2),
        &internal_key(b"bb", MAX_SEQNO, Kind::Put)[..]
    );
    // "blueberry" cannot be cut short before "cherry": the key itself.
    assert_eq!(index.separator(3), &entries[3].0[..]);
}
