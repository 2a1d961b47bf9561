//! A full disk: writes answer Redis' `-MISCONF` text, reads keep working,
//! INFO and `/health` show it, and writes are taken again once there is
//! room, without a restart.
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

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("frys-disk-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    }
    let mount = Mount(dir.clone());
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
