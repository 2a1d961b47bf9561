//! Key expiry, lazy (on access) and active (the expiry cycle deletes keys
//! nobody reads). Waits poll with a bounded deadline.

use std::time::Duration;

use crate::common::*;

const DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn an_expired_key_is_gone_when_read() {
    let s = Server::start(2);
    let mut c = s.conn();
    for k in ["a", "b", "c"] {
        qa::<()>(&mut c, &["SET", k, "v", "PX", "100"]);
    }
    assert!(eventually(DEADLINE, || {
        qa::<Option<String>>(&mut c, &["GET", "a"]).is_none()
    }));
    assert_eq!(qa::<i64>(&mut c, &["TTL", "a"]), -2);
    assert!(eventually(DEADLINE, || qa::<i64>(
        &mut c,
        &["EXISTS", "b", "c"]
    ) == 0));
    assert_eq!(
        qa::<Vec<Option<String>>>(&mut c, &["MGET", "a", "b", "c"]),
        [None, None, None]
    );
}

#[test]
fn keys_with_a_short_ttl_leave_dbsize_without_being_read() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut keys = keys_on_core("t", 0, 2, 50);
    keys.extend(keys_on_core("t", 1, 2, 50));
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg("v").arg("PX").arg(100).ignore();
    }
    pipe.cmd("SET").arg("stays").arg("v").ignore();
    let () = pipe.query(&mut c).unwrap();
    assert!(
        eventually(DEADLINE, || qa::<i64>(&mut c, &["DBSIZE"]) == 1),
        "DBSIZE still {}",
        qa::<i64>(&mut c, &["DBSIZE"])
    );
    assert_eq!(qa::<Vec<String>>(&mut c, &["KEYS", "*"]), ["stays"]);
}

#[test]
fn expired_keys_stay_gone_after_a_restart() {
    let mut s = Server::start(2);
    let mut c = s.conn();
    qa::<()>(&mut c, &["SET", "short", "v", "PX", "100"]);
    qa::<()>(&mut c, &["SET", "long", "v", "EX", "1000"]);
    drop(c);
    s.restart(2);
    let mut c = s.conn();
    assert!(eventually(DEADLINE, || qa::<i64>(&mut c, &["DBSIZE"]) == 1));
    assert_eq!(qa::<i64>(&mut c, &["EXISTS", "short", "long"]), 1);
}

#[test]
fn the_active_cycle_deletes_due_keys_and_counts_them() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut keys = keys_on_core("x", 0, 2, 30);
    keys.extend(keys_on_core("x", 1, 2, 30));
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg("v").arg("PX").arg(50).ignore();
    }
    // Overwritten without a TTL before it is due: the cycle must keep it.
    pipe.cmd("SET")
        .arg("kept")
        .arg("v")
        .arg("PX")
        .arg(50)
        .ignore();
    pipe.cmd("SET").arg("kept").arg("v2").ignore();
    let () = pipe.query(&mut c).unwrap();
    let expired = |c: &mut redis::Connection| -> u64 {
        let info: String = qa(c, &["INFO", "stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    // Nothing reads the keys: only the active cycle can delete them.
    assert!(
        eventually(DEADLINE, || expired(&mut c) >= keys.len() as u64),
        "expired_keys only {}",
        expired(&mut c)
    );
    assert_eq!(expired(&mut c), keys.len() as u64, "a kept key was counted");
    assert_eq!(
        qa::<Option<String>>(&mut c, &["GET", "kept"]).as_deref(),
        Some("v2")
    );
}
