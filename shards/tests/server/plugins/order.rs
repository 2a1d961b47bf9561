//! Pipeline order and ACL checks around plugin calls: a multi-key command
//! queued behind a held key keeps its place against a later command of
//! the same pipeline (built-in MSET and a plugin call), and a PLUGIN
//! RELOAD between routing and running does not change which keys a
//! queued call touches (the version the call was routed and ACL-checked
//! by runs).

use std::time::Duration;

use frys_shards::keyspace::key_slot;
use redis::Value;

use super::{load, plugin, server};
use crate::common::*;

/// A new connection of `s` served by `core` (CLIENT INFO's `io-thread`).
fn conn_on_core(s: &Server, core: usize) -> redis::Connection {
    let want = format!("io-thread={core}");
    for _ in 0..200 {
        let mut c = s.conn();
        let info: String = qa(&mut c, &["CLIENT", "INFO"]);
        if info.split_whitespace().any(|f| f == want) {
            return c;
        }
    }
    panic!("no connection landed on core {core}")
}

/// Two keys on core 0 of a 2-core server, the first in lock order (the
/// lower slot) first, and one key on core 1.
fn keys() -> (String, String, String) {
    let mut on_0 = keys_on_core("ord", 0, 2, 2);
    on_0.sort_by_key(|k| key_slot(k.as_bytes()));
    let y = keys_on_core("ordy", 1, 2, 1).remove(0);
    (on_0.remove(0), on_0.remove(0), y)
}

/// Holds `x` (core 0) for about a second: core 1 runs SPIN (a plugin
/// that loops until its 1500 ms deadline), and a transaction over `x` and
/// `y` (core 1), started from core 0, locks `x` there and then waits for
/// core 1. Returns the replies of the SPIN and of the EXEC.
fn hold_x(
    s: &Server,
    x: &str,
    y: &str,
) -> [std::sync::mpsc::Receiver<redis::RedisResult<Value>>; 2] {
    let spin = query_in_thread(conn_on_core(s, 0), &["SPIN", y]);
    // Time for the SPIN to reach core 1. Were the machine slower, the
    // transaction would run at once and the round prove nothing (it
    // would pass, not fail).
    std::thread::sleep(Duration::from_millis(300));
    let mut b = conn_on_core(s, 0);
    assert_eq!(q(&mut b, &["MULTI"]), Value::Okay);
    assert_eq!(
        q(&mut b, &["SET", x, "held"]),
        Value::SimpleString("QUEUED".into())
    );
    assert_eq!(
        q(&mut b, &["SET", y, "held"]),
        Value::SimpleString("QUEUED".into())
    );
    let exec = query_in_thread(b, &["EXEC"]);
    std::thread::sleep(Duration::from_millis(200));
    [spin, exec]
}

#[test]
fn a_multi_key_command_behind_a_held_key_keeps_its_place_in_the_pipeline() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "spin.wasm", &["timeout-ms", "1500"]);
    load(&mut c, "xfer.wasm", &[]);
    let (x, z, y) = keys();
    for round in 0..3 {
        // Built-in: MSET x, z waits for x; the SET of z after it must not
        // run first.
        let waits = hold_x(&s, &x, &y);
        let mut a = conn_on_core(&s, 0);
        let (mset, set): (String, String) = redis::pipe()
            .cmd("MSET")
            .arg(&x)
            .arg("1")
            .arg(&z)
            .arg("before")
            .cmd("SET")
            .arg(&z)
            .arg("after")
            .query(&mut a)
            .expect("both answer");
        assert_eq!((mset.as_str(), set.as_str()), ("OK", "OK"));
        for w in waits {
            let _ = w.recv_timeout(PATIENCE).expect("answered");
        }
        assert_eq!(
            qa::<String>(&mut c, &["GET", &z]),
            "after",
            "round {round}: the later SET ran before the MSET"
        );
        // A plugin call over x and z (one core, two slots): XFER moves 1.
        assert_eq!(q(&mut c, &["MSET", &x, "10", &z, "0"]), Value::Okay);
        let waits = hold_x(&s, &x, &y);
        // The transaction sets x to "held": make it a number again first.
        let (_, moved, set): (String, Value, String) = redis::pipe()
            .cmd("SET")
            .arg(&x)
            .arg("10")
            .cmd("XFER")
            .arg(&x)
            .arg(&z)
            .arg("1")
            .cmd("SET")
            .arg(&z)
            .arg("5")
            .query(&mut conn_on_core(&s, 0))
            .expect("all answer");
        assert_eq!(set, "OK", "{moved:?}");
        for w in waits {
            let _ = w.recv_timeout(PATIENCE).expect("answered");
        }
        assert_eq!(
            qa::<String>(&mut c, &["GET", &z]),
            "5",
            "round {round}: the later SET ran before the plugin call"
        );
    }
}

/// Loads `rekey1.wasm` from a copy it can then replace with version 2
/// (declares every argument); returns the temp dir keeping the copy.
fn load_rekey(c: &mut redis::Connection) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rekey.wasm");
    std::fs::copy(plugin("rekey1.wasm"), &file).unwrap();
    let file = file.display().to_string();
    assert_eq!(q(c, &["PLUGIN", "LOAD", &file]), Value::Okay);
    std::fs::copy(plugin("rekey2.wasm"), dir.path().join("rekey.wasm")).unwrap();
    dir
}

#[test]
fn a_reload_between_routing_and_running_cannot_write_keys_the_acl_forbids() {
    let s = server(2);
    let mut c = s.conn();
    let dir = load_rekey(&mut c);
    // u may reload plugins but touch only keys a*.
    assert_eq!(
        q(
            &mut c,
            &["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~a*"]
        ),
        Value::Okay
    );
    let mut u = s.conn();
    assert_eq!(q(&mut u, &["AUTH", "u", "pw"]), Value::Okay);
    assert!(err(&mut u, &["SET", "b2", "x"]).starts_with("NOPERM"));
    for a in ["a0", &keys_on_core("a", 1, 2, 1)[0]] {
        let (set, reloaded): (i64, String) = redis::pipe()
            .cmd("REKEY")
            .arg(a)
            .arg("b2")
            .cmd("PLUGIN")
            .arg("RELOAD")
            .arg("rekey")
            .query(&mut u)
            .expect("both answer");
        // The call runs as routed: version 1, key a only.
        assert_eq!((set, reloaded.as_str()), (1, "OK"));
        assert_eq!(qa::<String>(&mut c, &["GET", a]), "v1");
        assert_eq!(q(&mut c, &["EXISTS", "b2"]), Value::Int(0), "b2 written");
        // Back to version 1 on disk and in the registry for the next key.
        let file = dir.path().join("rekey.wasm");
        std::fs::copy(plugin("rekey1.wasm"), &file).unwrap();
        assert_eq!(q(&mut c, &["PLUGIN", "RELOAD", "rekey"]), Value::Okay);
        std::fs::copy(plugin("rekey2.wasm"), &file).unwrap();
    }
    // Version 2 now loaded: the new declaration is checked for new calls.
    assert_eq!(q(&mut c, &["PLUGIN", "RELOAD", "rekey"]), Value::Okay);
    assert!(err(&mut u, &["REKEY", "a0", "b2"]).starts_with("NOPERM"));
    assert_eq!(q(&mut c, &["EXISTS", "b2"]), Value::Int(0));
}

#[test]
fn reloads_from_another_client_never_let_a_user_write_a_key_its_acl_forbids() {
    let s = server(2);
    let mut c = s.conn();
    let dir = load_rekey(&mut c);
    // u2 may not run PLUGIN and may touch only keys a*.
    assert_eq!(
        q(
            &mut c,
            &["ACL", "SETUSER", "u2", "on", ">pw", "+@all", "-plugin", "~a*"]
        ),
        Value::Okay
    );
    let file = dir.path().join("rekey.wasm");
    let reloader = std::thread::spawn({
        let mut c = s.conn();
        move || {
            for i in 0..120 {
                let version = 1 + i % 2;
                std::fs::copy(plugin(&format!("rekey{version}.wasm")), &file).unwrap();
                assert_eq!(q(&mut c, &["PLUGIN", "RELOAD", "rekey"]), Value::Okay);
            }
        }
    });
    let mut u = s.conn();
    assert_eq!(q(&mut u, &["AUTH", "u2", "pw"]), Value::Okay);
    let mut batches = 0;
    while !reloader.is_finished() {
        let mut pipe = redis::pipe();
        for _ in 0..50 {
            pipe.cmd("REKEY").arg("a0").arg("b2");
        }
        // Each call answers 1 (version 1) or NOPERM (version 2 at dispatch).
        let _ = pipe.query::<Value>(&mut u);
        batches += 1;
        assert_eq!(q(&mut c, &["EXISTS", "b2"]), Value::Int(0), "u2 wrote b2");
    }
    reloader.join().unwrap();
    assert!(batches > 0);
    assert_eq!(q(&mut c, &["EXISTS", "b2"]), Value::Int(0), "u2 wrote b2");
}

#[test]
fn a_call_queued_before_a_reload_keeps_its_place_against_later_commands() {
    let s = server(2);
    let mut c = s.conn();
    let _dir = load_rekey(&mut c);
    // a on core 1, b on core 0: version 2 would span both cores.
    let a = keys_on_core("ra", 1, 2, 1).remove(0);
    let b = keys_on_core("rb", 0, 2, 1).remove(0);
    let (set, reloaded, later): (i64, String, String) = redis::pipe()
        .cmd("REKEY")
        .arg(&a)
        .arg(&b)
        .cmd("PLUGIN")
        .arg("RELOAD")
        .arg("rekey")
        .cmd("SET")
        .arg(&a)
        .arg("later")
        .query(&mut c)
        .expect("all answer");
    assert_eq!((set, reloaded.as_str(), later.as_str()), (1, "OK", "OK"));
    assert_eq!(qa::<String>(&mut c, &["GET", &a]), "later");
    assert_eq!(q(&mut c, &["EXISTS", &b]), Value::Int(0));
    // The next call runs version 2 over both cores.
    assert_eq!(qa::<i64>(&mut c, &["REKEY", &a, &b]), 2);
    assert_eq!(qa::<Vec<String>>(&mut c, &["MGET", &a, &b]), ["v2", "v2"]);
}
