//! Cluster mode against the real binary: three shard-server processes
//! made one cluster by `shard-server cluster create`, driven by the
//! `redis` crate's cluster client (keys spread over every node, MOVED
//! followed), CROSSSLOT, hash-tag transactions, a restarted node serving
//! from its persisted map, the epoch rules of CLUSTERX SETNODES, the
//! operator tool's add-node / move-slots / rebalance (live moves with
//! traffic are in `migration.rs`),
//! per-slot key counts, emulated mode, and cluster mode off.

use std::net::TcpListener;
use std::process::Command;

use crate::common::*;
use frys_shards::keyspace::key_slot;
use redis::Value;

/// A port free now (the node is started on it and keeps it on restart).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub(crate) fn node() -> Server {
    let port = free_port().to_string();
    Server::start_with(1, &["--port", &port, "--cluster-enabled", "yes"])
}

pub(crate) fn addr(s: &Server) -> String {
    format!("127.0.0.1:{}", s.port())
}

/// Runs `shard-server cluster <args>`; its stdout, or its stderr as `Err`.
pub(crate) fn tool(args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_shard-server"))
        .arg("cluster")
        .args(args)
        .output()
        .expect("run shard-server cluster");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Three nodes made one cluster with the tool.
pub(crate) fn three_node_cluster() -> Vec<Server> {
    let nodes: Vec<Server> = (0..3).map(|_| node()).collect();
    let addrs: Vec<String> = nodes.iter().map(addr).collect();
    let mut args = vec!["create"];
    args.extend(addrs.iter().map(String::as_str));
    let out = tool(&args).expect("cluster create");
    assert!(out.contains("16384 of 16384 slots assigned"), "{out}");
    nodes
}

pub(crate) fn cluster_client(nodes: &[Server]) -> redis::cluster::ClusterConnection {
    let urls: Vec<String> = nodes.iter().map(Server::url).collect();
    redis::cluster::ClusterClient::new(urls)
        .expect("cluster client")
        .get_connection()
        .expect("cluster connection")
}

pub(crate) fn text(v: Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8(b).expect("utf-8"),
        Value::SimpleString(s) => s,
        Value::Okay => "OK".to_string(),
        Value::VerbatimString { text, .. } => text,
        other => panic!("not text: {other:?}"),
    }
}

/// The index of the node owning `key`'s slot (the even split of three).
fn owner_of(key: &str) -> usize {
    match key_slot(key.as_bytes()) {
        0..=5460 => 0,
        5461..=10922 => 1,
        _ => 2,
    }
}

#[test]
fn the_cluster_client_spreads_keys_over_every_node_and_follows_moved() {
    let nodes = three_node_cluster();
    let mut c = cluster_client(&nodes);
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query(&mut c)
            .expect("SET");
    }
    for i in 0..300 {
        let v: i64 = redis::cmd("GET")
            .arg(format!("key:{i}"))
            .query(&mut c)
            .expect("GET");
        assert_eq!(v, i);
    }
    // Every node holds exactly the keys of its slots.
    let mut total = 0;
    for (n, server) in nodes.iter().enumerate() {
        let size: i64 = qa(&mut server.conn(), &["DBSIZE"]);
        let want = (0..300)
            .filter(|i| owner_of(&format!("key:{i}")) == n)
            .count() as i64;
        assert!(size > 0, "node {n} holds no key");
        assert_eq!(size, want, "node {n}");
        total += size;
    }
    assert_eq!(total, 300);
    // A plain client is told where the key lives.
    let key = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| owner_of(k) == 1)
        .unwrap();
    let e = err(&mut nodes[0].conn(), &["GET", &key]);
    assert_eq!(
        e,
        format!("MOVED {} {}", key_slot(key.as_bytes()), addr(&nodes[1]))
    );
    // Keyless commands run where they are sent.
    assert_eq!(text(q(&mut nodes[0].conn(), &["PING"])), "PONG");
}

#[test]
fn keys_of_several_slots_are_cross_slot_and_hash_tags_keep_them_together() {
    let nodes = three_node_cluster();
    const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
    // "b" (3300) and "hello" (866) are both node 0's: still refused.
    let mut con = nodes[0].conn();
    assert_eq!(err(&mut con, &["MSET", "b", "1", "hello", "2"]), CROSSSLOT);
    assert_eq!(err(&mut con, &["MGET", "b", "hello"]), CROSSSLOT);
    let mut c = cluster_client(&nodes);
    let _: () = redis::cmd("MSET")
        .arg(&["{user1}.name", "ann", "{user1}.age", "7"])
        .query(&mut c)
        .expect("MSET with a hash tag");
    let got: Vec<String> = redis::cmd("MGET")
        .arg(&["{user1}.name", "{user1}.age"])
        .query(&mut c)
        .expect("MGET");
    assert_eq!(got, vec!["ann", "7"]);

    // MULTI/EXEC on the tag's owner.
    let owner = &nodes[owner_of("user1")];
    let mut t = owner.conn();
    let _: () = qa(&mut t, &["MULTI"]);
    assert_eq!(text(q(&mut t, &["SET", "{user1}.n", "1"])), "QUEUED");
    assert_eq!(text(q(&mut t, &["INCR", "{user1}.n"])), "QUEUED");
    assert_eq!(
        q(&mut t, &["EXEC"]),
        Value::Array(vec![Value::Okay, Value::Int(2)])
    );
    // Queued commands of two slots: EXEC answers CROSSSLOT and discards.
    let (k1, k2) = ("{user1}.a", "{user1}x");
    let mut k2 = k2.to_string();
    let mut i = 0;
    while owner_of(&k2) != owner_of(k1) || key_slot(k2.as_bytes()) == key_slot(k1.as_bytes()) {
        i += 1;
        k2 = format!("other{i}");
    }
    let _: () = qa(&mut t, &["MULTI"]);
    assert_eq!(text(q(&mut t, &["SET", k1, "1"])), "QUEUED");
    assert_eq!(text(q(&mut t, &["SET", &k2, "1"])), "QUEUED");
    assert_eq!(err(&mut t, &["EXEC"]), CROSSSLOT);
    assert_eq!(err(&mut t, &["EXEC"]), "ERR EXEC without MULTI");
    // A queued command for another node: MOVED, then EXECABORT.
    let elsewhere = (0..)
        .map(|i| format!("e{i}"))
        .find(|k| owner_of(k) != owner_of("user1"))
        .unwrap();
    let _: () = qa(&mut t, &["MULTI"]);
    assert!(err(&mut t, &["GET", &elsewhere]).starts_with("MOVED "));
    assert_eq!(
        err(&mut t, &["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
    assert_eq!(
        err(&mut t, &["SELECT", "1"]),
        "ERR SELECT is not allowed in cluster mode"
    );
    assert_eq!(
        err(&mut t, &["SWAPDB", "0", "1"]),
        "ERR SWAPDB is not allowed in cluster mode"
    );
}

#[test]
fn a_restarted_node_serves_from_its_persisted_map() {
    let mut nodes = three_node_cluster();
    let key = (0..)
        .map(|i| format!("r{i}"))
        .find(|k| owner_of(k) == 2)
        .unwrap();
    let _: () = qa(&mut nodes[2].conn(), &["SET", &key, "kept"]);
    let id: String = qa(&mut nodes[2].conn(), &["CLUSTER", "MYID"]);
    nodes[2].restart(1);
    let mut con = nodes[2].conn();
    assert_eq!(qa::<String>(&mut con, &["CLUSTER", "MYID"]), id);
    assert_eq!(qa::<String>(&mut con, &["CLUSTERX", "VERSION"]), "1");
    let info = text(q(&mut con, &["CLUSTER", "INFO"]));
    assert!(
        info.starts_with("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"),
        "{info}"
    );
    assert_eq!(qa::<String>(&mut con, &["GET", &key]), "kept");
    let other = (0..)
        .map(|i| format!("o{i}"))
        .find(|k| owner_of(k) == 0)
        .unwrap();
    assert!(err(&mut con, &["GET", &other]).ends_with(&addr(&nodes[0])));
    // The cluster client still finds everything.
    let mut c = cluster_client(&nodes);
    let v: String = redis::cmd("GET").arg(&key).query(&mut c).expect("GET");
    assert_eq!(v, "kept");
}

#[test]
fn a_node_whose_id_changed_refuses_to_start_on_its_old_map() {
    let mut n = node();
    let mut con = n.conn();
    let id: String = qa(&mut con, &["CLUSTER", "MYID"]);
    let map = format!("{id} 127.0.0.1 {} master - 0-16383", n.port());
    assert_eq!(
        text(q(&mut con, &["CLUSTERX", "SETNODES", &map, "1"])),
        "OK"
    );
    drop(con);
    n.kill();
    std::fs::remove_file(n.dir().join("NODEID")).expect("remove NODEID");
    let port = n.port().to_string();
    let e = Server::try_start_on(n.dir(), 1, &["--port", &port, "--cluster-enabled", "yes"])
        .err()
        .expect("a node started on a map without its id");
    assert!(
        e.stderr.contains("does not name this node's id"),
        "{}",
        e.stderr
    );
}

#[test]
fn a_client_blocked_on_a_key_whose_slot_moves_gets_moved() {
    let n = node();
    let mut con = n.conn();
    let id: String = qa(&mut con, &["CLUSTER", "MYID"]);
    let all = format!("{id} 127.0.0.1 {} master - 0-16383", n.port());
    assert_eq!(
        text(q(&mut con, &["CLUSTERX", "SETNODES", &all, "1"])),
        "OK"
    );
    let reply = spawn_query(&n, &["BLPOP", "b", "0"]);
    wait_blocked(&mut con, 1);
    // "b" is slot 3300: it moves to another node.
    let moved = format!(
        "{id} 127.0.0.1 {} master - 0-3299 3301-16383\n{} 127.0.0.1 1 master - 3300",
        n.port(),
        "b".repeat(40)
    );
    assert_eq!(
        text(q(&mut con, &["CLUSTERX", "SETNODES", &moved, "2"])),
        "OK"
    );
    let e = reply
        .recv_timeout(PATIENCE)
        .expect("the blocked client was answered")
        .expect_err("BLPOP answered MOVED");
    assert_eq!(error_text(&e), "MOVED 3300 127.0.0.1:1");
    wait_blocked(&mut con, 0);
}

#[test]
fn cluster_nodes_slots_and_shards_describe_the_map_as_redis_does() {
    let nodes = three_node_cluster();
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| qa(&mut n.conn(), &["CLUSTER", "MYID"]))
        .collect();
    let mut con = nodes[1].conn();
    let listing = text(q(&mut con, &["CLUSTER", "NODES"]));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    let ranges = ["0-5460", "5461-10922", "10923-16383"];
    for (i, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[0], ids[i]);
        assert_eq!(
            f[1],
            format!("{}@{}", addr(&nodes[i]), nodes[i].port() as u32 + 10000)
        );
        assert_eq!(f[2], if i == 1 { "myself,master" } else { "master" });
        assert_eq!((f[3], f[7], f[8]), ("-", "connected", ranges[i]));
    }
    let Value::Array(slots) = q(&mut con, &["CLUSTER", "SLOTS"]) else {
        panic!("CLUSTER SLOTS is not an array")
    };
    assert_eq!(slots.len(), 3);
    assert_eq!(
        slots[2],
        Value::Array(vec![
            Value::Int(10923),
            Value::Int(16383),
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(i64::from(nodes[2].port())),
                Value::BulkString(ids[2].clone().into_bytes()),
                Value::Array(Vec::new()),
            ]),
        ])
    );
    let Value::Array(shards) = q(&mut con, &["CLUSTER", "SHARDS"]) else {
        panic!("CLUSTER SHARDS is not an array")
    };
    assert_eq!(shards.len(), 3);
    let info = text(q(&mut con, &["CLUSTER", "INFO"]));
    assert!(
        info.contains("cluster_known_nodes:3\r\ncluster_size:3\r\n"),
        "{info}"
    );
    let info = text(q(&mut con, &["INFO", "cluster"]));
    assert!(info.contains("cluster_enabled:1"), "{info}");
    // Per-slot keys are range scans of the slot.
    let owner = &nodes[owner_of("tag")];
    let mut o = owner.conn();
    for i in 0..5 {
        let _: () = qa(&mut o, &["SET", &format!("{{tag}}{i}"), "v"]);
    }
    let slot = key_slot(b"tag").to_string();
    assert_eq!(qa::<i64>(&mut o, &["CLUSTER", "COUNTKEYSINSLOT", &slot]), 5);
    let mut keys: Vec<String> = qa(&mut o, &["CLUSTER", "GETKEYSINSLOT", &slot, "3"]);
    assert_eq!(keys.len(), 3);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.starts_with("{tag}")));
    assert_eq!(
        err(&mut o, &["CLUSTER", "COUNTKEYSINSLOT", "16384"]),
        "ERR Invalid slot"
    );
    assert_eq!(
        err(&mut o, &["CLUSTER", "GETKEYSINSLOT", "1", "-1"]),
        "ERR Invalid slot or number of keys"
    );
    assert_eq!(qa::<i64>(&mut o, &["CLUSTER", "KEYSLOT", "foo"]), 12182);
    assert_eq!(text(q(&mut o, &["ASKING"])), "OK");
    assert_eq!(text(q(&mut o, &["READONLY"])), "OK");
    assert_eq!(text(q(&mut o, &["READWRITE"])), "OK");
}

#[test]
fn a_node_without_a_map_serves_no_key() {
    let mut n = node();
    let mut con = n.conn();
    assert_eq!(
        err(&mut con, &["GET", "a"]),
        "CLUSTERDOWN Hash slot not served"
    );
    assert_eq!(
        err(&mut con, &["MGET", "a", "b"]),
        "CLUSTERDOWN Hash slot not served"
    );
    assert_eq!(text(q(&mut con, &["PING"])), "PONG");
    assert_eq!(text(q(&mut con, &["SELECT", "0"])), "OK");
    let id: String = qa(&mut con, &["CLUSTER", "MYID"]);
    assert!(
        id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let info = text(q(&mut con, &["CLUSTER", "INFO"]));
    assert!(
        info.starts_with("cluster_state:fail\r\ncluster_slots_assigned:0\r\n"),
        "{info}"
    );
    assert_eq!(
        text(q(&mut con, &["CLUSTER", "NODES"])),
        format!(
            "{id} :{}@{} myself,master - 0 0 0 connected\n",
            n.port(),
            n.port() as u32 + 10000
        )
    );
    assert_eq!(qa::<String>(&mut con, &["CLUSTERX", "VERSION"]), "0");
    n.restart(1);
    assert_eq!(
        qa::<String>(&mut n.conn(), &["CLUSTER", "MYID"]),
        id,
        "the id is kept"
    );
}

#[test]
fn setnodes_takes_only_a_newer_epoch_unless_forced_and_needs_admin() {
    let n = node();
    let mut con = n.conn();
    let id: String = qa(&mut con, &["CLUSTER", "MYID"]);
    let map = |ranges: &str| format!("{id} 127.0.0.1 {} master - {ranges}", n.port());
    let all = map("0-16383");
    assert_eq!(
        text(q(&mut con, &["CLUSTERX", "SETNODES", &all, "5"])),
        "OK"
    );
    assert_eq!(
        text(q(&mut con, &["CLUSTERX", "SETNODES", &all, "5"])),
        "OK",
        "same map again"
    );
    let half = map("0-8191");
    assert!(err(&mut con, &["CLUSTERX", "SETNODES", &half, "4"])
        .starts_with("ERR Invalid cluster version"));
    assert!(err(&mut con, &["CLUSTERX", "SETNODES", &half, "5"])
        .starts_with("ERR Invalid cluster version"));
    assert_eq!(qa::<String>(&mut con, &["SET", "foo", "1"]), "OK");
    assert_eq!(
        text(q(&mut con, &["CLUSTERX", "SETNODES", &half, "3", "FORCE"])),
        "OK"
    );
    assert_eq!(qa::<String>(&mut con, &["CLUSTERX", "VERSION"]), "3");
    // Slots 8192.. are unassigned now: the cluster is down.
    assert_eq!(
        err(&mut con, &["GET", "b"]),
        "CLUSTERDOWN The cluster is down"
    );
    assert_eq!(
        err(&mut con, &["GET", "foo"]),
        "CLUSTERDOWN Hash slot not served"
    );
    // Shard channels are served while the cluster is down (Redis'
    // cluster-allow-pubsubshard-when-down yes); "b" is slot 3300, here.
    let mut sub = std::net::TcpStream::connect(("127.0.0.1", n.port())).expect("connect");
    sub.set_read_timeout(Some(PATIENCE)).expect("timeout");
    std::io::Write::write_all(&mut sub, b"SSUBSCRIBE b\r\n").expect("send");
    let lines: Vec<String> = (0..6).map(|_| read_line(&mut sub)).collect();
    assert_eq!(
        lines.concat(),
        "*3\r\n$10\r\nssubscribe\r\n$1\r\nb\r\n:1\r\n"
    );
    assert_eq!(q(&mut con, &["SPUBLISH", "b", "hi"]), Value::Int(1));
    let lines: Vec<String> = (0..7).map(|_| read_line(&mut sub)).collect();
    assert_eq!(
        lines.concat(),
        "*3\r\n$8\r\nsmessage\r\n$1\r\nb\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        err(&mut con, &["SPUBLISH", "foo", "hi"]),
        "CLUSTERDOWN Hash slot not served"
    );
    assert!(err(&mut con, &["CLUSTERX", "SETNODES", "garbage", "9"]).starts_with("ERR Invalid"));
    assert_eq!(
        err(&mut con, &["CLUSTERX", "SETNODES", &all, "x"]),
        "ERR Invalid version"
    );
    assert_eq!(
        err(&mut con, &["CLUSTERX", "SETNODES", &all, "0"]),
        "ERR Invalid version: 0 stands for no map; versions start at 1"
    );
    let other = format!("{} 127.0.0.1 1 master - 0-16383", "a".repeat(40));
    assert_eq!(
        err(&mut con, &["CLUSTERX", "SETNODES", &other, "9"]),
        format!("ERR Invalid cluster nodes info: the map does not name this node ({id})")
    );
    // Hostile payloads are refused at once, with the reason.
    let repeated = format!("{}{}", map("0"), " 0".repeat(1_000_000));
    let e = err(&mut con, &["CLUSTERX", "SETNODES", &repeated, "9"]);
    assert!(e.contains("bytes, more than"), "{e}");
    let repeated = format!("{}{}", map("0"), " 0".repeat(100_000));
    assert_eq!(
        err(&mut con, &["CLUSTERX", "SETNODES", &repeated, "9"]),
        format!("ERR Slot 0 is listed twice for node {id}")
    );
    let many: String = (0..2000)
        .map(|i| format!("{i:040x} 127.0.0.1 {} master -\n", i + 1))
        .collect();
    assert_eq!(
        err(&mut con, &["CLUSTERX", "SETNODES", &many, "9"]),
        "ERR Invalid cluster nodes info: more than 1000 nodes"
    );
    assert_eq!(qa::<String>(&mut con, &["CLUSTERX", "VERSION"]), "3");
    // ACL: pushing a map is an admin command.
    let _: () = qa(
        &mut con,
        &[
            "ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all", "-@admin",
        ],
    );
    let _: () = qa(&mut con, &["AUTH", "app", "pw"]);
    assert!(err(&mut con, &["CLUSTERX", "SETNODES", &all, "10"]).starts_with("NOPERM"));
    assert_eq!(qa::<String>(&mut con, &["CLUSTERX", "VERSION"]), "3");
}

#[test]
fn add_node_move_slots_and_rebalance_move_slots_with_their_keys() {
    let a = node();
    let b = node();
    tool(&["create", &addr(&a), &addr(&b)]).expect("create");
    let c = node();
    let out = tool(&["add-node", &addr(&c), &addr(&a)]).expect("add-node");
    assert!(
        out.starts_with("epoch 2, 3 nodes, 16384 of 16384 slots assigned"),
        "{out}"
    );
    // A slot with a key moves with it ("b" is slot 3300).
    let _: () = qa(&mut a.conn(), &["SET", "b", "1"]);
    let out = tool(&["move-slots", &addr(&a), "3300", &addr(&c)]).expect("move-slots");
    assert!(out.starts_with("moved 1 slots"), "{out}");
    assert_eq!(qa::<String>(&mut c.conn(), &["GET", "b"]), "1");
    assert_eq!(
        qa::<i64>(&mut a.conn(), &["CLUSTER", "COUNTKEYSINSLOT", "3300"]),
        0
    );
    assert_eq!(
        err(&mut a.conn(), &["GET", "b"]),
        format!("MOVED 3300 {}", addr(&c))
    );
    // An empty one moves too, and clients are sent to its new owner.
    tool(&["move-slots", &addr(&b), "866", &addr(&c)]).expect("move-slots");
    assert_eq!(
        err(&mut a.conn(), &["GET", "hello"]),
        format!("MOVED 866 {}", addr(&c))
    );
    let before: u64 = qa::<String>(&mut a.conn(), &["CLUSTERX", "VERSION"])
        .parse()
        .unwrap();
    let out = tool(&["rebalance", &addr(&c)]).expect("rebalance");
    // One epoch per step of slots moved: every node ends on the last.
    let epoch: u64 = qa::<String>(&mut c.conn(), &["CLUSTERX", "VERSION"])
        .parse()
        .unwrap();
    assert!(epoch > before, "{before} -> {epoch}");
    for s in [&a, &b] {
        assert_eq!(
            qa::<String>(&mut s.conn(), &["CLUSTERX", "VERSION"]),
            epoch.to_string()
        );
    }
    assert!(
        out.contains(&format!(
            "epoch {epoch}, 3 nodes, 16384 of 16384 slots assigned"
        )),
        "{out}"
    );
    for (s, want) in [(&a, 5462), (&b, 5461), (&c, 5461)] {
        let id: String = qa(&mut s.conn(), &["CLUSTER", "MYID"]);
        let line = out.lines().find(|l| l.starts_with(&id)).expect("node line");
        assert!(line.contains(&format!(" {want} slots ")), "{line}");
    }
    let show = tool(&["show", &addr(&b)]).expect("show");
    assert_eq!(
        show.lines().next(),
        out.lines().nth(1),
        "every node has the new map"
    );
}

#[test]
fn emulated_mode_is_one_node_owning_every_slot() {
    let n = Server::start_with(2, &["--cluster-enabled", "emulated"]);
    let mut c = cluster_client(std::slice::from_ref(&n));
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .expect("SET");
    }
    assert_eq!(qa::<i64>(&mut n.conn(), &["DBSIZE"]), 50);
    let mut con = n.conn();
    let Value::Array(slots) = q(&mut con, &["CLUSTER", "SLOTS"]) else {
        panic!("not an array")
    };
    assert_eq!(slots.len(), 1);
    assert_eq!(
        err(&mut con, &["MGET", "k1", "k2"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert!(err(&mut con, &["CLUSTERX", "SETNODES", "x", "1"]).contains("emulated"));
}

#[test]
fn without_cluster_mode_cluster_commands_are_refused_as_redis_does() {
    let n = Server::start(1);
    let mut con = n.conn();
    for c in [
        &["CLUSTER", "INFO"][..],
        &["CLUSTER", "KEYSLOT", "a"],
        &["ASKING"],
        &["READONLY"],
    ] {
        assert_eq!(
            err(&mut con, c),
            "ERR This instance has cluster support disabled",
            "{c:?}"
        );
    }
    assert_eq!(
        qa::<String>(&mut con, &["MSET", "b", "1", "hello", "2"]),
        "OK"
    );
    let info = text(q(&mut con, &["INFO", "cluster"]));
    assert!(info.contains("cluster_enabled:0"), "{info}");
}
