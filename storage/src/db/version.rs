//! The set of live tables, as the reads see it.
//!
//! A `Version` is immutable; installing a flush or compaction builds a new
//! one. Readers clone the `Rc` and keep using their version across awaits,
//! so a compaction never pulls a table from under a read (the table's file
//! stays open even after it is unlinked).

use std::collections::HashMap;
use std::rc::Rc;

use crate::key;
use crate::manifest::ManifestState;
use crate::table::Table;

pub(crate) struct Version {
    /// `levels[0]` newest first (may overlap); deeper levels sorted by
    /// smallest key, non-overlapping.
    pub(crate) levels: Vec<Vec<Rc<Table>>>,
}

impl Version {
    /// The version described by `state`, using the open `tables`.
    pub(crate) fn from_state(state: &ManifestState, tables: &HashMap<u64, Rc<Table>>) -> Version {
        let levels = state
            .levels()
            .iter()
            .map(|level| {
                level
                    .iter()
                    .filter_map(|m| tables.get(&m.id).cloned())
                    .collect()
            })
            .collect();
        Version { levels }
    }

    /// Tables that may hold `user_key`, in the order a read must look.
    pub(crate) fn candidates<'a>(
        &'a self,
        user_key: &'a [u8],
    ) -> impl Iterator<Item = &'a Rc<Table>> + 'a {
        let l0 = self.levels.first().into_iter().flatten();
        let deeper = self.levels.iter().skip(1).filter_map(move |level| {
            // First table whose largest user key >= user_key.
            let i = level.partition_point(|t| key::user_key(&t.props.largest) < user_key);
            level
                .get(i)
                .filter(|t| key::user_key(&t.props.smallest) <= user_key)
        });
        l0.chain(deeper)
    }
}
