//! The table of in-flight operations of one ring.
//!
//! A slot's index is the SQE's `user_data`. A slot is `Waiting` from
//! submission until its completion arrives, then `Completed` until the
//! operation's future takes the result. A future dropped while its operation
//! is in flight turns the slot into `Orphaned`, which owns the operation's
//! buffers and resources until the kernel is done with them: only then is the
//! slot freed. So no memory the kernel may still write is ever released.

use std::task::Waker;

/// What the driver does with the result of an operation nobody awaits any more.
pub(crate) trait Orphan {
    /// Called once, with the CQE result, after the kernel has finished.
    fn completed(self: Box<Self>, result: i32);
}

pub(crate) enum Slot {
    Waiting(Option<Waker>),
    Completed { result: i32, flags: u32 },
    Orphaned(Box<dyn Orphan>),
    Free { next: usize },
}

/// A free-list slab; indices stay valid until `remove`.
pub(crate) struct OpSlab {
    slots: Vec<Slot>,
    free_head: usize,
    in_flight: usize,
}

const NONE: usize = usize::MAX;

impl OpSlab {
    pub(crate) fn new() -> Self {
        Self {
            slots: Vec::new(),
            free_head: NONE,
            in_flight: 0,
        }
    }

    /// Operations the kernel may still be working on (`Waiting` or
    /// `Orphaned` slots).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub(crate) fn insert(&mut self) -> usize {
        self.in_flight += 1;
        if self.free_head == NONE {
            self.slots.push(Slot::Waiting(None));
            return self.slots.len() - 1;
        }
        let index = self.free_head;
        let next = match self.slots[index] {
            Slot::Free { next } => next,
            // The free list only links free slots.
            _ => unreachable!("free list points at a used slot"),
        };
        self.free_head = next;
        self.slots[index] = Slot::Waiting(None);
        index
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut Slot> {
        self.slots.get_mut(index)
    }

    /// Frees a slot. A `Waiting` slot (an SQE that never reached the ring)
    /// also leaves the in-flight count.
    pub(crate) fn remove(&mut self, index: usize) {
        if matches!(self.slots[index], Slot::Waiting(_)) {
            self.in_flight -= 1;
        }
        self.slots[index] = Slot::Free {
            next: self.free_head,
        };
        self.free_head = index;
    }

    /// Records a completion; returns the waker to wake, if any.
    pub(crate) fn complete(&mut self, index: usize, result: i32, flags: u32) -> Option<Waker> {
        let slot = self.slots.get_mut(index)?;
        match std::mem::replace(slot, Slot::Completed { result, flags }) {
            Slot::Waiting(waker) => {
                self.in_flight -= 1;
                waker
            }
            Slot::Orphaned(orphan) => {
                self.in_flight -= 1;
                self.remove(index);
                orphan.completed(result);
                None
            }
            // A CQE for a slot that is not in flight: only possible for a
            // second CQE of an operation; keep the slot as it was.
            other => {
                *slot = other;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    struct CountOrphan(Rc<Cell<i32>>);
    impl Orphan for CountOrphan {
        fn completed(self: Box<Self>, result: i32) {
            self.0.set(result);
        }
    }

    #[test]
    fn orphaned_slot_is_freed_only_at_completion() {
        let mut slab = OpSlab::new();
        let a = slab.insert();
        let seen = Rc::new(Cell::new(0));
        *slab.get_mut(a).unwrap() = Slot::Orphaned(Box::new(CountOrphan(seen.clone())));
        assert_eq!(slab.in_flight(), 1);
        let b = slab.insert();
        assert_ne!(a, b, "an orphaned slot must not be reused before its CQE");
        assert!(slab.complete(a, 42, 0).is_none());
        assert_eq!(seen.get(), 42);
        assert_eq!(slab.in_flight(), 1, "b is still waiting");
        assert!(slab.complete(b, 7, 0).is_none());
        assert_eq!(slab.in_flight(), 0, "a completed slot is not in flight");
        assert_eq!(slab.insert(), a, "freed slot is reused");
    }
}
