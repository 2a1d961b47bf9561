//! An [`EntryIter`] over an owned, sorted vector.

use super::EntryIter;
use crate::key::compare_internal_keys;

/// An [`EntryIter`] over `(internal key, value field)` pairs held in memory.
#[derive(Debug, Clone, Default)]
pub struct VecIter {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    pos: usize,
}

impl VecIter {
    /// Sorts `entries` by internal key (stable: equal keys keep their order)
    /// and positions on the first.
    pub fn new(mut entries: Vec<(Vec<u8>, Vec<u8>)>) -> VecIter {
        entries.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
        VecIter { entries, pos: 0 }
    }

    /// The entries, sorted.
    pub fn entries(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.entries
    }
}

impl EntryIter for VecIter {
    fn valid(&self) -> bool {
        self.pos < self.entries.len()
    }

    fn key(&self) -> &[u8] {
        self.entries.get(self.pos).map_or(&[], |e| &e.0)
    }

    fn value(&self) -> &[u8] {
        self.entries.get(self.pos).map_or(&[], |e| &e.1)
    }

    fn next(&mut self) {
        self.pos = (self.pos + 1).min(self.entries.len());
    }

    fn seek(&mut self, ikey: &[u8]) {
        self.pos = self
            .entries
            .partition_point(|e| compare_internal_keys(&e.0, ikey).is_lt());
    }

    fn seek_to_first(&mut self) {
        self.pos = 0;
    }
}
