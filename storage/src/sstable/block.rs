//! Blocks: prefix-compressed sorted entries with restart points, and the
//! checksummed, optionally compressed trailer every stored block carries.
//!
//! A [`Block`] is validated in full when it is made, so a [`BlockIter`]
//! never meets malformed bytes; it still reads with checked accessors and
//! goes invalid rather than panic, should that invariant ever break.

use std::cmp::Ordering;
use std::sync::Arc;

use super::coding::{get_u32_le, get_varint32, put_varint};
use super::footer::BlockHandle;
use super::TableError;
use crate::checksum::masked_crc32c;
use crate::key::compare_internal_keys;

/// Bytes after every stored block's payload: type (1) and masked CRC32C (4).
pub const BLOCK_TRAILER_LEN: usize = 5;

const TYPE_NONE: u8 = 0;
const TYPE_LZ4: u8 = 1;
/// lz4 cannot expand input by more than this factor (one byte of input can
/// add at most 255 to a run length).
const LZ4_MAX_RATIO: u64 = 255;

/// Checks a stored block's trailer and returns its uncompressed payload.
///
/// `raw` is the whole stored block (`size` bytes of its [`BlockHandle`],
/// trailer included); `offset` is where it was read from, used only in
/// errors.
pub fn decode_block_payload(raw: &[u8], offset: u64) -> Result<Vec<u8>, TableError> {
    let corrupt = |what| TableError::Corrupt { what, offset };
    let Some(body_len) = raw.len().checked_sub(4) else {
        return Err(corrupt("block shorter than its trailer"));
    };
    let (body, crc) = raw.split_at(body_len);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if body.is_empty() {
        return Err(corrupt("block shorter than its trailer"));
    }
    if masked_crc32c(&[body]) != stored {
        return Err(TableError::ChecksumMismatch { offset });
    }
    let (payload, kind) = body.split_at(body.len() - 1);
    match kind[0] {
        TYPE_NONE => Ok(payload.to_vec()),
        TYPE_LZ4 => decompress_lz4(payload, offset),
        _ => Err(corrupt("block compression type")),
    }
}

/// Checks a stored block's trailer and parses it as a [`Block`].
pub fn decode_block(raw: &[u8], offset: u64) -> Result<Block, TableError> {
    Block::from_payload(decode_block_payload(raw, offset)?, offset)
}

/// A decoded, validated block. Cloning is cheap (the bytes are shared), so
/// a clone is the handle that caches and iterators hold.
#[derive(Clone)]
pub struct Block {
    data: Arc<[u8]>,
    /// Where the restart array starts; entries occupy `data[..restarts_start]`.
    restarts_start: usize,
    num_restarts: usize,
    offset: u64,
}

impl Block {
    /// Parses and validates an uncompressed block payload: every entry in
    /// bounds, restarts pointing exactly at the entries with `shared = 0`,
    /// keys strictly increasing by internal key order.
    pub fn from_payload(payload: Vec<u8>, offset: u64) -> Result<Block, TableError> {
        let corrupt = |what| TableError::Corrupt { what, offset };
        let len = payload.len();
        let count_at = len
            .checked_sub(4)
            .ok_or(corrupt("block shorter than its restart count"))?;
        let num_restarts =
            get_u32_le(&mut &payload[count_at..]).ok_or(corrupt("block restart count"))? as usize;
        let restarts_start = num_restarts
            .checked_mul(4)
            .and_then(|n| count_at.checked_sub(n))
            .ok_or(corrupt("block restart array out of bounds"))?;
        let block = Block {
            data: payload.into(),
            restarts_start,
            num_restarts,
            offset,
        };
        block.validate()?;
        Ok(block)
    }

    /// A cursor over the entries, initially not positioned (not valid).
    pub fn iter(&self) -> BlockIter {
        BlockIter {
            block: self.clone(),
            current: self.restarts_start,
            next: self.restarts_start,
            key: Vec::new(),
            value: (0, 0),
        }
    }

    /// Bytes of the decoded payload (what a cache charges for it).
    pub fn len_bytes(&self) -> usize {
        self.data.len()
    }

    /// Whether the block has no entries.
    pub fn is_empty(&self) -> bool {
        self.restarts_start == 0
    }

    /// File offset the block was read from (as given to the decoder).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn validate(&self) -> Result<(), TableError> {
        let corrupt = |what| TableError::Corrupt {
            what,
            offset: self.offset,
        };
        let mut prev: Vec<u8> = Vec::new();
        let mut key: Vec<u8> = Vec::new();
        let mut pos = 0;
        let mut restart = 0;
        while pos < self.restarts_start {
            let entry = self
                .entry_at(pos)
                .ok_or(corrupt("block entry out of bounds"))?;
            if restart < self.num_restarts && self.restart_offset(restart) == Some(pos) {
                if entry.shared != 0 {
                    return Err(corrupt("block restart entry shares a prefix"));
                }
                restart += 1;
            } else if pos == 0 {
                return Err(corrupt("block does not start at a restart point"));
            }
            let shared_prefix = prev
                .get(..entry.shared)
                .ok_or(corrupt("block entry shares more than the previous key"))?;
            let unshared = self
                .data
                .get(entry.key_start..entry.key_end)
                .ok_or(corrupt("block entry out of bounds"))?;
            key.clear();
            key.extend_from_slice(shared_prefix);
            key.extend_from_slice(unshared);
            if pos > 0 && compare_internal_keys(&prev, &key) != Ordering::Less {
                return Err(corrupt("block keys out of order"));
            }
            std::mem::swap(&mut prev, &mut key);
            pos = entry.value_end;
        }
        if restart != self.num_restarts {
            return Err(corrupt("block restart offset not at an entry"));
        }
        Ok(())
    }

    fn restart_offset(&self, index: usize) -> Option<usize> {
        let at = self.restarts_start.checked_add(index.checked_mul(4)?)?;
        let mut cur = self.data.get(at..)?;
        get_u32_le(&mut cur).map(|o| o as usize)
    }

    /// The full key of restart entry `index` (restart entries share nothing).
    fn restart_key(&self, index: usize) -> &[u8] {
        self.restart_offset(index)
            .and_then(|pos| self.entry_at(pos))
            .and_then(|e| self.data.get(e.key_start..e.key_end))
            .unwrap_or(&[])
    }

    fn entry_at(&self, pos: usize) -> Option<Entry> {
        let mut cur = self.data.get(pos..self.restarts_start)?;
        let before = cur.len();
        let shared = get_varint32(&mut cur)? as usize;
        let unshared = get_varint32(&mut cur)? as usize;
        let value_len = get_varint32(&mut cur)? as usize;
        let key_start = pos + (before - cur.len());
        let key_end = key_start.checked_add(unshared)?;
        let value_end = key_end.checked_add(value_len)?;
        (value_end <= self.restarts_start).then_some(Entry {
            shared,
            key_start,
            key_end,
            value_end,
        })
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("offset", &self.offset)
            .field("len_bytes", &self.data.len())
            .field("num_restarts", &self.num_restarts)
            .finish()
    }
}

struct Entry {
    shared: usize,
    key_start: usize,
    key_end: usize,
    value_end: usize,
}

/// A LevelDB-style cursor over a [`Block`]. It owns a handle to the block,
/// so it may outlive the `Block` it came from.
pub struct BlockIter {
    block: Block,
    /// Offset of the current entry; `restarts_start` when not valid.
    current: usize,
    /// Offset of the entry after the current one.
    next: usize,
    key: Vec<u8>,
    value: (usize, usize),
}

impl BlockIter {
    /// Whether the cursor is at an entry.
    pub fn valid(&self) -> bool {
        self.current < self.block.restarts_start
    }

    /// Moves to the first entry (invalid if the block is empty).
    pub fn seek_to_first(&mut self) {
        self.key.clear();
        self.next = 0;
        self.advance();
    }

    /// Moves to the first entry whose key is `>=` `target` by internal key
    /// order (invalid if there is none). Binary search over the restart
    /// points, then a scan of at most one restart interval.
    pub fn seek(&mut self, target: &[u8]) {
        // Number of restart points whose key is < target.
        let (mut lo, mut hi) = (0, self.block.num_restarts);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if compare_internal_keys(self.block.restart_key(mid), target) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let start = lo.saturating_sub(1);
        self.key.clear();
        self.next = self.block.restart_offset(start).unwrap_or(0);
        self.advance();
        while self.valid() && compare_internal_keys(&self.key, target) == Ordering::Less {
            self.advance();
        }
    }

    /// Moves to the next entry; no-op when not valid.
    pub fn next(&mut self) {
        if self.valid() {
            self.advance();
        }
    }

    /// The current key; empty when not valid.
    pub fn key(&self) -> &[u8] {
        if self.valid() {
            &self.key
        } else {
            &[]
        }
    }

    /// The current value field; empty when not valid.
    pub fn value(&self) -> &[u8] {
        if self.valid() {
            self.block
                .data
                .get(self.value.0..self.value.1)
                .unwrap_or(&[])
        } else {
            &[]
        }
    }

    fn advance(&mut self) {
        let end = self.block.restarts_start;
        let entry = (self.next < end)
            .then(|| self.block.entry_at(self.next))
            .flatten()
            .filter(|e| e.shared <= self.key.len());
        let unshared = entry
            .as_ref()
            .and_then(|e| self.block.data.get(e.key_start..e.key_end));
        let (Some(entry), Some(unshared)) = (entry.as_ref(), unshared) else {
            // End of the block (or, never after validation, a bad entry).
            self.current = end;
            self.next = end;
            return;
        };
        self.key.truncate(entry.shared);
        self.key.extend_from_slice(unshared);
        self.value = (entry.key_end, entry.value_end);
        self.current = self.next;
        self.next = entry.value_end;
    }
}

/// Builds a block payload from entries added in increasing key order.
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    since_restart: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    pub(crate) fn new(restart_interval: usize) -> BlockBuilder {
        BlockBuilder {
            buf: Vec::new(),
            restarts: Vec::new(),
            restart_interval: restart_interval.max(1),
            since_restart: 0,
            last_key: Vec::new(),
        }
    }

    /// Appends an entry. The caller guarantees increasing keys and keeps
    /// the payload below 4 GiB (the table builder caps block and entry
    /// sizes), so offsets fit the u32 restart array.
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.restarts.is_empty() || self.since_restart >= self.restart_interval {
            self.restarts.push(self.buf.len() as u32);
            self.since_restart = 0;
            0
        } else {
            key.iter()
                .zip(&self.last_key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.since_restart += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.restarts.is_empty()
    }

    /// Size of the payload [`finish`](Self::finish) would return.
    pub(crate) fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Returns the payload and resets the builder for the next block.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.since_restart = 0;
        self.last_key.clear();
        out
    }
}

/// Appends `payload` as a stored block (lz4 if `compress` and it saves at
/// least 1/8) and returns its handle.
pub(crate) fn append_block(out: &mut Vec<u8>, payload: &[u8], compress: bool) -> BlockHandle {
    let offset = out.len();
    let mut kind = TYPE_NONE;
    if compress {
        let compressed = lz4_flex::block::compress_prepend_size(payload);
        if compressed.len() <= payload.len() - payload.len() / 8 {
            out.extend_from_slice(&compressed);
            kind = TYPE_LZ4;
        }
    }
    if kind == TYPE_NONE {
        out.extend_from_slice(payload);
    }
    out.push(kind);
    let crc = masked_crc32c(&[&out[offset..]]);
    out.extend_from_slice(&crc.to_le_bytes());
    BlockHandle {
        offset: offset as u64,
        size: (out.len() - offset) as u64,
    }
}

fn decompress_lz4(stored: &[u8], offset: u64) -> Result<Vec<u8>, TableError> {
    let corrupt = |what| TableError::Corrupt { what, offset };
    let mut cur = stored;
    let len = get_u32_le(&mut cur).ok_or(corrupt("lz4 block length"))?;
    // Refuse lengths the input cannot produce before allocating them.
    if u64::from(len) > (cur.len() as u64).saturating_mul(LZ4_MAX_RATIO) + 16 {
        return Err(corrupt("lz4 block length"));
    }
    let mut out = vec![0; len as usize];
    match lz4_flex::block::decompress_into(cur, &mut out) {
        Ok(n) if n == out.len() => Ok(out),
        _ => Err(corrupt("lz4 block data")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{internal_key, Kind};

    fn ikey(user: &str, seq: u64) -> Vec<u8> {
        internal_key(user.as_bytes(), seq, Kind::Put)
    }

    fn build(entries: &[(Vec<u8>, Vec<u8>)], interval: usize) -> Block {
        let mut b = BlockBuilder::new(interval);
        for (k, v) in entries {
            b.add(k, v);
        }
        Block::from_payload(b.finish(), 0).unwrap()
    }

    fn sample(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    ikey(&format!("key{:05}", i * 2), 7),
                    format!("v{i}").into_bytes(),
                )
            })
            .collect()
    }

    #[test]
    fn iteration_returns_every_entry_in_order() {
        for interval in [1, 2, 16, 1000] {
            let entries = sample(100);
            let block = build(&entries, interval);
            let mut it = block.iter();
            assert!(!it.valid());
            it.seek_to_first();
            for (k, v) in &entries {
                assert!(it.valid());
                assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
                it.next();
            }
            assert!(!it.valid());
            assert_eq!(it.key(), b"");
        }
    }

    #[test]
    fn seek_finds_first_key_at_or_after_target() {
        let entries = sample(100);
        let block = build(&entries, 16);
        let mut it = block.iter();
        for (i, (k, _)) in entries.iter().enumerate() {
            it.seek(k);
            assert_eq!(it.key(), &k[..]);
            // An odd number falls between two present keys.
            it.seek(&ikey(&format!("key{:05}", i * 2 + 1), 7));
            match entries.get(i + 1) {
                Some((next, _)) => assert_eq!(it.key(), &next[..]),
                None => assert!(!it.valid()),
            }
        }
        it.seek(b"");
        assert_eq!(it.key(), &entries[0].0[..]);
        // Newer versions sort first: seeking the newest finds the one present.
        it.seek(&ikey("key00004", 100));
        assert_eq!(it.key(), &entries[2].0[..]);
        it.seek(&ikey("key00004", 1));
        assert_eq!(it.key(), &entries[3].0[..]);
    }

    #[test]
    fn empty_block_has_no_entries() {
        let block = build(&[], 16);
        assert!(block.is_empty());
        let mut it = block.iter();
        it.seek_to_first();
        assert!(!it.valid());
        it.seek(b"anything");
        assert!(!it.valid());
    }

    #[test]
    fn malformed_payloads_are_rejected() {
        let good = {
            let mut b = BlockBuilder::new(2);
            for (k, v) in sample(5) {
                b.add(&k, &v);
            }
            b.finish()
        };
        assert!(Block::from_payload(good.clone(), 0).is_ok());
        for bad in [
            vec![],
            vec![1, 0, 0],
            vec![5, 0, 0, 0],
            good[..good.len() - 1].to_vec(),
            good[1..].to_vec(),
        ] {
            assert!(matches!(
                Block::from_payload(bad, 9),
                Err(TableError::Corrupt { offset: 9, .. })
            ));
        }
        // Keys out of order.
        let mut b = BlockBuilder::new(16);
        b.add(&ikey("b", 1), b"");
        b.add(&ikey("a", 1), b"");
        assert!(Block::from_payload(b.finish(), 0).is_err());
    }

    #[test]
    fn compression_is_used_only_when_it_saves_an_eighth() {
        let compressible = vec![b'x'; 4096];
        let mut out = Vec::new();
        let h = append_block(&mut out, &compressible, true);
        assert!((h.size as usize) < compressible.len() / 2);
        assert_eq!(out[h.size as usize - 5], TYPE_LZ4);
        assert_eq!(decode_block_payload(&out, 0).unwrap(), compressible);

        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut out = Vec::new();
        let h = append_block(&mut out, &noise, true);
        assert_eq!(h.size as usize, noise.len() + BLOCK_TRAILER_LEN);
        assert_eq!(out[noise.len()], TYPE_NONE);
        assert_eq!(decode_block_payload(&out, 0).unwrap(), noise);
    }

    #[test]
    fn lz4_length_beyond_what_input_can_produce_is_corrupt() {
        let mut payload = (u32::MAX).to_le_bytes().to_vec();
        payload.extend_from_slice(&[0x10, b'a']);
        payload.push(TYPE_LZ4);
        let crc = masked_crc32c(&[&payload]);
        payload.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode_block_payload(&payload, 3),
            Err(TableError::Corrupt { offset: 3, .. })
        ));
    }
}
