//! A plugin call that writes a partition refusing writes (poisoned after a
//! failed WAL step) writes nothing anywhere: not the other core's keys
//! (the call over both cores) and not the same core's other partition
//! (the local call). The partition is poisoned for real: its directory
//! is made immutable (`chattr +i`, which needs root and a file system
//! that has it, e.g. ext4; without them the test says so and checks
//! nothing) and SAVE then fails to start a new WAL segment there.

use std::path::PathBuf;
use std::process::Command;

use frys_shards::keyspace::{key_slot, PartitionMap};
use redis::Value;

use super::{load, server};
use crate::common::*;

/// Makes a directory immutable until dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: PathBuf) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Immutable(dir))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

fn partition_of(key: &str) -> u16 {
    PartitionMap::new(16, 2).partition_of_slot(key_slot(key.as_bytes()))
}

#[test]
fn a_call_writing_a_poisoned_partition_writes_no_other_core_or_partition() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "xfer.wasm", &[]);
    let bad = keys_on_core("pb", 1, 2, 1).remove(0);
    let other_core = keys_on_core("pg", 0, 2, 1).remove(0);
    let same_core = keys_on_core("ps", 1, 2, 40)
        .into_iter()
        .find(|k| partition_of(k) != partition_of(&bad))
        .expect("core 1 owns several partitions");
    assert_eq!(
        q(
            &mut c,
            &["MSET", &bad, "0", &other_core, "10", &same_core, "10"]
        ),
        Value::Okay
    );
    let dir = s.dir().join(format!("p{:05}", partition_of(&bad)));
    let Some(frozen) = Immutable::set(dir) else {
        eprintln!("SKIPPED: chattr +i is not available here");
        return;
    };
    // The flush must start a new WAL segment in the frozen directory.
    let _ = cmd(&["SAVE"]).query::<Value>(&mut c);
    drop(frozen);
    let refused = err(&mut c, &["SET", &bad, "1"]);
    assert!(refused.contains("refuses writes"), "{refused}");
    for from in [&other_core, &same_core] {
        let e = err(&mut c, &["XFER", from, &bad, "1"]);
        assert!(e.contains("refuses writes"), "{e}");
        assert_eq!(
            qa::<String>(&mut c, &["GET", from]),
            "10",
            "{from} written by a call that failed"
        );
    }
    assert_eq!(qa::<String>(&mut c, &["GET", &bad]), "0");
}
