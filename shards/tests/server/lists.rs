//! List commands against the real binary on two cores (keys on both), with
//! their edge cases and error texts as Redis 7 answers them, and the
//! blocking pops: FIFO service, timeouts, waits across cores, exactly-once
//! service of a client waiting on keys of two cores, no element lost when
//! timeouts race pushes, disconnects.

use std::io::Write;
use std::thread;
use std::time::Duration;

use crate::common::*;
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";

fn assert_errors(c: &mut redis::Connection, cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        assert_eq!(err(c, args), *want, "{args:?}");
    }
}

fn strings(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    qa(c, args)
}

fn pair(k: &str, v: &str) -> Value {
    Value::Array(vec![bulk(k), bulk(v)])
}

#[test]
fn pushes_pops_ranges_and_indices_on_both_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    for k in two_keys("basic") {
        let k = k.as_str();
        assert_eq!(qa::<i64>(&mut c, &["RPUSH", k, "a", "b", "c"]), 3);
        assert_eq!(qa::<i64>(&mut c, &["LPUSH", k, "y", "z"]), 5);
        assert_eq!(
            strings(&mut c, &["LRANGE", k, "0", "-1"]),
            ["z", "y", "a", "b", "c"]
        );
        assert_eq!(strings(&mut c, &["LRANGE", k, "-2", "100"]), ["b", "c"]);
        assert_eq!(strings(&mut c, &["LRANGE", k, "-100", "0"]), ["z"]);
        assert!(strings(&mut c, &["LRANGE", k, "3", "1"]).is_empty());
        assert!(strings(&mut c, &["LRANGE", k, "5", "10"]).is_empty());
        assert_eq!(qa::<i64>(&mut c, &["LLEN", k]), 5);
        assert_eq!(qa::<String>(&mut c, &["LINDEX", k, "-1"]), "c");
        assert_eq!(qa::<String>(&mut c, &["LINDEX", k, "0"]), "z");
        assert_eq!(q(&mut c, &["LINDEX", k, "5"]), Value::Nil);
        assert_eq!(q(&mut c, &["LINDEX", k, "-6"]), Value::Nil);
        assert_eq!(q(&mut c, &["LSET", k, "-2", "B"]), Value::Okay);
        assert_eq!(qa::<String>(&mut c, &["LPOP", k]), "z");
        assert_eq!(qa::<String>(&mut c, &["RPOP", k]), "c");
        assert_eq!(strings(&mut c, &["LPOP", k, "2"]), ["y", "a"]);
        assert!(strings(&mut c, &["LPOP", k, "0"]).is_empty());
        assert_eq!(strings(&mut c, &["RPOP", k, "5"]), ["B"]);
        // The last pop deleted the list.
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", k]), 0);
        assert_eq!(q(&mut c, &["LPOP", k]), Value::Nil);
        assert_eq!(qa::<i64>(&mut c, &["LPUSHX", k, "x"]), 0);
        assert_eq!(qa::<i64>(&mut c, &["RPUSHX", k, "x"]), 0);
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", k]), 0);
        q(&mut c, &["RPUSH", k, "m"]);
        assert_eq!(qa::<i64>(&mut c, &["LPUSHX", k, "l1", "l2"]), 3);
        assert_eq!(qa::<i64>(&mut c, &["RPUSHX", k, "r"]), 4);
        assert_eq!(
            strings(&mut c, &["LRANGE", k, "0", "-1"]),
            ["l2", "l1", "m", "r"]
        );
        assert_eq!(qa::<String>(&mut c, &["TYPE", k]), "list");
    }
    assert_eq!(qa::<i64>(&mut c, &["LLEN", "missing"]), 0);
    assert!(strings(&mut c, &["LRANGE", "missing", "0", "-1"]).is_empty());
    q(&mut c, &["RPUSH", "l", "a"]);
    assert_errors(
        &mut c,
        &[
            (&["LRANGE", "l", "x", "1"], NOT_INT),
            (&["LRANGE", "missing", "0", "x"], NOT_INT),
            (&["LINDEX", "l", "x"], NOT_INT),
            (&["LSET", "missing", "0", "v"], "ERR no such key"),
            (&["LSET", "l", "1", "v"], "ERR index out of range"),
            (&["LSET", "l", "x", "v"], NOT_INT),
            (
                &["LPOP", "l", "-1"],
                "ERR value is out of range, must be positive",
            ),
            (
                &["LPOP", "l", "x"],
                "ERR value is out of range, must be positive",
            ),
            (&["LPOP", "l", "1", "2"], &arity_error("lpop")),
            (&["RPOP", "l", "1", "2"], &arity_error("rpop")),
            (&["LPUSH", "l"], &arity_error("lpush")),
            (&["LLEN"], &arity_error("llen")),
            (&["LRANGE", "l", "0"], &arity_error("lrange")),
        ],
    );
    // Missing key: LINDEX answers nil before looking at the index.
    assert_eq!(q(&mut c, &["LINDEX", "missing", "x"]), Value::Nil);
}

#[test]
fn wrong_types_are_refused_and_left_alone() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["SET", "s", "v"]);
    q(&mut c, &["HSET", "h", "f", "v"]);
    for k in ["s", "h"] {
        for args in [
            vec!["LPUSH", k, "x"],
            vec!["RPUSHX", k, "x"],
            vec!["LPOP", k],
            vec!["RPOP", k, "2"],
            vec!["LLEN", k],
            vec!["LRANGE", k, "0", "1"],
            vec!["LINDEX", k, "0"],
            vec!["LSET", k, "0", "x"],
            vec!["LINSERT", k, "BEFORE", "a", "b"],
            vec!["LREM", k, "0", "a"],
            vec!["LTRIM", k, "0", "1"],
            vec!["LPOS", k, "a"],
            vec!["LMOVE", k, "dst", "LEFT", "LEFT"],
            vec!["LMPOP", "1", k, "LEFT"],
            vec!["BLPOP", k, "0"],
            vec!["BLMOVE", k, "dst", "LEFT", "LEFT", "0"],
        ] {
            assert_eq!(err(&mut c, &args), WRONGTYPE, "{args:?}");
        }
    }
    assert_eq!(qa::<String>(&mut c, &["GET", "s"]), "v");
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "dst"]), 0);
}

#[test]
fn linsert_lrem_ltrim_shift_elements_like_redis() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [k, _] = two_keys("shift");
    let k = k.as_str();
    q(&mut c, &["RPUSH", k, "a", "b", "c", "d", "e"]);
    // Near the head (the left side moves) and near the tail (the right).
    assert_eq!(qa::<i64>(&mut c, &["LINSERT", k, "BEFORE", "b", "X"]), 6);
    assert_eq!(qa::<i64>(&mut c, &["LINSERT", k, "after", "d", "Y"]), 7);
    assert_eq!(qa::<i64>(&mut c, &["LINSERT", k, "BEFORE", "a", "H"]), 8);
    assert_eq!(qa::<i64>(&mut c, &["LINSERT", k, "AFTER", "e", "T"]), 9);
    assert_eq!(
        strings(&mut c, &["LRANGE", k, "0", "-1"]),
        ["H", "a", "X", "b", "c", "d", "Y", "e", "T"]
    );
    assert_eq!(
        qa::<i64>(&mut c, &["LINSERT", k, "BEFORE", "nope", "Z"]),
        -1
    );
    assert_eq!(
        qa::<i64>(&mut c, &["LINSERT", "missing", "BEFORE", "a", "Z"]),
        0
    );
    assert_eq!(qa::<String>(&mut c, &["LINDEX", k, "6"]), "Y");
    assert_eq!(qa::<i64>(&mut c, &["LLEN", k]), 9);

    q(&mut c, &["DEL", k]);
    q(&mut c, &["RPUSH", k, "x", "a", "x", "b", "x", "c", "x"]);
    assert_eq!(qa::<i64>(&mut c, &["LREM", k, "2", "x"]), 2);
    assert_eq!(
        strings(&mut c, &["LRANGE", k, "0", "-1"]),
        ["a", "b", "x", "c", "x"]
    );
    assert_eq!(qa::<i64>(&mut c, &["LREM", k, "-1", "x"]), 1);
    assert_eq!(
        strings(&mut c, &["LRANGE", k, "0", "-1"]),
        ["a", "b", "x", "c"]
    );
    assert_eq!(qa::<i64>(&mut c, &["LREM", k, "0", "x"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["LREM", k, "0", "nope"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["LREM", "missing", "0", "a"]), 0);
    assert_eq!(strings(&mut c, &["LRANGE", k, "0", "-1"]), ["a", "b", "c"]);
    assert_eq!(qa::<String>(&mut c, &["LINDEX", k, "-1"]), "c");
    assert_eq!(qa::<i64>(&mut c, &["LREM", k, "0", "a"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["LREM", k, "0", "b"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["LREM", k, "0", "c"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", k]), 0);

    q(&mut c, &["RPUSH", k, "0", "1", "2", "3", "4", "5"]);
    assert_eq!(q(&mut c, &["LTRIM", k, "1", "-2"]), Value::Okay);
    assert_eq!(
        strings(&mut c, &["LRANGE", k, "0", "-1"]),
        ["1", "2", "3", "4"]
    );
    assert_eq!(q(&mut c, &["LTRIM", k, "-100", "100"]), Value::Okay);
    assert_eq!(qa::<i64>(&mut c, &["LLEN", k]), 4);
    assert_eq!(qa::<String>(&mut c, &["LPOP", k]), "1");
    assert_eq!(q(&mut c, &["LTRIM", k, "2", "1"]), Value::Okay);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", k]), 0);
    assert_eq!(q(&mut c, &["LTRIM", "missing", "0", "1"]), Value::Okay);
    assert_errors(
        &mut c,
        &[
            (&["LINSERT", k, "MIDDLE", "a", "b"], SYNTAX),
            (&["LREM", k, "x", "a"], NOT_INT),
            (
                &["LREM", k, "-9223372036854775808", "a"],
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            (&["LTRIM", k, "0", "x"], NOT_INT),
            (&["LINSERT", k, "BEFORE", "a"], &arity_error("linsert")),
        ],
    );
}

#[test]
fn lpos_follows_rank_count_and_maxlen() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [_, k] = two_keys("lpos");
    let k = k.as_str();
    q(
        &mut c,
        &["RPUSH", k, "a", "b", "c", "1", "2", "3", "c", "c"],
    );
    assert_eq!(qa::<i64>(&mut c, &["LPOS", k, "c"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["LPOS", k, "c", "RANK", "2"]), 6);
    assert_eq!(qa::<i64>(&mut c, &["LPOS", k, "c", "RANK", "-1"]), 7);
    assert_eq!(qa::<i64>(&mut c, &["LPOS", k, "c", "RANK", "-3"]), 2);
    assert_eq!(q(&mut c, &["LPOS", k, "c", "RANK", "4"]), Value::Nil);
    assert_eq!(
        qa::<Vec<i64>>(&mut c, &["LPOS", k, "c", "COUNT", "0"]),
        [2, 6, 7]
    );
    assert_eq!(
        qa::<Vec<i64>>(&mut c, &["LPOS", k, "c", "COUNT", "2"]),
        [2, 6]
    );
    assert_eq!(
        qa::<Vec<i64>>(&mut c, &["LPOS", k, "c", "RANK", "-1", "COUNT", "2"]),
        [7, 6]
    );
    assert_eq!(
        qa::<Vec<i64>>(&mut c, &["LPOS", k, "c", "COUNT", "0", "MAXLEN", "7"]),
        [2, 6]
    );
    assert_eq!(q(&mut c, &["LPOS", k, "c", "MAXLEN", "2"]), Value::Nil);
    assert!(qa::<Vec<i64>>(&mut c, &["LPOS", k, "x", "COUNT", "0"]).is_empty());
    assert!(qa::<Vec<i64>>(&mut c, &["LPOS", "missing", "x", "COUNT", "1"]).is_empty());
    assert_eq!(q(&mut c, &["LPOS", "missing", "x"]), Value::Nil);
    // Past one read chunk from the tail.
    let many: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    let mut args = vec!["RPUSH", "lposbig"];
    args.extend(many.iter().map(String::as_str));
    q(&mut c, &args);
    assert_eq!(
        qa::<i64>(&mut c, &["LPOS", "lposbig", "e5", "RANK", "-1"]),
        5
    );
    assert_eq!(qa::<i64>(&mut c, &["LPOS", "lposbig", "e250"]), 250);
    assert_errors(
        &mut c,
        &[
            (
                &["LPOS", k, "c", "RANK", "0"],
                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
            ),
            (&["LPOS", k, "c", "RANK", "x"], NOT_INT),
            (
                &["LPOS", k, "c", "RANK", "-9223372036854775808"],
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            (&["LPOS", k, "c", "COUNT", "-1"], "ERR COUNT can't be negative"),
            (&["LPOS", k, "c", "COUNT", "x"], "ERR COUNT can't be negative"),
            (&["LPOS", k, "c", "MAXLEN", "-1"], "ERR MAXLEN can't be negative"),
            (&["LPOS", k, "c", "RANK"], SYNTAX),
            (&["LPOS", k, "c", "FOO", "1"], SYNTAX),
        ],
    );
}

/// Sends one command on a raw socket and reads `lines` reply lines.
fn raw_reply(s: &mut std::net::TcpStream, args: &[&str], lines: usize) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(out.as_bytes()).expect("write");
    (0..lines).map(|_| read_line(s)).collect()
}

#[test]
fn missing_keys_answer_redis_null_forms_in_resp2_and_resp3() {
    let s = Server::start(2);
    let mut r = s.raw();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["LPOP", "nokey"], "$-1\r\n", "_\r\n"),
        (&["LPOP", "nokey", "2"], "*-1\r\n", "_\r\n"),
        (&["RPOP", "nokey", "0"], "*-1\r\n", "_\r\n"),
        (&["LINDEX", "nokey", "0"], "$-1\r\n", "_\r\n"),
        (&["LPOS", "nokey", "x"], "$-1\r\n", "_\r\n"),
        (&["LPOS", "nokey", "x", "COUNT", "0"], "*0\r\n", "*0\r\n"),
        (&["LMPOP", "1", "nokey", "LEFT"], "*-1\r\n", "_\r\n"),
        (&["LMOVE", "nokey", "d", "LEFT", "LEFT"], "$-1\r\n", "_\r\n"),
        (&["RPOPLPUSH", "nokey", "d"], "$-1\r\n", "_\r\n"),
        (&["BLPOP", "nokey", "0.01"], "*-1\r\n", "_\r\n"),
        (
            &["BLMPOP", "0.01", "1", "nokey", "LEFT"],
            "*-1\r\n",
            "_\r\n",
        ),
        // Redis answers a timed-out BLMOVE with a nil array too.
        (
            &["BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.01"],
            "*-1\r\n",
            "_\r\n",
        ),
        (&["BRPOPLPUSH", "nokey", "d", "0.01"], "*-1\r\n", "_\r\n"),
    ];
    for (args, resp2, _) in cases {
        assert_eq!(raw_reply(&mut r, args, 1), *resp2, "{args:?}");
    }
    let mut r3 = s.raw();
    let hello = raw_reply(&mut r3, &["HELLO", "3"], 1);
    assert!(hello.starts_with('%'), "{hello}");
    // Skip the rest of HELLO's map.
    let _ = raw_reply(&mut r3, &["PING"], 0);
    while read_line(&mut r3) != "+PONG\r\n" {}
    for (args, _, resp3) in cases {
        assert_eq!(raw_reply(&mut r3, args, 1), *resp3, "{args:?}");
    }
}

#[test]
fn lmove_rpoplpush_lmpop_within_and_across_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [a, b] = two_keys("mv");
    let a2 = keys_on_core("mv2_", 0, 2, 1).remove(0);
    let (a, b, a2) = (a.as_str(), b.as_str(), a2.as_str());
    q(&mut c, &["RPUSH", a, "1", "2", "3"]);
    // Across cores.
    assert_eq!(qa::<String>(&mut c, &["LMOVE", a, b, "LEFT", "RIGHT"]), "1");
    assert_eq!(qa::<String>(&mut c, &["LMOVE", a, b, "right", "left"]), "3");
    assert_eq!(strings(&mut c, &["LRANGE", b, "0", "-1"]), ["3", "1"]);
    assert_eq!(qa::<String>(&mut c, &["RPOPLPUSH", b, a]), "1");
    assert_eq!(strings(&mut c, &["LRANGE", a, "0", "-1"]), ["1", "2"]);
    // Within one core, and onto itself (a rotation).
    assert_eq!(qa::<String>(&mut c, &["LMOVE", a, a2, "LEFT", "LEFT"]), "1");
    assert_eq!(qa::<String>(&mut c, &["RPOPLPUSH", a, a]), "2");
    assert_eq!(strings(&mut c, &["LRANGE", a, "0", "-1"]), ["2"]);
    q(&mut c, &["RPUSH", a, "x", "y"]);
    assert_eq!(qa::<String>(&mut c, &["RPOPLPUSH", a, a]), "y");
    assert_eq!(strings(&mut c, &["LRANGE", a, "0", "-1"]), ["y", "2", "x"]);
    // Moving the last element deletes the source.
    assert_eq!(
        qa::<String>(&mut c, &["LMOVE", b, a2, "LEFT", "RIGHT"]),
        "3"
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", b]), 0);
    assert_eq!(q(&mut c, &["LMOVE", b, a, "LEFT", "RIGHT"]), Value::Nil);
    // A destination of another type: error, and the source keeps its element.
    q(&mut c, &["SET", b, "str"]);
    assert_eq!(err(&mut c, &["LMOVE", a, b, "LEFT", "LEFT"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["RPOPLPUSH", a, b]), WRONGTYPE);
    assert_eq!(qa::<i64>(&mut c, &["LLEN", a]), 3);
    q(&mut c, &["DEL", b]);

    // LMPOP: the first non-empty key in order, on any core.
    q(&mut c, &["RPUSH", b, "b1", "b2", "b3"]);
    assert_eq!(
        q(&mut c, &["LMPOP", "3", "nokey", b, a, "LEFT", "COUNT", "2"]),
        Value::Array(vec![bulk(b), Value::Array(vec![bulk("b1"), bulk("b2")])])
    );
    assert_eq!(
        q(&mut c, &["LMPOP", "2", b, a, "RIGHT", "COUNT", "10"]),
        Value::Array(vec![bulk(b), Value::Array(vec![bulk("b3")])])
    );
    assert_eq!(
        q(&mut c, &["LMPOP", "2", b, a, "RIGHT"]),
        Value::Array(vec![bulk(a), Value::Array(vec![bulk("x")])])
    );
    assert_eq!(q(&mut c, &["LMPOP", "1", b, "LEFT"]), Value::Nil);
    assert_errors(
        &mut c,
        &[
            (&["LMOVE", a, b, "UP", "LEFT"], SYNTAX),
            (&["LMOVE", a, b, "LEFT", "DOWN"], SYNTAX),
            (
                &["LMPOP", "0", a, "LEFT"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["LMPOP", "x", a, "LEFT"],
                "ERR numkeys should be greater than 0",
            ),
            (&["LMPOP", "2", a, "LEFT"], SYNTAX),
            (&["LMPOP", "1", a, "UP"], SYNTAX),
            (
                &["LMPOP", "1", a, "LEFT", "COUNT", "0"],
                "ERR count should be greater than 0",
            ),
            (
                &["LMPOP", "1", a, "LEFT", "COUNT", "x"],
                "ERR count should be greater than 0",
            ),
            (
                &["LMPOP", "1", a, "LEFT", "COUNT", "1", "COUNT", "1"],
                SYNTAX,
            ),
            (&["LMPOP", "1", a, "LEFT", "FOO"], SYNTAX),
            (&["LMPOP", "1", a], &arity_error("lmpop")),
            (&["LMOVE", a, b, "LEFT"], &arity_error("lmove")),
            (&["RPOPLPUSH", a], &arity_error("rpoplpush")),
        ],
    );
}

#[test]
fn blocking_errors_and_timeouts() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["SET", "str", "v"]);
    assert_eq!(q(&mut c, &["BLPOP", "nokey", "other", "0.05"]), Value::Nil);
    assert_eq!(q(&mut c, &["BRPOP", "nokey", "0.05"]), Value::Nil);
    assert_eq!(
        q(&mut c, &["BLMOVE", "nokey", "d", "LEFT", "RIGHT", "0.05"]),
        Value::Nil
    );
    assert_eq!(
        q(&mut c, &["BLMPOP", "0.05", "2", "nokey", "x", "RIGHT"]),
        Value::Nil
    );
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "d"]), 0);
    // A present element is taken at once, whatever the timeout.
    q(&mut c, &["RPUSH", "l", "1", "2", "3", "4"]);
    assert_eq!(q(&mut c, &["BLPOP", "nokey", "l", "0"]), pair("l", "1"));
    assert_eq!(q(&mut c, &["BRPOP", "l", "0"]), pair("l", "4"));
    assert_eq!(
        q(&mut c, &["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5"]),
        Value::Array(vec![bulk("l"), Value::Array(vec![bulk("2"), bulk("3")])])
    );
    q(&mut c, &["RPUSH", "l", "a", "b"]);
    assert_eq!(qa::<String>(&mut c, &["BRPOPLPUSH", "l", "d", "0"]), "b");
    assert_eq!(
        qa::<String>(&mut c, &["BLMOVE", "l", "d", "LEFT", "LEFT", "0"]),
        "a"
    );
    assert_eq!(strings(&mut c, &["LRANGE", "d", "0", "-1"]), ["a", "b"]);
    const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    const NEGATIVE: &str = "ERR timeout is negative";
    assert_errors(
        &mut c,
        &[
            (&["BLPOP", "k", "x"], NOT_FLOAT),
            (&["BLPOP", "k", "-1"], NEGATIVE),
            (&["BLPOP", "k", "inf"], "ERR timeout is out of range"),
            (&["BRPOP", "k", "1e30"], "ERR timeout is out of range"),
            (&["BLMOVE", "k", "d", "LEFT", "LEFT", "x"], NOT_FLOAT),
            (&["BLMOVE", "k", "d", "UP", "LEFT", "x"], SYNTAX),
            (&["BRPOPLPUSH", "k", "d", "-0.5"], NEGATIVE),
            (&["BLMPOP", "x", "1", "k", "LEFT"], NOT_FLOAT),
            (
                &["BLMPOP", "x", "0", "k", "LEFT"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"],
                "ERR count should be greater than 0",
            ),
            (&["BLPOP", "str", "0"], WRONGTYPE),
            (&["BLPOP", "k"], &arity_error("blpop")),
            (&["BLMPOP", "0", "1", "k"], &arity_error("blmpop")),
            (
                &["BLMOVE", "a", "b", "LEFT", "LEFT"],
                &arity_error("blmove"),
            ),
        ],
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn the_longest_waiting_client_is_served_first() {
    let s = Server::start(2);
    let mut c = s.conn();
    for k in two_keys("fifo") {
        let first = spawn_query(&s, &["BLPOP", &k, "0"]);
        wait_blocked(&mut c, 1);
        let second = spawn_query(&s, &["BRPOP", &k, "0"]);
        wait_blocked(&mut c, 2);
        // One push of two elements: the first waiter pops the head, the
        // second the tail of what is left.
        assert_eq!(qa::<i64>(&mut c, &["RPUSH", &k, "x"]), 1);
        assert_eq!(
            first.recv_timeout(PATIENCE).unwrap().unwrap(),
            pair(&k, "x")
        );
        wait_blocked(&mut c, 1);
        assert_eq!(qa::<i64>(&mut c, &["LPUSH", &k, "y", "z"]), 2);
        assert_eq!(
            second.recv_timeout(PATIENCE).unwrap().unwrap(),
            pair(&k, "y")
        );
        assert_eq!(strings(&mut c, &["LRANGE", &k, "0", "-1"]), ["z"]);
        q(&mut c, &["DEL", &k]);
        wait_blocked(&mut c, 0);
    }
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

#[test]
fn a_waiter_on_one_core_pops_a_key_of_another_and_blmove_moves() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [k0, k1] = two_keys("far");
    for (waiter_core, key, dst) in [(0, &k1, &k0), (1, &k0, &k1)] {
        let mut w = conn_on_core(&s, waiter_core);
        let key2 = key.clone();
        let t = thread::spawn(move || q(&mut w, &["BLPOP", &key2, "0"]));
        wait_blocked(&mut c, 1);
        q(&mut c, &["RPUSH", key, "v"]);
        assert_eq!(t.join().unwrap(), pair(key, "v"));
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", key]), 0);

        // BLMOVE from a key of one core to a key of the other.
        let mut w = conn_on_core(&s, waiter_core);
        let (src, d) = (key.clone(), dst.clone());
        let t = thread::spawn(move || q(&mut w, &["BLMOVE", &src, &d, "RIGHT", "LEFT", "0"]));
        wait_blocked(&mut c, 1);
        q(&mut c, &["RPUSH", key, "m1", "m2"]);
        assert_eq!(t.join().unwrap(), bulk("m2"));
        assert_eq!(strings(&mut c, &["LRANGE", key, "0", "-1"]), ["m1"]);
        assert_eq!(strings(&mut c, &["LRANGE", dst, "0", "-1"]), ["m2"]);
        q(&mut c, &["DEL", key, dst]);
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn a_waiter_on_keys_of_two_cores_is_served_exactly_once() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [k0, k1] = two_keys("once");
    for round in 0..10 {
        let t = spawn_query(&s, &["BLPOP", &k0, &k1, "0"]);
        wait_blocked(&mut c, 1);
        // Both pushes in one pipeline: sent to both cores at once.
        let v0 = format!("a{round}");
        let v1 = format!("b{round}");
        let _: () = redis::pipe()
            .cmd("RPUSH")
            .arg(&k0)
            .arg(&v0)
            .ignore()
            .cmd("RPUSH")
            .arg(&k1)
            .arg(&v1)
            .ignore()
            .query(&mut c)
            .unwrap();
        let got = t.recv_timeout(PATIENCE).unwrap().unwrap();
        let left0: Vec<String> = qa(&mut c, &["LRANGE", &k0, "0", "-1"]);
        let left1: Vec<String> = qa(&mut c, &["LRANGE", &k1, "0", "-1"]);
        assert_eq!(left0.len() + left1.len(), 1, "round {round}: {got:?}");
        let want = if left0.is_empty() {
            pair(&k0, &v0)
        } else {
            pair(&k1, &v1)
        };
        assert_eq!(got, want, "round {round}");
        q(&mut c, &["DEL", &k0, &k1]);
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn no_element_is_lost_when_timeouts_race_pushes() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [k0, k1] = two_keys("race");
    let mut pushed = 0usize;
    let mut received = 0usize;
    for round in 0..30 {
        let timeout = format!("0.0{}", 1 + round % 5);
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                if i == 2 {
                    spawn_query(&s, &["BLPOP", &k0, &k1, &timeout])
                } else {
                    spawn_query(&s, &["BRPOP", [&k0, &k1][i], &timeout])
                }
            })
            .collect();
        if round % 3 != 0 {
            thread::sleep(Duration::from_millis((round % 4) as u64 * 10));
        }
        let k = [&k0, &k1][round % 2];
        q(&mut c, &["RPUSH", k, "e1", "e2"]);
        pushed += 2;
        for w in waiters {
            match w.recv_timeout(PATIENCE).unwrap().unwrap() {
                Value::Nil => {}
                Value::Array(v) if v.len() == 2 => received += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let left: i64 = qa::<i64>(&mut c, &["LLEN", &k0]) + qa::<i64>(&mut c, &["LLEN", &k1]);
    assert_eq!(received + left as usize, pushed);
    wait_blocked(&mut c, 0);
}

#[test]
fn a_client_that_disconnects_while_blocked_takes_nothing() {
    let s = Server::start(2);
    let mut c = s.conn();
    for k in two_keys("gone") {
        let mut r = s.raw();
        r.write_all(format!("*3\r\n$5\r\nBLPOP\r\n${}\r\n{k}\r\n$1\r\n0\r\n", k.len()).as_bytes())
            .unwrap();
        wait_blocked(&mut c, 1);
        drop(r);
        wait_blocked(&mut c, 0);
        assert_eq!(qa::<i64>(&mut c, &["RPUSH", &k, "kept"]), 1);
        assert_eq!(strings(&mut c, &["LRANGE", &k, "0", "-1"]), ["kept"]);
        q(&mut c, &["DEL", &k]);
    }
    // CLIENT KILL cancels a wait too.
    let mut w = s.conn();
    let id: i64 = qa(&mut w, &["CLIENT", "ID"]);
    let t = thread::spawn(move || cmd(&["BLPOP", "killed", "0"]).query::<Value>(&mut w));
    wait_blocked(&mut c, 1);
    q(&mut c, &["CLIENT", "KILL", "ID", &id.to_string()]);
    let _ = t.join().unwrap();
    wait_blocked(&mut c, 0);
    assert_eq!(qa::<i64>(&mut c, &["RPUSH", "killed", "v"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["LLEN", "killed"]), 1);
}

// ---- regressions from the review of blocking and transactions

#[test]
fn a_push_inside_exec_serves_blocked_clients_only_after_the_transaction() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [q, _] = two_keys("exq");
    let waiter = spawn_query(&s, &["BLPOP", &q, "0"]);
    wait_blocked(&mut c, 1);
    // Redis: the queued LPOP sees the pushed element; the blocked client
    // does not get it in the middle of the transaction.
    let mut p = redis::pipe();
    p.cmd("MULTI")
        .cmd("RPUSH")
        .arg(&q)
        .arg("a")
        .cmd("LPOP")
        .arg(&q)
        .cmd("EXEC");
    let (_, _, _, exec): (Value, Value, Value, Value) = p.query(&mut c).unwrap();
    assert_eq!(exec, Value::Array(vec![Value::Int(1), bulk("a")]));
    assert_eq!(blocked_clients(&mut c), 1, "the waiter stays blocked");
    // A push after the transaction serves it.
    assert_eq!(qa::<i64>(&mut c, &["RPUSH", &q, "b"]), 1);
    let got = waiter.recv_timeout(PATIENCE).unwrap().unwrap();
    assert_eq!(got, pair(&q, "b"));
    assert_eq!(qa::<i64>(&mut c, &["LLEN", &q]), 0);
}

#[test]
fn a_woken_blmove_that_fails_lets_the_next_waiter_have_the_element() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [src, dst] = two_keys("bmv");
    q(&mut c, &["SET", &dst, "a string"]);
    let mover = spawn_query(&s, &["BLMOVE", &src, &dst, "LEFT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    let popper = spawn_query(&s, &["BLPOP", &src, "0"]);
    wait_blocked(&mut c, 2);
    q(&mut c, &["LPUSH", &src, "x"]);
    let moved = mover.recv_timeout(PATIENCE).unwrap();
    assert_eq!(
        error_text(&moved.unwrap_err()),
        WRONGTYPE,
        "the move into a string fails"
    );
    let got = popper.recv_timeout(PATIENCE).unwrap().unwrap();
    assert_eq!(got, pair(&src, "x"));
}

#[test]
fn a_client_that_sends_more_then_disconnects_while_blocked_takes_nothing() {
    let s = Server::start(2);
    let mut c = s.conn();
    let [qk, _] = two_keys("gone");
    let mut raw = s.raw();
    let line = format!(
        "*3\r\n$5\r\nBLPOP\r\n${}\r\n{qk}\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n",
        qk.len()
    );
    raw.write_all(line.as_bytes()).unwrap();
    wait_blocked(&mut c, 1);
    drop(raw);
    wait_blocked(&mut c, 0);
    assert_eq!(qa::<i64>(&mut c, &["LPUSH", &qk, "v"]), 1);
    assert_eq!(
        qa::<i64>(&mut c, &["LLEN", &qk]),
        1,
        "nothing handed to a gone client"
    );
}

#[test]
fn lmpop_inside_exec_and_concurrent_pushes_keep_the_list_consistent() {
    let s = Server::start(2);
    let [qk, _] = two_keys("lmx");
    let pusher = {
        let mut c = s.conn();
        let qk = qk.clone();
        thread::spawn(move || {
            for i in 0..300 {
                let _: i64 = cmd(&["RPUSH", &qk, &i.to_string()]).query(&mut c).unwrap();
            }
        })
    };
    let mut c = s.conn();
    let mut popped = 0;
    for _ in 0..300 {
        let mut p = redis::pipe();
        p.cmd("MULTI")
            .cmd("LMPOP")
            .arg(1)
            .arg(&qk)
            .arg("LEFT")
            .cmd("EXEC");
        let (_, _, exec): (Value, Value, Value) = p.query(&mut c).unwrap();
        if let Value::Array(items) = exec {
            if let Some(Value::Array(kv)) = items.first() {
                if let Some(Value::Array(els)) = kv.get(1) {
                    popped += els.len();
                }
            }
        }
    }
    pusher.join().unwrap();
    let left: Vec<String> = qa(&mut c, &["LRANGE", &qk, "0", "-1"]);
    assert_eq!(qa::<usize>(&mut c, &["LLEN", &qk]), left.len());
    assert_eq!(
        popped + left.len(),
        300,
        "every pushed element popped or left"
    );
}
