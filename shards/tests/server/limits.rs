//! Clients that misbehave, against the real binary: `maxclients`, the
//! idle `timeout` (not for blocked or subscribed clients), the `normal`
//! class of `client-output-buffer-limit` cutting a client that does not
//! read, the buffer fields of CLIENT LIST / INFO, and protected mode.

use std::io::Write;
use std::net::{IpAddr, TcpStream, UdpSocket};

use crate::common::*;
use redis::Value;

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = qa(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .to_string()
}

fn client_line(c: &mut redis::Connection, id: i64) -> Option<String> {
    let list: String = qa(c, &["CLIENT", "LIST"]);
    let prefix = format!("id={id} ");
    list.lines()
        .find(|l| l.starts_with(&prefix))
        .map(str::to_string)
}

fn field(line: &str, name: &str) -> u64 {
    let prefix = format!("{name}=");
    line.split(' ')
        .find_map(|f| f.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// Sends `line` and reads one reply line.
fn raw_line(s: &mut TcpStream, line: &[u8]) -> String {
    s.write_all(line).unwrap();
    read_line(s)
}

#[test]
fn clients_over_maxclients_are_told_and_closed() {
    let s = Server::start_with(2, &["--maxclients", "3"]);
    let mut first = s.conn();
    let _second = s.conn();
    let mut third = s.raw();
    assert_eq!(raw_line(&mut third, b"PING\r\n"), "+PONG\r\n");
    let mut over = s.raw();
    let (reply, closed) = read_until_closed(&mut over);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR max number of clients reached\r\n"
    );
    assert!(closed);
    assert_eq!(info_field(&mut first, "clients", "maxclients"), "3");
    assert_eq!(info_field(&mut first, "clients", "connected_clients"), "3");
    assert!(
        info_field(&mut first, "stats", "rejected_connections")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // A client that leaves makes room.
    drop(third);
    assert!(eventually(PATIENCE, || {
        let mut next = s.raw();
        raw_line(&mut next, b"PING\r\n") == "+PONG\r\n"
    }));
}

#[test]
fn idle_clients_are_closed_but_not_blocked_or_subscribed_ones() {
    let s = Server::start_with(2, &["--timeout", "1"]);
    // The subscriber and the blocked client are idle longer than the
    // plain client opened after them.
    let mut subscriber = s.raw();
    assert!(raw_line(&mut subscriber, b"SUBSCRIBE news\r\n").starts_with('*'));
    for _ in 0..5 {
        read_line(&mut subscriber);
    }
    let mut blocked = s.raw();
    blocked.write_all(b"BLPOP queue 0\r\n").unwrap();
    let mut watcher = s.conn();
    wait_blocked(&mut watcher, 1);
    let mut idle = s.raw();
    assert_eq!(raw_line(&mut idle, b"PING\r\n"), "+PONG\r\n");
    let (_, closed) = read_until_closed(&mut idle);
    assert!(closed, "the idle client was not closed");
    // Still there: the blocked client gets its element, the subscriber
    // its message.
    let mut pusher = s.conn();
    assert_eq!(qa::<i64>(&mut pusher, &["RPUSH", "queue", "x"]), 1);
    assert_eq!(read_line(&mut blocked), "*2\r\n");
    assert_eq!(qa::<i64>(&mut pusher, &["PUBLISH", "news", "hi"]), 1);
    assert_eq!(read_line(&mut subscriber), "*3\r\n");
}

#[test]
fn a_client_that_does_not_read_is_cut_at_the_normal_output_limit() {
    let s = Server::start_with(2, &["--client-output-buffer-limit", "normal 1mb 512kb 60"]);
    let mut c = s.conn();
    let value = "v".repeat(200 * 1024);
    assert_eq!(q(&mut c, &["SET", "big", &value]), Value::Okay);
    // One reply under the limits is fine.
    assert_eq!(qa::<String>(&mut c, &["GET", "big"]).len(), value.len());
    let before = s.rss_bytes();
    let mut slow = s.raw();
    let id: i64 = {
        slow.write_all(b"CLIENT ID\r\n").unwrap();
        read_line(&mut slow)
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap()
    };
    // A pipeline whose replies exceed the hard limit, never read.
    slow.write_all(&b"GET big\r\n".repeat(100)).unwrap();
    assert!(
        eventually(PATIENCE, || client_line(&mut c, id).is_none()),
        "the client that does not read was not disconnected"
    );
    assert!(eventually(PATIENCE, || s.stderr().contains(
        "scheduled to be closed ASAP for overcoming of output buffer limits."
    )));
    assert!(s.rss_bytes() < before + 64 * 1024 * 1024, "memory grew");
    assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
}

/// A client held over the soft limit (its batch not written in time) is
/// closed by the check that runs as the output waits: Redis' `clientsCron`
/// text, not the "ASAP" one of a check made as output is added.
#[test]
fn a_client_held_over_the_soft_limit_is_closed_with_redis_text() {
    let s = Server::start_with(2, &["--client-output-buffer-limit", "normal 0 1mb 0"]);
    let mut c = s.conn();
    let value = "v".repeat(1024 * 1024);
    assert_eq!(q(&mut c, &["SET", "big", &value]), Value::Okay);
    let mut slow = s.raw();
    let id: i64 = raw_line(&mut slow, b"CLIENT ID\r\n")
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    // 200 MiB of replies, never read: more than the sockets hold.
    slow.write_all(&b"GET big\r\n".repeat(200)).unwrap();
    let text = format!("Client id={id} ");
    assert!(
        eventually(PATIENCE, || s.stderr().lines().any(
            |l| l.contains(&text) && l.contains("closed for overcoming of output buffer limits.")
        )),
        "{}",
        s.stderr()
    );
    assert!(!s.stderr().contains("scheduled to be closed ASAP"));
    assert!(client_line(&mut c, id).is_none());
}

#[test]
fn a_reply_over_the_normal_hard_limit_is_never_sent_and_its_client_is_closed() {
    let s = Server::start_with(2, &["--client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut c = s.conn();
    // A list whose LRANGE reply is about 4 MiB, four times the limit.
    let element = "e".repeat(64 * 1024);
    for _ in 0..64 {
        let _: i64 = qa(&mut c, &["RPUSH", "big", &element]);
    }
    let mut slow = s.raw();
    let id: i64 = raw_line(&mut slow, b"CLIENT ID\r\n")
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    // One request whose single reply is over the limit: nothing of it is
    // written, the client is closed.
    let (reply, closed) = raw_exchange(&mut slow, b"LRANGE big 0 -1\r\n");
    assert!(closed, "the client over its limit was not closed");
    assert!(reply.is_empty(), "{} bytes were sent", reply.len());
    assert!(client_line(&mut c, id).is_none());
    assert_eq!(
        info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"),
        "1"
    );
    assert!(eventually(PATIENCE, || s
        .stderr()
        .contains(&format!("Client id={id} "))
        && s.stderr().contains(
            "scheduled to be closed ASAP for overcoming of output buffer limits."
        )));
    // Its `omem` is the output that broke the limit, as Redis logs it.
    let log = s.stderr();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("Client id={id} ")))
        .unwrap();
    assert!(field(line, "omem") >= 1024 * 1024, "{line}");
    // Others are unaffected: a reply under the limit still goes out.
    let range: Vec<String> = qa(&mut c, &["LRANGE", "big", "0", "9"]);
    assert_eq!(range.len(), 10);
}

/// Reads from `s` until what it read ends with `end`.
fn read_through(s: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(end) {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => panic!(
                "closed before {:?}: {:?}",
                String::from_utf8_lossy(end),
                out
            ),
        }
    }
    out
}

/// A list `big` whose `LRANGE big 0 -1` reply is about 4 MiB.
fn fill_big_list(c: &mut redis::Connection) {
    let element = "e".repeat(64 * 1024);
    for _ in 0..64 {
        let _: i64 = qa(c, &["RPUSH", "big", &element]);
    }
}

/// The output limit class is the client's at the moment: a client that
/// subscribed once, or subscribes after a large reply, is held to the
/// `normal` limit while it has no subscription, and a subscriber (RESP3
/// too) to the `pubsub` limit for its command replies, as Redis'
/// `getClientType`. Each is closed with none of the reply sent.
#[test]
fn replies_are_held_to_the_limit_of_the_class_the_client_is_in() {
    let s = Server::start_with(2, &["--client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut c = s.conn();
    fill_big_list(&mut c);
    // A bare UNSUBSCRIBE leaves the client normal.
    let mut once = s.raw();
    once.write_all(b"UNSUBSCRIBE\r\nPING\r\n").unwrap();
    read_through(&mut once, b"+PONG\r\n");
    let (reply, closed) = raw_exchange(&mut once, b"LRANGE big 0 -1\r\n");
    assert!(closed, "a client that sent UNSUBSCRIBE escaped the limit");
    assert!(reply.is_empty(), "{} bytes were sent", reply.len());
    // So does having subscribed and left.
    let mut left = s.raw();
    left.write_all(b"SUBSCRIBE x\r\nUNSUBSCRIBE x\r\nPING\r\n")
        .unwrap();
    read_through(&mut left, b"+PONG\r\n");
    let (reply, closed) = raw_exchange(&mut left, b"LRANGE big 0 -1\r\n");
    assert!(
        closed && reply.is_empty(),
        "{} bytes, closed {closed}",
        reply.len()
    );
    // A SUBSCRIBE after the large reply does not exempt it.
    let mut later = s.raw();
    let (reply, closed) = raw_exchange(&mut later, b"LRANGE big 0 -1\r\nSUBSCRIBE x\r\n");
    assert!(closed, "a SUBSCRIBE after the reply exempted it");
    assert!(reply.is_empty(), "{} bytes were sent", reply.len());
    assert_eq!(
        info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"),
        "3"
    );
    // A RESP3 subscriber's command replies face the pubsub limit.
    let s = Server::start_with(
        2,
        &[
            "--client-output-buffer-limit",
            "normal 0 0 0 pubsub 1mb 0 0",
        ],
    );
    let mut c = s.conn();
    fill_big_list(&mut c);
    let mut subscriber = s.raw();
    subscriber
        .write_all(b"HELLO 3\r\nSUBSCRIBE x\r\nPING\r\n")
        .unwrap();
    read_through(&mut subscriber, b"+PONG\r\n");
    let id = client_id_of_subscriber(&mut c);
    let (reply, closed) = raw_exchange(&mut subscriber, b"LRANGE big 0 -1\r\n");
    assert!(
        closed,
        "a RESP3 subscriber's reply escaped the pubsub limit"
    );
    assert!(reply.is_empty(), "{} bytes were sent", reply.len());
    assert!(eventually(PATIENCE, || s
        .stderr()
        .contains(&format!("Client id={id} "))));
    // Not subscribed, the same client would be normal: no limit.
    let mut plain = s.raw();
    plain
        .write_all(b"HELLO 3\r\nLRANGE big 0 -1\r\nPING\r\n")
        .unwrap();
    let got = read_through(&mut plain, b"+PONG\r\n");
    assert!(got.len() > 4 * 1024 * 1024, "{} bytes", got.len());
}

/// The id of the only client subscribed to something.
fn client_id_of_subscriber(c: &mut redis::Connection) -> i64 {
    let list: String = qa(c, &["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(" flags=P "))
        .unwrap_or_else(|| panic!("no subscriber in {list}"));
    field(line, "id") as i64
}

/// With Redis' default `normal 0 0 0`, a client that pipelines large reads
/// and never reads holds one batch of replies: the server stops reading
/// it, so its output does not grow with what it sends.
#[test]
fn a_client_that_never_reads_holds_one_batch_without_a_limit() {
    let s = Server::start(2);
    let mut c = s.conn();
    let value = "v".repeat(1024 * 1024);
    assert_eq!(q(&mut c, &["SET", "big", &value]), Value::Okay);
    let before = s.rss_bytes();
    let mut slow = s.raw();
    let id: i64 = raw_line(&mut slow, b"CLIENT ID\r\n")
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    // 2,000 GETs of 1 MiB: 2 GiB of replies if they were all buffered.
    // The requests themselves fit in the socket buffers.
    slow.write_all(&b"GET big\r\n".repeat(2000)).unwrap();
    assert!(eventually(PATIENCE, || client_line(&mut c, id)
        .is_some_and(|l| field(&l, "omem") > 0)));
    let line = client_line(&mut c, id).unwrap();
    assert!(field(&line, "omem") <= 64 * 1024 * 1024, "{line}");
    assert!(s.rss_bytes() < before + 128 * 1024 * 1024, "memory grew");
    // Other clients are served meanwhile.
    assert_eq!(qa::<String>(&mut c, &["GET", "big"]).len(), value.len());
    assert_eq!(
        info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"),
        "0"
    );
}

#[test]
fn client_list_and_info_show_buffers() {
    let s = Server::start(2);
    let mut c = s.conn();
    let value = "v".repeat(256 * 1024);
    assert_eq!(q(&mut c, &["SET", "big", &value]), Value::Okay);
    // A half-sent request is held in the query buffer.
    let mut partial = s.raw();
    partial.write_all(b"CLIENT ID\r\n").unwrap();
    let pid: i64 = read_line(&mut partial)
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    partial
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabcdefghij")
        .unwrap();
    assert!(eventually(PATIENCE, || client_line(&mut c, pid)
        .is_some_and(|l| field(&l, "qbuf") > 0)));
    let line = client_line(&mut c, pid).unwrap();
    assert!(field(&line, "tot-mem") >= field(&line, "qbuf"), "{line}");
    assert!(
        info_field(&mut c, "clients", "client_recent_max_input_buffer")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // A client that does not read has output waiting (no limit here).
    let mut slow = s.raw();
    slow.write_all(b"CLIENT ID\r\n").unwrap();
    let sid: i64 = read_line(&mut slow)
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    slow.write_all(&b"GET big\r\n".repeat(64)).unwrap();
    assert!(eventually(PATIENCE, || client_line(&mut c, sid)
        .is_some_and(|l| field(&l, "omem") > 0)));
    assert!(
        info_field(&mut c, "clients", "client_recent_max_output_buffer")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(info_field(&mut c, "clients", "connected_clients"), "3");
}

/// A local address of this machine that is not loopback (the source
/// address of a route out), if it has one.
fn non_loopback_address() -> Option<IpAddr> {
    ["192.0.2.1:9", "10.255.255.1:9", "8.8.8.8:53"]
        .iter()
        .find_map(|target| {
            let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
            sock.connect(target).ok()?;
            let ip = sock.local_addr().ok()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
        })
}

#[test]
fn protected_mode_refuses_outside_clients_while_default_has_no_password() {
    let Some(ip) = non_loopback_address() else {
        eprintln!(
            "no non-loopback address: the decision is covered by server::protected's unit test"
        );
        return;
    };
    let s = Server::start_with(1, &["--bind", "0.0.0.0"]);
    let outside = || {
        let t = TcpStream::connect((ip, s.port())).expect("connect from outside");
        t.set_read_timeout(Some(PATIENCE)).unwrap();
        t
    };
    let mut refused = outside();
    let _ = refused.write_all(b"PING\r\n");
    let (reply, closed) = read_until_closed(&mut refused);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        frys_shards::server::protected::DENIED
    );
    assert!(closed);
    // Loopback clients are served.
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
    // With a password the outside client is asked to authenticate.
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "requirepass", "pw"]),
        Value::Okay
    );
    let mut asks = outside();
    assert_eq!(
        raw_line(&mut asks, b"PING\r\n"),
        "-NOAUTH Authentication required.\r\n"
    );
    // protected-mode no serves it without one.
    assert_eq!(raw_line(&mut asks, b"AUTH pw\r\n"), "+OK\r\n");
    assert_eq!(
        raw_line(&mut asks, b"CONFIG SET requirepass \"\"\r\n"),
        "+OK\r\n"
    );
    assert_eq!(
        raw_line(&mut asks, b"CONFIG SET protected-mode no\r\n"),
        "+OK\r\n"
    );
    let mut served = outside();
    assert_eq!(raw_line(&mut served, b"PING\r\n"), "+PONG\r\n");
}

/// Whether `e` is the storage's refusal of a record over its key limit
/// (the error a plain SET of such a key answers).
fn over_key_limit(e: &str) -> bool {
    e.starts_with("ERR storage: invalid argument: op ")
        && e.ends_with("bytes exceeds the limit of 65536 bytes")
}

#[test]
fn collection_writes_of_records_over_the_storage_limit_fail_and_change_nothing() {
    let s = Server::start(1);
    let mut c = s.conn();
    let long = "k".repeat(65_530);
    assert!(over_key_limit(&err(&mut c, &["SET", &long, "v"])));
    for args in [
        &["RPUSH", &long, "a"][..],
        &["LPUSH", &long, "a"],
        &["HSET", &long, "f", "v"],
        &["SADD", &long, "m"],
        &["ZADD", &long, "1", "m"],
    ] {
        let e = err(&mut c, args);
        assert!(over_key_limit(&e), "{}: {e}", args[0]);
        assert_eq!(q(&mut c, &["EXISTS", &long]), Value::Int(0), "{}", args[0]);
    }
    q(&mut c, &["RPUSH", "l", "a"]);
    q(&mut c, &["HSET", "h", "f", "1"]);
    q(&mut c, &["SADD", "s", "m"]);
    q(&mut c, &["ZADD", "z", "1", "m"]);
    let member = "m".repeat(65_530);
    for args in [
        &["HSET", "h", &member, "v"][..],
        &["SADD", "s", &member],
        &["ZADD", "z", "2", &member],
    ] {
        let e = err(&mut c, args);
        assert!(over_key_limit(&e), "{}: {e}", args[0]);
    }
    assert_eq!(qa::<i64>(&mut c, &["LLEN", "l"]), 1);
    assert_eq!(qa::<Vec<String>>(&mut c, &["HKEYS", "h"]), ["f"]);
    assert_eq!(qa::<Vec<String>>(&mut c, &["SMEMBERS", "s"]), ["m"]);
    assert_eq!(
        qa::<Vec<String>>(&mut c, &["ZRANGE", "z", "0", "-1"]),
        ["m"]
    );
    assert_eq!(qa::<i64>(&mut c, &["ZCARD", "z"]), 1);
}
