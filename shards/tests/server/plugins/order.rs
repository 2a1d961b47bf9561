//! Pipeline order and ACL checks around plugin calls: a multi-key command
//! queued behind a held key keeps its place against a later command of
//! the same pipeline (built-in MSET and a plugin call).

use std::time::Duration;

use frys_shards::keyspace::key_slot;
use redis::Value;

use super::{load, server};
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
