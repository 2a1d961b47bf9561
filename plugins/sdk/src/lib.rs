//! Write native Frys plugins in Rust.
//!
//! A native plugin is trusted code: it runs in the server's process at
//! full speed, with no sandbox and no deadline, and is never unloaded
//! from memory. [`export_plugin!`] exports the ABI entry symbol
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
mod v3;

use abi::FrysHost;
pub use v3::{Expire, KeyType, ScoreRange};

/// Why a key access was refused. A host code that means different
/// things in different functions is named per function here, so that
/// [`KeyError::redis_error`] gives the text of the command that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key holds a value of another type.
    WrongType,
    /// The key is not one the call declared (the call fails).
    Undeclared,
    /// A NaN score or a NaN result (`zadd`, `zincrby`: `ERR resulting
    /// score is not a number (NaN)`).
    NotANumber,
    /// A NaN bound of a score range (`zrangebyscore`: `ERR min or max is
    /// not a float`).
    BoundNotANumber,
    /// The write would pass the call's byte limit (the call fails).
    TooLarge,
    /// An index past the list's ends (`lset`: `ERR index out of range`).
    OutOfRange,
    /// An expiry past the clock's range (`pexpire`: `ERR invalid expire
    /// time in 'pexpire' command`).
    InvalidExpireTime,
    /// A hash value that is not an integer (`hincrby`: `ERR hash value is
    /// not an integer`).
    NotAnInteger,
    /// An increment past i64 (`hincrby`: `ERR increment or decrement
    /// would overflow`).
    Overflow,
}

impl KeyError {
    /// The error reply the server's own command gives for this refusal,
    /// Redis 7's text, for a plugin that answers as the command would.
    /// `Undeclared` and `TooLarge` fail the call whatever it replies (the
    /// server answers its own error); their texts only name them.
    pub fn redis_error(self) -> &'static str {
        match self {
            KeyError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            }
            KeyError::NotANumber => "ERR resulting score is not a number (NaN)",
            KeyError::BoundNotANumber => "ERR min or max is not a float",
            KeyError::OutOfRange => "ERR index out of range",
            KeyError::InvalidExpireTime => "ERR invalid expire time in 'pexpire' command",
            KeyError::NotAnInteger => "ERR hash value is not an integer",
            KeyError::Overflow => "ERR increment or decrement would overflow",
            KeyError::Undeclared => "ERR the key was not declared",
            KeyError::TooLarge => "ERR the call wrote too much",
        }
    }

    /// This refusal as `pexpire` means it: `OUT_OF_RANGE` is a deadline
    /// past the clock.
    fn in_pexpire(self) -> KeyError {
        match self {
            KeyError::OutOfRange => KeyError::InvalidExpireTime,
            e => e,
        }
    }

    /// This refusal as a score range read means it: `NOT_A_NUMBER` is a
    /// NaN bound.
    fn in_score_range(self) -> KeyError {
        match self {
            KeyError::NotANumber => KeyError::BoundNotANumber,
            e => e,
        }
    }
}

fn key_error(code: i32) -> KeyError {
    match code {
        abi::WRONG_TYPE => KeyError::WrongType,
        abi::NOT_A_NUMBER => KeyError::NotANumber,
        abi::TOO_LARGE => KeyError::TooLarge,
        abi::OUT_OF_RANGE => KeyError::OutOfRange,
        abi::NOT_AN_INTEGER => KeyError::NotAnInteger,
        abi::OVERFLOW => KeyError::Overflow,
        _ => KeyError::Undeclared,
    }
}

fn flag(code: i32) -> Result<bool, KeyError> {
    if code >= 0 {
        Ok(code == 1)
    } else {
        Err(key_error(code))
    }
}

fn count(n: i64) -> Result<u64, KeyError> {
    u64::try_from(n).map_err(|_| key_error(n.max(i32::MIN.into()) as i32))
}

/// A value the host lent through `ptr` / `len`, copied; `None` on MISSING.
///
/// # Safety
/// On 0 the host set `ptr` / `len` to live bytes.
unsafe fn lent(code: i32, ptr: *const u8, len: usize) -> Result<Option<Vec<u8>>, KeyError> {
    match code {
        // SAFETY: per the function's contract; copied at once.
        0 => Ok(Some(unsafe { borrowed(ptr, len) }.to_vec())),
        abi::MISSING => Ok(None),
        code => Err(key_error(code)),
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

    /// Hash field `field` of `key` (copied), `None` if either is missing.
    pub fn hget(&mut self, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, KeyError> {
        let (mut ptr, mut len) = (std::ptr::null(), 0usize);
        let h = self.host;
        // SAFETY: host function of this call with valid slices and
        // out-pointers; on 0 the lent value is copied at once.
        unsafe {
            let rc = (h.hget)(
                h.call,
                key.as_ptr(),
                key.len(),
                field.as_ptr(),
                field.len(),
                &mut ptr,
                &mut len,
            );
            lent(rc, ptr, len)
        }
    }

    /// Sets hash field `field` (a new hash if `key` is missing); whether
    /// the field is new.
    pub fn hset(&mut self, key: &[u8], field: &[u8], value: &[u8]) -> Result<bool, KeyError> {
        let h = self.host;
        // SAFETY: host function of this call with valid slices.
        flag(unsafe {
            (h.hset)(
                h.call,
                key.as_ptr(),
                key.len(),
                field.as_ptr(),
                field.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    fn member(&mut self, f: abi::MemberFn, key: &[u8], m: &[u8]) -> Result<bool, KeyError> {
        // SAFETY: a host function of this call's table with valid slices.
        flag(unsafe { f(self.host.call, key.as_ptr(), key.len(), m.as_ptr(), m.len()) })
    }

    fn count(&mut self, f: abi::CountFn, key: &[u8]) -> Result<u64, KeyError> {
        // SAFETY: a host function of this call's table with a valid slice.
        count(unsafe { f(self.host.call, key.as_ptr(), key.len()) })
    }

    fn at(&mut self, f: abi::AtFn, key: &[u8], index: i64) -> Result<Option<Vec<u8>>, KeyError> {
        let (mut ptr, mut len) = (std::ptr::null(), 0usize);
        // SAFETY: a host function of this call's table with a valid slice
        // and out-pointers; on 0 the lent value is copied at once.
        unsafe {
            let rc = f(
                self.host.call,
                key.as_ptr(),
                key.len(),
                index,
                &mut ptr,
                &mut len,
            );
            lent(rc, ptr, len)
        }
    }

    /// Removes hash field `field`; whether it existed.
    pub fn hdel(&mut self, key: &[u8], field: &[u8]) -> Result<bool, KeyError> {
        self.member(self.host.hdel, key, field)
    }

    /// Number of fields of the hash at `key` (0 if missing).
    pub fn hlen(&mut self, key: &[u8]) -> Result<u64, KeyError> {
        self.count(self.host.hlen, key)
    }

    /// Field `index` of the hash in byte order (negative: from the end).
    pub fn hfield_at(&mut self, key: &[u8], index: i64) -> Result<Option<Vec<u8>>, KeyError> {
        self.at(self.host.hfield_at, key, index)
    }

    /// Adds `member` to the set at `key`; whether it is new.
    pub fn sadd(&mut self, key: &[u8], member: &[u8]) -> Result<bool, KeyError> {
        self.member(self.host.sadd, key, member)
    }

    /// Removes `member`; whether it was one.
    pub fn srem(&mut self, key: &[u8], member: &[u8]) -> Result<bool, KeyError> {
        self.member(self.host.srem, key, member)
    }

    /// Whether `member` is in the set at `key`.
    pub fn sismember(&mut self, key: &[u8], member: &[u8]) -> Result<bool, KeyError> {
        self.member(self.host.sismember, key, member)
    }

    /// Number of members of the set at `key` (0 if missing).
    pub fn scard(&mut self, key: &[u8]) -> Result<u64, KeyError> {
        self.count(self.host.scard, key)
    }

    /// Member `index` of the set in byte order (negative: from the end).
    pub fn smember_at(&mut self, key: &[u8], index: i64) -> Result<Option<Vec<u8>>, KeyError> {
        self.at(self.host.smember_at, key, index)
    }

    /// Sets `member`'s score in the sorted set at `key`; whether it is new.
    pub fn zadd(&mut self, key: &[u8], score: f64, member: &[u8]) -> Result<bool, KeyError> {
        let h = self.host;
        // SAFETY: host function of this call with valid slices.
        flag(unsafe {
            (h.zadd)(
                h.call,
                key.as_ptr(),
                key.len(),
                score,
                member.as_ptr(),
                member.len(),
            )
        })
    }

    /// `member`'s score, `None` if it (or the key) is missing.
    pub fn zscore(&mut self, key: &[u8], member: &[u8]) -> Result<Option<f64>, KeyError> {
        let mut score = 0.0;
        let h = self.host;
        // SAFETY: host function of this call with valid slices and an
        // out-pointer to a local.
        let rc = unsafe {
            (h.zscore)(
                h.call,
                key.as_ptr(),
                key.len(),
                member.as_ptr(),
                member.len(),
                &mut score,
            )
        };
        match rc {
            0 => Ok(Some(score)),
            abi::MISSING => Ok(None),
            code => Err(key_error(code)),
        }
    }

    /// Removes `member`; whether it was one.
    pub fn zrem(&mut self, key: &[u8], member: &[u8]) -> Result<bool, KeyError> {
        self.member(self.host.zrem, key, member)
    }

    /// Number of members of the sorted set at `key` (0 if missing).
    pub fn zcard(&mut self, key: &[u8]) -> Result<u64, KeyError> {
        self.count(self.host.zcard, key)
    }

    /// The member of rank `index` (lowest score first; negative: from the
    /// end).
    pub fn zrange_at(&mut self, key: &[u8], index: i64) -> Result<Option<Vec<u8>>, KeyError> {
        self.at(self.host.zrange_at, key, index)
    }

    /// Number of elements of the list at `key` (0 if missing).
    pub fn llen(&mut self, key: &[u8]) -> Result<u64, KeyError> {
        self.count(self.host.llen, key)
    }

    /// Element `index` of the list (negative: from the end).
    pub fn lindex(&mut self, key: &[u8], index: i64) -> Result<Option<Vec<u8>>, KeyError> {
        self.at(self.host.lindex, key, index)
    }

    /// Pushes `value` at the front (or back) of the list at `key`; its
    /// length after.
    pub fn push(&mut self, key: &[u8], front: bool, value: &[u8]) -> Result<u64, KeyError> {
        let f = if front {
            self.host.lpush
        } else {
            self.host.rpush
        };
        // SAFETY: a host function of this call's table with valid slices.
        count(unsafe {
            f(
                self.host.call,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    /// Pops the front (or back) element of the list at `key`.
    pub fn pop(&mut self, key: &[u8], front: bool) -> Result<Option<Vec<u8>>, KeyError> {
        let f = if front {
            self.host.lpop
        } else {
            self.host.rpop
        };
        let (mut ptr, mut len) = (std::ptr::null(), 0usize);
        // SAFETY: a host function of this call's table with a valid slice
        // and out-pointers; on 0 the lent value is copied at once.
        unsafe {
            let rc = f(self.host.call, key.as_ptr(), key.len(), &mut ptr, &mut len);
            lent(rc, ptr, len)
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

/// Exports the ABI entry symbol of a native plugin. Each command is
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
            /// The ABI entry symbol.
            #[unsafe(no_mangle)]
            pub extern "C" fn frys_plugin() -> *const $crate::abi::FrysPlugin {
                &PLUGIN.0
            }
        };
    };
}
