//! Compiled modules cached on disk by content hash, so a restart (or a
//! second load of the same file) does not compile again.
//!
//! An entry is `<sha256 of the wasm>-<engine compatibility hash>.cwasm`,
//! holding an HMAC-SHA256 of the serialized module followed by the module.
//! The HMAC key is a random secret in the cache directory (`key`, mode
//! 0600), which backups do not carry: a planted or altered entry (cached
//! machine code runs unchecked) fails the HMAC and is recompiled. The
//! directory must be this user's and closed to others (0700), and entries
//! are regular files (no symlinks); otherwise the cache is not used.
//! Entries are written to a unique temporary name and renamed, so a reader
//! never sees half an entry.

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
    let key = match cache_key(dir) {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!("plugin cache {}: {e}; not used", dir.display());
            return compile(engine, wasm).map(|m| (m, Origin::Compiled));
        }
    };
    let path = entry_path(engine, wasm, dir);
    if let Some(module) = read_entry(engine, &path, &key) {
        return Ok((module, Origin::Cached));
    }
    let module = compile(engine, wasm)?;
    if let Err(e) = write_entry(&module, &path, &key) {
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

/// HMAC-SHA256 (RFC 2104) of `data` under `key`.
fn hmac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// The cache directory's secret key, made on first use. Refuses a
/// directory that is not this user's or is open to others.
fn cache_key(dir: &Path) -> Result<[u8; 32], String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| e.to_string())?;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me || meta.permissions().mode() & 0o077 != 0 {
        return Err("the directory must belong to this user with mode 0700".into());
    }
    let path = dir.join("key");
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() && m.uid() == me && m.permissions().mode() & 0o077 == 0 => {
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            bytes
                .try_into()
                .map_err(|_| "the key file is damaged".to_string())
        }
        Ok(_) => Err("the key file must be a 0600 file of this user".into()),
        Err(_) => {
            let mut key = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))
                .map_err(|e| format!("no randomness for the key: {e}"))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| e.to_string())?;
            std::io::Write::write_all(&mut file, &key).map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            Ok(key)
        }
    }
}

fn read_entry(engine: &Engine, path: &Path, key: &[u8; 32]) -> Option<Module> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let (digest, module) = bytes.split_at_checked(32)?;
    if hmac(key, module).as_slice() != digest {
        tracing::warn!(
            "plugin cache {}: HMAC mismatch, recompiling",
            path.display()
        );
        return None;
    }
    // SAFETY: `Module::deserialize` requires bytes produced by
    // `Module::serialize` of a compatible engine, because it maps them as
    // executable code without validating them. These bytes are: the HMAC
    // just verified is keyed by a secret only this server's cache holds
    // (a 0600 file in a 0700 directory of this user, never in a backup),
    // so only `write_entry` below can have produced them, from a module
    // this engine compiled; the entry's name carries the engine's
    // compatibility hash, and wasmtime itself refuses bytes from another
    // version or configuration with an error (handled by recompiling).
    match unsafe { Module::deserialize(engine, module) } {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!("plugin cache {}: {e}, recompiling", path.display());
            None
        }
    }
}

fn write_entry(module: &Module, path: &Path, key: &[u8; 32]) -> Result<(), String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let serialized = module.serialize().map_err(|e| e.to_string())?;
    let mut bytes = hmac(key, &serialized).to_vec();
    bytes.extend_from_slice(&serialized);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}
