//! WASM plugins: untrusted code in a wasmtime sandbox.
//!
//! One [`engine`](engine::engine) per process; a module is compiled once
//! (or read from the disk cache, [`cache`]) and shared; each core makes its
//! own [`WasmInstance`] of it, so a call never crosses cores. The sandbox:
//! no WASI and no import but the ABI's ([`host`]), a per-call deadline
//! (epoch interruption), a memory cap and table / instance limits
//! (`ResourceLimiter`). A trap poisons the instance: the caller drops it
//! and the next call gets a fresh one.

pub mod cache;
pub mod engine;
pub mod host;

use std::path::Path;
use std::sync::OnceLock;

use wasmtime::{Linker, Module, Store, Trap, TypedFunc};

use crate::call::{Call, Ending};
use crate::contract::PluginInfo;
use host::{Declaration, HostState, Limits};

/// The newest ABI version this host implements; it also runs modules of
/// every older version (`frys_abi_version`'s answer), as each version only
/// adds imports.
pub const ABI_VERSION: i32 = 3;

/// Deadline of instantiation, `frys_abi_version` and `frys_init`: they
/// run once per core and version, and instantiating on a loaded machine
/// may take longer than a call's few milliseconds.
const SETUP_DEADLINE_MS: u64 = 2_000;
/// Least setup deadline of an instance made on a client's call.
const CALL_SETUP_MIN_MS: u64 = 50;

/// A module's sandbox settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sandbox {
    /// Longest a call (or `frys_init`) may run, in milliseconds.
    pub deadline_ms: u64,
    /// Most bytes of linear memory per instance.
    pub memory_cap: usize,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            deadline_ms: 5,
            memory_cap: 16 << 20,
        }
    }
}

/// A compiled plugin module.
#[derive(Clone)]
pub struct WasmModule {
    module: Module,
    sandbox: Sandbox,
}

/// A loaded module and what it declared.
pub struct Loaded {
    /// The module.
    pub module: WasmModule,
    /// Its declaration.
    pub info: PluginInfo,
    /// Compiled now or read from the cache.
    pub origin: cache::Origin,
}

fn linker() -> Result<&'static Linker<HostState>, String> {
    static LINKER: OnceLock<Result<Linker<HostState>, String>> = OnceLock::new();
    LINKER
        .get_or_init(|| {
            let mut linker = Linker::new(engine::engine()?);
            host::define(&mut linker).map_err(|e| format!("plugin ABI: {e}"))?;
            Ok(linker)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Compiles (or reads from `cache_dir`) the module `wasm`, checks its ABI
/// version and runs its `frys_init` to learn its commands.
pub fn load(wasm: &[u8], cache_dir: Option<&Path>, sandbox: Sandbox) -> Result<Loaded, String> {
    let (module, origin) = cache::load(engine::engine()?, wasm, cache_dir)?;
    for import in module.imports() {
        if import.module() != "frys" {
            return Err(format!(
                "imports {}.{}: only the 'frys' ABI imports are available",
                import.module(),
                import.name()
            ));
        }
    }
    let module = WasmModule { module, sandbox };
    let mut instance = WasmInstance::new(&module)?;
    let info = instance.describe()?;
    Ok(Loaded {
        module,
        info,
        origin,
    })
}

/// One instance of a module, owned by one core.
pub struct WasmInstance {
    store: Store<HostState>,
    instance: wasmtime::Instance,
    call: TypedFunc<i32, i32>,
    sandbox: Sandbox,
    /// What `frys_abi_version` answered.
    abi_version: u32,
}

impl WasmInstance {
    /// A new instance of `module` with its limits, set up (instantiation
    /// and `frys_abi_version`) within the load-time deadline.
    pub fn new(module: &WasmModule) -> Result<WasmInstance, String> {
        WasmInstance::with_setup_deadline(module, SETUP_DEADLINE_MS)
    }

    /// A new instance made on a client's call (a core's first call, or the
    /// first after a trap): its setup gets a few times the call deadline,
    /// not the load-time one, so a module whose start-up spins cannot hold
    /// the core for seconds on every call.
    pub fn for_call(module: &WasmModule) -> Result<WasmInstance, String> {
        let deadline = module
            .sandbox
            .deadline_ms
            .saturating_mul(4)
            .max(CALL_SETUP_MIN_MS);
        WasmInstance::with_setup_deadline(module, deadline.min(SETUP_DEADLINE_MS))
    }

    fn with_setup_deadline(module: &WasmModule, deadline_ms: u64) -> Result<WasmInstance, String> {
        let state = HostState {
            call: None,
            declaring: None,
            limits: Limits {
                memory_cap: module.sandbox.memory_cap,
                exceeded: false,
            },
        };
        let mut store = Store::new(engine::engine()?, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(engine::deadline_ticks(deadline_ms));
        let instance = linker()?
            .instantiate(&mut store, &module.module)
            .map_err(|e| format!("cannot instantiate: {e:#}"))?;
        let version = instance
            .get_typed_func::<(), i32>(&mut store, "frys_abi_version")
            .map_err(|e| format!("no frys_abi_version export: {e}"))?
            .call(&mut store, ())
            .map_err(|e| format!("frys_abi_version trapped: {e:#}"))?;
        if !(1..=ABI_VERSION).contains(&version) {
            return Err(format!(
                "plugin ABI version {version}, this server supports versions 1 to {ABI_VERSION}"
            ));
        }
        let call = instance
            .get_typed_func::<i32, i32>(&mut store, "frys_call")
            .map_err(|e| format!("no frys_call(i32) -> i32 export: {e}"))?;
        Ok(WasmInstance {
            store,
            instance,
            call,
            sandbox: module.sandbox,
            // Checked to be in 1..=ABI_VERSION above.
            abi_version: version as u32,
        })
    }

    fn describe(&mut self) -> Result<PluginInfo, String> {
        let init = self
            .instance
            .get_typed_func::<(), ()>(&mut self.store, "frys_init")
            .map_err(|e| format!("no frys_init export: {e}"))?;
        self.store.data_mut().declaring = Some(Declaration::default());
        self.store
            .set_epoch_deadline(engine::deadline_ticks(SETUP_DEADLINE_MS));
        let ran = init.call(&mut self.store, ());
        let d = self.store.data_mut().declaring.take().unwrap_or_default();
        ran.map_err(|e| format!("frys_init failed: {e:#}"))?;
        if let Some(e) = d.error {
            return Err(e);
        }
        let (name, version) = d
            .plugin
            .ok_or_else(|| "frys_init did not call frys.plugin".to_string())?;
        let info = PluginInfo {
            name,
            version,
            abi_version: self.abi_version,
            commands: d.commands,
        };
        info.validate()?;
        Ok(info)
    }

    /// Runs command `cmd` on `call`; gives the call back with how the code
    /// ended. After anything but `Returned` / `Failed` the instance is
    /// poisoned and must be dropped.
    pub fn call(&mut self, cmd: usize, call: Call) -> (Call, Ending) {
        self.store.data_mut().call = Some(call);
        self.store
            .set_epoch_deadline(engine::deadline_ticks(self.sandbox.deadline_ms));
        let ran = self.call.call(&mut self.store, cmd as i32);
        let data = self.store.data_mut();
        let call = match data.call.take() {
            Some(c) => c,
            // Only host functions touch `call`, and they never take it.
            None => Call::new(Vec::new(), Vec::new(), 0),
        };
        let ending = match ran {
            Ok(0) => Ending::Returned,
            Ok(code) => Ending::Failed(code),
            Err(_) if data.limits.exceeded => Ending::OutOfMemory(data.limits.memory_cap as u64),
            Err(e) => match e.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => Ending::TimedOut(self.sandbox.deadline_ms),
                _ => Ending::Trapped(trap_text(&e)),
            },
        };
        (call, ending)
    }
}

/// A trap's cause in one line (without the wasm backtrace).
fn trap_text(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<Trap>() {
        Some(t) => t.to_string(),
        None => e.to_string(),
    }
}
