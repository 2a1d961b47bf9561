//! Loading plugins: the settings' options, `PLUGIN LOAD path [CONFIG
//! name value ...]`, and the `plugins` setting at start.
//!
//! A plugin's CONFIG may set `timeout-ms` and `memory-limit` (its WASM
//! sandbox); any other name is refused. Compiled modules are cached in
//! `<dir>/plugin-cache`.

use std::path::Path;
use std::sync::Arc;

use frys_plugins::{registry, LoadOptions, Plugin};

use crate::config::{self, Config};

/// The load options the settings give.
pub fn options(config: &Config) -> Result<LoadOptions, String> {
    let mut trusted = Vec::new();
    for key in config
        .get("plugin-trusted-keys")
        .unwrap_or("")
        .split_whitespace()
    {
        trusted.push(frys_plugins::sign::parse_public_key(key)?);
    }
    let mut opts = LoadOptions {
        cache_dir: Some(config.dir().join("plugin-cache")),
        trusted_keys: trusted,
        allow_unsigned: config.get("plugin-allow-unsigned") == Some("yes"),
        ..LoadOptions::default()
    };
    let num = |name| config.get(name).and_then(|v| v.parse::<u64>().ok());
    if let Some(ms) = num("plugin-timeout-ms") {
        opts.sandbox.deadline_ms = ms;
    }
    if let Some(bytes) = num("plugin-memory-limit") {
        opts.sandbox.memory_cap = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    Ok(opts)
}

/// Applies a plugin's `CONFIG name value ...` pairs to `opts`.
fn apply_config(opts: &mut LoadOptions, pairs: &[&[u8]]) -> Result<(), String> {
    if !pairs.len().is_multiple_of(2) {
        return Err(crate::errors::SYNTAX.to_string());
    }
    for pair in pairs.chunks(2) {
        let (name, value) = (pair[0], String::from_utf8_lossy(pair[1]));
        if name.eq_ignore_ascii_case(b"timeout-ms") {
            opts.sandbox.deadline_ms = value
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=60_000).contains(ms))
                .ok_or("ERR timeout-ms must be an integer from 1 to 60000")?;
        } else if name.eq_ignore_ascii_case(b"memory-limit") {
            let bytes = config::parse_bytes(&value)
                .filter(|b| *b >= 64 << 10)
                .ok_or("ERR memory-limit must be a size of at least 64kb")?;
            opts.sandbox.memory_cap = usize::try_from(bytes).unwrap_or(usize::MAX);
        } else {
            return Err(format!(
                "ERR unknown plugin config '{}' (timeout-ms, memory-limit)",
                String::from_utf8_lossy(name)
            ));
        }
    }
    Ok(())
}

/// Loads the plugin at `path` with the live settings and its CONFIG
/// pairs; with `replacing`, the file must declare that plugin, and it
/// replaces the loaded one (RELOAD).
pub fn load_file(
    path: &Path,
    pairs: &[&[u8]],
    replacing: Option<&str>,
) -> Result<Arc<Plugin>, String> {
    let mut opts = config::live(options)?;
    apply_config(&mut opts, pairs)?;
    let mut plugin = frys_plugins::registry::load(path, &opts).map_err(|e| {
        if e.starts_with("ERR ") {
            e
        } else {
            format!("ERR plugin {}: {e}", path.display())
        }
    })?;
    plugin.args = pairs
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if let Some(name) = replacing.filter(|n| *n != plugin.info.name) {
        return Err(format!(
            "ERR {} now declares plugin '{}', not '{name}'",
            path.display(),
            plugin.info.name
        ));
    }
    tracing::info!(
        plugin = %plugin.info.name,
        path = %path.display(),
        kind = plugin.kind(),
        origin = ?plugin.origin,
        load_us = plugin.load_time.as_micros() as u64,
        "plugin loaded"
    );
    registry().insert(plugin, replacing.is_some(), |name| {
        crate::command::lookup(name.as_bytes()).is_some()
    })
}

/// Loads the plugins of the `plugins` setting; the first failure stops
/// the start.
pub fn load_configured(config: &Config) -> Result<(), String> {
    options(config)?;
    let num = |name, default| {
        config
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    super::call::set_limits(
        num("plugin-max-collection-elements", 100_000),
        num(
            "plugin-max-snapshot-bytes",
            super::snapshot::DEFAULT_MAX_BYTES,
        ),
        num(
            "plugin-max-write-bytes",
            frys_plugins::call::DEFAULT_MAX_WRITE_BYTES,
        ),
    );
    for path in config.get("plugins").unwrap_or("").split_whitespace() {
        load_file(Path::new(path), &[], None).map_err(|e| format!("setting 'plugins': {e}"))?;
    }
    Ok(())
}
