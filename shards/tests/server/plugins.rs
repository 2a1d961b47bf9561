//! Plugins against the real binary: the WASM examples (C: THROTTLE, CAS,
//! PGET)
//! and the native CAS (Rust SDK) built from source here, the sandbox's
//! test plugins (WAT: a loop, a memory hog, an undeclared write, a trap
//! after a write), signatures, RELOAD under load, routing to the core
//! that owns the keys, calls over keys on both cores (C: `test/xfer.c`,
//! `test/xfer_native.c`: atomicity against INCR and MULTI, traps, an
//! undeclared key, the snapshot budget, CROSSSLOT in cluster mode; and
//! `test/rekey.c` in [`order`]: a RELOAD between routing and running;
//! [`poisoned`]: a partition refusing writes), and
//! what COMMAND / MODULE LIST show; the
//! collection functions of ABI v2 (C: `test/coll.c`, and the native
//! NTALLY): each family, counts, emptied keys, traps, the element cap, the
//! write limit, blocked clients, WRONGTYPE; the functions of ABI v3
//! ([`ops3`], C: `test/ops3.c` built for WASM and native) against the
//! server's own commands.
//!
//! Needs `clang`, `wasm-ld` (Debian `clang lld`) and `wat2wasm` (`wabt`);
//! `scripts/test.sh` installs them when missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;
use redis::Value;

mod ops3;
mod ops3_limits;
mod order;
mod poisoned;

/// Where the plugins are built, once per test binary.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        // Cargo's scratch dir for tests: reused by the next run, not leaked.
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins");
        std::fs::create_dir_all(&out).expect("plugin dir");
        let examples = root.join("plugins/examples");
        for name in ["cas", "throttle", "pget"] {
            run(Command::new("clang")
                .args([
                    "--target=wasm32",
                    "-O2",
                    "-nostdlib",
                    "-Wl,--no-entry",
                    "-o",
                ])
                .arg(out.join(format!("{name}.wasm")))
                .arg(examples.join(format!("wasm/{name}.c"))));
        }
        run(Command::new("clang")
            .args(["--target=wasm32", "-O2", "-nostdlib", "-Wl,--no-entry"])
            // Declares version 2: a v2 plugin runs unchanged on a v3 host.
            .args(["-DFRYS_ABI_VERSION=2", "-o"])
            .arg(out.join("coll.wasm"))
            .arg(examples.join("test/coll.c")));
        run(Command::new("clang")
            .args([
                "--target=wasm32",
                "-O2",
                "-nostdlib",
                "-Wl,--no-entry",
                "-o",
            ])
            .arg(out.join("ops3.wasm"))
            .arg(examples.join("test/ops3.c")));
        run(Command::new("clang")
            .args(["-shared", "-fPIC", "-DFRYS_NATIVE", "-o"])
            .arg(out.join("ops3n.so"))
            .arg(examples.join("test/ops3.c")));
        for name in ["spin", "hog", "sneaky", "crash", "future_abi", "pair"] {
            run(Command::new("wat2wasm")
                .arg(examples.join(format!("test/{name}.wat")))
                .arg("-o")
                .arg(out.join(format!("{name}.wasm"))));
        }
        run(Command::new("clang")
            .args([
                "--target=wasm32",
                "-O2",
                "-nostdlib",
                "-Wl,--no-entry",
                "-o",
            ])
            .arg(out.join("xfer.wasm"))
            .arg(examples.join("test/xfer.c")));
        for version in [1, 2] {
            run(Command::new("clang")
                .args(["--target=wasm32", "-O2", "-nostdlib", "-Wl,--no-entry"])
                .arg(format!("-DREKEY_VERSION={version}"))
                .arg("-o")
                .arg(out.join(format!("rekey{version}.wasm")))
                .arg(examples.join("test/rekey.c")));
        }
        for name in [
            "future_abi_native",
            "v1_native",
            "lent_native",
            "xfer_native",
        ] {
            run(Command::new("clang")
                .args(["-shared", "-fPIC", "-o"])
                .arg(out.join(format!("{name}.so")))
                .arg(examples.join(format!("test/{name}.c"))));
        }
        // The SDK example has no dependency but the SDK: a separate target
        // dir keeps it clear of the outer cargo's lock and costs seconds.
        let target = out.join("native-target");
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "frys-plugin-native-cas",
                    "--target-dir",
                ])
                .arg(&target)
                .current_dir(&root),
        );
        std::fs::copy(
            target.join("debug/libfrys_plugin_native_cas.so"),
            out.join("native_cas.so"),
        )
        .expect("native example built");
        out
    })
}

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test.sh installs clang, lld, wabt)"));
    assert!(status.success(), "{cmd:?} failed");
}

fn plugin(name: &str) -> String {
    built().join(name).display().to_string()
}

/// A server that loads unsigned plugins. Calls get a deadline far above
/// what they need, so a descheduled core on a loaded machine does not
/// time them out (the deadline tests set theirs per plugin).
fn server(cores: usize) -> Server {
    server_with(cores, &[])
}

/// [`server`] with more settings.
fn server_with(cores: usize, extra: &[&str]) -> Server {
    let mut args = vec![
        "--plugin-allow-unsigned",
        "yes",
        "--plugin-timeout-ms",
        "10000",
    ];
    args.extend_from_slice(extra);
    Server::start_with(cores, &args)
}

fn load(c: &mut redis::Connection, file: &str, config: &[&str]) {
    let path = plugin(file);
    let mut args = vec!["PLUGIN", "LOAD", path.as_str()];
    if !config.is_empty() {
        args.push("CONFIG");
        args.extend_from_slice(config);
    }
    assert_eq!(q(c, &args), Value::Okay, "{file}");
}

#[test]
fn cas_and_throttle_run_on_the_core_that_owns_each_key() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "cas.wasm", &[]);
    load(&mut c, "throttle.wasm", &[]);
    for core in 0..2 {
        for key in keys_on_core("cas", core, 2, 3) {
            assert_eq!(qa::<i64>(&mut c, &["CAS", &key, "", "v1"]), 1, "{key}");
            assert_eq!(qa::<i64>(&mut c, &["CAS", &key, "nope", "v2"]), 0);
            assert_eq!(qa::<i64>(&mut c, &["cas", &key, "v1", "v2"]), 1);
            assert_eq!(qa::<String>(&mut c, &["GET", &key]), "v2");
        }
        for key in keys_on_core("bucket", core, 2, 2) {
            let answers: Vec<Vec<i64>> = (0..4)
                .map(|_| qa(&mut c, &["THROTTLE", &key, "3", "3600"]))
                .collect();
            assert_eq!(
                answers,
                vec![vec![1, 2], vec![1, 1], vec![1, 0], vec![0, 0]],
                "{key}"
            );
            let ttl: i64 = qa(&mut c, &["PTTL", &key]);
            assert!(ttl > 0 && ttl <= 3_600_000, "{ttl}");
        }
    }
    load(&mut c, "pget.wasm", &[]);
    for core in 0..2 {
        let key = &keys_on_core("g", core, 2, 1)[0];
        assert_eq!(q(&mut c, &["PGET", key]), Value::Nil);
        q(&mut c, &["SET", key, "value"]);
        assert_eq!(q(&mut c, &["PGET", key]), bulk("value"));
    }
    q(&mut c, &["RPUSH", "alist", "x"]);
    assert!(err(&mut c, &["CAS", "alist", "", "v"]).starts_with("WRONGTYPE"));
    assert!(err(&mut c, &["PGET", "alist"]).starts_with("WRONGTYPE"));
    assert_eq!(err(&mut c, &["CAS", "k"]), arity_error("cas"));
    assert!(err(&mut c, &["THROTTLE", "t", "0", "1"]).starts_with("ERR capacity"));
}

#[test]
fn the_examples_work_from_redis_cli() {
    let s = server(2);
    for file in ["cas.wasm", "throttle.wasm", "native_cas.so"] {
        assert_eq!(
            redis_cli(&s, &["PLUGIN", "LOAD", &plugin(file)]),
            "OK\n",
            "{file}"
        );
    }
    for core in 0..2 {
        let key = &keys_on_core("cli", core, 2, 1)[0];
        assert_eq!(redis_cli(&s, &["CAS", key, "", "v1"]), "1\n");
        assert_eq!(redis_cli(&s, &["CAS", key, "nope", "v2"]), "0\n");
        assert_eq!(redis_cli(&s, &["GET", key]), "v1\n");
        let bucket = &keys_on_core("clibucket", core, 2, 1)[0];
        assert_eq!(redis_cli(&s, &["THROTTLE", bucket, "2", "3600"]), "1\n1\n");
        assert_eq!(redis_cli(&s, &["THROTTLE", bucket, "2", "3600"]), "1\n0\n");
        assert_eq!(redis_cli(&s, &["THROTTLE", bucket, "2", "3600"]), "0\n0\n");
        let native = &keys_on_core("clin", core, 2, 1)[0];
        assert_eq!(redis_cli(&s, &["NCAS", native, "", "a"]), "1\n");
        assert_eq!(redis_cli(&s, &["NCAS", native, "b", "c"]), "0\n");
    }
    // Errors come back as redis-cli prints them (without a terminal: the
    // text after the dash, then an empty line).
    assert_eq!(
        redis_cli(&s, &["CAS", "k"]).trim_end(),
        "ERR wrong number of arguments for 'cas' command"
    );
    let modules = redis_cli(&s, &["MODULE", "LIST"]);
    for name in ["cas", "throttle", "native-cas"] {
        assert!(
            modules.contains(name),
            "MODULE LIST names {name}: {modules}"
        );
    }
}

#[test]
fn a_looping_plugin_is_stopped_at_its_deadline_and_the_next_call_works() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "spin.wasm", &["timeout-ms", "20"]);
    load(&mut c, "cas.wasm", &[]);
    for _ in 0..2 {
        assert_eq!(
            err(&mut c, &["SPIN", "k"]),
            "ERR plugin 'spin' timed out after 20 ms"
        );
        assert_eq!(qa::<i64>(&mut c, &["CAS", "k", "", "x"]), 1);
        assert_eq!(q(&mut c, &["DEL", "k"]), Value::Int(1));
    }
    let info: String = qa(&mut c, &["INFO", "plugins"]);
    assert!(
        info.contains("plugincmd_spin:calls=2,errors=2,traps=0,timeouts=2,"),
        "{info}"
    );
    assert!(info.contains("plugincmd_cas:calls=2,errors=0,"), "{info}");
    // RELOAD keeps the CONFIG the plugin was loaded with.
    assert_eq!(q(&mut c, &["PLUGIN", "RELOAD", "spin"]), Value::Okay);
    assert_eq!(
        err(&mut c, &["SPIN", "k"]),
        "ERR plugin 'spin' timed out after 20 ms"
    );
    assert_eq!(q(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
}

#[test]
fn a_plugin_growing_past_its_memory_cap_traps() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "hog.wasm", &["memory-limit", "2mb"]);
    for _ in 0..2 {
        assert_eq!(
            err(&mut c, &["HOG", "k"]),
            "ERR plugin 'hog' trapped: memory limit of 2097152 bytes exceeded"
        );
    }
    let info: String = qa(&mut c, &["INFO", "plugins"]);
    assert!(
        info.contains("plugincmd_hog:calls=2,errors=2,traps=2,"),
        "{info}"
    );
    assert!(err(
        &mut c,
        &[
            "PLUGIN",
            "LOAD",
            &plugin("hog.wasm"),
            "CONFIG",
            "memory-limit",
            "1"
        ]
    )
    .starts_with("ERR memory-limit"));
}

#[test]
fn an_undeclared_key_write_is_refused_and_changes_nothing() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "sneaky.wasm", &[]);
    q(&mut c, &["SET", "mine", "before"]);
    assert_eq!(
        err(&mut c, &["SNEAKY", "mine"]),
        "ERR plugin 'sneaky' accessed key 'other' that the call did not declare"
    );
    assert_eq!(qa::<String>(&mut c, &["GET", "mine"]), "before");
    assert_eq!(q(&mut c, &["EXISTS", "other"]), Value::Int(0));
}

#[test]
fn a_trap_after_a_write_leaves_the_key_unchanged() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "crash.wasm", &[]);
    q(&mut c, &["SET", "k", "original"]);
    let e = err(&mut c, &["CRASH", "k"]);
    assert!(e.starts_with("ERR plugin 'crash' trapped: "), "{e}");
    assert_eq!(qa::<String>(&mut c, &["GET", "k"]), "original");
    assert!(err(&mut c, &["CRASH", "missing"]).contains("trapped"));
    assert_eq!(q(&mut c, &["EXISTS", "missing"]), Value::Int(0));
}

#[test]
fn plugins_declaring_another_abi_version_are_refused_naming_both() {
    let s = server(1);
    let mut c = s.conn();
    let e = err(&mut c, &["PLUGIN", "LOAD", &plugin("future_abi.wasm")]);
    assert!(
        e.ends_with("plugin ABI version 4, this server supports versions 1 to 3"),
        "{e}"
    );
    let e = err(&mut c, &["PLUGIN", "LOAD", &plugin("future_abi_native.so")]);
    assert!(
        e.ends_with("native plugin ABI version 4, this server supports versions 1 to 3"),
        "{e}"
    );
    let e = err(&mut c, &["PLUGIN", "LOAD", "/no/such/plugin.wasm"]);
    assert!(
        e.starts_with("ERR plugin /no/such/plugin.wasm: cannot read"),
        "{e}"
    );
    assert_eq!(q(&mut c, &["PLUGIN", "LIST"]), Value::Array(vec![]));
}

#[test]
fn version_1_plugins_still_load_and_run() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "v1_native.so", &[]);
    // crash.wasm declares version 1 too.
    load(&mut c, "crash.wasm", &[]);
    assert_eq!(q(&mut c, &["V1GET", "k"]), Value::Nil);
    q(&mut c, &["SET", "k", "v"]);
    assert_eq!(q(&mut c, &["V1GET", "k"]), bulk("v"));
    q(&mut c, &["RPUSH", "l", "x"]);
    assert!(err(&mut c, &["V1GET", "l"]).contains("failed with code -2"));
}

#[test]
fn the_native_cas_works_and_its_panics_are_caught() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "native_cas.so", &[]);
    for core in 0..2 {
        let key = &keys_on_core("n", core, 2, 1)[0];
        assert_eq!(qa::<i64>(&mut c, &["NCAS", key, "", "a"]), 1);
        assert_eq!(qa::<i64>(&mut c, &["NCAS", key, "b", "c"]), 0);
        assert_eq!(qa::<String>(&mut c, &["GET", key]), "a");
    }
    assert_eq!(
        err(&mut c, &["NCAS.PANIC", "k"]),
        "ERR plugin 'native-cas' trapped: the native plugin panicked"
    );
    assert_eq!(qa::<i64>(&mut c, &["NCAS", "k", "", "z"]), 1);
    assert!(err(&mut c, &["PLUGIN", "RELOAD", "native-cas"]).contains("only WASM"));
}

#[test]
fn unsigned_and_tampered_plugins_are_refused_and_signed_ones_load() {
    let bin = env!("CARGO_BIN_EXE_shard-server");
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("secret");
    let out = Command::new(bin)
        .args(["plugin", "keygen"])
        .arg(&secret)
        .output()
        .unwrap();
    assert!(out.status.success());
    let public = String::from_utf8(out.stdout).unwrap();
    let public = public
        .trim()
        .strip_prefix("public key: ")
        .unwrap()
        .to_string();
    let file = keys.path().join("cas.wasm");
    std::fs::copy(plugin("cas.wasm"), &file).unwrap();
    let file = file.display().to_string();

    let s = Server::start_with(
        1,
        &[
            "--plugin-trusted-keys",
            &public,
            "--plugin-timeout-ms",
            "10000",
        ],
    );
    let mut c = s.conn();
    let e = err(&mut c, &["PLUGIN", "LOAD", &file]);
    assert!(e.contains("is not signed"), "{e}");

    let signed = Command::new(bin)
        .args(["plugin", "sign"])
        .arg(&secret)
        .arg(&file)
        .status()
        .unwrap();
    assert!(signed.success());
    let verify = |path: &str| {
        Command::new(bin)
            .args(["plugin", "verify", &public, path])
            .status()
            .unwrap()
            .success()
    };
    assert!(verify(&file));
    assert_eq!(q(&mut c, &["PLUGIN", "LOAD", &file]), Value::Okay);
    assert_eq!(q(&mut c, &["PLUGIN", "UNLOAD", "cas"]), Value::Okay);

    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    assert!(!verify(&file));
    let e = err(&mut c, &["PLUGIN", "LOAD", &file]);
    assert!(e.contains("bad signature"), "{e}");
    assert!(err(&mut c, &["CAS", "k", "", "v"]).starts_with("ERR unknown command 'CAS'"));
}

#[test]
fn reload_under_load_answers_every_request() {
    let s = server(2);
    let mut c = s.conn();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cas.wasm");
    std::fs::copy(plugin("cas.wasm"), &file).unwrap();
    let file = file.display().to_string();
    assert_eq!(q(&mut c, &["PLUGIN", "LOAD", &file]), Value::Okay);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|core| {
            let mut w = s.conn();
            let stop = stop.clone();
            let key = keys_on_core("r", core, 2, 1).remove(0);
            std::thread::spawn(move || {
                let mut calls = 0u64;
                let mut value = String::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || calls < 50 {
                    let next = format!("v{calls}");
                    let set: i64 = cmd(&["CAS", &key, &value, &next])
                        .query(&mut w)
                        .unwrap_or_else(|e| panic!("call {calls} failed: {e}"));
                    assert_eq!(set, 1, "call {calls}");
                    value = next;
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    for _ in 0..10 {
        assert_eq!(q(&mut c, &["PLUGIN", "RELOAD", "cas"]), Value::Okay);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        assert!(w.join().expect("worker") >= 50);
    }
    assert!(err(&mut c, &["PLUGIN", "RELOAD", "nope"]).contains("no plugin named 'nope'"));
}

/// A PLUGIN RELOAD later in a pipeline runs before the plugin call queued
/// ahead of it (queued calls run when the pipeline's segment is sent).
/// The call was routed by version 1's key (on core 0) and runs as version
/// 2, whose keys are on both cores: it must lock and write both there.
#[test]
fn plugin_commands_show_in_command_and_module_list() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "cas.wasm", &[]);
    let info = q(&mut c, &["COMMAND", "INFO", "cas", "get", "nosuch"]);
    let Value::Array(items) = info else {
        panic!("{info:?}")
    };
    assert_eq!(items.len(), 3);
    assert_eq!(items[2], Value::Nil);
    let Value::Array(cas) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(cas[0], bulk("cas"));
    assert_eq!(cas[1], Value::Int(4));
    assert_eq!(&cas[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);
    let count: i64 = qa(&mut c, &["COMMAND", "COUNT"]);
    let all = q(&mut c, &["COMMAND"]);
    let Value::Array(all) = all else { panic!() };
    assert_eq!(all.len() as i64, count);
    let names: Vec<String> = qa(&mut c, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "ca*"]);
    assert!(names.contains(&"cas".to_string()), "{names:?}");
    let docs = q(&mut c, &["COMMAND", "DOCS", "cas"]);
    assert!(format!("{docs:?}").contains("module"), "{docs:?}");
    let modules = q(&mut c, &["MODULE", "LIST"]);
    let want = Value::Array(vec![Value::Array(vec![
        bulk("name"),
        bulk("cas"),
        bulk("ver"),
        Value::Int(1),
        bulk("path"),
        bulk(&plugin("cas.wasm")),
        bulk("args"),
        Value::Array(vec![]),
    ])]);
    assert_eq!(modules, want);
    let e = err(&mut c, &["PLUGIN", "LOAD", &plugin("cas.wasm")]);
    assert_eq!(e, "ERR a plugin named 'cas' is already loaded");
    assert_eq!(q(&mut c, &["PLUGIN", "UNLOAD", "cas"]), Value::Okay);
    assert_eq!(q(&mut c, &["MODULE", "LIST"]), Value::Array(vec![]));
    assert_eq!(
        q(&mut c, &["COMMAND", "INFO", "cas"]),
        Value::Array(vec![Value::Nil])
    );
}

#[test]
fn plugins_in_the_settings_load_at_start_and_come_from_the_cache_after() {
    let path = plugin("throttle.wasm");
    let mut s = Server::start_with(
        1,
        &[
            "--plugin-allow-unsigned",
            "yes",
            "--plugin-timeout-ms",
            "10000",
            "--plugins",
            &path,
        ],
    );
    let code = |s: &Server| {
        let mut c = s.conn();
        let list = format!("{:?}", q(&mut c, &["PLUGIN", "LIST"]));
        assert_eq!(qa::<Vec<i64>>(&mut c, &["THROTTLE", "t", "1", "60"])[1], 0);
        list
    };
    assert!(code(&s).contains("compiled"), "first start compiles");
    s.restart(1);
    assert!(code(&s).contains("cached"), "a restart reads the cache");
}

#[test]
fn plugin_commands_are_refused_inside_multi_and_keys_of_several_slots_run() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "pair.wasm", &[]);
    // One hash tag: one slot, so one core, whatever the core count.
    for k in ["{pa}1", "{pa}2", "{pb}1"] {
        q(&mut c, &["SET", k, "1"]);
    }
    assert_eq!(qa::<i64>(&mut c, &["PAIR", "{pa}1", "{pa}2"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["PAIR", "{pb}1", "{pb}2"]), 1);
    // Outside cluster mode keys of several slots run, on one core as
    // across cores (as Redis runs a script's keys).
    let a = keys_on_core("p", 0, 2, 2);
    let b = keys_on_core("p", 1, 2, 1);
    for k in [&a[0], &b[0]] {
        q(&mut c, &["SET", k, "1"]);
    }
    assert_eq!(qa::<i64>(&mut c, &["PAIR", &a[0], &a[1]]), 1);
    assert_eq!(qa::<i64>(&mut c, &["PAIR", &a[0], &b[0]]), 2);
    assert_eq!(qa::<i64>(&mut c, &["PAIR", &b[0], &a[1]]), 1);
    q(&mut c, &["MULTI"]);
    assert_eq!(
        err(&mut c, &["PAIR", &a[0], &b[0]]),
        "ERR Command not allowed inside a transaction"
    );
    q(&mut c, &["DISCARD"]);
}

#[test]
fn in_cluster_mode_plugin_keys_of_several_slots_are_crossslot() {
    let s = server_with(2, &["--cluster-enabled", "emulated"]);
    let mut c = s.conn();
    load(&mut c, "xfer.wasm", &[]);
    let (a, b) = on_both_cores("cl");
    q(&mut c, &["SET", &a, "5"]);
    assert_eq!(
        err(&mut c, &["XFER", &a, &b, "1"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    assert_eq!(qa::<String>(&mut c, &["GET", &a]), "5");
    assert_eq!(qa::<i64>(&mut c, &["XFER", "{t}a", "{t}b", "2"]), -2);
    assert_eq!(qa::<String>(&mut c, &["GET", "{t}b"]), "2");
}

/// A key on core 0 and one on core 1 of a 2-core server.
fn on_both_cores(prefix: &str) -> (String, String) {
    (
        keys_on_core(prefix, 0, 2, 1).remove(0),
        keys_on_core(prefix, 1, 2, 1).remove(0),
    )
}

#[test]
fn wasm_and_native_calls_over_keys_on_both_cores_read_and_write_each_core() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "xfer.wasm", &[]);
    load(&mut c, "xfer_native.so", &[]);
    let (a, b) = on_both_cores("acct");
    q(&mut c, &["SET", &a, "100"]);
    q(&mut c, &["SET", &b, "7"]);
    assert_eq!(qa::<i64>(&mut c, &["XFER", &a, &b, "30"]), 70);
    assert_eq!(qa::<Vec<String>>(&mut c, &["MGET", &a, &b]), ["70", "37"]);
    // Keys in either order: the one on core 1 first.
    assert_eq!(qa::<i64>(&mut c, &["NXFER", &b, &a, "10"]), 27);
    assert_eq!(qa::<Vec<String>>(&mut c, &["MGET", &a, &b]), ["80", "27"]);
    assert_eq!(qa::<i64>(&mut c, &["xfer", &b, &a, "-3"]), 30);
    // Missing keys are 0 and created on their own cores.
    let (x, y) = on_both_cores("fresh");
    assert_eq!(qa::<i64>(&mut c, &["NXFER", &x, &y, "4"]), -4);
    assert_eq!(qa::<Vec<String>>(&mut c, &["MGET", &x, &y]), ["-4", "4"]);
    // An error reply writes nothing.
    q(&mut c, &["SET", &x, "not a number"]);
    assert_eq!(
        err(&mut c, &["XFER", &y, &x, "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(qa::<String>(&mut c, &["GET", &y]), "4");
    // Another type on one core.
    q(&mut c, &["DEL", &x]);
    q(&mut c, &["RPUSH", &x, "l"]);
    assert!(err(&mut c, &["NXFER", &y, &x, "1"]).contains("ERR"));
    assert_eq!(qa::<String>(&mut c, &["GET", &y]), "4");
    // A plugin's cross-core write breaks a WATCH on its key.
    let mut w = s.conn();
    q(&mut w, &["WATCH", &b]);
    assert_eq!(qa::<i64>(&mut c, &["XFER", &a, &b, "1"]), 76);
    q(&mut w, &["MULTI"]);
    q(&mut w, &["SET", &b, "lost"]);
    assert_eq!(q(&mut w, &["EXEC"]), Value::Nil);
    assert_eq!(qa::<String>(&mut c, &["GET", &b]), "31");
    let info: String = qa(&mut c, &["INFO", "plugins"]);
    assert!(info.contains("plugincmd_xfer:calls=4,errors=1,"), "{info}");
}

#[test]
fn a_failure_after_writes_on_both_cores_changes_neither() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "xfer.wasm", &[]);
    load(&mut c, "xfer_native.so", &[]);
    load(&mut c, "coll.wasm", &[]);
    let (a, b) = on_both_cores("acct");
    q(&mut c, &["SET", &a, "100"]);
    q(&mut c, &["SET", &b, "0"]);
    let e = err(&mut c, &["XFERTRAP", &a, &b, "5"]);
    assert!(e.starts_with("ERR plugin 'xfer' trapped: "), "{e}");
    assert_eq!(
        err(&mut c, &["NXFERFAIL", &b, &a, "5"]),
        "ERR plugin 'xfern' failed with code 7"
    );
    assert_eq!(qa::<Vec<String>>(&mut c, &["MGET", &a, &b]), ["100", "0"]);
    // Missing keys stay missing.
    let (x, y) = on_both_cores("none");
    assert!(err(&mut c, &["XFERTRAP", &x, &y, "5"]).contains("trapped"));
    assert_eq!(q(&mut c, &["EXISTS", &x, &y]), Value::Int(0));
    // Collections of every family spread over both cores.
    let keys: Vec<String> = (0..4)
        .map(|i| keys_on_core(&format!("coll{i}-"), i % 2, 2, 1).remove(0))
        .collect();
    q(&mut c, &["HSET", &keys[0], "f", "orig"]);
    q(&mut c, &["SADD", &keys[1], "a", "b"]);
    q(&mut c, &["ZADD", &keys[2], "1", "a"]);
    q(&mut c, &["RPUSH", &keys[3], "x", "y"]);
    let mut crash = vec!["CRASHCOLL"];
    crash.extend(keys.iter().map(String::as_str));
    assert!(err(&mut c, &crash).starts_with("ERR plugin 'coll' trapped: "));
    assert_eq!(strings(q(&mut c, &["HGETALL", &keys[0]])), ["f", "orig"]);
    assert_eq!(qa::<i64>(&mut c, &["SCARD", &keys[1]]), 2);
    assert_eq!(
        strings(q(&mut c, &["ZRANGE", &keys[2], "0", "-1", "WITHSCORES"])),
        ["a", "1"]
    );
    assert_eq!(
        strings(q(&mut c, &["LRANGE", &keys[3], "0", "-1"])),
        ["x", "y"]
    );
}

#[test]
fn an_undeclared_key_is_refused_in_a_call_over_both_cores() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "xfer.wasm", &[]);
    let (a, b) = on_both_cores("acct");
    q(&mut c, &["SET", &a, "1"]);
    assert_eq!(
        err(&mut c, &["XFERLEAK", &a, &b]),
        "ERR plugin 'xfer' accessed key 'elsewhere' that the call did not declare"
    );
    assert_eq!(qa::<String>(&mut c, &["GET", &a]), "1");
    assert_eq!(q(&mut c, &["EXISTS", &b, "elsewhere"]), Value::Int(0));
}

#[test]
fn the_snapshot_byte_budget_covers_the_keys_of_every_core() {
    let s = server_with(2, &["--plugin-max-snapshot-bytes", "1000"]);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    let big = "v".repeat(600);
    let (h, l) = on_both_cores("budget");
    let (s1, z) = on_both_cores("other");
    q(&mut c, &["HSET", &h, "f", &big]);
    q(&mut c, &["RPUSH", &l, &big]);
    // Core 0's keys are read first, with the whole budget; core 1's with
    // what is left.
    assert_eq!(
        err(&mut c, &["CRASHCOLL", &h, &s1, &z, &l]),
        format!(
            "ERR plugin 'coll': the collections of the call's keys hold more than 1000 bytes \
             (plugin-max-snapshot-bytes), passed at key '{l}'"
        )
    );
    assert_eq!(qa::<i64>(&mut c, &["LLEN", &l]), 1);
    assert_eq!(qa::<i64>(&mut c, &["HLEN", &h]), 1);
}

#[test]
fn a_call_over_both_cores_moves_list_elements_and_serves_blocked_clients() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    let (src, dst) = on_both_cores("q");
    q(&mut c, &["RPUSH", &src, "a", "b", "c"]);
    q(&mut c, &["RPUSH", &dst, "x"]);
    assert_eq!(q(&mut c, &["MOVEQ", &src, &dst]), bulk("a"));
    assert_eq!(strings(q(&mut c, &["LRANGE", &src, "0", "-1"])), ["b", "c"]);
    assert_eq!(strings(q(&mut c, &["LRANGE", &dst, "0", "-1"])), ["x", "a"]);
    // Core 1's list first; the emptied source is deleted.
    let (other, last) = on_both_cores("r");
    q(&mut c, &["RPUSH", &last, "only"]);
    assert_eq!(q(&mut c, &["MOVEQ", &last, &other]), bulk("only"));
    assert_eq!(q(&mut c, &["EXISTS", &last]), Value::Int(0));
    assert_eq!(qa::<i64>(&mut c, &["LLEN", &other]), 1);
    // A client blocked on a missing list on the other core is served
    // once the call's locks are released.
    let (from, to) = on_both_cores("blk");
    q(&mut c, &["RPUSH", &from, "pushed"]);
    let mut waiter = s.conn();
    let key = to.clone();
    let blocked = std::thread::spawn(move || -> Value { q(&mut waiter, &["BLPOP", &key, "30"]) });
    wait_blocked(&mut c, 1);
    assert_eq!(q(&mut c, &["MOVEQ", &from, &to]), bulk("pushed"));
    assert_eq!(
        blocked.join().unwrap(),
        Value::Array(vec![bulk(&to), bulk("pushed")])
    );
    assert_eq!(q(&mut c, &["EXISTS", &from, &to]), Value::Int(0));
}

/// The model check: transfers between a counter on each core, by a WASM
/// and a native plugin and by MULTI/EXEC, run concurrently with INCRs on
/// both counters. Every transfer keeps the sum, each INCR adds one; an
/// atomic MGET must always see a sum between the INCRs acknowledged
/// before it and those sent by the time it answered, never part of a
/// transfer (each moves at least a million), and at the end each counter
/// holds exactly its start plus what the workers moved and added.
#[test]
fn cross_core_calls_interleave_atomically_with_incr_and_multi() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};
    use std::sync::Arc;
    const START: i64 = 1 << 40;
    const ROUNDS: i64 = 150;
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "xfer.wasm", &[]);
    load(&mut c, "xfer_native.so", &[]);
    let (a, b) = on_both_cores("acct");
    q(&mut c, &["SET", &a, &START.to_string()]);
    q(&mut c, &["SET", &b, &START.to_string()]);
    let sent = Arc::new(AtomicI64::new(0));
    let acked = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Each transfer worker returns what it moved from a to b.
    let transfer = |how: &'static str| {
        let mut w = s.conn();
        let (a, b) = (a.clone(), b.clone());
        std::thread::spawn(move || {
            let mut moved = 0i64;
            for i in 0..ROUNDS {
                let amount = 1_000_000 + i;
                let (from, to) = if i % 3 == 0 { (&b, &a) } else { (&a, &b) };
                let n = amount.to_string();
                if how == "multi" {
                    q(&mut w, &["MULTI"]);
                    q(&mut w, &["DECRBY", from, &n]);
                    q(&mut w, &["INCRBY", to, &n]);
                    let Value::Array(r) = q(&mut w, &["EXEC"]) else {
                        panic!("EXEC failed");
                    };
                    assert_eq!(r.len(), 2);
                } else {
                    let _: i64 = qa(&mut w, &[how, from, to, &n]);
                }
                moved += if from == &a { amount } else { -amount };
            }
            moved
        })
    };
    let workers = vec![transfer("XFER"), transfer("NXFER"), transfer("multi")];
    let incr = {
        let mut w = s.conn();
        let (a, b) = (a.clone(), b.clone());
        let (sent, acked, stop) = (sent.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut on_a = 0i64;
            let mut i = 0i64;
            while !stop.load(SeqCst) {
                let key = if i % 2 == 0 { &a } else { &b };
                sent.fetch_add(1, SeqCst);
                let _: i64 = qa(&mut w, &["INCR", key]);
                acked.fetch_add(1, SeqCst);
                on_a += i64::from(i % 2 == 0);
                i += 1;
            }
            on_a
        })
    };
    let mut reads = 0;
    let mut last = 2 * START;
    while workers.iter().any(|w| !w.is_finished()) || reads < 50 {
        let before = acked.load(SeqCst);
        let v: Vec<i64> = qa(&mut c, &["MGET", &a, &b]);
        let after = sent.load(SeqCst);
        let sum = v[0] + v[1];
        assert!(
            (2 * START + before..=2 * START + after).contains(&sum),
            "read {reads}: {v:?} is part of a transfer (INCRs {before}..={after})"
        );
        assert!(sum >= last, "read {reads}: the sum went down");
        last = sum;
        reads += 1;
    }
    let moved: i64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    stop.store(true, SeqCst);
    let on_a = incr.join().expect("incr worker");
    let incrs = acked.load(SeqCst);
    let v: Vec<i64> = qa(&mut c, &["MGET", &a, &b]);
    assert_eq!(v, [START - moved + on_a, START + moved + incrs - on_a]);
}

#[test]
fn plugin_commands_follow_the_callers_acl() {
    let s = server(1);
    let mut admin = s.conn();
    load(&mut admin, "cas.wasm", &[]);
    q(
        &mut admin,
        &["ACL", "SETUSER", "narrow", "on", ">pw", "+get", "~*"],
    );
    q(
        &mut admin,
        &["ACL", "SETUSER", "wide", "on", ">pw", "+@all", "~mine:*"],
    );
    let mut c = s.conn();
    q(&mut c, &["AUTH", "narrow", "pw"]);
    assert_eq!(
        err(&mut c, &["CAS", "k", "", "v"]),
        "NOPERM this user has no permissions to run the 'cas' command"
    );
    q(&mut c, &["AUTH", "wide", "pw"]);
    assert_eq!(qa::<i64>(&mut c, &["CAS", "mine:k", "", "v"]), 1);
    assert_eq!(
        err(&mut c, &["CAS", "other", "", "v"]),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(qa::<Option<String>>(&mut admin, &["GET", "other"]), None);
}

fn strings(v: Value) -> Vec<String> {
    redis::from_redis_value(v).expect("an array of strings")
}

#[test]
fn plugin_collection_writes_of_every_family_keep_counts_and_indexes() {
    let s = server(2);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    for core in 0..2 {
        let k = &keys_on_core("coll", core, 2, 1)[0];
        let (h, st, z, l) = (
            format!("{{{k}}}h"),
            format!("{{{k}}}s"),
            format!("{{{k}}}z"),
            format!("{{{k}}}l"),
        );
        // Hash: a new hash, then edits of the stored one.
        for n in 1..=3 {
            assert_eq!(qa::<i64>(&mut c, &["HINCRFIELD", &h, "f"]), n);
        }
        q(&mut c, &["HSET", &h, "a", "1", "b", "2"]);
        assert_eq!(qa::<i64>(&mut c, &["HINCRFIELD", &h, "a"]), 2);
        assert_eq!(strings(q(&mut c, &["HFIELDS", &h])), ["a", "b", "f"]);
        assert_eq!(qa::<i64>(&mut c, &["HLEN", &h]), 3);
        assert_eq!(qa::<String>(&mut c, &["HGET", &h, "f"]), "3");
        assert_eq!(qa::<String>(&mut c, &["HGET", &h, "a"]), "2");
        // Set.
        for m in ["b", "a", "c"] {
            q(&mut c, &["STOGGLE", &st, m]);
        }
        assert_eq!(qa::<i64>(&mut c, &["STOGGLE", &st, "b"]), 2);
        assert_eq!(strings(q(&mut c, &["SMEMBERS2", &st])), ["a", "c"]);
        assert_eq!(qa::<i64>(&mut c, &["SCARD", &st]), 2);
        assert_eq!(qa::<i64>(&mut c, &["SISMEMBER", &st, "b"]), 0);
        q(&mut c, &["SADD", &st, "d"]);
        assert_eq!(qa::<i64>(&mut c, &["SCARD", &st]), 3);
        // Sorted set: a rescore moves the score record too.
        assert_eq!(qa::<i64>(&mut c, &["ZBUMP", &z, "m", "5"]), 5);
        assert_eq!(qa::<i64>(&mut c, &["ZBUMP", &z, "m", "-2"]), 3);
        q(&mut c, &["ZADD", &z, "1", "n"]);
        assert_eq!(qa::<String>(&mut c, &["ZFIRST", &z]), "n");
        assert_eq!(qa::<i64>(&mut c, &["ZBUMP", &z, "n", "10"]), 11);
        assert_eq!(qa::<String>(&mut c, &["ZFIRST", &z]), "m");
        assert_eq!(
            strings(q(&mut c, &["ZRANGE", &z, "0", "-1", "WITHSCORES"])),
            ["m", "3", "n", "11"]
        );
        assert_eq!(
            strings(q(&mut c, &["ZRANGEBYSCORE", &z, "-inf", "+inf"])),
            ["m", "n"]
        );
        assert_eq!(qa::<i64>(&mut c, &["ZCARD", &z]), 2);
        // List: pushes and pops at both ends keep head / tail / count.
        for (n, v) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(qa::<i64>(&mut c, &["QPUSH", &l, v]), n as i64 + 1);
        }
        assert_eq!(qa::<String>(&mut c, &["QTAKE", &l]), "a");
        assert_eq!(qa::<String>(&mut c, &["LAT", &l, "-1"]), "c");
        assert_eq!(q(&mut c, &["LAT", &l, "5"]), Value::Nil);
        q(&mut c, &["LPUSH", &l, "z"]);
        assert_eq!(qa::<i64>(&mut c, &["QPUSH", &l, "d"]), 4);
        assert_eq!(
            strings(q(&mut c, &["LRANGE", &l, "0", "-1"])),
            ["z", "b", "c", "d"]
        );
        assert_eq!(qa::<i64>(&mut c, &["LLEN", &l]), 4);
        assert_eq!(qa::<String>(&mut c, &["QTAKE", &l]), "z");
        assert_eq!(qa::<String>(&mut c, &["RPOP", &l]), "d");
        assert_eq!(strings(q(&mut c, &["LRANGE", &l, "0", "-1"])), ["b", "c"]);
    }
}

#[test]
fn collections_a_plugin_empties_are_deleted_and_edits_keep_the_ttl() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    q(&mut c, &["SADD", "s", "a"]);
    assert_eq!(qa::<i64>(&mut c, &["STOGGLE", "s", "a"]), 0);
    assert_eq!(q(&mut c, &["EXISTS", "s"]), Value::Int(0));
    q(&mut c, &["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(qa::<i64>(&mut c, &["DRAIN", "l"]), 3);
    assert_eq!(q(&mut c, &["EXISTS", "l"]), Value::Int(0));
    assert_eq!(q(&mut c, &["QTAKE", "l"]), Value::Nil);
    // The key is free for any type afterwards.
    q(&mut c, &["SET", "l", "string"]);
    assert_eq!(qa::<String>(&mut c, &["GET", "l"]), "string");
    q(&mut c, &["HSET", "h", "f", "1"]);
    q(&mut c, &["EXPIRE", "h", "1000"]);
    assert_eq!(qa::<i64>(&mut c, &["HINCRFIELD", "h", "f"]), 2);
    let ttl: i64 = qa(&mut c, &["TTL", "h"]);
    assert!(ttl > 0 && ttl <= 1000, "{ttl}");
}

#[test]
fn a_trap_after_collection_writes_leaves_every_collection_unchanged() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    q(&mut c, &["HSET", "{t}h", "f", "orig", "g", "1"]);
    q(&mut c, &["SADD", "{t}s", "a", "b"]);
    q(&mut c, &["ZADD", "{t}z", "1", "a", "2", "b"]);
    q(&mut c, &["RPUSH", "{t}l", "x", "y"]);
    let e = err(&mut c, &["CRASHCOLL", "{t}h", "{t}s", "{t}z", "{t}l"]);
    assert!(e.starts_with("ERR plugin 'coll' trapped: "), "{e}");
    assert_eq!(
        strings(q(&mut c, &["HGETALL", "{t}h"])),
        ["f", "orig", "g", "1"]
    );
    let mut members = strings(q(&mut c, &["SMEMBERS", "{t}s"]));
    members.sort();
    assert_eq!(members, ["a", "b"]);
    assert_eq!(
        strings(q(&mut c, &["ZRANGE", "{t}z", "0", "-1", "WITHSCORES"])),
        ["a", "1", "b", "2"]
    );
    assert_eq!(
        strings(q(&mut c, &["LRANGE", "{t}l", "0", "-1"])),
        ["x", "y"]
    );
    // A trap on keys that were missing creates nothing.
    assert!(err(&mut c, &["CRASHCOLL", "{u}h", "{u}s", "{u}z", "{u}l"]).contains("trapped"));
    assert_eq!(
        q(&mut c, &["EXISTS", "{u}h", "{u}s", "{u}z", "{u}l"]),
        Value::Int(0)
    );
}

#[test]
fn a_collection_may_neither_grow_past_nor_start_over_the_element_cap() {
    let s = server_with(1, &["--plugin-max-collection-elements", "3"]);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    q(&mut c, &["RPUSH", "l", "a", "b"]);
    assert_eq!(qa::<i64>(&mut c, &["QPUSH", "l", "c"]), 3);
    assert_eq!(
        err(&mut c, &["QPUSH", "l", "d"]),
        "ERR plugin 'coll' grew key 'l' past 3 elements (plugin-max-collection-elements)"
    );
    assert_eq!(
        strings(q(&mut c, &["LRANGE", "l", "0", "-1"])),
        ["a", "b", "c"]
    );
    q(&mut c, &["RPUSH", "l", "d"]);
    assert_eq!(
        err(&mut c, &["QPUSH", "l", "e"]),
        "ERR plugin 'coll': key 'l' is a list of 4 elements, more than \
         plugin-max-collection-elements (3)"
    );
    assert_eq!(
        strings(q(&mut c, &["LRANGE", "l", "0", "-1"])),
        ["a", "b", "c", "d"]
    );
    q(&mut c, &["SADD", "s", "1", "2", "3", "4"]);
    assert!(err(&mut c, &["STOGGLE", "s", "1"]).contains("is a set of 4 elements"));
    assert_eq!(qa::<i64>(&mut c, &["SCARD", "s"]), 4);
}

#[test]
fn writes_past_the_call_byte_limit_fail_the_call_and_change_nothing() {
    let s = server_with(1, &["--plugin-max-write-bytes", "100"]);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    assert_eq!(qa::<i64>(&mut c, &["QPUSH", "l", "small"]), 1);
    let big = "x".repeat(200);
    assert_eq!(
        err(&mut c, &["QPUSH", "l", &big]),
        "ERR plugin 'coll' wrote more than 100 bytes in one call (plugin-max-write-bytes)"
    );
    assert_eq!(strings(q(&mut c, &["LRANGE", "l", "0", "-1"])), ["small"]);
}

#[test]
fn a_plugin_push_serves_clients_blocked_on_the_list_or_sorted_set() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    let mut waiter = s.conn();
    let list = std::thread::spawn(move || -> Value { q(&mut waiter, &["BLPOP", "q", "30"]) });
    wait_blocked(&mut c, 1);
    assert_eq!(qa::<i64>(&mut c, &["QPUSH", "q", "job"]), 1);
    assert_eq!(
        list.join().unwrap(),
        Value::Array(vec![bulk("q"), bulk("job")])
    );
    assert_eq!(q(&mut c, &["EXISTS", "q"]), Value::Int(0));
    let mut waiter = s.conn();
    let zset = std::thread::spawn(move || -> Value { q(&mut waiter, &["BZPOPMIN", "z", "30"]) });
    wait_blocked(&mut c, 1);
    assert_eq!(qa::<i64>(&mut c, &["ZBUMP", "z", "m", "7"]), 7);
    assert_eq!(
        zset.join().unwrap(),
        Value::Array(vec![bulk("z"), bulk("m"), bulk("7")])
    );
    assert_eq!(q(&mut c, &["EXISTS", "z"]), Value::Int(0));
}

#[test]
fn collection_functions_on_another_type_answer_wrongtype() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    load(&mut c, "cas.wasm", &[]);
    q(&mut c, &["SET", "str", "x"]);
    q(&mut c, &["HSET", "h", "f", "1"]);
    q(&mut c, &["SADD", "s", "a"]);
    for args in [
        &["HINCRFIELD", "str", "f"][..],
        &["QPUSH", "h", "v"],
        &["ZFIRST", "s"],
        &["STOGGLE", "h", "a"],
        &["LAT", "s", "0"],
        &["HFIELDS", "s"],
        &["CAS", "h", "", "v"],
    ] {
        assert!(err(&mut c, args).starts_with("WRONGTYPE"), "{args:?}");
    }
    assert_eq!(qa::<String>(&mut c, &["GET", "str"]), "x");
    assert_eq!(qa::<String>(&mut c, &["TYPE", "h"]), "hash");
    assert_eq!(qa::<i64>(&mut c, &["SCARD", "s"]), 1);
}

#[test]
fn the_native_sdk_reaches_collections() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "native_cas.so", &[]);
    assert_eq!(qa::<i64>(&mut c, &["NTALLY", "{n}h", "{n}z", "m"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["NTALLY", "{n}h", "{n}z", "m"]), 2);
    assert_eq!(qa::<i64>(&mut c, &["NTALLY", "{n}h", "{n}z", "o"]), 1);
    assert_eq!(qa::<String>(&mut c, &["HGET", "{n}h", "m"]), "2");
    assert_eq!(
        strings(q(&mut c, &["ZRANGE", "{n}z", "0", "-1", "WITHSCORES"])),
        ["o", "1", "m", "2"]
    );
    q(&mut c, &["SET", "{n}s", "x"]);
    assert!(err(&mut c, &["NTALLY", "{n}s", "{n}z", "m"]).starts_with("WRONGTYPE"));
}

#[test]
fn a_lent_pointer_passed_to_the_next_write_is_read_before_the_write() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "lent_native.so", &[]);
    let a = format!("a-{}", "x".repeat(40));
    let b = format!("b-{}", "y".repeat(40));
    q(&mut c, &["ZADD", "z", "1", &a, "2", &b]);
    assert_eq!(qa::<i64>(&mut c, &["ZBUMPFIRST", "z"]), 0);
    assert_eq!(
        strings(q(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"])),
        [b.as_str(), "2", a.as_str(), "100"]
    );
    q(&mut c, &["SADD", "s", &a, &b]);
    assert_eq!(qa::<i64>(&mut c, &["SREMFIRST", "s"]), 1);
    assert_eq!(strings(q(&mut c, &["SMEMBERS", "s"])), [b.as_str()]);
    assert_eq!(qa::<i64>(&mut c, &["SCARD", "s"]), 1);
    q(&mut c, &["HSET", "h", &a, "1", &b, "2"]);
    assert_eq!(qa::<i64>(&mut c, &["HSETFIRST", "h"]), 0);
    assert_eq!(qa::<String>(&mut c, &["HGET", "h", &a]), a);
    assert_eq!(qa::<i64>(&mut c, &["HDELFIRST", "h"]), 1);
    assert_eq!(strings(q(&mut c, &["HKEYS", "h"])), [b.as_str()]);
    assert_eq!(qa::<i64>(&mut c, &["HLEN", "h"]), 1);
}

#[test]
fn a_native_pop_without_out_pointers_pops_nothing() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "lent_native.so", &[]);
    q(&mut c, &["RPUSH", "l", "a", "b"]);
    assert_eq!(qa::<i64>(&mut c, &["LPOPNULL", "l"]), -7);
    assert_eq!(strings(q(&mut c, &["LRANGE", "l", "0", "-1"])), ["a", "b"]);
}

#[test]
fn plugin_writes_of_records_over_the_storage_limit_fail_and_change_nothing() {
    let s = server(1);
    let mut c = s.conn();
    load(&mut c, "cas.wasm", &[]);
    load(&mut c, "native_cas.so", &[]);
    let long = "k".repeat(65_530);
    let e = err(&mut c, &["CAS", &long, "", "v"]);
    assert!(e.starts_with("ERR storage: invalid argument: op "), "{e}");
    assert_eq!(q(&mut c, &["EXISTS", &long]), Value::Int(0));
    // The hash field fits the storage limit, the sorted set's score
    // record does not: neither key may change.
    let member = "m".repeat(65_505);
    let e = err(&mut c, &["NTALLY", "{p}h", "{p}z", &member]);
    assert!(e.starts_with("ERR storage: invalid argument: op "), "{e}");
    assert_eq!(q(&mut c, &["EXISTS", "{p}h", "{p}z"]), Value::Int(0));
    assert_eq!(qa::<i64>(&mut c, &["NTALLY", "{p}h", "{p}z", "m"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", "{p}z"]), 1);
}

#[test]
fn the_collections_one_call_loads_are_bounded_in_bytes() {
    let s = server_with(1, &["--plugin-max-snapshot-bytes", "1000"]);
    let mut c = s.conn();
    load(&mut c, "coll.wasm", &[]);
    let big = "v".repeat(600);
    q(&mut c, &["HSET", "{c}h", "f", &big]);
    q(&mut c, &["RPUSH", "{c}l", &big]);
    // Each key alone fits the budget ...
    assert_eq!(strings(q(&mut c, &["HFIELDS", "{c}h"])), ["f"]);
    assert_eq!(qa::<String>(&mut c, &["LAT", "{c}l", "0"]), big);
    // ... both in one call do not, and the call fails before it runs.
    assert_eq!(
        err(&mut c, &["CRASHCOLL", "{c}h", "{c}s", "{c}z", "{c}l"]),
        "ERR plugin 'coll': the collections of the call's keys hold more than 1000 bytes \
         (plugin-max-snapshot-bytes), passed at key '{c}l'"
    );
    assert_eq!(qa::<i64>(&mut c, &["LLEN", "{c}l"]), 1);
    assert_eq!(qa::<i64>(&mut c, &["HLEN", "{c}h"]), 1);
}

#[test]
fn version_1_plugins_never_load_collections() {
    let s = server_with(1, &["--plugin-max-collection-elements", "2"]);
    let mut c = s.conn();
    load(&mut c, "v1_native.so", &[]);
    // Over the cap, but a version-1 call does not load it: the same
    // answer as for any collection.
    q(&mut c, &["RPUSH", "l", "a", "b", "c"]);
    assert!(err(&mut c, &["V1GET", "l"]).contains("failed with code -2"));
    q(&mut c, &["HSET", "h", "f", "v"]);
    assert!(err(&mut c, &["V1GET", "h"]).contains("failed with code -2"));
    assert_eq!(qa::<i64>(&mut c, &["LLEN", "l"]), 3);
}
