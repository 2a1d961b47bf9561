//! `plugin-max-write-bytes` against the ABI v3 functions that write more
//! than their arguments (C test plugin `ops3`, WASM `P.*` and native
//! `N.*`): LINSERT and LREM rewrite a stored list, LTRIM deletes each
//! element it drops, PEXPIRE and PERSIST on a string rewrite its value.
//! Under a limit below what the call would write, each is refused with
//! the limit's error and the key is as it was; and the SDK answers a
//! refused PEXPIRE with PEXPIRE's error text.

use super::{load, server, server_with};
use crate::common::*;

/// The write limit of these cases, in bytes.
const LIMIT: &str = "10000";

/// Elements (100 bytes each: 100 kB in all, ten times [`LIMIT`]).
fn elements() -> Vec<String> {
    (0..1000).map(|i| format!("{i:0100}")).collect()
}

/// What `key` holds, as the built-in commands read it.
fn held(c: &mut redis::Connection, key: &str) -> (redis::Value, redis::Value, i64) {
    let kind = q(c, &["TYPE", key]);
    let value = if kind == redis::Value::SimpleString("list".into()) {
        q(c, &["LRANGE", key, "0", "-1"])
    } else {
        q(c, &["GET", key])
    };
    (kind, value, qa(c, &["PTTL", key]))
}

#[test]
fn v3_functions_that_rewrite_a_key_respect_plugin_max_write_bytes() {
    let elements = elements();
    let (first, middle) = (elements[0].as_str(), elements[500].as_str());
    for (file, prefix, name) in [("ops3.wasm", "p.", "ops3"), ("ops3n.so", "n.", "ops3n")] {
        let s = server_with(1, &["--plugin-max-write-bytes", LIMIT]);
        let mut c = s.conn();
        load(&mut c, file, &[]);
        let mut push = vec!["RPUSH", "big"];
        push.extend(elements.iter().map(String::as_str));
        q(&mut c, &push);
        q(&mut c, &["SET", "str", &"v".repeat(100_000)]);
        q(
            &mut c,
            &["SET", "str-ttl", &"v".repeat(100_000), "PX", "1000000"],
        );
        let refused = format!(
            "ERR plugin '{name}' wrote more than {LIMIT} bytes in one call (plugin-max-write-bytes)"
        );
        for (cmd, key) in [
            (&["linsert", "big", "BEFORE", first, "x"] as &[&str], "big"),
            (&["lrem", "big", "1", middle], "big"),
            (&["ltrim", "big", "0", "0"], "big"),
            (&["pexpire", "str", "1000000"], "str"),
            (&["persist", "str-ttl"], "str-ttl"),
        ] {
            let before = held(&mut c, key);
            let mut args = vec![format!("{prefix}{}", cmd[0])];
            args.extend(cmd[1..].iter().map(|a| a.to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_eq!(err(&mut c, &args), refused, "{args:?}");
            let after = held(&mut c, key);
            assert_eq!((&after.0, &after.1), (&before.0, &before.1), "{args:?}");
            assert_eq!(after.2 > 0, before.2 > 0, "{args:?}: the expiry");
        }
        // What fits the limit still runs: a short list.
        q(&mut c, &["RPUSH", "small", "a", "b", "c"]);
        let linsert = format!("{prefix}linsert");
        assert_eq!(
            qa::<i64>(&mut c, &[&linsert, "small", "AFTER", "a", "x"]),
            4
        );
        let got: Vec<String> = qa(&mut c, &["LRANGE", "small", "0", "-1"]);
        assert_eq!(got, ["a", "x", "b", "c"]);
    }
}

/// The SDK names a refused PEXPIRE as PEXPIRE does (not as LSET, which
/// shares its host code): NRECENT's LREM, LPUSH, LTRIM, PEXPIRE with a
/// TTL past the clock answers what the built-in sequence answers.
#[test]
fn the_sdk_answers_a_pexpire_past_the_clock_with_pexpire_s_error() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "native_cas.so", &[]);
    let ttl = i64::MAX.to_string();
    q(&mut c, &["LPUSH", "recent-b", "v"]);
    let want = err(&mut c, &["PEXPIRE", "recent-b", &ttl]);
    assert_eq!(want, "ERR invalid expire time in 'pexpire' command");
    assert_eq!(err(&mut c, &["NRECENT", "recent-p", "5", &ttl, "v"]), want);
    assert_eq!(
        qa::<i64>(&mut c, &["EXISTS", "recent-p"]),
        0,
        "nothing written"
    );
}
