//! Every string command against the real binary, with its error cases
//! (texts as redis-server 7 answers them).

use crate::common::*;
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";

fn get(c: &mut redis::Connection, key: &str) -> Option<String> {
    qa(c, &["GET", key])
}

fn assert_errors(c: &mut redis::Connection, cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        assert_eq!(err(c, args), *want, "{args:?}");
    }
}

#[test]
fn get_and_set_round_trip_values_including_binary_and_empty() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(get(&mut c, "missing"), None);
    assert_eq!(qa::<String>(&mut c, &["SET", "k", "v"]), "OK");
    assert_eq!(get(&mut c, "k"), Some("v".into()));
    let binary: Vec<u8> = (0..=255u8).collect();
    let _: () = redis::cmd("SET")
        .arg("bin")
        .arg(&binary)
        .query(&mut c)
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("bin").query(&mut c).unwrap();
    assert_eq!(back, binary);
    assert_eq!(qa::<String>(&mut c, &["SET", "empty", ""]), "OK");
    assert_eq!(get(&mut c, "empty"), Some(String::new()));
    assert_errors(
        &mut c,
        &[
            (&["GET"], &arity_error("get")),
            (&["GET", "a", "b"], &arity_error("get")),
            (&["SET", "k"], &arity_error("set")),
        ],
    );
}

#[test]
fn set_nx_xx_get_keepttl_follow_redis() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(q(&mut c, &["SET", "k", "1", "XX"]), Value::Nil);
    assert_eq!(get(&mut c, "k"), None);
    assert_eq!(q(&mut c, &["SET", "k", "1", "NX"]), Value::Okay);
    assert_eq!(q(&mut c, &["SET", "k", "2", "NX"]), Value::Nil);
    assert_eq!(q(&mut c, &["SET", "k", "3", "XX"]), Value::Okay);
    assert_eq!(get(&mut c, "k"), Some("3".into()));
    // GET returns the old value; with NX on an existing key it is not set.
    assert_eq!(qa::<String>(&mut c, &["SET", "k", "4", "GET"]), "3");
    assert_eq!(qa::<String>(&mut c, &["SET", "k", "5", "NX", "GET"]), "4");
    assert_eq!(get(&mut c, "k"), Some("4".into()));
    assert_eq!(q(&mut c, &["SET", "new", "x", "GET"]), Value::Nil);
    assert_eq!(get(&mut c, "new"), Some("x".into()));
    // KEEPTTL keeps the expiry; a plain SET clears it.
    assert_eq!(q(&mut c, &["SET", "t", "a", "EX", "100"]), Value::Okay);
    assert_eq!(q(&mut c, &["SET", "t", "b", "KEEPTTL"]), Value::Okay);
    let ttl: i64 = qa(&mut c, &["TTL", "t"]);
    assert!((1..=100).contains(&ttl), "{ttl}");
    assert_eq!(q(&mut c, &["SET", "t", "c"]), Value::Okay);
    assert_eq!(qa::<i64>(&mut c, &["TTL", "t"]), -1);
    assert_errors(
        &mut c,
        &[
            (&["SET", "k", "v", "NX", "XX"], SYNTAX),
            (&["SET", "k", "v", "XX", "NX"], SYNTAX),
            (&["SET", "k", "v", "EX", "10", "PX", "10"], SYNTAX),
            (&["SET", "k", "v", "KEEPTTL", "EX", "10"], SYNTAX),
            (&["SET", "k", "v", "EX"], SYNTAX),
            (&["SET", "k", "v", "FOO"], SYNTAX),
            (&["SET", "k", "v", "EX", "abc"], NOT_INT),
            (
                &["SET", "k", "v", "EX", "0"],
                "ERR invalid expire time in 'set' command",
            ),
            (
                &["SET", "k", "v", "EX", "-1"],
                "ERR invalid expire time in 'set' command",
            ),
            (
                &["SET", "k", "v", "PX", "0"],
                "ERR invalid expire time in 'set' command",
            ),
            (
                &["SET", "k", "v", "EX", "9223372036854775807"],
                "ERR invalid expire time in 'set' command",
            ),
            (
                &["SET", "k", "v", "PX", "9223372036854775807"],
                "ERR invalid expire time in 'set' command",
            ),
        ],
    );
}

#[test]
fn set_expiry_options_set_the_expected_deadline() {
    let s = Server::start(1);
    let mut c = s.conn();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    q(&mut c, &["SET", "ex", "v", "EX", "100"]);
    q(&mut c, &["SET", "px", "v", "PX", "100000"]);
    let at = (now_ms / 1000 + 1000).to_string();
    q(&mut c, &["SET", "exat", "v", "EXAT", &at]);
    let pat = (now_ms + 500_000).to_string();
    q(&mut c, &["SET", "pxat", "v", "PXAT", &pat]);
    let ttl: i64 = qa(&mut c, &["TTL", "ex"]);
    assert!((90..=100).contains(&ttl), "{ttl}");
    let pttl: i64 = qa(&mut c, &["PTTL", "px"]);
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(qa::<String>(&mut c, &["EXPIRETIME", "exat"]), at);
    assert_eq!(qa::<String>(&mut c, &["PEXPIRETIME", "pxat"]), pat);
    // A deadline in the past sets the key and it is at once gone.
    q(&mut c, &["SET", "past", "v", "PXAT", "1"]);
    assert_eq!(get(&mut c, "past"), None);
}

#[test]
fn setnx_setex_psetex_getset_getdel() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(qa::<i64>(&mut c, &["SETNX", "k", "1"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["SETNX", "k", "2"]), 0);
    assert_eq!(get(&mut c, "k"), Some("1".into()));
    assert_eq!(q(&mut c, &["SETEX", "e", "100", "v"]), Value::Okay);
    let ttl: i64 = qa(&mut c, &["TTL", "e"]);
    assert!((90..=100).contains(&ttl));
    assert_eq!(q(&mut c, &["PSETEX", "p", "100000", "v"]), Value::Okay);
    let pttl: i64 = qa(&mut c, &["PTTL", "p"]);
    assert!((90_000..=100_000).contains(&pttl));
    assert_eq!(qa::<Option<String>>(&mut c, &["GETSET", "g", "a"]), None);
    assert_eq!(
        qa::<Option<String>>(&mut c, &["GETSET", "g", "b"]),
        Some("a".into())
    );
    // GETSET clears the TTL.
    assert_eq!(qa::<String>(&mut c, &["GETSET", "e", "w"]), "v");
    assert_eq!(qa::<i64>(&mut c, &["TTL", "e"]), -1);
    assert_eq!(
        qa::<Option<String>>(&mut c, &["GETDEL", "g"]),
        Some("b".into())
    );
    assert_eq!(qa::<Option<String>>(&mut c, &["GETDEL", "g"]), None);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "g"]), 0);
    assert_errors(
        &mut c,
        &[
            (&["SETNX", "k"], &arity_error("setnx")),
            (
                &["SETEX", "k", "0", "v"],
                "ERR invalid expire time in 'setex' command",
            ),
            (
                &["SETEX", "k", "-5", "v"],
                "ERR invalid expire time in 'setex' command",
            ),
            (&["SETEX", "k", "abc", "v"], NOT_INT),
            (
                &["PSETEX", "k", "0", "v"],
                "ERR invalid expire time in 'psetex' command",
            ),
            (&["PSETEX", "k", "x", "v"], NOT_INT),
            (&["GETSET", "k"], &arity_error("getset")),
            (&["GETDEL"], &arity_error("getdel")),
        ],
    );
}

#[test]
fn getex_sets_or_removes_the_expiry() {
    let s = Server::start(1);
    let mut c = s.conn();
    assert_eq!(q(&mut c, &["GETEX", "none", "EX", "10"]), Value::Nil);
    q(&mut c, &["SET", "k", "v"]);
    assert_eq!(qa::<String>(&mut c, &["GETEX", "k"]), "v");
    assert_eq!(qa::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(qa::<String>(&mut c, &["GETEX", "k", "EX", "100"]), "v");
    assert!(qa::<i64>(&mut c, &["TTL", "k"]) > 0);
    assert_eq!(qa::<String>(&mut c, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(qa::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(qa::<String>(&mut c, &["GETEX", "k", "PXAT", "1"]), "v");
    assert_eq!(get(&mut c, "k"), None);
    q(&mut c, &["SET", "k", "v"]);
    assert_errors(
        &mut c,
        &[
            (
                &["GETEX", "k", "EX", "0"],
                "ERR invalid expire time in 'getex' command",
            ),
            (&["GETEX", "k", "EX", "abc"], NOT_INT),
            (&["GETEX", "k", "EX"], SYNTAX),
            (&["GETEX", "k", "PX", "10", "EX", "10"], SYNTAX),
            (&["GETEX", "k", "PERSIST", "EX", "10"], SYNTAX),
            (&["GETEX", "k", "FOO"], SYNTAX),
            (&["GETEX"], &arity_error("getex")),
        ],
    );
}

#[test]
fn mget_mset_span_cores_and_keep_request_order() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut keys = keys_on_core("m", 0, 2, 5);
    keys.extend(keys_on_core("m", 1, 2, 5));
    keys.sort();
    let mut mset = vec!["MSET".to_string()];
    for k in &keys {
        mset.push(k.clone());
        mset.push(format!("v-{k}"));
    }
    let args: Vec<&str> = mset.iter().map(String::as_str).collect();
    assert_eq!(q(&mut c, &args), Value::Okay);
    let mut mget = vec!["MGET", "absent"];
    mget.extend(keys.iter().map(String::as_str));
    let got: Vec<Option<String>> = qa(&mut c, &mget);
    assert_eq!(got[0], None);
    for (k, v) in keys.iter().zip(&got[1..]) {
        assert_eq!(v.as_deref(), Some(format!("v-{k}").as_str()));
    }
    // A repeated key: the last value wins.
    q(&mut c, &["MSET", "dup", "1", "dup", "2"]);
    assert_eq!(get(&mut c, "dup"), Some("2".into()));
    assert_errors(
        &mut c,
        &[
            (&["MGET"], &arity_error("mget")),
            (&["MSET", "a"], &arity_error("mset")),
            (&["MSET", "a", "1", "b"], &arity_error("mset")),
        ],
    );
    // The refused MSET wrote nothing.
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "a", "b"]), 0);
}

#[test]
fn msetnx_is_all_or_nothing_across_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let a = &keys_on_core("n", 0, 2, 1)[0];
    let b = &keys_on_core("n", 1, 2, 1)[0];
    let other = &keys_on_core("o", 1, 2, 1)[0];
    q(&mut c, &["SET", other, "taken"]);
    // One key exists (on core 1): nothing is set on either core.
    assert_eq!(
        qa::<i64>(&mut c, &["MSETNX", a, "1", b, "2", other, "3"]),
        0
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", a, b]), 0);
    assert_eq!(get(&mut c, other), Some("taken".into()));
    assert_eq!(qa::<i64>(&mut c, &["MSETNX", a, "1", b, "2"]), 1);
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["MGET", a, b]),
        vec!["1".to_string(), "2".to_string()]
    );
    assert_errors(
        &mut c,
        &[
            (&["MSETNX", "x"], &arity_error("msetnx")),
            (&["MSETNX", "x", "1", "y"], &arity_error("msetnx")),
        ],
    );
}

#[test]
fn append_strlen_getrange_substr_setrange() {
    let s = Server::start(1);
    let mut c = s.conn();
    assert_eq!(qa::<i64>(&mut c, &["APPEND", "a", "Hello"]), 5);
    assert_eq!(qa::<i64>(&mut c, &["APPEND", "a", " World"]), 11);
    assert_eq!(qa::<i64>(&mut c, &["STRLEN", "a"]), 11);
    assert_eq!(qa::<i64>(&mut c, &["STRLEN", "none"]), 0);
    for (start, end, want) in [
        ("0", "4", "Hello"),
        ("-5", "-1", "World"),
        ("0", "-1", "Hello World"),
        ("-100", "100", "Hello World"),
        ("5", "3", ""),
        ("-1", "-5", ""),
        ("10", "20", "d"),
        ("20", "30", ""),
    ] {
        assert_eq!(qa::<String>(&mut c, &["GETRANGE", "a", start, end]), want);
        assert_eq!(qa::<String>(&mut c, &["SUBSTR", "a", start, end]), want);
    }
    assert_eq!(qa::<String>(&mut c, &["GETRANGE", "none", "0", "-1"]), "");
    assert_eq!(qa::<i64>(&mut c, &["SETRANGE", "a", "6", "Redis"]), 11);
    assert_eq!(get(&mut c, "a"), Some("Hello Redis".into()));
    // Past the end pads with zero bytes.
    assert_eq!(qa::<i64>(&mut c, &["SETRANGE", "p", "3", "x"]), 4);
    let padded: Vec<u8> = redis::cmd("GET").arg("p").query(&mut c).unwrap();
    assert_eq!(padded, b"\0\0\0x");
    // An empty value changes nothing and creates nothing.
    assert_eq!(qa::<i64>(&mut c, &["SETRANGE", "e", "5", ""]), 0);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "e"]), 0);
    assert_errors(
        &mut c,
        &[
            (&["GETRANGE", "a", "x", "1"], NOT_INT),
            (&["GETRANGE", "a", "0"], &arity_error("getrange")),
            (&["SUBSTR", "a", "0"], &arity_error("substr")),
            (&["SETRANGE", "a", "-1", "x"], "ERR offset is out of range"),
            (&["SETRANGE", "a", "x", "x"], NOT_INT),
            (
                &["SETRANGE", "a", "536870912", "x"],
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            ),
            (&["APPEND", "a"], &arity_error("append")),
            (&["STRLEN"], &arity_error("strlen")),
        ],
    );
}

#[test]
fn incr_decr_family_counts_and_refuses_overflow() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(qa::<i64>(&mut c, &["INCR", "n"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["INCRBY", "n", "10"]), 11);
    assert_eq!(qa::<i64>(&mut c, &["DECR", "n"]), 10);
    assert_eq!(qa::<i64>(&mut c, &["DECRBY", "n", "15"]), -5);
    assert_eq!(qa::<i64>(&mut c, &["DECR", "fresh"]), -1);
    // The TTL survives an increment.
    q(&mut c, &["SET", "t", "1", "EX", "100"]);
    assert_eq!(qa::<i64>(&mut c, &["INCR", "t"]), 2);
    assert!(qa::<i64>(&mut c, &["TTL", "t"]) > 0);
    q(&mut c, &["SET", "max", "9223372036854775807"]);
    q(&mut c, &["SET", "min", "-9223372036854775808"]);
    q(&mut c, &["SET", "text", "abc"]);
    q(&mut c, &["SET", "space", " 1"]);
    q(&mut c, &["SET", "float", "1.5"]);
    assert_errors(
        &mut c,
        &[
            (
                &["INCR", "max"],
                "ERR increment or decrement would overflow",
            ),
            (
                &["DECR", "min"],
                "ERR increment or decrement would overflow",
            ),
            (
                &["INCRBY", "min", "-1"],
                "ERR increment or decrement would overflow",
            ),
            (
                &["DECRBY", "n", "-9223372036854775808"],
                "ERR decrement would overflow",
            ),
            (&["INCR", "text"], NOT_INT),
            (&["INCR", "space"], NOT_INT),
            (&["INCR", "float"], NOT_INT),
            (&["INCRBY", "n", "abc"], NOT_INT),
            (&["INCRBY", "n", "1.0"], NOT_INT),
            (&["DECRBY", "n", "x"], NOT_INT),
            (&["INCRBY", "n", "99999999999999999999"], NOT_INT),
            (&["INCR"], &arity_error("incr")),
            (&["INCRBY", "n"], &arity_error("incrby")),
            (&["DECRBY", "n"], &arity_error("decrby")),
        ],
    );
    assert_eq!(get(&mut c, "max"), Some("9223372036854775807".into()));
}

#[test]
fn incrbyfloat_formats_like_redis() {
    let s = Server::start(1);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["INCRBYFLOAT", "f", "10.5"]), "10.5");
    assert_eq!(qa::<String>(&mut c, &["INCRBYFLOAT", "f", "0.1"]), "10.6");
    assert_eq!(qa::<String>(&mut c, &["INCRBYFLOAT", "f", "-5"]), "5.6");
    assert_eq!(qa::<String>(&mut c, &["INCRBYFLOAT", "g", "3.0e3"]), "3000");
    q(&mut c, &["SET", "i", "1e3"]);
    assert_eq!(qa::<String>(&mut c, &["INCRBYFLOAT", "i", "1"]), "1001");
    q(&mut c, &["SET", "z", "10.50"]);
    assert_eq!(qa::<String>(&mut c, &["INCRBYFLOAT", "z", "0"]), "10.5");
    q(&mut c, &["SET", "text", "abc"]);
    assert_errors(
        &mut c,
        &[
            (&["INCRBYFLOAT", "f", "abc"], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", "nan"], NOT_FLOAT),
            (&["INCRBYFLOAT", "text", "1"], NOT_FLOAT),
            (
                &["INCRBYFLOAT", "f", "inf"],
                "ERR increment would produce NaN or Infinity",
            ),
            (&["INCRBYFLOAT", "f"], &arity_error("incrbyfloat")),
        ],
    );
}

#[test]
fn lcs_finds_the_longest_common_subsequence_across_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let a = &keys_on_core("l", 0, 2, 1)[0];
    let b = &keys_on_core("l", 1, 2, 1)[0];
    q(&mut c, &["SET", a, "ohmytext"]);
    q(&mut c, &["SET", b, "mynewtext"]);
    assert_eq!(qa::<String>(&mut c, &["LCS", a, b]), "mytext");
    assert_eq!(qa::<i64>(&mut c, &["LCS", a, b, "LEN"]), 6);
    assert_eq!(qa::<String>(&mut c, &["LCS", "nx1", "nx2"]), "");
    let idx = q(
        &mut c,
        &["LCS", a, b, "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    );
    let int = Value::Int;
    let pair = |x, y| Value::Array(vec![int(x), int(y)]);
    assert_eq!(
        idx,
        Value::Array(vec![
            Value::BulkString(b"matches".to_vec()),
            Value::Array(vec![Value::Array(vec![pair(4, 7), pair(5, 8), int(4)])]),
            Value::BulkString(b"len".to_vec()),
            int(6),
        ])
    );
    let all = q(&mut c, &["LCS", a, b, "IDX"]);
    assert_eq!(
        all,
        Value::Array(vec![
            Value::BulkString(b"matches".to_vec()),
            Value::Array(vec![
                Value::Array(vec![pair(4, 7), pair(5, 8)]),
                Value::Array(vec![pair(2, 3), pair(0, 1)]),
            ]),
            Value::BulkString(b"len".to_vec()),
            int(6),
        ])
    );
    assert_errors(
        &mut c,
        &[
            (
                &["LCS", a, b, "LEN", "IDX"],
                "ERR If you want both the length and indexes, please just use IDX.",
            ),
            (&["LCS", a, b, "FOO"], SYNTAX),
            (&["LCS", a, b, "MINMATCHLEN"], SYNTAX),
            (&["LCS", a, b, "MINMATCHLEN", "x"], NOT_INT),
            (&["LCS", a], &arity_error("lcs")),
        ],
    );
}
