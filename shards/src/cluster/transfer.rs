//! One key of a migrating slot as the commands that rebuild it on the
//! importing node: `DEL`, then `SET`, `HSET`, `SADD`, `ZADD` or `RPUSH` in
//! batches of [`BATCH`] elements, then `PEXPIRE` with the time it has
//! left when it has a deadline (as Redis' MIGRATE sends the remaining TTL,
//! so the nodes' clocks need not agree; at least 1 ms).
//! The operator tool replays them there after ASKING, in order, each
//! acknowledged (hence durable) before the next; the leading `DEL` makes
//! a replay after an interrupted one start from nothing.
//!
//! The replay is plain Redis commands, so the importing node needs no
//! command of its own and every type's own write path (metadata, element
//! and score records, the expiry index) builds the copy. Scores are
//! written in Rust's shortest round-trip form (`inf`, `-inf` included),
//! which the importing node parses back to the same `f64`.

use frys_plugins::{Collection as Items, Value};

/// Elements (or field-value pairs) per replayed command.
pub const BATCH: usize = 128;

/// Bytes of one key's fields, members and values a node loads to export
/// it; a larger key is refused (the move stops, naming it).
pub const MAX_KEY_BYTES: u64 = 512 << 20;

/// The commands that rebuild `key`, holding `value`, on another node
/// (none for a missing key), at `now_ms` (this node's clock).
pub fn replay_commands(key: &[u8], value: &Value, now_ms: u64) -> Vec<Vec<Vec<u8>>> {
    let (deadline, body) = match value {
        Value::Missing | Value::Unloaded { .. } => return Vec::new(),
        Value::String {
            bytes,
            expires_at_ms,
        } => (
            *expires_at_ms,
            vec![vec![b"SET".to_vec(), key.to_vec(), bytes.clone()]],
        ),
        Value::Collection {
            items,
            expires_at_ms,
        } => (*expires_at_ms, collection_commands(key, items)),
    };
    let mut out = vec![vec![b"DEL".to_vec(), key.to_vec()]];
    out.extend(body);
    if let Some(at) = deadline {
        let left = at.saturating_sub(now_ms).max(1);
        out.push(vec![
            b"PEXPIRE".to_vec(),
            key.to_vec(),
            left.to_string().into_bytes(),
        ]);
    }
    out
}

fn collection_commands(key: &[u8], items: &Items) -> Vec<Vec<Vec<u8>>> {
    let (name, args): (&[u8], Vec<Vec<Vec<u8>>>) = match items {
        Items::Hash(m) => (
            b"HSET",
            m.iter().map(|(f, v)| vec![f.clone(), v.clone()]).collect(),
        ),
        Items::Set(m) => (b"SADD", m.iter().map(|e| vec![e.clone()]).collect()),
        Items::ZSet(m) => (
            b"ZADD",
            m.iter()
                .map(|(e, s)| vec![format!("{s}").into_bytes(), e.clone()])
                .collect(),
        ),
        Items::List(l) => (b"RPUSH", l.iter().map(|e| vec![e.clone()]).collect()),
    };
    args.chunks(BATCH)
        .map(|chunk| {
            let mut cmd = vec![name.to_vec(), key.to_vec()];
            cmd.extend(chunk.iter().flatten().cloned());
            cmd
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, VecDeque};

    fn text(cmds: &[Vec<Vec<u8>>]) -> Vec<String> {
        cmds.iter()
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn each_type_replays_as_its_own_writes_with_its_deadline() {
        let s = Value::String {
            bytes: b"v".to_vec(),
            expires_at_ms: Some(1234),
        };
        assert_eq!(
            text(&replay_commands(b"k", &s, 1000)),
            ["DEL k", "SET k v", "PEXPIRE k 234"]
        );
        // A deadline reached while it is read still leaves the key 1 ms.
        assert_eq!(
            text(&replay_commands(b"k", &s, 1234)),
            ["DEL k", "SET k v", "PEXPIRE k 1"]
        );
        let z = Value::Collection {
            items: Items::ZSet(BTreeMap::from([
                (b"a".to_vec(), 1.5),
                (b"b".to_vec(), f64::NEG_INFINITY),
                (b"c".to_vec(), 0.1),
            ])),
            expires_at_ms: None,
        };
        assert_eq!(
            text(&replay_commands(b"z", &z, 1000)),
            ["DEL z", "ZADD z 1.5 a -inf b 0.1 c"]
        );
        let l = Value::Collection {
            items: Items::List(VecDeque::from([b"x".to_vec(), b"y".to_vec()])),
            expires_at_ms: None,
        };
        assert_eq!(
            text(&replay_commands(b"l", &l, 1000)),
            ["DEL l", "RPUSH l x y"]
        );
        assert!(replay_commands(b"k", &Value::Missing, 1000).is_empty());
    }

    #[test]
    fn large_collections_replay_in_batches_in_order() {
        let list: VecDeque<Vec<u8>> = (0..BATCH * 2 + 1)
            .map(|i| i.to_string().into_bytes())
            .collect();
        let v = Value::Collection {
            items: Items::List(list.clone()),
            expires_at_ms: None,
        };
        let cmds = replay_commands(b"l", &v, 1000);
        assert_eq!(cmds.len(), 1 + 3);
        let replayed: Vec<Vec<u8>> = cmds[1..].iter().flat_map(|c| c[2..].to_vec()).collect();
        assert_eq!(replayed, Vec::from(list));
        let h = Value::Collection {
            items: Items::Hash((0..BATCH + 1).map(|i| (vec![i as u8], vec![1])).collect()),
            expires_at_ms: None,
        };
        let cmds = replay_commands(b"h", &h, 1000);
        assert_eq!(cmds[1].len(), 2 + 2 * BATCH);
        assert_eq!(cmds[2].len(), 2 + 2);
    }

    #[test]
    fn scores_round_trip_through_their_text() {
        for s in [0.1, -2.5e-300, 1e300, f64::INFINITY, f64::MIN_POSITIVE] {
            let t = format!("{s}");
            assert_eq!(crate::command::parse_f64(t.as_bytes()), Some(s), "{t}");
        }
    }
}
