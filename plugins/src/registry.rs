//! The process-wide table of loaded plugins and their commands, and the
//! per-core instances that run them.
//!
//! The table is behind one `RwLock`, read once per plugin call (a
//! case-insensitive name lookup) and written only by PLUGIN LOAD / UNLOAD
//! / RELOAD. Each [`Plugin`] has a generation number; a core keeps its
//! WASM instance per generation, so RELOAD swaps the table entry and each
//! core makes an instance of the new version at its next call: calls
//! already running finish on the old one, none fails. Instances of
//! generations no longer in the table are dropped when a core makes a new
//! one, so reloads do not pile them up.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::call::{Call, Ending, Outcome, OutcomeKind};
use crate::contract::PluginInfo;
use crate::native::NativePlugin;
use crate::wasm::{self, cache::Origin, Sandbox, WasmInstance, WasmModule};

/// How plugins are loaded.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// Where compiled modules are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Public keys whose signatures are accepted.
    pub trusted_keys: Vec<ed25519_dalek::VerifyingKey>,
    /// Load files without a valid signature.
    pub allow_unsigned: bool,
    /// The sandbox of WASM plugins.
    pub sandbox: Sandbox,
}

/// What runs a plugin's code.
pub enum Code {
    /// A sandboxed module.
    Wasm(WasmModule),
    /// A trusted library.
    Native(NativePlugin),
}

/// Live counters of one command.
#[derive(Default, Debug)]
pub struct CommandStats {
    /// Calls.
    pub calls: AtomicU64,
    /// Calls that answered an error (traps and timeouts included).
    pub errors: AtomicU64,
    /// Traps (and out-of-memory, native panics).
    pub traps: AtomicU64,
    /// Calls stopped at their deadline.
    pub timeouts: AtomicU64,
    /// Microseconds spent in the plugin's code.
    pub usec: AtomicU64,
}

/// One loaded plugin.
pub struct Plugin {
    /// What it declared.
    pub info: PluginInfo,
    /// The file it came from.
    pub path: PathBuf,
    /// What runs it.
    pub code: Code,
    /// Unique per load (RELOAD makes a new one).
    pub generation: u64,
    /// One per command, in `info.commands` order.
    pub stats: Vec<CommandStats>,
    /// How long loading took.
    pub load_time: Duration,
    /// WASM: compiled now or read from the cache (`None` for native).
    pub origin: Option<Origin>,
    /// The key that signed it (hex), `None` when loaded unsigned.
    pub signed_by: Option<String>,
    /// The arguments it was loaded with (the server's CONFIG pairs),
    /// reused by RELOAD and shown by MODULE LIST.
    pub args: Vec<String>,
}

impl Plugin {
    /// `"wasm"` or `"native"`.
    pub fn kind(&self) -> &'static str {
        match self.code {
            Code::Wasm(_) => "wasm",
            Code::Native(_) => "native",
        }
    }

    /// Runs command `cmd` on `call` on this core and counts it.
    pub fn run(&self, cmd: usize, call: Call) -> Outcome {
        let started = Instant::now();
        let (call, ending) = match &self.code {
            Code::Native(n) => n.call(cmd, call),
            Code::Wasm(m) => self.run_wasm(m, cmd, call),
        };
        let outcome = call.finish(&self.info.name, ending);
        if let Some(s) = self.stats.get(cmd) {
            s.calls.fetch_add(1, Ordering::Relaxed);
            s.usec
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            let kind = match outcome.kind {
                OutcomeKind::Ok => None,
                OutcomeKind::Error => Some(None),
                OutcomeKind::Trap => Some(Some(&s.traps)),
                OutcomeKind::Timeout => Some(Some(&s.timeouts)),
            };
            if let Some(specific) = kind {
                s.errors.fetch_add(1, Ordering::Relaxed);
                if let Some(c) = specific {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        outcome
    }

    fn run_wasm(&self, module: &WasmModule, cmd: usize, call: Call) -> (Call, Ending) {
        thread_local! {
            static INSTANCES: RefCell<HashMap<u64, WasmInstance>> = RefCell::new(HashMap::new());
        }
        INSTANCES.with(|cell| {
            let mut instances = cell.borrow_mut();
            if !instances.contains_key(&self.generation) {
                instances.retain(|generation, _| registry().is_live(*generation));
                match WasmInstance::for_call(module) {
                    Ok(i) => {
                        instances.insert(self.generation, i);
                    }
                    Err(e) => return (call, Ending::Trapped(e)),
                }
            }
            let Some(instance) = instances.get_mut(&self.generation) else {
                return (call, Ending::Trapped("no instance".into()));
            };
            let (call, ending) = instance.call(cmd, call);
            if !matches!(ending, Ending::Returned | Ending::Failed(_)) {
                // A trap leaves the instance in an unknown state.
                instances.remove(&self.generation);
            }
            (call, ending)
        })
    }
}

/// Loads the plugin file at `path`: checks its signature, then loads it
/// as WASM (by its `\0asm` magic) or as a native library.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Plugin, String> {
    let started = Instant::now();
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let signed_by = match crate::sign::verify(path, &data, &options.trusted_keys) {
        Ok(i) => Some(crate::wasm::cache::hex(options.trusted_keys[i].as_bytes())),
        Err(_) if options.allow_unsigned => None,
        Err(e) => return Err(e),
    };
    let (code, info, origin) = if data.starts_with(b"\0asm") {
        let loaded = wasm::load(&data, options.cache_dir.as_deref(), options.sandbox)?;
        (Code::Wasm(loaded.module), loaded.info, Some(loaded.origin))
    } else {
        let (native, info) = crate::native::load(&data)?;
        (Code::Native(native), info, None)
    };
    static GENERATION: AtomicU64 = AtomicU64::new(1);
    let stats = info
        .commands
        .iter()
        .map(|_| CommandStats::default())
        .collect();
    Ok(Plugin {
        info,
        path: path.to_path_buf(),
        code,
        generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        stats,
        load_time: started.elapsed(),
        origin,
        signed_by,
        args: Vec::new(),
    })
}

#[derive(Default)]
struct Tables {
    plugins: BTreeMap<String, Arc<Plugin>>,
    commands: HashMap<String, (Arc<Plugin>, usize)>,
}

/// The loaded plugins.
#[derive(Default)]
pub struct Registry {
    tables: RwLock<Tables>,
}

/// The process's registry.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

impl Registry {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `plugin`; refused if its name is loaded or one of its commands
    /// exists (`taken` says whether a built-in command has the name).
    /// With `replacing`, the plugin of that name is replaced (RELOAD).
    pub fn insert(
        &self,
        plugin: Plugin,
        replacing: bool,
        taken: impl Fn(&str) -> bool,
    ) -> Result<Arc<Plugin>, String> {
        let mut t = self.write();
        let name = plugin.info.name.clone();
        if replacing != t.plugins.contains_key(&name) {
            return Err(if replacing {
                format!("ERR no plugin named '{name}' is loaded")
            } else {
                format!("ERR a plugin named '{name}' is already loaded")
            });
        }
        for c in &plugin.info.commands {
            let owner = t.commands.get(&c.name).map(|(p, _)| p.info.name.clone());
            if taken(&c.name) || owner.is_some_and(|o| o != name) {
                return Err(format!(
                    "ERR plugin '{name}': command '{}' already exists",
                    c.name
                ));
            }
        }
        let plugin = Arc::new(plugin);
        t.commands.retain(|_, (p, _)| p.info.name != name);
        for (i, c) in plugin.info.commands.iter().enumerate() {
            t.commands.insert(c.name.clone(), (plugin.clone(), i));
        }
        t.plugins.insert(name, plugin.clone());
        Ok(plugin)
    }

    /// Removes the plugin `name` and its commands.
    pub fn remove(&self, name: &str) -> Result<Arc<Plugin>, String> {
        let mut t = self.write();
        let name = name.to_ascii_lowercase();
        let plugin = t
            .plugins
            .remove(&name)
            .ok_or_else(|| format!("ERR no plugin named '{name}' is loaded"))?;
        t.commands.retain(|_, (p, _)| p.info.name != name);
        Ok(plugin)
    }

    /// The plugin named `name`.
    pub fn plugin(&self, name: &str) -> Option<Arc<Plugin>> {
        self.read().plugins.get(&name.to_ascii_lowercase()).cloned()
    }

    /// The plugin and command index of command `name` (any case).
    pub fn command(&self, name: &[u8]) -> Option<(Arc<Plugin>, usize)> {
        if name.len() > crate::contract::MAX_NAME_LEN {
            return None;
        }
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        self.read().commands.get(&lower).cloned()
    }

    /// Every loaded plugin, by name.
    pub fn list(&self) -> Vec<Arc<Plugin>> {
        self.read().plugins.values().cloned().collect()
    }

    /// Whether a plugin of `generation` is loaded.
    pub fn is_live(&self, generation: u64) -> bool {
        self.read()
            .plugins
            .values()
            .any(|p| p.generation == generation)
    }
}
