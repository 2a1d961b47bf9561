//! The blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) against the
//! real binary on two cores: immediate pops and error texts as Redis 7.2
//! answers them, waiters served by every sorted-set write (keys on the
//! other core than the waiter's connection), FIFO service, timeouts in
//! RESP2 and RESP3, BZMPOP's COUNT, list and sorted-set waiters on one key
//! served only by writes of their type, exactly-once service across
//! cores, disconnects, and MULTI/EXEC (nothing blocks).

use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;

use crate::common::*;
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";

/// BZPOPMIN / BZPOPMAX's reply in RESP2: `[key, member, score]`.
fn popped(key: &str, member: &str, score: &str) -> Value {
    Value::Array(vec![bulk(key), bulk(member), bulk(score)])
}

fn reply(rx: &mpsc::Receiver<redis::RedisResult<Value>>) -> Value {
    rx.recv_timeout(PATIENCE)
        .expect("a reply")
        .expect("not an error")
}

/// A connection of `s` served by `core` (connections are spread over the
/// cores by the kernel; CLIENT INFO names the serving core).
fn conn_on_core(s: &Server, core: usize) -> redis::Connection {
    for _ in 0..200 {
        let mut c = s.conn();
        let info: String = qa(&mut c, &["CLIENT", "INFO"]);
        if info.contains(&format!("io-thread={core}")) {
            return c;
        }
    }
    panic!("no connection landed on core {core}");
}

fn resp(args: &[&str]) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    out
}

/// Sends one command on a raw socket and reads `lines` reply lines.
fn raw_reply(s: &mut TcpStream, args: &[&str], lines: usize) -> String {
    s.write_all(resp(args).as_bytes()).expect("write");
    (0..lines).map(|_| read_line(s)).collect()
}

/// A raw socket that has switched to RESP3.
fn raw3(s: &Server) -> TcpStream {
    let mut r = s.raw();
    let hello = raw_reply(&mut r, &["HELLO", "3"], 1);
    assert!(hello.starts_with('%'), "{hello}");
    // Skip the rest of HELLO's map.
    let _ = raw_reply(&mut r, &["PING"], 0);
    while read_line(&mut r) != "+PONG\r\n" {}
    r
}

#[test]
fn a_present_member_is_popped_at_once_with_redis_replies_and_errors() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [a, b] = two_keys("now");
    q(
        &mut c,
        &["ZADD", &b, "1", "x", "2", "y", "3", "z", "4", "w"],
    );
    assert_eq!(q(&mut c, &["BZPOPMIN", &a, &b, "0"]), popped(&b, "x", "1"));
    assert_eq!(q(&mut c, &["BZPOPMAX", &b, "0"]), popped(&b, "w", "4"));
    assert_eq!(
        q(&mut c, &["BZMPOP", "0", "2", &a, &b, "MIN", "COUNT", "1"]),
        Value::Array(vec![
            bulk(&b),
            Value::Array(vec![Value::Array(vec![bulk("y"), bulk("2")])]),
        ])
    );
    // RESP3: the score is a double.
    let mut c3 = s.conn3();
    assert_eq!(
        q(&mut c3, &["BZPOPMAX", &a, &b, "0"]),
        Value::Array(vec![bulk(&b), bulk("z"), Value::Double(3.0)])
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", &b]), 0, "emptied: deleted");

    q(&mut c, &["SET", "str", "v"]);
    q(&mut c, &["ZADD", &a, "5", "m"]);
    const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    let cases: &[(&[&str], &str)] = &[
        (&["BZPOPMIN", "k", "x"], NOT_FLOAT),
        (&["BZPOPMAX", "k", "-1"], "ERR timeout is negative"),
        (&["BZPOPMIN", "k", "inf"], "ERR timeout is out of range"),
        (&["BZPOPMIN", "str", &a, "0"], WRONGTYPE),
        (&["BZMPOP", "x", "1", "k", "MIN"], NOT_FLOAT),
        // ZMPOP's arguments are checked before the timeout, as in Redis.
        (
            &["BZMPOP", "x", "0", "k", "MIN"],
            "ERR numkeys should be greater than 0",
        ),
        (&["BZMPOP", "x", "1", "k", "UP"], SYNTAX),
        (&["BZMPOP", "0", "3", "k", "MIN"], SYNTAX),
        (
            &["BZMPOP", "0", "1", "k", "MAX", "COUNT", "0"],
            "ERR count should be greater than 0",
        ),
        (&["BZMPOP", "0", "1", "k", "MAX", "COUNT"], SYNTAX),
        (&["BZMPOP", "0", "2", "str", &a, "MIN"], WRONGTYPE),
        (&["BZPOPMIN", "k"], &arity_error("bzpopmin")),
        (&["BZPOPMAX", "k"], &arity_error("bzpopmax")),
        (&["BZMPOP", "0", "1", "k"], &arity_error("bzmpop")),
    ];
    for (args, want) in cases {
        assert_eq!(err(&mut c, args), *want, "{args:?}");
    }
    // A wrong type after the first existing key is not looked at.
    assert_eq!(
        q(&mut c, &["BZPOPMIN", &a, "str", "0"]),
        popped(&a, "m", "5")
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn the_command_rows_are_redis_rows() {
    let s = Server::start(1);
    let mut c = s.conn();
    let Value::Array(info) = q(&mut c, &["COMMAND", "INFO", "bzpopmin", "bzmpop"]) else {
        panic!("array");
    };
    let row = |v: &Value| -> (Vec<String>, Vec<String>, Vec<Value>) {
        let Value::Array(f) = v else { panic!("{v:?}") };
        let words = |v: &Value| -> Vec<String> {
            let Value::Array(w) = v else { panic!("{v:?}") };
            w.iter()
                .map(|x| match x {
                    Value::SimpleString(s) => s.clone(),
                    Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        (words(&f[2]), words(&f[6]), f[1..6].to_vec())
    };
    let (flags, acl, head) = row(&info[0]);
    assert_eq!(flags, ["write", "blocking", "fast"]);
    assert_eq!(acl, ["@write", "@sortedset", "@fast", "@blocking"]);
    assert_eq!(head[0], Value::Int(-3));
    assert_eq!(&head[2..5], &[Value::Int(1), Value::Int(-2), Value::Int(1)]);
    let (flags, acl, head) = row(&info[1]);
    assert_eq!(flags, ["write", "blocking", "movablekeys"]);
    assert_eq!(acl, ["@write", "@sortedset", "@slow", "@blocking"]);
    assert_eq!(head[0], Value::Int(-5));
    let keys: Vec<String> = qa(
        &mut c,
        &["COMMAND", "GETKEYS", "BZMPOP", "0", "2", "a", "b", "MIN"],
    );
    assert_eq!(keys, ["a", "b"]);
}

#[test]
fn a_waiter_is_served_by_zadd_on_a_key_of_the_other_core() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [k0, k1] = two_keys("far");
    for (waiter_core, key) in [(0, &k1), (1, &k0)] {
        let w = query_in_thread(conn_on_core(&s, waiter_core), &["BZPOPMAX", key, "0"]);
        wait_blocked(&mut c, 1);
        assert_eq!(
            qa::<i64>(&mut c, &["ZADD", key, "1", "a", "3", "c", "2", "b"]),
            3
        );
        assert_eq!(reply(&w), popped(key, "c", "3"));
        let left: Vec<String> = qa(&mut c, &["ZRANGE", key, "0", "-1"]);
        assert_eq!(left, ["a", "b"]);
        q(&mut c, &["DEL", key]);
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn every_sorted_set_write_serves_a_waiter() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [k, src] = two_keys("w");
    let writes: &[&[&str]] = &[
        &["ZINCRBY", &k, "2.5", "m"],
        &["ZUNIONSTORE", &k, "1", &src],
        &["ZINTERSTORE", &k, "1", &src],
        &["ZDIFFSTORE", &k, "1", &src],
        &["ZRANGESTORE", &k, &src, "0", "0"],
        &["COPY", &src, &k],
        &["RENAME", &src, &k],
    ];
    for write in writes {
        q(&mut c, &["ZADD", &src, "2.5", "m"]);
        let w = spawn_query(&s, &["BZPOPMIN", &k, "0"]);
        wait_blocked(&mut c, 1);
        q(&mut c, write);
        assert_eq!(reply(&w), popped(&k, "m", "2.5"), "{write:?}");
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", &k]), 0, "{write:?}");
        q(&mut c, &["DEL", &src]);
        wait_blocked(&mut c, 0);
    }
    // MOVE from another database onto the key.
    let mut c1 = s.conn_url("/1");
    q(&mut c1, &["ZADD", &src, "7", "moved"]);
    let w = spawn_query(&s, &["BZPOPMIN", &src, "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(qa::<i64>(&mut c1, &["MOVE", &src, "0"]), 1);
    assert_eq!(reply(&w), popped(&src, "moved", "7"));
    wait_blocked(&mut c, 0);
}

#[test]
fn the_longest_waiting_client_is_served_first() {
    let s = Server::start(2);
    let mut c = s.conn();
    for k in two_keys("fifo") {
        let first = spawn_query(&s, &["BZPOPMIN", &k, "0"]);
        wait_blocked(&mut c, 1);
        let second = spawn_query(&s, &["BZPOPMIN", &k, "0"]);
        wait_blocked(&mut c, 2);
        // One write of two members: the first waiter takes the lowest.
        q(&mut c, &["ZADD", &k, "2", "b", "1", "a"]);
        assert_eq!(reply(&first), popped(&k, "a", "1"));
        assert_eq!(reply(&second), popped(&k, "b", "2"));
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", &k]), 0);
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn a_timeout_answers_a_null_array_in_resp2_and_resp3() {
    let s = Server::start(2);
    let cases: &[&[&str]] = &[
        &["BZPOPMIN", "nokey", "other", "0.01"],
        &["BZPOPMAX", "nokey", "0.01"],
        &["BZMPOP", "0.01", "2", "nokey", "other", "MAX", "COUNT", "3"],
    ];
    let mut r = s.raw();
    for args in cases {
        assert_eq!(raw_reply(&mut r, args, 1), "*-1\r\n", "{args:?}");
    }
    let mut r3 = raw3(&s);
    for args in cases {
        assert_eq!(raw_reply(&mut r3, args, 1), "_\r\n", "{args:?}");
    }
    let mut c = s.conn();
    assert_eq!(blocked_clients(&mut c), 0);
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn bzmpop_takes_up_to_count_members_from_the_write_that_wakes_it() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [a, b] = two_keys("count");
    let w = spawn_query(&s, &["BZMPOP", "0", "2", &a, &b, "MAX", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    q(&mut c, &["ZADD", &b, "1", "x", "2", "y", "3", "z"]);
    assert_eq!(
        reply(&w),
        Value::Array(vec![
            bulk(&b),
            Value::Array(vec![
                Value::Array(vec![bulk("z"), bulk("3")]),
                Value::Array(vec![bulk("y"), bulk("2")]),
            ]),
        ])
    );
    // More than there is: all of it, and the key is gone. RESP3 doubles.
    let w = query_in_thread(s.conn3(), &["BZMPOP", "0", "1", &a, "MIN", "COUNT", "5"]);
    wait_blocked(&mut c, 1);
    q(&mut c, &["ZADD", &a, "4", "p", "-1", "q"]);
    assert_eq!(
        reply(&w),
        Value::Array(vec![
            bulk(&a),
            Value::Array(vec![
                Value::Array(vec![bulk("q"), Value::Double(-1.0)]),
                Value::Array(vec![bulk("p"), Value::Double(4.0)]),
            ]),
        ])
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", &a]), 0);
    let left: Vec<String> = qa(&mut c, &["ZRANGE", &b, "0", "-1"]);
    assert_eq!(left, ["x"]);
    wait_blocked(&mut c, 0);
}

#[test]
fn list_and_sorted_set_waiters_on_one_key_are_served_only_by_their_type() {
    let s = Server::start(2);
    let mut c = s.conn();
    for k in two_keys("kind") {
        let list = spawn_query(&s, &["BLPOP", &k, "0"]);
        wait_blocked(&mut c, 1);
        let zset = spawn_query(&s, &["BZPOPMIN", &k, "0"]);
        wait_blocked(&mut c, 2);
        // A sorted-set write skips the older list waiter.
        q(&mut c, &["ZADD", &k, "1", "m"]);
        assert_eq!(reply(&zset), popped(&k, "m", "1"));
        wait_blocked(&mut c, 1);

        // A sorted-set waiter whose key becomes a list keeps waiting.
        let zset = spawn_query(&s, &["BZPOPMAX", &k, "0"]);
        wait_blocked(&mut c, 2);
        q(&mut c, &["RPUSH", &k, "e"]);
        assert_eq!(reply(&list), Value::Array(vec![bulk(&k), bulk("e")]));
        wait_blocked(&mut c, 1);
        q(&mut c, &["RPUSH", &k, "kept"]);
        let left: Vec<String> = qa(&mut c, &["LRANGE", &k, "0", "-1"]);
        assert_eq!(left, ["kept"], "not taken by the sorted-set waiter");
        q(&mut c, &["DEL", &k]);
        q(&mut c, &["ZADD", &k, "9", "late"]);
        assert_eq!(reply(&zset), popped(&k, "late", "9"));
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn a_waiter_on_keys_of_two_cores_is_served_exactly_once() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [k0, k1] = two_keys("once");
    for round in 0..10 {
        let w = spawn_query(&s, &["BZPOPMIN", &k0, &k1, "0"]);
        wait_blocked(&mut c, 1);
        // Both writes in one pipeline: sent to both cores at once.
        let _: () = redis::pipe()
            .cmd("ZADD")
            .arg(&k0)
            .arg(1)
            .arg("a")
            .ignore()
            .cmd("ZADD")
            .arg(&k1)
            .arg(2)
            .arg("b")
            .ignore()
            .query(&mut c)
            .unwrap();
        let got = reply(&w);
        let left0: i64 = qa(&mut c, &["ZCARD", &k0]);
        let left1: i64 = qa(&mut c, &["ZCARD", &k1]);
        assert_eq!(left0 + left1, 1, "round {round}: {got:?}");
        let want = if left0 == 0 {
            popped(&k0, "a", "1")
        } else {
            popped(&k1, "b", "2")
        };
        assert_eq!(got, want, "round {round}");
        q(&mut c, &["DEL", &k0, &k1]);
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn a_client_that_disconnects_while_blocked_takes_nothing() {
    let s = Server::start(2);
    let mut c = s.conn();
    for k in two_keys("gone") {
        let mut r = s.raw();
        r.write_all(resp(&["BZPOPMIN", &k, "0"]).as_bytes())
            .unwrap();
        wait_blocked(&mut c, 1);
        drop(r);
        wait_blocked(&mut c, 0);
        assert_eq!(qa::<i64>(&mut c, &["ZADD", &k, "1", "kept"]), 1);
        let left: Vec<String> = qa(&mut c, &["ZRANGE", &k, "0", "-1"]);
        assert_eq!(left, ["kept"]);
        q(&mut c, &["DEL", &k]);
    }
    // CLIENT KILL cancels a wait too.
    let mut w = s.conn();
    let id: i64 = qa(&mut w, &["CLIENT", "ID"]);
    let t =
        thread::spawn(move || cmd(&["BZMPOP", "0", "1", "killed", "MIN"]).query::<Value>(&mut w));
    wait_blocked(&mut c, 1);
    q(&mut c, &["CLIENT", "KILL", "ID", &id.to_string()]);
    let _ = t.join().unwrap();
    wait_blocked(&mut c, 0);
    assert_eq!(qa::<i64>(&mut c, &["ZADD", "killed", "1", "v"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", "killed"]), 1);
}

#[test]
fn inside_multi_exec_nothing_blocks() {
    let s = Server::start(2);
    let [k0, k1] = two_keys("tx");
    let mut r = s.raw();
    assert_eq!(raw_reply(&mut r, &["MULTI"], 1), "+OK\r\n");
    let queued: &[&[&str]] = &[
        &["BZPOPMIN", &k0, &k1, "0"],
        &["BZMPOP", "0", "2", &k0, &k1, "MIN"],
        &["ZADD", &k1, "1", "a"],
        &["BZPOPMAX", &k0, &k1, "0"],
    ];
    for args in queued {
        assert_eq!(raw_reply(&mut r, args, 1), "+QUEUED\r\n", "{args:?}");
    }
    let want = format!(
        "*4\r\n*-1\r\n*-1\r\n:1\r\n*3\r\n${}\r\n{k1}\r\n$1\r\na\r\n$1\r\n1\r\n",
        k1.len()
    );
    let lines = want.matches("\r\n").count();
    assert_eq!(raw_reply(&mut r, &["EXEC"], lines), want);
    let mut c = s.conn();
    assert_eq!(blocked_clients(&mut c), 0);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", &k1]), 0);
}
