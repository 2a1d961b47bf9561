//! Connection and server commands against the real binary.

use crate::common::*;
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn assert_errors(c: &mut redis::Connection, cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        assert_eq!(err(c, args), *want, "{args:?}");
    }
}

#[test]
fn ping_and_echo_answer_their_argument() {
    let s = Server::start(1);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
    assert_eq!(qa::<String>(&mut c, &["PING", "hi"]), "hi");
    assert_eq!(qa::<String>(&mut c, &["ECHO", "a b"]), "a b");
    assert_errors(
        &mut c,
        &[
            (&["PING", "a", "b"], &arity_error("ping")),
            (&["ECHO"], &arity_error("echo")),
            (&["ECHO", "a", "b"], &arity_error("echo")),
            (
                &["NOSUCH", "a", "b"],
                "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ",
            ),
        ],
    );
}

#[test]
fn hello_switches_protocol_and_answers_a_map_in_resp3() {
    let s = Server::start(1);
    let mut c = s.conn();
    let Value::Array(items) = q(&mut c, &["HELLO", "2"]) else {
        panic!("HELLO 2 is a flat array");
    };
    assert_eq!(items[0], bulk("server"));
    assert_eq!(items[1], bulk("redis"));
    assert!(items.contains(&bulk("proto")));
    let Value::Map(map) = q(&mut c, &["HELLO", "3"]) else {
        panic!("HELLO 3 is a map");
    };
    let get = |name: &str| {
        map.iter()
            .find(|(k, _)| *k == bulk(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(get("proto"), Value::Int(3));
    assert_eq!(get("role"), bulk("master"));
    assert_eq!(get("mode"), bulk("standalone"));
    assert!(matches!(get("id"), Value::Int(n) if n > 0));
    // Now in RESP3: a missing key is RESP3 null, a float a double.
    assert_eq!(q(&mut c, &["GET", "nope"]), Value::Nil);
    assert_errors(
        &mut c,
        &[
            (&["HELLO", "4"], "NOPROTO unsupported protocol version"),
            (&["HELLO", "1"], "NOPROTO unsupported protocol version"),
            (
                &["HELLO", "abc"],
                "ERR Protocol version is not an integer or out of range",
            ),
            (
                &["HELLO", "2", "FOO"],
                "ERR Syntax error in HELLO option 'FOO'",
            ),
            (
                &["HELLO", "2", "SETNAME"],
                "ERR Syntax error in HELLO option 'SETNAME'",
            ),
        ],
    );
    // HELLO 3 SETNAME names the connection.
    q(&mut c, &["HELLO", "3", "SETNAME", "named"]);
    assert_eq!(qa::<String>(&mut c, &["CLIENT", "GETNAME"]), "named");
}

#[test]
fn requirepass_needs_auth_before_any_command() {
    let s = Server::start_with(1, &["--requirepass", "sekret"]);
    let mut raw = s.raw();
    assert_eq!(
        raw_line(&mut raw, b"GET k\r\n"),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        raw_line(&mut raw, b"AUTH wrong\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        raw_line(&mut raw, b"AUTH default wrong\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(raw_line(&mut raw, b"AUTH sekret\r\n"), "+OK\r\n");
    assert_eq!(raw_line(&mut raw, b"SET k v\r\n"), "+OK\r\n");
    // HELLO 3 AUTH default <pass> authenticates and switches at once.
    let mut raw3 = s.raw();
    let reply = raw_line(&mut raw3, b"HELLO 3 AUTH default sekret\r\n");
    assert!(reply.starts_with('%'), "{reply}");
    let mut raw4 = s.raw();
    let reply = raw_line(&mut raw4, b"HELLO 3 AUTH default nope\r\n");
    assert_eq!(
        reply,
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    // The client crate authenticates from the URL.
    let mut c = connect(&format!("redis://:sekret@127.0.0.1:{}/", s.port()));
    assert_eq!(qa::<String>(&mut c, &["GET", "k"]), "v");
    let mut c3 = connect(&format!(
        "redis://:sekret@127.0.0.1:{}/?protocol=resp3",
        s.port()
    ));
    assert_eq!(qa::<String>(&mut c3, &["GET", "k"]), "v");
}

/// Sends one request and reads the first line of its reply.
fn raw_line(s: &mut std::net::TcpStream, req: &[u8]) -> String {
    use std::io::Write;
    s.write_all(req).unwrap();
    read_line(s)
}

#[test]
fn auth_without_a_password_configured_is_refused() {
    let s = Server::start(1);
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
}

#[test]
fn select_isolates_databases_including_from_the_url() {
    let s = Server::start(2);
    let mut c0 = s.conn();
    let mut c3 = s.conn_url("/3");
    q(&mut c0, &["SET", "k", "zero"]);
    q(&mut c3, &["SET", "k", "three"]);
    assert_eq!(qa::<String>(&mut c0, &["GET", "k"]), "zero");
    assert_eq!(qa::<String>(&mut c3, &["GET", "k"]), "three");
    q(&mut c0, &["SELECT", "3"]);
    assert_eq!(qa::<String>(&mut c0, &["GET", "k"]), "three");
    assert_errors(
        &mut c0,
        &[
            (&["SELECT", "16"], "ERR DB index is out of range"),
            (&["SELECT", "-1"], "ERR DB index is out of range"),
            (
                &["SELECT", "abc"],
                "ERR value is not an integer or out of range",
            ),
            (&["SELECT"], &arity_error("select")),
        ],
    );
}

#[test]
fn swapdb_flushdb_flushall_and_dbsize() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    let mut c1 = s.conn_url("/1");
    q(&mut c1, &["SET", "x", "1"]);
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 3);
    assert_eq!(q(&mut c, &["SWAPDB", "0", "1"]), Value::Okay);
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 1);
    assert_eq!(qa::<i64>(&mut c1, &["DBSIZE"]), 3);
    assert_eq!(qa::<String>(&mut c1, &["GET", "b"]), "2");
    assert_eq!(q(&mut c1, &["FLUSHDB"]), Value::Okay);
    assert_eq!(qa::<i64>(&mut c1, &["DBSIZE"]), 0);
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 1);
    q(&mut c1, &["SET", "y", "1"]);
    assert_eq!(q(&mut c, &["FLUSHALL", "SYNC"]), Value::Okay);
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 0);
    assert_eq!(qa::<i64>(&mut c1, &["DBSIZE"]), 0);
    assert_eq!(q(&mut c, &["FLUSHDB", "ASYNC"]), Value::Okay);
    assert_errors(
        &mut c,
        &[
            (&["SWAPDB", "0", "abc"], "ERR invalid second DB index"),
            (&["SWAPDB", "abc", "0"], "ERR invalid first DB index"),
            (&["SWAPDB", "0", "99"], "ERR DB index is out of range"),
            (&["SWAPDB", "0"], &arity_error("swapdb")),
            (&["FLUSHDB", "FOO"], "ERR syntax error"),
            (&["FLUSHALL", "FOO"], "ERR syntax error"),
            (&["DBSIZE", "x"], &arity_error("dbsize")),
        ],
    );
}

#[test]
fn client_names_ids_lists_and_kills() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut other = s.conn();
    assert_eq!(q(&mut c, &["CLIENT", "GETNAME"]), Value::Nil);
    assert_eq!(q(&mut c, &["CLIENT", "SETNAME", "me"]), Value::Okay);
    assert_eq!(qa::<String>(&mut c, &["CLIENT", "GETNAME"]), "me");
    let id: i64 = qa(&mut c, &["CLIENT", "ID"]);
    let other_id: i64 = qa(&mut other, &["CLIENT", "ID"]);
    assert_ne!(id, other_id);
    assert_eq!(
        q(&mut c, &["CLIENT", "SETINFO", "LIB-NAME", "frys-test"]),
        Value::Okay
    );
    assert_eq!(
        q(&mut c, &["CLIENT", "SETINFO", "LIB-VER", "1.0"]),
        Value::Okay
    );
    let info: String = qa(&mut c, &["CLIENT", "INFO"]);
    assert!(info.starts_with(&format!("id={id} ")), "{info}");
    assert!(info.contains(" name=me "), "{info}");
    assert!(info.contains(" lib-name=frys-test "), "{info}");
    let list: String = qa(&mut c, &["CLIENT", "LIST"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains(&format!("id={other_id} ")), "{list}");
    assert_eq!(
        qa::<i64>(&mut c, &["CLIENT", "KILL", "ID", &other_id.to_string()]),
        1
    );
    assert!(cmd(&["PING"]).query::<String>(&mut other).is_err());
    assert!(eventually(PATIENCE, || {
        qa::<String>(&mut c, &["CLIENT", "LIST"]).lines().count() == 1
    }));
    assert_eq!(qa::<i64>(&mut c, &["CLIENT", "KILL", "ID", "99999"]), 0);
    assert_errors(
        &mut c,
        &[
            (
                &["CLIENT", "SETNAME", "a b"],
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ),
            (
                &["CLIENT", "SETINFO", "FOO", "1"],
                "ERR Unrecognized option 'FOO'",
            ),
            (
                &["CLIENT", "SETINFO", "LIB-NAME", "a b"],
                "ERR LIB-NAME cannot contain spaces, newlines or special characters.",
            ),
            (
                &["CLIENT", "KILL", "ID", "abc"],
                "ERR client-id should be greater than 0",
            ),
            (&["CLIENT", "KILL", "1.2.3.4:5"], "ERR No such client"),
            (
                &["CLIENT", "FOO"],
                "ERR unknown subcommand 'FOO'. Try CLIENT HELP.",
            ),
            (&["CLIENT"], &arity_error("client")),
            (&["CLIENT", "SETNAME"], &arity_error("client|setname")),
        ],
    );
}

#[test]
fn info_reports_keyspace_loading_and_role() {
    let s = Server::start(2);
    let mut c = s.conn();
    q(&mut c, &["MSET", "a", "1", "b", "2"]);
    q(&mut c, &["SET", "t", "1", "EX", "100"]);
    let all: String = qa(&mut c, &["INFO"]);
    for needle in [
        "# Server",
        "redis_version:",
        "loading:0",
        "role:master",
        "# Keyspace",
    ] {
        assert!(all.contains(needle), "INFO lacks {needle}:\n{all}");
    }
    let ks: String = qa(&mut c, &["INFO", "keyspace"]);
    assert!(ks.contains("db0:keys=3,expires=1,"), "{ks}");
    let repl: String = qa(&mut c, &["INFO", "replication"]);
    assert!(repl.contains("role:master"), "{repl}");
    assert!(!repl.contains("# Keyspace"), "{repl}");
    let persistence: String = qa(&mut c, &["INFO", "persistence"]);
    assert!(persistence.contains("loading:0"), "{persistence}");
}

#[test]
fn config_get_set_and_resetstat() {
    let s = Server::start(1);
    let mut c = s.conn();
    let all: Vec<String> = qa(&mut c, &["CONFIG", "GET", "*"]);
    assert!(all.len() > 10 && all.len().is_multiple_of(2));
    assert!(all.contains(&"maxmemory-policy".to_string()));
    let (name, value): (String, String) = {
        let v: Vec<String> = qa(&mut c, &["CONFIG", "GET", "timeout"]);
        (v[0].clone(), v[1].clone())
    };
    assert_eq!((name.as_str(), value.as_str()), ("timeout", "0"));
    assert_eq!(q(&mut c, &["CONFIG", "SET", "timeout", "300"]), Value::Okay);
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["CONFIG", "GET", "timeout"]),
        ["timeout", "300"]
    );
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["CONFIG", "GET", "nosuch"]),
        Vec::<String>::new()
    );
    q(&mut c, &["GET", "x"]);
    assert_eq!(q(&mut c, &["CONFIG", "RESETSTAT"]), Value::Okay);
    let stats: String = qa(&mut c, &["INFO", "commandstats"]);
    assert!(!stats.contains("cmdstat_get:"), "{stats}");
    assert_errors(
        &mut c,
        &[
            (
                &["CONFIG", "SET", "nosuch", "1"],
                "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
            ),
            (&["CONFIG", "GET"], &arity_error("config|get")),
            (
                &["CONFIG", "RESETSTAT", "x"],
                &arity_error("config|resetstat"),
            ),
            (
                &["CONFIG", "FOO"],
                "ERR unknown subcommand 'FOO'. Try CONFIG HELP.",
            ),
        ],
    );
}

#[test]
fn command_count_info_and_docs_describe_the_table() {
    let s = Server::start(1);
    let mut c = s.conn();
    let count: i64 = qa(&mut c, &["COMMAND", "COUNT"]);
    assert!(count > 50, "{count}");
    let Value::Array(info) = q(&mut c, &["COMMAND", "INFO", "get", "nosuch"]) else {
        panic!("array");
    };
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else {
        panic!("array")
    };
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);
    let Value::Array(docs) = q(&mut c, &["COMMAND", "DOCS", "set"]) else {
        panic!("array");
    };
    assert_eq!(docs[0], bulk("set"));
    let Value::Array(fields) = &docs[1] else {
        panic!("array")
    };
    assert!(fields.contains(&bulk("summary")));
    assert!(fields.contains(&bulk("since")));
    assert_eq!(
        err(&mut c, &["COMMAND", "COUNT", "x"]),
        arity_error("command|count")
    );
}

#[test]
fn time_save_lastsave_debug_and_quit() {
    let s = Server::start(2);
    let mut c = s.conn();
    let (secs, micros): (String, String) = qa(&mut c, &["TIME"]);
    let secs: u64 = secs.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) < 60, "{secs} vs {now}");
    assert!(micros.parse::<u32>().unwrap() < 1_000_000);
    q(&mut c, &["SET", "k", "v"]);
    assert_eq!(q(&mut c, &["SAVE"]), Value::Okay);
    let last: u64 = qa(&mut c, &["LASTSAVE"]);
    assert!(last.abs_diff(now) < 60);
    assert_errors(
        &mut c,
        &[
            (&["TIME", "x"], &arity_error("time")),
            (&["SAVE", "x"], &arity_error("save")),
            (&["LASTSAVE", "x"], &arity_error("lastsave")),
            (
                &["DEBUG", "SLEEP", "0"],
                "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
            ),
        ],
    );
    let mut raw = s.raw();
    let (out, closed) = raw_exchange(&mut raw, b"QUIT\r\nPING\r\n");
    assert_eq!(out, b"+OK\r\n");
    assert!(closed);
}

#[test]
fn shutdown_answers_what_came_before_it_then_closes_without_a_reply_and_exits_0() {
    let mut s = Server::start(2);
    let mut c = s.conn();
    qa::<()>(&mut c, &["SET", "kept", "yes"]);
    assert_eq!(err(&mut c, &["SHUTDOWN", "BOGUS"]), "ERR syntax error");
    let mut raw = s.raw();
    let (out, closed) = raw_exchange(&mut raw, b"PING\r\nSHUTDOWN\r\nPING\r\n");
    assert_eq!(out, b"+PONG\r\n");
    assert!(closed);
    assert!(s.wait_exit().success());
    s.start_again(2);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["GET", "kept"]), "yes");
}
