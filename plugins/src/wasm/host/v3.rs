//! The imports ABI version 3 adds (`plugins/ABI.md`): key types,
//! existence and expiry of any key, the list edits, HINCRBY / ZINCRBY and
//! the range reads, each a thin shell over the [`Call`] method of the
//! same name. Range reads copy into the plugin's buffer in place (its
//! bounds checked first): the host allocates nothing per element.

use wasmtime::{format_err, Linker};

use super::{call_of, code, memory, range, read, status, Ctx, HostState};
use crate::call::{AccessError, Call, ExpireIf, Range};
use crate::collection::ScoreRange;

/// Copies `range` of `key` into the plugin's `dst` / `cap`: records
/// written, or an error code.
fn range_into(
    c: &mut Ctx<'_>,
    key: &[u8],
    what: Range,
    dst: i32,
    cap: i32,
) -> wasmtime::Result<i64> {
    let mem = memory(c)?;
    let (data, state) = mem.data_and_store_mut(c);
    let r = range(data.len(), dst, cap)?;
    let call = state
        .call
        .as_mut()
        .ok_or_else(|| format_err!("key and reply functions work only during frys_call"))?;
    Ok(match call.range(key, what, &mut data[r]) {
        Ok(n) => n as i64,
        Err(e) => code(e),
    })
}

/// Writes the 8 bytes `v` at the plugin's `out`.
fn put8(c: &mut Ctx<'_>, out: i32, v: [u8; 8]) -> wasmtime::Result<()> {
    let mem = memory(c)?;
    let data = mem.data_mut(c);
    let r = range(data.len(), out, 8)?;
    data[r].copy_from_slice(&v);
    Ok(())
}

/// Defines a `(key_ptr, key_len) -> i32` import over `f`.
fn define_key(
    linker: &mut Linker<HostState>,
    name: &str,
    f: fn(&mut Call, &[u8]) -> Result<i64, AccessError>,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        "frys",
        name,
        move |mut c: Ctx<'_>, kp: i32, kl: i32| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            Ok(status(f(call_of(&mut c)?, &key)))
        },
    )?;
    Ok(())
}

/// Defines the version-3 imports.
pub(super) fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    define_key(linker, "key_type", |c, k| c.key_type(k).map(|t| t as i64))?;
    define_key(linker, "exists", |c, k| c.exists(k).map(i64::from))?;
    define_key(linker, "persist", |c, k| c.persist(k).map(i64::from))?;
    linker.func_wrap(
        "frys",
        "pexpire",
        |mut c: Ctx<'_>, kp: i32, kl: i32, ms: i64, cond: i32| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let cond = ExpireIf::from_code(cond)
                .ok_or_else(|| format_err!("pexpire: no condition {cond} (0 to 4)"))?;
            Ok(status(
                call_of(&mut c)?.pexpire(&key, ms, cond).map(i64::from),
            ))
        },
    )?;
    linker.func_wrap(
        "frys",
        "lset",
        |mut c: Ctx<'_>, kp: i32, kl: i32, index: i64, vp: i32, vl: i32| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let value = read(&mut c, vp, vl)?;
            Ok(match call_of(&mut c)?.lset(&key, index, &value) {
                Ok(true) => 0,
                Ok(false) => super::MISSING as i32,
                Err(e) => code(e) as i32,
            })
        },
    )?;
    linker.func_wrap(
        "frys",
        "linsert",
        |mut c: Ctx<'_>,
         kp: i32,
         kl: i32,
         after: i32,
         pp: i32,
         pl: i32,
         vp: i32,
         vl: i32|
         -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            let pivot = read(&mut c, pp, pl)?;
            let value = read(&mut c, vp, vl)?;
            let r = call_of(&mut c)?.linsert(&key, after != 0, &pivot, &value);
            Ok(r.unwrap_or_else(code))
        },
    )?;
    linker.func_wrap(
        "frys",
        "lrem",
        |mut c: Ctx<'_>, kp: i32, kl: i32, count: i64, vp: i32, vl: i32| -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            let value = read(&mut c, vp, vl)?;
            let r = call_of(&mut c)?.lrem(&key, count, &value);
            Ok(super::count(r))
        },
    )?;
    linker.func_wrap(
        "frys",
        "ltrim",
        |mut c: Ctx<'_>, kp: i32, kl: i32, start: i64, stop: i64| -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let r = call_of(&mut c)?.ltrim(&key, start, stop);
            Ok(status(r.map(|()| 0i64)))
        },
    )?;
    for (name, list) in [("lrange", true), ("zrange", false)] {
        linker.func_wrap(
            "frys",
            name,
            move |mut c: Ctx<'_>,
                  kp: i32,
                  kl: i32,
                  start: i64,
                  stop: i64,
                  dst: i32,
                  cap: i32|
                  -> wasmtime::Result<i64> {
                let key = read(&mut c, kp, kl)?;
                let what = if list {
                    Range::List { start, stop }
                } else {
                    Range::Rank { start, stop }
                };
                range_into(&mut c, &key, what, dst, cap)
            },
        )?;
    }
    linker.func_wrap(
        "frys",
        "zrangebyscore",
        |mut c: Ctx<'_>,
         kp: i32,
         kl: i32,
         min: f64,
         max: f64,
         flags: i32,
         offset: i64,
         dst: i32,
         cap: i32|
         -> wasmtime::Result<i64> {
            let key = read(&mut c, kp, kl)?;
            if flags & !3 != 0 {
                return Err(format_err!("zrangebyscore: unknown flags {flags} (1 | 2)"));
            }
            let range = ScoreRange {
                min,
                min_exclusive: flags & 1 != 0,
                max,
                max_exclusive: flags & 2 != 0,
            };
            range_into(&mut c, &key, Range::Score { range, offset }, dst, cap)
        },
    )?;
    linker.func_wrap(
        "frys",
        "hincrby",
        |mut c: Ctx<'_>,
         kp: i32,
         kl: i32,
         fp: i32,
         fl: i32,
         by: i64,
         out: i32|
         -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let field = read(&mut c, fp, fl)?;
            match call_of(&mut c)?.hincrby(&key, &field, by) {
                Ok(n) => put8(&mut c, out, n.to_le_bytes()).map(|()| 0),
                Err(e) => Ok(code(e) as i32),
            }
        },
    )?;
    linker.func_wrap(
        "frys",
        "zincrby",
        |mut c: Ctx<'_>,
         kp: i32,
         kl: i32,
         by: f64,
         mp: i32,
         ml: i32,
         out: i32|
         -> wasmtime::Result<i32> {
            let key = read(&mut c, kp, kl)?;
            let member = read(&mut c, mp, ml)?;
            match call_of(&mut c)?.zincrby(&key, by, &member) {
                Ok(s) => put8(&mut c, out, s.to_le_bytes()).map(|()| 0),
                Err(e) => Ok(code(e) as i32),
            }
        },
    )?;
    Ok(())
}
