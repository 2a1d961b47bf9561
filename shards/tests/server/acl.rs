//! ACL users against the real binary: Redis 7's rules, AUTH / HELLO AUTH,
//! `-NOPERM` per command, key and channel, categories, DRYRUN, the ACL
//! LOG, the aclfile (SAVE / LOAD / start-up), and `requirepass` as the
//! `default` user's password.

use std::collections::HashMap;
use std::io::Write;

use crate::common::*;
use redis::Value;

fn sha256_hex(s: &str) -> String {
    frys_shards::acl::hash_password(s.as_bytes())
}

fn user_conn(s: &Server, user: &str, pass: &str) -> redis::Connection {
    connect(&format!("redis://{user}:{pass}@127.0.0.1:{}/", s.port()))
}

fn ok(c: &mut redis::Connection, args: &[&str]) {
    assert_eq!(q(c, args), Value::Okay, "{args:?}");
}

/// ACL GETUSER as field -> value.
fn getuser(c: &mut redis::Connection, name: &str) -> HashMap<String, Value> {
    let Value::Array(items) = q(c, &["ACL", "GETUSER", name]) else {
        panic!("GETUSER {name}: not an array");
    };
    items
        .chunks(2)
        .map(|kv| match &kv[0] {
            Value::BulkString(k) => (String::from_utf8_lossy(k).into_owned(), kv[1].clone()),
            other => panic!("field name {other:?}"),
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn setuser_getuser_list_and_deluser_speak_redis_rules() {
    let s = Server::start(2);
    let mut c = s.conn();
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">alicepw",
            "~k*",
            "%R~r*",
            "&ch",
            "-@all",
            "+get",
            "+config|get",
        ],
    );
    let u = getuser(&mut c, "alice");
    assert_eq!(u["flags"], Value::Array(vec![bulk("on")]));
    assert_eq!(
        u["passwords"],
        Value::Array(vec![bulk(&sha256_hex("alicepw"))])
    );
    assert_eq!(text(&u["commands"]), "-@all +get +config|get");
    assert_eq!(text(&u["keys"]), "~k* %R~r*");
    assert_eq!(text(&u["channels"]), "&ch");
    assert_eq!(u["selectors"], Value::Array(vec![]));
    let list: Vec<String> = qa(&mut c, &["ACL", "LIST"]);
    assert_eq!(
        list,
        [
            format!(
                "user alice on #{} ~k* %R~r* resetchannels &ch -@all +get +config|get",
                sha256_hex("alicepw")
            ),
            "user default on nopass ~* &* +@all".to_string(),
        ]
    );
    // A new user is off, with nothing; `reset` returns to that.
    ok(&mut c, &["ACL", "SETUSER", "bob"]);
    let list: Vec<String> = qa(&mut c, &["ACL", "LIST"]);
    assert_eq!(list[1], "user bob off resetchannels -@all");
    ok(
        &mut c,
        &["ACL", "SETUSER", "bob", "+@all", "-@dangerous", "allkeys"],
    );
    let u = getuser(&mut c, "bob");
    assert_eq!(text(&u["commands"]), "+@all -@dangerous");
    ok(&mut c, &["ACL", "SETUSER", "bob", "reset"]);
    let list: Vec<String> = qa(&mut c, &["ACL", "LIST"]);
    assert_eq!(list[1], "user bob off sanitize-payload resetchannels -@all");
    // A refused rule changes nothing, and says which rule and why.
    for (rule, why) in [
        ("+nosuch", "Unknown command or category name in ACL"),
        ("+@nosuch", "Unknown command or category name in ACL"),
        ("bogus", "Syntax error"),
        ("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
        ("<nope", "The password you are trying to remove from the user does not exist"),
    ] {
        assert_eq!(
            err(&mut c, &["ACL", "SETUSER", "alice", "off", rule]),
            format!("ERR Error in ACL SETUSER modifier '{rule}': {why}")
        );
    }
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "alice", "~*", "~x"]),
        "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
    );
    assert_eq!(
        getuser(&mut c, "alice")["flags"],
        Value::Array(vec![bulk("on")])
    );
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "a b"]),
        "ERR Usernames can't contain spaces or null characters"
    );
    assert_eq!(q(&mut c, &["ACL", "GETUSER", "nobody"]), Value::Nil);
    let users: Vec<String> = qa(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["alice", "bob", "default"]);
    assert_eq!(
        err(&mut c, &["ACL", "DELUSER", "bob", "default"]),
        "ERR The 'default' user cannot be removed"
    );
    assert_eq!(qa::<i64>(&mut c, &["ACL", "DELUSER", "bob", "nobody"]), 1);
    let users: Vec<String> = qa(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["alice", "default"]);
}

#[test]
fn auth_and_hello_auth_switch_the_connection_user() {
    let s = Server::start(2);
    let mut admin = s.conn();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "alice", "on", ">alicepw", "+@all", "~*"],
    );
    ok(
        &mut admin,
        &["ACL", "SETUSER", "off-user", "off", ">pw", "+@all"],
    );
    assert_eq!(qa::<String>(&mut admin, &["ACL", "WHOAMI"]), "default");
    let mut raw = s.raw();
    for (send, want) in [
        (&b"AUTH alice wrong\r\n"[..], "-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
        (b"AUTH off-user pw\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
        (b"AUTH nobody pw\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
        (b"AUTH alicepw\r\n", "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"),
        (b"AUTH alice alicepw\r\n", "+OK\r\n"),
        (b"ACL WHOAMI\r\n", "$5\r\n"),
    ] {
        raw.write_all(send).unwrap();
        assert_eq!(read_line(&mut raw), want, "{}", String::from_utf8_lossy(send));
    }
    assert_eq!(read_line(&mut raw), "alice\r\n");
    let mut hello = s.raw();
    hello.write_all(b"HELLO 3 AUTH alice wrong\r\n").unwrap();
    assert_eq!(
        read_line(&mut hello),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    hello.write_all(b"HELLO 3 AUTH alice alicepw\r\n").unwrap();
    assert!(read_line(&mut hello).starts_with('%'));
    // The redis crate authenticates with AUTH <user> <pass>.
    let mut c = user_conn(&s, "alice", "alicepw");
    assert_eq!(qa::<String>(&mut c, &["ACL", "WHOAMI"]), "alice");
    let info: String = qa(&mut c, &["CLIENT", "INFO"]);
    assert!(info.contains(" user=alice "), "{info}");
    // RESET goes back to the default user.
    assert_eq!(qa::<String>(&mut c, &["RESET"]), "RESET");
    assert_eq!(qa::<String>(&mut c, &["ACL", "WHOAMI"]), "default");
}

#[test]
fn refusals_are_noperm_for_commands_keys_and_channels() {
    let s = Server::start(2);
    let mut admin = s.conn();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">alicepw",
            "+@all",
            "-set",
            "-config|set",
            "~k*",
            "%R~ro*",
            "&news.*",
        ],
    );
    let mut c = user_conn(&s, "alice", "alicepw");
    const CMD: &str = "NOPERM this user has no permissions to run the";
    const KEY: &str =
        "NOPERM this user has no permissions to access one of the keys used as arguments";
    const CHANNEL: &str =
        "NOPERM this user has no permissions to access one of the channels used as arguments";
    assert_eq!(
        err(&mut c, &["SET", "k1", "v"]),
        format!("{CMD} 'set' command")
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "timeout", "1"]),
        format!("{CMD} 'config|set' command")
    );
    let _: Vec<String> = qa(&mut c, &["CONFIG", "GET", "timeout"]);
    assert_eq!(qa::<i64>(&mut c, &["INCR", "k1"]), 1);
    assert_eq!(err(&mut c, &["INCR", "other"]), KEY);
    assert_eq!(err(&mut c, &["MGET", "k1", "other"]), KEY);
    // %R~ grants reads only.
    assert_eq!(q(&mut c, &["GET", "ro1"]), Value::Nil);
    assert_eq!(err(&mut c, &["DEL", "ro1"]), KEY);
    assert_eq!(qa::<i64>(&mut c, &["PUBLISH", "news.a", "hi"]), 0);
    assert_eq!(err(&mut c, &["PUBLISH", "sports", "hi"]), CHANNEL);
    // A PSUBSCRIBE pattern must be one of the user's patterns literally.
    assert_eq!(err(&mut c, &["PSUBSCRIBE", "news.a*"]), CHANNEL);
    // Inside MULTI the refusal dooms the transaction.
    ok(&mut c, &["MULTI"]);
    assert_eq!(
        err(&mut c, &["SET", "k1", "v"]),
        format!("{CMD} 'set' command")
    );
    assert_eq!(
        err(&mut c, &["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
    // Changes apply to connections already authenticated.
    ok(&mut admin, &["ACL", "SETUSER", "alice", "+set"]);
    ok(&mut c, &["SET", "k1", "v"]);
    // Commands that need no authentication are never refused.
    ok(&mut admin, &["ACL", "SETUSER", "alice", "-@all"]);
    assert_eq!(err(&mut c, &["PING"]), format!("{CMD} 'ping' command"));
    ok(&mut c, &["AUTH", "alice", "alicepw"]);
}

#[test]
fn categories_come_from_the_command_table() {
    let s = Server::start(1);
    let mut c = s.conn();
    let cats: Vec<String> = qa(&mut c, &["ACL", "CAT"]);
    assert_eq!(cats.len(), 21);
    assert_eq!(cats[0], "keyspace");
    let string: Vec<String> = qa(&mut c, &["ACL", "CAT", "string"]);
    assert!(string.contains(&"get".to_string()) && string.contains(&"mset".to_string()));
    assert!(!string.contains(&"hset".to_string()));
    let admin: Vec<String> = qa(&mut c, &["ACL", "CAT", "admin"]);
    assert!(admin.contains(&"config|set".to_string()), "{admin:?}");
    assert_eq!(
        err(&mut c, &["ACL", "CAT", "nosuch"]),
        "ERR Unknown category 'nosuch'"
    );
    // COMMAND INFO shows the same categories.
    let Value::Array(info) = q(&mut c, &["COMMAND", "INFO", "get"]) else {
        panic!("COMMAND INFO");
    };
    let Value::Array(get) = &info[0] else {
        panic!("COMMAND INFO get");
    };
    assert_eq!(
        get[6],
        Value::Array(vec![
            Value::SimpleString("@read".into()),
            Value::SimpleString("@string".into()),
            Value::SimpleString("@fast".into()),
        ])
    );
    // +@string -@write: string reads only.
    ok(
        &mut c,
        &[
            "ACL", "SETUSER", "r", "on", "nopass", "-@all", "+@string", "-@write", "~*",
        ],
    );
    let mut r = user_conn(&s, "r", "any");
    assert_eq!(q(&mut r, &["GET", "x"]), Value::Nil);
    assert_eq!(
        err(&mut r, &["APPEND", "x", "y"]),
        "NOPERM this user has no permissions to run the 'append' command"
    );
    assert_eq!(
        err(&mut r, &["HGET", "x", "y"]),
        "NOPERM this user has no permissions to run the 'hget' command"
    );
}

#[test]
fn dryrun_answers_without_running() {
    let s = Server::start(1);
    let mut c = s.conn();
    ok(
        &mut c,
        &[
            "ACL", "SETUSER", "alice", "on", "nopass", "+@read", "~k*", "&ch",
        ],
    );
    ok(&mut c, &["ACL", "DRYRUN", "alice", "GET", "k1"]);
    for (args, want) in [
        (
            &["SET", "k1", "v"][..],
            "This user has no permissions to run the 'set' command",
        ),
        (
            &["GET", "other"],
            "This user has no permissions to access the 'other' key",
        ),
        (
            &["CONFIG", "GET", "x"],
            "This user has no permissions to run the 'config|get' command",
        ),
    ] {
        let mut full = vec!["ACL", "DRYRUN", "alice"];
        full.extend_from_slice(args);
        assert_eq!(qa::<String>(&mut c, &full), want, "{args:?}");
    }
    ok(&mut c, &["ACL", "SETUSER", "alice", "+publish"]);
    assert_eq!(
        qa::<String>(&mut c, &["ACL", "DRYRUN", "alice", "PUBLISH", "x", "m"]),
        "This user has no permissions to access the 'x' channel"
    );
    assert_eq!(
        err(&mut c, &["ACL", "DRYRUN", "nobody", "GET", "k"]),
        "ERR User 'nobody' not found"
    );
    assert_eq!(
        err(&mut c, &["ACL", "DRYRUN", "alice", "NOSUCH"]),
        "ERR Command 'NOSUCH' not found"
    );
    assert_eq!(
        err(&mut c, &["ACL", "DRYRUN", "alice", "GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    // Nothing ran.
    assert_eq!(q(&mut c, &["EXISTS", "k1"]), Value::Int(0));
}

#[test]
fn the_acl_log_records_refusals_and_groups_repeats() {
    let s = Server::start(1);
    let mut admin = s.conn();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "alice", "on", ">alicepw", "+get", "~k*"],
    );
    let mut c = user_conn(&s, "alice", "alicepw");
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    err(&mut c, &["SET", "k", "v"]);
    err(&mut c, &["SET", "k", "v"]);
    err(&mut c, &["GET", "secret"]);
    let mut raw = s.raw();
    raw.write_all(b"AUTH alice wrong\r\n").unwrap();
    read_line(&mut raw);
    let Value::Array(entries) = q(&mut admin, &["ACL", "LOG"]) else {
        panic!("ACL LOG");
    };
    assert_eq!(entries.len(), 3);
    let entry = |i: usize| -> HashMap<String, Value> {
        let Value::Array(kv) = &entries[i] else {
            panic!("entry");
        };
        kv.chunks(2).map(|p| (text(&p[0]), p[1].clone())).collect()
    };
    let auth = entry(0);
    assert_eq!(text(&auth["reason"]), "auth");
    assert_eq!(text(&auth["object"]), "AUTH");
    assert_eq!(text(&auth["username"]), "alice");
    let key = entry(1);
    assert_eq!(text(&key["reason"]), "key");
    assert_eq!(text(&key["object"]), "secret");
    assert_eq!(text(&key["context"]), "toplevel");
    let cmd = entry(2);
    assert_eq!(text(&cmd["reason"]), "command");
    assert_eq!(text(&cmd["object"]), "set");
    assert_eq!(cmd["count"], Value::Int(2));
    assert!(text(&cmd["client-info"]).contains(" user=alice "));
    let keys: Vec<&str> = {
        let Value::Array(kv) = &entries[2] else {
            panic!("entry");
        };
        kv.iter()
            .step_by(2)
            .map(|k| match k {
                Value::BulkString(b) => std::str::from_utf8(b).unwrap(),
                _ => panic!("field"),
            })
            .collect()
    };
    assert_eq!(
        keys,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info"
        ]
    );
    let one: Vec<Value> = qa(&mut admin, &["ACL", "LOG", "1"]);
    assert_eq!(one.len(), 1);
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    let none: Vec<Value> = qa(&mut admin, &["ACL", "LOG"]);
    assert!(none.is_empty());
}

/// ACL DRYRUN's answer: `OK`, or why the user is refused.
fn dryrun(c: &mut redis::Connection, args: &[&[u8]]) -> String {
    let mut command = cmd(&["ACL", "DRYRUN"]);
    for a in args {
        command.arg(*a);
    }
    match command.query::<Value>(c).unwrap() {
        Value::Okay => "OK".to_string(),
        other => text(&other),
    }
}

/// ACL LIST, bytes as they are.
fn acl_list(c: &mut redis::Connection) -> Vec<Vec<u8>> {
    cmd(&["ACL", "LIST"]).query(c).unwrap()
}

/// Saving then loading the aclfile never changes a permission, whatever
/// bytes the rules hold: a pattern with quotes, a `)` inside a selector,
/// a pattern that is not UTF-8. ACL LIST and GETUSER show the bytes as
/// Redis does, before and after.
#[test]
fn saving_and_loading_the_aclfile_never_changes_a_permission() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user default on nopass ~* &* +@all\n").unwrap();
    let s = Server::start_with(1, &["--aclfile", file.to_str().unwrap()]);
    let mut c = s.conn();
    // The literal pattern `"*"`, not all keys.
    ok(
        &mut c,
        &["ACL", "SETUSER", "q", "on", "nopass", "(~'\"*\"' +get)"],
    );
    // `~x)` inside the selector, not its end.
    let r = [
        "ACL",
        "SETUSER",
        "r",
        "on",
        "nopass",
        "-@all",
        "+get",
        "~public*",
        "(~x) ~secret* -@all +set +select|0)",
    ];
    ok(&mut c, &r);
    // A pattern that is not UTF-8, at the root and in a selector.
    let set_n: Value = cmd(&["ACL", "SETUSER", "n", "on", "nopass", "+get"])
        .arg(&b"~\xff*"[..])
        .arg(&b"(+set %W~\xfe*)"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(set_n, Value::Okay);
    let refused: [&[&[u8]]; 5] = [
        &[b"q", b"get", b"anykey"],
        &[b"r", b"set", b"public1", b"v"],
        &[b"r", b"get", b"secret1"],
        &[b"n", b"get", "\u{fffd}k".as_bytes()],
        &[b"n", b"set", b"\xffk", b"v"],
    ];
    let allowed: [&[&[u8]]; 5] = [
        &[b"q", b"get", b"\"k\""],
        &[b"r", b"set", b"secret1", b"v"],
        &[b"r", b"get", b"public1"],
        &[b"n", b"get", b"\xffk"],
        &[b"n", b"set", b"\xfek", b"v"],
    ];
    let check = |c: &mut redis::Connection, when: &str| {
        for args in refused {
            assert_ne!(dryrun(c, args), "OK", "{when}: {args:?}");
        }
        for args in allowed {
            assert_eq!(dryrun(c, args), "OK", "{when}: {args:?}");
        }
    };
    check(&mut c, "before SAVE");
    let list = acl_list(&mut c);
    let n_line = list.iter().find(|l| l.starts_with(b"user n ")).unwrap();
    assert_eq!(
        n_line.as_slice(),
        &b"user n on nopass ~\xff* resetchannels -@all +get (%W~\xfe* resetchannels -@all +set)"[..]
    );
    let q_line = list.iter().find(|l| l.starts_with(b"user q ")).unwrap();
    assert_eq!(
        q_line.as_slice(),
        &b"user q on nopass resetchannels -@all (~\"*\" resetchannels -@all +get)"[..]
    );
    let n = getuser(&mut c, "n");
    assert_eq!(n["keys"], Value::BulkString(b"~\xff*".to_vec()));
    ok(&mut c, &["ACL", "SAVE"]);
    ok(&mut c, &["ACL", "LOAD"]);
    check(&mut c, "after SAVE and LOAD");
    assert_eq!(acl_list(&mut c), list);
    // A restart reads the same file the same way.
    drop(s);
    let s = Server::start_with(1, &["--aclfile", file.to_str().unwrap()]);
    let mut c = s.conn();
    check(&mut c, "after a restart");
    assert_eq!(acl_list(&mut c), list);
}

#[test]
fn the_aclfile_is_loaded_at_start_saved_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user alice on >alicepw ~* +@all\n").unwrap();
    let path = file.to_str().unwrap();
    let s = Server::start_with(1, &["--aclfile", path]);
    let mut c = user_conn(&s, "alice", "alicepw");
    assert_eq!(qa::<String>(&mut c, &["ACL", "WHOAMI"]), "alice");
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            ">bobpw",
            "~b*",
            "+get",
            "(+set ~c*)",
        ],
    );
    ok(&mut c, &["ACL", "SAVE"]);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        saved,
        format!(
            "user alice on #{} ~* resetchannels +@all\nuser bob on #{} ~b* resetchannels -@all +get (~c* resetchannels -@all +set)\nuser default on nopass ~* &* +@all\n",
            sha256_hex("alicepw"),
            sha256_hex("bobpw")
        )
    );
    assert!(!saved.contains("alicepw") && !saved.contains("bobpw"));
    // A bad file changes nothing.
    std::fs::write(&file, "user carol on +nosuch\n").unwrap();
    assert_eq!(
        err(&mut c, &["ACL", "LOAD"]),
        format!("ERR {path}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
    );
    let users: Vec<String> = qa(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["alice", "bob", "default"]);
    std::fs::write(&file, "user carol on nopass ~* +@all (+get ~z*)\n").unwrap();
    ok(&mut c, &["ACL", "LOAD"]);
    // alice is gone: her connection is closed at its next command.
    assert!(cmd(&["PING"]).query::<Value>(&mut c).is_err());
    let mut admin = s.conn();
    let users: Vec<String> = qa(&mut admin, &["ACL", "USERS"]);
    assert_eq!(users, ["carol", "default"]);
    let list: Vec<String> = qa(&mut admin, &["ACL", "LIST"]);
    assert_eq!(
        list[0],
        "user carol on nopass ~* resetchannels +@all (~z* resetchannels -@all +get)"
    );
    // A restart loads the file again.
    drop(s);
    let s = Server::start_with(1, &["--aclfile", path]);
    let mut c = s.conn();
    let users: Vec<String> = qa(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, ["carol", "default"]);
    // A server without an aclfile says so.
    let plain = Server::start(1);
    let mut p = plain.conn();
    assert!(err(&mut p, &["ACL", "SAVE"])
        .starts_with("ERR This Redis instance is not configured to use an ACL file."));
    // A bad file at start stops the server with the reason.
    std::fs::write(&file, "user dave bogus\n").unwrap();
    let failed = Server::try_start_on(&dir.path().join("data2"), 1, &["--aclfile", path]);
    let e = failed.err().expect("started with a bad aclfile");
    assert!(e.stderr.contains("Syntax error"), "{}", e.stderr);
}

#[test]
fn requirepass_is_the_default_users_password() {
    let s = Server::start_with(1, &["--requirepass", "sekret"]);
    let mut c = user_conn(&s, "default", "sekret");
    let u = getuser(&mut c, "default");
    assert_eq!(u["flags"], Value::Array(vec![bulk("on")]));
    assert_eq!(
        u["passwords"],
        Value::Array(vec![bulk(&sha256_hex("sekret"))])
    );
    // CONFIG SET requirepass "" makes default nopass: no AUTH needed.
    ok(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let mut open = s.conn();
    assert_eq!(qa::<String>(&mut open, &["PING"]), "PONG");
    assert_eq!(
        getuser(&mut c, "default")["flags"],
        Value::Array(vec![bulk("on"), bulk("nopass")])
    );
    // A password set through ACL SETUSER default works as requirepass.
    ok(
        &mut c,
        &["ACL", "SETUSER", "default", "resetpass", ">other"],
    );
    let mut raw = s.raw();
    raw.write_all(b"GET k\r\n").unwrap();
    assert_eq!(read_line(&mut raw), "-NOAUTH Authentication required.\r\n");
    raw.write_all(b"AUTH other\r\n").unwrap();
    assert_eq!(read_line(&mut raw), "+OK\r\n");
}

#[test]
fn deleting_a_user_disconnects_its_clients() {
    let s = Server::start(2);
    let mut admin = s.conn();
    ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "alice", "on", ">alicepw", "+@all", "~*", "&*",
        ],
    );
    let mut c = s.raw();
    c.write_all(b"AUTH alice alicepw\r\n").unwrap();
    assert_eq!(read_line(&mut c), "+OK\r\n");
    // A subscriber that sends nothing more is closed too.
    let mut subscriber = s.raw();
    subscriber.write_all(b"AUTH alice alicepw\r\n").unwrap();
    assert_eq!(read_line(&mut subscriber), "+OK\r\n");
    subscriber.write_all(b"SUBSCRIBE news\r\n").unwrap();
    assert_eq!(read_line(&mut subscriber), "*3\r\n");
    for _ in 0..5 {
        read_line(&mut subscriber);
    }
    assert_eq!(qa::<i64>(&mut admin, &["ACL", "DELUSER", "alice"]), 1);
    let (_, closed) = read_until_closed(&mut subscriber);
    assert!(closed, "the deleted user's subscriber is still connected");
    let (_, closed) = read_until_closed(&mut c);
    assert!(closed, "the deleted user's client is still connected");
    assert_eq!(qa::<String>(&mut admin, &["PING"]), "PONG");
}

#[test]
fn client_kill_user_closes_that_users_clients() {
    let s = Server::start(2);
    let mut admin = s.conn();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "alice", "on", ">alicepw", "+@all", "~*"],
    );
    let _a1 = user_conn(&s, "alice", "alicepw");
    let _a2 = user_conn(&s, "alice", "alicepw");
    assert_eq!(
        qa::<i64>(&mut admin, &["CLIENT", "KILL", "USER", "alice"]),
        2
    );
    assert_eq!(
        err(&mut admin, &["CLIENT", "KILL", "USER", "nobody"]),
        "ERR No such user 'nobody'"
    );
    assert_eq!(
        qa::<i64>(
            &mut admin,
            &["CLIENT", "KILL", "USER", "default", "SKIPME", "yes"]
        ),
        0
    );
}

#[test]
fn exec_checks_the_rules_again() {
    use std::io::{Read, Write};
    let s = Server::start(1);
    let mut admin = s.conn();
    q(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*"],
    );
    let mut c = s.raw();
    let mut got = Vec::new();
    let mut exchange = |c: &mut std::net::TcpStream, send: &[u8], until: &[u8]| {
        c.write_all(send).unwrap();
        let mut buf = [0u8; 4096];
        while !got.windows(until.len()).any(|w| w == until) {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    };
    exchange(
        &mut c,
        b"AUTH u pw\r\nMULTI\r\nSET secret x\r\nGET secret\r\n",
        b"+QUEUED\r\n+QUEUED\r\n",
    );
    q(&mut admin, &["ACL", "SETUSER", "u", "-set"]);
    exchange(&mut c, b"EXEC\r\n", b"$-1\r\n");
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(
        text.ends_with("*2\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n$-1\r\n"),
        "{text}"
    );
    assert_eq!(qa::<Option<String>>(&mut admin, &["GET", "secret"]), None);
}

#[test]
fn a_subscriber_whose_channels_are_revoked_is_closed() {
    use std::io::{Read, Write};
    let s = Server::start(2);
    let mut admin = s.conn();
    q(
        &mut admin,
        &[
            "ACL", "SETUSER", "sub", "on", ">pw", "+@all", "~*", "&news:*",
        ],
    );
    q(
        &mut admin,
        &[
            "ACL", "SETUSER", "keep", "on", ">pw", "+@all", "~*", "&news:*",
        ],
    );
    let subscribe = |user: &str| {
        let mut c = s.raw();
        let cmd = format!("AUTH {user} pw\r\nSUBSCRIBE news:a\r\n");
        c.write_all(cmd.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !got.ends_with(b":1\r\n") {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        c
    };
    let mut revoked = subscribe("sub");
    let mut kept = subscribe("keep");
    // `keep` changes in a way its subscription survives; `sub` loses it.
    q(&mut admin, &["ACL", "SETUSER", "keep", "&other"]);
    q(
        &mut admin,
        &["ACL", "SETUSER", "sub", "resetchannels", "&other"],
    );
    let (_, closed) = read_until_closed(&mut revoked);
    assert!(closed, "the revoked subscriber is still connected");
    // The other one still gets messages.
    assert_eq!(qa::<i64>(&mut admin, &["PUBLISH", "news:a", "hi"]), 1);
    let mut buf = [0u8; 512];
    let n = kept.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("hi"));
}

#[test]
fn selectors_allow_what_one_of_them_allows_whole() {
    let s = Server::start(2);
    let mut admin = s.conn();
    // One selector spread over two arguments, one in a single argument.
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "sel",
            "on",
            ">pw",
            "+get",
            "~a*",
            "(+set",
            "%W~b*)",
            "(+publish +subscribe &news.*)",
        ],
    );
    let mut c = user_conn(&s, "sel", "pw");
    const KEY: &str =
        "NOPERM this user has no permissions to access one of the keys used as arguments";
    const CHANNEL: &str =
        "NOPERM this user has no permissions to access one of the channels used as arguments";
    ok(&mut c, &["SET", "b1", "v"]);
    assert_eq!(q(&mut c, &["GET", "a1"]), Value::Nil);
    // The selector that allows SET does not allow GET of b*, nor the root.
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    assert_eq!(err(&mut c, &["GET", "b1"]), KEY);
    assert_eq!(err(&mut c, &["SET", "a1", "v"]), KEY);
    assert_eq!(qa::<i64>(&mut c, &["PUBLISH", "news.x", "hi"]), 0);
    // A channel refusal is the one reported over a command refusal.
    assert_eq!(err(&mut c, &["PUBLISH", "sport", "hi"]), CHANNEL);
    assert_eq!(
        err(&mut c, &["DEL", "a1"]),
        "NOPERM this user has no permissions to run the 'del' command"
    );
    let Value::Array(entries) = q(&mut admin, &["ACL", "LOG"]) else {
        panic!("ACL LOG");
    };
    let field = |i: usize, name: &str| -> String {
        let Value::Array(kv) = &entries[i] else {
            panic!("entry");
        };
        let pair = kv.chunks(2).find(|p| text(&p[0]) == name).unwrap();
        text(&pair[1])
    };
    let logged: Vec<(String, String)> = (0..entries.len())
        .map(|i| (field(i, "reason"), field(i, "object")))
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        logged,
        [
            pair("command", "del"),
            pair("channel", "sport"),
            pair("key", "a1"),
            pair("key", "b1"),
        ]
    );
    // GETUSER shows the root at the top level and each selector.
    let user = getuser(&mut admin, "sel");
    assert_eq!(text(&user["commands"]), "-@all +get");
    assert_eq!(text(&user["keys"]), "~a*");
    let Value::Array(selectors) = &user["selectors"] else {
        panic!("selectors");
    };
    assert_eq!(selectors.len(), 2);
    let Value::Array(first) = &selectors[0] else {
        panic!("selector");
    };
    let first: Vec<String> = first.iter().map(text).collect();
    assert_eq!(
        first,
        ["commands", "-@all +set", "keys", "%W~b*", "channels", ""]
    );
    // A subscriber keeps its subscription while one selector allows it.
    let mut sub = s.raw();
    sub.write_all(b"AUTH sel pw\r\nSUBSCRIBE news.a\r\n")
        .unwrap();
    assert_eq!(read_line(&mut sub), "+OK\r\n");
    for _ in 0..6 {
        read_line(&mut sub);
    }
    ok(&mut admin, &["ACL", "SETUSER", "sel", "resetchannels"]);
    assert_eq!(qa::<i64>(&mut admin, &["PUBLISH", "news.a", "hi"]), 1);
    assert_eq!(read_line(&mut sub), "*3\r\n");
    // Without the selector it is closed.
    ok(&mut admin, &["ACL", "SETUSER", "sel", "clearselectors"]);
    let (_, closed) = read_until_closed(&mut sub);
    assert!(closed, "the subscriber lost its channels but is connected");
    let list: Vec<String> = qa(&mut admin, &["ACL", "LIST"]);
    assert!(list
        .iter()
        .any(|l| l.starts_with("user sel on #") && l.ends_with(" ~a* resetchannels -@all +get")));
}
