//! MULTI / EXEC / DISCARD / WATCH / UNWATCH and the cross-core
//! transaction layer against the real binary: Redis 7's replies and error
//! texts (checked on the wire where the client library would hide them),
//! transactions whose keys span every core (`--cores 2` and `--cores 4`,
//! more cores than this machine's CPUs), WATCH broken by other clients, by
//! expiry, by FLUSHDB / FLUSHALL / SWAPDB, pipelined transactions, and a
//! bank: concurrent transfers between accounts on every core while
//! readers check that the total never changes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use redis::Value;

const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Sends `send` and reads exactly the bytes of `expect`, which must match.
fn wire(s: &mut TcpStream, send: &str, expect: &str) {
    s.write_all(send.as_bytes()).expect("write");
    let mut got = vec![0u8; expect.len()];
    s.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("reading the reply to {send:?}: {e}; wanted {expect:?}"));
    assert_eq!(String::from_utf8_lossy(&got), expect, "reply to {send:?}");
}

fn queued() -> Value {
    Value::SimpleString("QUEUED".into())
}

/// One key on each core, in core order.
fn one_key_per_core(prefix: &str, cores: usize) -> Vec<String> {
    (0..cores)
        .map(|core| keys_on_core(prefix, core, cores, 1).remove(0))
        .collect()
}

/// EXEC's reply: `None` for the null array of a broken WATCH.
fn exec(c: &mut redis::Connection) -> Option<Vec<Value>> {
    match q(c, &["EXEC"]) {
        Value::Nil => None,
        Value::Array(items) => Some(items),
        other => panic!("EXEC answered {other:?}"),
    }
}

/// MULTI, PING, EXEC: whether the transaction ran (`false`: WATCH broke it).
fn ping_transaction(c: &mut redis::Connection) -> bool {
    assert_eq!(q(c, &["MULTI"]), Value::Okay);
    assert_eq!(q(c, &["PING"]), queued());
    match exec(c) {
        None => false,
        Some(items) => {
            assert_eq!(items, vec![Value::SimpleString("PONG".into())]);
            true
        }
    }
}

#[test]
fn multi_exec_queues_then_runs_every_command_in_order() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(q(&mut c, &["MULTI"]), Value::Okay);
    assert_eq!(q(&mut c, &["SET", "k", "v"]), queued());
    assert_eq!(q(&mut c, &["APPEND", "k", "w"]), queued());
    assert_eq!(q(&mut c, &["GET", "k"]), queued());
    assert_eq!(q(&mut c, &["PING"]), queued());
    assert_eq!(
        exec(&mut c),
        Some(vec![
            Value::Okay,
            Value::Int(2),
            Value::BulkString(b"vw".to_vec()),
            Value::SimpleString("PONG".into()),
        ])
    );
    // An empty transaction answers an empty array.
    assert_eq!(q(&mut c, &["MULTI"]), Value::Okay);
    assert_eq!(exec(&mut c), Some(vec![]));
    // DISCARD runs nothing.
    assert_eq!(q(&mut c, &["MULTI"]), Value::Okay);
    assert_eq!(q(&mut c, &["DEL", "k"]), queued());
    assert_eq!(q(&mut c, &["DISCARD"]), Value::Okay);
    assert_eq!(qa::<String>(&mut c, &["GET", "k"]), "vw");
}

#[test]
fn transaction_errors_are_redis_texts() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(err(&mut c, &["DISCARD"]), "ERR DISCARD without MULTI");
    // Nested MULTI and WATCH inside MULTI are refused without dooming it.
    q(&mut c, &["MULTI"]);
    assert_eq!(err(&mut c, &["MULTI"]), "ERR MULTI calls can not be nested");
    assert_eq!(
        err(&mut c, &["WATCH", "x"]),
        "ERR WATCH inside MULTI is not allowed"
    );
    assert_eq!(q(&mut c, &["SET", "ok", "1"]), queued());
    assert_eq!(exec(&mut c), Some(vec![Value::Okay]));
    // Queueing errors doom the transaction: nothing runs.
    let doomers: &[(&[&str], String)] = &[
        (
            &["NOSUCHCOMMAND", "a"],
            "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' ".into(),
        ),
        (&["GET"], arity_error("get")),
        (
            &["CLIENT", "NOSUCH"],
            "ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.".into(),
        ),
        (&["SAVE"], NOT_IN_MULTI.into()),
        (&["SHUTDOWN"], NOT_IN_MULTI.into()),
    ];
    for (bad, text) in doomers {
        q(&mut c, &["MULTI"]);
        assert_eq!(q(&mut c, &["SET", "foo1", "bar1"]), queued());
        assert_eq!(err(&mut c, bad), *text, "{bad:?}");
        assert_eq!(q(&mut c, &["SET", "foo2", "bar2"]), queued());
        assert_eq!(err(&mut c, &["EXEC"]), EXECABORT, "{bad:?}");
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", "foo1", "foo2"]), 0);
        // The client left MULTI.
        assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
    }
    // A refused EXEC ends the transaction with the reason.
    q(&mut c, &["MULTI"]);
    q(&mut c, &["SET", "foo1", "x"]);
    assert_eq!(
        err(&mut c, &["EXEC", "extra"]),
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    );
    assert_eq!(err(&mut c, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "foo1"]), 0);
    assert_eq!(err(&mut c, &["WATCH"]), arity_error("watch"));
    assert_eq!(err(&mut c, &["MULTI", "x"]), arity_error("multi"));
    assert_eq!(err(&mut c, &["UNWATCH", "x"]), arity_error("unwatch"));
}

#[test]
fn runtime_errors_inside_exec_are_elements_and_the_rest_still_runs() {
    let s = Server::start(2);
    let mut w = s.raw();
    wire(
        &mut w,
        "MULTI\r\nSET s abc\r\nINCR s\r\nSET t 1\r\nEXEC\r\n",
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n",
    );
    // RESP3: a broken WATCH answers the null type.
    wire(&mut w, "HELLO 3\r\n", "%7\r\n");
    let mut rest = [0u8; 1024];
    let _ = w.read(&mut rest);
    let mut other = s.conn();
    wire(&mut w, "WATCH t\r\n", "+OK\r\n");
    q(&mut other, &["SET", "t", "2"]);
    wire(
        &mut w,
        "MULTI\r\nPING\r\nEXEC\r\n",
        "+OK\r\n+QUEUED\r\n_\r\n",
    );
}

#[test]
fn pipelined_transactions_run_only_at_exec() {
    let s = Server::start(2);
    let mut w = s.raw();
    wire(
        &mut w,
        "SET p 1\r\nMULTI\r\nINCR p\r\nGET p\r\nEXEC\r\nGET p\r\n",
        "+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:2\r\n$1\r\n2\r\n$1\r\n2\r\n",
    );
    // Queued commands wait for EXEC, however long.
    wire(&mut w, "MULTI\r\nSET q 1\r\n", "+OK\r\n+QUEUED\r\n");
    let mut other = s.conn();
    assert_eq!(q(&mut other, &["GET", "q"]), Value::Nil);
    wire(&mut w, "EXEC\r\n", "*1\r\n+OK\r\n");
    assert_eq!(qa::<String>(&mut other, &["GET", "q"]), "1");
    // WATCH, the client's own write and the transaction in one pipeline.
    wire(
        &mut w,
        "WATCH q\r\nSET q 2\r\nMULTI\r\nPING\r\nEXEC\r\nMULTI\r\nPING\r\nEXEC\r\n",
        "+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n",
    );
    // A queueing error in a pipeline.
    wire(
        &mut w,
        "MULTI\r\nSET q 3\r\nGET\r\nEXEC\r\nGET q\r\n",
        "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'get' command\r\n-EXECABORT Transaction discarded because of previous errors.\r\n$1\r\n2\r\n",
    );
}

fn transaction_spans_cores(cores: usize) {
    let s = Server::start(cores);
    let mut c = s.conn();
    let k = one_key_per_core("t", cores);
    q(&mut c, &["MULTI"]);
    for key in &k {
        assert_eq!(q(&mut c, &["SET", key, "10"]), queued());
    }
    for key in &k {
        assert_eq!(q(&mut c, &["INCRBY", key, "5"]), queued());
    }
    let mut mget = vec!["MGET"];
    mget.extend(k.iter().map(String::as_str));
    assert_eq!(q(&mut c, &mget), queued());
    let mut del = vec!["DEL", "nope"];
    del.extend(k.iter().map(String::as_str));
    assert_eq!(q(&mut c, &del), queued());
    assert_eq!(q(&mut c, &["EXISTS", &k[0]]), queued());
    let got = exec(&mut c).expect("no WATCH");
    let mut want = vec![Value::Okay; cores];
    want.extend((0..cores).map(|_| Value::Int(15)));
    want.push(Value::Array(
        (0..cores)
            .map(|_| Value::BulkString(b"15".to_vec()))
            .collect(),
    ));
    want.push(Value::Int(cores as i64));
    want.push(Value::Int(0));
    assert_eq!(got, want);

    // Cross-core commands inside EXEC: their own locking is the EXEC's.
    let (a, b) = (&k[0], &k[cores - 1]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["MSETNX", a, "x", b, "y"]);
    q(&mut c, &["RENAME", a, "renamed"]);
    q(&mut c, &["COPY", b, "copied"]);
    q(&mut c, &["COPY", b, b, "DB", "3"]);
    q(&mut c, &["MOVE", "copied", "2"]);
    q(&mut c, &["LCS", "renamed", b]);
    q(&mut c, &["OBJECT", "ENCODING", b]);
    q(&mut c, &["MSET", a, "1", b, "2"]);
    q(&mut c, &["MGET", a, b, "renamed"]);
    let got = exec(&mut c).expect("no WATCH");
    assert_eq!(
        got,
        vec![
            Value::Int(1),
            Value::Okay,
            Value::Int(1),
            Value::Int(1),
            Value::Int(1),
            Value::BulkString(Vec::new()),
            Value::BulkString(b"embstr".to_vec()),
            Value::Okay,
            Value::Array(vec![
                Value::BulkString(b"1".to_vec()),
                Value::BulkString(b"2".to_vec()),
                Value::BulkString(b"x".to_vec()),
            ]),
        ]
    );
    q(&mut c, &["SELECT", "2"]);
    assert_eq!(qa::<String>(&mut c, &["GET", "copied"]), "y");
    q(&mut c, &["SELECT", "3"]);
    assert_eq!(qa::<String>(&mut c, &["GET", b]), "y");

    // Keyless commands inside EXEC neither deadlock nor miss its writes.
    q(&mut c, &["SELECT", "4"]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["SET", a, "1"]);
    q(&mut c, &["SET", b, "1"]);
    q(&mut c, &["DBSIZE"]);
    q(&mut c, &["KEYS", "*"]);
    q(&mut c, &["FLUSHDB"]);
    q(&mut c, &["SET", "after", "1"]);
    q(&mut c, &["DBSIZE"]);
    q(&mut c, &["SCAN", "0", "COUNT", "100"]);
    let got = exec(&mut c).expect("no WATCH");
    assert_eq!(got[2], Value::Int(2));
    let Value::Array(keys) = &got[3] else {
        panic!("{:?}", got[3])
    };
    assert_eq!(keys.len(), 2);
    assert_eq!(got[4], Value::Okay);
    assert_eq!(got[6], Value::Int(1));
    assert_eq!(
        got[7],
        Value::Array(vec![
            Value::BulkString(b"0".to_vec()),
            Value::Array(vec![Value::BulkString(b"after".to_vec())]),
        ])
    );

    // SELECT inside MULTI moves the later commands, and stays.
    q(&mut c, &["SELECT", "0"]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["SELECT", "5"]);
    q(&mut c, &["SET", a, "in5"]);
    q(&mut c, &["SWAPDB", "5", "6"]);
    q(&mut c, &["SET", b, "in5-after-swap"]);
    assert_eq!(
        exec(&mut c),
        Some(vec![Value::Okay, Value::Okay, Value::Okay, Value::Okay])
    );
    assert_eq!(qa::<String>(&mut c, &["GET", b]), "in5-after-swap");
    assert_eq!(q(&mut c, &["GET", a]), Value::Nil);
    q(&mut c, &["SELECT", "6"]);
    assert_eq!(qa::<String>(&mut c, &["GET", a]), "in5");
}

#[test]
fn a_transaction_spans_two_cores() {
    transaction_spans_cores(2);
}

#[test]
fn a_transaction_spans_four_cores_on_fewer_cpus() {
    transaction_spans_cores(4);
}

#[test]
fn watch_is_broken_by_any_client_writing_a_watched_key_on_any_core() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut other = s.conn();
    let k = one_key_per_core("w", 2);
    for (i, key) in k.iter().enumerate() {
        q(&mut c, &["WATCH", &k[0], &k[1]]);
        q(&mut other, &["SET", key, "changed"]);
        q(&mut c, &["MULTI"]);
        q(&mut c, &["SET", &k[1 - i], "mine"]);
        assert_eq!(exec(&mut c), None, "{key}");
        assert_ne!(
            q(&mut c, &["GET", &k[1 - i]]),
            Value::BulkString(b"mine".to_vec())
        );
    }
    // Not modified: it runs; the keys are then no longer watched.
    q(&mut c, &["WATCH", &k[0], &k[1]]);
    assert!(ping_transaction(&mut c));
    q(&mut other, &["SET", &k[0], "again"]);
    assert!(ping_transaction(&mut c));
    // The client's own write before MULTI counts, as in Redis.
    q(&mut c, &["WATCH", &k[1]]);
    q(&mut c, &["INCR", "unrelated"]);
    q(&mut c, &["SET", &k[1], "own"]);
    assert!(!ping_transaction(&mut c));
    // EXPIRE, DEL and a write by a transaction touch too.
    for write in [
        vec!["EXPIRE", &k[0], "100"],
        vec!["DEL", &k[0]],
        vec!["MSET", &k[0], "1", &k[1], "1"],
        vec!["RENAME", &k[1], &k[0]],
    ] {
        q(&mut c, &["WATCH", &k[0]]);
        q(&mut other, &write);
        assert!(!ping_transaction(&mut c), "{write:?}");
    }
    q(&mut other, &["SET", &k[0], "v"]);
    q(&mut c, &["WATCH", &k[0]]);
    q(&mut other, &["MULTI"]);
    q(&mut other, &["SET", &k[0], "w"]);
    exec(&mut other).expect("other's transaction");
    assert!(!ping_transaction(&mut c));
    // UNWATCH and DISCARD forget the watches and the dirty state.
    q(&mut c, &["WATCH", &k[0]]);
    q(&mut other, &["SET", &k[0], "x"]);
    assert_eq!(q(&mut c, &["UNWATCH"]), Value::Okay);
    assert!(ping_transaction(&mut c));
    q(&mut c, &["WATCH", &k[0]]);
    q(&mut other, &["SET", &k[0], "10"]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["DISCARD"]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["INCR", &k[0]]);
    assert_eq!(exec(&mut c), Some(vec![Value::Int(11)]));
    // A write to the same name in another database is another key.
    q(&mut c, &["SELECT", "5"]);
    q(&mut c, &["SET", "x", "30"]);
    q(&mut c, &["WATCH", "x"]);
    q(&mut c, &["SELECT", "1"]);
    q(&mut c, &["SET", "x", "10"]);
    q(&mut c, &["SELECT", "5"]);
    assert!(ping_transaction(&mut c));
}

#[test]
fn watch_is_broken_by_expiry_but_not_by_keys_already_expired() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut probe = s.conn();
    // Expired after WATCH, found at EXEC or deleted by the expiry cycle
    // first; and waiting for the cycle to delete it. Each try makes sure
    // the key was still live after WATCH (a loaded machine may be slow).
    for wait_for_cycle in [false, true] {
        let mut tested = false;
        for ms in [300u64, 1000, 3000, 10000] {
            q(&mut c, &["SET", "exp", "1", "PX", &ms.to_string()]);
            q(&mut c, &["WATCH", "exp"]);
            if qa::<i64>(&mut probe, &["PTTL", "exp"]) <= 0 {
                q(&mut c, &["UNWATCH"]);
                continue;
            }
            if wait_for_cycle {
                assert!(eventually(PATIENCE, || qa::<i64>(&mut probe, &["DBSIZE"]) == 0));
            } else {
                std::thread::sleep(Duration::from_millis(ms + 50));
            }
            assert!(!ping_transaction(&mut c), "expired after {ms} ms");
            tested = true;
            break;
        }
        assert!(tested, "WATCH never ran before the key expired");
    }
    // Already expired at WATCH: its deletion is no change.
    q(&mut c, &["SET", "stale", "1", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    q(&mut c, &["WATCH", "stale"]);
    std::thread::sleep(Duration::from_millis(250));
    assert!(ping_transaction(&mut c));
    // An expiry far away is no change either.
    q(&mut c, &["SET", "later", "1", "EX", "1000"]);
    q(&mut c, &["WATCH", "later"]);
    assert!(ping_transaction(&mut c));
}

#[test]
fn flushdb_flushall_and_swapdb_touch_the_watched_keys_that_exist() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut other = s.conn();
    for flush in ["FLUSHDB", "FLUSHALL"] {
        q(&mut c, &["SET", "x", "30"]);
        q(&mut c, &["WATCH", "x"]);
        q(&mut other, &[flush]);
        assert!(!ping_transaction(&mut c), "{flush}");
        // A watched key that does not exist is not touched.
        q(&mut c, &["WATCH", "x"]);
        q(&mut other, &[flush]);
        assert!(ping_transaction(&mut c), "{flush} of a missing key");
    }
    // SWAPDB: a key that exists in either database is touched.
    q(&mut c, &["SET", "x", "30"]);
    q(&mut c, &["WATCH", "x"]);
    q(&mut other, &["SWAPDB", "0", "1"]);
    assert!(!ping_transaction(&mut c));
    q(&mut c, &["FLUSHALL"]);
    q(&mut c, &["SELECT", "1"]);
    q(&mut c, &["SET", "x", "30"]);
    q(&mut c, &["SELECT", "0"]);
    q(&mut c, &["WATCH", "x"]);
    q(&mut other, &["SWAPDB", "0", "1"]);
    assert!(!ping_transaction(&mut c));
    // In neither: untouched; and the watch follows the database, so a
    // later write to db 0 (now the other namespace) breaks it.
    q(&mut c, &["FLUSHALL"]);
    q(&mut c, &["WATCH", "x"]);
    q(&mut other, &["SWAPDB", "0", "1"]);
    assert!(ping_transaction(&mut c));
    q(&mut c, &["WATCH", "x"]);
    q(&mut other, &["SWAPDB", "0", "1"]);
    q(&mut other, &["SET", "x", "1"]);
    assert!(!ping_transaction(&mut c));
}

#[test]
fn client_list_shows_multi_and_watch_state() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut other = s.conn();
    let id: i64 = qa(&mut c, &["CLIENT", "ID"]);
    let line = |other: &mut redis::Connection| -> String {
        let text: String = qa(other, &["CLIENT", "LIST", "ID", &id.to_string()]);
        text.trim().to_string()
    };
    assert!(
        line(&mut other).contains(" flags=N "),
        "{}",
        line(&mut other)
    );
    q(&mut c, &["WATCH", "a", "b"]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["PING"]);
    let l = line(&mut other);
    assert!(
        l.contains(" flags=x ") && l.contains(" multi=1 ") && l.contains(" watch=2 "),
        "{l}"
    );
    q(&mut other, &["SET", "a", "1"]);
    assert!(
        line(&mut other).contains(" flags=xd "),
        "{}",
        line(&mut other)
    );
    assert_eq!(exec(&mut c), None);
    let l = line(&mut other);
    assert!(
        l.contains(" flags=N ") && l.contains(" multi=-1 ") && l.contains(" watch=0 "),
        "{l}"
    );
}

#[test]
fn command_getkeys_finds_keys_of_transaction_and_container_commands() {
    let s = Server::start(1);
    let mut c = s.conn();
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["COMMAND", "GETKEYS", "WATCH", "a", "b"]),
        ["a", "b"]
    );
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"]),
        ["k"]
    );
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "MULTI"]),
        "ERR The command has no key arguments"
    );
}

#[test]
fn collections_run_inside_exec_and_their_writes_break_watch() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut other = s.conn();
    let k = one_key_per_core("c", 2);
    let (a, b) = (&k[0], &k[1]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["SADD", a, "x", "y"]);
    q(&mut c, &["SADD", b, "y", "z"]);
    q(&mut c, &["SINTERSTORE", "dest", a, b]);
    q(&mut c, &["SMOVE", a, b, "x"]);
    q(&mut c, &["SINTERCARD", "2", a, b]);
    q(&mut c, &["HSET", "h", "f", "v"]);
    let got = exec(&mut c).expect("no WATCH");
    assert_eq!(
        got,
        vec![
            Value::Int(2),
            Value::Int(2),
            Value::Int(1),
            Value::Int(1),
            Value::Int(1),
            Value::Int(1),
        ]
    );
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["COMMAND", "GETKEYS", "SINTERCARD", "2", a, b]),
        [a.as_str(), b.as_str()]
    );
    // Element writes (SADD, HSET) and whole-value writes (SINTERSTORE).
    for write in [
        vec!["SADD", a, "new"],
        vec!["HSET", a, "f", "v"],
        vec!["SINTERSTORE", a, b, b],
    ] {
        q(&mut other, &["DEL", a]);
        q(&mut c, &["WATCH", a]);
        q(&mut other, &write);
        assert!(!ping_transaction(&mut c), "{write:?}");
    }
}

#[test]
fn mset_and_mget_over_several_cores_are_atomic() {
    let s = Server::start(2);
    let keys: Vec<String> = (0..2)
        .flat_map(|core| keys_on_core("m", core, 2, 4))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, keys, done) = (s.url(), keys.clone(), done.clone());
        std::thread::spawn(move || {
            let mut c = connect(&url);
            for i in 0..300 {
                let mut args = vec!["MSET".to_string()];
                for k in &keys {
                    args.push(k.clone());
                    args.push(i.to_string());
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                assert_eq!(q(&mut c, &args), Value::Okay);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut c = s.conn();
    let mut args = vec!["MGET"];
    args.extend(keys.iter().map(String::as_str));
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) && reads < 5000 {
        let got: Vec<Option<String>> = qa(&mut c, &args);
        assert!(got.windows(2).all(|w| w[0] == w[1]), "torn MGET: {got:?}");
        reads += 1;
    }
    writer.join().expect("writer");
    let got: Vec<String> = qa(&mut c, &args);
    assert!(got.iter().all(|v| v == "299"), "{got:?}");
}

#[test]
fn cross_core_commands_taking_keys_in_opposite_orders_never_deadlock() {
    let s = Server::start(4);
    let k = one_key_per_core("d", 4);
    let mut c = s.conn();
    q(&mut c, &["MSET", &k[0], "1", &k[3], "1"]);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (url, k) = (s.url(), k.clone());
            std::thread::spawn(move || {
                let mut c = connect(&url);
                let (a, b) = if w % 2 == 0 {
                    (&k[0], &k[3])
                } else {
                    (&k[3], &k[0])
                };
                for _ in 0..100 {
                    // Any outcome will do (RENAME of a missing key is an
                    // error); every command must be answered.
                    let _ = cmd(&["RENAME", a, b]).query::<Value>(&mut c);
                    q(&mut c, &["COPY", b, a, "REPLACE"]);
                    q(&mut c, &["MSET", b, "2", &k[1], "2", a, "2"]);
                    q(&mut c, &["MULTI"]);
                    q(&mut c, &["INCR", b]);
                    q(&mut c, &["DEL", &k[2], a]);
                    q(&mut c, &["SET", a, "3"]);
                    exec(&mut c).expect("no WATCH");
                    let _: Vec<Option<String>> = qa(&mut c, &["MGET", a, &k[2], b]);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
}

/// A tiny deterministic generator (xorshift64*), one per client thread.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

const ACCOUNTS: usize = 20;
const OPENING: i64 = 1000;

fn balances(values: &[Value]) -> Vec<i64> {
    values
        .iter()
        .map(|v| match v {
            Value::BulkString(b) => std::str::from_utf8(b).unwrap().parse().unwrap(),
            other => panic!("balance {other:?}"),
        })
        .collect()
}

fn bank(cores: usize) {
    let s = Server::start(cores);
    let per_core = ACCOUNTS.div_ceil(cores);
    let accounts: Vec<String> = (0..cores)
        .flat_map(|core| keys_on_core("acct", core, cores, per_core))
        .take(ACCOUNTS)
        .collect();
    let mut c = s.conn();
    let mut mset = vec!["MSET".to_string()];
    for a in &accounts {
        mset.push(a.clone());
        mset.push(OPENING.to_string());
    }
    q(&mut c, &mset.iter().map(String::as_str).collect::<Vec<_>>());
    let total = OPENING * ACCOUNTS as i64;
    let done = Arc::new(AtomicBool::new(false));
    let mut movers = Vec::new();
    // Blind transfers: MULTI DECRBY INCRBY EXEC.
    for t in 0..3u64 {
        let (url, accounts) = (s.url(), accounts.clone());
        movers.push(std::thread::spawn(move || {
            let mut c = connect(&url);
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
            for _ in 0..150 {
                let from = rng.below(ACCOUNTS as u64) as usize;
                let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
                let amount = (1 + rng.below(50)).to_string();
                q(&mut c, &["MULTI"]);
                q(&mut c, &["DECRBY", &accounts[from], &amount]);
                q(&mut c, &["INCRBY", &accounts[to], &amount]);
                let got = exec(&mut c).expect("no WATCH");
                assert_eq!(got.len(), 2);
            }
        }));
    }
    // Checked transfers: WATCH, read, MULTI, EXEC, retry when broken.
    for t in 0..2u64 {
        let (url, accounts) = (s.url(), accounts.clone());
        movers.push(std::thread::spawn(move || {
            let mut c = connect(&url);
            let mut rng = Rng(0x5851_f42d_4c95_7f2d ^ (t + 7));
            let (mut committed, mut retried, mut tries) = (0, 0, 0);
            while committed < 60 && tries < 5000 {
                tries += 1;
                let from = rng.below(ACCOUNTS as u64) as usize;
                let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
                let amount = 1 + rng.below(50) as i64;
                q(&mut c, &["WATCH", &accounts[from], &accounts[to]]);
                let have: i64 = qa(&mut c, &["GET", &accounts[from]]);
                if have < amount {
                    q(&mut c, &["UNWATCH"]);
                    continue;
                }
                q(&mut c, &["MULTI"]);
                if t == 0 {
                    // Writes the balance it read: only WATCH keeps the total.
                    let left = (have - amount).to_string();
                    q(&mut c, &["SET", &accounts[from], &left]);
                } else {
                    q(&mut c, &["DECRBY", &accounts[from], &amount.to_string()]);
                }
                q(&mut c, &["INCRBY", &accounts[to], &amount.to_string()]);
                match exec(&mut c) {
                    Some(_) => committed += 1,
                    None => retried += 1,
                }
            }
            assert_eq!(committed, 60, "gave up after {retried} broken WATCHes");
        }));
    }
    // Readers: all balances in one MULTI, or in one MGET.
    let mut readers = Vec::new();
    for use_mget in [false, true] {
        let (url, accounts, done) = (s.url(), accounts.clone(), done.clone());
        readers.push(std::thread::spawn(move || {
            let mut c = connect(&url);
            let mut reads = 0;
            while reads == 0 || (!done.load(Ordering::SeqCst) && reads < 3000) {
                let got = if use_mget {
                    let mut args = vec!["MGET"];
                    args.extend(accounts.iter().map(String::as_str));
                    match q(&mut c, &args) {
                        Value::Array(v) => v,
                        other => panic!("MGET {other:?}"),
                    }
                } else {
                    q(&mut c, &["MULTI"]);
                    for a in &accounts {
                        q(&mut c, &["GET", a]);
                    }
                    exec(&mut c).expect("no WATCH")
                };
                let sum: i64 = balances(&got).iter().sum();
                assert_eq!(
                    sum, total,
                    "read {reads} (mget: {use_mget}) saw a transfer half done"
                );
                reads += 1;
            }
            reads
        }));
    }
    for m in movers {
        m.join().expect("mover");
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        assert!(r.join().expect("reader") > 0);
    }
    let mut args = vec!["MGET"];
    args.extend(accounts.iter().map(String::as_str));
    let after: Vec<i64> = qa(&mut c, &args);
    assert_eq!(after.iter().sum::<i64>(), total);
}

#[test]
fn bank_transfers_keep_the_total_on_two_cores() {
    bank(2);
}

#[test]
fn bank_transfers_keep_the_total_on_four_cores_sharing_two_cpus() {
    bank(4);
}
