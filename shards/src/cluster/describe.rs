//! CLUSTER NODES, SLOTS, SHARDS and INFO in Redis 7's shapes
//! (`clusterGenNodeDescription`, `clusterReplyMultiBulkSlots`,
//! `clusterReplyShards`, `clusterCommand` INFO), from a [`View`].
//!
//! The described nodes are the map's, plus this node when the map does
//! not name it (or there is no map yet), shown as Redis shows a node that
//! does not know its address yet: an empty host. Every node has the map's
//! epoch as its config epoch; with no cluster bus there are no pings and
//! no bus messages (`cport` is shown as port + 10000, as Redis and Kvrocks
//! print it).

use super::redirect::View;
use super::slot_map::{Node, SlotRange};
use crate::keyspace::SLOTS;
use crate::protocol::Reply;

/// What this node knows of itself.
pub struct Me<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its client port.
    pub port: u16,
    /// Its host when the map does not name it (emulated mode: the
    /// connection's local address; otherwise empty, as Redis).
    pub host: String,
    /// Now, in Unix milliseconds (the pong time of the other nodes).
    pub now_ms: u64,
}

/// The nodes to describe, this node's index among them, and the epoch.
fn described(view: &View, me: &Me) -> (Vec<Node>, usize, u64) {
    let whole = SlotRange {
        start: 0,
        end: SLOTS - 1,
    };
    if view.emulated {
        let node = Node {
            id: me.id.to_string(),
            host: me.host.clone(),
            port: me.port,
            slots: vec![whole],
        };
        return (vec![node], 0, 0);
    }
    let (mut nodes, epoch) = match &view.map {
        Some(m) => (m.nodes().to_vec(), m.epoch()),
        None => (Vec::new(), 0),
    };
    let myself = match view.myself {
        Some(i) => i,
        None => {
            nodes.push(Node {
                id: me.id.to_string(),
                host: me.host.clone(),
                port: me.port,
                slots: Vec::new(),
            });
            nodes.len() - 1
        }
    };
    (nodes, myself, epoch)
}

/// CLUSTER NODES.
pub fn nodes_text(view: &View, me: &Me) -> String {
    let (nodes, myself, epoch) = described(view, me);
    let mut out = String::new();
    for (i, n) in nodes.iter().enumerate() {
        let (flags, pong) = if i == myself {
            ("myself,master", 0)
        } else {
            ("master", me.now_ms)
        };
        let cport = u32::from(n.port) + 10000;
        out.push_str(&format!(
            "{} {}:{}@{cport} {flags} - 0 {pong} {epoch} connected",
            n.id, n.host, n.port
        ));
        for r in &n.slots {
            out.push_str(&format!(" {r}"));
        }
        if i == myself {
            // Redis lists its own open slots, one per slot, in slot order.
            let open = view
                .migrating
                .iter()
                .map(|(s, id)| (*s, format!(" [{s}->-{id}]")))
                .chain(
                    view.importing
                        .iter()
                        .filter(|(s, _)| !view.migrating.contains_key(s))
                        .map(|(s, id)| (*s, format!(" [{s}-<-{id}]"))),
                );
            let mut open: Vec<(u16, String)> = open.collect();
            open.sort_unstable();
            for (_, text) in open {
                out.push_str(&text);
            }
        }
        out.push('\n');
    }
    out
}

/// CLUSTER SLOTS.
pub fn slots_reply(view: &View, me: &Me) -> Reply {
    let (nodes, _, _) = described(view, me);
    let mut runs: Vec<(SlotRange, &Node)> = nodes
        .iter()
        .flat_map(|n| n.slots.iter().map(move |r| (*r, n)))
        .collect();
    runs.sort_by_key(|(r, _)| r.start);
    Reply::Array(
        runs.into_iter()
            .map(|(r, n)| {
                Reply::Array(vec![
                    Reply::Integer(i64::from(r.start)),
                    Reply::Integer(i64::from(r.end)),
                    Reply::Array(vec![
                        Reply::bulk(n.host.as_str()),
                        Reply::Integer(i64::from(n.port)),
                        Reply::bulk(n.id.as_str()),
                        Reply::Map(Vec::new()),
                    ]),
                ])
            })
            .collect(),
    )
}

/// CLUSTER SHARDS.
pub fn shards_reply(view: &View, me: &Me) -> Reply {
    let (nodes, _, _) = described(view, me);
    let field = |name: &str, value: Reply| (Reply::bulk(name), value);
    Reply::Array(
        nodes
            .iter()
            .map(|n| {
                let slots = n
                    .slots
                    .iter()
                    .flat_map(|r| [i64::from(r.start), i64::from(r.end)])
                    .map(Reply::Integer)
                    .collect();
                let node = Reply::Map(vec![
                    field("id", Reply::bulk(n.id.as_str())),
                    field("port", Reply::Integer(i64::from(n.port))),
                    field("ip", Reply::bulk(n.host.as_str())),
                    field("endpoint", Reply::bulk(n.host.as_str())),
                    field("role", Reply::bulk("master")),
                    field("replication-offset", Reply::Integer(0)),
                    field("health", Reply::bulk("online")),
                ]);
                Reply::Map(vec![
                    field("slots", Reply::Array(slots)),
                    field("nodes", Reply::Array(vec![node])),
                ])
            })
            .collect(),
    )
}

/// CLUSTER INFO.
pub fn info_text(view: &View, me: &Me) -> String {
    let (nodes, _, epoch) = described(view, me);
    let assigned: usize = nodes.iter().map(Node::slot_count).sum();
    let size = nodes.iter().filter(|n| !n.slots.is_empty()).count();
    let state = if view.state_ok() { "ok" } else { "fail" };
    format!(
        "cluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{assigned}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{}\r\ncluster_size:{size}\r\ncluster_current_epoch:{epoch}\r\ncluster_my_epoch:{epoch}\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        nodes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::super::slot_map::SlotMap;
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn me(id: &str) -> Me<'_> {
        Me {
            id,
            port: 7000,
            host: String::new(),
            now_ms: 5,
        }
    }

    #[test]
    fn nodes_are_described_in_redis_text_format() {
        let map = SlotMap::parse(
            4,
            &format!("{A} 127.0.0.1 7000 master - 0-5460 9000\n{B} 127.0.0.1 7001 master - 5461-8999 9001-16383"),
        )
        .unwrap();
        let view = View::new(Some(map), A, false);
        assert_eq!(
            nodes_text(&view, &me(A)),
            format!("{A} 127.0.0.1:7000@17000 myself,master - 0 0 4 connected 0-5460 9000\n{B} 127.0.0.1:7001@17001 master - 0 5 4 connected 5461-8999 9001-16383\n")
        );
        let info = info_text(&view, &me(A));
        assert!(
            info.starts_with("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"),
            "{info}"
        );
        assert!(info.contains("cluster_known_nodes:2\r\ncluster_size:2\r\ncluster_current_epoch:4\r\ncluster_my_epoch:4\r\n"), "{info}");
        let Reply::Array(slots) = slots_reply(&view, &me(A)) else {
            panic!()
        };
        assert_eq!(slots.len(), 4);
        assert_eq!(
            slots[2],
            Reply::Array(vec![
                Reply::Integer(9000),
                Reply::Integer(9000),
                Reply::Array(vec![
                    Reply::bulk("127.0.0.1"),
                    Reply::Integer(7000),
                    Reply::bulk(A),
                    Reply::Map(Vec::new())
                ])
            ])
        );
    }

    #[test]
    fn without_a_map_the_node_describes_itself_without_an_address() {
        let view = View::new(None, A, false);
        assert_eq!(
            nodes_text(&view, &me(A)),
            format!("{A} :7000@17000 myself,master - 0 0 0 connected\n")
        );
        assert!(info_text(&view, &me(A))
            .starts_with("cluster_state:fail\r\ncluster_slots_assigned:0\r\n"));
        assert_eq!(slots_reply(&view, &me(A)), Reply::Array(Vec::new()));
    }
}
