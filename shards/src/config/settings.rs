//! The settings table: every setting the server knows, with Redis' name
//! where Redis has the setting, its default, what values it takes and
//! whether CONFIG SET may change it. CLI flags, `FRYS_*` variables, the
//! TOML file, CONFIG GET/SET and `--help` are all generated from it.

/// What values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer in `min..=max`.
    Int {
        /// Smallest accepted.
        min: i64,
        /// Largest accepted.
        max: i64,
    },
    /// A byte size (`1gb`, `512mb`, `64k`, `100`), stored as bytes.
    Bytes,
    /// `yes` or `no`.
    Bool,
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// Free text (may be empty).
    Text,
    /// `all` or a core count.
    Cores,
    /// Redis' `client-output-buffer-limit`: groups of `<class> <hard>
    /// <soft> <soft-seconds>`; the classes given replace their current
    /// limits, the others are kept.
    BufferLimits,
}

/// One client class's output buffer limit: the client is disconnected
/// when its pending output reaches `hard` bytes, or stays at `soft` bytes
/// or more for longer than `soft_seconds` (0 bytes: no such limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    /// Hard limit in bytes (0: none).
    pub hard: u64,
    /// Soft limit in bytes (0: none).
    pub soft: u64,
    /// How long the soft limit may be exceeded, in seconds.
    pub soft_seconds: u64,
}

/// The classes of `client-output-buffer-limit`, in Redis' order and with
/// the names CONFIG GET prints.
pub const BUFFER_LIMIT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    /// Redis' name, also the CLI flag (`--port`) and, upper-cased with `_`,
    /// the environment variable (`FRYS_PORT`).
    pub name: &'static str,
    /// Default value.
    pub default: &'static str,
    /// Accepted values.
    pub kind: Kind,
    /// CONFIG SET may change it while running.
    pub runtime: bool,
    /// One line for `--help` and the README.
    pub help: &'static str,
}

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

macro_rules! setting {
    ($name:literal, $default:literal, $kind:expr, $runtime:literal, $help:literal) => {
        SettingDef {
            name: $name,
            default: $default,
            kind: $kind,
            runtime: $runtime,
            help: $help,
        }
    };
}

/// Every setting, in the order `--help` lists them.
pub const SETTINGS: &[SettingDef] = &[
    setting!(
        "bind",
        "127.0.0.1",
        Kind::Text,
        false,
        "Addresses to listen on, space separated (e.g. \"127.0.0.1 ::1\")"
    ),
    setting!(
        "port",
        "6379",
        int(0, 65535),
        false,
        "TCP port of the Redis protocol (0 = pick a free one)"
    ),
    setting!(
        "dir",
        "./data",
        Kind::Text,
        false,
        "Data directory (created if missing)"
    ),
    setting!(
        "cores",
        "all",
        Kind::Cores,
        false,
        "Cores to run on: `all` usable CPUs, or a count"
    ),
    setting!(
        "idle-poll-us",
        "50",
        int(-1, 1_000_000),
        false,
        "Microseconds an idle core keeps polling before it parks (-1: the runtime's default, 50 us)"
    ),
    setting!(
        "driver",
        "auto",
        Kind::Enum(&["auto", "io_uring", "epoll"]),
        false,
        "I/O driver: auto (io_uring, or epoll where io_uring is blocked or missing), io_uring, epoll"
    ),
    setting!(
        "partitions",
        "16",
        int(1, 16384),
        false,
        "Partitions of a NEW data directory (fixed once created; each is one LSM)"
    ),
    setting!(
        "core-memory",
        "256mb",
        Kind::Bytes,
        false,
        "Memory budget of each core for its partitions' memtables and block cache"
    ),
    setting!(
        "appendfsync",
        "everysec",
        Kind::Enum(&["always", "everysec", "no"]),
        false,
        "WAL durability: always (fdatasync before the reply), everysec, no"
    ),
    setting!(
        "appendonly",
        "yes",
        Kind::Enum(&["yes"]),
        false,
        "Always yes: every write goes to the write-ahead log"
    ),
    setting!(
        "save",
        "",
        Kind::Text,
        true,
        "Accepted for compatibility; data is persisted by the WAL, SAVE flushes memtables"
    ),
    setting!(
        "requirepass",
        "",
        Kind::Text,
        true,
        "Password of the default user (empty: no AUTH needed)"
    ),
    setting!(
        "aclfile",
        "",
        Kind::Text,
        false,
        "File of ACL users (`user <name> <rules>` lines), loaded at start; ACL SAVE / LOAD use it"
    ),
    setting!(
        "acllog-max-len",
        "128",
        int(0, i32::MAX as i64),
        true,
        "Most entries the ACL LOG keeps"
    ),
    setting!(
        "maxclients",
        "10000",
        int(1, 1_000_000),
        true,
        "Most client connections at once"
    ),
    setting!(
        "databases",
        "16",
        int(1, 65536),
        false,
        "Number of logical databases (SELECT 0..N-1)"
    ),
    setting!(
        "timeout",
        "0",
        int(0, i32::MAX as i64),
        true,
        "Close a client idle this many seconds (0 = never)"
    ),
    setting!(
        "tls-port",
        "0",
        int(0, 65535),
        false,
        "TCP port of the Redis protocol over TLS, beside `port` (0 = no TLS)"
    ),
    setting!(
        "tls-cert-file",
        "",
        Kind::Text,
        true,
        "PEM certificate chain the TLS port presents (CONFIG SET or SIGHUP reloads it for new connections)"
    ),
    setting!(
        "tls-key-file",
        "",
        Kind::Text,
        true,
        "PEM private key of `tls-cert-file`"
    ),
    setting!(
        "tls-ca-cert-file",
        "",
        Kind::Text,
        true,
        "PEM CA certificates that client certificates must chain to"
    ),
    setting!(
        "tls-auth-clients",
        "yes",
        Kind::Enum(&["yes", "no", "optional"]),
        true,
        "Client certificates: yes (required), optional (verified if given), no"
    ),
    setting!(
        "tls-protocols",
        "TLSv1.3",
        Kind::Text,
        true,
        "TLS versions accepted: \"TLSv1.3\", or \"TLSv1.2 TLSv1.3\" to allow 1.2"
    ),
    setting!(
        "admin-port",
        "9121",
        int(0, 65535),
        false,
        "HTTP port of /metrics and /health on the bind address (0 = off)"
    ),
    setting!(
        "proto-max-bulk-len",
        "536870912",
        Kind::Bytes,
        true,
        "Longest bulk string a client may send"
    ),
    setting!(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Bytes,
        true,
        "Most bytes buffered for one client's unparsed requests"
    ),
    setting!(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::BufferLimits,
        true,
        "Output buffer limits, `<class> <hard> <soft> <soft-seconds>` per class; a subscriber over the pubsub limit is disconnected"
    ),
    setting!(
        "maxmemory",
        "0",
        Kind::Bytes,
        true,
        "Accepted for compatibility (no eviction: data lives on disk)"
    ),
    setting!(
        "maxmemory-policy",
        "noeviction",
        Kind::Enum(&[
            "noeviction",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl"
        ]),
        true,
        "Accepted for compatibility (keys are never evicted)"
    ),
    setting!(
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        true,
        "Log level"
    ),
    setting!(
        "tcp-keepalive",
        "300",
        int(0, i32::MAX as i64),
        true,
        "Seconds of idleness before TCP keepalive probes a client (0 = off); applies to new clients"
    ),
    setting!(
        "hz",
        "10",
        int(1, 500),
        true,
        "Accepted for compatibility (the expiry cycle runs every 100 ms)"
    ),
    setting!(
        "protected-mode",
        "yes",
        Kind::Bool,
        true,
        "While the default user has no password, refuse clients that are not on the loopback interface"
    ),
    setting!(
        "daemonize",
        "no",
        Kind::Enum(&["no"]),
        false,
        "Always no: run under a supervisor"
    ),
    setting!(
        "cluster-enabled",
        "no",
        Kind::Enum(&["no", "yes", "emulated"]),
        false,
        "Cluster mode: no; yes (serve the slots of the map pushed by `shard-server cluster`, kept in <dir>/SLOTMAP); emulated (one node owning every slot)"
    ),
    setting!(
        "io-threads",
        "1",
        int(1, 128),
        false,
        "Accepted for compatibility (every core does its own I/O)"
    ),
    setting!(
        "lazyfree-lazy-user-del",
        "no",
        Kind::Bool,
        true,
        "Accepted for compatibility"
    ),
    setting!(
        "lazyfree-lazy-user-flush",
        "no",
        Kind::Bool,
        true,
        "Accepted for compatibility"
    ),
    setting!(
        "notify-keyspace-events",
        "",
        Kind::Text,
        true,
        "Accepted and kept (keyspace notifications are not sent yet)"
    ),
    setting!(
        "slowlog-log-slower-than",
        "10000",
        int(-1, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "slowlog-max-len",
        "128",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "latency-monitor-threshold",
        "0",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "hash-max-listpack-entries",
        "128",
        int(0, i64::MAX),
        true,
        "Accepted and kept (encoding tuning has no effect here)"
    ),
    setting!(
        "hash-max-listpack-value",
        "64",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "hash-max-ziplist-entries",
        "128",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "hash-max-ziplist-value",
        "64",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "list-max-listpack-size",
        "-2",
        int(i64::MIN, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "list-max-ziplist-size",
        "-2",
        int(i64::MIN, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "list-compress-depth",
        "0",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "set-max-intset-entries",
        "512",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "set-max-listpack-entries",
        "128",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "set-max-listpack-value",
        "64",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "zset-max-listpack-entries",
        "128",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "zset-max-listpack-value",
        "64",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "zset-max-ziplist-entries",
        "128",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "zset-max-ziplist-value",
        "64",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "stream-node-max-bytes",
        "4096",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "stream-node-max-entries",
        "100",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "activerehashing",
        "yes",
        Kind::Bool,
        true,
        "Accepted and kept"
    ),
    setting!(
        "lua-time-limit",
        "5000",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "busy-reply-threshold",
        "5000",
        int(0, i64::MAX),
        true,
        "Accepted and kept"
    ),
    setting!(
        "maxmemory-samples",
        "5",
        int(1, 64),
        true,
        "Accepted and kept"
    ),
    setting!(
        "backup-dir",
        "",
        Kind::Text,
        true,
        "Where BGSAVE writes its backups, one directory each (empty: <dir>/backup); on the data directory's file system (tables are hard-linked)"
    ),
    setting!(
        "restore",
        "",
        Kind::Text,
        false,
        "At start, first copy this BGSAVE backup into `dir`, which must be new or empty"
    ),
    setting!(
        "appendfilename",
        "appendonly.aof",
        Kind::Text,
        false,
        "Accepted for compatibility (the WAL lives in each partition)"
    ),
    setting!(
        "dbfilename",
        "dump.rdb",
        Kind::Text,
        true,
        "Accepted for compatibility"
    ),
    setting!(
        "plugins",
        "",
        Kind::Text,
        false,
        "Plugin files (WASM or native) loaded at start, space separated"
    ),
    setting!(
        "plugin-trusted-keys",
        "",
        Kind::Text,
        false,
        "Ed25519 public keys (hex) whose plugin signatures are accepted, space separated"
    ),
    setting!(
        "plugin-allow-unsigned",
        "no",
        Kind::Bool,
        false,
        "Load plugins without a valid signature (unsigned or tampered)"
    ),
    setting!(
        "plugin-timeout-ms",
        "5",
        int(1, 60_000),
        false,
        "Deadline of one WASM plugin call, unless its CONFIG timeout-ms says otherwise"
    ),
    setting!(
        "plugin-memory-limit",
        "16mb",
        Kind::Bytes,
        false,
        "Memory cap of one WASM plugin instance, unless its CONFIG memory-limit says otherwise"
    ),
    setting!(
        "plugin-max-collection-elements",
        "100000",
        int(1, 100_000_000),
        false,
        "Most elements of a collection a plugin call may declare (loaded whole); a larger one fails the call before it runs"
    ),
    setting!(
        "plugin-max-write-bytes",
        "64mb",
        Kind::Bytes,
        false,
        "Most bytes (keys, fields, members, values) the writes of one plugin call may add up to"
    ),
    setting!(
        "plugin-max-snapshot-bytes",
        "64mb",
        Kind::Bytes,
        false,
        "Most bytes (fields, members, values) of the collections one plugin call may load; a call past it fails before it runs"
    ),
];

/// The definition of `name` (exact, lower-case).
pub fn find(name: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// Checks `value` for `def` and returns its canonical form (byte sizes as
/// a number of bytes, booleans as yes/no), or why it is refused.
pub fn canonical(def: &SettingDef, value: &str) -> Result<String, String> {
    canonical_over(def, value, def.default)
}

/// [`canonical`] for a setting whose value is now `current`: a partial
/// `client-output-buffer-limit` keeps the classes it does not name, as
/// Redis' CONFIG SET does.
pub fn canonical_over(def: &SettingDef, value: &str, current: &str) -> Result<String, String> {
    match def.kind {
        Kind::Int { min, max } => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("'{value}' is not an integer"))?;
            if n < min || n > max {
                return Err(format!("{n} is out of range ({min}..={max})"));
            }
            Ok(n.to_string())
        }
        Kind::Bytes => parse_bytes(value)
            .map(|n| n.to_string())
            .ok_or_else(|| format!("'{value}' is not a size (e.g. 512mb, 64k, 1048576)")),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok("yes".into()),
            "no" | "false" => Ok("no".into()),
            _ => Err(format!("'{value}' is not yes or no")),
        },
        Kind::Enum(words) => {
            let v = value.to_ascii_lowercase();
            if words.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!("'{value}' is not one of: {}", words.join(", ")))
            }
        }
        Kind::Text => Ok(value.to_string()),
        Kind::Cores => {
            let v = value.trim().to_ascii_lowercase();
            if v == "all" {
                return Ok(v);
            }
            match v.parse::<u16>() {
                Ok(n) if n >= 1 => Ok(n.to_string()),
                _ => Err(format!(
                    "'{value}' is not `all` or a core count of at least 1"
                )),
            }
        }
        Kind::BufferLimits => {
            let mut limits = buffer_limits(current).unwrap_or_default();
            set_buffer_limits(&mut limits, value)?;
            Ok(limits
                .iter()
                .zip(BUFFER_LIMIT_CLASSES)
                .map(|(l, class)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds))
                .collect::<Vec<_>>()
                .join(" "))
        }
    }
}

/// The limits of a canonical `client-output-buffer-limit` value, in the
/// order of [`BUFFER_LIMIT_CLASSES`].
pub fn buffer_limits(value: &str) -> Option<[BufferLimit; 3]> {
    let mut limits = [BufferLimit::default(); 3];
    set_buffer_limits(&mut limits, value).ok()?;
    Some(limits)
}

/// Redis' `updateClientOutputBufferLimit`: checks every group before it
/// changes any, with Redis' reasons.
fn set_buffer_limits(limits: &mut [BufferLimit; 3], value: &str) -> Result<(), String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut next = *limits;
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_bytes(group[1]);
        let soft = parse_bytes(group[2]);
        let seconds = group[3].parse::<u64>().ok();
        let (Some(hard), Some(soft), Some(soft_seconds)) = (hard, soft, seconds) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        next[class] = BufferLimit {
            hard,
            soft,
            soft_seconds,
        };
    }
    *limits = next;
    Ok(())
}

/// Redis' memory units: `b`, `k`/`kb` (1000 / 1024), `m`/`mb`, `g`/`gb`.
pub fn parse_bytes(value: &str) -> Option<u64> {
    let v = value.trim().to_ascii_lowercase();
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(digits_end);
    let n: u64 = num.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid_and_canonical() {
        for def in SETTINGS {
            let c = canonical(def, def.default).unwrap_or_else(|e| panic!("{}: {e}", def.name));
            if def.kind != Kind::Bytes {
                assert_eq!(c, def.default, "{}", def.name);
            }
        }
        let mut names: Vec<_> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len(), "duplicate setting names");
    }

    #[test]
    fn sizes_use_redis_units() {
        assert_eq!(parse_bytes("1gb"), Some(1 << 30));
        assert_eq!(parse_bytes("512mb"), Some(512 << 20));
        assert_eq!(parse_bytes("1k"), Some(1000));
        assert_eq!(parse_bytes("1KB"), Some(1024));
        assert_eq!(parse_bytes("77"), Some(77));
        assert_eq!(parse_bytes("1tb"), None);
        assert_eq!(parse_bytes("-1"), None);
    }

    #[test]
    fn buffer_limits_replace_only_the_classes_given() {
        let def = find("client-output-buffer-limit").unwrap();
        let v = canonical_over(def, "PUBSUB 1mb 512kb 10", def.default).unwrap();
        assert_eq!(
            v,
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        );
        let v = canonical_over(def, "replica 1 2 3", &v).unwrap();
        assert_eq!(v, "normal 0 0 0 slave 1 2 3 pubsub 1048576 524288 10");
        assert_eq!(canonical_over(def, "", &v).unwrap(), v);
        assert_eq!(
            buffer_limits(&v).unwrap()[2],
            BufferLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 10
            }
        );
        for (bad, why) in [
            ("pubsub 1 2", "Wrong number"),
            ("master 1 2 3", "Invalid client class"),
            ("pubsub x 2 3", "Error in hard"),
            ("pubsub 1 2 -3", "Error in hard"),
            ("pubsub 1 2 3 normal 1 2", "Wrong number"),
        ] {
            let e = canonical_over(def, bad, def.default).unwrap_err();
            assert!(e.starts_with(why), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_values_say_why() {
        let port = find("port").unwrap();
        assert!(canonical(port, "70000")
            .unwrap_err()
            .contains("out of range"));
        assert!(canonical(port, "x").unwrap_err().contains("not an integer"));
        let fsync = find("appendfsync").unwrap();
        assert_eq!(canonical(fsync, "ALWAYS").unwrap(), "always");
        assert!(canonical(fsync, "sometimes")
            .unwrap_err()
            .contains("always, everysec, no"));
    }
}
