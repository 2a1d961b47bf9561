//! The runtime-wide table of task queues: a queue's name and shares, by
//! slot.
//!
//! Invariants:
//! - Slots are filled in order, once, and never emptied or reused: a slot
//!   index names one queue for the runtime's whole life. Slot 0 is the
//!   default queue, filled when the table is made.
//! - A slot is filled (under `create`, a lock taken only to create a
//!   queue, never on a scheduling path) before its index is handed out in
//!   a [`TaskQueue`](super::TaskQueue), so every index a task carries names
//!   a filled slot on every core (the task reached that core through a
//!   queue or channel that orders it after the creation).
//! - Reading a slot is one `OnceLock::get`: lock-free, from any core.

use std::sync::{Arc, Mutex, OnceLock};

/// Queues a runtime can have, the default one included (Seastar allows 16
/// scheduling groups too). Each core keeps a stealable deque per slot.
pub(crate) const MAX_QUEUES: usize = 16;

/// Shares of the default queue, where every task goes unless told.
pub const DEFAULT_SHARES: u32 = 100;

/// Largest accepted shares (as Seastar's scheduling groups).
pub const MAX_SHARES: u32 = 1000;

/// Name of the default queue.
pub(crate) const DEFAULT_NAME: &str = "default";

/// What a queue is: its name and its shares.
#[derive(Debug)]
pub(crate) struct QueueSpec {
    pub(crate) name: Arc<str>,
    pub(crate) shares: u32,
}

/// Why a slot could not be given out.
pub(crate) enum CreateError {
    /// A queue of that name exists, in this slot.
    Exists(usize),
    /// Every slot is taken.
    Full,
}

pub(crate) struct QueueTable {
    slots: [OnceLock<QueueSpec>; MAX_QUEUES],
    /// Serializes creations (so names stay unique); never taken to read.
    create: Mutex<()>,
}

impl QueueTable {
    pub(crate) fn new() -> Self {
        let table = Self {
            slots: Default::default(),
            create: Mutex::new(()),
        };
        let _ = table.slots[0].set(QueueSpec {
            name: DEFAULT_NAME.into(),
            shares: DEFAULT_SHARES,
        });
        table
    }

    /// Fills the first free slot with a queue named `name`, unless that
    /// name is taken or no slot is free.
    pub(crate) fn create(&self, name: &str, shares: u32) -> Result<usize, CreateError> {
        // A panic while holding the lock cannot leave a slot half-filled
        // (`OnceLock::set` is all or nothing), so a poisoned lock is fine.
        let _guard = self.create.lock().unwrap_or_else(|p| p.into_inner());
        for (index, slot) in self.slots.iter().enumerate() {
            match slot.get() {
                Some(spec) if &*spec.name == name => return Err(CreateError::Exists(index)),
                Some(_) => {}
                None => {
                    let _ = slot.set(QueueSpec {
                        name: name.into(),
                        shares,
                    });
                    return Ok(index);
                }
            }
        }
        Err(CreateError::Full)
    }

    /// The queue in slot `index`, if it was created.
    pub(crate) fn get(&self, index: usize) -> Option<&QueueSpec> {
        self.slots.get(index).and_then(OnceLock::get)
    }

    /// Every created queue, by slot.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &QueueSpec)> {
        self.slots.iter().map_while(OnceLock::get).enumerate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_slots_run_out() {
        let t = QueueTable::new();
        assert!(matches!(
            t.create("default", 5),
            Err(CreateError::Exists(0))
        ));
        assert_eq!(t.create("a", 1).ok(), Some(1));
        assert!(matches!(t.create("a", 7), Err(CreateError::Exists(1))));
        for i in 2..MAX_QUEUES {
            assert_eq!(t.create(&format!("q{i}"), 1).ok(), Some(i));
        }
        assert!(matches!(
            t.create("one too many", 1),
            Err(CreateError::Full)
        ));
        assert_eq!(t.iter().count(), MAX_QUEUES);
        assert_eq!(t.get(1).map(|s| s.shares), Some(1));
    }
}
