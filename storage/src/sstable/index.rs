//! The decoded index: one separator key and handle per data block.

use std::cmp::Ordering;

use super::block::Block;
use super::footer::BlockHandle;
use super::TableError;
use crate::key::{compare_internal_keys, internal_key, split_internal_key, Kind, MAX_SEQNO};

/// The index of a table, decoded once into flat arrays for binary search.
///
/// Separator `i` is `>=` every key of data block `i` and `<` every key of
/// block `i + 1`. So a point lookup that seeks `target` in the block
/// [`find`](Self::find) returns and runs off that block's end has no match
/// in the table for `target`'s user key; a range scan moves on to the next
/// block instead (see [`TableIter`](super::TableIter)).
#[derive(Debug, Clone)]
pub struct TableIndex {
    /// All separators, concatenated.
    keys: Vec<u8>,
    /// `keys[key_ends[i - 1]..key_ends[i]]` is separator `i`.
    key_ends: Vec<usize>,
    handles: Vec<BlockHandle>,
}

impl TableIndex {
    /// Decodes an index block (as returned by
    /// [`decode_block`](super::decode_block)), checking every handle.
    pub fn decode(block: &Block) -> Result<TableIndex, TableError> {
        let corrupt = |what| TableError::Corrupt {
            what,
            offset: block.offset(),
        };
        let mut index = TableIndex {
            keys: Vec::new(),
            key_ends: Vec::new(),
            handles: Vec::new(),
        };
        let mut it = block.iter();
        it.seek_to_first();
        while it.valid() {
            let mut value = it.value();
            let handle =
                BlockHandle::decode_varint(&mut value).ok_or(corrupt("index block handle"))?;
            if !value.is_empty() {
                return Err(corrupt("index block handle has trailing bytes"));
            }
            if let Some(prev) = index.handles.last() {
                if handle.offset < prev.end() {
                    return Err(corrupt("index block handles overlap"));
                }
            }
            index.keys.extend_from_slice(it.key());
            index.key_ends.push(index.keys.len());
            index.handles.push(handle);
            it.next();
        }
        Ok(index)
    }

    /// The first data block whose separator is `>= ikey`: the only block
    /// that can hold `ikey` or the first key after it. `None` if `ikey` is
    /// past the table's last key.
    pub fn find(&self, ikey: &[u8]) -> Option<BlockHandle> {
        self.handles.get(self.position(ikey)).copied()
    }

    /// Position of the block [`find`](Self::find) returns (`len()` if none).
    pub fn position(&self, ikey: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.handles.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if compare_internal_keys(self.separator(mid), ikey) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Handle of data block `i`.
    pub fn handle(&self, i: usize) -> Option<BlockHandle> {
        self.handles.get(i).copied()
    }

    /// Where the last data block ends (0 without blocks): handles are in
    /// order and do not overlap, so every block lies before it.
    pub fn data_end(&self) -> u64 {
        self.handles.last().map_or(0, |h| h.end())
    }

    /// Separator key of data block `i` (empty if out of range).
    pub fn separator(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(p) => self.key_ends.get(p).copied().unwrap_or(usize::MAX),
            None => 0,
        };
        let end = self.key_ends.get(i).copied().unwrap_or(0);
        self.keys.get(start..end).unwrap_or(&[])
    }

    /// Handles of all data blocks, in key order (for full scans).
    pub fn blocks(&self) -> impl ExactSizeIterator<Item = BlockHandle> + '_ {
        self.handles.iter().copied()
    }

    /// Number of data blocks.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether the table has no data blocks.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

/// A short key `s` with `last <= s < next` (internal key order), given
/// `last < next`: when the user keys differ and `last`'s user key can be
/// cut short before `next`'s, the cut user key with the newest trailer;
/// otherwise `last` itself.
pub(crate) fn separator(last: &[u8], next: &[u8]) -> Vec<u8> {
    let (Some((last_user, _, _)), Some((next_user, _, _))) =
        (split_internal_key(last), split_internal_key(next))
    else {
        return last.to_vec();
    };
    let common = last_user
        .iter()
        .zip(next_user)
        .take_while(|(a, b)| a == b)
        .count();
    if let (Some(&a), Some(&b)) = (last_user.get(common), next_user.get(common)) {
        if a < 0xff && a + 1 < b {
            let mut short = last_user[..common].to_vec();
            short.push(a + 1);
            return internal_key(&short, MAX_SEQNO, Kind::Put);
        }
    }
    last.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sstable::block::BlockBuilder;

    fn ik(user: &[u8], seq: u64) -> Vec<u8> {
        internal_key(user, seq, Kind::Put)
    }

    #[test]
    fn separator_lies_between_last_and_next_and_is_short_when_possible() {
        let cases: &[(&[u8], u64, &[u8], u64)] = &[
            (b"abcdef", 5, b"abzzzz", 9),
            (b"abc", 5, b"abc", 4),
            (b"abc", 5, b"abcd", 9),
            (b"ab\xff", 5, b"ac", 9),
            (b"a", 5, b"b", 9),
            (b"", 5, b"zzz", 9),
        ];
        for &(lu, ls, nu, ns) in cases {
            let (last, next) = (ik(lu, ls), ik(nu, ns));
            let sep = separator(&last, &next);
            assert_ne!(compare_internal_keys(&sep, &last), Ordering::Less);
            assert_eq!(compare_internal_keys(&sep, &next), Ordering::Less);
        }
        assert_eq!(
            separator(&ik(b"abcdef", 5), &ik(b"abzzzz", 9)),
            ik(b"abd", MAX_SEQNO)
        );
    }

    #[test]
    fn find_returns_first_block_whose_separator_is_not_less() {
        let mut b = BlockBuilder::new(1);
        let seps = [ik(b"c", 1), ik(b"f", 1), ik(b"k", 1)];
        for (i, s) in seps.iter().enumerate() {
            let mut v = Vec::new();
            BlockHandle {
                offset: i as u64 * 100,
                size: 100,
            }
            .encode_varint(&mut v);
            b.add(s, &v);
        }
        let block = Block::from_payload(b.finish(), 0).unwrap();
        let index = TableIndex::decode(&block).unwrap();
        assert_eq!(index.len(), 3);
        assert_eq!(index.find(&ik(b"a", 1)).unwrap().offset, 0);
        assert_eq!(index.find(&ik(b"c", 1)).unwrap().offset, 0);
        assert_eq!(index.find(&ik(b"c", 0)).unwrap().offset, 100);
        assert_eq!(index.find(&ik(b"k", 1)).unwrap().offset, 200);
        assert_eq!(index.find(&ik(b"l", 1)), None);
        assert_eq!(index.separator(1), &seps[1][..]);
        assert_eq!(index.separator(3), b"");
        assert_eq!(index.blocks().count(), 3);
    }

    #[test]
    fn overlapping_or_garbage_handles_are_corrupt() {
        let mut b = BlockBuilder::new(1);
        let mut v = Vec::new();
        BlockHandle {
            offset: 0,
            size: 100,
        }
        .encode_varint(&mut v);
        b.add(&ik(b"a", 1), &v);
        b.add(&ik(b"b", 1), &v);
        let block = Block::from_payload(b.finish(), 7).unwrap();
        assert!(matches!(
            TableIndex::decode(&block),
            Err(TableError::Corrupt { offset: 7, .. })
        ));
        let mut b = BlockBuilder::new(1);
        b.add(&ik(b"a", 1), b"\xff");
        let block = Block::from_payload(b.finish(), 7).unwrap();
        assert!(TableIndex::decode(&block).is_err());
    }
}
