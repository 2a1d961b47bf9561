//! Whether this node serves a request's keys, as Redis' `getNodeByQuery`
//! decides it (without migrating or importing slots): a pure function of
//! what the node knows ([`View`]) and the keys, in request order.
//!
//! The first key's slot must be assigned (else `CLUSTERDOWN Hash slot not
//! served`); every other key must be the same key or hash to the same slot
//! (else `CROSSSLOT`, even when this node owns both slots); a cluster
//! whose slots are not all assigned is down (`CLUSTERDOWN The cluster is
//! down`, Redis' `cluster-require-full-coverage yes`); a slot owned by
//! another node answers `MOVED <slot> <host>:<port>`. A request without
//! keys is always served.

use super::slot_map::SlotMap;
use crate::errors;
use crate::keyspace::{key_slot, SLOTS};

/// What a node knows of the cluster.
#[derive(Debug, Clone)]
pub struct View {
    /// The map pushed to it (none yet: nothing is served).
    pub map: Option<SlotMap>,
    /// Its own index in the map's nodes (`None`: not in the map).
    pub myself: Option<usize>,
    /// Emulated mode: it owns every slot, whatever the map says.
    pub emulated: bool,
    /// Every slot is assigned.
    pub full_coverage: bool,
}

impl View {
    /// The view of node `my_id` given `map`.
    pub fn new(map: Option<SlotMap>, my_id: &str, emulated: bool) -> View {
        let myself = map
            .as_ref()
            .and_then(|m| m.nodes().iter().position(|n| n.id == my_id));
        let full_coverage = emulated
            || map
                .as_ref()
                .is_some_and(|m| m.assigned_slots() == usize::from(SLOTS));
        View {
            map,
            myself,
            emulated,
            full_coverage,
        }
    }

    /// Whether the cluster is up (CLUSTER INFO `cluster_state:ok`).
    pub fn state_ok(&self) -> bool {
        self.full_coverage
    }
}

/// Why a request is not served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Keys of several slots.
    CrossSlot,
    /// The (first) key's slot has no owner.
    Unbound,
    /// Some slot has no owner: the cluster is down.
    Down,
    /// Another node owns the slot.
    Moved {
        /// The keys' slot.
        slot: u16,
        /// `host:port` of its owner.
        addr: String,
    },
}

impl Refusal {
    /// The error text Redis answers.
    pub fn text(&self) -> String {
        match self {
            Refusal::CrossSlot => errors::CROSSSLOT.to_string(),
            Refusal::Unbound => errors::CLUSTERDOWN_UNBOUND.to_string(),
            Refusal::Down => errors::CLUSTERDOWN.to_string(),
            Refusal::Moved { slot, addr } => errors::moved(*slot, addr),
        }
    }
}

/// Whether the node of `view` serves a request on `keys`.
pub fn check<'a>(view: &View, keys: impl IntoIterator<Item = &'a [u8]>) -> Result<(), Refusal> {
    check_request(view, keys, false)
}

/// Whether the node of `view` serves a request on `keys`; a shard-channel
/// request (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH: `shard_pubsub`) is served
/// while the cluster is down, as Redis does with its default
/// `cluster-allow-pubsubshard-when-down yes` (its slot must still be
/// owned here).
pub fn check_request<'a>(
    view: &View,
    keys: impl IntoIterator<Item = &'a [u8]>,
    shard_pubsub: bool,
) -> Result<(), Refusal> {
    let mut first: Option<(&[u8], u16)> = None;
    for key in keys {
        match first {
            None => {
                let slot = key_slot(key);
                first = Some((key, slot));
                let assigned = view.emulated
                    || view
                        .map
                        .as_ref()
                        .is_some_and(|m| m.owner_index(slot).is_some());
                if !assigned {
                    return Err(Refusal::Unbound);
                }
            }
            Some((k, slot)) => {
                if k != key && key_slot(key) != slot {
                    return Err(Refusal::CrossSlot);
                }
            }
        }
    }
    let Some((_, slot)) = first else {
        return Ok(());
    };
    if view.emulated {
        return Ok(());
    }
    if !view.state_ok() && !shard_pubsub {
        return Err(Refusal::Down);
    }
    let Some(map) = view.map.as_ref() else {
        return Err(Refusal::Unbound);
    };
    match map.owner_index(slot) {
        Some(o) if Some(o) == view.myself => Ok(()),
        Some(o) => Err(Refusal::Moved {
            slot,
            addr: map.nodes()[o].addr(),
        }),
        None => Err(Refusal::Unbound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn two_nodes(me: &str) -> View {
        let text =
            format!("{A} 10.0.0.1 7000 master - 0-8191\n{B} 10.0.0.2 7001 master - 8192-16383");
        View::new(Some(SlotMap::parse(1, &text).unwrap()), me, false)
    }

    fn keys<'a>(k: &'a [&'a str]) -> impl Iterator<Item = &'a [u8]> {
        k.iter().map(|k| k.as_bytes())
    }

    #[test]
    fn owned_slots_are_served_and_others_moved() {
        let view = two_nodes(A);
        // "b" is slot 3300, "foo" is 12182.
        assert_eq!(check(&view, keys(&["b"])), Ok(()));
        assert_eq!(
            check(&view, keys(&["foo"])).unwrap_err().text(),
            "MOVED 12182 10.0.0.2:7001"
        );
        assert_eq!(check(&view, keys(&[])), Ok(()));
        // A node not in the map serves nothing.
        let outsider = two_nodes("cccccccccccccccccccccccccccccccccccccccc");
        assert!(matches!(
            check(&outsider, keys(&["b"])),
            Err(Refusal::Moved { slot: 3300, .. })
        ));
    }

    #[test]
    fn keys_of_two_slots_are_cross_slot_even_on_their_owner() {
        let view = two_nodes(A);
        // "b" (3300) and "hello" (866) are both on A.
        assert_eq!(check(&view, keys(&["b", "hello"])), Err(Refusal::CrossSlot));
        assert_eq!(check(&view, keys(&["b", "b"])), Ok(()));
        assert_eq!(check(&view, keys(&["{b}1", "{b}2"])), Ok(()));
        // Redis checks the first key's owner before the others' slots.
        let empty = View::new(None, A, false);
        assert_eq!(check(&empty, keys(&["b", "hello"])), Err(Refusal::Unbound));
        assert_eq!(
            Refusal::CrossSlot.text(),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
    }

    #[test]
    fn without_a_map_nothing_is_served_and_with_holes_the_cluster_is_down() {
        let empty = View::new(None, A, false);
        assert_eq!(
            check(&empty, keys(&["b"])).unwrap_err().text(),
            "CLUSTERDOWN Hash slot not served"
        );
        let holes = View::new(
            Some(SlotMap::parse(1, &format!("{A} h 1 master - 0-100")).unwrap()),
            A,
            false,
        );
        assert_eq!(check(&holes, keys(&["b"])), Err(Refusal::Unbound));
        assert_eq!(
            check_request(&holes, keys(&["b"]), true),
            Err(Refusal::Unbound)
        );
        let holes = View::new(
            Some(SlotMap::parse(1, &format!("{A} h 1 master - 0-3300")).unwrap()),
            A,
            false,
        );
        // Slot 3300 is assigned, but other slots are not: down.
        assert_eq!(
            check(&holes, keys(&["b"])).unwrap_err().text(),
            "CLUSTERDOWN The cluster is down"
        );
        // Shard channels are served while down, and still redirected.
        assert_eq!(check_request(&holes, keys(&["b"]), true), Ok(()));
        let elsewhere = View::new(
            Some(
                SlotMap::parse(1, &format!("{A} h 1 master - 0-100\n{B} h 2 master - 3300"))
                    .unwrap(),
            ),
            A,
            false,
        );
        assert_eq!(
            check_request(&elsewhere, keys(&["b"]), true)
                .unwrap_err()
                .text(),
            "MOVED 3300 h:2"
        );
    }

    #[test]
    fn emulated_mode_serves_every_slot_but_still_refuses_cross_slot() {
        let view = View::new(None, A, true);
        assert!(view.state_ok());
        assert_eq!(check(&view, keys(&["foo"])), Ok(()));
        assert_eq!(check(&view, keys(&["foo", "b"])), Err(Refusal::CrossSlot));
    }
}
