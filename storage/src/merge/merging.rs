//! K-way merge of sorted sources with a binary min-heap of child indices.

use std::cmp::Ordering;

use super::EntryIter;
use crate::key::compare_internal_keys;

/// Merges child iterators into one stream ordered by internal key.
///
/// Children are given newest source first: when two children sit on the
/// same internal key, the lower index comes out first. Duplicates are not
/// removed; the views above decide what to keep.
#[derive(Debug)]
pub struct MergingIter<I: EntryIter> {
    children: Vec<I>,
    /// Indices of the valid children, a min-heap under `child_order`.
    heap: Vec<usize>,
}

impl<I: EntryIter> MergingIter<I> {
    /// Merges `children` (newest source first), positioned on the first
    /// entry.
    pub fn new(children: Vec<I>) -> MergingIter<I> {
        let mut merged = MergingIter {
            children,
            heap: Vec::new(),
        };
        merged.seek_to_first();
        merged
    }

    /// The index of the child the current entry comes from.
    pub fn current_source(&self) -> Option<usize> {
        self.heap.first().copied()
    }

    /// The children, to top up their buffers; moving one breaks the merge.
    pub(crate) fn children_mut(&mut self) -> &mut [I] {
        &mut self.children
    }

    /// The children, in the order given.
    pub fn into_children(self) -> Vec<I> {
        self.children
    }

    fn rebuild_heap(&mut self) {
        self.heap.clear();
        self.heap
            .extend((0..self.children.len()).filter(|&i| self.children[i].valid()));
        for at in (0..self.heap.len() / 2).rev() {
            self.sift_down(at);
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if left < self.heap.len() && self.before(left, least) {
                least = left;
            }
            if right < self.heap.len() && self.before(right, least) {
                least = right;
            }
            if least == at {
                return;
            }
            self.heap.swap(at, least);
            at = least;
        }
    }

    /// Whether heap slot `a` comes out before heap slot `b`.
    fn before(&self, a: usize, b: usize) -> bool {
        let (ca, cb) = (self.heap[a], self.heap[b]);
        match compare_internal_keys(self.children[ca].key(), self.children[cb].key()) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => ca < cb,
        }
    }
}

impl<I: EntryIter> EntryIter for MergingIter<I> {
    fn valid(&self) -> bool {
        !self.heap.is_empty()
    }

    fn key(&self) -> &[u8] {
        self.heap.first().map_or(&[], |&c| self.children[c].key())
    }

    fn value(&self) -> &[u8] {
        self.heap.first().map_or(&[], |&c| self.children[c].value())
    }

    fn next(&mut self) {
        let Some(&top) = self.heap.first() else {
            return;
        };
        self.children[top].next();
        if !self.children[top].valid() {
            self.heap.swap_remove(0);
        }
        if !self.heap.is_empty() {
            self.sift_down(0);
        }
    }

    fn seek(&mut self, ikey: &[u8]) {
        for child in &mut self.children {
            child.seek(ikey);
        }
        self.rebuild_heap();
    }

    fn seek_to_first(&mut self) {
        for child in &mut self.children {
            child.seek_to_first();
        }
        self.rebuild_heap();
    }
}
