//! Regressions for bugs found by review: concurrent SWAPDB, AUTH pipelined
//! with the commands after it, huge SCAN COUNT.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn concurrent_swapdbs_leave_every_database_whole() {
    let s = Server::start(2);
    for db in 0..3 {
        let mut d = s.conn_url(&format!("/{db}"));
        let mut keys = keys_on_core("k", 0, 2, 20);
        keys.extend(keys_on_core("k", 1, 2, 20));
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("SET").arg(k).arg(format!("db{db}")).ignore();
        }
        let () = pipe.query(&mut d).unwrap();
    }
    let swaps = [("0", "1"), ("1", "2")];
    let handles: Vec<_> = swaps
        .iter()
        .map(|(a, b)| {
            let mut con = s.conn();
            let (a, b) = (a.to_string(), b.to_string());
            std::thread::spawn(move || {
                for _ in 0..300 {
                    qa::<()>(&mut con, &["SWAPDB", &a, &b]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let check = |s: &Server| {
        let mut tags = Vec::new();
        for db in 0..3 {
            let mut d = s.conn_url(&format!("/{db}"));
            let keys: Vec<String> = qa(&mut d, &["KEYS", "*"]);
            assert_eq!(keys.len(), 40, "db{db} has {} keys", keys.len());
            let mut values: Vec<String> = keys
                .iter()
                .map(|k| qa::<String>(&mut d, &["GET", k]))
                .collect();
            values.sort();
            values.dedup();
            assert_eq!(values.len(), 1, "db{db} mixes databases: {values:?}");
            tags.push(values.remove(0));
        }
        tags.sort();
        assert_eq!(tags, ["db0", "db1", "db2"]);
    };
    check(&s);
    let mut s = s;
    s.restart(2);
    check(&s);
}

#[test]
fn auth_pipelined_with_big_commands_after_it_is_served() {
    let s = Server::start_with(1, &["--requirepass", "pw"]);
    let mut raw = s.raw();
    let value = "v".repeat(20_000);
    let mut req = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n".to_vec();
    req.extend_from_slice(
        format!(
            "*3\r\n$3\r\nSET\r\n$2\r\nbk\r\n${}\r\n{value}\r\n",
            value.len()
        )
        .as_bytes(),
    );
    req.extend_from_slice(b"*2\r\n$6\r\nSTRLEN\r\n$2\r\nbk\r\n");
    raw.write_all(&req).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let want = b"+OK\r\n+OK\r\n:20000\r\n";
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 64];
    while got.len() < want.len() && Instant::now() < deadline {
        match raw.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[test]
fn scan_with_a_huge_count_returns_every_key_once() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("SET")
            .arg(format!("key:{i}"))
            .arg("x".repeat(1000))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    let (cursor, mut keys): (String, Vec<String>) =
        qa(&mut c, &["SCAN", "0", "COUNT", "1000000000"]);
    assert_eq!(cursor, "0");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 300);
    let (_, typed): (String, Vec<String>) = qa(
        &mut c,
        &["SCAN", "0", "COUNT", "1000000000", "TYPE", "string"],
    );
    assert_eq!(typed.len(), 300);
    let (_, none): (String, Vec<String>) = qa(
        &mut c,
        &["SCAN", "0", "COUNT", "1000000000", "TYPE", "hash"],
    );
    assert!(none.is_empty());
}
