//! Pub/sub against the real binary: replies and pushes byte for byte as
//! redis-server 7 sends them, delivery between clients on different
//! cores (each connection's core is read from CLIENT INFO), ordering,
//! introspection, subscribed-mode rules, the output buffer limit, and
//! cleanup when a subscriber goes away.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use crate::common::*;

/// A RESP frame as the server sent it; aggregates keep their type byte
/// (`*` array, `>` push, `%` map, `~` set).
#[derive(Debug, Clone, PartialEq)]
enum R {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Agg(char, Vec<R>),
}

fn b(s: &str) -> R {
    R::Bulk(s.as_bytes().to_vec())
}

fn arr(items: Vec<R>) -> R {
    R::Agg('*', items)
}

fn push(items: Vec<R>) -> R {
    R::Agg('>', items)
}

/// The frame of a RESP2 (`*`) or RESP3 (`>`) pub/sub event.
fn event(resp3: bool, items: Vec<R>) -> R {
    if resp3 {
        push(items)
    } else {
        arr(items)
    }
}

fn confirm(kind: &str, name: &str, count: i64) -> R {
    arr(vec![b(kind), b(name), R::Int(count)])
}

fn message(channel: &str, payload: &str) -> R {
    arr(vec![b("message"), b(channel), b(payload)])
}

fn bulks(names: &[&str]) -> R {
    arr(names.iter().map(|n| b(n)).collect())
}

/// A raw client: commands as RESP multibulk, frames read one at a time.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn new(s: &Server) -> Client {
        let stream = s.raw();
        Client {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    /// A client the server placed on `core` (connections are spread by
    /// the kernel; the others are closed).
    fn on_core(s: &Server, core: usize) -> Client {
        for _ in 0..1000 {
            let mut c = Client::new(s);
            if c.core() == core {
                return c;
            }
        }
        panic!("no connection landed on core {core}");
    }

    fn core(&mut self) -> usize {
        let R::Bulk(info) = self.call(&["CLIENT", "INFO"]) else {
            panic!("CLIENT INFO");
        };
        let info = String::from_utf8(info).expect("utf8");
        info.split_whitespace()
            .find_map(|f| f.strip_prefix("io-thread="))
            .and_then(|n| n.parse().ok())
            .expect("io-thread field")
    }

    fn encode(args: &[&str], out: &mut Vec<u8>) {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = Vec::new();
        Client::encode(args, &mut out);
        self.writer.write_all(&out).expect("send");
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    fn call(&mut self, args: &[&str]) -> R {
        self.send(args);
        self.recv()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        assert!(line.ends_with("\r\n"), "truncated line {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    fn recv(&mut self) -> R {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        let n = || rest.parse::<i64>().expect("length");
        match kind {
            "+" => R::Simple(rest.to_string()),
            "-" => R::Error(rest.to_string()),
            ":" => R::Int(n()),
            "_" => R::Nil,
            "$" if n() < 0 => R::Nil,
            "$" => {
                let mut data = vec![0u8; n() as usize + 2];
                self.reader.read_exact(&mut data).expect("bulk");
                data.truncate(data.len() - 2);
                R::Bulk(data)
            }
            "*" if n() < 0 => R::Nil,
            "*" | ">" | "~" => {
                let items = (0..n()).map(|_| self.recv()).collect();
                R::Agg(kind.chars().next().unwrap_or('*'), items)
            }
            "%" => {
                let items = (0..2 * n()).map(|_| self.recv()).collect();
                R::Agg('%', items)
            }
            other => panic!("unexpected frame type {other:?} in {line:?}"),
        }
    }

    fn int(&mut self, args: &[&str]) -> i64 {
        match self.call(args) {
            R::Int(n) => n,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn hello3(&mut self) {
        assert!(matches!(self.call(&["HELLO", "3"]), R::Agg('%', _)));
    }
}

fn numsub(c: &mut Client, channel: &str) -> i64 {
    match c.call(&["PUBSUB", "NUMSUB", channel]) {
        R::Agg('*', items) if items.len() == 2 => match items[1] {
            R::Int(n) => n,
            _ => panic!("{items:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn subscribe_and_unsubscribe_confirm_each_name_with_the_clients_count() {
    let s = Server::start(2);
    let mut c = Client::new(&s);
    // Exact bytes of a confirmation.
    c.send(&["SUBSCRIBE", "a"]);
    let mut raw = [0u8; 30];
    c.reader.read_exact(&mut raw).unwrap();
    assert_eq!(&raw, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    c.send(&["SUBSCRIBE", "b", "a"]);
    assert_eq!(c.recv(), confirm("subscribe", "b", 2));
    assert_eq!(c.recv(), confirm("subscribe", "a", 2), "already subscribed");
    c.send(&["PSUBSCRIBE", "p*", "q?"]);
    assert_eq!(c.recv(), confirm("psubscribe", "p*", 3));
    assert_eq!(c.recv(), confirm("psubscribe", "q?", 4));
    assert_eq!(
        c.call(&["UNSUBSCRIBE", "a"]),
        confirm("unsubscribe", "a", 3)
    );
    assert_eq!(
        c.call(&["UNSUBSCRIBE", "never"]),
        confirm("unsubscribe", "never", 3)
    );
    // No arguments: every channel, then a null name when none is left.
    assert_eq!(c.call(&["UNSUBSCRIBE"]), confirm("unsubscribe", "b", 2));
    assert_eq!(
        c.call(&["UNSUBSCRIBE"]),
        arr(vec![b("unsubscribe"), R::Nil, R::Int(2)])
    );
    c.send(&["PUNSUBSCRIBE"]);
    assert_eq!(c.recv(), confirm("punsubscribe", "p*", 1));
    assert_eq!(c.recv(), confirm("punsubscribe", "q?", 0));
    c.send(&["PUNSUBSCRIBE"]);
    let mut raw = [0u8; 32];
    c.reader.read_exact(&mut raw).unwrap();
    assert_eq!(&raw, b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");
    // Out of subscribed mode again.
    assert_eq!(c.call(&["PING"]), R::Simple("PONG".into()));
    // A client that never subscribed.
    let mut fresh = Client::new(&s);
    assert_eq!(
        fresh.call(&["UNSUBSCRIBE"]),
        arr(vec![b("unsubscribe"), R::Nil, R::Int(0)])
    );
    assert_eq!(fresh.call(&["GET", "k"]), R::Nil);
}

#[test]
fn messages_reach_subscribers_on_every_core_and_publish_counts_them() {
    let s = Server::start(2);
    let mut subs: Vec<Client> = (0..2)
        .flat_map(|core| [Client::on_core(&s, core), Client::on_core(&s, core)])
        .collect();
    for c in &mut subs {
        assert_eq!(
            c.call(&["SUBSCRIBE", "news"]),
            confirm("subscribe", "news", 1)
        );
    }
    let mut pattern = Client::on_core(&s, 1);
    pattern.send(&["PSUBSCRIBE", "n*", "*s"]);
    assert_eq!(pattern.recv(), confirm("psubscribe", "n*", 1));
    assert_eq!(pattern.recv(), confirm("psubscribe", "*s", 2));
    for core in 0..2 {
        let mut publisher = Client::on_core(&s, core);
        let payload = format!("from core {core}");
        // Four channel subscribers and two matching patterns.
        assert_eq!(publisher.int(&["PUBLISH", "news", &payload]), 6);
        for c in &mut subs {
            assert_eq!(c.recv(), message("news", &payload));
        }
        let mut got = vec![pattern.recv(), pattern.recv()];
        got.sort_by_key(|f| format!("{f:?}"));
        let pm = |p: &str| arr(vec![b("pmessage"), b(p), b("news"), b(&payload)]);
        let mut want = vec![pm("n*"), pm("*s")];
        want.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(got, want);
        assert_eq!(publisher.int(&["PUBLISH", "weather", "x"]), 0);
        assert_eq!(publisher.int(&["PUBLISH", "nx", "y"]), 1, "pattern n*");
        assert_eq!(
            pattern.recv(),
            arr(vec![b("pmessage"), b("n*"), b("nx"), b("y")])
        );
    }
}

#[test]
fn a_thousand_pipelined_publishes_arrive_in_order_on_every_core() {
    let s = Server::start(2);
    let mut subs: Vec<Client> = (0..2).map(|core| Client::on_core(&s, core)).collect();
    for c in &mut subs {
        assert_eq!(
            c.call(&["SUBSCRIBE", "seq"]),
            confirm("subscribe", "seq", 1)
        );
    }
    for core in 0..2 {
        let mut publisher = Client::on_core(&s, core);
        let mut pipeline = Vec::new();
        for i in 0..1000 {
            Client::encode(&["PUBLISH", "seq", &format!("{core}:{i}")], &mut pipeline);
        }
        publisher.send_raw(&pipeline);
        for i in 0..1000 {
            assert_eq!(publisher.recv(), R::Int(2), "reply {i}");
        }
        for c in &mut subs {
            for i in 0..1000 {
                assert_eq!(c.recv(), message("seq", &format!("{core}:{i}")));
            }
        }
    }
}

#[test]
fn pubsub_introspection_counts_every_core() {
    let s = Server::start(2);
    let mut a = Client::on_core(&s, 0);
    let mut b0 = Client::on_core(&s, 1);
    let mut other = Client::on_core(&s, 0);
    a.send(&["SUBSCRIBE", "news.eu", "news.us", "sport"]);
    for _ in 0..3 {
        a.recv();
    }
    b0.send(&["SUBSCRIBE", "news.eu"]);
    b0.recv();
    b0.send(&["PSUBSCRIBE", "news.*", "x*"]);
    b0.recv();
    b0.recv();
    a.send(&["PSUBSCRIBE", "news.*"]);
    a.recv();
    b0.call(&["SSUBSCRIBE", "shard.a"]);
    for c in [&mut other, &mut Client::on_core(&s, 1)] {
        assert_eq!(
            c.call(&["PUBSUB", "CHANNELS"]),
            bulks(&["news.eu", "news.us", "sport"])
        );
        assert_eq!(
            c.call(&["PUBSUB", "CHANNELS", "news.*"]),
            bulks(&["news.eu", "news.us"])
        );
        assert_eq!(
            c.call(&["PUBSUB", "NUMSUB", "news.eu", "sport", "none"]),
            arr(vec![
                b("news.eu"),
                R::Int(2),
                b("sport"),
                R::Int(1),
                b("none"),
                R::Int(0)
            ])
        );
        assert_eq!(c.call(&["PUBSUB", "NUMSUB"]), arr(vec![]));
        // Unique patterns: news.* counts once though two cores have it.
        assert_eq!(c.int(&["PUBSUB", "NUMPAT"]), 2);
        assert_eq!(c.call(&["PUBSUB", "SHARDCHANNELS"]), bulks(&["shard.a"]));
        assert_eq!(
            c.call(&["PUBSUB", "SHARDNUMSUB", "shard.a", "news.eu"]),
            arr(vec![b("shard.a"), R::Int(1), b("news.eu"), R::Int(0)])
        );
        let R::Bulk(info) = c.call(&["INFO", "stats"]) else {
            panic!("INFO")
        };
        let info = String::from_utf8(info).unwrap();
        for field in [
            "pubsub_channels:3\r\n",
            "pubsub_patterns:2\r\n",
            "pubsubshard_channels:1\r\n",
        ] {
            assert!(info.contains(field), "{field} in {info}");
        }
    }
    // An UNSUBSCRIBE's confirmation comes once every core knows.
    assert_eq!(
        a.call(&["UNSUBSCRIBE", "sport"]),
        confirm("unsubscribe", "sport", 3)
    );
    assert_eq!(
        Client::on_core(&s, 1).call(&["PUBSUB", "CHANNELS"]),
        bulks(&["news.eu", "news.us"])
    );
    assert_eq!(
        other.call(&["PUBSUB", "CHANNELS", "a", "b"]),
        R::Error(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
                .into()
        )
    );
    assert_eq!(
        other.call(&["PUBSUB", "NOPE"]),
        R::Error("ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.".into())
    );
    assert_eq!(
        other.call(&["PUBSUB"]),
        R::Error("ERR wrong number of arguments for 'pubsub' command".into())
    );
}

#[test]
fn resp2_subscribers_may_only_subscribe_unsubscribe_ping_quit_and_reset() {
    let s = Server::start(2);
    let mut c = Client::new(&s);
    c.call(&["SUBSCRIBE", "a"]);
    let only = |name: &str| {
        R::Error(format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ))
    };
    assert_eq!(c.call(&["GET", "k"]), only("get"));
    assert_eq!(c.call(&["publish", "a", "x"]), only("publish"));
    assert_eq!(c.call(&["CLIENT", "ID"]), only("client|id"));
    assert_eq!(c.call(&["PUBSUB", "NUMPAT"]), only("pubsub|numpat"));
    // Checks before the subscribed-mode rule still come first.
    assert_eq!(
        c.call(&["NOSUCH"]),
        R::Error("ERR unknown command 'NOSUCH', with args beginning with: ".into())
    );
    assert_eq!(
        c.call(&["GET"]),
        R::Error("ERR wrong number of arguments for 'get' command".into())
    );
    assert_eq!(c.call(&["PING"]), arr(vec![b("pong"), b("")]));
    assert_eq!(c.call(&["PING", "hi"]), arr(vec![b("pong"), b("hi")]));
    assert_eq!(c.call(&["PSUBSCRIBE", "p"]), confirm("psubscribe", "p", 2));
    c.call(&["UNSUBSCRIBE"]);
    assert_eq!(c.call(&["GET", "k"]), only("get"), "still on a pattern");
    c.call(&["PUNSUBSCRIBE"]);
    assert_eq!(c.call(&["GET", "k"]), R::Nil);
    assert_eq!(c.call(&["PING"]), R::Simple("PONG".into()));
    // RESET leaves every subscription, here and for the other cores.
    c.send(&["SUBSCRIBE", "r1", "r2"]);
    c.recv();
    c.recv();
    c.call(&["SSUBSCRIBE", "r3"]);
    assert_eq!(c.call(&["RESET"]), R::Simple("RESET".into()));
    assert_eq!(c.call(&["GET", "k"]), R::Nil);
    // Like UNSUBSCRIBE, RESET answers once every core knows.
    for core in 0..2 {
        let mut probe = Client::on_core(&s, core);
        assert_eq!(probe.call(&["PUBSUB", "CHANNELS"]), arr(vec![]));
        assert_eq!(probe.call(&["PUBSUB", "SHARDCHANNELS"]), arr(vec![]));
        assert_eq!(numsub(&mut probe, "r1"), 0);
    }
    // The rule applies from the next request of the same pipeline on.
    let mut piped = Client::new(&s);
    piped.send_raw(b"SUBSCRIBE p1\r\nGET k\r\nPING\r\n");
    assert_eq!(piped.recv(), confirm("subscribe", "p1", 1));
    assert_eq!(piped.recv(), only("get"));
    assert_eq!(piped.recv(), arr(vec![b("pong"), b("")]));
    // QUIT is allowed and closes.
    c.call(&["SUBSCRIBE", "q"]);
    assert_eq!(c.call(&["QUIT"]), R::Simple("OK".into()));
}

#[test]
fn resp3_subscribers_get_push_frames_and_may_run_any_command() {
    let s = Server::start(2);
    let mut sub = Client::on_core(&s, 0);
    sub.hello3();
    sub.send(&["SUBSCRIBE", "ch"]);
    let mut raw = [0u8; 31];
    sub.reader.read_exact(&mut raw).unwrap();
    assert_eq!(&raw, b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    assert_eq!(sub.call(&["SET", "k", "v"]), R::Simple("OK".into()));
    assert_eq!(sub.call(&["GET", "k"]), b("v"));
    assert_eq!(sub.call(&["PING"]), R::Simple("PONG".into()));
    let mut publisher = Client::on_core(&s, 1);
    assert_eq!(publisher.int(&["PUBLISH", "ch", "hello"]), 1);
    assert_eq!(
        sub.recv(),
        event(true, vec![b("message"), b("ch"), b("hello")])
    );
    sub.send(&["PSUBSCRIBE", "c*"]);
    assert_eq!(
        sub.recv(),
        event(true, vec![b("psubscribe"), b("c*"), R::Int(2)])
    );
    assert_eq!(publisher.int(&["PUBLISH", "ch", "two"]), 2);
    let got = [sub.recv(), sub.recv()];
    assert!(got.contains(&event(true, vec![b("message"), b("ch"), b("two")])));
    assert!(got.contains(&event(
        true,
        vec![b("pmessage"), b("c*"), b("ch"), b("two")]
    )));
    // A RESP3 subscriber may publish to itself.
    assert_eq!(sub.int(&["PUBLISH", "other", "x"]), 0);
    sub.send(&["UNSUBSCRIBE"]);
    assert_eq!(
        sub.recv(),
        event(true, vec![b("unsubscribe"), b("ch"), R::Int(1)])
    );
    sub.send(&["PUNSUBSCRIBE", "c*"]);
    assert_eq!(
        sub.recv(),
        event(true, vec![b("punsubscribe"), b("c*"), R::Int(0)])
    );
    sub.send(&["UNSUBSCRIBE"]);
    assert_eq!(sub.line(), ">3");
    assert_eq!(sub.recv(), b("unsubscribe"));
    assert_eq!(sub.line(), "_", "RESP3 null");
    assert_eq!(sub.recv(), R::Int(0));
}

#[test]
fn a_message_published_while_a_subscriber_is_idle_is_written_at_once() {
    // The redis crate's own pub/sub client, RESP2.
    let s = Server::start(2);
    let mut con = s.conn();
    let mut publisher = s.conn();
    let mut pubsub = con.as_pubsub();
    pubsub.subscribe("idle").unwrap();
    pubsub.psubscribe("id*").unwrap();
    let n: i64 = qa(&mut publisher, &["PUBLISH", "idle", "wake up"]);
    assert_eq!(n, 2);
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = pubsub.get_message().unwrap();
        got.push((
            msg.get_channel_name().to_string(),
            msg.get_pattern::<Option<String>>().unwrap(),
            msg.get_payload::<String>().unwrap(),
        ));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("idle".into(), None, "wake up".into()),
            ("idle".into(), Some("id*".into()), "wake up".into()),
        ]
    );
}

#[test]
fn shard_channels_are_their_own_namespace() {
    let s = Server::start(2);
    let mut sub = Client::on_core(&s, 0);
    let mut publisher = Client::on_core(&s, 1);
    assert_eq!(
        sub.call(&["SSUBSCRIBE", "orders"]),
        confirm("ssubscribe", "orders", 1)
    );
    sub.send(&["PSUBSCRIBE", "*"]);
    // The count of a (p)subscribe leaves shard channels out.
    assert_eq!(sub.recv(), confirm("psubscribe", "*", 1));
    assert_eq!(publisher.int(&["SPUBLISH", "orders", "o1"]), 1);
    assert_eq!(sub.recv(), arr(vec![b("smessage"), b("orders"), b("o1")]));
    // PUBLISH reaches the pattern, not the shard subscriber.
    assert_eq!(publisher.int(&["PUBLISH", "orders", "o2"]), 1);
    assert_eq!(
        sub.recv(),
        arr(vec![b("pmessage"), b("*"), b("orders"), b("o2")])
    );
    assert_eq!(publisher.int(&["SPUBLISH", "other", "x"]), 0);
    assert_eq!(
        sub.call(&["SUNSUBSCRIBE"]),
        confirm("sunsubscribe", "orders", 0)
    );
    assert_eq!(
        sub.call(&["SUNSUBSCRIBE"]),
        arr(vec![b("sunsubscribe"), R::Nil, R::Int(0)])
    );
}

#[test]
fn a_closed_subscriber_leaves_every_core() {
    let s = Server::start(2);
    let mut subs: Vec<Client> = (0..2).map(|core| Client::on_core(&s, core)).collect();
    for c in &mut subs {
        c.call(&["SUBSCRIBE", "gone"]);
        c.call(&["PSUBSCRIBE", "go*"]);
    }
    let mut probe = Client::new(&s);
    assert_eq!(numsub(&mut probe, "gone"), 2);
    assert_eq!(probe.int(&["PUBLISH", "gone", "x"]), 4);
    drop(subs);
    assert!(
        eventually(PATIENCE, || numsub(&mut probe, "gone") == 0
            && probe.int(&["PUBSUB", "NUMPAT"]) == 0),
        "subscriptions outlived their connections"
    );
    assert_eq!(probe.call(&["PUBSUB", "CHANNELS"]), arr(vec![]));
    assert_eq!(probe.int(&["PUBLISH", "gone", "x"]), 0);
}

#[test]
fn client_list_shows_subscriptions_and_filters_pubsub_clients() {
    let s = Server::start(2);
    let mut sub = Client::new(&s);
    sub.send(&["SUBSCRIBE", "a", "b"]);
    sub.recv();
    sub.recv();
    sub.call(&["PSUBSCRIBE", "p*"]);
    sub.call(&["SSUBSCRIBE", "s"]);
    let mut c = s.conn();
    let text: String = qa(&mut c, &["CLIENT", "LIST", "TYPE", "pubsub"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    for field in [" flags=P ", " sub=2 ", " psub=1 ", " ssub=1 "] {
        assert!(lines[0].contains(field), "{field} in {}", lines[0]);
    }
    let normal: String = qa(&mut c, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert_eq!(
        normal.lines().count(),
        1,
        "only the asking client: {normal}"
    );
    assert!(normal.contains(" flags=N ") && normal.contains(" sub=0 "));
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_at_the_output_limit() {
    let s = Server::start_with(2, &["--client-output-buffer-limit", "pubsub 1mb 256kb 60"]);
    let mut c = s.conn();
    let limit: Vec<String> = qa(&mut c, &["CONFIG", "GET", "client-output-buffer-limit"]);
    assert_eq!(
        limit,
        vec![
            "client-output-buffer-limit".to_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 262144 60".to_string()
        ]
    );
    let mut slow = Client::on_core(&s, 0);
    let slow_id = slow.int(&["CLIENT", "ID"]);
    shrink_receive_buffer(&slow.writer);
    slow.call(&["SUBSCRIBE", "flood"]);
    let mut publisher = Client::on_core(&s, 1);
    let payload = "x".repeat(64 * 1024);
    let before = s.rss_bytes();
    // The kernel's socket buffers take some first; then the server holds
    // at most the 1 MiB limit before it lets the subscriber go.
    let mut published = 0;
    while publisher.int(&["PUBLISH", "flood", &payload]) == 1 {
        published += 1;
        assert!(published < 20_000, "the subscriber was never disconnected");
    }
    assert!(published > 16, "disconnected after {published} messages");
    assert_eq!(publisher.call(&["PING"]), R::Simple("PONG".into()));
    assert_eq!(numsub(&mut publisher, "flood"), 0);
    assert!(s.rss_bytes() < before + 64 * 1024 * 1024, "memory grew");
    // The subscriber gets what the kernel had, then the end.
    // Its connection is gone (the bytes still in the kernel are not read:
    // through a 4 KiB window that would take minutes).
    let gone = format!("id={slow_id} ");
    assert!(eventually(PATIENCE, || {
        let list: String = qa(&mut c, &["CLIENT", "LIST"]);
        !list.contains(&gone)
    }));
    // The log line reaches the harness through a pipe: wait for it.
    assert!(eventually(PATIENCE, || s.stderr().contains(
        "scheduled to be closed ASAP for overcoming of output buffer limits."
    )));
    let info: String = qa(&mut c, &["INFO", "stats"]);
    assert!(
        info.contains("\r\nclient_output_buffer_limit_disconnections:1\r\n"),
        "{info}"
    );
    // CONFIG SET changes one class and keeps the others.
    assert_eq!(
        q(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "normal 1mb 2mb 3"
            ]
        ),
        redis::Value::Okay
    );
    let limit: Vec<String> = qa(&mut c, &["CONFIG", "GET", "client-output-buffer-limit"]);
    assert_eq!(
        limit[1],
        "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 1048576 262144 60"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1"]),
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."
    );
}

/// A small receive window, so the kernel buffers little for a client
/// that does not read.
fn shrink_receive_buffer(s: &TcpStream) {
    let size: libc::c_int = 4096;
    // SAFETY: setsockopt on an open socket with a pointer to a c_int and
    // its size, as SO_RCVBUF expects.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt");
}

#[test]
fn command_info_and_docs_describe_the_pubsub_family() {
    let s = Server::start(1);
    let mut c = s.conn();
    let info = q(
        &mut c,
        &["COMMAND", "INFO", "publish", "subscribe", "spublish"],
    );
    let text = format!("{info:?}");
    for want in [
        "publish",
        "subscribe",
        "spublish",
        "pubsub",
        "@pubsub",
        "@fast",
        "@slow",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let redis::Value::Array(rows) = info else {
        panic!("{info:?}")
    };
    let arity = |row: &redis::Value| match row {
        redis::Value::Array(f) => f[1].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(arity(&rows[0]), redis::Value::Int(3));
    assert_eq!(arity(&rows[1]), redis::Value::Int(-2));
    let docs = format!("{:?}", q(&mut c, &["COMMAND", "DOCS", "pubsub"]));
    for sub in [
        "pubsub|channels",
        "pubsub|numsub",
        "pubsub|numpat",
        "pubsub|shardnumsub",
    ] {
        assert!(docs.contains(sub), "{sub} in {docs}");
    }
}
