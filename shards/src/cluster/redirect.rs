//! Whether this node serves a request's keys, as Redis' `getNodeByQuery`
//! decides it: a pure function of what the node knows ([`View`]), the
//! keys, in request order, and the client's ASKING flag.
//!
//! The first key's slot must be assigned (else `CLUSTERDOWN Hash slot not
//! served`); every other key must be the same key or hash to the same slot
//! (else `CROSSSLOT`, even when this node owns both slots); a cluster
//! whose slots are not all assigned is down (`CLUSTERDOWN The cluster is
//! down`, Redis' `cluster-require-full-coverage yes`); a slot owned by
//! another node answers `MOVED <slot> <host>:<port>`. A request without
//! keys is always served.
//!
//! A slot being moved is open on both nodes ([`crate::cluster::migration`]):
//! its owner (MIGRATING) serves a request only if it holds every key, so
//! the answer depends on which keys exist, which only the core owning the
//! slot knows: [`check_open`] answers [`Admit::KeysDecide`] and the owner
//! core, holding the keys' locks, finishes with [`decide_open`] (every key
//! here: served; none: `ASK <slot> <host>:<port>` of the importing node;
//! some: `TRYAGAIN`). The importing node serves the slot to a client that
//! sent ASKING (a request of several keys only if it holds them all) and
//! answers MOVED to the owner otherwise. A shard channel (SSUBSCRIBE,
//! SUNSUBSCRIBE, SPUBLISH) of a migrating slot is served by its owner
//! until the move ends, as Redis 7 does.

use std::collections::BTreeMap;

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
    /// Slots this node owns and is moving: slot -> id of the importing node.
    pub migrating: BTreeMap<u16, String>,
    /// Slots this node is receiving: slot -> id of their owner.
    pub importing: BTreeMap<u16, String>,
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
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
        }
    }

    /// Whether this node owns `slot` in its map.
    pub fn owns(&self, slot: u16) -> bool {
        self.myself.is_some()
            && self
                .map
                .as_ref()
                .is_some_and(|m| m.owner_index(slot) == self.myself)
    }

    /// `host:port` of the node `id` of the map.
    fn addr_of(&self, id: &str) -> Option<String> {
        self.map.as_ref()?.node(id).map(|n| n.addr())
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
    /// The slot is migrating and its keys are not (all) here: ask the
    /// importing node.
    Ask {
        /// The keys' slot.
        slot: u16,
        /// `host:port` of the importing node.
        addr: String,
    },
    /// The slot is open and only some of the keys are here (or one is
    /// being copied right now): the client retries.
    TryAgain,
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
            Refusal::Ask { slot, addr } => errors::ask(*slot, addr),
            Refusal::TryAgain => errors::TRYAGAIN.to_string(),
        }
    }
}

/// A slot whose keys are being moved, as the request's check found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenSlot {
    /// This node owns the slot and moves it to the node at `addr`.
    Migrating {
        /// The slot.
        slot: u16,
        /// `host:port` of the importing node.
        addr: String,
    },
    /// This node receives the slot and the client sent ASKING with a
    /// request of several keys.
    Importing,
}

/// What the check admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Served here.
    Here,
    /// Served here only if the keys found here say so ([`decide_open`]).
    KeysDecide(OpenSlot),
}

/// Whether the node of `view` serves a request on `keys` (an open slot
/// counts as served: for callers that cannot look at the keys, see
/// [`check_open`]).
pub fn check<'a>(view: &View, keys: impl IntoIterator<Item = &'a [u8]>) -> Result<(), Refusal> {
    check_request(view, keys, false)
}

/// The end of the decision for an open slot, made on the core owning it
/// while it holds the request's keys' locks: `existing` of the request's
/// distinct keys are stored here, `missing` are not, and `in_flight`
/// says whether one of them is being copied to the importing node.
/// Redis' rules: on the migrating node all keys here are served, none
/// here asks the importing node, some here is `TRYAGAIN`; on the
/// importing node (after ASKING) a multi-key request is served only when
/// every key is here. A key in flight is `TRYAGAIN` (frys' own: Redis
/// moves a key within one call and never shows it half-moved).
pub fn decide_open(
    open: &OpenSlot,
    existing: usize,
    missing: usize,
    in_flight: bool,
) -> Result<(), Refusal> {
    match open {
        OpenSlot::Migrating { .. } if in_flight => Err(Refusal::TryAgain),
        OpenSlot::Migrating { .. } | OpenSlot::Importing if missing == 0 => Ok(()),
        OpenSlot::Migrating { slot, addr } if existing == 0 => Err(Refusal::Ask {
            slot: *slot,
            addr: addr.clone(),
        }),
        _ => Err(Refusal::TryAgain),
    }
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
    check_open(view, keys, shard_pubsub, false).map(|_| ())
}

/// [`check_request`] for a client whose ASKING flag is `asking`, telling
/// apart the requests on an open slot whose keys decide.
pub fn check_open<'a>(
    view: &View,
    keys: impl IntoIterator<Item = &'a [u8]>,
    shard_pubsub: bool,
    asking: bool,
) -> Result<Admit, Refusal> {
    let mut first: Option<(&[u8], u16)> = None;
    let mut several = false;
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
                if k != key {
                    if key_slot(key) != slot {
                        return Err(Refusal::CrossSlot);
                    }
                    several = true;
                }
            }
        }
    }
    let Some((_, slot)) = first else {
        return Ok(Admit::Here);
    };
    if view.emulated {
        return Ok(Admit::Here);
    }
    if !view.state_ok() && !shard_pubsub {
        return Err(Refusal::Down);
    }
    let Some(map) = view.map.as_ref() else {
        return Err(Refusal::Unbound);
    };
    if let Some(to) = view.migrating.get(&slot).filter(|_| view.owns(slot)) {
        // Redis serves a shard channel from the slot's owner until the
        // move ends (a channel is no stored key).
        if shard_pubsub {
            return Ok(Admit::Here);
        }
        if let Some(addr) = view.addr_of(to) {
            return Ok(Admit::KeysDecide(OpenSlot::Migrating { slot, addr }));
        }
    }
    if asking && !view.owns(slot) && view.importing.contains_key(&slot) {
        return Ok(if several {
            Admit::KeysDecide(OpenSlot::Importing)
        } else {
            Admit::Here
        });
    }
    match map.owner_index(slot) {
        Some(o) if Some(o) == view.myself => Ok(Admit::Here),
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

    fn open(me: &str) -> View {
        let mut view = two_nodes(me);
        // Slot 3300 ("b", "{b}1") moves from A to B.
        if me == A {
            view.migrating.insert(3300, B.to_string());
        } else {
            view.importing.insert(3300, A.to_string());
        }
        view
    }

    #[test]
    fn a_migrating_slot_lets_the_keys_decide_on_its_owner() {
        let view = open(A);
        let want = Admit::KeysDecide(OpenSlot::Migrating {
            slot: 3300,
            addr: "10.0.0.2:7001".into(),
        });
        assert_eq!(
            check_open(&view, keys(&["b"]), false, false),
            Ok(want.clone())
        );
        assert_eq!(
            check_open(&view, keys(&["{b}1", "b"]), false, true),
            Ok(want)
        );
        // Other slots are not affected; keyless requests are served.
        assert_eq!(
            check_open(&view, keys(&["hello"]), false, false),
            Ok(Admit::Here)
        );
        assert_eq!(check_open(&view, keys(&[]), false, false), Ok(Admit::Here));
        // Shard channels stay on the owner until the move ends, as in Redis.
        assert_eq!(
            check_open(&view, keys(&["b"]), true, false),
            Ok(Admit::Here)
        );
        // Once the map gives the slot away, MIGRATING no longer applies.
        let mut moved = two_nodes(A);
        moved.map = Some(
            SlotMap::parse(
                2,
                &format!("{A} h 1 master - 0-3299 3301-8191\n{B} h 2 master - 3300 8192-16383"),
            )
            .unwrap(),
        );
        moved.migrating.insert(3300, B.to_string());
        assert_eq!(
            check(&moved, keys(&["b"])).unwrap_err().text(),
            "MOVED 3300 h:2"
        );
    }

    #[test]
    fn an_importing_slot_is_served_only_after_asking() {
        let view = open(B);
        assert_eq!(
            check_open(&view, keys(&["b"]), false, false)
                .unwrap_err()
                .text(),
            "MOVED 3300 10.0.0.1:7000"
        );
        assert_eq!(
            check_open(&view, keys(&["b"]), false, true),
            Ok(Admit::Here)
        );
        assert_eq!(
            check_open(&view, keys(&["b", "b"]), false, true),
            Ok(Admit::Here)
        );
        assert_eq!(
            check_open(&view, keys(&["b", "{b}1"]), false, true),
            Ok(Admit::KeysDecide(OpenSlot::Importing))
        );
        // ASKING does not open a slot that is not importing.
        assert_eq!(
            check_open(&two_nodes(B), keys(&["b"]), false, true)
                .unwrap_err()
                .text(),
            "MOVED 3300 10.0.0.1:7000"
        );
    }

    #[test]
    fn the_keys_found_decide_between_serving_ask_and_tryagain() {
        let migrating = OpenSlot::Migrating {
            slot: 3300,
            addr: "10.0.0.2:7001".into(),
        };
        assert_eq!(decide_open(&migrating, 2, 0, false), Ok(()));
        assert_eq!(
            decide_open(&migrating, 0, 1, false).unwrap_err().text(),
            "ASK 3300 10.0.0.2:7001"
        );
        assert_eq!(
            decide_open(&migrating, 1, 1, false).unwrap_err().text(),
            "TRYAGAIN Multiple keys request during rehashing of slot"
        );
        // A key being copied is never served from the copy being moved.
        assert_eq!(decide_open(&migrating, 1, 0, true), Err(Refusal::TryAgain));
        assert_eq!(decide_open(&OpenSlot::Importing, 2, 0, false), Ok(()));
        assert_eq!(
            decide_open(&OpenSlot::Importing, 1, 1, false),
            Err(Refusal::TryAgain)
        );
        assert_eq!(
            decide_open(&OpenSlot::Importing, 0, 2, false),
            Err(Refusal::TryAgain)
        );
    }
}
