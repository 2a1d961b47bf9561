//! Per plugin command counters in INFO (section `plugins`) and /metrics.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use frys_plugins::registry;

/// One command's counters: (plugin, command, [calls, errors, traps,
/// timeouts, usec]).
pub type CommandCounters = (String, String, [u64; 5]);

/// Every loaded plugin command's counters, by plugin then command.
pub fn counters() -> Vec<CommandCounters> {
    let mut out = Vec::new();
    for p in registry().list() {
        for (c, s) in p.info.commands.iter().zip(&p.stats) {
            let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            out.push((
                p.info.name.clone(),
                c.name.clone(),
                [
                    n(&s.calls),
                    n(&s.errors),
                    n(&s.traps),
                    n(&s.timeouts),
                    n(&s.usec),
                ],
            ));
        }
    }
    out
}

/// INFO's `# Plugins` section.
pub fn info_section() -> String {
    let mut out = String::from("# Plugins\r\n");
    for p in registry().list() {
        let code = match p.origin {
            Some(frys_plugins::wasm::cache::Origin::Cached) => "cached",
            Some(frys_plugins::wasm::cache::Origin::Compiled) => "compiled",
            None => "native",
        };
        let _ = write!(
            out,
            "plugin_{}:kind={},version={},commands={},code={code},load_us={}\r\n",
            p.info.name,
            p.kind(),
            p.info.version,
            p.info.commands.len(),
            p.load_time.as_micros()
        );
    }
    for (_, cmd, [calls, errors, traps, timeouts, usec]) in counters() {
        let per = if calls > 0 {
            usec as f64 / calls as f64
        } else {
            0.0
        };
        let _ = write!(
            out,
            "plugincmd_{cmd}:calls={calls},errors={errors},traps={traps},timeouts={timeouts},usec={usec},usec_per_call={per:.2}\r\n"
        );
    }
    out
}
