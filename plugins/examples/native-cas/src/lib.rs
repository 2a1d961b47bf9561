//! `NCAS key expected new`: sets `key` to `new` if it holds `expected`
//! (or is missing and `expected` is the empty string); answers 1 if it
//! set, 0 if not. `NCAS.PANIC key` panics, to show the boundary catches
//! it.

use frys_plugin_sdk::{abi, export_plugin, Ctx};

fn run(command: u32, call: &mut Ctx) -> Result<(), String> {
    let key = call.arg(1).ok_or("missing key")?;
    if command == 1 {
        panic!("ncas.panic asked for a panic");
    }
    let expected = call.arg(2).ok_or("missing expected")?;
    let new = call.arg(3).ok_or("missing new value")?;
    let current = call.get(&key).map_err(|e| match e {
        frys_plugin_sdk::KeyError::WrongType => {
            "WRONGTYPE Operation against a key holding the wrong kind of value".to_string()
        }
        frys_plugin_sdk::KeyError::Undeclared => "undeclared key".to_string(),
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

export_plugin!(
    name: c"native-cas",
    version: 1,
    commands: [
        (c"ncas", 4, abi::FLAG_WRITE | abi::FLAG_DENYOOM | abi::FLAG_FAST, 1, 1, 1),
        (c"ncas.panic", 2, abi::FLAG_WRITE, 1, 1, 1),
    ],
    call: run
);
