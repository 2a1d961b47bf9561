//! The owned-buffer tasks waiting on one operation of the `futures-io`
//! poll state (see `poll_io`).
//!
//! The driver keeps only the waker of the last task that polled an
//! operation, so every other task waiting on it keeps its waker here. Each
//! wait has a slot of its own (an id it is given on its first pending
//! poll): a later poll replaces that slot's waker, and a wait that is
//! dropped removes its slot (`net::stream`'s wait futures do so).
//! Invariant: the list holds one entry per wait that is pending now, so it
//! is no longer than the number of live waits.

use std::task::Waker;

#[derive(Default)]
pub(crate) struct Waiters {
    slots: Vec<(u64, Waker)>,
    next_id: u64,
}

impl Waiters {
    /// Registers `waker` for the wait with slot `id`, giving it an id
    /// first if it has none.
    pub(crate) fn register(&mut self, id: &mut Option<u64>, waker: &Waker) {
        let id = *id.get_or_insert_with(|| {
            self.next_id += 1;
            self.next_id
        });
        match self.slots.iter_mut().find(|(slot, _)| *slot == id) {
            Some((_, old)) => old.clone_from(waker),
            None => self.slots.push((id, waker.clone())),
        }
    }

    /// Removes the slot `id`; whether it was still here (it is not once
    /// [`take`](Self::take) handed its waker out).
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        match self.slots.iter().position(|(slot, _)| *slot == id) {
            Some(i) => {
                self.slots.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Takes every waker out, for the caller to wake once it no longer
    /// borrows the poll state (a waker runs foreign code).
    pub(crate) fn take(&mut self) -> Vec<Waker> {
        self.slots.drain(..).map(|(_, waker)| waker).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}
