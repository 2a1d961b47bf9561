//! Compiled modules cached on disk by content hash, so a restart (or a
//! second load of the same file) does not compile again.
//!
//! An entry is `<sha256 of the wasm>-<engine compatibility hash>.cwasm`,
//! holding the sha256 of the serialized module followed by the module.
//! Entries are written to a temporary name and renamed, so a reader never
//! sees half an entry.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// How a module was obtained (for PLUGIN LIST and the load-time figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now (and stored, when there is a cache).
    Compiled,
    /// Read from the cache.
    Cached,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The module of `wasm`, from `dir`'s cache when it holds a valid entry,
/// else compiled (and stored in `dir`, if any).
pub fn load(engine: &Engine, wasm: &[u8], dir: Option<&Path>) -> Result<(Module, Origin), String> {
    let Some(dir) = dir else {
        return compile(engine, wasm).map(|m| (m, Origin::Compiled));
    };
    let path = entry_path(engine, wasm, dir);
    if let Some(module) = read_entry(engine, &path) {
        return Ok((module, Origin::Cached));
    }
    let module = compile(engine, wasm)?;
    if let Err(e) = write_entry(&module, dir, &path) {
        tracing::warn!("plugin cache {}: {e}", path.display());
    }
    Ok((module, Origin::Compiled))
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module, String> {
    Module::new(engine, wasm).map_err(|e| format!("invalid WebAssembly module: {e:#}"))
}

fn entry_path(engine: &Engine, wasm: &[u8], dir: &Path) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let name = format!("{}-{:016x}.cwasm", hex(&Sha256::digest(wasm)), h.finish());
    dir.join(name)
}

fn read_entry(engine: &Engine, path: &Path) -> Option<Module> {
    let bytes = std::fs::read(path).ok()?;
    let (digest, module) = bytes.split_at_checked(32)?;
    if Sha256::digest(module).as_slice() != digest {
        tracing::warn!(
            "plugin cache {}: checksum mismatch, recompiling",
            path.display()
        );
        return None;
    }
    // SAFETY: `Module::deserialize` requires bytes produced by
    // `Module::serialize` of a compatible engine, because it maps them as
    // executable code without validating them. These bytes are: the cache
    // directory is the server's own (inside its data directory, written
    // only by `write_entry` below), the entry's name carries the engine's
    // compatibility hash, the checksum just verified proves the bytes are
    // the ones `write_entry` stored (no torn or altered write), and
    // wasmtime itself refuses bytes from another version or configuration
    // with an error (handled below by recompiling).
    match unsafe { Module::deserialize(engine, module) } {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!("plugin cache {}: {e}, recompiling", path.display());
            None
        }
    }
}

fn write_entry(module: &Module, dir: &Path, path: &Path) -> Result<(), String> {
    let serialized = module.serialize().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut bytes = Sha256::digest(&serialized).to_vec();
    bytes.extend_from_slice(&serialized);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}
