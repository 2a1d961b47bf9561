//! Moving slots with their keys while clients keep working (Redis'
//! `redis-cli --cluster reshard` flow, over frys' commands):
//!
//! The slots go in steps of [`SLOTS_PER_STEP`] (of one owner and one
//! receiver), so a slot is open (and refuses transactions and barriers
//! with `TRYAGAIN`) only while its own step runs, and keys moved early
//! are not asked for (`ASK`) until the whole move ends. Per step:
//!
//! 1. its slots are opened: `CLUSTER SETSLOT <slot> IMPORTING <owner>`
//!    on the receiving node, then `MIGRATING <receiver>` on the owner;
//! 2. the owner's keys of each slot are moved one at a time:
//!    `CLUSTERX EXPORTKEY` (the owner marks the key in flight and answers
//!    the commands that rebuild it), the commands are replayed on the
//!    receiver after ASKING (each acknowledged, hence durable, there), then
//!    `CLUSTERX EXPORTED` deletes the key on the owner; until the slot's
//!    `CLUSTER GETKEYSINSLOT` answers no key (the owner creates none in a
//!    migrating slot: a request on missing keys is sent to the receiver
//!    with `ASK`);
//! 3. the map with the step's slots given to the receiver (next epoch)
//!    is pushed to the receiver first, then to the owner, then to the
//!    other nodes; installing it closes the slots.
//!
//! Whatever else the planned map changes (slots that had no owner) is
//! pushed last, as one more epoch.
//!
//! An interrupted move is resumable, not undone: the slots stay open (and
//! served: clients are sent where each key is) and running the same
//! `move-slots` again opens them again (idempotent), moves the keys left
//! (a key left in flight is exported again; the replay starts with DEL)
//! and pushes the map (the open-slot states are persisted, so this holds
//! across a restart of either node). Before a move starts, the tool
//! refuses to move a slot whose keys a third node holds (an interrupted
//! move to that node, to finish first), and a slot whose keys the
//! receiver holds while the owner does not have it MIGRATING (an
//! abandoned move: resuming would overwrite the receiver's keys).

use super::client::{Auth, Client, Value};
use super::{plan, push_to};
use crate::cluster::{Node, SlotMap, SlotRange};

/// Keys asked for per CLUSTER GETKEYSINSLOT.
const KEYS_PER_ROUND: usize = 256;
/// Slots opened, moved and handed over together (one epoch each step).
const SLOTS_PER_STEP: usize = 16;

/// Moves the keys of `moved` from their owners in `old` to their owners
/// in `next`, step by step, each step pushing a map of the next epoch;
/// progress lines go to `progress`. The map every node has at the end:
/// `next`'s assignment, at the epoch the steps reached.
pub fn move_live(
    old: &SlotMap,
    next: &SlotMap,
    moved: &[u16],
    auth: &Auth,
    progress: &mut dyn FnMut(String),
) -> Result<SlotMap, String> {
    let mut pairs: Vec<(usize, usize, Vec<u16>)> = Vec::new();
    for &slot in moved {
        let (Some(from), Some(to)) = (old.owner_index(slot), next.owner_index(slot)) else {
            continue;
        };
        let to = old
            .nodes()
            .iter()
            .position(|n| n.id == next.nodes()[to].id)
            .ok_or_else(|| format!("slot {slot}: its new owner is not in the cluster yet"))?;
        match pairs.iter_mut().find(|(f, t, _)| (*f, *t) == (from, to)) {
            Some((_, _, slots)) => slots.push(slot),
            None => pairs.push((from, to, vec![slot])),
        }
    }
    for (from, to, slots) in &pairs {
        refuse_foreign_keys(old, *from, *to, slots, auth)?;
        refuse_abandoned(&old.nodes()[*from], &old.nodes()[*to], slots, auth)?;
    }
    let total = pairs.iter().map(|(_, _, s)| s.len()).sum::<usize>();
    let (mut done, mut keys) = (0usize, 0usize);
    let mut current = old.clone();
    for (from, to, slots) in &pairs {
        let (a, b) = (&old.nodes()[*from], &old.nodes()[*to]);
        let mut owner = Client::connect(&a.addr(), auth)?;
        let mut receiver = Client::connect(&b.addr(), auth)?;
        for step in slots.chunks(SLOTS_PER_STEP) {
            open_slots(&mut owner, &mut receiver, a, b, step)?;
            for &slot in step {
                let n = move_slot_keys(&mut owner, &mut receiver, slot)
                    .map_err(|e| interrupted(slot, a, b, &e))?;
                done += 1;
                keys += n;
                progress(format!(
                    "slot {slot}: {n} keys moved from {} to {} ({done}/{total} slots, {keys} keys)",
                    a.addr(),
                    b.addr()
                ));
            }
            let ranges: Vec<SlotRange> = step
                .iter()
                .map(|&s| SlotRange { start: s, end: s })
                .collect();
            current = plan::move_slots(&current, &ranges, &b.id)?.0;
            let (first, rest): (Vec<Node>, Vec<Node>) =
                current.nodes().iter().cloned().partition(|n| n.id == b.id);
            let (second, third): (Vec<Node>, Vec<Node>) =
                rest.into_iter().partition(|n| n.id == a.id);
            for group in [first, second, third] {
                push_to(&current, &group, false, auth)?;
            }
        }
    }
    if current.to_text() == next.to_text() {
        // Every node has it (again: a rerun converges a failed push).
        push_to(&current, current.nodes(), false, auth)?;
        return Ok(current);
    }
    let next = SlotMap::new(plan::next_epoch(&current)?, next.nodes().to_vec())?;
    let (first, rest): (Vec<Node>, Vec<Node>) = next
        .nodes()
        .iter()
        .cloned()
        .partition(|n| pairs.iter().any(|(_, to, _)| old.nodes()[*to].id == n.id));
    let (second, third): (Vec<Node>, Vec<Node>) = rest.into_iter().partition(|n| {
        pairs
            .iter()
            .any(|(from, _, _)| old.nodes()[*from].id == n.id)
    });
    for group in [first, second, third] {
        push_to(&next, &group, false, auth)?;
    }
    Ok(next)
}

fn interrupted(slot: u16, a: &Node, b: &Node, e: &str) -> String {
    format!(
        "the move stopped at slot {slot} ({} to {}): {e}; the slots stay open and served, run the same command again to finish the move",
        a.addr(),
        b.addr()
    )
}

/// Refuses when a node other than the owner (`from`) and the receiver
/// (`to`) holds keys of `slots`: an earlier move to it was interrupted.
fn refuse_foreign_keys(
    map: &SlotMap,
    from: usize,
    to: usize,
    slots: &[u16],
    auth: &Auth,
) -> Result<(), String> {
    for (i, node) in map.nodes().iter().enumerate() {
        if i == from || i == to {
            continue;
        }
        let mut c = Client::connect(&node.addr(), auth)?;
        let commands: Vec<Vec<String>> = slots
            .iter()
            .map(|s| vec!["CLUSTER".into(), "COUNTKEYSINSLOT".into(), s.to_string()])
            .collect();
        for (slot, reply) in slots.iter().zip(c.pipeline(&commands)?) {
            let n = reply
                .int()
                .map_err(|e| format!("{}: CLUSTER COUNTKEYSINSLOT {slot}: {e}", node.addr()))?;
            if n > 0 {
                return Err(format!(
                    "slot {slot} has {n} keys on {}, which does not own it: a move of it to that node was interrupted; finish it first (move-slots {slot} {})",
                    node.addr(),
                    node.addr()
                ));
            }
        }
    }
    Ok(())
}

/// Refuses when the receiver `b` already holds keys of one of `slots`
/// that the owner `a` does not have MIGRATING to it: a move was
/// interrupted and then abandoned (`CLUSTER SETSLOT STABLE` on the owner)
/// or lost its state, so the owner may have served and written those
/// keys as new ones since; resuming would replace the receiver's keys
/// with the owner's.
fn refuse_abandoned(a: &Node, b: &Node, slots: &[u16], auth: &Auth) -> Result<(), String> {
    let mut owner = Client::connect(&a.addr(), auth)?;
    let nodes = owner
        .call(&["CLUSTER", "NODES"])?
        .text()
        .map_err(|e| format!("{}: CLUSTER NODES: {e}", a.addr()))?;
    let migrating = migrating_to(&nodes, &b.id);
    let mut receiver = Client::connect(&b.addr(), auth)?;
    let commands: Vec<Vec<String>> = slots
        .iter()
        .map(|s| vec!["CLUSTER".into(), "COUNTKEYSINSLOT".into(), s.to_string()])
        .collect();
    for (slot, reply) in slots.iter().zip(receiver.pipeline(&commands)?) {
        let n = reply
            .int()
            .map_err(|e| format!("{}: CLUSTER COUNTKEYSINSLOT {slot}: {e}", b.addr()))?;
        if n > 0 && !migrating.contains(slot) {
            return Err(format!(
                "slot {slot}: {} already holds {n} keys of it, but its owner {} does not have it MIGRATING to that node (an earlier move was abandoned or its state lost): resuming would replace those keys with the owner's; compare the keys on both nodes and reconcile them by hand first",
                b.addr(),
                a.addr()
            ));
        }
    }
    Ok(())
}

/// The slots a node's CLUSTER NODES text (its `myself` line) shows as
/// migrating to the node `to` (`[slot->-id]`).
fn migrating_to(nodes: &str, to: &str) -> Vec<u16> {
    let Some(me) = nodes.lines().find(|l| l.contains("myself")) else {
        return Vec::new();
    };
    me.split(' ')
        .filter_map(|part| {
            let inner = part.strip_prefix('[')?.strip_suffix(']')?;
            let (slot, id) = inner.split_once("->-")?;
            (id == to).then(|| slot.parse().ok()).flatten()
        })
        .collect()
}

/// Opens `slots` on the receiver `b` (IMPORTING) and then the owner `a`
/// (MIGRATING), as Redis' resharding does.
fn open_slots(
    owner: &mut Client,
    receiver: &mut Client,
    a: &Node,
    b: &Node,
    slots: &[u16],
) -> Result<(), String> {
    let setslot = |slot: u16, state: &str, id: &str| {
        vec![
            "CLUSTER".to_string(),
            "SETSLOT".into(),
            slot.to_string(),
            state.into(),
            id.into(),
        ]
    };
    let importing: Vec<_> = slots
        .iter()
        .map(|&s| setslot(s, "IMPORTING", &a.id))
        .collect();
    let migrating: Vec<_> = slots
        .iter()
        .map(|&s| setslot(s, "MIGRATING", &b.id))
        .collect();
    for (client, commands) in [(receiver, importing), (owner, migrating)] {
        for (reply, cmd) in client.pipeline(&commands)?.into_iter().zip(&commands) {
            reply
                .text()
                .map_err(|e| format!("{}: {}: {e}", client.addr(), cmd.join(" ")))?;
        }
    }
    Ok(())
}

/// Moves every key of `slot` from `owner` to `receiver`; how many moved.
fn move_slot_keys(owner: &mut Client, receiver: &mut Client, slot: u16) -> Result<usize, String> {
    let mut moved = 0;
    loop {
        let reply = owner.call(&[
            "CLUSTER",
            "GETKEYSINSLOT",
            &slot.to_string(),
            &KEYS_PER_ROUND.to_string(),
        ])?;
        let keys = match reply {
            Value::Array(Some(keys)) => keys,
            Value::Error(e) => return Err(format!("CLUSTER GETKEYSINSLOT: {e}")),
            other => return Err(format!("CLUSTER GETKEYSINSLOT: unexpected reply {other:?}")),
        };
        if keys.is_empty() {
            return Ok(moved);
        }
        for key in keys {
            let Value::Bulk(Some(key)) = key else {
                return Err(format!(
                    "CLUSTER GETKEYSINSLOT: a key is not a bulk: {key:?}"
                ));
            };
            if move_key(owner, receiver, &key)? {
                moved += 1;
            }
        }
    }
}

/// Moves one key; false when it no longer exists (expired meanwhile).
fn move_key(owner: &mut Client, receiver: &mut Client, key: &[u8]) -> Result<bool, String> {
    let name = String::from_utf8_lossy(key).into_owned();
    let commands = match owner.call_raw(&[b"CLUSTERX", b"EXPORTKEY", key])? {
        Value::Bulk(None) => return Ok(false),
        Value::Array(Some(commands)) => commands,
        Value::Error(e) => return Err(format!("CLUSTERX EXPORTKEY {name}: {e}")),
        other => {
            return Err(format!(
                "CLUSTERX EXPORTKEY {name}: unexpected reply {other:?}"
            ))
        }
    };
    let mut replay: Vec<Vec<Vec<u8>>> = Vec::with_capacity(commands.len() * 2);
    for command in commands {
        let Value::Array(Some(args)) = command else {
            return Err(format!(
                "CLUSTERX EXPORTKEY {name}: a command is not an array"
            ));
        };
        let args = args
            .into_iter()
            .map(|a| match a {
                Value::Bulk(Some(a)) => Ok(a),
                other => Err(format!(
                    "CLUSTERX EXPORTKEY {name}: an argument is not a bulk: {other:?}"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        replay.push(vec![b"ASKING".to_vec()]);
        replay.push(args);
    }
    for (reply, args) in receiver.pipeline_raw(&replay)?.into_iter().zip(&replay) {
        if let Value::Error(e) = reply {
            let cmd = String::from_utf8_lossy(&args[0]);
            return Err(format!("{}: {cmd} {name}: {e}", receiver.addr()));
        }
    }
    match owner.call_raw(&[b"CLUSTERX", b"EXPORTED", key])? {
        Value::Int(1) => Ok(true),
        Value::Error(e) => Err(format!("CLUSTERX EXPORTED {name}: {e}")),
        other => Err(format!(
            "CLUSTERX EXPORTED {name}: unexpected reply {other:?}"
        )),
    }
}
