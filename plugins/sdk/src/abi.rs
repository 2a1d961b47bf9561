//! Native plugin ABI v3, the `#[repr(C)]` types of `plugins/frys_plugin.h`.
//!
//! A native plugin exports one symbol, [`ENTRY_SYMBOL`], a function
//! returning a pointer to a static [`FrysPlugin`]. Its first field is the
//! ABI version, the same place in every version, so the host can refuse
//! a mismatch before reading anything else. Versions only append host
//! functions to the end of [`FrysHost`] (v2: the collection functions;
//! v3: types, expiry of any key, the list edits, ranges, increments),
//! so a server runs plugins of its version and every older one, and a
//! plugin of a newer version than the server's is refused before it can
//! call a function the server's table does not have.

use std::ffi::{c_char, c_void};

/// The ABI version this crate describes.
pub const ABI_VERSION: u32 = 3;
/// The exported symbol's name (NUL-terminated).
pub const ENTRY_SYMBOL: &[u8] = b"frys_plugin\0";

/// Command flag: may write its keys.
pub const FLAG_WRITE: u32 = 1;
/// Command flag: only reads.
pub const FLAG_READONLY: u32 = 2;
/// Command flag: refused when out of memory.
pub const FLAG_DENYOOM: u32 = 4;
/// Command flag: constant time.
pub const FLAG_FAST: u32 = 8;

/// Host return code: the key does not exist.
pub const MISSING: i32 = -1;
/// Host return code: the key holds a value of another type.
pub const WRONG_TYPE: i32 = -2;
/// Host return code: the key is not one the call declared.
pub const UNDECLARED: i32 = -3;
/// Host return code: a sorted-set score that is not a number (NaN).
pub const NOT_A_NUMBER: i32 = -4;
/// Host return code: the reply value was refused.
pub const BAD_REPLY: i32 = -5;
/// Host return code: the write would pass the call's byte limit.
pub const TOO_LARGE: i32 = -6;
/// Host return code (native, ABI v2 functions): a null out-pointer;
/// nothing was done.
pub const BAD_ARGS: i32 = -7;
/// Host return code (v3): an index past the list's ends (LSET: `ERR
/// index out of range`), or an expiry past the clock (`ERR invalid expire
/// time`).
pub const OUT_OF_RANGE: i32 = -8;
/// Host return code (v3, HINCRBY): the value is not a decimal integer
/// (`ERR hash value is not an integer`).
pub const NOT_AN_INTEGER: i32 = -9;
/// Host return code (v3, HINCRBY): the sum leaves i64 (`ERR increment or
/// decrement would overflow`).
pub const OVERFLOW: i32 = -10;
/// Plugin return code: the plugin caught a panic.
pub const PANICKED: i32 = -1000;

/// The host functions a call may use; `call` is passed back to each.
/// Pointers the host returns stay valid until the next host function
/// call or the end of the call, whichever comes first.
#[repr(C)]
pub struct FrysHost {
    /// The call (opaque to the plugin).
    pub call: *mut c_void,
    /// Number of arguments, the command name included.
    pub arg_count: unsafe extern "C" fn(call: *mut c_void) -> i32,
    /// Argument `i`: 0, or -1 out of range.
    pub arg: unsafe extern "C" fn(
        call: *mut c_void,
        i: i32,
        ptr: *mut *const u8,
        len: *mut usize,
    ) -> i32,
    /// The string at a key: 0, or MISSING / WRONG_TYPE / UNDECLARED.
    pub get: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        ptr: *mut *const u8,
        len: *mut usize,
    ) -> i32,
    /// Sets a key (ttl_ms <= 0: no expiry): 0 or UNDECLARED.
    pub set: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
        ttl_ms: i64,
    ) -> i32,
    /// Deletes a key: 1 existed, 0 did not, or UNDECLARED.
    pub del: unsafe extern "C" fn(call: *mut c_void, key: *const u8, key_len: usize) -> i32,
    /// Unix milliseconds at the start of the call.
    pub now_ms: unsafe extern "C" fn(call: *mut c_void) -> i64,
    /// Reply `+text`: 0 or BAD_REPLY.
    pub reply_simple: unsafe extern "C" fn(call: *mut c_void, ptr: *const u8, len: usize) -> i32,
    /// Reply `-text`.
    pub reply_error: unsafe extern "C" fn(call: *mut c_void, ptr: *const u8, len: usize) -> i32,
    /// Reply a bulk string.
    pub reply_bulk: unsafe extern "C" fn(call: *mut c_void, ptr: *const u8, len: usize) -> i32,
    /// Reply an integer.
    pub reply_integer: unsafe extern "C" fn(call: *mut c_void, n: i64) -> i32,
    /// Reply null.
    pub reply_null: unsafe extern "C" fn(call: *mut c_void) -> i32,
    /// Open an array of n values.
    pub reply_array: unsafe extern "C" fn(call: *mut c_void, n: i64) -> i32,
    /// Open a map of n pairs.
    pub reply_map: unsafe extern "C" fn(call: *mut c_void, n: i64) -> i32,
    // ABI v2: collections.
    /// A hash field: 0 (value at `ptr`/`len`), MISSING, or an error code.
    pub hget: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        field: *const u8,
        field_len: usize,
        ptr: *mut *const u8,
        len: *mut usize,
    ) -> i32,
    /// Sets a hash field: 1 new, 0 updated, or an error code.
    pub hset: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        field: *const u8,
        field_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> i32,
    /// Removes a hash field: 1 removed, 0 absent, or an error code.
    pub hdel: MemberFn,
    /// Fields of a hash (0 if missing), or an error code.
    pub hlen: CountFn,
    /// Field `index` in byte order: 0, MISSING (out of range), or a code.
    pub hfield_at: AtFn,
    /// Adds a set member: 1 new, 0 present, or an error code.
    pub sadd: MemberFn,
    /// Removes a set member: 1 removed, 0 absent, or an error code.
    pub srem: MemberFn,
    /// 1 member, 0 not, or an error code.
    pub sismember: MemberFn,
    /// Members of a set (0 if missing), or an error code.
    pub scard: CountFn,
    /// Member `index` in byte order: 0, MISSING, or an error code.
    pub smember_at: AtFn,
    /// Sets a member's score: 1 new, 0 updated, NOT_A_NUMBER, or a code.
    pub zadd: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        score: f64,
        member: *const u8,
        member_len: usize,
    ) -> i32,
    /// A member's score: 0 (at `score`), MISSING, or an error code.
    pub zscore: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        member: *const u8,
        member_len: usize,
        score: *mut f64,
    ) -> i32,
    /// Removes a member: 1 removed, 0 absent, or an error code.
    pub zrem: MemberFn,
    /// Members of a sorted set (0 if missing), or an error code.
    pub zcard: CountFn,
    /// Member of rank `index`: 0, MISSING, or an error code.
    pub zrange_at: AtFn,
    /// Elements of a list (0 if missing), or an error code.
    pub llen: CountFn,
    /// Element `index` (negative: from the end): 0, MISSING, or a code.
    pub lindex: AtFn,
    /// Pushes at the front: the length after, or an error code.
    pub lpush: PushFn,
    /// Pushes at the back: the length after, or an error code.
    pub rpush: PushFn,
    /// Pops the front element: 0 (it at `ptr`/`len`), MISSING, or a code.
    pub lpop: PopFn,
    /// Pops the back element: 0, MISSING, or an error code.
    pub rpop: PopFn,
    /// v3: the key's type (0 none, 1 string, 2 hash, 3 set, 4 zset,
    /// 5 list), or an error code.
    pub key_type: KeyFn,
    /// v3: 1 if the key exists, 0 if not, or an error code.
    pub exists: KeyFn,
    /// v3: milliseconds to live, MISSING if missing or without expiry,
    /// or an error code.
    pub ttl_ms: CountFn,
    /// v3: PEXPIRE key ms with `cond` 0 (none), 1 NX, 2 XX, 3 GT, 4 LT:
    /// 1 set, 0 not, OUT_OF_RANGE, BAD_ARGS (another `cond`), or a code.
    pub pexpire: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        ms: i64,
        cond: i32,
    ) -> i32,
    /// v3: PERSIST: 1 if it had an expiry, 0 if not, or an error code.
    pub persist: KeyFn,
    /// v3: LSET: 0, MISSING (no such key), OUT_OF_RANGE, or a code.
    pub lset: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        index: i64,
        value: *const u8,
        value_len: usize,
    ) -> i32,
    /// v3: LINSERT (`after` 0: BEFORE): the length after, 0 if the key is
    /// missing, -1 if the pivot is not an element, or an error code.
    pub linsert: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        after: i32,
        pivot: *const u8,
        pivot_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> i64,
    /// v3: LREM: elements removed, or an error code.
    pub lrem: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        count: i64,
        value: *const u8,
        value_len: usize,
    ) -> i64,
    /// v3: LTRIM: 0, or an error code.
    pub ltrim: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        start: i64,
        stop: i64,
    ) -> i32,
    /// v3: LRANGE into `dst`: records that fit, or an error code.
    pub lrange: RangeFn,
    /// v3: ZRANGE .. WITHSCORES into `dst`: records that fit, or a code.
    pub zrange: RangeFn,
    /// v3: ZRANGEBYSCORE .. WITHSCORES LIMIT offset -1 into `dst`
    /// (`flags` 1: min exclusive, 2: max exclusive): records that fit, or
    /// an error code.
    pub zrangebyscore: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        min: f64,
        max: f64,
        flags: i32,
        offset: i64,
        dst: *mut u8,
        cap: usize,
    ) -> i64,
    /// v3: HINCRBY: 0 and the new value at `out`, NOT_AN_INTEGER,
    /// OVERFLOW, BAD_ARGS (a null `out`), or a code.
    pub hincrby: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        field: *const u8,
        field_len: usize,
        by: i64,
        out: *mut i64,
    ) -> i32,
    /// v3: ZINCRBY: 0 and the new score at `out`, NOT_A_NUMBER, BAD_ARGS
    /// (a null `out`), or a code.
    pub zincrby: unsafe extern "C" fn(
        call: *mut c_void,
        key: *const u8,
        key_len: usize,
        by: f64,
        member: *const u8,
        member_len: usize,
        out: *mut f64,
    ) -> i32,
}

/// `(call, key, key_len) -> i32` host functions.
pub type KeyFn = unsafe extern "C" fn(call: *mut c_void, key: *const u8, key_len: usize) -> i32;
/// `(call, key, key_len, start, stop, dst, cap) -> i64` range reads: the
/// number of records (u32 little-endian length, bytes, and for sorted
/// sets the f64 little-endian score) written to `dst`.
pub type RangeFn = unsafe extern "C" fn(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
    dst: *mut u8,
    cap: usize,
) -> i64;

/// `(call, key, key_len, member, member_len) -> i32` host functions.
pub type MemberFn = unsafe extern "C" fn(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
) -> i32;
/// `(call, key, key_len) -> i64` count host functions.
pub type CountFn = unsafe extern "C" fn(call: *mut c_void, key: *const u8, key_len: usize) -> i64;
/// `(call, key, key_len, index, ptr, len) -> i32` indexed reads.
pub type AtFn = unsafe extern "C" fn(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    index: i64,
    ptr: *mut *const u8,
    len: *mut usize,
) -> i32;
/// `(call, key, key_len, value, value_len) -> i64` list pushes.
pub type PushFn = unsafe extern "C" fn(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> i64;
/// `(call, key, key_len, ptr, len) -> i32` list pops.
pub type PopFn = unsafe extern "C" fn(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    ptr: *mut *const u8,
    len: *mut usize,
) -> i32;

/// One command.
#[repr(C)]
pub struct FrysCommand {
    /// NUL-terminated name.
    pub name: *const c_char,
    /// Redis arity.
    pub arity: i32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// First key argument (0: none).
    pub first_key: i32,
    /// Last key argument (negative: from the end).
    pub last_key: i32,
    /// Step between keys.
    pub key_step: i32,
}

/// What the entry symbol returns.
#[repr(C)]
pub struct FrysPlugin {
    /// Must be [`ABI_VERSION`]; always the first field.
    pub abi_version: u32,
    /// NUL-terminated plugin name.
    pub name: *const c_char,
    /// The plugin's own version.
    pub version: u32,
    /// Number of entries at `commands`.
    pub command_count: u32,
    /// The commands.
    pub commands: *const FrysCommand,
    /// Runs command `command` (an index into `commands`): 0 on success.
    pub call: unsafe extern "C" fn(host: *const FrysHost, command: u32) -> i32,
}

/// A [`FrysPlugin`] in a `static` (its raw pointers are to `'static`
/// read-only data).
#[repr(transparent)]
pub struct StaticPlugin(pub FrysPlugin);

// SAFETY: the pointers inside are to immutable `'static` data (C string
// literals and a `static` command array) and `call` is a plain function;
// nothing is ever written through them, so sharing across threads is
// sound.
unsafe impl Sync for StaticPlugin {}

/// A `static` array of [`FrysCommand`].
#[repr(transparent)]
pub struct StaticCommands<const N: usize>(pub [FrysCommand; N]);

// SAFETY: as for `StaticPlugin`: immutable `'static` names only.
unsafe impl<const N: usize> Sync for StaticCommands<N> {}

/// The type of the entry symbol.
pub type EntryFn = unsafe extern "C" fn() -> *const FrysPlugin;
