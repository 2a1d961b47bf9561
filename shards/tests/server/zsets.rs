//! Every sorted-set command against the real binary on two cores, with
//! its edge cases and errors (texts and reply shapes as redis-server 7
//! answers them), multi-key commands over keys on both cores, and a
//! random sequence of operations checked against an in-memory model.

use std::collections::BTreeMap;

use crate::common::*;
use redis::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const RANGE_NOT_LEX: &str = "ERR min or max not valid string range item";

fn assert_errors(c: &mut redis::Connection, cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        assert_eq!(err(c, args), *want, "{args:?}");
    }
}

/// A reply of bulk strings, as strings.
fn strs(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    qa(c, args)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

/// RESP3 `[[member, score], ...]`.
fn pairs3(items: &[(&str, f64)]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|(m, s)| Value::Array(vec![bulk(m), Value::Double(*s)]))
            .collect(),
    )
}

/// One key on each core of a two-core server.
fn two_cores(prefix: &str) -> (String, String) {
    let a = keys_on_core(prefix, 0, 2, 1).remove(0);
    let b = keys_on_core(prefix, 1, 2, 1).remove(0);
    (a, b)
}

fn zadd(c: &mut redis::Connection, key: &str, pairs: &str) -> i64 {
    let mut args = vec!["ZADD", key];
    args.extend(pairs.split_whitespace());
    qa(c, &args)
}

#[test]
fn zadd_honours_nx_xx_gt_lt_ch_incr() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(zadd(&mut c, "z", "1 a 2 b 3 c"), 3);
    assert_eq!(zadd(&mut c, "z", "5 a 6 d"), 1);
    assert_eq!(
        qa::<i64>(&mut c, &["ZADD", "z", "NX", "9", "a", "7", "e"]),
        1
    );
    assert_eq!(qa::<f64>(&mut c, &["ZSCORE", "z", "a"]), 5.0);
    assert_eq!(
        qa::<i64>(&mut c, &["ZADD", "z", "XX", "10", "a", "10", "f"]),
        0
    );
    assert_eq!(q(&mut c, &["ZSCORE", "z", "f"]), Value::Nil);
    assert_eq!(
        qa::<i64>(&mut c, &["ZADD", "z", "XX", "CH", "11", "a", "2", "b"]),
        1
    );
    assert_eq!(
        qa::<i64>(
            &mut c,
            &["ZADD", "z", "GT", "CH", "1", "a", "20", "b", "1", "new"]
        ),
        2
    );
    assert_eq!(
        qa::<i64>(&mut c, &["ZADD", "z", "LT", "CH", "100", "c", "0.5", "c"]),
        1
    );
    assert_eq!(qa::<f64>(&mut c, &["ZSCORE", "z", "c"]), 0.5);
    // The same member twice in one call: the second sees the first.
    assert_eq!(
        qa::<i64>(&mut c, &["ZADD", "z", "CH", "1", "dup", "2", "dup"]),
        2
    );
    assert_eq!(qa::<f64>(&mut c, &["ZSCORE", "z", "dup"]), 2.0);
    // INCR answers the new score, or nil when NX/XX/GT/LT said no.
    assert_eq!(
        qa::<String>(&mut c, &["ZADD", "z", "INCR", "2.5", "a"]),
        "13.5"
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "INCR", "NX", "1", "a"]),
        Value::Nil
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "INCR", "XX", "1", "nope"]),
        Value::Nil
    );
    assert_eq!(
        q(&mut c, &["ZADD", "z", "INCR", "GT", "-1", "a"]),
        Value::Nil
    );
    assert_eq!(
        qa::<String>(&mut c, &["ZADD", "z", "INCR", "LT", "-1", "a"]),
        "12.5"
    );
    assert_eq!(
        qa::<String>(&mut c, &["ZADD", "z", "INCR", "NX", "4", "fresh"]),
        "4"
    );
    // XX on a missing key creates nothing.
    assert_eq!(qa::<i64>(&mut c, &["ZADD", "none", "XX", "1", "a"]), 0);
    assert_eq!(
        q(&mut c, &["ZADD", "none", "XX", "INCR", "1", "a"]),
        Value::Nil
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "none"]), 0);
    // Options are case-insensitive and may repeat.
    assert_eq!(qa::<i64>(&mut c, &["ZADD", "z", "ch", "Ch", "0", "a"]), 1);
    assert_eq!(qa::<String>(&mut c, &["TYPE", "z"]), "zset");
    q(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["ZADD", "z", "1"], &arity_error("zadd")),
            (&["ZADD", "z", "1", "a", "2"], SYNTAX),
            (&["ZADD", "z", "NX", "CH"], SYNTAX),
            (
                &["ZADD", "z", "NX", "XX", "1", "a"],
                "ERR XX and NX options at the same time are not compatible",
            ),
            (
                &["ZADD", "z", "GT", "LT", "1", "a"],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                &["ZADD", "z", "GT", "NX", "1", "a"],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                &["ZADD", "z", "INCR", "1", "a", "2", "b"],
                "ERR INCR option supports a single increment-element pair",
            ),
            (&["ZADD", "z", "abc", "a"], NOT_FLOAT),
            (&["ZADD", "z", "nan", "a"], NOT_FLOAT),
            (&["ZADD", "z", "1e400", "a"], NOT_FLOAT),
            (&["ZADD", "z", " 1", "a"], NOT_FLOAT),
            (&["ZADD", "z", "1", "a", "x", "b"], NOT_FLOAT),
            (&["ZADD", "str", "1", "a"], WRONGTYPE),
            (&["ZADD", "z"], &arity_error("zadd")),
        ],
    );
    // A bad score changes nothing, even after good pairs.
    assert_eq!(q(&mut c, &["ZSCORE", "z", "b"]), bulk("20"));
    assert_eq!(q(&mut c, &["ZSCORE", "z", "x"]), Value::Nil);
    // +inf plus -inf is NaN: refused, the member keeps its score.
    zadd(&mut c, "inf", "+inf m");
    assert_eq!(
        err(&mut c, &["ZADD", "inf", "INCR", "-inf", "m"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(qa::<String>(&mut c, &["ZSCORE", "inf", "m"]), "inf");
}

#[test]
fn zincrby_creates_adds_and_refuses_nan() {
    let s = Server::start(2);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["ZINCRBY", "z", "2", "m"]), "2");
    assert_eq!(qa::<String>(&mut c, &["ZINCRBY", "z", "-0.5", "m"]), "1.5");
    assert_eq!(qa::<String>(&mut c, &["ZINCRBY", "z", "1e3", "n"]), "1000");
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", "z"]), 2);
    zadd(&mut c, "z", "-inf low");
    q(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["ZINCRBY", "z", "abc", "m"], NOT_FLOAT),
            // Option words are read as options, as Redis does.
            (&["ZINCRBY", "z", "NX", "m"], SYNTAX),
            (
                &["ZINCRBY", "z", "inf", "low"],
                "ERR resulting score is not a number (NaN)",
            ),
            (&["ZINCRBY", "str", "1", "m"], WRONGTYPE),
            (&["ZINCRBY", "z", "1"], &arity_error("zincrby")),
        ],
    );
    assert_eq!(qa::<String>(&mut c, &["ZSCORE", "z", "low"]), "-inf");
}

#[test]
fn scores_print_like_redis_in_resp2_and_resp3() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(
        &mut c,
        "f",
        "0.1 a 1.5 b 1e21 c 3.0 d 1e-7 e -inf f +inf g 0x10 h -0 i",
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", "f", "0", "-1", "WITHSCORES"]),
        words("f -inf i 0 e 1e-7 a 0.1 b 1.5 d 3 h 16 c 1e+21 g inf")
    );
    // A stored -0 reads back as 0 (Redis' listpack keeps it as an
    // integer), while a computed score keeps its sign.
    assert_eq!(qa::<String>(&mut c, &["ZSCORE", "f", "i"]), "0");
    assert_eq!(qa::<String>(&mut c, &["ZINCRBY", "f", "-0", "neg"]), "-0");
    assert_eq!(qa::<String>(&mut c, &["ZSCORE", "f", "neg"]), "0");
    let mut c3 = s.conn3();
    assert_eq!(q(&mut c3, &["ZSCORE", "f", "b"]), Value::Double(1.5));
    assert_eq!(q(&mut c3, &["ZSCORE", "f", "nope"]), Value::Nil);
    assert_eq!(
        q(&mut c3, &["ZMSCORE", "f", "a", "nope", "g"]),
        Value::Array(vec![
            Value::Double(0.1),
            Value::Nil,
            Value::Double(f64::INFINITY)
        ])
    );
    assert_eq!(
        q(&mut c3, &["ZRANGE", "f", "0", "1", "WITHSCORES"]),
        pairs3(&[("f", f64::NEG_INFINITY), ("i", 0.0)])
    );
    assert_eq!(
        q(&mut c3, &["ZRANGE", "f", "0", "1"]),
        Value::Array(vec![bulk("f"), bulk("i")])
    );
    assert_eq!(q(&mut c3, &["ZINCRBY", "f", "1", "b"]), Value::Double(2.5));
    assert_eq!(
        q(&mut c3, &["ZADD", "f", "INCR", "1", "b"]),
        Value::Double(3.5)
    );
}

#[test]
fn zrem_zcard_zscore_zmscore_and_an_emptied_set_ceases_to_exist() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "z", "1 a 2 b 3 c");
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", "z"]), 3);
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", "nope"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["ZREM", "z", "a", "nope", "a"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["ZREM", "nope", "a"]), 0);
    assert_eq!(
        q(&mut c, &["ZMSCORE", "z", "a", "b"]),
        Value::Array(vec![Value::Nil, bulk("2")])
    );
    assert_eq!(
        q(&mut c, &["ZMSCORE", "nope", "a", "b"]),
        Value::Array(vec![Value::Nil, Value::Nil])
    );
    assert_eq!(q(&mut c, &["ZSCORE", "nope", "a"]), Value::Nil);
    assert_eq!(qa::<i64>(&mut c, &["ZREM", "z", "b", "c"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "z"]), 0);
    assert_eq!(qa::<String>(&mut c, &["TYPE", "z"]), "none");
    // Recreated from scratch: nothing of the old set comes back.
    zadd(&mut c, "z", "9 x");
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "0", "-1"]), words("x"));
    // Emptied by a range removal and by pops, too.
    assert_eq!(
        qa::<i64>(&mut c, &["ZREMRANGEBYSCORE", "z", "-inf", "+inf"]),
        1
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "z"]), 0);
    zadd(&mut c, "z", "1 a");
    assert_eq!(strs(&mut c, &["ZPOPMIN", "z"]), words("a 1"));
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "z"]), 0);
    // An expiring sorted set expires whole.
    zadd(&mut c, "t", "1 a 2 b");
    assert_eq!(qa::<i64>(&mut c, &["PEXPIRE", "t", "1"]), 1);
    assert!(eventually(PATIENCE, || qa::<i64>(&mut c, &["ZCARD", "t"]) == 0));
    assert_eq!(q(&mut c, &["ZSCORE", "t", "a"]), Value::Nil);
    // DEL is O(1) and the members do not come back.
    zadd(&mut c, "d", "1 a 2 b");
    assert_eq!(qa::<i64>(&mut c, &["DEL", "d"]), 1);
    zadd(&mut c, "d", "3 c");
    assert_eq!(
        strs(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        words("c 3")
    );
}

#[test]
fn zrange_by_rank_takes_negative_and_out_of_range_indices() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "z", "1 a 2 b 3 c 4 d 5 e");
    let r = |c: &mut redis::Connection, args: &str| {
        let mut a = vec!["ZRANGE", "z"];
        a.extend(args.split_whitespace());
        strs(c, &a).join(" ")
    };
    assert_eq!(r(&mut c, "0 -1"), "a b c d e");
    assert_eq!(r(&mut c, "-2 -1"), "d e");
    assert_eq!(r(&mut c, "-100 1"), "a b");
    assert_eq!(r(&mut c, "3 100"), "d e");
    assert_eq!(r(&mut c, "3 2"), "");
    assert_eq!(r(&mut c, "5 10"), "");
    assert_eq!(r(&mut c, "0 -6"), "");
    assert_eq!(r(&mut c, "0 1 REV"), "e d");
    assert_eq!(r(&mut c, "-1 -1 rev WITHSCORES"), "a 1");
    assert_eq!(r(&mut c, "1 2 WITHSCORES"), "b 2 c 3");
    // LIMIT 0 -1 is "no LIMIT" to Redis.
    assert_eq!(r(&mut c, "0 0 LIMIT 0 -1"), "a");
    assert_eq!(
        strs(&mut c, &["ZREVRANGE", "z", "0", "1", "WITHSCORES"]),
        words("e 5 d 4")
    );
    assert_eq!(strs(&mut c, &["ZREVRANGE", "z", "-2", "-1"]), words("b a"));
    assert_eq!(
        strs(&mut c, &["ZRANGE", "nope", "0", "-1"]),
        Vec::<String>::new()
    );
}

#[test]
fn zrange_by_score_takes_inf_exclusive_bounds_rev_and_limit() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "z", "-inf n 1 a 2 b 2 bb 3 c 4 d +inf p");
    let r = |c: &mut redis::Connection, cmd: &str, args: &str| {
        let mut a = vec![cmd, "z"];
        a.extend(args.split_whitespace());
        strs(c, &a).join(" ")
    };
    assert_eq!(r(&mut c, "ZRANGE", "-inf +inf BYSCORE"), "n a b bb c d p");
    assert_eq!(r(&mut c, "ZRANGE", "(1 (3 BYSCORE"), "b bb");
    assert_eq!(r(&mut c, "ZRANGE", "2 2 BYSCORE WITHSCORES"), "b 2 bb 2");
    assert_eq!(r(&mut c, "ZRANGE", "(2 2 BYSCORE"), "");
    assert_eq!(r(&mut c, "ZRANGE", "3 1 BYSCORE"), "");
    assert_eq!(r(&mut c, "ZRANGE", "(-inf (+inf BYSCORE"), "a b bb c d");
    assert_eq!(
        r(&mut c, "ZRANGE", "+inf -inf BYSCORE REV"),
        "p d c bb b a n"
    );
    assert_eq!(r(&mut c, "ZRANGE", "(3 1 BYSCORE REV"), "bb b a");
    assert_eq!(r(&mut c, "ZRANGE", "-inf +inf BYSCORE LIMIT 1 3"), "a b bb");
    assert_eq!(
        r(&mut c, "ZRANGE", "+inf -inf BYSCORE REV LIMIT 1 3"),
        "d c bb"
    );
    assert_eq!(r(&mut c, "ZRANGE", "-inf +inf BYSCORE LIMIT 5 -1"), "d p");
    assert_eq!(r(&mut c, "ZRANGE", "-inf +inf BYSCORE LIMIT 2 0"), "");
    assert_eq!(r(&mut c, "ZRANGE", "-inf +inf BYSCORE LIMIT -1 2"), "");
    assert_eq!(r(&mut c, "ZRANGE", "-inf +inf BYSCORE LIMIT 100 2"), "");
    assert_eq!(
        r(&mut c, "ZRANGEBYSCORE", "1 3 WITHSCORES LIMIT 1 2"),
        "b 2 bb 2"
    );
    assert_eq!(r(&mut c, "ZRANGEBYSCORE", "(1 3"), "b bb c");
    assert_eq!(r(&mut c, "ZREVRANGEBYSCORE", "3 (1"), "c bb b");
    assert_eq!(
        r(&mut c, "ZREVRANGEBYSCORE", "+inf -inf LIMIT 0 2 WITHSCORES"),
        "p inf d 4"
    );
    // strtod bounds: "" is 0 and leading spaces are fine, as in Redis.
    zadd(&mut c, "zero", "0 o 1 one");
    assert_eq!(strs(&mut c, &["ZRANGEBYSCORE", "zero", "", ""]), words("o"));
    assert_eq!(
        strs(&mut c, &["ZRANGEBYSCORE", "zero", " 1", "1"]),
        words("one")
    );
    let mut c3 = s.conn3();
    assert_eq!(
        q(&mut c3, &["ZRANGEBYSCORE", "z", "3", "+inf", "WITHSCORES"]),
        pairs3(&[("c", 3.0), ("d", 4.0), ("p", f64::INFINITY)])
    );
}

#[test]
fn zrange_by_lex_takes_open_closed_and_infinite_bounds() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "l", "0 a 0 b 0 c 0 d 0 e 0 f 0 g");
    let r = |c: &mut redis::Connection, cmd: &str, args: &str| {
        let mut a = vec![cmd, "l"];
        a.extend(args.split_whitespace());
        strs(c, &a).join(" ")
    };
    assert_eq!(r(&mut c, "ZRANGEBYLEX", "- +"), "a b c d e f g");
    assert_eq!(r(&mut c, "ZRANGEBYLEX", "[b (e"), "b c d");
    assert_eq!(r(&mut c, "ZRANGEBYLEX", "(b [e LIMIT 1 2"), "d e");
    assert_eq!(r(&mut c, "ZRANGEBYLEX", "[b [b"), "b");
    assert_eq!(r(&mut c, "ZRANGEBYLEX", "(b [b"), "");
    assert_eq!(r(&mut c, "ZRANGEBYLEX", "+ -"), "");
    assert_eq!(r(&mut c, "ZRANGEBYLEX", "[bb [cc"), "c");
    assert_eq!(r(&mut c, "ZREVRANGEBYLEX", "+ - LIMIT 1 2"), "f e");
    assert_eq!(r(&mut c, "ZREVRANGEBYLEX", "[e (b"), "e d c");
    assert_eq!(r(&mut c, "ZRANGE", "[e (b BYLEX REV LIMIT 0 1"), "e");
    assert_eq!(r(&mut c, "ZRANGE", "- [c BYLEX"), "a b c");
    assert_eq!(qa::<i64>(&mut c, &["ZLEXCOUNT", "l", "[b", "(e"]), 3);
    assert_eq!(qa::<i64>(&mut c, &["ZLEXCOUNT", "l", "-", "+"]), 7);
    assert_eq!(qa::<i64>(&mut c, &["ZLEXCOUNT", "l", "-", "-"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["ZLEXCOUNT", "nope", "-", "+"]), 0);
    // Mixed scores in a small set: the listpack walk (both ends checked).
    zadd(&mut c, "mix", "1 b 1 d 2 c 3 a");
    assert_eq!(
        strs(&mut c, &["ZRANGEBYLEX", "mix", "[b", "+"]),
        Vec::<String>::new()
    );
    assert_eq!(strs(&mut c, &["ZRANGEBYLEX", "mix", "-", "[c"]), words("b"));
    assert_eq!(
        strs(&mut c, &["ZREVRANGEBYLEX", "mix", "[c", "-"]),
        words("a c d b")
    );
    // A large set of equal scores.
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..400 {
        args.push("0".into());
        args.push(format!("w{i:04}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(qa::<i64>(&mut c, &args), 400);
    assert_eq!(
        strs(&mut c, &["ZRANGEBYLEX", "big", "(w0100", "[w0103"]),
        words("w0101 w0102 w0103")
    );
    assert_eq!(
        strs(
            &mut c,
            &["ZREVRANGEBYLEX", "big", "+", "-", "LIMIT", "1", "2"]
        ),
        words("w0398 w0397")
    );
    assert_eq!(qa::<i64>(&mut c, &["ZLEXCOUNT", "big", "[w0390", "+"]), 10);
}

#[test]
fn range_arguments_are_refused_with_redis_texts_even_for_missing_keys() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "z", "1 a");
    q(&mut c, &["SET", "str", "v"]);
    for key in ["z", "nope"] {
        assert_errors(
            &mut c,
            &[
                (&["ZRANGE", key, "0", "1", "LIMIT", "0", "1"], "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
                (&["ZRANGE", key, "[a", "[b", "BYLEX", "WITHSCORES"], "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
                (&["ZRANGEBYLEX", key, "[a", "[b", "WITHSCORES"], "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
                (&["ZREVRANGE", key, "0", "1", "LIMIT", "0", "1"], "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
                (&["ZRANGE", key, "x", "1", "BYSCORE"], RANGE_NOT_FLOAT),
                (&["ZRANGE", key, "1", "nan", "BYSCORE"], RANGE_NOT_FLOAT),
                (&["ZRANGE", key, "1 ", "2", "BYSCORE"], RANGE_NOT_FLOAT),
                (&["ZRANGEBYSCORE", key, "1", "((2"], RANGE_NOT_FLOAT),
                (&["ZRANGE", key, "a", "b", "BYLEX"], RANGE_NOT_LEX),
                (&["ZRANGEBYLEX", key, "-a", "+"], RANGE_NOT_LEX),
                (&["ZREVRANGEBYLEX", key, "+", ""], RANGE_NOT_LEX),
                (&["ZRANGE", key, "0", "x"], NOT_INT),
                (&["ZRANGE", key, "0", "1", "LIMIT", "x", "1"], NOT_INT),
                (&["ZRANGE", key, "0", "1", "LIMIT", "0"], SYNTAX),
                (&["ZRANGE", key, "0", "1", "BYSCORE", "BYLEX"], SYNTAX),
                (&["ZRANGE", key, "0", "1", "FOO"], SYNTAX),
                (&["ZREVRANGE", key, "0", "1", "REV"], SYNTAX),
                (&["ZRANGEBYSCORE", key, "0", "1", "BYSCORE"], SYNTAX),
                (&["ZCOUNT", key, "x", "1"], RANGE_NOT_FLOAT),
                (&["ZLEXCOUNT", key, "a", "+"], RANGE_NOT_LEX),
                (&["ZREMRANGEBYSCORE", key, "a", "1"], RANGE_NOT_FLOAT),
                (&["ZREMRANGEBYLEX", key, "a", "+"], RANGE_NOT_LEX),
                (&["ZREMRANGEBYRANK", key, "a", "1"], NOT_INT),
            ],
        );
    }
    assert_errors(
        &mut c,
        &[
            (&["ZRANGE", "str", "0", "1"], WRONGTYPE),
            (&["ZRANGE", "z", "0"], &arity_error("zrange")),
            (
                &["ZREMRANGEBYRANK", "z", "0"],
                &arity_error("zremrangebyrank"),
            ),
        ],
    );
}

#[test]
fn zcount_counts_inclusive_and_exclusive_ranges() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "z", "1 a 2 b 3 c 4 d -inf e");
    assert_eq!(qa::<i64>(&mut c, &["ZCOUNT", "z", "-inf", "+inf"]), 5);
    assert_eq!(qa::<i64>(&mut c, &["ZCOUNT", "z", "(1", "3"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["ZCOUNT", "z", "(1", "(3"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["ZCOUNT", "z", "(-inf", "1"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["ZCOUNT", "z", "3", "1"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["ZCOUNT", "nope", "1", "2"]), 0);
}

#[test]
fn zrank_and_zrevrank_with_and_without_withscore() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "z", "1 a 2 b 2 c 3 d");
    assert_eq!(qa::<i64>(&mut c, &["ZRANK", "z", "a"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["ZRANK", "z", "c"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["ZREVRANK", "z", "a"]), 3);
    assert_eq!(qa::<i64>(&mut c, &["ZREVRANK", "z", "d"]), 0);
    assert_eq!(
        q(&mut c, &["ZRANK", "z", "b", "WITHSCORE"]),
        Value::Array(vec![Value::Int(1), bulk("2")])
    );
    assert_eq!(
        q(&mut c, &["ZREVRANK", "z", "b", "withscore"]),
        Value::Array(vec![Value::Int(2), bulk("2")])
    );
    assert_eq!(q(&mut c, &["ZRANK", "z", "nope"]), Value::Nil);
    assert_eq!(q(&mut c, &["ZRANK", "nope", "a"]), Value::Nil);
    assert_eq!(q(&mut c, &["ZRANK", "z", "nope", "WITHSCORE"]), Value::Nil);
    q(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["ZRANK", "z", "a", "foo"], SYNTAX),
            (
                &["ZRANK", "z", "a", "WITHSCORE", "x"],
                &arity_error("zrank"),
            ),
            (
                &["ZREVRANK", "z", "a", "WITHSCORE", "x"],
                &arity_error("zrevrank"),
            ),
            (&["ZRANK", "str", "a"], WRONGTYPE),
        ],
    );
    // RESP3: nil and null array are both `_`; the score is a double.
    let mut c3 = s.conn3();
    assert_eq!(
        q(&mut c3, &["ZRANK", "z", "d", "WITHSCORE"]),
        Value::Array(vec![Value::Int(3), Value::Double(3.0)])
    );
    assert_eq!(
        q(&mut c3, &["ZREVRANK", "z", "nope", "WITHSCORE"]),
        Value::Nil
    );
}

#[test]
fn zpopmin_and_zpopmax_take_counts_and_shape_replies_per_protocol() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "p", "1 a 2 b 3 c 4 d 5 e");
    assert_eq!(strs(&mut c, &["ZPOPMIN", "p"]), words("a 1"));
    assert_eq!(strs(&mut c, &["ZPOPMAX", "p", "2"]), words("e 5 d 4"));
    assert_eq!(strs(&mut c, &["ZPOPMIN", "p", "0"]), Vec::<String>::new());
    assert_eq!(strs(&mut c, &["ZPOPMIN", "nope"]), Vec::<String>::new());
    assert_eq!(
        strs(&mut c, &["ZPOPMIN", "nope", "3"]),
        Vec::<String>::new()
    );
    q(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (
                &["ZPOPMIN", "p", "-1"],
                "ERR value is out of range, must be positive",
            ),
            (
                &["ZPOPMIN", "p", "abc"],
                "ERR value is out of range, must be positive",
            ),
            (&["ZPOPMIN", "p", "1", "2"], SYNTAX),
            (&["ZPOPMAX", "str"], WRONGTYPE),
            (&["ZPOPMAX", "str", "0"], WRONGTYPE),
        ],
    );
    let mut c3 = s.conn3();
    assert_eq!(
        q(&mut c3, &["ZPOPMIN", "p"]),
        Value::Array(vec![bulk("b"), Value::Double(2.0)])
    );
    assert_eq!(q(&mut c3, &["ZPOPMAX", "p", "1"]), pairs3(&[("c", 3.0)]));
    assert_eq!(q(&mut c3, &["ZPOPMAX", "p", "5"]), pairs3(&[]));
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "p"]), 0);
}

#[test]
fn zmpop_pops_from_the_first_existing_key_on_any_core() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (a, b) = two_cores("mp");
    zadd(&mut c, &b, "10 x 20 y 30 z");
    assert_eq!(
        q(&mut c, &["ZMPOP", "2", &a, &b, "MAX", "COUNT", "2"]),
        Value::Array(vec![
            bulk(&b),
            Value::Array(vec![
                Value::Array(vec![bulk("z"), bulk("30")]),
                Value::Array(vec![bulk("y"), bulk("20")]),
            ]),
        ])
    );
    zadd(&mut c, &a, "1 m");
    assert_eq!(
        q(&mut c, &["ZMPOP", "2", &a, &b, "min"]),
        Value::Array(vec![
            bulk(&a),
            Value::Array(vec![Value::Array(vec![bulk("m"), bulk("1")])]),
        ])
    );
    let mut c3 = s.conn3();
    assert_eq!(
        q(&mut c3, &["ZMPOP", "2", &a, &b, "MIN", "COUNT", "10"]),
        Value::Array(vec![bulk(&b), pairs3(&[("x", 10.0)])])
    );
    assert_eq!(q(&mut c, &["ZMPOP", "2", &a, &b, "MIN"]), Value::Nil);
    assert_eq!(q(&mut c3, &["ZMPOP", "1", &a, "MIN"]), Value::Nil);
    q(&mut c, &["SET", "str", "v"]);
    zadd(&mut c, &a, "1 m");
    assert_errors(
        &mut c,
        &[
            (
                &["ZMPOP", "0", &a, "MIN"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["ZMPOP", "abc", &a, "MIN"],
                "ERR numkeys should be greater than 0",
            ),
            (&["ZMPOP", "2", &a, "MIN"], SYNTAX),
            (&["ZMPOP", "1", &a, "FOO"], SYNTAX),
            (
                &["ZMPOP", "1", &a, "MIN", "COUNT", "0"],
                "ERR count should be greater than 0",
            ),
            (
                &["ZMPOP", "1", &a, "MIN", "COUNT", "1", "COUNT", "1"],
                SYNTAX,
            ),
            (&["ZMPOP", "1", &a, "MIN", "COUNT"], SYNTAX),
            (&["ZMPOP", "2", "str", &a, "MIN"], WRONGTYPE),
            (&["ZMPOP", "1"], &arity_error("zmpop")),
        ],
    );
    // A wrong type after the first existing key is not looked at.
    assert_eq!(
        q(&mut c, &["ZMPOP", "2", &a, "str", "MIN"]),
        Value::Array(vec![
            bulk(&a),
            Value::Array(vec![Value::Array(vec![bulk("m"), bulk("1")])]),
        ])
    );
}

#[test]
fn zremrangebyrank_score_and_lex_remove_and_count() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "r", "1 a 2 b 3 c 4 d 5 e");
    assert_eq!(qa::<i64>(&mut c, &["ZREMRANGEBYRANK", "r", "0", "1"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["ZREMRANGEBYRANK", "r", "-1", "-1"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["ZREMRANGEBYRANK", "r", "5", "1"]), 0);
    assert_eq!(strs(&mut c, &["ZRANGE", "r", "0", "-1"]), words("c d"));
    assert_eq!(
        qa::<i64>(&mut c, &["ZREMRANGEBYRANK", "nope", "0", "-1"]),
        0
    );
    zadd(&mut c, "s", "1 a 2 b 3 c 4 d 5 e");
    assert_eq!(qa::<i64>(&mut c, &["ZREMRANGEBYSCORE", "s", "(1", "3"]), 2);
    assert_eq!(
        qa::<i64>(&mut c, &["ZREMRANGEBYSCORE", "s", "(5", "+inf"]),
        0
    );
    assert_eq!(strs(&mut c, &["ZRANGE", "s", "0", "-1"]), words("a d e"));
    zadd(&mut c, "l", "0 a 0 b 0 c 0 d");
    assert_eq!(qa::<i64>(&mut c, &["ZREMRANGEBYLEX", "l", "(a", "[c"]), 2);
    assert_eq!(strs(&mut c, &["ZRANGE", "l", "0", "-1"]), words("a d"));
    assert_eq!(qa::<i64>(&mut c, &["ZREMRANGEBYLEX", "l", "-", "+"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "l"]), 0);
}

#[test]
fn zunion_zinter_zdiff_combine_keys_on_both_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (a, b) = two_cores("alg");
    zadd(&mut c, &a, "1 x 2 y 3 z");
    zadd(&mut c, &b, "10 y 20 z 30 w");
    let r = |c: &mut redis::Connection, args: &[&str]| strs(c, args).join(" ");
    assert_eq!(r(&mut c, &["ZUNION", "2", &a, &b]), "x y z w");
    assert_eq!(
        r(&mut c, &["ZUNION", "2", &a, &b, "WITHSCORES"]),
        "x 1 y 12 z 23 w 30"
    );
    assert_eq!(
        r(
            &mut c,
            &["ZUNION", "2", &a, &b, "WEIGHTS", "2", "0.5", "WITHSCORES"]
        ),
        "x 2 y 9 w 15 z 16"
    );
    assert_eq!(
        r(
            &mut c,
            &["ZUNION", "2", &a, &b, "AGGREGATE", "MIN", "WITHSCORES"]
        ),
        "x 1 y 2 z 3 w 30"
    );
    assert_eq!(
        r(
            &mut c,
            &[
                "ZUNION",
                "3",
                &a,
                &b,
                "nope",
                "aggregate",
                "max",
                "withscores"
            ]
        ),
        "x 1 y 10 z 20 w 30"
    );
    assert_eq!(
        r(&mut c, &["ZINTER", "2", &a, &b, "WITHSCORES"]),
        "y 12 z 23"
    );
    assert_eq!(
        r(
            &mut c,
            &[
                "ZINTER",
                "2",
                &a,
                &b,
                "WEIGHTS",
                "1",
                "-1",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]
        ),
        "y 2 z 3"
    );
    assert_eq!(r(&mut c, &["ZINTER", "2", &a, "nope"]), "");
    assert_eq!(
        r(&mut c, &["ZINTER", "2", &a, &a, "WITHSCORES"]),
        "x 2 y 4 z 6"
    );
    assert_eq!(r(&mut c, &["ZDIFF", "2", &a, &b, "WITHSCORES"]), "x 1");
    assert_eq!(r(&mut c, &["ZDIFF", "2", &b, &a]), "w");
    assert_eq!(r(&mut c, &["ZDIFF", "2", &a, &a]), "");
    assert_eq!(r(&mut c, &["ZDIFF", "1", "nope"]), "");
    assert_eq!(r(&mut c, &["ZDIFF", "2", &a, "nope"]), "x y z");
    // inf + -inf sums to 0; 0 * inf weighs 0.
    let (i, j) = two_cores("inf");
    zadd(&mut c, &i, "inf p -inf q 0 r");
    zadd(&mut c, &j, "-inf p inf q");
    assert_eq!(
        r(&mut c, &["ZUNION", "2", &i, &j, "WITHSCORES"]),
        "p 0 q 0 r 0"
    );
    assert_eq!(
        r(
            &mut c,
            &["ZINTER", "2", &i, &j, "WEIGHTS", "0", "1", "WITHSCORES"]
        ),
        "p 0 q 0"
    );
    assert_eq!(
        r(
            &mut c,
            &["ZUNION", "2", &i, &j, "WEIGHTS", "0", "0", "WITHSCORES"]
        ),
        "p 0 q 0 r 0"
    );
    let mut c3 = s.conn3();
    assert_eq!(
        q(&mut c3, &["ZINTER", "2", &a, &b, "WITHSCORES"]),
        pairs3(&[("y", 12.0), ("z", 23.0)])
    );
    assert_eq!(
        q(&mut c3, &["ZDIFF", "2", &a, &b]),
        Value::Array(vec![bulk("x")])
    );
}

#[test]
fn store_forms_replace_the_destination_on_its_own_core() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (a, b) = two_cores("st");
    let dst = keys_on_core("dst", 1, 2, 1).remove(0);
    zadd(&mut c, &a, "1 x 2 y");
    zadd(&mut c, &b, "3 y 4 z");
    q(&mut c, &["SET", &dst, "a string", "EX", "1000"]);
    assert_eq!(
        qa::<i64>(
            &mut c,
            &["ZUNIONSTORE", &dst, "2", &a, &b, "WEIGHTS", "1", "2"]
        ),
        3
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", &dst, "0", "-1", "WITHSCORES"]),
        words("x 1 y 8 z 8")
    );
    assert_eq!(qa::<String>(&mut c, &["TYPE", &dst]), "zset");
    assert_eq!(qa::<i64>(&mut c, &["TTL", &dst]), -1);
    assert_eq!(
        qa::<i64>(
            &mut c,
            &["ZINTERSTORE", &dst, "2", &a, &b, "AGGREGATE", "MIN"]
        ),
        1
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", &dst, "0", "-1", "WITHSCORES"]),
        words("y 2")
    );
    assert_eq!(qa::<i64>(&mut c, &["ZDIFFSTORE", &dst, "2", &a, &b]), 1);
    assert_eq!(
        strs(&mut c, &["ZRANGE", &dst, "0", "-1", "WITHSCORES"]),
        words("x 1")
    );
    // The destination may be an input.
    assert_eq!(qa::<i64>(&mut c, &["ZUNIONSTORE", &a, "2", &a, &b]), 3);
    assert_eq!(
        strs(&mut c, &["ZRANGE", &a, "0", "-1", "WITHSCORES"]),
        words("x 1 z 4 y 5")
    );
    // An empty result deletes the destination.
    assert_eq!(
        qa::<i64>(&mut c, &["ZINTERSTORE", &dst, "2", &a, "nope"]),
        0
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", &dst]), 0);
    // WITHSCORES belongs to the reply forms only.
    assert_eq!(
        err(&mut c, &["ZUNIONSTORE", &dst, "1", &a, "WITHSCORES"]),
        SYNTAX
    );
    // All keys on one core take the same path.
    let one = keys_on_core("one", 0, 2, 3);
    zadd(&mut c, &one[0], "1 m 2 n");
    zadd(&mut c, &one[1], "5 n");
    assert_eq!(
        qa::<i64>(&mut c, &["ZINTERSTORE", &one[2], "2", &one[0], &one[1]]),
        1
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", &one[2], "0", "-1", "WITHSCORES"]),
        words("n 7")
    );
}

#[test]
fn zintercard_counts_up_to_its_limit() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (a, b) = two_cores("card");
    zadd(&mut c, &a, "1 x 2 y 3 z 4 w");
    zadd(&mut c, &b, "1 y 1 z 1 w 1 v");
    assert_eq!(qa::<i64>(&mut c, &["ZINTERCARD", "2", &a, &b]), 3);
    assert_eq!(
        qa::<i64>(&mut c, &["ZINTERCARD", "2", &a, &b, "LIMIT", "2"]),
        2
    );
    assert_eq!(
        qa::<i64>(&mut c, &["ZINTERCARD", "2", &a, &b, "LIMIT", "0"]),
        3
    );
    assert_eq!(qa::<i64>(&mut c, &["ZINTERCARD", "2", &a, "nope"]), 0);
    assert_errors(
        &mut c,
        &[
            (
                &["ZINTERCARD", "2", &a, &b, "LIMIT", "-1"],
                "ERR LIMIT can't be negative",
            ),
            (
                &["ZINTERCARD", "2", &a, &b, "LIMIT", "x"],
                "ERR LIMIT can't be negative",
            ),
            (&["ZINTERCARD", "2", &a, &b, "WITHSCORES"], SYNTAX),
            (
                &["ZINTERCARD", "0", &a],
                "ERR at least 1 input key is needed for 'zintercard' command",
            ),
        ],
    );
}

#[test]
fn multi_key_arguments_are_refused_in_redis_order() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (a, b) = two_cores("args");
    zadd(&mut c, &a, "1 x");
    zadd(&mut c, &b, "1 x");
    q(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (
                &["ZUNION", "0", &a],
                "ERR at least 1 input key is needed for 'zunion' command",
            ),
            (
                &["ZINTER", "-1", &a],
                "ERR at least 1 input key is needed for 'zinter' command",
            ),
            (
                &["ZUNIONSTORE", "d", "0", &a],
                "ERR at least 1 input key is needed for 'zunionstore' command",
            ),
            (
                &["ZDIFFSTORE", "d", "0", &a],
                "ERR at least 1 input key is needed for 'zdiffstore' command",
            ),
            (&["ZUNION", "x", &a], NOT_INT),
            (&["ZUNION", "3", &a, &b], SYNTAX),
            (&["ZUNION", "2", &a, &b, "WEIGHTS", "1"], SYNTAX),
            (
                &["ZUNION", "2", &a, &b, "WEIGHTS", "1", "x"],
                "ERR weight value is not a float",
            ),
            (&["ZUNION", "2", &a, &b, "AGGREGATE", "AVG"], SYNTAX),
            (&["ZUNION", "2", &a, &b, "AGGREGATE"], SYNTAX),
            (&["ZDIFF", "2", &a, &b, "WEIGHTS", "1", "1"], SYNTAX),
            (&["ZDIFF", "2", &a, &b, "AGGREGATE", "SUM"], SYNTAX),
            (&["ZUNION", "2", &a, "str"], WRONGTYPE),
            // The inputs' types are checked before the options.
            (&["ZUNION", "2", &a, "str", "WEIGHTS", "x", "y"], WRONGTYPE),
            (&["ZINTERSTORE", "d", "2", "str", &b], WRONGTYPE),
            (&["ZDIFF", "2", "nope", "str"], WRONGTYPE),
            (&["ZUNION", "1"], &arity_error("zunion")),
            (&["ZUNIONSTORE", "d", "1"], &arity_error("zunionstore")),
        ],
    );
    // A destination of another type is simply replaced.
    assert_eq!(qa::<i64>(&mut c, &["ZUNIONSTORE", "str", "1", &a]), 1);
    assert_eq!(qa::<String>(&mut c, &["TYPE", "str"]), "zset");
}

#[test]
fn zrangestore_copies_a_range_between_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (src, dst) = two_cores("rs");
    zadd(&mut c, &src, "1 a 2 b 3 c 4 d");
    assert_eq!(qa::<i64>(&mut c, &["ZRANGESTORE", &dst, &src, "1", "2"]), 2);
    assert_eq!(
        strs(&mut c, &["ZRANGE", &dst, "0", "-1", "WITHSCORES"]),
        words("b 2 c 3")
    );
    assert_eq!(
        qa::<i64>(
            &mut c,
            &[
                "ZRANGESTORE",
                &dst,
                &src,
                "+inf",
                "(1",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "2"
            ]
        ),
        2
    );
    assert_eq!(strs(&mut c, &["ZRANGE", &dst, "0", "-1"]), words("c d"));
    assert_eq!(
        qa::<i64>(&mut c, &["ZRANGESTORE", &dst, &src, "[b", "[c", "BYLEX"]),
        2
    );
    assert_eq!(strs(&mut c, &["ZRANGE", &dst, "0", "-1"]), words("b c"));
    assert_eq!(
        qa::<i64>(&mut c, &["ZRANGESTORE", &dst, &src, "-", "+", "BYLEX"]),
        4
    );
    assert_eq!(
        qa::<i64>(&mut c, &["ZRANGESTORE", &dst, "nope", "0", "-1"]),
        0
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", &dst]), 0);
    assert_eq!(qa::<i64>(&mut c, &["ZRANGESTORE", &src, &src, "0", "0"]), 1);
    assert_eq!(strs(&mut c, &["ZRANGE", &src, "0", "-1"]), words("a"));
    q(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["ZRANGESTORE", &dst, &src, "0", "1", "WITHSCORES"], SYNTAX),
            (&["ZRANGESTORE", &dst, "str", "0", "1"], WRONGTYPE),
            (&["ZRANGESTORE", &dst, &src, "0", "1", "LIMIT", "0", "1"], "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
            (&["ZRANGESTORE", &dst, &src, "0"], &arity_error("zrangestore")),
        ],
    );
}

#[test]
fn zrandmember_samples_and_refuses_bad_counts() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "z", "1 a 2 b 3 c");
    let one: String = qa(&mut c, &["ZRANDMEMBER", "z"]);
    assert!(["a", "b", "c"].contains(&one.as_str()));
    assert_eq!(q(&mut c, &["ZRANDMEMBER", "nope"]), Value::Nil);
    assert_eq!(
        strs(&mut c, &["ZRANDMEMBER", "nope", "3"]),
        Vec::<String>::new()
    );
    assert_eq!(
        strs(&mut c, &["ZRANDMEMBER", "z", "0"]),
        Vec::<String>::new()
    );
    // Asking for more than there is gives the whole set, highest first.
    assert_eq!(
        strs(&mut c, &["ZRANDMEMBER", "z", "10", "WITHSCORES"]),
        words("c 3 b 2 a 1")
    );
    let two = strs(&mut c, &["ZRANDMEMBER", "z", "2"]);
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    let many = strs(&mut c, &["ZRANDMEMBER", "z", "-20", "WITHSCORES"]);
    assert_eq!(many.len(), 40);
    for pair in many.chunks(2) {
        let want = match pair[0].as_str() {
            "a" => "1",
            "b" => "2",
            "c" => "3",
            other => panic!("{other}"),
        };
        assert_eq!(pair[1], want);
    }
    let mut c3 = s.conn3();
    assert_eq!(
        q(&mut c3, &["ZRANDMEMBER", "z", "5", "WITHSCORES"]),
        pairs3(&[("c", 3.0), ("b", 2.0), ("a", 1.0)])
    );
    assert_errors(
        &mut c,
        &[
            (&["ZRANDMEMBER", "z", "abc"], NOT_INT),
            (&["ZRANDMEMBER", "z", "abc", "WITHSCORES"], NOT_INT),
            (&["ZRANDMEMBER", "z", "1", "foo"], SYNTAX),
            (&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"], SYNTAX),
            (&["ZRANDMEMBER", "z", "-9223372036854775808"], "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            (&["ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"], "ERR value is out of range"),
        ],
    );
}

#[test]
fn zscan_answers_small_sets_whole_and_walks_large_ones_with_a_cursor() {
    let s = Server::start(2);
    let mut c = s.conn();
    zadd(&mut c, "small", "3 c 1 a 2 b 0.1 d");
    let (cur, items): (String, Vec<String>) = qa(&mut c, &["ZSCAN", "small", "0"]);
    assert_eq!(cur, "0");
    assert_eq!(items, words("d 0.1 a 1 b 2 c 3"));
    let (_, items): (String, Vec<String>) = qa(
        &mut c,
        &["ZSCAN", "small", "0", "MATCH", "[ab]", "COUNT", "1"],
    );
    assert_eq!(items, words("a 1 b 2"));
    let (cur, items): (String, Vec<String>) = qa(&mut c, &["ZSCAN", "nope", "0", "COUNT", "abc"]);
    assert_eq!((cur.as_str(), items.len()), ("0", 0));
    let n = 300;
    let mut args = vec!["ZADD".to_string(), "large".to_string()];
    for i in 0..n {
        args.push(format!("{}.1", i));
        args.push(format!("m{i}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(qa::<i64>(&mut c, &args), n);
    let mut seen = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut steps = 0;
    loop {
        let (next, items): (String, Vec<String>) =
            qa(&mut c, &["ZSCAN", "large", &cursor, "COUNT", "20"]);
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        steps += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(steps < 1000, "the scan makes no progress");
    }
    assert!(steps > 1, "a large set is walked in steps");
    assert_eq!(seen.len(), n as usize);
    // A skiplist's ZSCAN prints %.17g.
    assert_eq!(seen["m0"], "0.10000000000000001");
    assert_eq!(seen["m2"], "2.1000000000000001");
    assert_errors(
        &mut c,
        &[
            (&["ZSCAN", "small", "x"], "ERR invalid cursor"),
            (&["ZSCAN", "small", "0", "COUNT", "0"], SYNTAX),
            (&["ZSCAN", "small", "0", "COUNT", "x"], NOT_INT),
            (
                &["ZSCAN", "small", "0", "NOVALUES"],
                "ERR NOVALUES option can only be used in HSCAN",
            ),
        ],
    );
}

#[test]
fn large_sets_rank_pop_and_reverse_ranges_agree_with_order() {
    let s = Server::start(2);
    let mut c = s.conn();
    let key = keys_on_core("large", 1, 2, 1).remove(0);
    let n = 500;
    let mut args = vec!["ZADD".to_string(), key.clone()];
    for i in 0..n {
        // Scores repeat, so members break ties.
        args.push(format!("{}", (i * 7919) % 97));
        args.push(format!("m{i:03}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(qa::<i64>(&mut c, &args), n);
    let mut order: Vec<(i64, String)> = (0..n)
        .map(|i| ((i * 7919) % 97, format!("m{i:03}")))
        .collect();
    order.sort();
    for i in [0usize, 1, 250, 498, 499] {
        let (_, m) = &order[i];
        assert_eq!(qa::<usize>(&mut c, &["ZRANK", &key, m]), i);
        assert_eq!(
            qa::<usize>(&mut c, &["ZREVRANK", &key, m]),
            n as usize - 1 - i
        );
    }
    let top: Vec<String> = order
        .iter()
        .rev()
        .skip(10)
        .take(5)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(
        strs(
            &mut c,
            &["ZRANGE", &key, "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "10", "5"]
        ),
        top
    );
    assert_eq!(strs(&mut c, &["ZREVRANGE", &key, "10", "14"]), top);
    let popped = strs(&mut c, &["ZPOPMAX", &key, "3"]);
    let want: Vec<String> = order
        .iter()
        .rev()
        .take(3)
        .flat_map(|(s, m)| [m.clone(), s.to_string()])
        .collect();
    assert_eq!(popped, want);
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", &key]), n - 3);
    assert_eq!(
        qa::<i64>(&mut c, &["ZCOUNT", &key, "10", "(20"]),
        order.iter().filter(|(s, _)| (10..20).contains(s)).count() as i64
    );
}

#[test]
fn every_sorted_set_command_answers_wrongtype_for_a_string() {
    let s = Server::start(2);
    for mut c in [s.conn(), s.conn3()] {
        q(&mut c, &["SET", "str", "v"]);
        let cases: &[&[&str]] = &[
            &["ZADD", "str", "1", "a"],
            &["ZINCRBY", "str", "1", "a"],
            &["ZREM", "str", "a"],
            &["ZSCORE", "str", "a"],
            &["ZMSCORE", "str", "a"],
            &["ZCARD", "str"],
            &["ZCOUNT", "str", "0", "1"],
            &["ZLEXCOUNT", "str", "-", "+"],
            &["ZRANGE", "str", "0", "1"],
            &["ZREVRANGE", "str", "0", "1"],
            &["ZRANGEBYSCORE", "str", "0", "1"],
            &["ZREVRANGEBYSCORE", "str", "1", "0"],
            &["ZRANGEBYLEX", "str", "-", "+"],
            &["ZREVRANGEBYLEX", "str", "+", "-"],
            &["ZRANGESTORE", "d", "str", "0", "1"],
            &["ZRANK", "str", "a"],
            &["ZREVRANK", "str", "a"],
            &["ZPOPMIN", "str"],
            &["ZPOPMAX", "str"],
            &["ZMPOP", "1", "str", "MIN"],
            &["ZUNION", "1", "str"],
            &["ZINTER", "1", "str"],
            &["ZDIFF", "1", "str"],
            &["ZUNIONSTORE", "d", "1", "str"],
            &["ZINTERSTORE", "d", "1", "str"],
            &["ZDIFFSTORE", "d", "1", "str"],
            &["ZINTERCARD", "1", "str"],
            &["ZREMRANGEBYSCORE", "str", "0", "1"],
            &["ZREMRANGEBYRANK", "str", "0", "1"],
            &["ZREMRANGEBYLEX", "str", "-", "+"],
            &["ZRANDMEMBER", "str"],
            &["ZRANDMEMBER", "str", "2"],
            &["ZSCAN", "str", "0"],
        ];
        for args in cases {
            assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
        }
        assert_eq!(qa::<String>(&mut c, &["GET", "str"]), "v");
    }
}

#[test]
fn sorted_sets_survive_a_restart() {
    let mut s = Server::start(2);
    let mut c = s.conn();
    let (a, b) = two_cores("keep");
    zadd(&mut c, &a, "1 x 2 y 3 z");
    zadd(&mut c, &b, "-1 p 0.5 q");
    q(&mut c, &["ZREM", &a, "y"]);
    q(&mut c, &["ZINCRBY", &b, "10", "p"]);
    drop(c);
    s.restart(2);
    let mut c = s.conn();
    assert_eq!(
        strs(&mut c, &["ZRANGE", &a, "0", "-1", "WITHSCORES"]),
        words("x 1 z 3")
    );
    assert_eq!(
        strs(&mut c, &["ZRANGE", &b, "0", "-1", "WITHSCORES"]),
        words("q 0.5 p 9")
    );
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", &a]), 2);
    assert_eq!(qa::<i64>(&mut c, &["ZRANK", &b, "p"]), 1);
}

#[test]
fn concurrent_increments_on_one_member_are_not_lost() {
    let s = Server::start(2);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = s.url();
            std::thread::spawn(move || {
                let mut c = connect(&url);
                for _ in 0..100 {
                    let _: String = qa(&mut c, &["ZINCRBY", "hits", "1", "page"]);
                    let _: i64 = qa(
                        &mut c,
                        &["ZADD", "hits", "1", &format!("m{}", rand_u64() % 50)],
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["ZSCORE", "hits", "page"]), "400");
    let all = strs(&mut c, &["ZRANGE", "hits", "0", "-1"]);
    assert_eq!(qa::<usize>(&mut c, &["ZCARD", "hits"]), all.len());
}

fn rand_u64() -> u64 {
    use std::cell::Cell;
    thread_local!(static S: Cell<u64> = Cell::new(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    ));
    S.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

// ------------------------------------------------------------ the model

/// A sorted set as a map; its order is computed when asked.
#[derive(Default)]
struct Model {
    scores: BTreeMap<String, f64>,
}

impl Model {
    fn ordered(&self) -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = self.scores.iter().map(|(m, s)| (m.clone(), *s)).collect();
        v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// A deterministic generator for the random sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn score(&mut self) -> f64 {
        (self.below(41) as f64 - 20.0) / 2.0
    }
}

fn fmt(s: f64) -> String {
    if s == s.trunc() {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

#[test]
fn random_operations_match_a_model() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (a, b) = two_cores("model");
    for (seed, key) in [(0x9e37_79b9_7f4a_7c15u64, &a), (0x2545_f491_4f6c_dd1d, &b)] {
        let mut rng = Rng(seed);
        let mut m = Model::default();
        for step in 0..1500 {
            let member = format!("m{}", rng.below(40));
            let ctx = format!("seed {seed:x} step {step}");
            match rng.below(8) {
                0 | 1 => {
                    let score = rng.score();
                    let flag = ["", "NX", "XX", "GT", "LT"][rng.below(5) as usize];
                    let mut args = vec!["ZADD", key.as_str()];
                    if !flag.is_empty() {
                        args.push(flag);
                    }
                    args.push("CH");
                    let text = fmt(score);
                    args.push(&text);
                    args.push(&member);
                    let cur = m.scores.get(&member).copied();
                    let apply = match (flag, cur) {
                        ("NX", Some(_)) | ("XX", None) => false,
                        ("GT", Some(c)) => score > c,
                        ("LT", Some(c)) => score < c,
                        _ => true,
                    };
                    let changed = apply && cur != Some(score);
                    if apply {
                        m.scores.insert(member.clone(), score);
                    }
                    assert_eq!(
                        qa::<i64>(&mut c, &args),
                        i64::from(changed),
                        "{ctx}: {args:?}"
                    );
                }
                2 => {
                    let by = rng.score();
                    let want = m.scores.get(&member).copied().unwrap_or(0.0) + by;
                    m.scores.insert(member.clone(), want);
                    let got: f64 = qa(&mut c, &["ZINCRBY", key, &fmt(by), &member]);
                    assert_eq!(got, want, "{ctx}");
                }
                3 => {
                    let other = format!("m{}", rng.below(40));
                    let mut gone = 0;
                    for x in [&member, &other] {
                        if m.scores.remove(x).is_some() {
                            gone += 1;
                        }
                    }
                    assert_eq!(
                        qa::<i64>(&mut c, &["ZREM", key, &member, &other]),
                        gone,
                        "{ctx}"
                    );
                }
                4 | 5 => {
                    let (lo, hi) = (rng.score(), rng.score());
                    let (lo_ex, hi_ex) = (rng.below(2) == 0, rng.below(2) == 0);
                    let rev = rng.below(2) == 0;
                    let (offset, count) = (rng.below(4) as usize, rng.below(6) as i64 - 1);
                    let bound =
                        |v: f64, ex: bool| format!("{}{}", if ex { "(" } else { "" }, fmt(v));
                    let (lo_s, hi_s) = (bound(lo, lo_ex), bound(hi, hi_ex));
                    let (off_s, cnt_s) = (offset.to_string(), count.to_string());
                    let mut args = vec!["ZRANGE", key.as_str()];
                    if rev {
                        args.extend([hi_s.as_str(), lo_s.as_str(), "BYSCORE", "REV"]);
                    } else {
                        args.extend([lo_s.as_str(), hi_s.as_str(), "BYSCORE"]);
                    }
                    args.extend(["LIMIT", off_s.as_str(), cnt_s.as_str(), "WITHSCORES"]);
                    let mut want: Vec<(String, f64)> = m
                        .ordered()
                        .into_iter()
                        .filter(|(_, s)| {
                            (if lo_ex { *s > lo } else { *s >= lo })
                                && (if hi_ex { *s < hi } else { *s <= hi })
                        })
                        .collect();
                    if rev {
                        want.reverse();
                    }
                    let take = if count < 0 {
                        usize::MAX
                    } else {
                        count as usize
                    };
                    let want: Vec<(String, f64)> =
                        want.into_iter().skip(offset).take(take).collect();
                    let got: Vec<(String, f64)> = qa(&mut c, &args);
                    assert_eq!(got, want, "{ctx}: {args:?}");
                }
                6 => {
                    let ordered = m.ordered();
                    let want = ordered.iter().position(|(x, _)| *x == member);
                    let got: Option<usize> = qa(&mut c, &["ZRANK", key, &member]);
                    assert_eq!(got, want, "{ctx}");
                    let got: Option<usize> = qa(&mut c, &["ZREVRANK", key, &member]);
                    assert_eq!(got, want.map(|r| ordered.len() - 1 - r), "{ctx}");
                }
                _ => {
                    assert_eq!(
                        qa::<usize>(&mut c, &["ZCARD", key]),
                        m.scores.len(),
                        "{ctx}"
                    );
                    let (lo, hi) = (rng.score(), rng.score());
                    let want = m.scores.values().filter(|s| **s >= lo && **s <= hi).count();
                    assert_eq!(
                        qa::<usize>(&mut c, &["ZCOUNT", key, &fmt(lo), &fmt(hi)]),
                        want,
                        "{ctx}"
                    );
                }
            }
        }
        let all: Vec<(String, f64)> = qa(&mut c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]);
        assert_eq!(all, m.ordered());
        assert_eq!(
            qa::<i64>(&mut c, &["EXISTS", key]),
            i64::from(!m.scores.is_empty())
        );
    }
}

#[test]
fn concurrent_zmpop_over_two_cores_pops_every_member_once() {
    let s = Server::start(2);
    let (a, b) = two_cores("race");
    let mut c = s.conn();
    let mut args_a = vec!["ZADD".to_string(), a.clone()];
    let mut args_b = vec!["ZADD".to_string(), b.clone()];
    for i in 0..200 {
        let args = if i % 2 == 0 { &mut args_a } else { &mut args_b };
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    for args in [&args_a, &args_b] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(qa::<i64>(&mut c, &args), 100);
    }
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (url, a, b) = (s.url(), a.clone(), b.clone());
            std::thread::spawn(move || {
                let mut c = connect(&url);
                let mut got = Vec::new();
                loop {
                    let v = q(&mut c, &["ZMPOP", "2", &a, &b, "MIN", "COUNT", "3"]);
                    let Value::Array(parts) = v else { break };
                    let Some(Value::Array(pairs)) = parts.get(1) else {
                        panic!("{parts:?}")
                    };
                    for p in pairs {
                        let Value::Array(p) = p else { panic!("{p:?}") };
                        let Some(Value::BulkString(m)) = p.first() else {
                            panic!("{p:?}")
                        };
                        got.push(String::from_utf8_lossy(m).into_owned());
                    }
                }
                got
            })
        })
        .collect();
    let mut all: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(all, want);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", &a, &b]), 0);
}
