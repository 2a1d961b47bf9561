//! INFO: Redis' sections and field names, plus a `frys` section per core.
//! The numbers are gathered from every core over the mesh.

use std::fmt::Write;

use super::{shared, stats};
use crate::command::REDIS_VERSION;
use crate::config;
use crate::exec::join_all;
use crate::pubsub::{self, Kind};
use crate::store::{self, split_data_key, Entry, DATA_PREFIX_LEN};

/// What one core reports.
struct CoreReport {
    counters: stats::CoreCounters,
    partitions: Vec<(u16, frys_storage::Metrics)>,
    /// (namespace, keys, keys with an expiry)
    keyspace: Vec<(u16, u64, u64)>,
    /// Largest query buffer and output of the core's clients.
    buffers: (usize, usize),
}

async fn report(with_keyspace: bool) -> CoreReport {
    let store = store::current();
    let mut keyspace: std::collections::BTreeMap<u16, (u64, u64)> = Default::default();
    let mut partitions = Vec::new();
    for (id, db) in store.owned() {
        partitions.push((id, db.metrics()));
        if !with_keyspace {
            continue;
        }
        let mut scan = db.scan(vec![store::DATA_TAG]..vec![store::DATA_TAG + 1]);
        let mut seen = 0usize;
        loop {
            let (k, v) = match scan.next().await {
                Ok(Some(kv)) => kv,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(partition = id, error = %e, "INFO keyspace: scan failed");
                    break;
                }
            };
            seen += 1;
            if seen.is_multiple_of(1024) {
                frys_runtime::yield_now().await;
            }
            if k.len() < DATA_PREFIX_LEN {
                continue;
            }
            if let Some((ns, _, _, _)) = split_data_key(&k) {
                let e = keyspace.entry(ns).or_default();
                e.0 += 1;
                if Entry::peek(&v).is_some_and(|(_, at)| at.is_some()) {
                    e.1 += 1;
                }
            }
        }
    }
    CoreReport {
        buffers: crate::session::max_buffers_local(),
        counters: stats::snapshot(),
        partitions,
        keyspace: keyspace
            .into_iter()
            .map(|(ns, (k, e))| (ns, k, e))
            .collect(),
    }
}

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
    "frys",
];
const ALL: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
    "frys",
    "plugins",
];

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; RUSAGE_SELF is a valid who.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// The INFO text for `sections` (empty: default).
pub async fn render(sections: &[String], _db: u16) -> String {
    let wanted: Vec<&str> = if sections.is_empty() || sections.iter().any(|s| s == "default") {
        DEFAULT.to_vec()
    } else if sections.iter().any(|s| s == "all" || s == "everything") {
        ALL.to_vec()
    } else {
        ALL.iter()
            .copied()
            .filter(|a| sections.iter().any(|s| s == a))
            .collect()
    };
    let with_keyspace = wanted.contains(&"keyspace");
    let cores = usize::from(shared().map().cores());
    let handles: Vec<_> = (0..cores)
        .map(|c| frys_runtime::spawn_on(c, move || report(with_keyspace)))
        .collect();
    let reports: Vec<CoreReport> = join_all(handles)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let s = shared();
    let total =
        |f: fn(&stats::CoreCounters) -> u64| reports.iter().map(|r| f(&r.counters)).sum::<u64>();
    let commands: u64 = reports.iter().flat_map(|r| r.counters.calls.values()).sum();
    let mut out = String::new();
    for section in wanted {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match section {
            "server" => {
                let up = s.uptime().as_secs();
                let _ = write!(
                    out,
                    "# Server\r\nredis_version:{REDIS_VERSION}\r\nfrys_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_mode:{}\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:{}\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\nhz:10\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                    env!("CARGO_PKG_VERSION"),
                    if crate::cluster::enabled() { "cluster" } else { "standalone" },
                    std::env::consts::OS,
                    std::env::consts::ARCH,
                    s.driver(),
                    std::process::id(),
                    s.run_id(),
                    s.port(),
                    store::now_ms() * 1000,
                    up / 86400,
                    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                    s.config_file().unwrap_or(""),
                );
            }
            "clients" => {
                let _ = write!(
                    out,
                    "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:0\r\n",
                    s.clients(),
                    config::live(|c| c.maxclients()),
                    reports.iter().map(|r| r.buffers.0).max().unwrap_or(0),
                    reports.iter().map(|r| r.buffers.1).max().unwrap_or(0),
                    total(|c| c.blocked)
                );
            }
            "memory" => {
                let rss = rss_bytes();
                let mem: u64 = reports.iter().flat_map(|r| r.partitions.iter()).map(|(_, m)| m.memtable_bytes).sum();
                let maxmemory = config::live(|c| c.get("maxmemory").unwrap_or("0").to_string());
                let _ = write!(
                    out,
                    "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nfrys_memtable_bytes:{mem}\r\nmaxmemory:{maxmemory}\r\nmaxmemory_policy:{}\r\nmem_allocator:libc\r\n",
                    human(rss),
                    human(rss),
                    config::live(|c| c.get("maxmemory-policy").unwrap_or("noeviction").to_string()),
                );
            }
            "persistence" => {
                let syncs: u64 = reports.iter().flat_map(|r| r.partitions.iter()).map(|(_, m)| m.wal_syncs).sum();
                let _ = write!(
                    out,
                    "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:{}\r\nfrys_appendfsync:{}\r\nfrys_wal_syncs:{syncs}\r\nfrys_last_backup:{}\r\n",
                    u8::from(super::backup::in_progress()),
                    super::last_save(),
                    if super::backup::last_failed() { "err" } else { "ok" },
                    if crate::store::disk_state::disk_full() { "err" } else { "ok" },
                    config::live(|c| c.get("appendfsync").unwrap_or("everysec").to_string()),
                    super::backup::last_backup().map(|p| p.display().to_string()).unwrap_or_default(),
                );
            }
            "stats" => {
                let errors: u64 = reports.iter().flat_map(|r| r.counters.errors.values()).sum();
                let _ = write!(
                    out,
                    "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{commands}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\ntotal_error_replies:{errors}\r\nclient_output_buffer_limit_disconnections:{}\r\n",
                    total(|c| c.connections_received),
                    total(|c| c.net_input_bytes),
                    total(|c| c.net_output_bytes),
                    total(|c| c.rejected),
                    total(|c| c.expired_keys),
                    pubsub::active_count(Kind::Channel),
                    pubsub::active_count(Kind::Pattern),
                    pubsub::active_count(Kind::Shard),
                    total(|c| c.output_limit_disconnections),
                );
            }
            "replication" => out.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\n"),
            "cpu" => {
                let (sys, user) = cpu_times();
                let _ = write!(out, "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n");
            }
            "commandstats" => {
                out.push_str("# Commandstats\r\n");
                let mut calls: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
                for r in &reports {
                    for (k, v) in &r.counters.calls {
                        calls.entry(k).or_default().0 += v;
                    }
                    for (k, us) in &r.counters.usec {
                        calls.entry(k).or_default().1 += us;
                    }
                }
                for (name, (n, us)) in calls.into_iter().filter(|(_, (n, _))| *n > 0) {
                    let per = us as f64 / n as f64;
                    let _ = write!(out, "cmdstat_{name}:calls={n},usec={us},usec_per_call={per:.2},rejected_calls=0,failed_calls=0\r\n");
                }
            }
            "errorstats" => {
                out.push_str("# Errorstats\r\n");
                let mut errs: std::collections::BTreeMap<&str, u64> = Default::default();
                for r in &reports {
                    for (k, v) in &r.counters.errors {
                        *errs.entry(k).or_default() += v;
                    }
                }
                for (code, n) in errs {
                    let _ = write!(out, "errorstat_{code}:count={n}\r\n");
                }
            }
            "keyspace" => {
                out.push_str("# Keyspace\r\n");
                let store = store::current();
                let dbs = config::live(|c| c.databases()).min(65536);
                for db in 0..dbs {
                    let ns = store.ns_of(db as u16);
                    let (keys, expires) = reports
                        .iter()
                        .flat_map(|r| r.keyspace.iter())
                        .filter(|(n, _, _)| *n == ns)
                        .fold((0, 0), |(k, e), (_, k2, e2)| (k + k2, e + e2));
                    if keys > 0 {
                        let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                    }
                }
            }
            "frys" => {
                let _ = write!(out, "# Frys\r\ncores:{cores}\r\npartitions:{}\r\n", s.map().partitions());
                for (core, r) in reports.iter().enumerate() {
                    let forwarded: u64 = r.counters.forwarded.iter().sum();
                    let cmds: u64 = r.counters.calls.values().sum();
                    let _ = write!(
                        out,
                        "core{core}:connections={},commands={cmds},forwarded={forwarded},partitions={}\r\n",
                        r.counters.connected,
                        r.partitions.len()
                    );
                }
            }
            "cluster" => {
                let _ = write!(out, "# Cluster\r\ncluster_enabled:{}\r\n", u8::from(crate::cluster::enabled()));
            }
            "plugins" => out.push_str(&crate::plugin::metrics::info_section()),
            _ => {}
        }
    }
    out
}
