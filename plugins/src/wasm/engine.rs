//! The process's one wasmtime [`Engine`] and the epoch ticker that bounds
//! every call in time.
//!
//! The ticker thread increments the engine's epoch every
//! [`EPOCH_TICK`]; a call's deadline is a number of ticks, so a plugin is
//! stopped between its deadline and one tick after it.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine};

/// How often the epoch advances.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Deepest native stack a plugin may use.
const MAX_WASM_STACK: usize = 512 << 10;

/// The engine (created, with its ticker, on first use).
pub fn engine() -> Result<&'static Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.epoch_interruption(true);
            config.max_wasm_stack(MAX_WASM_STACK);
            let engine = Engine::new(&config).map_err(|e| format!("wasmtime engine: {e}"))?;
            let ticking = engine.clone();
            std::thread::Builder::new()
                .name("frys-plugin-epoch".into())
                .spawn(move || loop {
                    std::thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                })
                .map_err(|e| format!("cannot start the plugin epoch thread: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Epoch ticks for a deadline of `ms` milliseconds (one more than the
/// count, as the first tick may come at once).
pub fn deadline_ticks(ms: u64) -> u64 {
    let per_tick = EPOCH_TICK.as_millis().max(1) as u64;
    ms.div_ceil(per_tick).max(1) + 1
}
