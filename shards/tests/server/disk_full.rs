//! A full disk: writes answer Redis' `-MISCONF` text, reads keep working,
//! INFO and `/health` show it, and writes are taken again once there is
//! room, without a restart.
//!
//! No free inode for a new WAL segment (the memtable cannot switch): the
//! same, and SAVE answers Redis' bare `-ERR`, a restart comes up and
//! serves reads, and SAVE succeeds again once there is room.
//!
//! The data directory is a small tmpfs mounted for the test, which needs
//! root (CI runs as root); without it the test says so and checks nothing.

use std::process::Command;

use crate::common::*;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tmpfs of `options` mounted on a new directory named after `name`;
/// `None` (the test is skipped) without the right to mount.
fn mount_tmpfs(name: &str, options: &str) -> Option<Mount> {
    let dir = std::env::temp_dir().join(format!("frys-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        let _ = std::fs::remove_dir(&dir);
        return None;
    }
    Some(Mount(dir))
}

fn remount(mount: &Mount, options: &str) {
    let done = Command::new("mount")
        .arg("-o")
        .arg(format!("remount,{options}"))
        .arg(&mount.0)
        .status()
        .is_ok_and(|s| s.success());
    assert!(done, "cannot remount the tmpfs with {options}");
}

/// Inodes in use on the file system of `dir`.
fn inodes_used(dir: &std::path::Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%c %d"])
        .arg(dir)
        .output()
        .expect("stat");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut n = text.split_whitespace().map(|w| w.parse::<u64>().unwrap());
    let (total, free) = (n.next().unwrap(), n.next().unwrap());
    total - free
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_without_a_restart() {
    let Some(mount) = mount_tmpfs("disk-full", "size=4m") else {
        return;
    };
    let dir = mount.0.clone();
    let data = dir.join("data");
    let mut s = match Server::try_start_on(&data, 1, &["--appendfsync", "always"]) {
        Ok(s) => s,
        Err(e) => panic!("start: {e:?}"),
    };
    let mut c = s.conn();
    q(&mut c, &["SET", "kept", "before"]);
    let value = "x".repeat(64 * 1024);
    let mut refused = None;
    for i in 0..200 {
        match cmd(&["SET", &format!("fill{i}"), &value]).query::<()>(&mut c) {
            Ok(()) => {}
            Err(e) => {
                refused = Some(error_text(&e));
                break;
            }
        }
    }
    assert_eq!(
        refused.as_deref(),
        Some("MISCONF Errors writing to the AOF file: No space left on device"),
        "4 MiB should fill up within 200 writes of 64 KiB"
    );
    // Reads go on, and the state shows.
    assert_eq!(qa::<String>(&mut c, &["GET", "kept"]), "before");
    let info: String = qa(&mut c, &["INFO", "persistence"]);
    assert!(info.contains("aof_last_write_status:err"), "{info}");
    // Room again: the same server takes writes.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(grown, "cannot grow the tmpfs");
    q(&mut c, &["SET", "after", "room"]);
    assert_eq!(qa::<String>(&mut c, &["GET", "after"]), "room");
    let info: String = qa(&mut c, &["INFO", "persistence"]);
    assert!(info.contains("aof_last_write_status:ok"), "{info}");
    // And everything acknowledged survives a restart.
    s.restart(1);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["GET", "kept"]), "before");
    assert_eq!(qa::<String>(&mut c, &["GET", "after"]), "room");
    drop(s);
    drop(mount);
}

/// Out of inodes: writes go on into the current WAL segment until the
/// memtable reaches its bound, then get `-MISCONF`; SAVE (which must
/// switch the memtable to flush it) answers `-ERR` rather than `+OK`; a
/// restart still comes up (SIGTERM exits 0: every partition closes) and
/// serves reads; with inodes back, writes and SAVE succeed.
#[test]
fn no_free_inode_for_a_wal_segment_fails_save_and_recovers_without_a_restart() {
    let Some(mount) = mount_tmpfs("no-inode", "size=256m") else {
        return;
    };
    let data = mount.0.join("data");
    let args = [
        "--appendfsync",
        "always",
        "--partitions",
        "1",
        "--core-memory",
        "8mb",
    ];
    let mut s = Server::try_start_on(&data, 1, &args).expect("start");
    let mut c = s.conn();
    q(&mut c, &["SET", "kept", "before"]);
    assert_eq!(q(&mut c, &["SAVE"]), redis::Value::Okay);
    remount(&mount, &format!("nr_inodes={}", inodes_used(&mount.0)));
    let value = "x".repeat(64 * 1024);
    let mut taken = 0;
    let refused = loop {
        match cmd(&["SET", &format!("fill{taken}"), &value]).query::<()>(&mut c) {
            Ok(()) => taken += 1,
            Err(e) => break error_text(&e),
        }
        assert!(taken < 10_000, "writes are never refused");
    };
    assert_eq!(
        refused,
        "MISCONF Errors writing to the AOF file: No space left on device"
    );
    assert!(taken > 0, "writes went on into the current segment");
    assert_eq!(qa::<String>(&mut c, &["GET", "kept"]), "before");
    assert_eq!(err(&mut c, &["SAVE"]), "ERR");
    let info: String = qa(&mut c, &["INFO", "persistence"]);
    assert!(info.contains("aof_last_write_status:err"), "{info}");
    // A restart without a free inode comes up and serves what was taken.
    s.restart(1);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["GET", "kept"]), "before");
    let last = format!("fill{}", taken - 1);
    assert_eq!(qa::<String>(&mut c, &["GET", &last]), value);
    // Inodes again: the same server takes writes and SAVE succeeds.
    remount(&mount, "nr_inodes=100000");
    q(&mut c, &["SET", "after", "room"]);
    assert_eq!(q(&mut c, &["SAVE"]), redis::Value::Okay);
    let info: String = qa(&mut c, &["INFO", "persistence"]);
    assert!(info.contains("aof_last_write_status:ok"), "{info}");
    s.restart(1);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["GET", "after"]), "room");
    assert_eq!(qa::<String>(&mut c, &["GET", &last]), value);
    drop(s);
    drop(mount);
}
