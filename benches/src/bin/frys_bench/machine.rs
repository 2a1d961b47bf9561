//! Describing the machine and the tree being measured.

use std::collections::BTreeMap;
use std::process::Command;

use frys::topology::Topology;
use frys_benches::results::{Machine, MachineCpu};

/// The Cargo.lock the benches were built from: the versions of the peers.
const CARGO_LOCK: &str = include_str!("../../../../Cargo.lock");

/// Describes this machine, its topology read from `source` (`sysfs` or
/// `hwloc`).
pub fn describe(topo: &Topology, allowed: &[usize], source: &str) -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, m)| m.trim().to_owned());
    let memory_bytes = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    Machine {
        hostname: read("/proc/sys/kernel/hostname").trim().to_owned(),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        cpu_model,
        topology_source: source.to_owned(),
        cpus: topo
            .cpus()
            .iter()
            .map(|c| MachineCpu {
                id: c.id,
                node: c.node,
                package: c.package,
                core: c.core,
            })
            .collect(),
        allowed_cpus: allowed.to_vec(),
        memory_bytes,
    }
}

/// `git rev-parse HEAD` of the checkout the benches were built in, with
/// `-dirty` for uncommitted changes; `unknown` outside a checkout.
pub fn git_commit() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{head}-dirty")
            } else {
                head
            }
        }
        None => "unknown".into(),
    }
}

/// The versions of the systems compared: crates from Cargo.lock, servers
/// from their `--version`.
pub fn versions() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    // librocksdb-sys' version names the bundled RocksDB (`0.19.0+11.8.1`).
    for name in [
        "frys-runtime",
        "tokio",
        "fjall",
        "rocksdb",
        "librocksdb-sys",
    ] {
        if let Some(version) = locked_version(CARGO_LOCK, name) {
            v.insert(name.to_owned(), version);
        }
    }
    // redis_compare.sh compares this binary instead of building one.
    if let Ok(path) = std::env::var("SHARD_SERVER") {
        v.insert("shard-server".into(), format!("prebuilt {path}"));
    }
    if let Ok(out) = Command::new("redis-server").arg("--version").output() {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(version) = text.split_whitespace().find_map(|w| w.strip_prefix("v=")) {
            v.insert("redis".into(), version.to_owned());
        }
    }
    v
}

/// The version of package `name` in a Cargo.lock's text (the first, when
/// several are locked).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == wanted {
            return lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
                .map(str::to_owned);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_lock_file() {
        let lock = "[[package]]\nname = \"fjall\"\nversion = \"2.11.2\"\n";
        assert_eq!(locked_version(lock, "fjall").as_deref(), Some("2.11.2"));
        assert_eq!(locked_version(lock, "tokio"), None);
        assert!(locked_version(CARGO_LOCK, "tokio").is_some());
    }

    #[test]
    fn the_storage_peer_is_fjall_3() {
        let fjall = locked_version(CARGO_LOCK, "fjall").expect("fjall is locked");
        assert!(fjall.starts_with("3."), "fjall {fjall}");
        assert!(versions().get("fjall").is_some_and(|v| v.starts_with("3.")));
    }
}
