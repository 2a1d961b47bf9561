//! Live slot migration state on one node: which slots are open
//! (CLUSTER SETSLOT MIGRATING / IMPORTING / STABLE, kept in the node's
//! [`super::View`]) and which keys are being copied right now.
//!
//! The operator tool moves a slot's keys one at a time: `CLUSTERX
//! EXPORTKEY` on the owner reads a key under its lock and marks it in
//! flight, the tool replays it on the importing node (ASKING, so it is
//! written there durably before the tool goes on), and `CLUSTERX
//! EXPORTED` deletes it on the owner and clears the mark. While a key is
//! in flight, requests touching it on the owner answer `TRYAGAIN`
//! ([`super::redirect::decide_open`]), so no write lands on the copy being
//! moved and no read sees a key the importing node already changed.
//!
//! Invariants: a key is in flight only while its slot is migrating here
//! (`STABLE`, and a map that gives the slot away, clear the slot's
//! marks); the set is only read or changed under the keys' locks on the
//! slot's core, and the open-slot states change only through
//! [`super::set_slot_state`] and [`super::install`], which persist them
//! (`SLOTSTATE`, [`super::persist`]) before they are used: a node
//! restarted mid-move keeps its slots open, so it still sends clients to
//! the importing node for the keys already moved, and running the same
//! `move-slots` again finishes the move. The in-flight marks are not
//! persisted: a key marked when the node stopped is still stored here
//! (EXPORTED deletes it and clears the mark together), so it is served
//! here again and exported again by the rerun (whose replay starts with
//! DEL).

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::keyspace::key_slot;

/// What CLUSTER SETSLOT asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotAction {
    /// Owned here and moving to the node of this id.
    Migrating(String),
    /// Owned by the node of this id and moving here.
    Importing(String),
    /// Neither (a move ends or is abandoned).
    Stable,
}

/// Keys of migrating slots being copied (slot first, so a slot's marks
/// are one range).
static IN_FLIGHT: Mutex<BTreeSet<(u16, Vec<u8>)>> = Mutex::new(BTreeSet::new());

fn in_flight() -> std::sync::MutexGuard<'static, BTreeSet<(u16, Vec<u8>)>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Marks `key` as being copied away.
pub fn mark_in_flight(key: &[u8]) {
    in_flight().insert((key_slot(key), key.to_vec()));
}

/// Clears `key`'s mark; whether it had one.
pub fn clear_in_flight(key: &[u8]) -> bool {
    in_flight().remove(&(key_slot(key), key.to_vec()))
}

/// Whether `key` is being copied away.
pub fn is_in_flight(key: &[u8]) -> bool {
    let set = in_flight();
    !set.is_empty() && set.contains(&(key_slot(key), key.to_vec()))
}

/// Clears the marks of every key of `slot`.
pub fn clear_slot(slot: u16) {
    let mut set = in_flight();
    let marked: Vec<_> = set
        .range((slot, Vec::new())..)
        .take_while(|(s, _)| *s == slot)
        .cloned()
        .collect();
    for m in marked {
        set.remove(&m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_per_key_and_cleared_by_slot() {
        // "{mig-unit}" keys share one slot no other test uses.
        mark_in_flight(b"{mig-unit}a");
        mark_in_flight(b"{mig-unit}b");
        assert!(is_in_flight(b"{mig-unit}a"));
        assert!(!is_in_flight(b"{mig-unit}c"));
        assert!(clear_in_flight(b"{mig-unit}a"));
        assert!(!clear_in_flight(b"{mig-unit}a"));
        clear_slot(key_slot(b"{mig-unit}b"));
        assert!(!is_in_flight(b"{mig-unit}b"));
    }
}
