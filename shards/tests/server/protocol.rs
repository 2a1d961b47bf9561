//! The wire: malformed input over raw sockets, inline commands, long
//! pipelines over every core, a client that never reads, and the arity
//! error of every command in the table in RESP2 and RESP3.

use std::io::Write;
use std::time::Duration;

use crate::common::*;
use redis::Value;

/// Sends `input` on a fresh socket; the server must answer exactly
/// `reply` and close, while another client is still served.
fn assert_protocol_error(s: &Server, input: &[u8], reply: &str) {
    let mut bystander = s.conn();
    let mut raw = s.raw();
    let (out, closed) = raw_exchange(&mut raw, input);
    assert_eq!(
        String::from_utf8_lossy(&out),
        reply,
        "input {:?}",
        String::from_utf8_lossy(&input[..input.len().min(40)])
    );
    assert!(closed, "the connection stays open after {reply}");
    assert_eq!(qa::<String>(&mut bystander, &["PING"]), "PONG");
}

#[test]
fn malformed_requests_get_the_exact_protocol_error_and_are_closed() {
    let s = Server::start(2);
    let cases: &[(&[u8], &str)] = &[
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$abc\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$99999999999\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        // One past proto-max-bulk-len (512 MiB).
        (
            b"*1\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*99999999999\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\nfoo\r\n",
            "-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n:1\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"SET a \"b c\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, reply) in cases {
        assert_protocol_error(&s, input, reply);
    }
}

#[test]
fn an_inline_request_too_big_is_refused_and_closed() {
    let s = Server::start(1);
    // 70 KiB with no newline: over the 64 KiB inline limit.
    let line = vec![b'x'; 70 * 1024];
    assert_protocol_error(&s, &line, "-ERR Protocol error: too big inline request\r\n");
}

#[test]
fn a_ten_mib_inline_line_closes_the_connection_and_others_are_served() {
    let s = Server::start(2);
    let mut bystander = s.conn();
    let raw = s.raw();
    let mut writer = raw.try_clone().unwrap();
    // The server may close (and reset) while we are still sending.
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..160 {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"\r\n");
    });
    let mut reader = raw;
    let (out, closed) = read_until_closed(&mut reader);
    sender.join().unwrap();
    assert!(closed, "still open after a 10 MiB inline line");
    // What arrived before the close, if anything, is the protocol error.
    let text = String::from_utf8_lossy(&out);
    assert!(
        out.is_empty() || text == "-ERR Protocol error: too big inline request\r\n",
        "{text}"
    );
    assert_eq!(qa::<String>(&mut bystander, &["PING"]), "PONG");
}

#[test]
fn random_bytes_never_crash_the_server() {
    let s = Server::start(2);
    let mut bystander = s.conn();
    // A fixed xorshift sequence: deterministic "random" input.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..50 {
        let mut input = Vec::with_capacity(4096);
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            input.push(x as u8);
        }
        // Every other round starts like a multibulk request.
        if round % 2 == 0 {
            input[0] = b'*';
        }
        let mut raw = s.raw();
        raw.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let (out, _) = raw_exchange(&mut raw, &input);
        // Whatever came back is made of whole RESP error lines.
        let text = String::from_utf8_lossy(&out);
        for line in text.split_terminator("\r\n") {
            assert!(line.starts_with("-ERR "), "round {round}: {line:?}");
        }
        assert_eq!(qa::<String>(&mut bystander, &["PING"]), "PONG");
    }
}

#[test]
fn inline_commands_work_with_quotes() {
    let s = Server::start(2);
    let mut raw = s.raw();
    raw.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (out, closed) = raw_exchange(
        &mut raw,
        b"PING\r\nPING\n\r\nSET a \"b c\"\r\nGET a\r\nSET q 'x\\ny'\r\nSTRLEN q\r\n",
    );
    assert!(!closed);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "+PONG\r\n+PONG\r\n+OK\r\n$3\r\nb c\r\n+OK\r\n:4\r\n"
    );
}

#[test]
fn a_pipeline_of_a_thousand_commands_over_both_cores_is_answered_in_order() {
    let s = Server::start(2);
    let mut c = s.conn();
    let mut keys = keys_on_core("p", 0, 2, 50);
    keys.extend(keys_on_core("p", 1, 2, 50));
    let mut pipe = redis::pipe();
    let mut want = Vec::new();
    let mut counts = std::collections::HashMap::new();
    for i in 0..1000 {
        let k = &keys[(i * 7) % keys.len()];
        match i % 4 {
            0 => {
                pipe.cmd("INCR").arg(k);
                let n = counts.entry(k.clone()).or_insert(0i64);
                *n += 1;
                want.push(Value::Int(*n));
            }
            1 => {
                pipe.cmd("GET").arg(k);
                want.push(match counts.get(k) {
                    Some(n) => Value::BulkString(n.to_string().into_bytes()),
                    None => Value::Nil,
                });
            }
            2 => {
                pipe.cmd("EXISTS").arg(k).arg(&keys[(i * 13) % keys.len()]);
                let n = [k, &keys[(i * 13) % keys.len()]]
                    .iter()
                    .filter(|k| counts.contains_key(**k))
                    .count();
                want.push(Value::Int(n as i64));
            }
            _ => {
                pipe.cmd("ECHO").arg(i);
                want.push(Value::BulkString(i.to_string().into_bytes()));
            }
        }
    }
    let got: Vec<Value> = pipe.query(&mut c).unwrap();
    assert_eq!(got.len(), 1000);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "reply {i}");
    }
    // MGET / DEL over both cores agree with the counts.
    let mut args = vec!["MGET"];
    args.extend(keys.iter().map(String::as_str));
    let values: Vec<Option<i64>> = qa(&mut c, &args);
    for (k, v) in keys.iter().zip(values) {
        assert_eq!(v, counts.get(k).copied(), "{k}");
    }
    args[0] = "DEL";
    assert_eq!(qa::<usize>(&mut c, &args), counts.len());
    assert_eq!(qa::<i64>(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn every_command_refuses_too_few_or_too_many_arguments_in_resp2_and_resp3() {
    let s = Server::start(2);
    for mut c in [s.conn(), s.conn3()] {
        for spec in frys_shards::command::all() {
            let mut cases: Vec<(Vec<String>, String)> = Vec::new();
            let base = vec![spec.name.to_string()];
            arity_cases(&base, spec.arity, spec.name, &mut cases);
            for sub in spec.subcommands {
                let full = format!("{}|{}", spec.name, sub.name);
                let base = vec![spec.name.to_string(), sub.name.to_string()];
                arity_cases(&base, sub.arity, &full, &mut cases);
            }
            for (args, mut want) in cases {
                // A refused EXEC ends the transaction with the reason
                // (Redis' execCommandAbort).
                if spec.name == "exec" {
                    let reason = want.trim_start_matches("ERR ");
                    want = format!("EXECABORT Transaction discarded because of: {reason}");
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                assert_eq!(err(&mut c, &args), want, "{args:?}");
            }
        }
        assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
    }
}

/// The requests one short of (and, for a fixed arity, one over) `arity`,
/// starting with `base` (the name, or container and subcommand).
fn arity_cases(base: &[String], arity: i32, name: &str, out: &mut Vec<(Vec<String>, String)>) {
    let min = arity.unsigned_abs() as usize;
    let mut few = base.to_vec();
    if min > base.len() {
        few.extend((few.len()..min - 1).map(|i| format!("x{i}")));
        out.push((few, arity_error(name)));
    }
    if arity > 0 {
        let mut many = base.to_vec();
        many.extend((many.len()..min + 1).map(|i| format!("x{i}")));
        out.push((many, arity_error(name)));
    }
}

#[test]
fn a_client_that_never_reads_its_replies_keeps_the_server_bounded() {
    let s = Server::start(2);
    let mut c = s.conn();
    let value = vec![b'v'; 1 << 20];
    let () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut c)
        .unwrap();
    let before = s.rss_bytes();
    // 1000 GETs of a 1 MiB value: about 1 GiB of replies if buffered.
    let mut hog = s.raw();
    let request = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(1000);
    hog.write_all(&request).unwrap();
    let mut peak = 0;
    // Give the server time to process what it will; sample meanwhile.
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(50));
        peak = peak.max(s.rss_bytes());
        assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
    }
    let bound = before + 256 * 1024 * 1024;
    assert!(
        peak < bound,
        "RSS grew from {} MiB to {} MiB",
        before >> 20,
        peak >> 20
    );
    assert_eq!(qa::<usize>(&mut c, &["STRLEN", "big"]), value.len());
    drop(hog);
}
