//! Live slot migration: a range of slots holding strings, hashes, lists
//! and sorted sets with TTLs moves from one node to another with
//! `shard-server cluster move-slots` while a cluster client keeps writing
//! and reading; afterwards every acknowledged write is on the new owner
//! (with its TTL), the old owner holds no key of the range, and the
//! client saw no error (it followed MOVED, ASK and TRYAGAIN itself).
//! Also CLUSTER SETSLOT's checks and the ASK / TRYAGAIN / ASKING answers
//! of open slots, seen over plain connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use crate::cluster::{addr, cluster_client, free_port, three_node_cluster, tool};
use crate::common::*;
use frys_shards::keyspace::key_slot;
use redis::Commands;

/// The moved range: the first 1024 slots, owned by the first node.
const MOVED_SLOTS: std::ops::RangeInclusive<u16> = 0..=1023;

/// `count` key names with `prefix` whose slots are in [`MOVED_SLOTS`].
fn keys_in_range(prefix: &str, count: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| MOVED_SLOTS.contains(&key_slot(k.as_bytes())))
        .take(count)
        .collect()
}

/// What the writer thread had acknowledged, and the errors it saw.
#[derive(Default)]
struct Acked {
    strings: Vec<(String, String)>,
    counter: i64,
    pushes: i64,
    errors: Vec<String>,
}

/// Writes and reads keys of the moved range until `stop` (and at least 50
/// rounds), through a cluster client seeded with `urls`.
fn writer(urls: Vec<String>, stop: Arc<AtomicBool>, started: mpsc::Sender<()>) -> Acked {
    let mut con = redis::cluster::ClusterClient::new(urls)
        .expect("cluster client")
        .get_connection()
        .expect("cluster connection");
    let names = keys_in_range("w", 4000);
    let mut acked = Acked::default();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) || i < 50 {
        let key = &names[i % names.len()];
        let value = format!("v{i}");
        match con.set_ex::<_, _, ()>(key, &value, 3600) {
            Ok(()) => {
                acked.strings.retain(|(k, _)| k != key);
                acked.strings.push((key.clone(), value.clone()));
            }
            Err(e) => acked.errors.push(format!("SET {key}: {e}")),
        }
        match con.get::<_, Option<String>>(key) {
            Ok(Some(v)) if v == value => {}
            other => acked
                .errors
                .push(format!("GET {key}: {other:?}, wanted {value}")),
        }
        match con.incr::<_, _, i64>("{t3}counter", 1) {
            Ok(n) if n == acked.counter + 1 => acked.counter = n,
            other => acked
                .errors
                .push(format!("INCR: {other:?} after {}", acked.counter)),
        }
        match con.rpush::<_, _, i64>("{t3}list", i) {
            Ok(n) if n == acked.pushes + 1 => acked.pushes = n,
            other => acked
                .errors
                .push(format!("RPUSH: {other:?} after {}", acked.pushes)),
        }
        if i == 20 {
            let _ = started.send(());
        }
        i += 1;
    }
    acked
}

#[test]
fn a_slot_range_moves_with_its_data_while_a_client_writes_and_reads() {
    let nodes = three_node_cluster();
    assert!(MOVED_SLOTS.contains(&key_slot(b"{t3}counter")));
    // Data of every type, with TTLs, in the range before the move.
    let mut con = cluster_client(&nodes);
    let strings = keys_in_range("s", 150);
    let hashes = keys_in_range("h", 30);
    let lists = keys_in_range("l", 30);
    let zsets = keys_in_range("z", 30);
    for k in &strings {
        let _: () = con.set_ex(k, format!("{k}-value"), 3600).unwrap();
    }
    for (n, k) in hashes.iter().enumerate() {
        for f in 0..(n * 10 + 1) {
            let _: i64 = con.hset(k, format!("f{f}"), f).unwrap();
        }
        let _: bool = con.expire(k, 3600).unwrap();
    }
    for (n, k) in lists.iter().enumerate() {
        let items: Vec<usize> = (0..n * 10 + 1).collect();
        let _: i64 = con.rpush(k, &items).unwrap();
        let _: bool = con.expire(k, 3600).unwrap();
    }
    for (n, k) in zsets.iter().enumerate() {
        let members: Vec<(f64, String)> = (0..n * 10 + 1)
            .map(|m| (m as f64 / 3.0, format!("m{m}")))
            .collect();
        let _: i64 = con.zadd_multiple(k, &members).unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (started_tx, started) = mpsc::channel();
    let traffic = {
        let stop = stop.clone();
        let urls: Vec<String> = nodes.iter().map(Server::url).collect();
        std::thread::spawn(move || writer(urls, stop, started_tx))
    };
    started.recv_timeout(PATIENCE).expect("the writer runs");
    let out =
        tool(&["move-slots", &addr(&nodes[0]), "0-1023", &addr(&nodes[1])]).expect("move-slots");
    assert!(out.starts_with("moved 1024 slots"), "{out}");
    stop.store(true, Ordering::Relaxed);
    let acked = traffic.join().expect("writer thread");
    assert!(
        acked.errors.is_empty(),
        "the client saw errors: {:?}",
        acked.errors
    );
    assert!(acked.counter >= 50, "the writer ran through the move");

    // Everything is on the new owner, with its TTL; nothing is left on the old one.
    let (mut old, mut new) = (nodes[0].conn(), nodes[1].conn());
    for k in &strings {
        assert_eq!(qa::<String>(&mut new, &["GET", k]), format!("{k}-value"));
        let ttl: i64 = qa(&mut new, &["TTL", k]);
        assert!((1..=3600).contains(&ttl), "{k}: TTL {ttl}");
    }
    for (k, v) in &acked.strings {
        assert_eq!(&qa::<String>(&mut new, &["GET", k]), v, "{k}");
    }
    for (n, k) in hashes.iter().enumerate() {
        assert_eq!(qa::<usize>(&mut new, &["HLEN", k]), n * 10 + 1, "{k}");
        assert_eq!(
            qa::<String>(&mut new, &["HGET", k, &format!("f{n}")]),
            n.to_string()
        );
        assert!(qa::<i64>(&mut new, &["TTL", k]) > 0, "{k}");
    }
    for (n, k) in lists.iter().enumerate() {
        let items: Vec<usize> = qa(&mut new, &["LRANGE", k, "0", "-1"]);
        assert_eq!(items, (0..n * 10 + 1).collect::<Vec<_>>(), "{k}");
        assert!(qa::<i64>(&mut new, &["TTL", k]) > 0, "{k}");
    }
    for (n, k) in zsets.iter().enumerate() {
        assert_eq!(qa::<usize>(&mut new, &["ZCARD", k]), n * 10 + 1, "{k}");
        let last = format!("m{}", n * 10);
        let score: f64 = qa(&mut new, &["ZSCORE", k, &last]);
        assert_eq!(score, (n * 10) as f64 / 3.0, "{k}");
        assert_eq!(qa::<i64>(&mut new, &["TTL", k]), -1, "{k}");
    }
    assert_eq!(qa::<i64>(&mut new, &["GET", "{t3}counter"]), acked.counter);
    assert_eq!(qa::<i64>(&mut new, &["LLEN", "{t3}list"]), acked.pushes);
    let mut on_old = 0;
    let mut on_new = 0;
    for slot in MOVED_SLOTS {
        let s = slot.to_string();
        on_old += qa::<i64>(&mut old, &["CLUSTER", "COUNTKEYSINSLOT", &s]);
        on_new += qa::<i64>(&mut new, &["CLUSTER", "COUNTKEYSINSLOT", &s]);
    }
    assert_eq!(on_old, 0, "the old owner kept keys of the moved slots");
    let written = strings.len() + hashes.len() + lists.len() + zsets.len() + 2;
    assert_eq!(on_new as usize, written + acked.strings.len());
    assert_eq!(
        err(&mut old, &["GET", &strings[0]]),
        format!(
            "MOVED {} {}",
            key_slot(strings[0].as_bytes()),
            addr(&nodes[1])
        )
    );
}

#[test]
fn open_slots_answer_ask_tryagain_and_asking_as_redis_does() {
    let nodes = three_node_cluster();
    let (a, b) = (&nodes[0], &nodes[1]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    let a_id: String = qa(&mut ca, &["CLUSTER", "MYID"]);
    let b_id: String = qa(&mut cb, &["CLUSTER", "MYID"]);
    // "{b}..." keys are slot 3300, owned by the first node.
    let _: () = qa(&mut ca, &["SET", "{b}1", "x"]);
    let setslot = |con: &mut redis::Connection, args: &[&str]| {
        let mut full = vec!["CLUSTER", "SETSLOT"];
        full.extend_from_slice(args);
        err(con, &full)
    };
    assert_eq!(
        setslot(&mut ca, &["3300", "IMPORTING", &b_id]),
        "ERR I'm already the owner of hash slot 3300"
    );
    assert_eq!(
        setslot(&mut cb, &["3300", "MIGRATING", &a_id]),
        "ERR I'm not the owner of hash slot 3300"
    );
    assert_eq!(
        setslot(&mut ca, &["3300", "MIGRATING", "nobody"]),
        "ERR I don't know about node nobody"
    );
    for bad in ["16384", "-1", "x"] {
        assert_eq!(
            setslot(&mut ca, &[bad, "STABLE"]),
            "ERR Invalid or out of range slot"
        );
    }
    for bad in [
        &["3300", "BOGUS"][..],
        &["3300", "STABLE", "x"],
        &["3300", "MIGRATING"],
    ] {
        assert_eq!(
            setslot(&mut ca, bad),
            "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"
        );
    }
    let ok = |con: &mut redis::Connection, args: &[&str]| {
        assert_eq!(qa::<String>(con, args), "OK", "{args:?}");
    };
    ok(&mut cb, &["CLUSTER", "SETSLOT", "3300", "IMPORTING", &a_id]);
    ok(&mut ca, &["CLUSTER", "SETSLOT", "3300", "MIGRATING", &b_id]);
    // CLUSTER NODES shows each node's own open slots as Redis does.
    let nodes_a: String = qa(&mut ca, &["CLUSTER", "NODES"]);
    assert!(
        nodes_a.contains(&format!(" [3300->-{b_id}]\n")),
        "{nodes_a}"
    );
    let nodes_b: String = qa(&mut cb, &["CLUSTER", "NODES"]);
    assert!(
        nodes_b.contains(&format!(" [3300-<-{a_id}]\n")),
        "{nodes_b}"
    );
    let ask = format!("ASK 3300 {}", addr(b));
    let tryagain = "TRYAGAIN Multiple keys request during rehashing of slot";
    // The owner serves the keys it has, asks for the others.
    assert_eq!(qa::<String>(&mut ca, &["GET", "{b}1"]), "x");
    assert_eq!(err(&mut ca, &["GET", "{b}2"]), ask);
    assert_eq!(err(&mut ca, &["SET", "{b}2", "y"]), ask);
    assert_eq!(err(&mut ca, &["MGET", "{b}1", "{b}2"]), tryagain);
    // The importing node serves the slot only after ASKING, for one command.
    assert_eq!(
        err(&mut cb, &["GET", "{b}2"]),
        format!("MOVED 3300 {}", addr(a))
    );
    ok(&mut cb, &["ASKING"]);
    ok(&mut cb, &["SET", "{b}2", "y"]);
    assert_eq!(
        err(&mut cb, &["GET", "{b}2"]),
        format!("MOVED 3300 {}", addr(a))
    );
    ok(&mut cb, &["ASKING"]);
    assert_eq!(err(&mut cb, &["MGET", "{b}1", "{b}2"]), tryagain);
    // A command refused before it runs (arity) ends ASKING too.
    ok(&mut cb, &["ASKING"]);
    assert_eq!(
        err(&mut cb, &["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        err(&mut cb, &["GET", "{b}2"]),
        format!("MOVED 3300 {}", addr(a))
    );
    // ASKING lasts through MULTI until EXEC.
    ok(&mut cb, &["ASKING"]);
    ok(&mut cb, &["MULTI"]);
    assert_eq!(qa::<String>(&mut cb, &["SET", "{b}3", "z"]), "QUEUED");
    assert_eq!(qa::<Vec<String>>(&mut cb, &["EXEC"]), ["OK"]);
    // Shard channels stay on the owner until the move ends, as in Redis.
    assert_eq!(qa::<i64>(&mut ca, &["SPUBLISH", "{b}ch", "hi"]), 0);
    let mut sub = a.conn();
    let subscribed = q(&mut sub, &["SSUBSCRIBE", "{b}ch"]);
    assert!(
        matches!(&subscribed, redis::Value::Array(v) if v.get(2) == Some(&redis::Value::Int(1))),
        "{subscribed:?}"
    );
    assert_eq!(qa::<i64>(&mut ca, &["SPUBLISH", "{b}ch", "hi"]), 1);
    let message = sub.recv_response().expect("the message");
    let want = ["smessage", "{b}ch", "hi"].map(|s| redis::Value::BulkString(s.into()));
    assert_eq!(message, redis::Value::Array(want.to_vec()));
    let left = q(&mut sub, &["SUNSUBSCRIBE", "{b}ch"]);
    assert!(
        matches!(&left, redis::Value::Array(v) if v.get(2) == Some(&redis::Value::Int(0))),
        "{left:?}"
    );
    // EXPORTKEY and EXPORTED name their key: ACL key patterns apply.
    let _: () = qa(
        &mut ca,
        &["ACL", "SETUSER", "ops", "on", ">pw", "~app:*", "+@all"],
    );
    let mut ops = a.conn();
    let _: () = qa(&mut ops, &["AUTH", "ops", "pw"]);
    let noperm = "NOPERM this user has no permissions to access one of the keys used as arguments";
    assert_eq!(err(&mut ops, &["CLUSTERX", "EXPORTKEY", "{b}1"]), noperm);
    assert_eq!(err(&mut ops, &["CLUSTERX", "EXPORTED", "{b}1"]), noperm);
    assert_eq!(qa::<String>(&mut ca, &["GET", "{b}1"]), "x");
    // A key being exported is neither served nor written until it is gone.
    let replay: Vec<Vec<String>> = qa(&mut ca, &["CLUSTERX", "EXPORTKEY", "{b}1"]);
    assert_eq!(replay, [vec!["DEL", "{b}1"], vec!["SET", "{b}1", "x"]]);
    assert_eq!(err(&mut ca, &["GET", "{b}1"]), tryagain);
    assert_eq!(err(&mut ca, &["APPEND", "{b}1", "more"]), tryagain);
    assert_eq!(qa::<i64>(&mut ca, &["CLUSTERX", "EXPORTED", "{b}1"]), 1);
    assert_eq!(err(&mut ca, &["GET", "{b}1"]), ask);
    assert!(err(&mut ca, &["CLUSTERX", "EXPORTED", "{b}1"]).contains("not being exported"));
    // A missing key exports as nothing; a slot that is not open exports nothing.
    assert_eq!(
        q(&mut ca, &["CLUSTERX", "EXPORTKEY", "{b}9"]),
        redis::Value::Nil
    );
    assert!(err(&mut ca, &["CLUSTERX", "EXPORTKEY", "hello"]).contains("is not migrating"));
    // STABLE closes the slot: the owner serves (and misses) every key again.
    ok(&mut ca, &["CLUSTER", "SETSLOT", "3300", "STABLE"]);
    ok(&mut cb, &["CLUSTER", "SETSLOT", "3300", "STABLE"]);
    assert!(!qa::<String>(&mut ca, &["CLUSTER", "NODES"]).contains("[3300"));
    assert_eq!(q(&mut ca, &["GET", "{b}2"]), redis::Value::Nil);
    ok(&mut cb, &["ASKING"]);
    assert_eq!(
        err(&mut cb, &["GET", "{b}2"]),
        format!("MOVED 3300 {}", addr(a))
    );
}

/// Two nodes of four cores each made one cluster (the first owns slots
/// 0-8191).
fn two_node_cluster() -> Vec<Server> {
    let nodes: Vec<Server> = (0..2)
        .map(|_| {
            let port = free_port().to_string();
            Server::start_with(4, &["--port", &port, "--cluster-enabled", "yes"])
        })
        .collect();
    let out = tool(&["create", &addr(&nodes[0]), &addr(&nodes[1])]).expect("cluster create");
    assert!(out.contains("16384 of 16384 slots assigned"), "{out}");
    nodes
}

/// A key name `{<prefix>N}` whose slot is in `slots`.
fn key_with_slot(prefix: &str, slots: std::ops::Range<u16>) -> String {
    (0..)
        .map(|i| format!("{{{prefix}{i}}}"))
        .find(|k| slots.contains(&key_slot(k.as_bytes())))
        .expect("a key")
}

/// The value of string `key` as a client sees it during a move: from the
/// owner, or from the importing node when the owner answers ASK.
fn seen(
    owner: &mut redis::Connection,
    importing: &mut redis::Connection,
    key: &str,
) -> Option<String> {
    match cmd(&["GET", key]).query::<Option<String>>(owner) {
        Ok(v) => v,
        Err(e) if error_text(&e).starts_with("ASK ") => {
            let _: () = qa(importing, &["ASKING"]);
            qa(importing, &["GET", key])
        }
        Err(e) => panic!("GET {key}: {e}"),
    }
}

/// Moves `key` by hand as the tool does: EXPORTKEY, replay after ASKING,
/// EXPORTED.
fn move_key_by_hand(owner: &mut redis::Connection, importing: &mut redis::Connection, key: &str) {
    let replay = q(owner, &["CLUSTERX", "EXPORTKEY", key]);
    let redis::Value::Array(commands) = replay else {
        assert_eq!(replay, redis::Value::Nil, "EXPORTKEY {key}");
        return;
    };
    for c in commands {
        let args: Vec<String> = redis::from_redis_value(c).expect("a command");
        let _: () = qa(importing, &["ASKING"]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let _: redis::Value = qa(importing, &refs);
    }
    assert_eq!(qa::<i64>(owner, &["CLUSTERX", "EXPORTED", key]), 1);
}

/// EXEC and barrier writes (RENAME) admitted while their slot was stable
/// but still waiting (behind slow reads of the same pipeline) when the
/// slot opens and their key is moved: they must either run before the
/// key is exported (so the copy carries them) or answer TRYAGAIN without
/// writing, never write the copy being moved (lost on the new owner) nor
/// a key the owner no longer serves.
#[test]
fn a_transaction_or_barrier_admitted_before_its_key_moves_never_loses_its_write() {
    let nodes = two_node_cluster();
    let (a, b) = (&nodes[0], &nodes[1]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    let a_id: String = qa(&mut ca, &["CLUSTER", "MYID"]);
    let b_id: String = qa(&mut cb, &["CLUSTER", "MYID"]);
    // A long list on another core of A: reading it delays what follows.
    let big = key_with_slot("big", 6000..8000);
    let item = "x".repeat(20);
    for _ in 0..20 {
        let mut push = vec!["RPUSH", big.as_str()];
        push.extend(std::iter::repeat_n(item.as_str(), 10_000));
        let _: i64 = qa(&mut ca, &push);
    }
    for (round, name) in ["exec", "rename"].into_iter().enumerate() {
        let tag = key_with_slot(&format!("t{round}-"), 0..4000);
        let (key, renamed) = (format!("{tag}k"), format!("{tag}k2"));
        let slot = key_slot(key.as_bytes()).to_string();
        let _: () = qa(&mut ca, &["SET", &key, "v1"]);
        let tail: Vec<Vec<&str>> = match name {
            "exec" => vec![vec!["MULTI"], vec!["SET", &key, "v2"], vec!["EXEC"]],
            _ => vec![vec!["RENAME", &key, &renamed]],
        };
        let mut packed = Vec::new();
        let reads = 6;
        for _ in 0..reads {
            packed.extend(cmd(&["LRANGE", &big, "0", "-1"]).get_packed_command());
        }
        for c in &tail {
            packed.extend(cmd(c).get_packed_command());
        }
        let replies = tail.len();
        let mut w = a.conn();
        let worker = std::thread::spawn(move || {
            w.send_packed_command(&packed).expect("send the pipeline");
            let mut last = None;
            for _ in 0..reads + replies {
                let reply = w.recv_response().and_then(redis::Value::extract_error);
                last = Some(reply.map_err(|e| error_text(&e)));
            }
            last.expect("a reply")
        });
        // Once the pipeline's last command passed the dispatcher's check,
        // the slot opens and the key moves while the reads still run.
        let routed = format!("cmd={name}");
        let mut tries = 0;
        while !qa::<String>(&mut ca, &["CLIENT", "LIST"]).contains(&routed) {
            tries += 1;
            assert!(tries < 100_000, "the pipeline never reached {name}");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _: () = qa(&mut cb, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &a_id]);
        let _: () = qa(&mut ca, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &b_id]);
        move_key_by_hand(&mut ca, &mut cb, &key);
        let reply = worker.join().expect("the pipeline's client");
        let refused = match &reply {
            Ok(_) => false,
            Err(e) if e.starts_with("TRYAGAIN ") => true,
            Err(e) => panic!("{name}: {e}"),
        };
        match (name, refused) {
            ("exec", false) => {
                assert_eq!(reply, Ok(redis::Value::Array(vec![redis::Value::Okay])));
                assert_eq!(seen(&mut ca, &mut cb, &key).as_deref(), Some("v2"));
            }
            ("exec", true) => assert_eq!(seen(&mut ca, &mut cb, &key).as_deref(), Some("v1")),
            (_, false) => {
                assert_eq!(seen(&mut ca, &mut cb, &renamed).as_deref(), Some("v1"));
                assert_eq!(seen(&mut ca, &mut cb, &key), None);
            }
            (_, true) => {
                assert_eq!(seen(&mut ca, &mut cb, &key).as_deref(), Some("v1"));
                assert_eq!(seen(&mut ca, &mut cb, &renamed), None);
            }
        }
        // The moved key is nowhere on A any more.
        let _: () = qa(&mut ca, &["CLUSTER", "SETSLOT", &slot, "STABLE"]);
        assert_eq!(
            q(&mut ca, &["EXISTS", &key]),
            redis::Value::Int(0),
            "{name}"
        );
    }
}

/// A node restarted in the middle of a move is still in the middle of
/// it: the slot is still migrating (keys already moved are asked for on
/// the importing node, never created again on the old owner), and
/// running the same move-slots again finishes the move without touching
/// the moved keys. A move abandoned on the owner alone (SETSLOT STABLE
/// there) is refused, since resuming it would replace the receiver's
/// keys.
#[test]
fn a_restarted_owner_resumes_its_move_and_an_abandoned_move_is_refused() {
    let mut nodes = three_node_cluster();
    let (mut ca, mut cb) = (nodes[0].conn(), nodes[1].conn());
    let a_id: String = qa(&mut ca, &["CLUSTER", "MYID"]);
    let b_id: String = qa(&mut cb, &["CLUSTER", "MYID"]);
    let (list, other) = ("{b}list", "{b}other");
    assert_eq!(qa::<i64>(&mut ca, &["RPUSH", list, "1", "2", "3"]), 3);
    let _: () = qa(&mut ca, &["SET", other, "kept"]);
    let _: () = qa(&mut cb, &["CLUSTER", "SETSLOT", "3300", "IMPORTING", &a_id]);
    let _: () = qa(&mut ca, &["CLUSTER", "SETSLOT", "3300", "MIGRATING", &b_id]);
    move_key_by_hand(&mut ca, &mut cb, list);
    nodes[0].restart(1);
    nodes[1].restart(1);
    let (mut ca, mut cb) = (nodes[0].conn(), nodes[1].conn());
    let (a, b) = (addr(&nodes[0]), addr(&nodes[1]));
    assert!(qa::<String>(&mut ca, &["CLUSTER", "NODES"]).contains(&format!(" [3300->-{b_id}]")));
    assert!(qa::<String>(&mut cb, &["CLUSTER", "NODES"]).contains(&format!(" [3300-<-{a_id}]")));
    assert_eq!(err(&mut ca, &["RPUSH", list, "4"]), format!("ASK 3300 {b}"));
    assert_eq!(qa::<String>(&mut ca, &["GET", other]), "kept");
    tool(&["move-slots", &a, "3300", &b]).expect("the move resumes");
    assert_eq!(
        qa::<Vec<String>>(&mut cb, &["LRANGE", list, "0", "-1"]),
        ["1", "2", "3"]
    );
    assert_eq!(qa::<String>(&mut cb, &["GET", other]), "kept");
    assert_eq!(
        qa::<i64>(&mut ca, &["CLUSTER", "COUNTKEYSINSLOT", "3300"]),
        0
    );
    // A move abandoned on the owner only: it serves the moved key as new.
    let tag = key_with_slot("ab", 0..3000);
    let (key, slot) = (format!("{tag}k"), key_slot(tag.as_bytes()).to_string());
    let _: () = qa(&mut ca, &["SET", &key, "moved"]);
    let _: () = qa(&mut cb, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &a_id]);
    let _: () = qa(&mut ca, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &b_id]);
    move_key_by_hand(&mut ca, &mut cb, &key);
    let _: () = qa(&mut ca, &["CLUSTER", "SETSLOT", &slot, "STABLE"]);
    let _: () = qa(&mut ca, &["SET", &key, "new"]);
    let refused = tool(&["move-slots", &a, &slot, &b]).expect_err("an abandoned move");
    assert!(refused.contains("does not have it MIGRATING"), "{refused}");
    let _: () = qa(&mut cb, &["ASKING"]);
    assert_eq!(qa::<String>(&mut cb, &["GET", &key]), "moved");
}

/// A move of many slots opens, moves and hands over a few slots at a
/// time (one epoch each), never the whole range at once: transactions
/// and barriers on the range's other slots keep working meanwhile.
#[test]
fn a_range_moves_a_few_slots_at_a_time() {
    let nodes = three_node_cluster();
    let (a, b) = (addr(&nodes[0]), addr(&nodes[1]));
    let range = 0..64u16;
    let mut con = cluster_client(&nodes);
    let keys: Vec<String> = (0..)
        .map(|i| format!("step{i}"))
        .filter(|k| range.contains(&key_slot(k.as_bytes())))
        .take(400)
        .collect();
    for k in &keys {
        let _: () = con.set(k, k).unwrap();
    }
    let before: u64 = qa::<String>(&mut nodes[0].conn(), &["CLUSTERX", "VERSION"])
        .parse()
        .unwrap();
    let slots = format!("{}-{}", range.start, range.end - 1);
    let mover = std::thread::spawn(move || tool(&["move-slots", &a, &slots, &b]));
    let mut ca = nodes[0].conn();
    let mut most_open = 0;
    while !mover.is_finished() {
        let described: String = qa(&mut ca, &["CLUSTER", "NODES"]);
        let me = described
            .lines()
            .find(|l| l.contains("myself"))
            .unwrap_or("");
        most_open = most_open.max(me.matches("->-").count());
    }
    let out = mover.join().unwrap().expect("move-slots");
    assert!(most_open > 0, "the move was never seen");
    assert!(
        most_open < range.len(),
        "{most_open} of {} slots open at once",
        range.len()
    );
    let epoch: u64 = qa::<String>(&mut ca, &["CLUSTERX", "VERSION"])
        .parse()
        .unwrap();
    assert!(
        epoch > before + 1,
        "one epoch per step: {before} -> {epoch}"
    );
    assert!(out.contains(&format!("epoch {epoch},")), "{out}");
    for k in &keys {
        assert_eq!(con.get::<_, String>(k).unwrap(), *k);
        assert_eq!(qa::<String>(&mut nodes[1].conn(), &["GET", k]), *k);
    }
}
