//! Server settings: defaults < TOML file (`--config`) < `FRYS_*`
//! environment variables < command-line flags, all from one table
//! ([`SETTINGS`]). A bad value is refused at start with the setting's name
//! and why.
//!
//! The running server keeps one [`Config`] behind a process-wide `RwLock`
//! ([`live`], [`set_live`]); it is read on cold paths only (AUTH, new
//! connections, CONFIG GET), never per command.

mod settings;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

pub use settings::{
    buffer_limits, canonical, canonical_over, find, parse_bytes, BufferLimit, Kind, SettingDef,
    BUFFER_LIMIT_CLASSES, SETTINGS,
};

/// Every setting's current (canonical) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
}

/// Why the settings could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// A value was refused.
    Invalid {
        /// The setting.
        name: String,
        /// Where the value came from.
        source: &'static str,
        /// Why.
        reason: String,
    },
    /// The TOML file could not be read or parsed.
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The command line was wrong (clap's message, or --help/--version).
    Cli(clap::Error),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                name,
                source,
                reason,
            } => write!(f, "setting '{name}' ({source}): {reason}"),
            ConfigError::File { path, reason } => {
                write!(f, "config file {}: {reason}", path.display())
            }
            ConfigError::Cli(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Default for Config {
    fn default() -> Self {
        let values = SETTINGS
            .iter()
            .map(|d| {
                let v = canonical(d, d.default).unwrap_or_else(|_| d.default.to_string());
                (d.name, v)
            })
            .collect();
        Config { values }
    }
}

/// The environment variable of a setting: `FRYS_` + upper case, `-` → `_`.
pub fn env_name(setting: &str) -> String {
    format!("FRYS_{}", setting.to_ascii_uppercase().replace('-', "_"))
}

impl Config {
    /// Loads the layers from a command line (`args[0]` is the program) and
    /// an environment lookup.
    pub fn load<I, T>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = cli().try_get_matches_from(args).map_err(ConfigError::Cli)?;
        let mut config = Config::default();
        let file = matches
            .get_one::<String>("config")
            .cloned()
            .or_else(|| env("FRYS_CONFIG"));
        if let Some(path) = file {
            config.apply_toml(PathBuf::from(path))?;
        }
        for def in SETTINGS {
            if let Some(v) = env(&env_name(def.name)) {
                config.set_from(def, &v, "environment")?;
            }
        }
        for def in SETTINGS {
            if let Some(v) = matches.get_one::<String>(def.name) {
                config.set_from(def, v, "command line")?;
            }
        }
        Ok(config)
    }

    fn apply_toml(&mut self, path: PathBuf) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        for (key, value) in table {
            let def = find(&key).ok_or_else(|| ConfigError::File {
                path: path.clone(),
                reason: format!("unknown setting '{key}'"),
            })?;
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => if b { "yes" } else { "no" }.to_string(),
                other => {
                    return Err(ConfigError::Invalid {
                        name: key,
                        source: "config file",
                        reason: format!(
                            "expected a string, integer or boolean, got a {}",
                            other.type_str()
                        ),
                    })
                }
            };
            self.set_from(def, &text, "config file")?;
        }
        Ok(())
    }

    fn set_from(
        &mut self,
        def: &'static SettingDef,
        value: &str,
        source: &'static str,
    ) -> Result<(), ConfigError> {
        let current = self.get(def.name).unwrap_or(def.default);
        let v = canonical_over(def, value, current).map_err(|reason| ConfigError::Invalid {
            name: def.name.to_string(),
            source,
            reason,
        })?;
        self.values.insert(def.name, v);
        Ok(())
    }

    /// Sets `name` (CONFIG SET): refused for unknown or start-only settings.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let def = find(name).ok_or_else(|| "unknown setting".to_string())?;
        if !def.runtime {
            return Err("can't set immutable config".to_string());
        }
        let v = canonical_over(def, value, self.get(def.name).unwrap_or(def.default))?;
        self.values.insert(def.name, v);
        Ok(())
    }

    /// The value of `name` (canonical text).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|s| s.as_str())
    }

    /// Every setting and value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }

    fn int(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// `port`.
    pub fn port(&self) -> u16 {
        self.int("port") as u16
    }
    /// `tls-port` (0: no TLS).
    pub fn tls_port(&self) -> u16 {
        self.int("tls-port") as u16
    }
    /// `admin-port`.
    pub fn admin_port(&self) -> u16 {
        self.int("admin-port") as u16
    }
    /// `bind`, split.
    pub fn bind(&self) -> Vec<String> {
        self.get("bind")
            .unwrap_or("127.0.0.1")
            .split_whitespace()
            .map(|s| s.trim_start_matches('-').to_string())
            .collect()
    }
    /// `dir`.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.get("dir").unwrap_or("./data"))
    }
    /// `cores`: `None` for all.
    pub fn cores(&self) -> Option<usize> {
        self.get("cores").and_then(|v| v.parse().ok())
    }
    /// `idle-poll-us`: `None` for the runtime's default.
    pub fn idle_poll(&self) -> Option<std::time::Duration> {
        u64::try_from(self.int("idle-poll-us"))
            .ok()
            .map(std::time::Duration::from_micros)
    }
    /// `driver`: `auto` lets the runtime choose (and `FRYS_DRIVER` decide).
    pub fn driver(&self) -> frys_runtime::DriverKind {
        self.get("driver")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    }
    /// `partitions`.
    pub fn partitions(&self) -> u16 {
        self.int("partitions") as u16
    }
    /// `databases`.
    pub fn databases(&self) -> u32 {
        self.int("databases") as u32
    }
    /// `maxclients`.
    pub fn maxclients(&self) -> usize {
        self.int("maxclients") as usize
    }
    /// `requirepass` (`None` when empty).
    pub fn requirepass(&self) -> Option<&str> {
        self.get("requirepass").filter(|p| !p.is_empty())
    }
    /// `core-memory` in bytes.
    pub fn core_memory(&self) -> u64 {
        self.int("core-memory") as u64
    }
    /// `timeout` in seconds (0 = never).
    pub fn timeout(&self) -> u64 {
        self.int("timeout") as u64
    }
    /// `appendfsync` as a storage policy.
    pub fn sync_policy(&self) -> frys_storage::SyncPolicy {
        match self.get("appendfsync") {
            Some("always") => frys_storage::SyncPolicy::Always,
            Some("no") => frys_storage::SyncPolicy::No,
            _ => frys_storage::SyncPolicy::EverySec,
        }
    }
    /// The `pubsub` class of `client-output-buffer-limit`.
    pub fn pubsub_output_limit(&self) -> BufferLimit {
        self.get("client-output-buffer-limit")
            .and_then(buffer_limits)
            .map(|l| l[2])
            .unwrap_or_default()
    }
    /// The protocol limits.
    pub fn limits(&self) -> crate::protocol::Limits {
        crate::protocol::Limits {
            max_bulk_len: self.int("proto-max-bulk-len") as usize,
            query_buffer_limit: self.int("client-query-buffer-limit") as usize,
            ..crate::protocol::Limits::default()
        }
    }
}

fn cli() -> clap::Command {
    let mut cmd = clap::Command::new("shard-server")
        .about("Frys shard server: a persistent Redis-protocol store, one LSM partition set per core")
        .long_about(
            "Frys shard server: a persistent Redis-protocol store, one LSM partition set per core.\n\n\
             Every setting is also a FRYS_<NAME> environment variable (FRYS_PORT=6380) and a key of the \
             TOML file given with --config; command-line flags win over the environment, which wins over \
             the file, which wins over the defaults.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            clap::Arg::new("config")
                .long("config")
                .value_name("FILE")
                .help("TOML file of settings (keys are the setting names below)"),
        );
    for def in SETTINGS {
        let help = if def.default.is_empty() {
            def.help.to_string()
        } else {
            format!("{} [default: {}]", def.help, def.default)
        };
        cmd = cmd.arg(
            clap::Arg::new(def.name)
                .long(def.name)
                .value_name("VALUE")
                .allow_hyphen_values(true)
                .help(help),
        );
    }
    cmd
}

static LIVE: RwLock<Option<Config>> = RwLock::new(None);
/// Bumped on every change of the live settings, so a core may cache a
/// value it needs on a hot path and re-read it only when this changed.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Installs the running server's settings.
pub fn set_live(config: Config) {
    *LIVE.write().unwrap_or_else(|e| e.into_inner()) = Some(config);
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Changes with every change of the live settings.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Reads the running server's settings.
pub fn live<R>(f: impl FnOnce(&Config) -> R) -> R {
    let guard = LIVE.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(c) => f(c),
        None => f(&Config::default()),
    }
}

/// Changes the running server's settings.
pub fn update_live<R>(f: impl FnOnce(&mut Config) -> R) -> R {
    let mut guard = LIVE.write().unwrap_or_else(|e| e.into_inner());
    let r = f(guard.get_or_insert_with(Config::default));
    GENERATION.fetch_add(1, Ordering::Release);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_run_out_of_the_box() {
        let c = Config::load(["shard-server"], no_env).unwrap();
        assert_eq!(c.port(), 6379);
        assert_eq!(c.bind(), vec!["127.0.0.1".to_string()]);
        assert_eq!(c.dir(), PathBuf::from("./data"));
        assert_eq!(c.cores(), None);
        assert_eq!(c.get("appendfsync"), Some("everysec"));
    }

    #[test]
    fn layers_apply_file_then_env_then_cli() {
        let dir = std::env::temp_dir().join(format!("frys-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("frys.toml");
        std::fs::write(
            &file,
            "port = 7001\ndatabases = 4\nrequirepass = \"file\"\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "FRYS_DATABASES" => Some("8".to_string()),
            "FRYS_REQUIREPASS" => Some("env".to_string()),
            _ => None,
        };
        let c = Config::load(
            [
                "shard-server",
                "--config",
                file.to_str().unwrap(),
                "--requirepass",
                "cli",
            ],
            env,
        )
        .unwrap();
        assert_eq!(c.port(), 7001);
        assert_eq!(c.databases(), 8);
        assert_eq!(c.requirepass(), Some("cli"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_value_names_the_setting_and_the_reason() {
        let err = Config::load(["shard-server", "--port", "99999"], no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'port'") && err.contains("out of range"),
            "{err}"
        );
        let err = Config::load(["shard-server"], |n| {
            (n == "FRYS_APPENDFSYNC").then(|| "maybe".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("appendfsync") && err.contains("environment"),
            "{err}"
        );
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../../../README.md");
        for def in SETTINGS {
            let row = format!("| `{}` | `{}` |", def.name, def.default);
            assert!(
                readme.contains(&row),
                "README.md lacks the row of '{}': {row}",
                def.name
            );
        }
    }

    #[test]
    fn config_set_refuses_start_only_settings() {
        let mut c = Config::default();
        assert!(c.set("maxclients", "5").is_ok());
        assert_eq!(c.maxclients(), 5);
        assert!(c.set("port", "1").is_err());
        assert!(c.set("nope", "1").is_err());
    }
}
