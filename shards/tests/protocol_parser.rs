//! Request parsing, fed as a connection would: every Redis 7 protocol
//! error text, inline quoting, skips, limits and resumption.

use frys_shards::protocol::{Argv, Limits, Parsed, ProtocolError, RequestParser};

/// Feeds `input` in one go until it is used up or an error occurs;
/// returns the requests and the error, if any.
fn parse_all(input: &[u8], authenticated: bool) -> (Vec<Argv>, Option<ProtocolError>) {
    parse_all_with(RequestParser::default(), input, authenticated)
}

fn parse_all_with(
    mut parser: RequestParser,
    mut input: &[u8],
    authenticated: bool,
) -> (Vec<Argv>, Option<ProtocolError>) {
    let mut requests = Vec::new();
    loop {
        match parser.parse(input, authenticated) {
            Ok(Parsed::Request { argv, consumed }) => {
                requests.push(argv);
                input = &input[consumed..];
            }
            Ok(Parsed::Skip { consumed }) => input = &input[consumed..],
            Ok(Parsed::NeedMore { consumed }) => {
                assert_eq!(consumed, input.len());
                return (requests, None);
            }
            Err(err) => return (requests, Some(err)),
        }
    }
}

fn error_of(input: &[u8], authenticated: bool) -> String {
    let (_, err) = parse_all(input, authenticated);
    err.and_then(|e| e.reply_text()).expect("a protocol error")
}

fn argv(args: &[&str]) -> Argv {
    Argv::from_args(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
}

#[test]
fn multibulk_request_parses_and_stops_at_its_end() {
    let mut parser = RequestParser::default();
    let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n";
    let parsed = parser.parse(input, true).unwrap();
    assert_eq!(
        parsed,
        Parsed::Request {
            argv: Argv::from_args(&[&b"SET"[..], b"k", b""]),
            consumed: input.len() - 4
        }
    );
    assert!(parser.is_idle());
}

#[test]
fn pipeline_yields_requests_in_order() {
    let (requests, err) = parse_all(b"PING\r\n*1\r\n$4\r\nPING\r\necho hi\n", true);
    assert_eq!(err, None);
    assert_eq!(
        requests,
        vec![argv(&["PING"]), argv(&["PING"]), argv(&["echo", "hi"])]
    );
}

#[test]
fn empty_requests_are_skipped() {
    let mut parser = RequestParser::default();
    assert_eq!(
        parser.parse(b"\r\nX", true),
        Ok(Parsed::Skip { consumed: 2 })
    );
    assert_eq!(parser.parse(b"\n", true), Ok(Parsed::Skip { consumed: 1 }));
    assert_eq!(
        parser.parse(b"   \r\n", true),
        Ok(Parsed::Skip { consumed: 5 })
    );
    assert_eq!(
        parser.parse(b"*0\r\n", true),
        Ok(Parsed::Skip { consumed: 4 })
    );
    assert_eq!(
        parser.parse(b"*-1\r\n", true),
        Ok(Parsed::Skip { consumed: 5 })
    );
    assert_eq!(
        parser.parse(b"*-7\r\n", true),
        Ok(Parsed::Skip { consumed: 5 })
    );
}

#[test]
fn bytes_after_cr_and_after_bulk_data_are_not_checked() {
    // Redis skips two bytes after a header's `\r` and after bulk data.
    let (requests, err) = parse_all(b"*1\rX$3\r\nGETab", true);
    assert_eq!(err, None);
    assert_eq!(requests, vec![argv(&["GET"])]);
}

#[test]
fn inline_accepts_bare_newline_and_strips_cr() {
    let (requests, _) = parse_all(b"get a\nget b\r\n", true);
    assert_eq!(requests, vec![argv(&["get", "a"]), argv(&["get", "b"])]);
}

#[test]
fn inline_quotes_and_escapes_follow_sdssplitargs() {
    let (requests, err) = parse_all(b"set \"a\\x41\\n\" 'it\\'s' \"\"\r\n", true);
    assert_eq!(err, None);
    assert_eq!(
        requests,
        vec![Argv::from_args(&[&b"set"[..], b"aA\n", b"it's", b""])]
    );
}

#[test]
fn protocol_error_texts_match_redis() {
    let cases: &[(&[u8], &str)] = &[
        (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
        (
            b"*2147483648\r\n",
            "ERR Protocol error: invalid multibulk length",
        ),
        (b"*01\r\n", "ERR Protocol error: invalid multibulk length"),
        (b"*\r\n", "ERR Protocol error: invalid multibulk length"),
        (b"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"),
        (b"*1\r\n\r\n", "ERR Protocol error: expected '$', got ' '"),
        (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
        (b"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"),
        (
            b"*1\r\n$536870913\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"set \"a\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        ),
        (
            b"set 'a'b\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, text) in cases {
        assert_eq!(
            error_of(input, true),
            *text,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn largest_counts_redis_accepts_are_accepted() {
    let mut parser = RequestParser::default();
    assert_eq!(
        parser.parse(b"*2147483647\r\n$536870912\r\n", true),
        Ok(Parsed::NeedMore { consumed: 25 })
    );
}

#[test]
fn unauthenticated_limits_apply_only_before_auth() {
    assert_eq!(
        error_of(b"*11\r\n", false),
        "ERR Protocol error: unauthenticated multibulk length"
    );
    assert_eq!(
        error_of(b"*1\r\n$16385\r\n", false),
        "ERR Protocol error: unauthenticated bulk length"
    );
    let (_, err) = parse_all(b"*10\r\n$16384\r\n", false);
    assert_eq!(err, None);
    let (_, err) = parse_all(b"*11\r\n$16385\r\n", true);
    assert_eq!(err, None);
}

#[test]
fn too_big_lines_are_refused() {
    let big = vec![b'a'; 64 * 1024 + 1];
    let mut inline = big.clone();
    inline.push(b'\n');
    assert_eq!(
        error_of(&inline, true),
        "ERR Protocol error: too big inline request"
    );
    let mut count = b"*".to_vec();
    count.extend_from_slice(&big);
    assert_eq!(
        error_of(&count, true),
        "ERR Protocol error: too big mbulk count string"
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend_from_slice(&big);
    assert_eq!(
        error_of(&bulk, true),
        "ERR Protocol error: too big bulk count string"
    );
}

#[test]
fn inline_of_exactly_the_limit_is_accepted() {
    let mut line = vec![b'a'; 64 * 1024];
    line.push(b'\n');
    let (requests, err) = parse_all(&line, true);
    assert_eq!(err, None);
    assert_eq!(requests.len(), 1);
}

#[test]
fn nul_before_line_end_keeps_the_line_open_until_too_big() {
    // Redis' strchr stops at NUL, so it never sees the newline.
    let (requests, err) = parse_all(b"PING\0\r\nPING\r\n", true);
    assert_eq!((requests.len(), err), (0, None));
    let mut input = b"PING\0\r\n".to_vec();
    input.extend_from_slice(&[b'\n'; 64 * 1024]);
    assert_eq!(
        error_of(&input, true),
        "ERR Protocol error: too big inline request"
    );
}

#[test]
fn bulk_header_starting_with_nul_never_completes() {
    // strchr stops at the NUL, so `expected '$', got '\0'` cannot happen.
    let (requests, err) = parse_all(b"*1\r\n\0\r\n$1\r\na\r\n", true);
    assert_eq!((requests.len(), err), (0, None));
}

#[test]
fn parser_keeps_failing_after_an_error() {
    let mut parser = RequestParser::default();
    assert!(parser.parse(b"*x\r\n", true).is_err());
    assert_eq!(
        parser.parse(b"PING\r\n", true),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert!(!parser.is_idle());
}

#[test]
fn large_bulk_is_absorbed_without_rescanning() {
    let mut parser = RequestParser::default();
    let len = 1 << 20;
    let header = format!("*2\r\n$3\r\nSET\r\n${len}\r\n");
    assert!(matches!(
        parser.parse(header.as_bytes(), true),
        Ok(Parsed::NeedMore { .. })
    ));
    let chunk = vec![b'v'; 4096];
    for _ in 0..len / chunk.len() {
        assert_eq!(
            parser.parse(&chunk, true),
            Ok(Parsed::NeedMore {
                consumed: chunk.len()
            })
        );
    }
    assert!(parser.pending_bytes() >= len);
    let Ok(Parsed::Request { argv, consumed }) = parser.parse(b"\r\n", true) else {
        panic!("request expected");
    };
    assert_eq!(consumed, 2);
    assert_eq!(argv.get(1).map(<[u8]>::len), Some(len));
    assert_eq!(parser.pending_bytes(), 0);
}

#[test]
fn request_outgrowing_the_query_buffer_limit_is_refused_without_reply() {
    let limits = Limits {
        query_buffer_limit: 100,
        ..Limits::default()
    };
    let input = b"*3\r\n$50\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n$50\r\n";
    let (_, err) = parse_all_with(RequestParser::new(limits), input, true);
    assert_eq!(err, None);
    let mut more = input.to_vec();
    more.extend_from_slice(&[b'b'; 50]);
    let (_, err) = parse_all_with(RequestParser::new(limits), &more, true);
    assert_eq!(err, Some(ProtocolError::QueryBufferLimit));
    assert_eq!(ProtocolError::QueryBufferLimit.reply_text(), None);
}

#[test]
fn query_buffer_helper_counts_unconsumed_input_and_auth() {
    let mut parser = RequestParser::default();
    assert!(matches!(
        parser.parse(b"*1\r\n$10\r\nabc", true),
        Ok(Parsed::NeedMore { .. })
    ));
    let held = parser.pending_bytes();
    assert_eq!(held, 3);
    assert!(!parser.exceeds_query_buffer_limit(1024 * 1024 - held, false));
    assert!(parser.exceeds_query_buffer_limit(1024 * 1024 - held + 1, false));
    assert!(!parser.exceeds_query_buffer_limit(1024 * 1024, true));
}
