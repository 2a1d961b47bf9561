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

/// Copies `what` of `key` into the plugin's `dst` / `cap`.
///
/// # Safety
/// `call` is the table's; `key` / `key_len` and `dst` / `cap` are the
/// plugin's buffers (`dst` writable, not overlapping the host's data:
/// it is the plugin's own memory).
unsafe fn range_into(
    call: *mut c_void,
    key: *const u8,
    key_len: usize,
    what: Range,
    dst: *mut u8,
    cap: usize,
) -> i64 {
    // SAFETY: per the function's contract.
    let (call, key) = unsafe { (the_call(call), bytes(key, key_len)) };
    let out: &mut [u8] = if dst.is_null() || cap == 0 {
        &mut []
    } else {
        // SAFETY: the plugin passes `cap` writable bytes at `dst`, its own
        // buffer, used only for this call and not kept.
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
            // SAFETY: a non-null out-pointer the plugin passed for writing.
            unsafe { *out = n };
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
            // SAFETY: a non-null out-pointer the plugin passed for writing.
            unsafe { *out = s };
            0
        }
        Err(e) => code(e),
    }
}
