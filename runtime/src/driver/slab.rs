//! The table of in-flight operations of one driver (a ring or an epoll
//! instance).
//!
//! An operation is named by a token, the SQE's `user_data`: the slot index
//! in the low 32 bits and the slot's generation in the next 30 (bits 62 and
//! 63 are always clear, so a token never equals the driver's reserved
//! tokens near `u64::MAX` nor a multishot token, which has bit 62 set).
//! A slot's generation changes every time it is freed, so a stale token
//! (a second CQE of a zero-copy operation, a
//! cancellation that raced the completion) never reaches the operation
//! that reuses the slot: every lookup checks the generation.
//!
//! A slot is `Waiting` from submission until its completion arrives (with
//! whatever the driver keeps per waiting operation, `P`: nothing for
//! io_uring, the system call to retry for epoll), then
//! `Completed` until the operation's future takes the result. A future
//! dropped while its operation is in flight turns the slot into `Orphaned`,
//! which owns the operation's buffers and resources until the kernel is done
//! with them: only then is the slot freed. So no memory the kernel may still
//! write is ever released.
//!
//! An orphan whose operation finished is not released here: it is handed
//! back to the caller ([`OpSlab::complete`]), which releases it once the
//! driver is no longer borrowed (its buffer's `Drop` may use frys I/O).

use std::task::Waker;

/// What the driver does with the result of an operation nobody awaits any more.
pub(crate) trait Orphan {
    /// Called once, with the CQE result, after the kernel has finished.
    fn completed(self: Box<Self>, result: i32);
}

pub(crate) enum Slot<P> {
    Waiting(Option<Waker>, P),
    Completed { result: i32, flags: u32 },
    Orphaned(Box<dyn Orphan>),
    Free { next: usize },
}

/// A finished orphan and its CQE result, to release outside the driver.
pub(crate) type FinishedOrphan = (Box<dyn Orphan>, i32);

/// What a completion did.
pub(crate) enum Completed {
    /// Wake this future.
    Wake(Waker),
    /// Nobody awaits it: release this orphan.
    Orphan(FinishedOrphan),
    /// Nothing to do (no waker yet, or a stale token).
    Nothing,
}

/// A free-list slab of generation-checked slots.
pub(crate) struct OpSlab<P> {
    slots: Vec<Slot<P>>,
    /// Generation of each slot, parallel to `slots`.
    gens: Vec<u32>,
    free_head: usize,
    in_flight: usize,
}

const NONE: usize = usize::MAX;
const INDEX_BITS: u32 = 32;
const GEN_MASK: u32 = (1 << 30) - 1;

fn token(index: usize, gen: u32) -> u64 {
    (u64::from(gen) << INDEX_BITS) | index as u64
}

impl<P> OpSlab<P> {
    pub(crate) fn new() -> Self {
        Self {
            slots: Vec::new(),
            gens: Vec::new(),
            free_head: NONE,
            in_flight: 0,
        }
    }

    /// Operations the kernel may still be working on (`Waiting` or
    /// `Orphaned` slots).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Takes a slot for a new operation; `None` if 2^32 slots are in use.
    pub(crate) fn insert(&mut self, pending: P) -> Option<u64> {
        let index = if self.free_head == NONE {
            if self.slots.len() > u32::MAX as usize {
                return None;
            }
            self.slots.push(Slot::Waiting(None, pending));
            self.gens.push(0);
            self.slots.len() - 1
        } else {
            let index = self.free_head;
            let next = match self.slots[index] {
                Slot::Free { next } => next,
                // The free list only links free slots.
                _ => unreachable!("free list points at a used slot"),
            };
            self.free_head = next;
            self.slots[index] = Slot::Waiting(None, pending);
            index
        };
        self.in_flight += 1;
        Some(token(index, self.gens[index]))
    }

    /// The slot `token` names, if it is still that operation's.
    fn index(&self, token: u64) -> Option<usize> {
        let index = (token & u64::from(u32::MAX)) as usize;
        let gen = (token >> INDEX_BITS) as u32;
        let live = self.gens.get(index) == Some(&gen)
            && !matches!(self.slots.get(index), None | Some(Slot::Free { .. }));
        live.then_some(index)
    }

    pub(crate) fn get_mut(&mut self, token: u64) -> Option<&mut Slot<P>> {
        let index = self.index(token)?;
        self.slots.get_mut(index)
    }

    /// Frees a slot (a stale token does nothing). A `Waiting` slot (an SQE
    /// that never reached the ring) also leaves the in-flight count.
    pub(crate) fn remove(&mut self, token: u64) {
        if let Some(index) = self.index(token) {
            self.free(index);
        }
    }

    fn free(&mut self, index: usize) {
        if matches!(self.slots[index], Slot::Waiting(..)) {
            self.in_flight -= 1;
        }
        self.slots[index] = Slot::Free {
            next: self.free_head,
        };
        self.gens[index] = self.gens[index].wrapping_add(1) & GEN_MASK;
        self.free_head = index;
    }

    /// Records a completion.
    pub(crate) fn complete(&mut self, token: u64, result: i32, flags: u32) -> Completed {
        let Some(index) = self.index(token) else {
            return Completed::Nothing;
        };
        let slot = &mut self.slots[index];
        match std::mem::replace(slot, Slot::Completed { result, flags }) {
            Slot::Waiting(waker, _) => {
                self.in_flight -= 1;
                waker.map_or(Completed::Nothing, Completed::Wake)
            }
            Slot::Orphaned(orphan) => {
                self.in_flight -= 1;
                self.free(index);
                Completed::Orphan((orphan, result))
            }
            // A second CQE for a slot that is not in flight (a multishot
            // operation's): keep the slot as it was.
            other => {
                *slot = other;
                Completed::Nothing
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

    fn finished(c: Completed) -> Option<FinishedOrphan> {
        match c {
            Completed::Orphan(o) => Some(o),
            _ => None,
        }
    }

    #[test]
    fn orphaned_slot_is_freed_only_at_completion() {
        let mut slab = OpSlab::new();
        let a = slab.insert(()).unwrap();
        let seen = Rc::new(Cell::new(0));
        *slab.get_mut(a).unwrap() = Slot::Orphaned(Box::new(CountOrphan(seen.clone())));
        assert_eq!(slab.in_flight(), 1);
        let b = slab.insert(()).unwrap();
        assert_ne!(a, b, "an orphaned slot must not be reused before its CQE");
        let (orphan, result) = finished(slab.complete(a, 42, 0)).expect("orphan handed back");
        assert_eq!(seen.get(), 0, "released by the caller, not the slab");
        orphan.completed(result);
        assert_eq!(seen.get(), 42);
        assert_eq!(slab.in_flight(), 1, "b is still waiting");
        assert!(matches!(slab.complete(b, 7, 0), Completed::Nothing));
        assert_eq!(slab.in_flight(), 0, "a completed slot is not in flight");
        let c = slab.insert(()).unwrap();
        assert_eq!(c & 0xffff_ffff, a & 0xffff_ffff, "freed slot is reused");
        assert_ne!(c, a, "with a new generation");
    }

    #[test]
    fn a_stale_token_never_reaches_the_operation_reusing_its_slot() {
        let mut slab = OpSlab::new();
        let old = slab.insert(()).unwrap();
        assert!(matches!(slab.complete(old, 1, 0), Completed::Nothing));
        slab.remove(old);
        let new = slab.insert(()).unwrap();
        assert_eq!(new & 0xffff_ffff, old & 0xffff_ffff, "same slot");
        // A late CQE (multishot, zero-copy notification) with the old token.
        assert!(matches!(slab.complete(old, 99, 0), Completed::Nothing));
        assert!(slab.get_mut(old).is_none());
        slab.remove(old);
        assert!(matches!(slab.get_mut(new), Some(Slot::Waiting(None, ()))));
        assert_eq!(slab.in_flight(), 1);
        assert!(matches!(slab.complete(new, 5, 0), Completed::Nothing));
        assert!(matches!(
            slab.get_mut(new),
            Some(Slot::Completed { result: 5, .. })
        ));
        assert!(new >> 62 == 0, "bits 62 and 63 are never set");
    }
}
