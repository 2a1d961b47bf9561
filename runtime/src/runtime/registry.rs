//! The started tasks of one core, so that shutdown can drop every live
//! future on the thread that owns it. Owner thread only.

use std::sync::atomic::Ordering;

use crate::task::{TaskRef, NO_SLOT};

#[derive(Default)]
pub(crate) struct Registry {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
}

impl Registry {
    /// Registers `task` unless it already is.
    pub(crate) fn insert(&mut self, task: &TaskRef) {
        let header = task.header();
        if header.registry_slot.load(Ordering::Relaxed) != NO_SLOT {
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(task.clone());
                slot
            }
            None => {
                self.slots.push(Some(task.clone()));
                self.slots.len() - 1
            }
        };
        header.registry_slot.store(slot, Ordering::Relaxed);
    }

    pub(crate) fn remove(&mut self, task: &TaskRef) {
        let slot = task.header().registry_slot.swap(NO_SLOT, Ordering::Relaxed);
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = None;
            self.free.push(slot);
        }
    }

    /// Takes every registered task out.
    pub(crate) fn drain(&mut self) -> Vec<TaskRef> {
        self.free.clear();
        let tasks: Vec<TaskRef> = self.slots.drain(..).flatten().collect();
        for t in &tasks {
            t.header().registry_slot.store(NO_SLOT, Ordering::Relaxed);
        }
        tasks
    }
}
