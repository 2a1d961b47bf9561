//! Hashes and sets against the real binary: keys on every core, set
//! operations across cores, collections that empty out, persistence
//! across restarts, and generic commands on collections. Exact reply
//! bytes are also checked against redis-server by
//! `shards/tests/clients/redis_diff.py`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::common::*;
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn members(c: &mut redis::Connection, key: &str) -> BTreeSet<String> {
    qa::<Vec<String>>(c, &["SMEMBERS", key])
        .into_iter()
        .collect()
}

#[test]
fn hashes_on_every_core_behave_like_maps() {
    let s = Server::start(2);
    let mut c = s.conn();
    for core in 0..2 {
        let key = &keys_on_core("h", core, 2, 1)[0];
        assert_eq!(
            qa::<i64>(&mut c, &["HSET", key, "a", "1", "b", "2", "a", "3"]),
            2
        );
        assert_eq!(qa::<i64>(&mut c, &["HSET", key, "c", "x"]), 1);
        assert_eq!(qa::<String>(&mut c, &["HGET", key, "a"]), "3");
        assert_eq!(qa::<i64>(&mut c, &["HLEN", key]), 3);
        assert_eq!(qa::<i64>(&mut c, &["HINCRBY", key, "n", "-5"]), -5);
        assert_eq!(
            qa::<String>(&mut c, &["HINCRBYFLOAT", key, "f", "2.5"]),
            "2.5"
        );
        let all: HashMap<String, String> = qa(&mut c, &["HGETALL", key]);
        assert_eq!(all.len(), 5);
        assert_eq!(all["c"], "x");
        assert_eq!(
            qa::<i64>(&mut c, &["HDEL", key, "a", "b", "c", "n", "zz"]),
            4
        );
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", key]), 1);
        assert_eq!(qa::<i64>(&mut c, &["HDEL", key, "f"]), 1);
        // A hash that empties out no longer exists.
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", key]), 0);
        assert_eq!(qa::<String>(&mut c, &["TYPE", key]), "none");
    }
}

#[test]
fn wrong_types_are_refused_both_ways() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["SET", "str", "v"]);
    q(&mut c, &["HSET", "hash", "f", "v"]);
    q(&mut c, &["SADD", "set", "m"]);
    for args in [
        &["HGET", "str", "f"][..],
        &["HSET", "set", "f", "v"],
        &["SADD", "hash", "m"],
        &["SMEMBERS", "str"],
        &["GET", "hash"],
        &["APPEND", "set", "x"],
        &["INCR", "hash"],
        &["SINTER", "set", "hash"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    // SET replaces a collection of any type.
    assert_eq!(q(&mut c, &["SET", "hash", "now-a-string"]), Value::Okay);
    assert_eq!(qa::<String>(&mut c, &["TYPE", "hash"]), "string");
    assert_eq!(err(&mut c, &["HLEN", "hash"]), WRONGTYPE);
}

#[test]
fn overwritten_collections_show_no_old_elements() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["HSET", "k", "old1", "v", "old2", "v"]);
    q(&mut c, &["DEL", "k"]);
    q(&mut c, &["HSET", "k", "new", "v"]);
    let all: HashMap<String, String> = qa(&mut c, &["HGETALL", "k"]);
    assert_eq!(all.keys().collect::<Vec<_>>(), vec!["new"]);
    assert_eq!(qa::<i64>(&mut c, &["HLEN", "k"]), 1);
    q(&mut c, &["SET", "k", "s"]);
    q(&mut c, &["SADD", "k2", "a"]);
    q(&mut c, &["DEL", "k"]);
    assert_eq!(qa::<i64>(&mut c, &["SADD", "k", "m"]), 1);
    assert_eq!(members(&mut c, "k"), BTreeSet::from(["m".to_string()]));
}

#[test]
fn set_operations_combine_sets_on_different_cores() {
    let s = Server::start(2);
    let mut c = s.conn();
    let a = keys_on_core("sa", 0, 2, 1).remove(0);
    let b = keys_on_core("sb", 1, 2, 1).remove(0);
    let dst0 = keys_on_core("d", 0, 2, 1).remove(0);
    let dst1 = keys_on_core("d", 1, 2, 1).remove(0);
    q(&mut c, &["SADD", &a, "1", "2", "3", "4"]);
    q(&mut c, &["SADD", &b, "3", "4", "5"]);
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let inter: BTreeSet<String> = qa(&mut c, &["SINTER", &a, &b]);
    assert_eq!(inter, set(&["3", "4"]));
    let union: BTreeSet<String> = qa(&mut c, &["SUNION", &a, &b]);
    assert_eq!(union, set(&["1", "2", "3", "4", "5"]));
    let diff: BTreeSet<String> = qa(&mut c, &["SDIFF", &a, &b]);
    assert_eq!(diff, set(&["1", "2"]));
    for dst in [&dst0, &dst1] {
        assert_eq!(qa::<i64>(&mut c, &["SUNIONSTORE", dst, &a, &b]), 5);
        assert_eq!(members(&mut c, dst), set(&["1", "2", "3", "4", "5"]));
        assert_eq!(qa::<i64>(&mut c, &["SINTERSTORE", dst, &a, &b]), 2);
        assert_eq!(members(&mut c, dst), set(&["3", "4"]));
        assert_eq!(qa::<i64>(&mut c, &["SDIFFSTORE", dst, &b, &a]), 1);
        assert_eq!(members(&mut c, dst), set(&["5"]));
        // An empty result deletes the destination.
        assert_eq!(qa::<i64>(&mut c, &["SINTERSTORE", dst, &a, "nokey"]), 0);
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", dst]), 0);
    }
    assert_eq!(qa::<i64>(&mut c, &["SINTERCARD", "2", &a, &b]), 2);
    assert_eq!(
        qa::<i64>(&mut c, &["SINTERCARD", "2", &a, &b, "LIMIT", "1"]),
        1
    );
    // SMOVE across cores moves exactly once.
    assert_eq!(qa::<i64>(&mut c, &["SMOVE", &a, &b, "1"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["SMOVE", &a, &b, "1"]), 0);
    assert_eq!(members(&mut c, &a), set(&["2", "3", "4"]));
    assert_eq!(members(&mut c, &b), set(&["1", "3", "4", "5"]));
}

#[test]
fn spop_and_srandmember_take_real_members() {
    let s = Server::start(2);
    let mut c = s.conn();
    let all: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let mut args = vec!["SADD", "big"];
    args.extend(all.iter().map(String::as_str));
    assert_eq!(qa::<i64>(&mut c, &args), 300);
    let universe: BTreeSet<String> = all.into_iter().collect();
    let picked: Vec<String> = qa(&mut c, &["SRANDMEMBER", "big", "20"]);
    let distinct: BTreeSet<String> = picked.iter().cloned().collect();
    assert_eq!((picked.len(), distinct.len()), (20, 20));
    assert!(distinct.is_subset(&universe));
    let repeated: Vec<String> = qa(&mut c, &["SRANDMEMBER", "big", "-500"]);
    assert_eq!(repeated.len(), 500);
    let mut popped = BTreeSet::new();
    for _ in 0..50 {
        let m: String = qa(&mut c, &["SPOP", "big"]);
        assert!(universe.contains(&m));
        assert!(popped.insert(m), "popped twice");
    }
    let many: Vec<String> = qa(&mut c, &["SPOP", "big", "100"]);
    for m in many {
        assert!(popped.insert(m), "popped twice");
    }
    assert_eq!(qa::<i64>(&mut c, &["SCARD", "big"]), 150);
    let rest = members(&mut c, "big");
    assert!(rest.is_disjoint(&popped));
    assert_eq!(rest.len() + popped.len(), 300);
    let last: Vec<String> = qa(&mut c, &["SPOP", "big", "1000"]);
    assert_eq!(last.len(), 150);
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "big"]), 0);
}

#[test]
fn hscan_and_sscan_visit_every_element_of_a_large_collection() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut want = BTreeMap::new();
    for chunk in 0..10 {
        let mut args = vec!["HSET".to_string(), "big".to_string()];
        for i in 0..100 {
            // Shared prefixes longer than the cursor keeps, on purpose.
            let f = format!("field-with-a-long-prefix-{:04}", chunk * 100 + i);
            args.push(f.clone());
            args.push(format!("v{i}"));
            want.insert(f, format!("v{i}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        q(&mut c, &refs);
    }
    let mut got = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let (next, items): (String, Vec<String>) =
            qa(&mut c, &["HSCAN", "big", &cursor, "COUNT", "50"]);
        for pair in items.chunks(2) {
            got.insert(pair[0].clone(), pair[1].clone());
        }
        rounds += 1;
        assert!(rounds < 10_000, "HSCAN does not terminate");
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(got, want);
    let mut args = vec!["SADD".to_string(), "bigset".to_string()];
    args.extend((0..500).map(|i| format!("{i}")));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    q(&mut c, &refs);
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = qa(
            &mut c,
            &["SSCAN", "bigset", &cursor, "COUNT", "7", "MATCH", "1*"],
        );
        seen.extend(items);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let want: BTreeSet<String> = (0..500)
        .map(|i| i.to_string())
        .filter(|s| s.starts_with('1'))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn collections_survive_a_restart_with_other_core_counts() {
    let mut s = Server::start(2);
    let mut c = s.conn();
    for i in 0..40 {
        let h = format!("hash{i}");
        let st = format!("set{i}");
        q(&mut c, &["HSET", &h, "f", &i.to_string(), "g", "x"]);
        q(&mut c, &["SADD", &st, "a", "b", &i.to_string()]);
    }
    q(&mut c, &["HDEL", "hash0", "g"]);
    q(&mut c, &["DEL", "set1"]);
    q(&mut c, &["EXPIRE", "hash2", "1000"]);
    drop(c);
    for cores in [3, 1] {
        s.restart(cores);
        let mut c = s.conn();
        assert_eq!(qa::<i64>(&mut c, &["HLEN", "hash0"]), 1);
        assert_eq!(qa::<i64>(&mut c, &["EXISTS", "set1"]), 0);
        assert!(qa::<i64>(&mut c, &["TTL", "hash2"]) > 0);
        for i in 2..40 {
            assert_eq!(
                qa::<String>(&mut c, &["HGET", &format!("hash{i}"), "f"]),
                i.to_string()
            );
            assert_eq!(qa::<i64>(&mut c, &["SCARD", &format!("set{i}")]), 3);
        }
        let hashes: Vec<String> = qa(&mut c, &["KEYS", "hash*"]);
        assert_eq!(hashes.len(), 40);
    }
}

#[test]
fn generic_commands_see_collections() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["HSET", "h", "f", "v"]);
    q(&mut c, &["SADD", "s", "m"]);
    assert_eq!(qa::<String>(&mut c, &["TYPE", "h"]), "hash");
    assert_eq!(qa::<String>(&mut c, &["TYPE", "s"]), "set");
    assert_eq!(qa::<i64>(&mut c, &["EXPIRE", "h", "100"]), 1);
    assert!(qa::<i64>(&mut c, &["TTL", "h"]) > 90);
    // EXPIRE keeps the elements.
    assert_eq!(qa::<String>(&mut c, &["HGET", "h", "f"]), "v");
    assert_eq!(qa::<i64>(&mut c, &["PERSIST", "h"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["TTL", "h"]), -1);
    let (_, hashes): (String, Vec<String>) =
        qa(&mut c, &["SCAN", "0", "TYPE", "hash", "COUNT", "1000"]);
    assert_eq!(hashes, vec!["h".to_string()]);
    assert_eq!(qa::<i64>(&mut c, &["PEXPIRE", "s", "1"]), 1);
    assert!(eventually(std::time::Duration::from_secs(10), || {
        qa::<i64>(&mut c, &["EXISTS", "s"]) == 0
    }));
    assert_eq!(qa::<i64>(&mut c, &["SADD", "s", "fresh"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["SCARD", "s"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["DEL", "h", "s"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 0);
}

/// Bytes of all table files under `dir`.
fn table_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "sst") {
                total += e.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}

#[test]
fn deleted_collections_are_reclaimed_by_compaction() {
    let s = Server::start(2);
    let mut c = s.conn();
    // Values that do not compress, so table sizes show the data.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = move || {
        (0..7)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{x:016x}")
            })
            .collect::<String>()
    };
    let mut last = String::new();
    for name in ["doomed", "overwritten", "kept"] {
        let mut args = vec!["HSET".to_string(), name.to_string()];
        for i in 0..10_000 {
            args.push(format!("field{i}"));
            last = noise();
            args.push(last.clone());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(qa::<i64>(&mut c, &refs), 10_000);
    }
    assert_eq!(q(&mut c, &["COMPACT"]), Value::Okay);
    let full = table_bytes(s.dir());
    assert!(full > 3_000_000, "tables hold the three hashes: {full}");
    // Deleting or overwriting a collection writes one record.
    assert_eq!(qa::<i64>(&mut c, &["DEL", "doomed"]), 1);
    assert_eq!(
        q(&mut c, &["SET", "overwritten", "now a string"]),
        Value::Okay
    );
    assert_eq!(q(&mut c, &["COMPACT"]), Value::Okay);
    let after = table_bytes(s.dir());
    assert!(
        after < full / 2,
        "two of three hashes' elements dropped: {full} -> {after}"
    );
    assert_eq!(qa::<i64>(&mut c, &["HLEN", "kept"]), 10_000);
    assert_eq!(qa::<String>(&mut c, &["HGET", "kept", "field9999"]), last);
    assert_eq!(qa::<i64>(&mut c, &["HLEN", "doomed"]), 0);
    // A new hash under a reclaimed name starts empty.
    assert_eq!(qa::<i64>(&mut c, &["HSET", "doomed", "f", "v"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["HLEN", "doomed"]), 1);
}
