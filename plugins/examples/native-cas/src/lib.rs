//! `NCAS key expected new`: sets `key` to `new` if it holds `expected`
//! (or is missing and `expected` is the empty string); answers 1 if it
//! set, 0 if not. `NCAS.PANIC key` panics, to show the boundary catches
//! it. `NTALLY hash zset member` counts `member` in the hash field of its
//! name and ranks it in the sorted set by that count; it answers the
//! count (the collection functions of ABI v2).

use frys_plugin_sdk::{abi, export_plugin, Ctx};

fn run(command: u32, call: &mut Ctx) -> Result<(), String> {
    let key = call.arg(1).ok_or("missing key")?;
    if command == 1 {
        panic!("ncas.panic asked for a panic");
    }
    if command == 2 {
        return tally(call, &key);
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

/// `NTALLY hash zset member`.
fn tally(call: &mut Ctx, hash: &[u8]) -> Result<(), String> {
    let zset = call.arg(2).ok_or("missing zset")?;
    let member = call.arg(3).ok_or("missing member")?;
    let count = match call.hget(hash, &member).map_err(wrong)? {
        Some(v) => std::str::from_utf8(&v)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or("hash value is not an integer")?,
        None => 0,
    } + 1;
    call.hset(hash, &member, count.to_string().as_bytes())
        .map_err(wrong)?;
    call.zadd(&zset, count as f64, &member).map_err(wrong)?;
    call.reply_integer(count);
    Ok(())
}

export_plugin!(
    name: c"native-cas",
    version: 1,
    commands: [
        (c"ncas", 4, abi::FLAG_WRITE | abi::FLAG_DENYOOM | abi::FLAG_FAST, 1, 1, 1),
        (c"ncas.panic", 2, abi::FLAG_WRITE, 1, 1, 1),
        (c"ntally", 4, abi::FLAG_WRITE | abi::FLAG_DENYOOM, 1, 2, 1),
    ],
    call: run
);
