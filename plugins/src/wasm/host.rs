//! The host side of the WASM ABI, versions 1 to 3 (`plugins/ABI.md`): the `frys` imports a
//! module may use, and the per-instance state they work on.
//!
//! Every pointer a plugin passes is checked against its memory; an
//! out-of-bounds pointer traps. Key functions act on the [`Call`] in
//! progress only; outside a call (in `frys_init`) they trap, and the
//! declaration functions trap outside `frys_init`.

use wasmtime::{format_err, Caller, Extern, Linker, Memory, ResourceLimiter};

use crate::call::{AccessError, Call};
use crate::collection::Kind;
use crate::contract::{checked_name, CommandDesc, KeyRange};
use crate::reply::Reply;

/// Return code: the key does not exist.
pub const MISSING: i64 = -1;
/// Return code: the key holds a value of another type.
pub const WRONG_TYPE: i64 = -2;
/// Return code: the key is not one the call declared.
pub const UNDECLARED: i64 = -3;
/// Return code: a sorted-set score that is not a number (NaN).
pub const NOT_A_NUMBER: i64 = -4;
/// Return code: the reply value was refused (bad structure or too large).
pub const BAD_REPLY: i32 = -5;
/// Return code: the write would pass the call's byte limit (or, for a
/// range read, not even its first element fits the buffer).
pub const TOO_LARGE: i64 = -6;
/// Return code: an index past a list's ends, or an expiry past the clock.
pub const OUT_OF_RANGE: i64 = -8;
/// Return code: a hash value that is not a decimal integer.
pub const NOT_AN_INTEGER: i64 = -9;
/// Return code: an increment past the integer's range.
pub const OVERFLOW: i64 = -10;

mod v3;

/// Most elements of a table.
const MAX_TABLE_ELEMENTS: usize = 10_000;

/// What the host functions of one instance work on.
pub struct HostState {
    /// The call in progress, if any.
    pub call: Option<Call>,
    /// The declaration being collected, during `frys_init`.
    pub declaring: Option<Declaration>,
    /// The instance's limits.
    pub limits: Limits,
}

/// What `frys_init` declared.
#[derive(Default)]
pub struct Declaration {
    /// `frys.plugin`'s name and version.
    pub plugin: Option<(String, u32)>,
    /// `frys.command`'s commands.
    pub commands: Vec<CommandDesc>,
    /// The first refused declaration.
    pub error: Option<String>,
}

/// The resource limits of one instance.
pub struct Limits {
    /// Most bytes of linear memory.
    pub memory_cap: usize,
    /// Set when a growth past `memory_cap` was refused.
    pub exceeded: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.exceeded = true;
            return Err(format_err!(
                "memory limit of {} bytes exceeded",
                self.memory_cap
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

type Ctx<'a> = Caller<'a, HostState>;

fn memory(caller: &mut Ctx<'_>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(format_err!("the module exports no memory")),
    }
}

fn range(len: usize, ptr: i32, n: i32) -> wasmtime::Result<std::ops::Range<usize>> {
    let (ptr, n) = (ptr as u32 as usize, n as u32 as usize);
    match ptr.checked_add(n) {
        Some(end) if end <= len => Ok(ptr..end),
        _ => Err(format_err!("pointer {ptr}+{n} outside the plugin's memory")),
    }
}

/// Copies `n` bytes at `ptr` out of the plugin's memory.
fn read(caller: &mut Ctx<'_>, ptr: i32, n: i32) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller)?;
    let data = mem.data(&caller);
    let r = range(data.len(), ptr, n)?;
    Ok(data[r].to_vec())
}

/// Copies as much of `src` as fits in `cap` bytes at `dst`.
fn write_out(caller: &mut Ctx<'_>, dst: i32, cap: i32, src: &[u8]) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let data = mem.data_mut(caller);
    let n = src.len().min(cap.max(0) as usize);
    let r = range(data.len(), dst, n as i32)?;
    data[r].copy_from_slice(&src[..n]);
    Ok(())
}

fn call_of<'a>(caller: &'a mut Ctx<'_>) -> wasmtime::Result<&'a mut Call> {
    caller
        .data_mut()
        .call
        .as_mut()
        .ok_or_else(|| format_err!("key and reply functions work only during frys_call"))
}

fn declaring<'a>(caller: &'a mut Ctx<'_>) -> wasmtime::Result<&'a mut Declaration> {
    caller
        .data_mut()
        .declaring
        .as_mut()
        .ok_or_else(|| format_err!("declarations work only during frys_init"))
}

fn code(e: AccessError) -> i64 {
    match e {
        AccessError::Undeclared => UNDECLARED,
        AccessError::WrongType => WRONG_TYPE,
        AccessError::NotANumber => NOT_A_NUMBER,
        AccessError::TooLarge => TOO_LARGE,
        AccessError::OutOfRange => OUT_OF_RANGE,
        AccessError::NotAnInteger => NOT_AN_INTEGER,
        AccessError::Overflow => OVERFLOW,
    }
}

/// An `i32` host result: the count or flag, or the error's code.
fn status<T: Into<i64>>(r: Result<T, AccessError>) -> i32 {
    match r {
        Ok(n) => n.into().clamp(i32::MIN.into(), i32::MAX.into()) as i32,
        Err(e) => code(e) as i32,
    }
}

/// An `i64` count result, or the error's code.
fn count(r: Result<u64, AccessError>) -> i64 {
    match r {
        Ok(n) => n.min(i64::MAX as u64) as i64,
        Err(e) => code(e),
    }
}

/// Copies a bytes result to `dst` (up to `cap` bytes): its full length,
/// `MISSING`, or the error's code.
fn copy_out(
    caller: &mut Ctx<'_>,
    dst: i32,
    cap: i32,
    r: Result<Option<Vec<u8>>, AccessError>,
) -> wasmtime::Result<i64> {
    match r {
        Ok(Some(v)) => {
            write_out(caller, dst, cap, &v)?;
            Ok(v.len() as i64)
        }
        Ok(None) => Ok(MISSING),
        Err(e) => Ok(code(e)),
    }
}

/// Defines an `*_at(key_ptr, key_len, index: i64, dst, cap) -> i64` import.
fn define_at(linker: &mut Linker<HostState>, name: &str, kind: Kind) -> wasmtime::Result<()> {
    linker.func_wrap(
        "frys",
        name,
        move |mut c: Ctx<'_>,
              kp: i32,
              kl: i32,
              i: i64,
              dst: i32,
              cap: i32|
              -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            let r = call_of(&mut c)?
                .at(&key, kind, i)
                .map(|v| v.map(<[u8]>::to_vec));
            copy_out(&mut c, dst, cap, r)
        },
    )?;
    Ok(())
}

/// A `Call` method on a key and a field or member.
type MemberOp = fn(&mut Call, &[u8], &[u8]) -> Result<bool, AccessError>;

/// Defines a `(key_ptr, key_len, ptr, len) -> i32` import over `f`.
fn define_member(linker: &mut Linker<HostState>, name: &str, f: MemberOp) -> wasmtime::Result<()> {
    linker.func_wrap(
        "frys",
        name,
        move |mut c: Ctx<'_>, kp: i32, kl: i32, mp: i32, ml: i32| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let member = read(&mut c, mp, ml)?;
            Ok(status(f(call_of(&mut c)?, &key, &member).map(i64::from)))
        },
    )?;
    Ok(())
}

/// Defines a `(key_ptr, key_len) -> i64` count import over `f`.
fn define_count(
    linker: &mut Linker<HostState>,
    name: &str,
    f: fn(&mut Call, &[u8]) -> Result<u64, AccessError>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        "frys",
        name,
        move |mut c: Ctx<'_>, kp: i32, kl: i32| -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            Ok(count(f(call_of(&mut c)?, &key)))
        },
    )?;
    Ok(())
}

/// Defines the collection imports (ABI v2).
fn define_collections(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "frys",
        "hget",
        |mut c: Ctx<'_>,
         kp: i32,
         kl: i32,
         fp: i32,
         fl: i32,
         dst: i32,
         cap: i32|
         -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            let field = read(&mut c, fp, fl)?;
            let r = call_of(&mut c)?
                .hget(&key, &field)
                .map(|v| v.map(<[u8]>::to_vec));
            copy_out(&mut c, dst, cap, r)
        },
    )?;
    linker.func_wrap(
        "frys",
        "hset",
        |mut c: Ctx<'_>,
         kp: i32,
         kl: i32,
         fp: i32,
         fl: i32,
         vp: i32,
         vl: i32|
         -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let field = read(&mut c, fp, fl)?;
            let value = read(&mut c, vp, vl)?;
            let r = call_of(&mut c)?.hset(&key, &field, &value);
            Ok(status(r.map(i64::from)))
        },
    )?;
    define_member(linker, "hdel", Call::hdel)?;
    define_count(linker, "hlen", Call::hlen)?;
    define_at(linker, "hfield_at", Kind::Hash)?;
    define_member(linker, "sadd", Call::sadd)?;
    define_member(linker, "srem", Call::srem)?;
    define_member(linker, "sismember", Call::sismember)?;
    define_count(linker, "scard", Call::scard)?;
    define_at(linker, "smember_at", Kind::Set)?;
    linker.func_wrap(
        "frys",
        "zadd",
        |mut c: Ctx<'_>, kp: i32, kl: i32, score: f64, mp: i32, ml: i32| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let member = read(&mut c, mp, ml)?;
            let r = call_of(&mut c)?.zadd(&key, score, &member);
            Ok(status(r.map(i64::from)))
        },
    )?;
    linker.func_wrap(
        "frys",
        "zscore",
        |mut c: Ctx<'_>, kp: i32, kl: i32, mp: i32, ml: i32, out: i32| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let member = read(&mut c, mp, ml)?;
            match call_of(&mut c)?.zscore(&key, &member) {
                Ok(Some(score)) => {
                    let mem = memory(&mut c)?;
                    let data = mem.data_mut(&mut c);
                    let r = range(data.len(), out, 8)?;
                    data[r].copy_from_slice(&score.to_le_bytes());
                    Ok(0)
                }
                Ok(None) => Ok(MISSING as i32),
                Err(e) => Ok(code(e) as i32),
            }
        },
    )?;
    define_member(linker, "zrem", Call::zrem)?;
    define_count(linker, "zcard", Call::zcard)?;
    define_at(linker, "zrange_at", Kind::ZSet)?;
    define_count(linker, "llen", Call::llen)?;
    define_at(linker, "lindex", Kind::List)?;
    for (name, front) in [("lpush", true), ("rpush", false)] {
        linker.func_wrap(
            "frys",
            name,
            move |mut c: Ctx<'_>, kp: i32, kl: i32, vp: i32, vl: i32| -> wasmtime::Result<i64> {
                let key = read(&mut c, kp, kl)?;
                let value = read(&mut c, vp, vl)?;
                Ok(count(call_of(&mut c)?.push(&key, front, &value)))
            },
        )?;
    }
    for (name, front) in [("lpop", true), ("rpop", false)] {
        linker.func_wrap(
            "frys",
            name,
            move |mut c: Ctx<'_>, kp: i32, kl: i32, dst: i32, cap: i32| -> wasmtime::Result<i64> {
                let key = read(&mut c, kp, kl)?;
                let call = call_of(&mut c)?;
                // Pops only what fits, so a short buffer loses nothing.
                let end = if front { 0 } else { -1 };
                let len = match call.at(&key, Kind::List, end) {
                    Ok(Some(v)) => v.len(),
                    Ok(None) => return Ok(MISSING),
                    Err(e) => return Ok(code(e)),
                };
                if len > cap.max(0) as usize {
                    return Ok(len as i64);
                }
                let r = call.pop(&key, front);
                copy_out(&mut c, dst, cap, r)
            },
        )?;
    }
    Ok(())
}

fn reply(caller: &mut Ctx<'_>, value: Reply) -> wasmtime::Result<i32> {
    let ok = call_of(caller)?.reply(|r| r.push(value));
    Ok(if ok { 0 } else { BAD_REPLY })
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Defines every ABI import in `linker`.
pub fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    define_collections(linker)?;
    v3::define(linker)?;
    linker.func_wrap(
        "frys",
        "plugin",
        |mut c: Ctx<'_>, ptr: i32, len: i32, version: i32| -> wasmtime::Result<()> {
            let name = read(&mut c, ptr, len)?;
            let d = declaring(&mut c)?;
            match checked_name(&name, "plugin") {
                Ok(name) => d.plugin = Some((name, version as u32)),
                Err(e) => {
                    d.error.get_or_insert(e);
                }
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        "frys",
        "command",
        |mut c: Ctx<'_>,
         ptr: i32,
         len: i32,
         arity: i32,
         flags: i32,
         first: i32,
         last: i32,
         step: i32|
         -> wasmtime::Result<i32> {
            let name = read(&mut c, ptr, len)?;
            let d = declaring(&mut c)?;
            let keys = KeyRange { first, last, step };
            match CommandDesc::new(&name, arity, flags as u32, keys) {
                Ok(desc) if d.commands.len() < crate::contract::MAX_COMMANDS => {
                    d.commands.push(desc);
                    Ok(0)
                }
                Ok(_) => Ok(-1),
                Err(e) => {
                    d.error.get_or_insert(e);
                    Ok(-1)
                }
            }
        },
    )?;
    linker.func_wrap(
        "frys",
        "arg_count",
        |mut c: Ctx<'_>| -> wasmtime::Result<i32> { Ok(call_of(&mut c)?.args().len() as i32) },
    )?;
    linker.func_wrap(
        "frys",
        "arg_len",
        |mut c: Ctx<'_>, i: i32| -> wasmtime::Result<i32> {
            let call = call_of(&mut c)?;
            Ok(usize::try_from(i)
                .ok()
                .and_then(|i| call.args().get(i))
                .map_or(-1, |a| a.len() as i32))
        },
    )?;
    linker.func_wrap(
        "frys",
        "arg_read",
        |mut c: Ctx<'_>, i: i32, dst: i32, cap: i32| -> wasmtime::Result<i32> {
            let call = call_of(&mut c)?;
            let Some(arg) = usize::try_from(i).ok().and_then(|i| call.args().get(i)) else {
                return Ok(-1);
            };
            let arg = arg.clone();
            write_out(&mut c, dst, cap, &arg)?;
            Ok(arg.len() as i32)
        },
    )?;
    linker.func_wrap(
        "frys",
        "get",
        |mut c: Ctx<'_>, kp: i32, kl: i32, dst: i32, cap: i32| -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            let value = match call_of(&mut c)?.get(&key) {
                Ok(Some(v)) => v.to_vec(),
                Ok(None) => return Ok(MISSING),
                Err(e) => return Ok(code(e)),
            };
            write_out(&mut c, dst, cap, &value)?;
            Ok(value.len() as i64)
        },
    )?;
    linker.func_wrap(
        "frys",
        "ttl_ms",
        |mut c: Ctx<'_>, kp: i32, kl: i32| -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            match call_of(&mut c)?.ttl_ms(&key) {
                Ok(Some(ms)) => Ok(ms.min(i64::MAX as u64) as i64),
                Ok(None) => Ok(MISSING),
                Err(e) => Ok(code(e)),
            }
        },
    )?;
    linker.func_wrap(
        "frys",
        "set",
        |mut c: Ctx<'_>, kp: i32, kl: i32, vp: i32, vl: i32, ttl: i64| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let value = read(&mut c, vp, vl)?;
            let ttl = (ttl > 0).then_some(ttl as u64);
            match call_of(&mut c)?.set(&key, &value, ttl) {
                Ok(()) => Ok(0),
                Err(e) => Ok(code(e) as i32),
            }
        },
    )?;
    linker.func_wrap(
        "frys",
        "del",
        |mut c: Ctx<'_>, kp: i32, kl: i32| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            match call_of(&mut c)?.delete(&key) {
                Ok(existed) => Ok(i32::from(existed)),
                Err(e) => Ok(code(e) as i32),
            }
        },
    )?;
    linker.func_wrap(
        "frys",
        "now_ms",
        |mut c: Ctx<'_>| -> wasmtime::Result<i64> { Ok(call_of(&mut c)?.now_ms() as i64) },
    )?;
    linker.func_wrap(
        "frys",
        "reply_simple",
        |mut c: Ctx<'_>, p: i32, l: i32| -> wasmtime::Result<i32> {
            let t = text(read(&mut c, p, l)?);
            reply(&mut c, Reply::Simple(crate::reply::one_line(&t)))
        },
    )?;
    linker.func_wrap(
        "frys",
        "reply_error",
        |mut c: Ctx<'_>, p: i32, l: i32| -> wasmtime::Result<i32> {
            let t = text(read(&mut c, p, l)?);
            reply(&mut c, Reply::error(&t))
        },
    )?;
    linker.func_wrap(
        "frys",
        "reply_bulk",
        |mut c: Ctx<'_>, p: i32, l: i32| -> wasmtime::Result<i32> {
            let b = read(&mut c, p, l)?;
            reply(&mut c, Reply::Bulk(b))
        },
    )?;
    linker.func_wrap(
        "frys",
        "reply_integer",
        |mut c: Ctx<'_>, n: i64| -> wasmtime::Result<i32> { reply(&mut c, Reply::Integer(n)) },
    )?;
    linker.func_wrap(
        "frys",
        "reply_null",
        |mut c: Ctx<'_>| -> wasmtime::Result<i32> { reply(&mut c, Reply::Null) },
    )?;
    linker.func_wrap(
        "frys",
        "reply_array",
        |mut c: Ctx<'_>, n: i32| -> wasmtime::Result<i32> {
            let ok = call_of(&mut c)?.reply(|r| r.array(i64::from(n)));
            Ok(if ok { 0 } else { BAD_REPLY })
        },
    )?;
    linker.func_wrap(
        "frys",
        "reply_map",
        |mut c: Ctx<'_>, n: i32| -> wasmtime::Result<i32> {
            let ok = call_of(&mut c)?.reply(|r| r.map(i64::from(n)));
            Ok(if ok { 0 } else { BAD_REPLY })
        },
    )?;
    Ok(())
}
