//! A cache of decoded blocks with a byte budget and least-recently-used
//! eviction: one per partition, or one shared by a core's partitions
//! (`CoreBudget`).
//!
//! It belongs to one core, so it has no locks: `&mut self` everywhere.
//! Entries live in a slab (`slots`) and are threaded on two index-linked
//! lists: the LRU list (most recent at `head`) and one list per table, so
//! that `get` and `insert` are O(1) and `remove_table` is O(blocks of that
//! table). Handed-out [`Block`]s are shared clones: evicting an entry
//! never invalidates a block a reader still holds.

use std::collections::HashMap;

use super::block::Block;

/// Bytes charged per entry on top of the block's payload (slot, map entry,
/// block header), so that many tiny blocks still count against the budget.
pub const ENTRY_OVERHEAD: usize = 128;

const NIL: usize = usize::MAX;

/// Counters of a [`BlockCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// `get` calls that found the block.
    pub hits: u64,
    /// `get` calls that did not.
    pub misses: u64,
    /// Entries evicted to stay within the budget.
    pub evictions: u64,
    /// Bytes charged by the cached entries (payloads plus overhead).
    pub bytes: usize,
    /// Cached entries.
    pub entries: usize,
    /// The byte budget.
    pub capacity: usize,
}

/// Decoded blocks keyed by `(table key, block offset)`. A table key names
/// one table among all tables using this cache: partitions sharing a cache
/// get theirs from [`new_table_key`](BlockCache::new_table_key), since
/// their file numbers repeat.
pub struct BlockCache {
    capacity: usize,
    map: HashMap<(u64, u64), usize>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Most recently used slot.
    head: usize,
    /// Least recently used slot: the next to evict.
    tail: usize,
    /// First slot of each table's list.
    tables: HashMap<u64, usize>,
    stats: CacheStats,
    next_table_key: u64,
}

struct Slot {
    key: (u64, u64),
    block: Option<Block>,
    charge: usize,
    prev: usize,
    next: usize,
    table_prev: usize,
    table_next: usize,
}

impl BlockCache {
    /// An empty cache that keeps at most `capacity_bytes` charged bytes.
    pub fn new(capacity_bytes: usize) -> BlockCache {
        BlockCache {
            capacity: capacity_bytes,
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            tables: HashMap::new(),
            stats: CacheStats {
                capacity: capacity_bytes,
                ..CacheStats::default()
            },
            next_table_key: 0,
        }
    }

    /// A table key no earlier call returned.
    pub fn new_table_key(&mut self) -> u64 {
        self.next_table_key += 1;
        self.next_table_key
    }

    /// The cached block at `offset` of table `table_id`, marked most
    /// recently used.
    pub fn get(&mut self, table_id: u64, offset: u64) -> Option<Block> {
        let Some(&slot) = self.map.get(&(table_id, offset)) else {
            self.stats.misses += 1;
            return None;
        };
        self.stats.hits += 1;
        self.unlink_lru(slot);
        self.push_front_lru(slot);
        self.slots[slot].block.clone()
    }

    /// Caches `block` (replacing any block at the same key), evicting the
    /// least recently used entries to stay within budget, and returns the
    /// shared handle. A block larger than the whole budget is returned
    /// without being cached.
    pub fn insert(&mut self, table_id: u64, offset: u64, block: Block) -> Block {
        let key = (table_id, offset);
        if let Some(&old) = self.map.get(&key) {
            self.remove_slot(old);
        }
        let charge = block.len_bytes().saturating_add(ENTRY_OVERHEAD);
        if charge > self.capacity {
            return block;
        }
        while self.stats.bytes + charge > self.capacity && self.tail != NIL {
            self.remove_slot(self.tail);
            self.stats.evictions += 1;
        }
        let table_next = self.tables.get(&table_id).copied().unwrap_or(NIL);
        let slot = Slot {
            key,
            block: Some(block.clone()),
            charge,
            prev: NIL,
            next: NIL,
            table_prev: NIL,
            table_next,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        if table_next != NIL {
            self.slots[table_next].table_prev = index;
        }
        self.tables.insert(table_id, index);
        self.push_front_lru(index);
        self.map.insert(key, index);
        self.stats.bytes += charge;
        self.stats.entries += 1;
        block
    }

    /// Drops every cached block of `table_id` (after the table is deleted).
    pub fn remove_table(&mut self, table_id: u64) {
        let mut slot = self.tables.get(&table_id).copied().unwrap_or(NIL);
        while slot != NIL {
            let next = self.slots[slot].table_next;
            self.remove_slot(slot);
            slot = next;
        }
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    fn remove_slot(&mut self, slot: usize) {
        self.unlink_lru(slot);
        let s = &mut self.slots[slot];
        let (key, table_prev, table_next, charge) = (s.key, s.table_prev, s.table_next, s.charge);
        s.block = None;
        if table_prev != NIL {
            self.slots[table_prev].table_next = table_next;
        } else if table_next != NIL {
            self.tables.insert(key.0, table_next);
        } else {
            self.tables.remove(&key.0);
        }
        if table_next != NIL {
            self.slots[table_next].table_prev = table_prev;
        }
        self.map.remove(&key);
        self.free.push(slot);
        self.stats.bytes -= charge;
        self.stats.entries -= 1;
    }

    fn unlink_lru(&mut self, slot: usize) {
        let (prev, next) = (self.slots[slot].prev, self.slots[slot].next);
        if prev != NIL {
            self.slots[prev].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.slots[next].prev = prev;
        } else {
            self.tail = prev;
        }
    }

    fn push_front_lru(&mut self, slot: usize) {
        self.slots[slot].prev = NIL;
        self.slots[slot].next = self.head;
        if self.head != NIL {
            self.slots[self.head].prev = slot;
        } else {
            self.tail = slot;
        }
        self.head = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid block of one entry whose value has `len` bytes.
    fn block_of(len: usize) -> Block {
        use crate::key::{internal_key, Kind};
        let mut b = crate::sstable::block::BlockBuilder::new(16);
        b.add(&internal_key(b"k", 1, Kind::Put), &vec![0; len]);
        Block::from_payload(b.finish(), 0).unwrap()
    }

    fn charge(len: usize) -> usize {
        block_of(len).len_bytes() + ENTRY_OVERHEAD
    }

    #[test]
    fn hits_and_misses_are_counted() {
        let mut c = BlockCache::new(1 << 20);
        assert!(c.get(1, 0).is_none());
        c.insert(1, 0, block_of(100));
        assert_eq!(c.get(1, 0).unwrap().len_bytes(), block_of(100).len_bytes());
        assert!(c.get(1, 1).is_none());
        assert!(c.get(2, 0).is_none());
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries), (1, 3, 1));
        assert_eq!(s.bytes, charge(100));
    }

    #[test]
    fn budget_is_respected_by_evicting_least_recently_used() {
        let per = charge(1000);
        let mut c = BlockCache::new(per * 3);
        for off in 0..3 {
            c.insert(7, off, block_of(1000));
        }
        // Touch 0 so that 1 is now the least recently used.
        assert!(c.get(7, 0).is_some());
        c.insert(7, 3, block_of(1000));
        assert!(c.stats().bytes <= per * 3);
        assert!(c.get(7, 1).is_none(), "LRU entry evicted");
        for off in [0, 2, 3] {
            assert!(c.get(7, off).is_some(), "entry {off} kept");
        }
        // Order now (most recent first): 3, 2, 0. Two more inserts evict 0 then 2.
        c.insert(8, 0, block_of(1000));
        assert!(c.get(7, 0).is_none());
        c.insert(8, 1, block_of(1000));
        assert!(c.get(7, 2).is_none());
        assert!(c.get(7, 3).is_some());
        let s = c.stats();
        assert_eq!((s.evictions, s.entries), (3, 3));
        assert!(s.bytes <= s.capacity);
    }

    #[test]
    fn one_big_insert_evicts_several_and_oversized_blocks_are_not_cached() {
        let mut c = BlockCache::new(charge(3000));
        for off in 0..3 {
            c.insert(1, off, block_of(900));
        }
        let kept = c.insert(1, 9, block_of(2500));
        assert!(kept.len_bytes() > 2500);
        assert!(c.stats().bytes <= c.stats().capacity);
        assert!(c.get(1, 9).is_some());
        let huge = c.insert(1, 10, block_of(5000));
        assert!(huge.len_bytes() > 5000, "handle still returned");
        assert!(c.get(1, 10).is_none());
    }

    #[test]
    fn reinsert_replaces_and_remove_table_drops_only_that_table() {
        let mut c = BlockCache::new(1 << 20);
        for off in 0..5 {
            c.insert(1, off, block_of(10));
            c.insert(2, off, block_of(10));
        }
        c.insert(1, 3, block_of(20));
        assert_eq!(c.stats().entries, 10);
        assert_eq!(c.stats().bytes, 9 * charge(10) + charge(20));
        c.remove_table(1);
        assert_eq!(c.stats().entries, 5);
        assert!((0..5).all(|off| c.get(1, off).is_none()));
        assert!((0..5).all(|off| c.get(2, off).is_some()));
        c.remove_table(1);
        c.remove_table(2);
        assert_eq!((c.stats().entries, c.stats().bytes), (0, 0));
        // Slots are reused after removal, and the lists still work.
        c.insert(3, 0, block_of(10));
        assert!(c.get(3, 0).is_some());
    }
}
