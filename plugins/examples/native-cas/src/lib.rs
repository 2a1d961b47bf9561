//! `NCAS key expected new`: sets `key` to `new` if it holds `expected`
//! (or is missing and `expected` is the empty string); answers 1 if it
//! set, 0 if not. `NCAS.PANIC key` panics, to show the boundary catches
//! it. `NTALLY hash zset member` counts `member` in the hash field of its
//! name and ranks it in the sorted set by that count; it answers the
//! count (the collection functions of ABI v2, and HINCRBY of v3).
//! `NRECENT key max ttl_ms value` keeps `key` a list of the `max` most
//! recent distinct values, expiring `ttl_ms` after the last one, and
//! answers it (LREM, LPUSH, LTRIM, PEXPIRE, LRANGE: ABI v3).
//! `NTOP zset min` answers the members scoring at least `min`, lowest
//! first, each followed by its score (ZRANGEBYSCORE .. WITHSCORES).

use frys_plugin_sdk::{abi, export_plugin, Ctx, Expire, KeyError, ScoreRange};

fn run(command: u32, call: &mut Ctx) -> Result<(), String> {
    let key = call.arg(1).ok_or("missing key")?;
    if command == 1 {
        panic!("ncas.panic asked for a panic");
    }
    match command {
        2 => return tally(call, &key),
        3 => return recent(call, &key),
        4 => return top(call, &key),
        _ => {}
    }
    let expected = call.arg(2).ok_or("missing expected")?;
    let new = call.arg(3).ok_or("missing new value")?;
    let current = call.get(&key).map_err(|e| match e {
        frys_plugin_sdk::KeyError::WrongType => {
            "WRONGTYPE Operation against a key holding the wrong kind of value".to_string()
        }
        e => format!("{e:?}"),
    })?;
    let matches = match current {
        Some(v) => v == expected,
        None => expected.is_empty(),
    };
    if matches {
        call.set(&key, &new, None).map_err(|e| format!("{e:?}"))?;
    }
    call.reply_integer(i64::from(matches));
    Ok(())
}

fn wrong(e: frys_plugin_sdk::KeyError) -> String {
    match e {
        frys_plugin_sdk::KeyError::WrongType => {
            "WRONGTYPE Operation against a key holding the wrong kind of value".to_string()
        }
        e => format!("{e:?}"),
    }
}

fn wrong_v3(e: KeyError) -> String {
    e.redis_error().to_string()
}

/// Argument `i` as an i64.
fn int_arg(call: &Ctx, i: usize) -> Result<i64, String> {
    call.arg(i)
        .and_then(|a| std::str::from_utf8(&a).ok()?.parse().ok())
        .ok_or_else(|| "ERR value is not an integer or out of range".to_string())
}

/// `NTALLY hash zset member`.
fn tally(call: &mut Ctx, hash: &[u8]) -> Result<(), String> {
    let zset = call.arg(2).ok_or("missing zset")?;
    let member = call.arg(3).ok_or("missing member")?;
    let count = call.hincrby(hash, &member, 1).map_err(wrong_v3)?;
    call.zadd(&zset, count as f64, &member).map_err(wrong)?;
    call.reply_integer(count);
    Ok(())
}

/// `NRECENT key max ttl_ms value`.
fn recent(call: &mut Ctx, key: &[u8]) -> Result<(), String> {
    let max = int_arg(call, 2)?;
    let ttl = int_arg(call, 3)?;
    let value = call.arg(4).ok_or("missing value")?;
    if max < 1 || ttl < 1 {
        return Err("ERR max and ttl_ms must be positive".into());
    }
    call.lrem(key, 0, &value).map_err(wrong_v3)?;
    call.push(key, true, &value).map_err(wrong_v3)?;
    call.ltrim(key, 0, max - 1).map_err(wrong_v3)?;
    call.pexpire(key, ttl, Expire::Always).map_err(wrong_v3)?;
    let items = call.lrange(key, 0, -1).map_err(wrong_v3)?;
    call.reply_array(items.len());
    for item in &items {
        call.reply_bulk(item);
    }
    Ok(())
}

/// `NTOP zset min`.
fn top(call: &mut Ctx, zset: &[u8]) -> Result<(), String> {
    let min = int_arg(call, 2)? as f64;
    let range = ScoreRange {
        min,
        min_exclusive: false,
        max: f64::INFINITY,
        max_exclusive: false,
    };
    let members = call.zrangebyscore(zset, range).map_err(wrong_v3)?;
    call.reply_array(2 * members.len());
    for (member, score) in &members {
        call.reply_bulk(member);
        call.reply_bulk(score.to_string().as_bytes());
    }
    Ok(())
}

export_plugin!(
    name: c"native-cas",
    version: 1,
    commands: [
        (c"ncas", 4, abi::FLAG_WRITE | abi::FLAG_DENYOOM | abi::FLAG_FAST, 1, 1, 1),
        (c"ncas.panic", 2, abi::FLAG_WRITE, 1, 1, 1),
        (c"ntally", 4, abi::FLAG_WRITE | abi::FLAG_DENYOOM, 1, 2, 1),
        (c"nrecent", 5, abi::FLAG_WRITE | abi::FLAG_DENYOOM, 1, 1, 1),
        (c"ntop", 3, abi::FLAG_READONLY, 1, 1, 1),
    ],
    call: run
);
