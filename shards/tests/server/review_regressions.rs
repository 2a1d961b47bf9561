//! Regressions for bugs found by review: concurrent SWAPDB, AUTH pipelined
//! with the commands after it, huge SCAN COUNT.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::common::*;

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

#[test]
fn a_key_given_two_deadlines_is_counted_once_when_it_expires() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut pipe = redis::pipe();
    for i in 0..20 {
        let k = format!("dup{i}");
        pipe.cmd("SET").arg(&k).arg("v").arg("PX").arg(20).ignore();
        pipe.cmd("PEXPIRE").arg(&k).arg(21).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    let expired = |c: &mut redis::Connection| -> u64 {
        let info: String = qa(c, &["INFO", "stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while expired(&mut c) < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let a second pass over the index (the later deadlines) run too.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(expired(&mut c), 20);
}

#[test]
fn rename_racing_swapdb_happens_wholly_before_or_after_it() {
    let s = Server::start(2);
    let mut d = s.conn();
    let a = keys_on_core("s", 0, 2, 1).remove(0);
    let b = keys_on_core("d", 1, 2, 1).remove(0);
    let ren = format!(
        "*3\r\n$6\r\nRENAME\r\n${}\r\n{a}\r\n${}\r\n{b}\r\n",
        a.len(),
        b.len()
    );
    let swp = b"*3\r\n$6\r\nSWAPDB\r\n$1\r\n0\r\n$1\r\n1\r\n";
    let rename_first = format!("+OK db0=[] db1=[\"{b}\"]");
    let swap_first = format!("-ERR no such key db0=[] db1=[\"{a}\"]");
    for i in 0..400 {
        qa::<()>(&mut d, &["FLUSHALL"]);
        qa::<()>(&mut d, &["SELECT", "0"]);
        qa::<()>(&mut d, &["SET", &a, "v"]);
        let mut r1 = s.raw();
        let mut r2 = s.raw();
        if i % 2 == 0 {
            r1.write_all(ren.as_bytes()).unwrap();
            r2.write_all(swp).unwrap();
        } else {
            r2.write_all(swp).unwrap();
            r1.write_all(ren.as_bytes()).unwrap();
        }
        let mut buf = [0u8; 256];
        let n1 = r1.read(&mut buf).unwrap();
        let rep = String::from_utf8_lossy(&buf[..n1]).trim().to_string();
        let _ = r2.read(&mut buf).unwrap();
        let mut keys = Vec::new();
        for db in ["0", "1"] {
            qa::<()>(&mut d, &["SELECT", db]);
            let mut k: Vec<String> = qa(&mut d, &["KEYS", "*"]);
            k.sort();
            keys.push(k);
        }
        qa::<()>(&mut d, &["SELECT", "0"]);
        let outcome = format!("{rep} db0={:?} db1={:?}", keys[0], keys[1]);
        assert!(
            outcome == rename_first || outcome == swap_first,
            "round {i}: {outcome}"
        );
    }
}
