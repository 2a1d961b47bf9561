//! Persistence: clean restarts, restarts on another core count, SIGKILL
//! with `--appendfsync always`, and the data-directory lock.

use crate::common::*;

fn write_keys(c: &mut redis::Connection, n: usize) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET")
            .arg(format!("key:{i}"))
            .arg(format!("value:{i}"))
            .ignore();
    }
    pipe.cmd("SET")
        .arg("ttl")
        .arg("x")
        .arg("EX")
        .arg(1000)
        .ignore();
    let () = pipe.query(c).unwrap();
}

fn assert_keys(c: &mut redis::Connection, n: usize) {
    assert_eq!(qa::<usize>(c, &["DBSIZE"]), n + 1);
    let keys: Vec<String> = (0..n).map(|i| format!("key:{i}")).collect();
    let mut args = vec!["MGET"];
    args.extend(keys.iter().map(String::as_str));
    let values: Vec<Option<String>> = qa(c, &args);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v.as_deref(), Some(format!("value:{i}").as_str()), "key:{i}");
    }
    let ttl: i64 = qa(c, &["TTL", "ttl"]);
    assert!(ttl > 0 && ttl <= 1000, "{ttl}");
}

#[test]
fn data_survives_sigterm_and_restart() {
    let mut s = Server::start(2);
    write_keys(&mut s.conn(), 500);
    let mut c1 = s.conn_url("/1");
    qa::<()>(&mut c1, &["SET", "in-db1", "x"]);
    s.restart(2);
    assert_keys(&mut s.conn(), 500);
    assert_eq!(qa::<String>(&mut s.conn_url("/1"), &["GET", "in-db1"]), "x");
}

#[test]
fn a_restart_with_another_core_count_finds_every_key() {
    let mut s = Server::start(2);
    write_keys(&mut s.conn(), 500);
    s.restart(1);
    assert_keys(&mut s.conn(), 500);
    write_keys(&mut s.conn(), 600);
    s.restart(2);
    assert_keys(&mut s.conn(), 600);
    // A full SCAN on the new layout sees each key once.
    let mut c = s.conn();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, keys): (String, Vec<String>) = qa(&mut c, &["SCAN", &cursor, "COUNT", "50"]);
        for k in keys {
            assert!(seen.insert(k.clone()), "{k} twice");
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 601);
}

#[test]
fn swapdb_survives_a_restart() {
    let mut s = Server::start(2);
    qa::<()>(&mut s.conn(), &["SET", "k", "was-db0"]);
    qa::<()>(&mut s.conn(), &["SWAPDB", "0", "1"]);
    s.restart(2);
    assert_eq!(qa::<i64>(&mut s.conn(), &["EXISTS", "k"]), 0);
    assert_eq!(
        qa::<String>(&mut s.conn_url("/1"), &["GET", "k"]),
        "was-db0"
    );
}

#[test]
fn appendfsync_always_loses_nothing_acknowledged_on_sigkill() {
    let mut s = Server::start_with(2, &["--appendfsync", "always"]);
    let mut c = s.conn();
    for i in 0..300 {
        qa::<()>(&mut c, &["SET", &format!("key:{i}"), &format!("value:{i}")]);
    }
    qa::<()>(&mut c, &["SET", "ttl", "x", "EX", "1000"]);
    qa::<i64>(&mut c, &["DEL", "key:299"]);
    qa::<()>(&mut c, &["SET", "key:299", "value:299"]);
    drop(c);
    s.kill();
    s.start_again(2);
    assert_keys(&mut s.conn(), 300);
}

#[test]
fn a_second_server_on_the_same_dir_refuses_and_names_the_holder() {
    let s = Server::start(1);
    let pid = s.pid();
    let second = Server::try_start_on(s.dir(), 1, &[]);
    let Err(e) = second else {
        panic!("a second server started on a locked directory");
    };
    assert!(e.status.is_some_and(|st| !st.success()), "{e:?}");
    assert!(
        e.stderr.contains(&format!("held by pid {pid}")),
        "stderr does not name the holder:\n{}",
        e.stderr
    );
    // The first one is unharmed.
    assert_eq!(qa::<String>(&mut s.conn(), &["PING"]), "PONG");
}

#[test]
fn save_then_sigkill_keeps_the_data() {
    let mut s = Server::start(2);
    write_keys(&mut s.conn(), 200);
    qa::<()>(&mut s.conn(), &["SAVE"]);
    s.kill();
    s.start_again(2);
    assert_keys(&mut s.conn(), 200);
}
