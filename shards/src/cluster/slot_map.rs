//! The slot map of a cluster: its nodes (id, address, slot ranges) and the
//! config epoch it was pushed with.
//!
//! Its text form is Kvrocks' `CLUSTERX SETNODES` payload, one node per
//! line:
//!
//! ```text
//! <40 hex id> <host> <port> master - <slot|start-end> [<slot|start-end> ...]
//! ```
//!
//! Invariants of a parsed [`SlotMap`]: node ids are 40 lower-case hex
//! characters and unique; no two nodes share an address; every slot is
//! owned by at most one node; each node's ranges are sorted, disjoint and
//! merged. [`SlotMap::to_text`] gives back a payload that parses to the
//! same map (the form persisted in the data directory).
//!
//! Parsing is bounded whatever the payload: it is refused above
//! [`MAX_PAYLOAD_LEN`] bytes before anything is read, lines are read one
//! token at a time (nothing is collected), a map has at most
//! [`MAX_NODES`] nodes (refused at the first node over), and every slot is
//! checked against the slots already seen as it is read, so a slot listed
//! twice is refused at once and a map holds at most 16384 ranges. Id and
//! address duplicates are found through hash sets: the work is linear in
//! the payload.

use std::collections::HashSet;

use crate::keyspace::SLOTS;

/// Length of a node id (Redis' `CLUSTER_NAMELEN`).
pub const NODE_ID_LEN: usize = 40;

/// Most nodes a map may have. Redis Cluster recommends at most 1000
/// nodes; the bound keeps a pushed map's parse, its CLUSTER NODES text and
/// the per-node work of the operator tool small.
pub const MAX_NODES: usize = 1000;

/// Longest host name a node may have (a DNS name's limit).
pub const MAX_HOST_LEN: usize = 255;

/// Longest `CLUSTERX SETNODES` payload: [`MAX_NODES`] lines of an id, a
/// longest host, a port and the role, plus every slot listed as its own
/// range, fits in it with room to spare.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;

/// An inclusive range of slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotRange {
    /// First slot.
    pub start: u16,
    /// Last slot (inclusive).
    pub end: u16,
}

impl SlotRange {
    /// Number of slots in the range.
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    /// Never empty (`end >= start`); present for clippy's `len` rule.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl std::fmt::Display for SlotRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// One node of the map (a master: replicas are not supported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// 40 lower-case hex characters.
    pub id: String,
    /// Host clients connect to (an IP address or a name).
    pub host: String,
    /// Port clients connect to.
    pub port: u16,
    /// Owned slots: sorted, disjoint, merged.
    pub slots: Vec<SlotRange>,
}

impl Node {
    /// `host:port`, as MOVED names it.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Number of slots owned.
    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(SlotRange::len).sum()
    }
}

/// Nodes, slot ownership and the config epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMap {
    epoch: u64,
    nodes: Vec<Node>,
    /// Per slot, the index of its owner plus one (0: unassigned).
    owner: Box<[u16]>,
}

/// Whether `id` is a node id: 40 lower-case hex characters.
pub fn valid_node_id(id: &str) -> bool {
    id.len() == NODE_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl SlotMap {
    /// Builds a map from nodes (their ranges need not be merged), checking
    /// the invariants.
    pub fn new(epoch: u64, nodes: Vec<Node>) -> Result<SlotMap, String> {
        if nodes.len() > MAX_NODES {
            return Err(too_many_nodes());
        }
        let mut owner = vec![0u16; usize::from(SLOTS)].into_boxed_slice();
        let mut ids: HashSet<String> = HashSet::with_capacity(nodes.len());
        let mut addrs: HashSet<(String, u16)> = HashSet::with_capacity(nodes.len());
        let mut out: Vec<Node> = Vec::with_capacity(nodes.len());
        for (i, mut node) in nodes.into_iter().enumerate() {
            if !valid_node_id(&node.id) {
                return Err(format!(
                    "Invalid node id '{}' (40 lower-case hex characters)",
                    node.id
                ));
            }
            check_host(&node.host, &node.id)?;
            if !ids.insert(node.id.clone()) {
                return Err(format!("Node {} is listed twice", node.id));
            }
            if !addrs.insert((node.host.clone(), node.port)) {
                let other = out
                    .iter()
                    .find(|n| n.host == node.host && n.port == node.port)
                    .map_or("", |n| n.id.as_str());
                return Err(format!(
                    "Nodes {other} and {} have the same address {}",
                    node.id,
                    node.addr()
                ));
            }
            for r in &node.slots {
                claim(&mut owner, *r, i, &node.id)?;
            }
            node.slots = merge(node.slots);
            out.push(node);
        }
        Ok(SlotMap {
            epoch,
            nodes: out,
            owner,
        })
    }

    /// Parses a `CLUSTERX SETNODES` payload (lines separated by `\n`).
    pub fn parse(epoch: u64, text: &str) -> Result<SlotMap, String> {
        if text.len() > MAX_PAYLOAD_LEN {
            return Err(format!(
                "Invalid cluster nodes info: {} bytes, more than the {MAX_PAYLOAD_LEN} a map of {MAX_NODES} nodes needs",
                text.len()
            ));
        }
        let mut owner = vec![0u16; usize::from(SLOTS)].into_boxed_slice();
        let mut nodes = Vec::new();
        for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
            if line.trim().is_empty() {
                continue;
            }
            if nodes.len() == MAX_NODES {
                return Err(too_many_nodes());
            }
            nodes.push(parse_node(line, nodes.len(), &mut owner)?);
        }
        if nodes.is_empty() {
            return Err("Invalid cluster nodes info: no node".to_string());
        }
        SlotMap::new(epoch, nodes)
    }

    /// The payload that parses back to this map.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            out.push_str(&format!("{} {} {} master -", n.id, n.host, n.port));
            for r in &n.slots {
                out.push_str(&format!(" {r}"));
            }
            out.push('\n');
        }
        out
    }

    /// The config epoch it was pushed with.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The nodes, in payload order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node called `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Index (in [`nodes`](Self::nodes)) of the owner of `slot`.
    pub fn owner_index(&self, slot: u16) -> Option<usize> {
        match self.owner.get(usize::from(slot)) {
            Some(&o) if o > 0 => Some(usize::from(o - 1)),
            _ => None,
        }
    }

    /// The owner of `slot`.
    pub fn owner(&self, slot: u16) -> Option<&Node> {
        self.owner_index(slot).and_then(|i| self.nodes.get(i))
    }

    /// Slots owned by some node.
    pub fn assigned_slots(&self) -> usize {
        self.owner.iter().filter(|&&o| o != 0).count()
    }

    /// Runs of consecutive slots with one owner, in slot order:
    /// `(range, owner index)` (CLUSTER SLOTS).
    pub fn runs(&self) -> Vec<(SlotRange, usize)> {
        let mut out: Vec<(SlotRange, usize)> = Vec::new();
        for slot in 0..SLOTS {
            let Some(o) = self.owner_index(slot) else {
                continue;
            };
            match out.last_mut() {
                Some((r, last)) if *last == o && r.end + 1 == slot => r.end = slot,
                _ => out.push((
                    SlotRange {
                        start: slot,
                        end: slot,
                    },
                    o,
                )),
            }
        }
        out
    }
}

fn too_many_nodes() -> String {
    format!("Invalid cluster nodes info: more than {MAX_NODES} nodes")
}

fn check_host(host: &str, id: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > MAX_HOST_LEN || host.bytes().any(|b| b <= b' ') {
        return Err(format!("Invalid host of node {id}"));
    }
    Ok(())
}

/// Marks the slots of `range` as owned by node `index` (`id`) in `owner`
/// (per slot, owner index plus one), refusing a slot already owned.
fn claim(owner: &mut [u16], range: SlotRange, index: usize, id: &str) -> Result<(), String> {
    if range.start > range.end || range.end >= SLOTS {
        return Err(format!("Invalid slot range {}-{}", range.start, range.end));
    }
    let mark = u16::try_from(index + 1).map_err(|_| too_many_nodes())?;
    for slot in range.start..=range.end {
        let o = &mut owner[usize::from(slot)];
        if *o == mark {
            return Err(format!("Slot {slot} is listed twice for node {id}"));
        }
        if *o != 0 {
            return Err(format!("Slot {slot} is assigned to more than one node"));
        }
        *o = mark;
    }
    Ok(())
}

/// Parses the line of node number `index`, claiming its slots in `owner`
/// as they are read.
fn parse_node(line: &str, index: usize, owner: &mut [u16]) -> Result<Node, String> {
    let mut fields = line.split(' ').filter(|f| !f.is_empty());
    let mut head = [""; 5];
    for h in &mut head {
        *h = fields
            .next()
            .ok_or_else(|| format!("Invalid cluster nodes info: '{line}'"))?;
    }
    let [id, host, port, role, master] = head;
    if !valid_node_id(id) {
        return Err(format!(
            "Invalid node id '{id}' (40 lower-case hex characters)"
        ));
    }
    check_host(host, id)?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("Invalid port '{port}' of node {id}"))?;
    match role.to_ascii_lowercase().as_str() {
        "master" => {}
        "slave" | "replica" => {
            return Err(format!(
                "Node {id} is a replica: replicas are not supported"
            ))
        }
        other => return Err(format!("Invalid role '{other}' of node {id}")),
    }
    if master != "-" {
        return Err(format!("Invalid master id of node {id}: a master has '-'"));
    }
    let mut slots = Vec::new();
    for f in fields {
        if valid_node_id(f) {
            return Err(
                "Invalid nodes definition: missing newline between node entries".to_string(),
            );
        }
        let range = parse_range(f)?;
        claim(owner, range, index, id)?;
        slots.push(range);
    }
    Ok(Node {
        id: id.to_string(),
        host: host.to_string(),
        port,
        slots,
    })
}

/// `N` or `A-B` (inclusive), each in `0..16384`.
pub fn parse_range(text: &str) -> Result<SlotRange, String> {
    let slot = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|&n| n < SLOTS)
            .ok_or_else(|| format!("Invalid slot range '{text}'"))
    };
    let (start, end) = match text.split_once('-') {
        Some((a, b)) => (slot(a)?, slot(b)?),
        None => {
            let s = slot(text)?;
            (s, s)
        }
    };
    if start > end {
        return Err(format!("Invalid slot range '{text}'"));
    }
    Ok(SlotRange { start, end })
}

/// Sorts and merges ranges (adjacent ones join).
pub fn merge(mut ranges: Vec<SlotRange>) -> Vec<SlotRange> {
    ranges.sort_unstable();
    let mut out: Vec<SlotRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if u32::from(r.start) <= u32::from(last.end) + 1 => {
                last.end = last.end.max(r.end)
            }
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn a_payload_parses_and_prints_back_the_same_map() {
        let text = format!("{A} 127.0.0.1 7000 master - 0-100 200 101-150\n{B} 127.0.0.1 7001 master - 151-199 201-16383\n");
        let map = SlotMap::parse(3, &text).unwrap();
        assert_eq!(map.epoch(), 3);
        assert_eq!(
            map.nodes()[0].slots,
            vec![
                SlotRange { start: 0, end: 150 },
                SlotRange {
                    start: 200,
                    end: 200
                }
            ]
        );
        assert_eq!(map.assigned_slots(), 16384);
        assert_eq!(map.owner(150).unwrap().id, A);
        assert_eq!(map.owner(151).unwrap().id, B);
        assert_eq!(map.owner(200).unwrap().port, 7000);
        let again = SlotMap::parse(3, &map.to_text()).unwrap();
        assert_eq!(again, map);
        let runs: Vec<String> = map.runs().iter().map(|(r, o)| format!("{r}@{o}")).collect();
        assert_eq!(runs, vec!["0-150@0", "151-199@1", "200@0", "201-16383@1"]);
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        let cases = [
            ("", "no node"),
            ("abc 127.0.0.1 7000 master -", "Invalid node id"),
            (&format!("{A} 127.0.0.1 0 master -"), "Invalid port"),
            (
                &format!("{A} 127.0.0.1 7000 slave {B}"),
                "replicas are not supported",
            ),
            (
                &format!("{A} 127.0.0.1 7000 master - 5-3"),
                "Invalid slot range",
            ),
            (
                &format!("{A} 127.0.0.1 7000 master - 16384"),
                "Invalid slot range",
            ),
            (
                &format!("{A} h 1 master - 0-10\n{B} h 2 master - 10"),
                "Slot 10 is assigned to more than one node",
            ),
            (
                &format!("{A} h 1 master -\n{A} h 2 master -"),
                "listed twice",
            ),
            (
                &format!("{A} h 1 master -\n{B} h 1 master -"),
                "same address",
            ),
            (
                &format!("{A} h 1 master - 0 {B} h 2 master -"),
                "missing newline",
            ),
        ];
        for (text, want) in cases {
            let e = SlotMap::parse(1, text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_huge_repeated_slot_list_is_refused_at_the_second_mention() {
        let text = format!("{A} h 1 master -{}", " 0".repeat(100_000));
        let e = SlotMap::parse(1, &text).unwrap_err();
        assert_eq!(e, format!("Slot 0 is listed twice for node {A}"));
        let e = SlotMap::parse(1, &format!("{A} h 1 master - 0-10 5")).unwrap_err();
        assert_eq!(e, format!("Slot 5 is listed twice for node {A}"));
    }

    #[test]
    fn too_many_nodes_or_bytes_are_refused() {
        let line = |i: usize| format!("{i:040x} h {} master -\n", i + 1);
        let most: String = (0..MAX_NODES).map(line).collect();
        assert_eq!(SlotMap::parse(1, &most).unwrap().nodes().len(), MAX_NODES);
        let over: String = (0..=MAX_NODES).map(line).collect();
        let e = SlotMap::parse(1, &over).unwrap_err();
        assert_eq!(
            e,
            format!("Invalid cluster nodes info: more than {MAX_NODES} nodes")
        );
        let nodes: Vec<Node> = (0..=MAX_NODES)
            .map(|i| Node {
                id: format!("{i:040x}"),
                host: "h".into(),
                port: i as u16 + 1,
                slots: Vec::new(),
            })
            .collect();
        assert!(SlotMap::new(1, nodes).unwrap_err().contains("more than"));
        let huge = format!("{A} h 1 master - {}", "x".repeat(MAX_PAYLOAD_LEN));
        let e = SlotMap::parse(1, &huge).unwrap_err();
        assert!(e.contains("bytes, more than"), "{e}");
        let long_host = format!("{A} {} 1 master -", "h".repeat(MAX_HOST_LEN + 1));
        assert!(SlotMap::parse(1, &long_host)
            .unwrap_err()
            .contains("Invalid host"));
    }

    #[test]
    fn every_slot_as_its_own_range_fits_in_the_payload_limit() {
        let slots: String = (0..SLOTS).map(|s| format!(" {s}")).collect();
        let text = format!("{A} h 1 master -{slots}");
        assert!(text.len() <= MAX_PAYLOAD_LEN);
        assert_eq!(SlotMap::parse(1, &text).unwrap().assigned_slots(), 16384);
    }

    #[test]
    fn unassigned_slots_have_no_owner() {
        let map = SlotMap::parse(1, &format!("{A} h 1 master - 5")).unwrap();
        assert_eq!(map.assigned_slots(), 1);
        assert!(map.owner(4).is_none());
        assert_eq!(map.owner_index(5), Some(0));
    }
}
