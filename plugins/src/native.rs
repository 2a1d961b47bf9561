//! Native plugins: trusted shared libraries loaded with libloading.
//!
//! A native plugin runs in the server's process with no sandbox and no
//! deadline: load only libraries you trust as you trust the server. A
//! library is never unloaded (no `dlclose`): code of a plugin may still
//! be referenced (its static table, a thread it started), so PLUGIN
//! UNLOAD only removes its commands. The ABI is `frys_plugin_sdk::abi`
//! (the C header `plugins/frys_plugin.h`); a plugin of any version up to
//! ours gets our whole host table, of which it knows a prefix.

use std::ffi::{c_void, CStr};

use frys_plugin_sdk::abi::{self, EntryFn, FrysHost, FrysPlugin};

use crate::call::{AccessError, Call, Ending};
use crate::collection::Kind;
use crate::contract::{checked_name, CommandDesc, KeyRange, PluginInfo};
use crate::reply::Reply;

mod v3;

/// A sealed, read-only in-memory file holding `data`.
fn sealed_copy(data: &[u8]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: memfd_create with a NUL-terminated name; the result is checked
    // and then owned by the returned `OwnedFd`.
    let fd = unsafe {
        libc::memfd_create(
            c"frys-native-plugin".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(owned);
    file.write_all(data)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on a live memfd we own.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(OwnedFd::from(file))
}

/// A loaded native library's entry table.
pub struct NativePlugin {
    table: &'static FrysPlugin,
}

// SAFETY: the table is static data of a library that is never unloaded
// and is only read; calling its `call` from several cores is what ABI v1
// requires of a native plugin (it must be thread-safe, as documented).
unsafe impl Send for NativePlugin {}
// SAFETY: as for `Send`: shared read-only access to a static table.
unsafe impl Sync for NativePlugin {}

/// Loads a native library, checks its ABI version and reads its
/// declaration.
///
/// `data` is the file's content, already read once and signature-checked
/// by the caller. The library is loaded from a sealed in-memory copy of
/// exactly those bytes (a `memfd`), never by opening the path again: a file
/// swapped after the check, a name the dynamic loader would look up on its
/// search path, or an older library that glibc already holds under the
/// same path cannot be loaded instead.
pub fn load(data: &[u8]) -> Result<(NativePlugin, PluginInfo), String> {
    let memfd = sealed_copy(data).map_err(|e| format!("cannot stage the library: {e}"))?;
    let staged = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&memfd));
    // SAFETY: loading a library runs its initialisers; native plugins are
    // trusted code by definition (the operator chose to load it, and its
    // signature was checked, on these very bytes, unless unsigned plugins
    // are allowed).
    let lib =
        unsafe { libloading::Library::new(&staged) }.map_err(|e| format!("cannot load: {e}"))?;
    // The mapping stays after the fd is closed.
    drop(memfd);
    // SAFETY: the symbol is declared by ABI v1 as `EntryFn`; a library
    // that exports another type under this name breaks the ABI it claims.
    let entry: EntryFn = unsafe { lib.get::<EntryFn>(abi::ENTRY_SYMBOL) }
        .map(|s| *s)
        .map_err(|e| format!("not a Frys native plugin (no frys_plugin symbol): {e}"))?;
    // Never dlclose: the table and code below stay valid for the process.
    std::mem::forget(lib);
    // SAFETY: `entry` is the plugin's exported entry function (above).
    let ptr = unsafe { entry() };
    if ptr.is_null() {
        return Err("frys_plugin returned null".into());
    }
    // SAFETY: every ABI version starts its static table with a `u32`
    // `abi_version` (ABI v1's rule), so reading that one field is valid
    // whatever the rest of the table looks like; nothing else is read
    // before the version is checked.
    let version = unsafe { ptr.cast::<u32>().read() };
    if !(1..=abi::ABI_VERSION).contains(&version) {
        return Err(format!(
            "native plugin ABI version {version}, this server supports versions 1 to {}",
            abi::ABI_VERSION
        ));
    }
    // SAFETY: the version is one we run, and every version has the same
    // `FrysPlugin` layout (versions only append to the host's `FrysHost`),
    // so the pointer is to such a static table; the library is never
    // unloaded, so `'static` holds.
    let table: &'static FrysPlugin = unsafe { &*ptr };
    let info = describe(table)?;
    Ok((NativePlugin { table }, info))
}

fn describe(t: &FrysPlugin) -> Result<PluginInfo, String> {
    if t.name.is_null() || (t.command_count > 0 && t.commands.is_null()) {
        return Err("native plugin table has null pointers".into());
    }
    // SAFETY: ABI v1: `name` is a NUL-terminated static string.
    let name = checked_name(unsafe { CStr::from_ptr(t.name) }.to_bytes(), "plugin")?;
    let count = t.command_count as usize;
    if count > crate::contract::MAX_COMMANDS {
        return Err(format!(
            "plugin '{name}' declares more than {} commands",
            crate::contract::MAX_COMMANDS
        ));
    }
    if count == 0 {
        return Err(format!("plugin '{name}' declares no command"));
    }
    // SAFETY: ABI v1: `commands` points to `command_count` static entries
    // (checked non-null above, and `count` is exactly that count).
    let raw = unsafe { std::slice::from_raw_parts(t.commands, count) };
    let mut commands = Vec::new();
    for c in raw {
        if c.name.is_null() {
            return Err(format!("plugin '{name}': a command has no name"));
        }
        // SAFETY: ABI v1: each command name is a NUL-terminated static string.
        let cname = unsafe { CStr::from_ptr(c.name) }.to_bytes();
        let keys = KeyRange {
            first: c.first_key,
            last: c.last_key,
            step: c.key_step,
        };
        commands.push(CommandDesc::new(cname, c.arity, c.flags, keys)?);
    }
    let info = PluginInfo {
        name,
        version: t.version,
        abi_version: t.abi_version,
        commands,
    };
    info.validate()?;
    Ok(info)
}

impl NativePlugin {
    /// Runs command `cmd` on `call`.
    pub fn call(&self, cmd: usize, mut call: Call) -> (Call, Ending) {
        let host = FrysHost {
            call: (&mut call as *mut Call).cast::<c_void>(),
            arg_count,
            arg,
            get,
            set,
            del,
            now_ms,
            reply_simple,
            reply_error,
            reply_bulk,
            reply_integer,
            reply_null,
            reply_array,
            reply_map,
            hget,
            hset,
            hdel,
            hlen,
            hfield_at,
            sadd,
            srem,
            sismember,
            scard,
            smember_at,
            zadd,
            zscore,
            zrem,
            zcard,
            zrange_at,
            llen,
            lindex,
            lpush,
            rpush,
            lpop,
            rpop,
            key_type: v3::key_type,
            exists: v3::exists,
            ttl_ms: v3::ttl_ms,
            pexpire: v3::pexpire,
            persist: v3::persist,
            lset: v3::lset,
            linsert: v3::linsert,
            lrem: v3::lrem,
            ltrim: v3::ltrim,
            lrange: v3::lrange,
            zrange: v3::zrange,
            zrangebyscore: v3::zrangebyscore,
            hincrby: v3::hincrby,
            zincrby: v3::zincrby,
        };
        // SAFETY: `call` is the plugin's ABI function (any version up to
        // ours; it knows a prefix of the host table); `host` and the
        // `Call` it points to outlive the call, and nothing else touches
        // `call` until it returns.
        let rc = unsafe { (self.table.call)(&host, cmd as u32) };
        let ending = match rc {
            0 => Ending::Returned,
            abi::PANICKED => Ending::Trapped("the native plugin panicked".into()),
            code => Ending::Failed(code),
        };
        (call, ending)
    }
}

/// The `Call` behind a host function's `call` argument.
///
/// # Safety
/// `call` must be the pointer [`NativePlugin::call`] put in the host
/// table, during that call; the plugin is single-threaded within a call,
/// so no other reference to the `Call` is live.
unsafe fn the_call<'a>(call: *mut c_void) -> &'a mut Call {
    // SAFETY: per the function's contract.
    unsafe { &mut *call.cast::<Call>() }
}

/// A copy of the plugin's input buffer `ptr` / `len`.
///
/// Inputs are copied before the host acts on them: a plugin may pass back
/// a pointer the host lent it (by `*_at`, `get`, a pop), which is valid
/// only until the host changes the collection or value it points into,
/// and the very call it is passed to may do that.
///
/// # Safety
/// `ptr` must point to `len` readable bytes or `len` be 0 (so `len <=
/// isize::MAX`: no object is larger).
unsafe fn bytes(ptr: *const u8, len: usize) -> Vec<u8> {
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: per the function's contract (the plugin passes its buffers);
    // the slice is copied at once and not kept.
    unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
}

fn code(e: AccessError) -> i32 {
    match e {
        AccessError::Undeclared => abi::UNDECLARED,
        AccessError::WrongType => abi::WRONG_TYPE,
        AccessError::NotANumber => abi::NOT_A_NUMBER,
        AccessError::TooLarge => abi::TOO_LARGE,
        AccessError::OutOfRange => abi::OUT_OF_RANGE,
        AccessError::NotAnInteger => abi::NOT_AN_INTEGER,
        AccessError::Overflow => abi::OVERFLOW,
    }
}

/// Lends `r`'s bytes to the plugin through `ptr` / `len`: 0, MISSING,
/// BAD_ARGS (a null out-pointer), or the error's code.
///
/// # Safety
/// `ptr` and `len` must be null or valid for writing.
unsafe fn lend(r: Result<Option<&[u8]>, AccessError>, ptr: *mut *const u8, len: *mut usize) -> i32 {
    match r {
        Ok(Some(v)) if !ptr.is_null() && !len.is_null() => {
            // SAFETY: non-null out-pointers the plugin passed for writing
            // (valid for a write of their type; alignment is not assumed).
            unsafe {
                ptr.write_unaligned(v.as_ptr());
                len.write_unaligned(v.len());
            }
            0
        }
        Ok(Some(_)) => abi::BAD_ARGS,
        Ok(None) => abi::MISSING,
        Err(e) => code(e),
    }
}

fn flag(r: Result<bool, AccessError>) -> i32 {
    r.map_or_else(code, i32::from)
}

fn count(r: Result<u64, AccessError>) -> i64 {
    r.map_or_else(|e| i64::from(code(e)), |n| n.min(i64::MAX as u64) as i64)
}

unsafe extern "C" fn hget(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
    ptr: *mut *const u8,
    len: *mut usize,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, field) =
        unsafe { (the_call(call), bytes(key, key_len), bytes(field, field_len)) };
    // SAFETY: the plugin's out-pointers.
    unsafe { lend(call.hget(&key, &field), ptr, len) }
}

unsafe extern "C" fn hset(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, field, value) = unsafe {
        (
            the_call(call),
            bytes(key, key_len),
            bytes(field, field_len),
            bytes(value, value_len),
        )
    };
    flag(call.hset(&key, &field, &value))
}

/// A `MemberFn` over `f`.
macro_rules! member_fn {
    ($name:ident, $method:ident) => {
        unsafe extern "C" fn $name(
            call: *mut c_void,
            key: *const u8,
            key_len: usize,
            member: *const u8,
            member_len: usize,
        ) -> i32 {
            // SAFETY: called by the plugin with the table's `call` and its
            // buffers.
            let (call, key, member) = unsafe {
                (
                    the_call(call),
                    bytes(key, key_len),
                    bytes(member, member_len),
                )
            };
            flag(call.$method(&key, &member))
        }
    };
}

/// A `CountFn` over `f`.
macro_rules! count_fn {
    ($name:ident, $method:ident) => {
        unsafe extern "C" fn $name(call: *mut c_void, key: *const u8, key_len: usize) -> i64 {
            // SAFETY: called by the plugin with the table's `call` and its key.
            let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
            count(call.$method(&key))
        }
    };
}

/// An `AtFn` over collections of `kind`.
macro_rules! at_fn {
    ($name:ident, $kind:expr) => {
        unsafe extern "C" fn $name(
            call: *mut c_void,
            key: *const u8,
            key_len: usize,
            index: i64,
            ptr: *mut *const u8,
            len: *mut usize,
        ) -> i32 {
            // SAFETY: called by the plugin with the table's `call` and its key.
            let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
            // SAFETY: the plugin's out-pointers.
            unsafe { lend(call.at(&key, $kind, index), ptr, len) }
        }
    };
}

/// A `PushFn` at the front (`true`) or back.
macro_rules! push_fn {
    ($name:ident, $front:expr) => {
        unsafe extern "C" fn $name(
            call: *mut c_void,
            key: *const u8,
            key_len: usize,
            value: *const u8,
            value_len: usize,
        ) -> i64 {
            // SAFETY: called by the plugin with the table's `call` and its
            // buffers.
            let (call, key, value) =
                unsafe { (the_call(call), bytes(key, key_len), bytes(value, value_len)) };
            count(call.push(&key, $front, &value))
        }
    };
}

/// A `PopFn` at the front (`true`) or back.
macro_rules! pop_fn {
    ($name:ident, $front:expr) => {
        unsafe extern "C" fn $name(
            call: *mut c_void,
            key: *const u8,
            key_len: usize,
            ptr: *mut *const u8,
            len: *mut usize,
        ) -> i32 {
            // Checked first: a pop that cannot hand its element over must
            // not take it.
            if ptr.is_null() || len.is_null() {
                return abi::BAD_ARGS;
            }
            // SAFETY: called by the plugin with the table's `call` and its key.
            let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
            // SAFETY: the plugin's out-pointers.
            unsafe { lend(call.pop_kept(&key, $front), ptr, len) }
        }
    };
}

member_fn!(hdel, hdel);
count_fn!(hlen, hlen);
at_fn!(hfield_at, Kind::Hash);
member_fn!(sadd, sadd);
member_fn!(srem, srem);
member_fn!(sismember, sismember);
count_fn!(scard, scard);
at_fn!(smember_at, Kind::Set);
member_fn!(zrem, zrem);
count_fn!(zcard, zcard);
at_fn!(zrange_at, Kind::ZSet);
count_fn!(llen, llen);
at_fn!(lindex, Kind::List);
push_fn!(lpush, true);
push_fn!(rpush, false);
pop_fn!(lpop, true);
pop_fn!(rpop, false);

unsafe extern "C" fn zadd(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    score: f64,
    member: *const u8,
    member_len: usize,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, member) = unsafe {
        (
            the_call(call),
            bytes(key, key_len),
            bytes(member, member_len),
        )
    };
    flag(call.zadd(&key, score, &member))
}

unsafe extern "C" fn zscore(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
    score: *mut f64,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, member) = unsafe {
        (
            the_call(call),
            bytes(key, key_len),
            bytes(member, member_len),
        )
    };
    match call.zscore(&key, &member) {
        Ok(Some(s)) if !score.is_null() => {
            // SAFETY: `score` is non-null and 8 writable bytes of the
            // plugin's own memory (ABI.md: never data the host lent, so it
            // aliases nothing the `Call` holds); written unaligned, so its
            // alignment does not matter.
            unsafe { score.write_unaligned(s) };
            0
        }
        // A NULL out-pointer to a version-2 function (ABI.md).
        Ok(Some(_)) => abi::BAD_ARGS,
        Ok(None) => abi::MISSING,
        Err(e) => code(e),
    }
}

unsafe extern "C" fn arg_count(call: *mut c_void) -> i32 {
    // SAFETY: called by the plugin with the table's `call`.
    unsafe { the_call(call) }.args().len() as i32
}

unsafe extern "C" fn arg(call: *mut c_void, i: i32, ptr: *mut *const u8, len: *mut usize) -> i32 {
    // SAFETY: called by the plugin with the table's `call`.
    let call = unsafe { the_call(call) };
    let Some(a) = usize::try_from(i).ok().and_then(|i| call.args().get(i)) else {
        return -1;
    };
    if ptr.is_null() || len.is_null() {
        return -1;
    }
    // SAFETY: non-null out-pointers the plugin passed for writing (valid
    // for a write of their type; alignment is not assumed).
    unsafe {
        ptr.write_unaligned(a.as_ptr());
        len.write_unaligned(a.len());
    }
    0
}

unsafe extern "C" fn get(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    ptr: *mut *const u8,
    len: *mut usize,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    match call.get(&key) {
        Ok(Some(v)) if !ptr.is_null() && !len.is_null() => {
            // SAFETY: non-null out-pointers the plugin passed for writing
            // (valid for a write of their type; alignment is not assumed).
            unsafe {
                ptr.write_unaligned(v.as_ptr());
                len.write_unaligned(v.len());
            }
            0
        }
        Ok(Some(_)) => -1,
        Ok(None) => abi::MISSING,
        Err(e) => code(e),
    }
}

unsafe extern "C" fn set(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: i64,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, value) =
        unsafe { (the_call(call), bytes(key, key_len), bytes(value, value_len)) };
    let ttl = (ttl_ms > 0).then_some(ttl_ms as u64);
    match call.set(&key, &value, ttl) {
        Ok(()) => 0,
        Err(e) => code(e),
    }
}

unsafe extern "C" fn del(call: *mut c_void, key: *const u8, key_len: usize) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    match call.delete(&key) {
        Ok(existed) => i32::from(existed),
        Err(e) => code(e),
    }
}

unsafe extern "C" fn now_ms(call: *mut c_void) -> i64 {
    // SAFETY: called by the plugin with the table's `call`.
    unsafe { the_call(call) }.now_ms() as i64
}

/// # Safety
/// As [`the_call`].
unsafe fn push(call: *mut c_void, value: Reply) -> i32 {
    // SAFETY: per the function's contract.
    let ok = unsafe { the_call(call) }.reply(|r| r.push(value));
    if ok {
        0
    } else {
        abi::BAD_REPLY
    }
}

unsafe extern "C" fn reply_simple(call: *mut c_void, ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the plugin passes its own buffer.
    let t = String::from_utf8_lossy(&unsafe { bytes(ptr, len) }).into_owned();
    // SAFETY: called by the plugin with the table's `call`.
    unsafe { push(call, Reply::Simple(crate::reply::one_line(&t))) }
}

unsafe extern "C" fn reply_error(call: *mut c_void, ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the plugin passes its own buffer.
    let t = String::from_utf8_lossy(&unsafe { bytes(ptr, len) }).into_owned();
    // SAFETY: called by the plugin with the table's `call`.
    unsafe { push(call, Reply::error(&t)) }
}

unsafe extern "C" fn reply_bulk(call: *mut c_void, ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the plugin passes its own buffer and the table's `call`.
    unsafe { push(call, Reply::Bulk(bytes(ptr, len))) }
}

unsafe extern "C" fn reply_integer(call: *mut c_void, n: i64) -> i32 {
    // SAFETY: called by the plugin with the table's `call`.
    unsafe { push(call, Reply::Integer(n)) }
}

unsafe extern "C" fn reply_null(call: *mut c_void) -> i32 {
    // SAFETY: called by the plugin with the table's `call`.
    unsafe { push(call, Reply::Null) }
}

unsafe extern "C" fn reply_array(call: *mut c_void, n: i64) -> i32 {
    // SAFETY: called by the plugin with the table's `call`.
    let ok = unsafe { the_call(call) }.reply(|r| r.array(n));
    if ok {
        0
    } else {
        abi::BAD_REPLY
    }
}

unsafe extern "C" fn reply_map(call: *mut c_void, n: i64) -> i32 {
    // SAFETY: called by the plugin with the table's `call`.
    let ok = unsafe { the_call(call) }.reply(|r| r.map(n));
    if ok {
        0
    } else {
        abi::BAD_REPLY
    }
}
