//! Slot plans of the operator tool, as pure functions of a map: an even
//! split for `create` (redis-cli's: 0-5460, 5461-10922, 10923-16383 for
//! three nodes), a node added with no slots, slots moved to a node, and a
//! rebalance that moves as few slots as it can. Each returns the new map
//! with the next epoch, and the slots whose owner changed (which the tool
//! requires to be empty: no data is migrated).

use crate::cluster::slot_map::merge;
use crate::cluster::{Node, SlotMap, SlotRange};
use crate::keyspace::SLOTS;

/// redis-cli's even split of the slots over `n` nodes, in order.
pub fn even_split(n: usize) -> Vec<SlotRange> {
    let per = f64::from(SLOTS) / n.max(1) as f64;
    let (mut first, mut cursor) = (0u32, 0f64);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut last = (cursor + per - 1.0).round() as u32;
        if last >= u32::from(SLOTS) || i == n - 1 {
            last = u32::from(SLOTS) - 1;
        }
        last = last.max(first);
        out.push(SlotRange {
            start: first as u16,
            end: last as u16,
        });
        first = last + 1;
        cursor += per;
    }
    out
}

/// Highest epoch a node accepts (CLUSTERX SETNODES reads a signed
/// 64-bit version).
pub const MAX_EPOCH: u64 = i64::MAX as u64;

/// The epoch after `map`'s, refused past [`MAX_EPOCH`].
pub fn next_epoch(map: &SlotMap) -> Result<u64, String> {
    if map.epoch() >= MAX_EPOCH {
        return Err(format!(
            "the map's epoch {} is the highest a node accepts: push a map of a lower epoch with create --force",
            map.epoch()
        ));
    }
    Ok(map.epoch() + 1)
}

/// The nodes of `next` that own, in `old`, one of the `moved` slots, then
/// the others (the order a move pushes `next` in).
pub fn losers_first(old: &SlotMap, next: &SlotMap, moved: &[u16]) -> (Vec<Node>, Vec<Node>) {
    let losing: std::collections::HashSet<&str> = moved
        .iter()
        .filter_map(|&s| old.owner(s))
        .map(|n| n.id.as_str())
        .collect();
    next.nodes()
        .iter()
        .cloned()
        .partition(|n| losing.contains(n.id.as_str()))
}

/// A new cluster: `(id, host, port)` per node, slots split evenly.
pub fn create(nodes: &[(String, String, u16)], epoch: u64) -> Result<SlotMap, String> {
    let split = even_split(nodes.len());
    let nodes = nodes
        .iter()
        .zip(split)
        .map(|((id, host, port), r)| Node {
            id: id.clone(),
            host: host.clone(),
            port: *port,
            slots: vec![r],
        })
        .collect();
    SlotMap::new(epoch, nodes)
}

/// `map` plus a node owning no slots.
pub fn add_node(map: &SlotMap, id: &str, host: &str, port: u16) -> Result<SlotMap, String> {
    if map.node(id).is_some() {
        return Err(format!("node {id} is already in the cluster"));
    }
    let mut nodes = map.nodes().to_vec();
    nodes.push(Node {
        id: id.to_string(),
        host: host.to_string(),
        port,
        slots: Vec::new(),
    });
    SlotMap::new(next_epoch(map)?, nodes)
}

/// `map` with `slots` owned by node `to`; also the slots that changed
/// owner.
pub fn move_slots(
    map: &SlotMap,
    slots: &[SlotRange],
    to: &str,
) -> Result<(SlotMap, Vec<u16>), String> {
    let target = map
        .nodes()
        .iter()
        .position(|n| n.id == to)
        .ok_or_else(|| format!("node {to} is not in the cluster"))?;
    let mut owner: Vec<Option<usize>> = (0..SLOTS).map(|s| map.owner_index(s)).collect();
    let mut moved = Vec::new();
    for r in slots {
        for s in r.start..=r.end {
            if owner[usize::from(s)] != Some(target) {
                owner[usize::from(s)] = Some(target);
                moved.push(s);
            }
        }
    }
    Ok((rebuild(map, &owner)?, moved))
}

/// `map` with every node owning its even share (`16384 / n`, the first
/// `16384 % n` nodes one more), moving as few slots as it can: nodes over
/// their share give their highest slots to nodes under it. Also the slots
/// that changed owner.
pub fn rebalance(map: &SlotMap) -> Result<(SlotMap, Vec<u16>), String> {
    let n = map.nodes().len();
    if n == 0 {
        return Err("the cluster has no node".to_string());
    }
    let share = |i: usize| usize::from(SLOTS) / n + usize::from(i < usize::from(SLOTS) % n);
    let mut owner: Vec<Option<usize>> = (0..SLOTS).map(|s| map.owner_index(s)).collect();
    let mut count: Vec<usize> = vec![0; n];
    for o in owner.iter().flatten() {
        count[*o] += 1;
    }
    // Slots to hand out: unassigned ones, then the surplus of each node
    // (its highest slots).
    let mut pool: Vec<u16> = (0..SLOTS)
        .filter(|&s| owner[usize::from(s)].is_none())
        .collect();
    for (i, c) in count.iter_mut().enumerate() {
        let mut s = SLOTS;
        while *c > share(i) && s > 0 {
            s -= 1;
            if owner[usize::from(s)] == Some(i) {
                pool.push(s);
                *c -= 1;
            }
        }
    }
    pool.sort_unstable();
    let mut pool = pool.into_iter();
    let mut moved = Vec::new();
    for (i, c) in count.iter_mut().enumerate() {
        while *c < share(i) {
            let Some(s) = pool.next() else { break };
            if owner[usize::from(s)].is_some() {
                moved.push(s);
            }
            owner[usize::from(s)] = Some(i);
            *c += 1;
        }
    }
    moved.sort_unstable();
    Ok((rebuild(map, &owner)?, moved))
}

/// `map`'s nodes with the owners of `owner` (one entry per slot), at the
/// next epoch.
fn rebuild(map: &SlotMap, owner: &[Option<usize>]) -> Result<SlotMap, String> {
    let mut nodes: Vec<Node> = map
        .nodes()
        .iter()
        .map(|n| Node {
            slots: Vec::new(),
            ..n.clone()
        })
        .collect();
    for (slot, o) in owner.iter().enumerate() {
        if let Some(node) = o.and_then(|i| nodes.get_mut(i)) {
            let s = slot as u16;
            node.slots.push(SlotRange { start: s, end: s });
        }
    }
    for n in &mut nodes {
        n.slots = merge(std::mem::take(&mut n.slots));
    }
    SlotMap::new(next_epoch(map)?, nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<(String, String, u16)> {
        (0..n)
            .map(|i| {
                (
                    format!("{i:040x}"),
                    "127.0.0.1".to_string(),
                    7000 + i as u16,
                )
            })
            .collect()
    }

    #[test]
    fn the_even_split_is_redis_clis() {
        let s: Vec<String> = even_split(3).iter().map(|r| r.to_string()).collect();
        assert_eq!(s, vec!["0-5460", "5461-10922", "10923-16383"]);
        assert_eq!(even_split(1)[0].to_string(), "0-16383");
        for n in 1..50 {
            let total: usize = even_split(n).iter().map(SlotRange::len).sum();
            assert_eq!(total, 16384, "{n} nodes");
        }
    }

    #[test]
    fn moving_slots_changes_only_their_owner_and_bumps_the_epoch() {
        let map = create(&ids(2), 1).unwrap();
        let to = map.nodes()[1].id.clone();
        let (next, moved) = move_slots(&map, &[SlotRange { start: 10, end: 12 }], &to).unwrap();
        assert_eq!(next.epoch(), 2);
        assert_eq!(moved, vec![10, 11, 12]);
        assert_eq!(next.owner(11).unwrap().id, to);
        assert_eq!(next.owner(9).unwrap().id, map.nodes()[0].id);
        assert_eq!(next.assigned_slots(), 16384);
        assert!(move_slots(&map, &[], "nope").is_err());
        let last = SlotMap::new(MAX_EPOCH, map.nodes().to_vec()).unwrap();
        let e = move_slots(&last, &[SlotRange { start: 10, end: 10 }], &to).unwrap_err();
        assert!(e.contains("is the highest a node accepts"), "{e}");
    }

    #[test]
    fn rebalance_after_add_node_moves_only_the_new_nodes_share() {
        let map = create(&ids(2), 1).unwrap();
        let added = add_node(&map, &format!("{:040x}", 99), "127.0.0.1", 7100).unwrap();
        assert_eq!(added.nodes()[2].slot_count(), 0);
        let (next, moved) = rebalance(&added).unwrap();
        let counts: Vec<usize> = next.nodes().iter().map(Node::slot_count).collect();
        assert_eq!(counts, vec![5462, 5461, 5461]);
        assert_eq!(moved.len(), 5461);
        assert!(moved
            .iter()
            .all(|&s| next.owner(s).unwrap().id == next.nodes()[2].id));
        // Only the nodes giving slots away are pushed to first.
        let (losers, rest) = losers_first(&added, &next, &moved);
        let ids = |v: &[Node]| v.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&losers),
            vec![added.nodes()[0].id.clone(), added.nodes()[1].id.clone()]
        );
        assert_eq!(ids(&rest), vec![added.nodes()[2].id.clone()]);
        // Balanced already: nothing moves.
        let (_, none) = rebalance(&next).unwrap();
        assert!(none.is_empty());
    }
}
