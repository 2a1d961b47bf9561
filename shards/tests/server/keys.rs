//! Generic key commands against the real binary, with their error cases
//! (texts as redis-server 7 answers them).

use std::collections::HashSet;

use crate::common::*;
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const DB_RANGE: &str = "ERR DB index is out of range";

fn assert_errors(c: &mut redis::Connection, cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        assert_eq!(err(c, args), *want, "{args:?}");
    }
}

fn mset_on_both_cores(c: &mut redis::Connection, prefix: &str, per_core: usize) -> Vec<String> {
    let mut keys = keys_on_core(prefix, 0, 2, per_core);
    keys.extend(keys_on_core(prefix, 1, 2, per_core));
    let mut args = vec!["MSET".to_string()];
    for k in &keys {
        args.push(k.clone());
        args.push("v".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(q(c, &args), Value::Okay);
    keys
}

#[test]
fn del_unlink_exists_touch_count_across_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let k = mset_on_both_cores(&mut c, "d", 2);
    assert_eq!(
        qa::<i64>(&mut c, &["EXISTS", &k[0], &k[2], &k[2], "nope"]),
        3
    );
    assert_eq!(qa::<i64>(&mut c, &["TOUCH", &k[0], &k[2], "nope"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["DEL", &k[0], &k[2], &k[0], "nope"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["UNLINK", &k[1], &k[3], &k[1]]), 2);
    assert_eq!(
        qa::<i64>(&mut c, &["EXISTS", &k[0], &k[1], &k[2], &k[3]]),
        0
    );
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 0);
    assert_errors(
        &mut c,
        &[
            (&["DEL"], &arity_error("del")),
            (&["UNLINK"], &arity_error("unlink")),
            (&["EXISTS"], &arity_error("exists")),
            (&["TOUCH"], &arity_error("touch")),
            (&["TYPE"], &arity_error("type")),
        ],
    );
}

#[test]
fn type_names_strings_and_none() {
    let s = Server::start(1);
    let mut c = s.conn();
    q(&mut c, &["SET", "k", "v"]);
    assert_eq!(qa::<String>(&mut c, &["TYPE", "k"]), "string");
    assert_eq!(qa::<String>(&mut c, &["TYPE", "nope"]), "none");
}

#[test]
fn expire_family_honours_nx_xx_gt_lt() {
    let s = Server::start(1);
    let mut c = s.conn();
    q(&mut c, &["SET", "k", "v"]);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "nope", "10"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "10", "XX"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "10", "GT"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "100", "NX"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "200", "NX"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "200", "XX"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "50", "GT"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "500", "GT"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "600", "LT"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["PEXPIRE", "k", "300000", "LT"]), 1);
    let pttl: i64 = qa(&mut c, &["PTTL", "k"]);
    assert!((290_000..=300_000).contains(&pttl), "{pttl}");
    assert_eq!(qa::<i64>(&mut c, &["PERSIST", "k"]), 1);
    // LT on a key without TTL: no TTL counts as infinite, so LT sets it.
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "100", "LT"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXPIREAT", "k", "99999999999"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRETIME", "k"]), 99_999_999_999);
    assert_eq!(qa::<i64>(&mut c, &["PEXPIREAT", "k", "99999999999999"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["PEXPIRETIME", "k"]), 99_999_999_999_999);
    assert_eq!(qa::<i64>(&mut c, &["EXPIRETIME", "k"]), 99_999_999_999);
    // A time in the past deletes the key.
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "k", "-1"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "k"]), 0);
    q(&mut c, &["SET", "k", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["EXPIRE", "k", "abc"], NOT_INT),
            (&["EXPIRE", "k", "10", "FOO"], "ERR Unsupported option FOO"),
            (
                &["EXPIRE", "k", "10", "NX", "XX"],
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ),
            (
                &["EXPIRE", "k", "10", "GT", "LT"],
                "ERR GT and LT options at the same time are not compatible",
            ),
            (
                &["EXPIRE", "k", "9223372036854775807"],
                "ERR invalid expire time in 'expire' command",
            ),
            (
                &["EXPIRE", "k", "-9223372036854775808"],
                "ERR invalid expire time in 'expire' command",
            ),
            (
                &["PEXPIRE", "k", "9223372036854775807"],
                "ERR invalid expire time in 'pexpire' command",
            ),
            (
                &["EXPIREAT", "k", "9223372036854775807"],
                "ERR invalid expire time in 'expireat' command",
            ),
            (&["EXPIRE", "k"], &arity_error("expire")),
            (&["PEXPIREAT", "k"], &arity_error("pexpireat")),
        ],
    );
    // The refused commands left the key alone.
    assert_eq!(qa::<i64>(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn ttl_family_reports_missing_persistent_and_expiring_keys() {
    let s = Server::start(1);
    let mut c = s.conn();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(qa::<i64>(&mut c, &[cmd, "nope"]), -2, "{cmd}");
    }
    q(&mut c, &["SET", "k", "v"]);
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(qa::<i64>(&mut c, &[cmd, "k"]), -1, "{cmd}");
    }
    assert_eq!(qa::<i64>(&mut c, &["PERSIST", "k"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["PERSIST", "nope"]), 0);
    assert_errors(
        &mut c,
        &[
            (&["TTL"], &arity_error("ttl")),
            (&["PTTL", "a", "b"], &arity_error("pttl")),
            (&["PERSIST"], &arity_error("persist")),
        ],
    );
}

#[test]
fn keys_matches_glob_patterns_on_every_core() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(
        &mut c,
        &[
            "MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5",
        ],
    );
    let mut got: Vec<String> = qa(&mut c, &["KEYS", "*"]);
    got.sort();
    assert_eq!(got, ["hallo", "heeeello", "hello", "hllo", "hxllo"]);
    let mut got: Vec<String> = qa(&mut c, &["KEYS", "h?llo"]);
    got.sort();
    assert_eq!(got, ["hallo", "hello", "hxllo"]);
    let mut got: Vec<String> = qa(&mut c, &["KEYS", "h[ae]llo"]);
    got.sort();
    assert_eq!(got, ["hallo", "hello"]);
    let got: Vec<String> = qa(&mut c, &["KEYS", "h[^e]llo"]);
    let got: HashSet<String> = got.into_iter().collect();
    assert_eq!(
        got,
        HashSet::from(["hallo".to_string(), "hxllo".to_string()])
    );
    let got: Vec<String> = qa(&mut c, &["KEYS", "h*llo"]);
    assert_eq!(got.len(), 5);
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["KEYS", "nomatch*"]),
        Vec::<String>::new()
    );
    assert_eq!(err(&mut c, &["KEYS"]), arity_error("keys"));
}

#[test]
fn a_full_scan_returns_every_key_exactly_once() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET").arg(format!("scan:{i}")).arg(i).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    for count in ["1", "7", "100", "5000"] {
        let mut seen = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let (next, keys): (String, Vec<String>) =
                qa(&mut c, &["SCAN", &cursor, "COUNT", count]);
            seen.extend(keys);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            seen.len(),
            2000,
            "COUNT {count}: duplicates or missing keys"
        );
        assert_eq!(unique.len(), 2000, "COUNT {count}");
    }
}

#[test]
fn scan_filters_by_match_and_type() {
    let s = Server::start(2);
    let mut c = s.conn();
    for i in 0..50 {
        q(&mut c, &["SET", &format!("a:{i}"), "v"]);
        q(&mut c, &["SET", &format!("b:{i}"), "v"]);
    }
    let scan_all = |c: &mut redis::Connection, extra: &[&str]| {
        let mut seen = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let mut args = vec!["SCAN", cursor.as_str()];
            args.extend_from_slice(extra);
            let (next, keys): (String, Vec<String>) = qa(c, &args);
            seen.extend(keys);
            if next == "0" {
                return seen;
            }
            cursor = next;
        }
    };
    let a = scan_all(&mut c, &["MATCH", "a:*", "COUNT", "10"]);
    assert_eq!(a.len(), 50);
    assert!(a.iter().all(|k| k.starts_with("a:")));
    assert_eq!(scan_all(&mut c, &["TYPE", "string"]).len(), 100);
    assert_eq!(scan_all(&mut c, &["TYPE", "list"]).len(), 0);
    assert_errors(
        &mut c,
        &[
            (&["SCAN", "abc"], "ERR invalid cursor"),
            (&["SCAN", "0", "COUNT", "0"], SYNTAX),
            (&["SCAN", "0", "COUNT", "abc"], NOT_INT),
            (&["SCAN", "0", "MATCH"], SYNTAX),
            (&["SCAN", "0", "FOO", "bar"], SYNTAX),
            (&["SCAN"], &arity_error("scan")),
        ],
    );
}

#[test]
fn randomkey_returns_an_existing_key_or_nil() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(q(&mut c, &["RANDOMKEY"]), Value::Nil);
    let keys = mset_on_both_cores(&mut c, "r", 3);
    for _ in 0..20 {
        let k: String = qa(&mut c, &["RANDOMKEY"]);
        assert!(keys.contains(&k), "{k}");
    }
    assert_eq!(err(&mut c, &["RANDOMKEY", "x"]), arity_error("randomkey"));
}

#[test]
fn rename_and_renamenx_move_values_and_ttls_across_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let a = &keys_on_core("rn", 0, 2, 1)[0];
    let b = &keys_on_core("rn", 1, 2, 2)[0];
    let b2 = &keys_on_core("rn", 1, 2, 2)[1];
    q(&mut c, &["SET", a, "va", "EX", "100"]);
    assert_eq!(q(&mut c, &["RENAME", a, b]), Value::Okay);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", a]), 0);
    assert_eq!(qa::<String>(&mut c, &["GET", b]), "va");
    assert!(qa::<i64>(&mut c, &["TTL", b]) > 0);
    assert_eq!(q(&mut c, &["RENAME", b, b]), Value::Okay);
    q(&mut c, &["SET", b2, "taken"]);
    assert_eq!(qa::<i64>(&mut c, &["RENAMENX", b, b2]), 0);
    assert_eq!(qa::<i64>(&mut c, &["RENAMENX", b, b]), 0);
    assert_eq!(qa::<i64>(&mut c, &["RENAMENX", b, a]), 1);
    assert_eq!(qa::<String>(&mut c, &["GET", a]), "va");
    assert_errors(
        &mut c,
        &[
            (&["RENAME", "nope", "x"], "ERR no such key"),
            (&["RENAMENX", "nope", "x"], "ERR no such key"),
            (&["RENAME", "a"], &arity_error("rename")),
        ],
    );
}

#[test]
fn copy_honours_db_and_replace() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["SET", "src", "v"]);
    assert_eq!(qa::<i64>(&mut c, &["COPY", "src", "dst"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["COPY", "src", "dst"]), 0);
    q(&mut c, &["SET", "src", "v2"]);
    assert_eq!(qa::<i64>(&mut c, &["COPY", "src", "dst", "REPLACE"]), 1);
    assert_eq!(qa::<String>(&mut c, &["GET", "dst"]), "v2");
    assert_eq!(qa::<i64>(&mut c, &["COPY", "nope", "x"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["COPY", "src", "src", "DB", "1"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["COPY", "src", "other", "DB", "1"]), 1);
    let mut c1 = s.conn_url("/1");
    assert_eq!(qa::<String>(&mut c1, &["GET", "src"]), "v2");
    assert_eq!(qa::<String>(&mut c1, &["GET", "other"]), "v2");
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "other"]), 0);
    assert_errors(
        &mut c,
        &[
            (
                &["COPY", "src", "src"],
                "ERR source and destination objects are the same",
            ),
            (&["COPY", "src", "x", "DB", "99"], DB_RANGE),
            (&["COPY", "src", "x", "DB", "abc"], NOT_INT),
            (&["COPY", "src", "x", "DB"], SYNTAX),
            (&["COPY", "src", "x", "FOO"], SYNTAX),
            (&["COPY", "src"], &arity_error("copy")),
        ],
    );
}

#[test]
fn move_transfers_a_key_to_another_database() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["SET", "k", "v"]);
    assert_eq!(qa::<i64>(&mut c, &["MOVE", "k", "1"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "k"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["MOVE", "nope", "1"]), 0);
    let mut c1 = s.conn_url("/1");
    assert_eq!(qa::<String>(&mut c1, &["GET", "k"]), "v");
    // The target has the key: nothing moves.
    q(&mut c, &["SET", "k", "here"]);
    assert_eq!(qa::<i64>(&mut c, &["MOVE", "k", "1"]), 0);
    assert_eq!(qa::<String>(&mut c, &["GET", "k"]), "here");
    assert_errors(
        &mut c,
        &[
            (
                &["MOVE", "k", "0"],
                "ERR source and destination objects are the same",
            ),
            (&["MOVE", "k", "99"], DB_RANGE),
            (&["MOVE", "k", "-1"], DB_RANGE),
            (&["MOVE", "k", "abc"], NOT_INT),
            (&["MOVE", "k"], &arity_error("move")),
        ],
    );
}

#[test]
fn object_reports_encoding_and_refuses_freq_without_lfu() {
    let s = Server::start(2);
    let mut c = s.conn();
    for (value, enc) in [
        ("123", "int"),
        ("-1", "int"),
        ("01", "embstr"),
        ("abcdefghijabcdefghijabcdefghijabcdefghijabcd", "embstr"),
        ("abcdefghijabcdefghijabcdefghijabcdefghijabcde", "raw"),
    ] {
        q(&mut c, &["SET", "k", value]);
        assert_eq!(
            qa::<String>(&mut c, &["OBJECT", "ENCODING", "k"]),
            enc,
            "{value}"
        );
    }
    assert_eq!(q(&mut c, &["OBJECT", "ENCODING", "nope"]), Value::Nil);
    let idle: i64 = qa(&mut c, &["OBJECT", "IDLETIME", "k"]);
    assert!(idle >= 0);
    assert_errors(
        &mut c,
        &[
            (
                &["OBJECT", "FREQ", "k"],
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ),
            (&["OBJECT", "FOO", "k"], "ERR unknown subcommand 'FOO'. Try OBJECT HELP."),
            (&["OBJECT"], &arity_error("object")),
            (&["OBJECT", "ENCODING"], &arity_error("object|encoding")),
        ],
    );
    q(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    let freq: i64 = qa(&mut c, &["OBJECT", "FREQ", "k"]);
    assert!(freq >= 0);
}
