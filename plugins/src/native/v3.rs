//! The host functions ABI version 3 appends to the native table
//! (`FrysHost` after `rpop`): thin shells over the [`Call`] methods of
//! the same name, as the WASM imports are. Inputs are copied before the
//! host acts (see [`super::bytes`]); range reads copy into the plugin's
//! buffer and allocate nothing per element.

use std::ffi::c_void;

use frys_plugin_sdk::abi;

use super::{bytes, code, count, flag, the_call};
use crate::call::{Call, ExpireIf, Range};
use crate::collection::ScoreRange;

pub(super) unsafe extern "C" fn key_type(call: *mut c_void, key: *const u8, key_len: usize) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    call.key_type(&key).map_or_else(code, |t| t as i32)
}

pub(super) unsafe extern "C" fn exists(call: *mut c_void, key: *const u8, key_len: usize) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    flag(call.exists(&key))
}

pub(super) unsafe extern "C" fn ttl_ms(call: *mut c_void, key: *const u8, key_len: usize) -> i64 {
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    match call.ttl_ms(&key) {
        Ok(Some(ms)) => ms.min(i64::MAX as u64) as i64,
        Ok(None) => i64::from(abi::MISSING),
        Err(e) => i64::from(code(e)),
    }
}

pub(super) unsafe extern "C" fn pexpire(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    ms: i64,
    cond: i32,
) -> i32 {
    let Some(cond) = ExpireIf::from_code(cond) else {
        return abi::BAD_ARGS;
    };
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    flag(call.pexpire(&key, ms, cond))
}

pub(super) unsafe extern "C" fn persist(call: *mut c_void, key: *const u8, key_len: usize) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    flag(call.persist(&key))
}

pub(super) unsafe extern "C" fn lset(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    index: i64,
    value: *const u8,
    value_len: usize,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, value) =
        unsafe { (the_call(call), bytes(key, key_len), bytes(value, value_len)) };
    match call.lset(&key, index, &value) {
        Ok(true) => 0,
        Ok(false) => abi::MISSING,
        Err(e) => code(e),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "C" fn linsert(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    after: i32,
    pivot: *const u8,
    pivot_len: usize,
    value: *const u8,
    value_len: usize,
) -> i64 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, pivot, value) = unsafe {
        (
            the_call(call),
            bytes(key, key_len),
            bytes(pivot, pivot_len),
            bytes(value, value_len),
        )
    };
    call.linsert(&key, after != 0, &pivot, &value)
        .unwrap_or_else(|e| i64::from(code(e)))
}

pub(super) unsafe extern "C" fn lrem(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    n: i64,
    value: *const u8,
    value_len: usize,
) -> i64 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, value) =
        unsafe { (the_call(call), bytes(key, key_len), bytes(value, value_len)) };
    count(call.lrem(&key, n, &value))
}

pub(super) unsafe extern "C" fn ltrim(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
) -> i32 {
    // SAFETY: called by the plugin with the table's `call` and its key.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    call.ltrim(&key, start, stop).map_or_else(code, |()| 0)
}

/// Copies `what` of `key` into the plugin's `dst` / `cap`. A `cap` past
/// `isize::MAX` (no buffer is that large: a plugin passing `SIZE_MAX` for
/// "no limit") is `BAD_ARGS`; a NULL `dst` is an empty buffer.
///
/// # Safety
/// `call` is the table's, the [`Call`] of the call running now (nothing
/// else refers to it while the plugin is in a host function); `key` /
/// `key_len` are readable bytes of the plugin (or `key_len` is 0); `dst`
/// is NULL or `cap` writable bytes of the plugin's own memory, which the
/// host neither lent it nor refers to (ABI.md: never a pointer a host
/// function returned), so the slice made of it aliases nothing the
/// `Call` holds.
unsafe fn range_into(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    what: Range,
    dst: *mut u8,
    cap: usize,
) -> i64 {
    if isize::try_from(cap).is_err() {
        return i64::from(abi::BAD_ARGS);
    }
    // SAFETY: `call` and `key` / `key_len` per the function's contract.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    let out: &mut [u8] = if dst.is_null() || cap == 0 {
        &mut []
    } else {
        // SAFETY: `dst` is non-null and, per the contract, `cap` writable
        // bytes of the plugin's own memory (one object, so aligned for u8
        // and in bounds), aliasing nothing the host holds, `cap <=
        // isize::MAX` (checked above); the slice lives only until this
        // function returns and is not kept.
        unsafe { std::slice::from_raw_parts_mut(dst, cap) }
    };
    match call.range(&key, what, out) {
        Ok(n) => n as i64,
        Err(e) => i64::from(code(e)),
    }
}

pub(super) unsafe extern "C" fn lrange(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
    dst: *mut u8,
    cap: usize,
) -> i64 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    unsafe { range_into(call, key, key_len, Range::List { start, stop }, dst, cap) }
}

pub(super) unsafe extern "C" fn zrange(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
    dst: *mut u8,
    cap: usize,
) -> i64 {
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    unsafe { range_into(call, key, key_len, Range::Rank { start, stop }, dst, cap) }
}

#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "C" fn zrangebyscore(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    min: f64,
    max: f64,
    flags: i32,
    offset: i64,
    dst: *mut u8,
    cap: usize,
) -> i64 {
    if flags & !3 != 0 {
        return i64::from(abi::BAD_ARGS);
    }
    let range = ScoreRange {
        min,
        min_exclusive: flags & 1 != 0,
        max,
        max_exclusive: flags & 2 != 0,
    };
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    unsafe { range_into(call, key, key_len, Range::Score { range, offset }, dst, cap) }
}

pub(super) unsafe extern "C" fn hincrby(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
    by: i64,
    out: *mut i64,
) -> i32 {
    if out.is_null() {
        return abi::BAD_ARGS;
    }
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, field): (&mut Call, _, _) =
        unsafe { (the_call(call), bytes(key, key_len), bytes(field, field_len)) };
    match call.hincrby(&key, &field, by) {
        Ok(n) => {
            // SAFETY: `out` is non-null (checked above) and, per ABI.md,
            // 8 writable bytes of the plugin's own memory (never data the
            // host lent: writing it aliases nothing the `Call` holds);
            // written unaligned, so its alignment does not matter.
            unsafe { out.write_unaligned(n) };
            0
        }
        Err(e) => code(e),
    }
}

pub(super) unsafe extern "C" fn zincrby(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    by: f64,
    member: *const u8,
    member_len: usize,
    out: *mut f64,
) -> i32 {
    if out.is_null() {
        return abi::BAD_ARGS;
    }
    // SAFETY: called by the plugin with the table's `call` and its buffers.
    let (call, key, member) = unsafe {
        (
            the_call(call),
            bytes(key, key_len),
            bytes(member, member_len),
        )
    };
    match call.zincrby(&key, by, &member) {
        Ok(s) => {
            // SAFETY: as in `hincrby`: non-null, 8 writable bytes of the
            // plugin's own memory, written unaligned.
            unsafe { out.write_unaligned(s) };
            0
        }
        Err(e) => code(e),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::call::Value;
    use crate::collection::Collection;

    fn call() -> Call {
        let keys = vec![
            (
                b"l".to_vec(),
                Value::Collection {
                    items: Collection::List([b"a".to_vec()].into()),
                    expires_at_ms: None,
                },
            ),
            (
                b"h".to_vec(),
                Value::Collection {
                    items: Collection::Hash(BTreeMap::from([(b"n".to_vec(), b"41".to_vec())])),
                    expires_at_ms: None,
                },
            ),
            (
                b"z".to_vec(),
                Value::Collection {
                    items: Collection::ZSet(BTreeMap::from([(b"m".to_vec(), 1.5)])),
                    expires_at_ms: None,
                },
            ),
        ];
        Call::new(vec![b"x".to_vec()], keys, 1000)
    }

    fn ptr(c: &mut Call) -> *mut c_void {
        (c as *mut Call).cast()
    }

    #[test]
    fn a_range_buffer_size_past_isize_max_is_bad_args() {
        let mut c = call();
        let mut buf = [0u8; 16];
        let read = |c: &mut Call, buf: &mut [u8; 16], cap: usize| {
            // SAFETY: `c` is a live Call used by nothing else, the key a
            // live slice, `buf` 16 writable bytes (a `cap` past them is
            // what is under test: it must be refused before any write).
            unsafe { lrange(ptr(c), b"l".as_ptr(), 1, 0, -1, buf.as_mut_ptr(), cap) }
        };
        for cap in [usize::MAX, isize::MAX as usize + 1] {
            assert_eq!(read(&mut c, &mut buf, cap), i64::from(abi::BAD_ARGS));
        }
        assert_eq!(buf, [0; 16], "nothing written");
        let whole = buf.len();
        assert_eq!(read(&mut c, &mut buf, whole), 1);
        assert_eq!(&buf[..5], b"\x01\0\0\0a");
    }

    #[test]
    fn number_outputs_may_be_unaligned() {
        let mut c = call();
        let mut buf = [0u8; 9];
        let out = buf[1..].as_mut_ptr();
        // SAFETY: a live Call and key / field slices; `out` is 8 writable
        // bytes (at an odd address: not aligned for i64 / f64).
        let rc = unsafe {
            hincrby(
                ptr(&mut c),
                b"h".as_ptr(),
                1,
                b"n".as_ptr(),
                1,
                1,
                out.cast(),
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(i64::from_ne_bytes(buf[1..].try_into().unwrap()), 42);
        // SAFETY: as above.
        let rc = unsafe {
            zincrby(
                ptr(&mut c),
                b"z".as_ptr(),
                1,
                1.0,
                b"m".as_ptr(),
                1,
                out.cast(),
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(f64::from_ne_bytes(buf[1..].try_into().unwrap()), 2.5);
        buf = [0; 9];
        let out = buf[1..].as_mut_ptr();
        // SAFETY: as above.
        let rc = unsafe {
            super::super::zscore(ptr(&mut c), b"z".as_ptr(), 1, b"m".as_ptr(), 1, out.cast())
        };
        assert_eq!(rc, 0);
        assert_eq!(f64::from_ne_bytes(buf[1..].try_into().unwrap()), 2.5);
    }
}
