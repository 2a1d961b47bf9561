//! Backups: BGSAVE while serving, then `--restore` into a new data
//! directory holds exactly the data written before the BGSAVE; LASTSAVE
//! and INFO persistence report it; a write stream running across cores
//! during BGSAVE is cut at one point for every partition.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::common::*;

fn persistence(con: &mut redis::Connection, field: &str) -> String {
    let info: String = qa(con, &["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}

/// Runs BGSAVE and waits until it is done; returns the backup directory.
fn bgsave(con: &mut redis::Connection) -> PathBuf {
    assert_eq!(qa::<String>(con, &["BGSAVE"]), "Background saving started");
    assert!(eventually(PATIENCE, || persistence(
        con,
        "rdb_bgsave_in_progress"
    ) == "0"));
    assert_eq!(persistence(con, "rdb_last_bgsave_status"), "ok");
    PathBuf::from(persistence(con, "frys_last_backup"))
}

#[test]
fn restore_holds_exactly_the_data_before_bgsave() {
    let server = Server::start(2);
    let mut con = server.conn();
    let before_lastsave: i64 = qa(&mut con, &["LASTSAVE"]);
    for i in 0..2000 {
        q(&mut con, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    q(&mut con, &["HSET", "h", "a", "1", "b", "2"]);
    q(&mut con, &["RPUSH", "l", "x", "y", "z"]);
    q(&mut con, &["SET", "doomed", "1"]);
    // Some of it in tables, the rest only in the WAL.
    q(&mut con, &["SAVE"]);
    for i in 0..500 {
        q(&mut con, &["SET", &format!("k{i}"), &format!("w{i}")]);
    }
    let backup = bgsave(&mut con);
    assert!(backup.join("BACKUP").is_file(), "{}", backup.display());
    let lastsave: i64 = qa(&mut con, &["LASTSAVE"]);
    assert!(lastsave >= before_lastsave);
    // After the backup: overwrite, delete, add.
    for i in 0..2000 {
        q(&mut con, &["SET", &format!("k{i}"), "after"]);
    }
    q(&mut con, &["DEL", "doomed"]);
    q(&mut con, &["HSET", "h", "c", "3"]);
    q(&mut con, &["RPOP", "l"]);
    q(&mut con, &["SET", "new", "after"]);
    // A second BGSAVE goes to its own directory.
    let second = bgsave(&mut con);
    assert_ne!(second, backup);

    let restored = Server::start_with(2, &["--restore", &backup.display().to_string()]);
    let mut r = restored.conn();
    for i in 0..2000 {
        let want = if i < 500 {
            format!("w{i}")
        } else {
            format!("v{i}")
        };
        assert_eq!(qa::<String>(&mut r, &["GET", &format!("k{i}")]), want);
    }
    assert_eq!(qa::<String>(&mut r, &["GET", "doomed"]), "1");
    assert_eq!(qa::<i64>(&mut r, &["EXISTS", "new"]), 0);
    assert_eq!(qa::<i64>(&mut r, &["HLEN", "h"]), 2);
    assert_eq!(
        qa::<Vec<String>>(&mut r, &["LRANGE", "l", "0", "-1"]),
        vec!["x", "y", "z"]
    );
    assert_eq!(qa::<i64>(&mut r, &["DBSIZE"]), 2003);
    // The original server kept serving its newer data.
    assert_eq!(qa::<String>(&mut con, &["GET", "k1"]), "after");
}

#[test]
fn restore_refuses_a_non_empty_directory_and_an_unfinished_backup() {
    let server = Server::start(1);
    let mut con = server.conn();
    q(&mut con, &["SET", "a", "1"]);
    let backup = bgsave(&mut con);
    // The server's own (non-empty) data directory.
    let e = Server::try_start_on(
        server.dir(),
        1,
        &["--restore", &backup.display().to_string()],
    );
    assert!(e.is_err());
    std::fs::remove_file(backup.join("BACKUP")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = Server::try_start_on(
        &tmp.path().join("d"),
        1,
        &["--restore", &backup.display().to_string()],
    )
    .err()
    .expect("an unfinished backup was restored");
    assert!(
        err.stderr.contains("not a finished backup"),
        "{}",
        err.stderr
    );
}

/// Counts `SET seq:<i> 1` acknowledged one after another, the keys
/// falling on both cores. Whatever the backup holds must be a prefix
/// `0..m`: a later write (on either core) without an earlier one would
/// mean the partitions were cut at different moments.
#[test]
fn a_backup_under_writes_is_one_point_across_cores() {
    let server = Server::start(2);
    let stop = Arc::new(AtomicBool::new(false));
    let url = server.url();
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut con = connect(&url);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                q(&mut con, &["SET", &format!("seq:{i}"), "1"]);
                i += 1;
            }
            i
        })
    };
    let mut con = server.conn();
    assert!(eventually(PATIENCE, || qa::<i64>(&mut con, &["DBSIZE"]) > 200));
    let backup = bgsave(&mut con);
    assert!(eventually(PATIENCE, || qa::<i64>(&mut con, &["DBSIZE"]) > 400));
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();

    let restored = Server::start_with(2, &["--restore", &backup.display().to_string()]);
    let mut r = restored.conn();
    let n: u64 = qa(&mut r, &["DBSIZE"]);
    assert!(n > 0 && n < written, "{n} of {written}");
    for i in 0..n {
        assert_eq!(
            qa::<i64>(&mut r, &["EXISTS", &format!("seq:{i}")]),
            1,
            "seq:{i} missing from a backup of {n} keys"
        );
    }
}
