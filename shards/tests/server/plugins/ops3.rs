//! The functions of ABI v3 against the server's own commands: the test
//! plugin `ops3` (C, `plugins/examples/test/ops3.c`; WASM commands `P.*`,
//! the same source built native as `N.*`) answers each command as the
//! server does, so every case runs the built-in command on one key and
//! the plugin's on its twin, from the same setup, and compares the
//! replies and what each key holds after (type, elements, whether it
//! expires). Then what only a plugin can get wrong: a TTL it sets on a
//! collection expires it, a failed call after collection writes leaves
//! the data as it was, an undeclared key is refused, and a call over
//! keys on both cores (the cross-core path) writes both or neither.

use std::time::Duration;

use redis::Value;

use super::{load, server};
use crate::common::*;

/// A reply, or its error text.
fn reply(c: &mut redis::Connection, args: &[String]) -> Result<Value, String> {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    cmd.query::<Value>(c).map_err(|e| error_text(&e))
}

/// What `key` holds: its type, its elements (as the read command of its
/// type answers them) and whether it expires.
fn state(c: &mut redis::Connection, key: &str) -> (String, Value, bool) {
    let kind: String = qa(c, &["TYPE", key]);
    let elements = match kind.as_str() {
        "string" => q(c, &["GET", key]),
        "list" => q(c, &["LRANGE", key, "0", "-1"]),
        "hash" => q(c, &["HGETALL", key]),
        "set" => {
            let mut members: Vec<Vec<u8>> = qa(c, &["SMEMBERS", key]);
            members.sort();
            Value::Array(members.into_iter().map(Value::BulkString).collect())
        }
        "zset" => q(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        _ => Value::Nil,
    };
    let ttl: i64 = qa(c, &["PTTL", key]);
    (kind, elements, ttl > 0)
}

/// One case: setup commands and the command under test, `K` standing for
/// the key; `extra` is appended to the built-in command only (ZRANGE's
/// WITHSCORES, which the plugin's always has).
struct Case<'a> {
    setup: &'a [&'a [&'a str]],
    cmd: &'a [&'a str],
    extra: &'a [&'a str],
}

const fn case<'a>(setup: &'a [&'a [&'a str]], cmd: &'a [&'a str]) -> Case<'a> {
    Case {
        setup,
        cmd,
        extra: &[],
    }
}

fn with_key(args: &[&str], key: &str) -> Vec<String> {
    args.iter()
        .map(|a| {
            if *a == "K" {
                key.to_string()
            } else {
                a.to_string()
            }
        })
        .collect()
}

/// Runs every case with the built-in command and with the plugin's
/// (`prefix` `p.` or `n.`), comparing replies and states.
fn compare(c: &mut redis::Connection, prefix: &str, cases: &[Case]) {
    for (i, case) in cases.iter().enumerate() {
        let (b, p) = (format!("b{i}"), format!("p{i}"));
        for key in [&b, &p] {
            q(c, &["DEL", key]);
            for step in case.setup {
                reply(c, &with_key(step, key)).expect("setup");
            }
        }
        let mut builtin = with_key(case.cmd, &b);
        builtin.extend(case.extra.iter().map(|s| s.to_string()));
        let mut ours = with_key(case.cmd, &p);
        ours[0] = format!("{prefix}{}", ours[0]);
        let (want, got) = (reply(c, &builtin), reply(c, &ours));
        assert_eq!(got, want, "{ours:?} against {builtin:?}");
        assert_eq!(state(c, &p), state(c, &b), "after {ours:?}");
    }
}

/// Elements long enough that a range read's 24-byte first page cannot
/// hold one (the plugin then retries with a larger buffer).
const LONG: &str = "an element longer than the plugin's first page";

const LIST_CASES: &[Case<'static>] = &[
    case(
        &[&["RPUSH", "K", "a", "b", "c", "b", "a"]],
        &["LSET", "K", "1", "X"],
    ),
    case(&[&["RPUSH", "K", "a", "b", "c"]], &["LSET", "K", "-1", "Y"]),
    case(&[&["RPUSH", "K", "a", "b", "c"]], &["LSET", "K", "3", "Z"]),
    case(&[&["RPUSH", "K", "a", "b", "c"]], &["LSET", "K", "-4", "Z"]),
    case(&[], &["LSET", "K", "0", "Z"]),
    case(&[&["SET", "K", "v"]], &["LSET", "K", "0", "Z"]),
    case(
        &[&["RPUSH", "K", "a", "b", "c"], &["PEXPIRE", "K", "1000000"]],
        &["LSET", "K", "0", "kept-ttl"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "c", "b"]],
        &["LINSERT", "K", "BEFORE", "b", "N"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b"]],
        &["LINSERT", "K", "AFTER", "b", "N"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b"]],
        &["LINSERT", "K", "AFTER", "zz", "N"],
    ),
    case(&[], &["LINSERT", "K", "AFTER", "a", "N"]),
    case(
        &[&["HSET", "K", "f", "v"]],
        &["LINSERT", "K", "AFTER", "a", "N"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "a", "c", "a"]],
        &["LREM", "K", "0", "a"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "a", "c", "a"]],
        &["LREM", "K", "2", "a"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "a", "c", "a"]],
        &["LREM", "K", "-2", "a"],
    ),
    case(&[&["RPUSH", "K", "a", "a"]], &["LREM", "K", "0", "a"]),
    case(&[&["RPUSH", "K", "a"]], &["LREM", "K", "0", "q"]),
    case(&[], &["LREM", "K", "0", "q"]),
    case(
        &[&["RPUSH", "K", "a", "b", "c", "d"]],
        &["LTRIM", "K", "1", "-2"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "c", "d"]],
        &["LTRIM", "K", "-100", "100"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "c", "d"]],
        &["LTRIM", "K", "3", "1"],
    ),
    case(&[&["RPUSH", "K", "a", "b"]], &["LTRIM", "K", "5", "10"]),
    case(&[], &["LTRIM", "K", "0", "1"]),
    case(&[&["SADD", "K", "m"]], &["LTRIM", "K", "0", "1"]),
    case(
        &[&[
            "RPUSH", "K", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
        ]],
        &["LRANGE", "K", "0", "-1"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "c", "d"]],
        &["LRANGE", "K", "-3", "100"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "c", "d"]],
        &["LRANGE", "K", "2", "1"],
    ),
    case(
        &[&["RPUSH", "K", "a", "b", "c", "d"]],
        &["LRANGE", "K", "-100", "-4"],
    ),
    case(
        &[&["RPUSH", "K", "x", LONG, "y", LONG]],
        &["LRANGE", "K", "0", "-1"],
    ),
    case(&[], &["LRANGE", "K", "0", "-1"]),
    case(&[&["ZADD", "K", "1", "m"]], &["LRANGE", "K", "0", "-1"]),
];

const ZSET_HASH_CASES: &[Case<'static>] = &[
    Case {
        setup: &[&[
            "ZADD", "K", "1", "a", "2", "b", "2", "c", "3", "d", "-5", LONG,
        ]],
        cmd: &["ZRANGE", "K", "0", "-1"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[&["ZADD", "K", "1", "a", "2", "b", "3", "c"]],
        cmd: &["ZRANGE", "K", "-2", "-1"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[&["ZADD", "K", "1", "a", "2", "b", "3", "c"]],
        cmd: &["ZRANGE", "K", "5", "10"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[&["HSET", "K", "f", "v"]],
        cmd: &["ZRANGE", "K", "0", "-1"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[&["ZADD", "K", "1", "a", "2", "b", "2", "c", "3", "d"]],
        cmd: &["ZRANGEBYSCORE", "K", "(1", "3"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[&["ZADD", "K", "1", "a", "2", "b", "2", "c", "3", "d"]],
        cmd: &["ZRANGEBYSCORE", "K", "2", "(3"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[&["ZADD", "K", "1", "a", "2", "b", "-inf", "c", "+inf", "d"]],
        cmd: &["ZRANGEBYSCORE", "K", "-inf", "+inf"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[&["ZADD", "K", "1", "a", "2", "b"]],
        cmd: &["ZRANGEBYSCORE", "K", "5", "1"],
        extra: &["WITHSCORES"],
    },
    Case {
        setup: &[],
        cmd: &["ZRANGEBYSCORE", "K", "-inf", "+inf"],
        extra: &["WITHSCORES"],
    },
    case(&[&["ZADD", "K", "1", "a"]], &["ZINCRBY", "K", "5", "a"]),
    case(&[&["ZADD", "K", "1", "a"]], &["ZINCRBY", "K", "-3", "new"]),
    case(&[], &["ZINCRBY", "K", "2", "m"]),
    case(&[&["RPUSH", "K", "x"]], &["ZINCRBY", "K", "2", "m"]),
    case(
        &[&["ZADD", "K", "1", "a"], &["PEXPIRE", "K", "1000000"]],
        &["ZINCRBY", "K", "1", "a"],
    ),
    case(
        &[&["HSET", "K", "f", "41", "g", "x"]],
        &["HINCRBY", "K", "f", "1"],
    ),
    case(
        &[&["HSET", "K", "f", "41", "g", "x"]],
        &["HINCRBY", "K", "g", "1"],
    ),
    case(&[&["HSET", "K", "f", " 1"]], &["HINCRBY", "K", "f", "1"]),
    case(&[&["HSET", "K", "f", "41"]], &["HINCRBY", "K", "new", "-5"]),
    case(
        &[&["HSET", "K", "m", "9223372036854775807"]],
        &["HINCRBY", "K", "m", "1"],
    ),
    case(
        &[&["HSET", "K", "m", "-9223372036854775808"]],
        &["HINCRBY", "K", "m", "-1"],
    ),
    case(&[], &["HINCRBY", "K", "f", "7"]),
    case(&[&["SADD", "K", "m"]], &["HINCRBY", "K", "f", "7"]),
];

/// Each type, made under `K`.
const EVERY_TYPE: &[&[&str]] = &[
    &["SET", "K", "v"],
    &["HSET", "K", "f", "v"],
    &["SADD", "K", "m"],
    &["ZADD", "K", "1", "m"],
    &["RPUSH", "K", "a"],
];

/// The TTL cases of one type (made by the setups, one with and one
/// without an expiry): every PEXPIRE condition, PERSIST, a deadline in
/// the past, one past the clock, TYPE and EXISTS.
fn ttl_cases<'a>(setups: [&'a [&'a [&'a str]]; 2]) -> Vec<Case<'a>> {
    let mut cases = Vec::new();
    for setup in setups {
        for cmd in [
            &["PEXPIRE", "K", "1000000"] as &[&str],
            &["PEXPIRE", "K", "1000000", "NX"],
            &["PEXPIRE", "K", "1000000", "XX"],
            &["PEXPIRE", "K", "1000000", "GT"],
            &["PEXPIRE", "K", "100000", "GT"],
            &["PEXPIRE", "K", "1000000", "LT"],
            &["PEXPIRE", "K", "100000", "LT"],
            &["PEXPIRE", "K", "0"],
            &["PEXPIRE", "K", "-5"],
            &["PEXPIRE", "K", "9223372036854775807"],
            &["PERSIST", "K"],
            &["TYPE", "K"],
            &["EXISTS", "K"],
        ] {
            cases.push(case(setup, cmd));
        }
    }
    cases
}

/// A server with `file` loaded.
fn with(file: &str) -> (Server, redis::Connection) {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, file, &[]);
    (s, c)
}

#[test]
fn v3_list_functions_answer_as_the_list_commands_from_wasm_and_native() {
    for (file, prefix) in [("ops3.wasm", "p."), ("ops3n.so", "n.")] {
        let (_s, mut c) = with(file);
        compare(&mut c, prefix, LIST_CASES);
    }
}

#[test]
fn v3_sorted_set_and_hash_functions_answer_as_their_commands_from_wasm_and_native() {
    for (file, prefix) in [("ops3.wasm", "p."), ("ops3n.so", "n.")] {
        let (_s, mut c) = with(file);
        compare(&mut c, prefix, ZSET_HASH_CASES);
    }
}

#[test]
fn v3_expiry_type_and_existence_work_on_keys_of_every_type_from_wasm_and_native() {
    for (file, prefix) in [("ops3.wasm", "p."), ("ops3n.so", "n.")] {
        let (_s, mut c) = with(file);
        for make in EVERY_TYPE {
            let plain = [*make];
            let with_ttl = [*make, &["PEXPIRE", "K", "500000"]];
            compare(&mut c, prefix, &ttl_cases([&plain, &with_ttl]));
        }
        // TYPE / EXISTS / PTTL of a missing key.
        compare(
            &mut c,
            prefix,
            &[case(&[], &["TYPE", "K"]), case(&[], &["EXISTS", "K"])],
        );
        for make in EVERY_TYPE.iter().copied().chain([&[] as &[&str]]) {
            for key in ["pt-b", "pt-p"] {
                q(&mut c, &["DEL", key]);
                if !make.is_empty() {
                    reply(&mut c, &with_key(make, key)).unwrap();
                }
            }
            let want: i64 = qa(&mut c, &["PTTL", "pt-b"]);
            let pttl = format!("{prefix}pttl");
            assert_eq!(qa::<i64>(&mut c, &[&pttl, "pt-p"]), want, "{make:?}");
            if !make.is_empty() {
                q(&mut c, &["PEXPIRE", "pt-p", "1000000"]);
                let left: i64 = qa(&mut c, &[&pttl, "pt-p"]);
                assert!(left > 0 && left <= 1_000_000, "{make:?}: {left}");
            }
        }
    }
}

#[test]
fn a_ttl_a_plugin_sets_on_a_collection_keeps_its_elements_then_expires_it() {
    for (file, prefix) in [("ops3.wasm", "p."), ("ops3n.so", "n.")] {
        let (_s, mut c) = with(file);
        let pexpire = format!("{prefix}pexpire");
        for make in &EVERY_TYPE[1..] {
            let key = "doomed";
            q(&mut c, &["DEL", key]);
            reply(&mut c, &with_key(make, key)).unwrap();
            let before = state(&mut c, key);
            // An expiry-only change: the elements stay as they were.
            assert_eq!(qa::<i64>(&mut c, &[&pexpire, key, "1000000"]), 1);
            let (kind, elements, expires) = state(&mut c, key);
            assert_eq!((kind, elements), (before.0, before.1), "{make:?}");
            assert!(expires, "{make:?}");
            assert_eq!(qa::<i64>(&mut c, &[&pexpire, key, "1"]), 1);
            let gone = eventually(Duration::from_secs(30), || {
                qa::<i64>(&mut c, &["EXISTS", key]) == 0
            });
            assert!(gone, "{make:?} never expired");
            assert_eq!(
                q(&mut c, &["TYPE", key]),
                Value::SimpleString("none".into())
            );
        }
    }
}

#[test]
fn a_failed_call_after_collection_writes_and_an_undeclared_key_change_nothing() {
    for (file, prefix) in [("ops3.wasm", "p."), ("ops3n.so", "n.")] {
        let (_s, mut c) = with(file);
        q(&mut c, &["DEL", "fl", "other"]);
        q(&mut c, &["RPUSH", "fl", "a", "x", "b", "x"]);
        q(&mut c, &["RPUSH", "other", "o"]);
        let before = state(&mut c, "fl");
        let e = err(&mut c, &[&format!("{prefix}editfail"), "fl"]);
        assert_eq!(e, "ERR editfail: failing after its writes");
        assert_eq!(state(&mut c, "fl"), before);

        let name = if prefix == "p." { "ops3" } else { "ops3n" };
        let e = err(&mut c, &[&format!("{prefix}sneak"), "fl", "other"]);
        assert_eq!(
            e,
            format!("ERR plugin '{name}' accessed key 'other' that the call did not declare")
        );
        assert_eq!(state(&mut c, "fl"), before);
        assert_eq!(
            q(&mut c, &["LRANGE", "other", "0", "-1"]),
            Value::Array(vec![bulk("o")])
        );
    }
}

#[test]
fn v3_edits_over_keys_on_both_cores_write_both_or_neither() {
    for (file, prefix) in [("ops3.wasm", "p."), ("ops3n.so", "n.")] {
        let (_s, mut c) = with(file);
        let a = keys_on_core("xa", 0, 2, 1).remove(0);
        let b = keys_on_core("xb", 1, 2, 1).remove(0);
        let xedit = format!("{prefix}xedit");
        for k in [&a, &b] {
            q(&mut c, &["DEL", k]);
            q(&mut c, &["RPUSH", k, "1", "2", "3", "4"]);
        }
        // An expiry-only change on each core keeps every element.
        let before = (state(&mut c, &a), state(&mut c, &b));
        assert_eq!(q(&mut c, &[&xedit, &a, &b, "ttl"]), Value::Okay);
        for (k, was) in [(&a, &before.0), (&b, &before.1)] {
            let (kind, elements, expires) = state(&mut c, k);
            assert_eq!((&kind, &elements), (&was.0, &was.1), "{k}");
            assert!(expires, "{k}");
            q(&mut c, &["PERSIST", k]);
        }
        let e = err(&mut c, &[&xedit, &a, &b, "fail"]);
        assert_eq!(e, "ERR xedit: failing after its writes");
        assert_eq!((state(&mut c, &a), state(&mut c, &b)), before);

        assert_eq!(q(&mut c, &[&xedit, &a, &b, "ok"]), Value::Okay);
        for k in [&a, &b] {
            let (kind, elements, expires) = state(&mut c, k);
            assert_eq!(kind, "list");
            assert_eq!(
                elements,
                Value::Array(vec![bulk("e"), bulk("i"), bulk("2")]),
                "{k}"
            );
            assert!(expires, "{k}");
        }
        // WRONGTYPE on the second core's key fails the whole call.
        q(&mut c, &["DEL", &b]);
        q(&mut c, &["SET", &b, "s"]);
        let before = state(&mut c, &a);
        let e = err(&mut c, &[&xedit, &a, &b, "ok"]);
        assert!(e.starts_with("WRONGTYPE"), "{e}");
        assert_eq!(state(&mut c, &a), before);
    }
}

#[test]
fn the_rust_sdk_pages_ranges_and_sets_ttls_as_the_commands_do() {
    let (_s, mut c) = with("native_cas.so");
    // Values long enough that the list outgrows the SDK's first pages.
    let value = |i: usize| format!("{i:04}-a value long enough to need several range pages");
    for i in 0..300 {
        let v = value(i % 250);
        let got: Vec<String> = qa(&mut c, &["NRECENT", "recent-p", "200", "1000000", &v]);
        q(&mut c, &["LREM", "recent-b", "0", &v]);
        q(&mut c, &["LPUSH", "recent-b", &v]);
        q(&mut c, &["LTRIM", "recent-b", "0", "199"]);
        q(&mut c, &["PEXPIRE", "recent-b", "1000000"]);
        let want: Vec<String> = qa(&mut c, &["LRANGE", "recent-b", "0", "-1"]);
        assert_eq!(got, want, "after {i}");
    }
    assert_eq!(state(&mut c, "recent-p"), state(&mut c, "recent-b"));
    q(&mut c, &["SET", "recent-s", "v"]);
    let e = err(&mut c, &["NRECENT", "recent-s", "2", "10", "v"]);
    assert!(e.starts_with("WRONGTYPE"), "{e}");

    for i in 0..400 {
        let member = format!("member-{i:03}-with-a-long-name");
        q(&mut c, &["ZADD", "top", &(i % 50).to_string(), &member]);
    }
    let got: Vec<String> = qa(&mut c, &["NTOP", "top", "45"]);
    let want: Vec<String> = qa(
        &mut c,
        &["ZRANGEBYSCORE", "top", "45", "+inf", "WITHSCORES"],
    );
    assert_eq!(got, want);
    assert_eq!(got.len(), 2 * 40);
    // NTALLY counts with HINCRBY now: a field that is not a number is
    // refused with HINCRBY's error.
    q(&mut c, &["HSET", "{t}h", "m", "x"]);
    let e = err(&mut c, &["NTALLY", "{t}h", "{t}z", "m"]);
    assert_eq!(e, "ERR hash value is not an integer");
}
