//! Cluster mode: this server is one node of a Redis Cluster whose slot
//! map is pushed to it by an operator tool (`shard-server cluster`, over
//! `CLUSTERX SETNODES`), with no gossip between nodes, as Kvrocks and
//! Dragonfly do it.
//!
//! - [`Mode`] is fixed at start (`cluster-enabled no|yes|emulated`).
//! - The node's id (40 hex characters) is generated once and kept in
//!   `<dir>/NODEID`; the last map pushed is kept in `<dir>/SLOTMAP`
//!   (written atomically before it is used), so a restarted node serves at
//!   once; the open slots of a move (CLUSTER SETSLOT MIGRATING /
//!   IMPORTING) are kept in `<dir>/SLOTSTATE` the same way, so a node
//!   restarted mid-move is still mid-move ([`persist`]).
//! - Every request's keys are checked once, in the dispatcher, against
//!   this node's [`View`] ([`check_keys`], rules in [`redirect`]).
//!
//! Invariants: the installed view changes only through [`install`], which
//! serialises pushes, accepts only a higher epoch (or the same epoch with
//! the same map, or FORCE), and persists before it publishes. Each core
//! keeps its own copy of the view and re-reads the shared one only when
//! the generation counter moved, so the per-request check takes no lock
//! and touches no shared cache line but that counter.

mod describe;
pub mod migration;
pub mod persist;
pub mod redirect;
pub mod slot_map;
pub mod transfer;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

pub use describe::{info_text, nodes_text, shards_reply, slots_reply, Me};
pub use migration::SlotAction;
pub use redirect::{Admit, OpenSlot, Refusal, View};
pub use slot_map::{Node, SlotMap, SlotRange, NODE_ID_LEN};

use crate::keyspace::DataDir;

/// How the server takes part in a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not at all: CLUSTER answers that cluster support is disabled.
    Disabled,
    /// A node of a cluster whose map is pushed to it.
    Enabled,
    /// Cluster protocol for one server owning every slot.
    Emulated,
}

impl Mode {
    /// The mode the `cluster-enabled` value names (`no`, `yes`, `emulated`).
    pub fn from_setting(value: &str) -> Mode {
        match value {
            "yes" => Mode::Enabled,
            "emulated" => Mode::Emulated,
            _ => Mode::Disabled,
        }
    }
}

static MODE: AtomicU8 = AtomicU8::new(0);
static MY_ID: OnceLock<String> = OnceLock::new();
static DIR: OnceLock<DataDir> = OnceLock::new();
static VIEW: RwLock<Option<Arc<View>>> = RwLock::new(None);
/// Bumped after every install of a new view.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Serialises [`install`] (epoch check, persist, publish).
static PUSH: Mutex<()> = Mutex::new(());

thread_local! {
    static CACHED: RefCell<(u64, Option<Arc<View>>)> = const { RefCell::new((u64::MAX, None)) };
}

/// The mode fixed at start.
pub fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        1 => Mode::Enabled,
        2 => Mode::Emulated,
        _ => Mode::Disabled,
    }
}

/// Whether cluster mode (pushed or emulated) is on.
pub fn enabled() -> bool {
    mode() != Mode::Disabled
}

/// This node's id (empty when cluster mode is off).
pub fn my_id() -> &'static str {
    MY_ID.get().map_or("", String::as_str)
}

/// Turns cluster mode on at start: loads (or makes) the node id and loads
/// the persisted map of `dir`. Nothing happens when `mode` is disabled.
pub fn start(dir: &DataDir, mode: Mode) -> Result<(), String> {
    if mode == Mode::Disabled {
        return Ok(());
    }
    let id = persist::load_or_create_node_id(dir)?;
    let map = match mode {
        Mode::Enabled => persist::load_map(dir)?,
        _ => None,
    };
    if let Some(m) = map.as_ref().filter(|m| m.node(&id).is_none()) {
        // Every installed map names its node: this one's id changed since.
        return Err(format!(
            "{}: SLOTMAP (epoch {}) does not name this node's id {id}, so the node would redirect clients to its old address: restore NODEID, or remove SLOTMAP and push the node a map again",
            dir.root().display(),
            m.epoch()
        ));
    }
    if let Some(m) = &map {
        tracing::info!(
            epoch = m.epoch(),
            nodes = m.nodes().len(),
            "cluster: loaded the persisted slot map"
        );
    }
    let mut view = View::new(map, &id, mode == Mode::Emulated);
    if mode == Mode::Enabled {
        let (migrating, importing) = persist::load_open_slots(dir)?;
        keep_open_slots(&mut view, migrating, importing);
        if !view.migrating.is_empty() || !view.importing.is_empty() {
            tracing::info!(
                migrating = view.migrating.len(),
                importing = view.importing.len(),
                "cluster: loaded the persisted open slots"
            );
        }
    }
    let _ = MY_ID.set(id);
    let _ = DIR.set(dir.clone());
    MODE.store(
        match mode {
            Mode::Enabled => 1,
            _ => 2,
        },
        Ordering::Relaxed,
    );
    publish(view);
    Ok(())
}

/// Opens in `view` the slots of `migrating` and `importing` its map
/// still allows: a slot stays migrating while this node owns it, and
/// importing while it does not (the marks of a slot that stops migrating
/// are cleared).
fn keep_open_slots(view: &mut View, migrating: persist::OpenSlots, importing: persist::OpenSlots) {
    for (slot, to) in migrating {
        if view.owns(slot) {
            view.migrating.insert(slot, to);
        } else {
            migration::clear_slot(slot);
        }
    }
    for (slot, from) in importing {
        if !view.owns(slot) {
            view.importing.insert(slot, from);
        }
    }
}

/// Persists `view`'s open slots (before it is published).
fn save_open_slots(view: &View) -> Result<(), String> {
    let dir = DIR
        .get()
        .ok_or_else(|| "ERR internal: cluster mode has no data directory".to_string())?;
    persist::save_open_slots(dir, &view.migrating, &view.importing)
        .map_err(|e| format!("ERR could not persist the open slots: {e}"))
}

fn publish(view: View) {
    *VIEW.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(view));
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Runs `f` with this node's current view (this core's copy).
pub fn with_view<R>(f: impl FnOnce(&View) -> R) -> R {
    CACHED.with(|cached| {
        let generation = GENERATION.load(Ordering::Acquire);
        if cached.borrow().0 != generation {
            let shared = VIEW.read().unwrap_or_else(|e| e.into_inner()).clone();
            // A nested call (none today) keeps the copy its caller reads.
            if let Ok(mut c) = cached.try_borrow_mut() {
                *c = (generation, shared);
            }
        }
        let c = cached.borrow();
        match c.1.as_deref() {
            Some(view) => f(view),
            None => f(&View::new(None, my_id(), mode() == Mode::Emulated)),
        }
    })
}

/// Whether this node serves a request on `keys` (always, when cluster
/// mode is off); the refusal's text is the reply.
pub fn check_keys<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Result<(), Refusal> {
    if !enabled() {
        return Ok(());
    }
    with_view(|view| redirect::check(view, keys))
}

/// [`check_keys`] for a shard-channel request (SSUBSCRIBE, SUNSUBSCRIBE,
/// SPUBLISH: `shard_pubsub`), which is served while the cluster is down.
pub fn check_request_keys<'a>(
    keys: impl IntoIterator<Item = &'a [u8]>,
    shard_pubsub: bool,
) -> Result<(), Refusal> {
    if !enabled() {
        return Ok(());
    }
    with_view(|view| redirect::check_request(view, keys, shard_pubsub))
}

/// [`check_request_keys`] telling apart requests on an open slot, for a
/// client whose ASKING flag is `asking` (see [`redirect::check_open`]).
pub fn admit_keys<'a>(
    keys: impl IntoIterator<Item = &'a [u8]>,
    shard_pubsub: bool,
    asking: bool,
) -> Result<Admit, Refusal> {
    if !enabled() {
        return Ok(Admit::Here);
    }
    with_view(|view| redirect::check_open(view, keys, shard_pubsub, asking))
}

/// The check a request that is not a keyed batch item (a barrier, EXEC,
/// a plugin call over several cores) makes again once it holds every
/// lock of its `keys`, for a client whose ASKING flag was `asking`: the
/// slot may have been opened, or given away, since the dispatcher
/// admitted it. An open slot answers `TRYAGAIN` to such a request, as at
/// the dispatcher, so a key being copied away (only ever in an open
/// slot) is never written or read by one. The refusal's text, or `None`
/// (always outside cluster mode).
pub fn refuse_locked<'a>(keys: impl IntoIterator<Item = &'a [u8]>, asking: bool) -> Option<String> {
    if !enabled() {
        return None;
    }
    match admit_keys(keys, false, asking) {
        Ok(Admit::Here) => None,
        Ok(Admit::KeysDecide(_)) => Some(crate::errors::TRYAGAIN.to_string()),
        Err(refusal) => Some(refusal.text()),
    }
}

/// CLUSTER SETSLOT `slot` MIGRATING | IMPORTING | STABLE, with Redis'
/// checks and error texts (the reply's text on refusal).
pub fn set_slot_state(slot: u16, action: SlotAction) -> Result<(), String> {
    if mode() != Mode::Enabled {
        return Err(match mode() {
            Mode::Emulated => crate::errors::SETNODES_EMULATED.to_string(),
            _ => crate::errors::CLUSTER_DISABLED.to_string(),
        });
    }
    let _serial = PUSH.lock().unwrap_or_else(|e| e.into_inner());
    let mut view = with_view(View::clone);
    let known = |id: &str| view.map.as_ref().is_some_and(|m| m.node(id).is_some());
    let stable = action == SlotAction::Stable;
    match action {
        SlotAction::Migrating(to) => {
            if !view.owns(slot) {
                return Err(crate::errors::not_slot_owner(slot));
            }
            if !known(&to) {
                return Err(crate::errors::unknown_node(to.as_bytes()));
            }
            view.migrating.insert(slot, to);
        }
        SlotAction::Importing(from) => {
            if view.owns(slot) {
                return Err(crate::errors::already_slot_owner(slot));
            }
            if !known(&from) {
                return Err(crate::errors::unknown_node(from.as_bytes()));
            }
            view.importing.insert(slot, from);
        }
        SlotAction::Stable => {
            view.migrating.remove(&slot);
            view.importing.remove(&slot);
        }
    }
    save_open_slots(&view)?;
    if stable {
        migration::clear_slot(slot);
    }
    publish(view);
    Ok(())
}

/// Installs a pushed map (CLUSTERX SETNODES): refused when it does not
/// name this node, when its epoch is lower than the current one, or equal with a different map, unless
/// `force`; persisted in the data directory before it is used.
pub fn install(map: SlotMap, force: bool) -> Result<(), String> {
    if mode() != Mode::Enabled {
        return Err(match mode() {
            Mode::Emulated => crate::errors::SETNODES_EMULATED.to_string(),
            _ => crate::errors::CLUSTER_DISABLED.to_string(),
        });
    }
    // Without its own entry the node would send clients MOVED to the
    // address of its old id, or have no slots to serve: no tool flow
    // pushes a map to a node it does not name.
    if map.node(my_id()).is_none() {
        return Err(format!(
            "ERR Invalid cluster nodes info: the map does not name this node ({})",
            my_id()
        ));
    }
    let _serial = PUSH.lock().unwrap_or_else(|e| e.into_inner());
    let current = with_view(|v| v.map.clone());
    if let Some(cur) = &current {
        if !force {
            if map.epoch() < cur.epoch() {
                return Err(format!(
                    "ERR Invalid cluster version: {} is older than the node's {}",
                    map.epoch(),
                    cur.epoch()
                ));
            }
            if map.epoch() == cur.epoch() {
                return if map == *cur {
                    Ok(())
                } else {
                    Err(format!(
                        "ERR Invalid cluster version: the node already has another map of version {}; push a higher version or FORCE",
                        cur.epoch()
                    ))
                };
            }
        }
    }
    let dir = DIR
        .get()
        .ok_or_else(|| "ERR internal: cluster mode has no data directory".to_string())?;
    persist::save_map(dir, &map).map_err(|e| format!("ERR could not persist the slot map: {e}"))?;
    tracing::info!(
        epoch = map.epoch(),
        nodes = map.nodes().len(),
        "cluster: new slot map"
    );
    let mut view = View::new(Some(map), my_id(), false);
    // Open slots stay open while their owner is unchanged: a slot this
    // node gave away stops migrating, a slot it received stops importing.
    let (migrating, importing) = with_view(|v| (v.migrating.clone(), v.importing.clone()));
    let was_open = migrating.len() + importing.len();
    keep_open_slots(&mut view, migrating, importing);
    if view.migrating.len() + view.importing.len() != was_open {
        save_open_slots(&view)?;
    }
    publish(view);
    Ok(())
}

/// The epoch of the installed map (0: none).
pub fn epoch() -> u64 {
    with_view(|v| v.map.as_ref().map_or(0, SlotMap::epoch))
}
