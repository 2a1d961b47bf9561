//! Write native Frys plugins in Rust.
//!
//! A native plugin is trusted code: it runs in the server's process at
//! full speed, with no sandbox and no deadline, and is never unloaded
//! from memory. [`export_plugin!`] exports the ABI v1 entry symbol
//! ([`abi`]) for a function `fn(command: u32, call: &mut Ctx) ->
//! Result<(), String>`; a panic in it is caught at the boundary and the
//! client gets an error (the call's writes are discarded).
//!
//! # Examples
//!
//! ```
//! use frys_plugin_sdk::{abi, export_plugin, Ctx};
//!
//! fn run(_command: u32, call: &mut Ctx) -> Result<(), String> {
//!     let key = call.arg(1).ok_or("no key")?.to_vec();
//!     let value = call.get(&key).map_err(|e| format!("{e:?}"))?;
//!     call.reply_integer(value.map_or(0, |v| v.len() as i64));
//!     Ok(())
//! }
//!
//! export_plugin!(
//!     name: c"strlen2",
//!     version: 1,
//!     commands: [(c"strlen2", 2, abi::FLAG_READONLY, 1, 1, 1)],
//!     call: run
//! );
//! ```

pub mod abi;

use abi::FrysHost;

/// Why a key access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The key holds a collection.
    WrongType,
    /// The key is not one the call declared.
    Undeclared,
}

fn key_error(code: i32) -> KeyError {
    if code == abi::WRONG_TYPE {
        KeyError::WrongType
    } else {
        KeyError::Undeclared
    }
}

/// One call, as the plugin sees it.
pub struct Ctx<'a> {
    host: &'a FrysHost,
}

impl<'a> Ctx<'a> {
    /// Wraps the host table of a call.
    ///
    /// # Safety
    /// `host` must be the pointer the server passed to the plugin's
    /// `call` function, used only during that call.
    pub unsafe fn from_host(host: *const FrysHost) -> Option<Ctx<'a>> {
        // SAFETY: the caller passes the server's table, valid for the call.
        unsafe { host.as_ref() }.map(|host| Ctx { host })
    }

    /// Number of arguments, the command name included.
    pub fn arg_count(&self) -> usize {
        // SAFETY: a host function of this call's table, given its `call`.
        unsafe { (self.host.arg_count)(self.host.call) }.max(0) as usize
    }

    /// Argument `i` (0 is the command name), copied.
    pub fn arg(&self, i: usize) -> Option<Vec<u8>> {
        let (mut ptr, mut len) = (std::ptr::null(), 0usize);
        let i = i32::try_from(i).ok()?;
        // SAFETY: host function of this call; out-pointers are valid locals.
        let rc = unsafe { (self.host.arg)(self.host.call, i, &mut ptr, &mut len) };
        // SAFETY: on 0 the host set `ptr`/`len` to a live argument, valid
        // until the next host call; it is copied at once.
        (rc == 0).then(|| unsafe { borrowed(ptr, len) }.to_vec())
    }

    /// The string at `key` (copied), `None` if missing.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, KeyError> {
        let (mut ptr, mut len) = (std::ptr::null(), 0usize);
        // SAFETY: host function of this call; `key` and the out-pointers
        // are valid for the duration of the call.
        let rc =
            unsafe { (self.host.get)(self.host.call, key.as_ptr(), key.len(), &mut ptr, &mut len) };
        match rc {
            // SAFETY: on 0 the host set a live value, copied at once.
            0 => Ok(Some(unsafe { borrowed(ptr, len) }.to_vec())),
            abi::MISSING => Ok(None),
            code => Err(key_error(code)),
        }
    }

    /// Sets `key` to `value`, living `ttl_ms` (`None`: for ever).
    pub fn set(&mut self, key: &[u8], value: &[u8], ttl_ms: Option<u64>) -> Result<(), KeyError> {
        let ttl = ttl_ms.map_or(0, |t| t.min(i64::MAX as u64) as i64);
        // SAFETY: host function of this call with valid slices.
        let rc = unsafe {
            (self.host.set)(
                self.host.call,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
                ttl,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(key_error(rc))
        }
    }

    /// Deletes `key`; whether it existed.
    pub fn del(&mut self, key: &[u8]) -> Result<bool, KeyError> {
        // SAFETY: host function of this call with a valid slice.
        match unsafe { (self.host.del)(self.host.call, key.as_ptr(), key.len()) } {
            n if n >= 0 => Ok(n == 1),
            code => Err(key_error(code)),
        }
    }

    /// Unix milliseconds at the start of the call.
    pub fn now_ms(&self) -> u64 {
        // SAFETY: host function of this call.
        unsafe { (self.host.now_ms)(self.host.call) }.max(0) as u64
    }

    /// Replies `+text`; false if the reply refused it.
    pub fn reply_simple(&mut self, text: &str) -> bool {
        // SAFETY: host function of this call with a valid slice.
        unsafe { (self.host.reply_simple)(self.host.call, text.as_ptr(), text.len()) == 0 }
    }

    /// Replies `-text`.
    pub fn reply_error(&mut self, text: &str) -> bool {
        // SAFETY: host function of this call with a valid slice.
        unsafe { (self.host.reply_error)(self.host.call, text.as_ptr(), text.len()) == 0 }
    }

    /// Replies a bulk string.
    pub fn reply_bulk(&mut self, bytes: &[u8]) -> bool {
        // SAFETY: host function of this call with a valid slice.
        unsafe { (self.host.reply_bulk)(self.host.call, bytes.as_ptr(), bytes.len()) == 0 }
    }

    /// Replies an integer.
    pub fn reply_integer(&mut self, n: i64) -> bool {
        // SAFETY: host function of this call.
        unsafe { (self.host.reply_integer)(self.host.call, n) == 0 }
    }

    /// Replies null.
    pub fn reply_null(&mut self) -> bool {
        // SAFETY: host function of this call.
        unsafe { (self.host.reply_null)(self.host.call) == 0 }
    }

    /// Opens an array of `n` values.
    pub fn reply_array(&mut self, n: usize) -> bool {
        // SAFETY: host function of this call.
        unsafe { (self.host.reply_array)(self.host.call, n as i64) == 0 }
    }

    /// Opens a map of `n` pairs.
    pub fn reply_map(&mut self, n: usize) -> bool {
        // SAFETY: host function of this call.
        unsafe { (self.host.reply_map)(self.host.call, n as i64) == 0 }
    }
}

/// # Safety
/// `ptr` must point to `len` readable bytes (or `len` be 0).
unsafe fn borrowed<'b>(ptr: *const u8, len: usize) -> &'b [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// Runs `f` for the host, turning an error into an error reply and a
/// panic into [`abi::PANICKED`] (used by [`export_plugin!`]).
///
/// # Safety
/// `host` must be the pointer the server passed to the plugin's `call`.
pub unsafe fn dispatch(
    host: *const FrysHost,
    command: u32,
    f: fn(u32, &mut Ctx) -> Result<(), String>,
) -> i32 {
    let ran = std::panic::catch_unwind(|| {
        // SAFETY: forwarded from the caller's contract.
        let Some(mut ctx) = (unsafe { Ctx::from_host(host) }) else {
            return abi::BAD_REPLY;
        };
        match f(command, &mut ctx) {
            Ok(()) => 0,
            Err(e) => {
                ctx.reply_error(&e);
                0
            }
        }
    });
    ran.unwrap_or(abi::PANICKED)
}

/// Exports the ABI v1 entry symbol of a native plugin. Each command is
/// `(c"name", arity, flags, first_key, last_key, key_step)`.
#[macro_export]
macro_rules! export_plugin {
    (name: $name:literal, version: $version:expr, commands: [$(($cname:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr)),+ $(,)?], call: $call:path) => {
        const _: () = {
            const COMMANDS: &[$crate::abi::FrysCommand] = &[$($crate::abi::FrysCommand {
                name: $cname.as_ptr(),
                arity: $arity,
                flags: $flags,
                first_key: $first,
                last_key: $last,
                key_step: $step,
            }),+];
            static TABLE: $crate::abi::StaticCommands<{ COMMANDS.len() }> =
                $crate::abi::StaticCommands([$($crate::abi::FrysCommand {
                    name: $cname.as_ptr(),
                    arity: $arity,
                    flags: $flags,
                    first_key: $first,
                    last_key: $last,
                    key_step: $step,
                }),+]);
            unsafe extern "C" fn call(host: *const $crate::abi::FrysHost, command: u32) -> i32 {
                // SAFETY: the server calls this with its host table for the call.
                unsafe { $crate::dispatch(host, command, $call) }
            }
            static PLUGIN: $crate::abi::StaticPlugin = $crate::abi::StaticPlugin($crate::abi::FrysPlugin {
                abi_version: $crate::abi::ABI_VERSION,
                name: $name.as_ptr(),
                version: $version,
                command_count: COMMANDS.len() as u32,
                commands: TABLE.0.as_ptr(),
                call,
            });
            /// The ABI v1 entry symbol.
            #[unsafe(no_mangle)]
            pub extern "C" fn frys_plugin() -> *const $crate::abi::FrysPlugin {
                &PLUGIN.0
            }
        };
    };
}
