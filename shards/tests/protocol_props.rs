//! Properties of the request parser, checked on generated input: valid
//! pipelines, random bytes, and mutated valid frames.
//!
//! - consumed <= input length, and NeedMore consumes everything;
//! - the sequence of requests, skips and errors is the same however the
//!   input is split (all at once, byte by byte, random splits);
//! - bytes held never exceed what the limits allow;
//! - nothing panics.
//!
//! Seeds are fixed and case counts bounded so this stays deterministic and
//! runs in seconds in debug builds.

use frys_shards::protocol::{Argv, Limits, Parsed, ProtocolError, RequestParser};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Request(Argv),
    Skip,
    Error(ProtocolError),
}

/// Small limits, so the generated input reaches every limit.
fn small_limits() -> Limits {
    Limits {
        max_bulk_len: 48,
        max_multibulk_len: 12,
        max_inline_len: 40,
        query_buffer_limit: 64,
    }
}

/// Feeds `input` in the chunks given by `splits` (cut points), as a
/// connection would: unconsumed bytes stay in the caller's buffer.
fn run(input: &[u8], splits: &[usize], limits: Limits, authenticated: bool) -> Vec<Event> {
    let mut parser = RequestParser::new(limits);
    let mut buffer: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut cuts: Vec<usize> = splits.iter().map(|&s| s.min(input.len())).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut start = 0;
    for cut in cuts {
        buffer.extend_from_slice(&input[start..cut]);
        start = cut;
        loop {
            let result = parser.parse(&buffer, authenticated);
            let bound = limits
                .query_buffer_limit_for(authenticated)
                .saturating_add(limits.max_inline_len);
            assert!(
                parser.pending_bytes() <= bound,
                "held {} > {bound}",
                parser.pending_bytes()
            );
            match result {
                Ok(parsed) => {
                    let consumed = parsed.consumed();
                    assert!(consumed <= buffer.len());
                    buffer.drain(..consumed);
                    match parsed {
                        Parsed::Request { argv, .. } => {
                            assert!(!argv.is_empty());
                            events.push(Event::Request(argv));
                        }
                        Parsed::Skip { .. } => events.push(Event::Skip),
                        Parsed::NeedMore { .. } => {
                            assert!(buffer.is_empty(), "NeedMore leaves nothing behind");
                            break;
                        }
                    }
                }
                Err(err) => {
                    events.push(Event::Error(err));
                    // The parser keeps failing; the connection would close.
                    assert_eq!(parser.parse(b"PING\r\n", authenticated), Err(err));
                    return events;
                }
            }
        }
    }
    events
}

fn byte_by_byte(input: &[u8]) -> Vec<usize> {
    (1..input.len()).collect()
}

/// One generated request and its expected arguments (`None`: skipped).
fn request() -> impl Strategy<Value = (Vec<u8>, Option<Vec<Vec<u8>>>)> {
    let arg = prop::collection::vec(any::<u8>(), 0..20);
    let word = "[a-zA-Z0-9_:.-]{1,8}".prop_map(String::into_bytes);
    prop_oneof![
        4 => prop::collection::vec(arg, 1..5).prop_map(|args| {
            let mut frame = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                frame.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                frame.extend_from_slice(a);
                frame.extend_from_slice(b"\r\n");
            }
            (frame, Some(args))
        }),
        2 => (prop::collection::vec(word, 1..4), any::<bool>()).prop_map(|(words, crlf)| {
            let mut frame = words.join(&b' ');
            frame.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            (frame, Some(words))
        }),
        1 => "[a-z]{1,6}".prop_map(|w| {
            let frame = format!("\"{w}\\x41\" '{w}'\r\n").into_bytes();
            let mut quoted = w.clone().into_bytes();
            quoted.push(b'A');
            (frame, Some(vec![quoted, w.into_bytes()]))
        }),
        1 => prop_oneof![
            Just(b"*0\r\n".to_vec()),
            Just(b"*-1\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"  \n".to_vec()),
        ]
        .prop_map(|frame| (frame, None)),
    ]
}

fn pipeline() -> impl Strategy<Value = (Vec<u8>, Vec<Event>)> {
    prop::collection::vec(request(), 0..8).prop_map(|requests| {
        let mut input = Vec::new();
        let mut events = Vec::new();
        for (frame, args) in requests {
            input.extend_from_slice(&frame);
            events.push(match args {
                Some(args) => {
                    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    Event::Request(Argv::from_args(&refs))
                }
                None => Event::Skip,
            });
        }
        (input, events)
    })
}

/// Bytes biased toward what matters to the parser: a soup of headers
/// with plausible and implausible counts, line endings, quotes and noise.
fn protocol_bytes() -> impl Strategy<Value = Vec<u8>> {
    let number = prop_oneof![
        4 => (0i64..6).prop_map(|n| n.to_string()),
        1 => (-2i64..70).prop_map(|n| n.to_string()),
        1 => Just("16385".to_owned()),
        1 => Just("x".to_owned()),
        1 => Just(String::new()),
    ];
    let token = prop_oneof![
        3 => number.clone().prop_map(|n| format!("*{n}\r\n").into_bytes()),
        4 => number.prop_map(|n| format!("${n}\r\n").into_bytes()),
        3 => prop::collection::vec(any::<u8>(), 0..12),
        2 => prop::sample::select(vec![
            b"\r\n".to_vec(), b"\n".to_vec(), b"\r".to_vec(), b"\"".to_vec(),
            b"'".to_vec(), b"\\x4".to_vec(), b" ".to_vec(), b"\0".to_vec(), b"PING".to_vec(),
        ]),
        1 => prop::collection::vec(prop::sample::select(&b"*$\r\n09-\"' a"[..]), 0..30),
    ];
    prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn mutate(mut input: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = input.len().max(1);
        match *m {
            Mutation::Flip(i, b) if !input.is_empty() => input[i % len] = b,
            Mutation::Insert(i, b) => input.insert(i % (input.len() + 1), b),
            Mutation::Delete(i) if !input.is_empty() => {
                input.remove(i % len);
            }
            _ => {}
        }
    }
    input
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop::sample::select(&b"*$\r\n09-\"'\0x"[..]);
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5eed_f4a5),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn valid_pipelines_parse_to_their_requests_however_split(
        (input, expected) in pipeline(),
        splits in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let limits = Limits::default();
        prop_assert_eq!(&run(&input, &[], limits, true), &expected);
        prop_assert_eq!(&run(&input, &byte_by_byte(&input), limits, true), &expected);
        let splits: Vec<usize> = splits.iter().map(|s| s % (input.len() + 1)).collect();
        prop_assert_eq!(&run(&input, &splits, limits, true), &expected);
    }

    #[test]
    fn random_bytes_give_the_same_events_however_split(
        input in protocol_bytes(),
        splits in prop::collection::vec(any::<usize>(), 0..6),
        authenticated in any::<bool>(),
    ) {
        let limits = small_limits();
        let whole = run(&input, &[], limits, authenticated);
        prop_assert_eq!(&run(&input, &byte_by_byte(&input), limits, authenticated), &whole);
        let splits: Vec<usize> = splits.iter().map(|s| s % (input.len() + 1)).collect();
        prop_assert_eq!(&run(&input, &splits, limits, authenticated), &whole);
    }

    #[test]
    fn mutated_frames_give_the_same_events_however_split(
        (input, _) in pipeline(),
        mutations in prop::collection::vec(mutation(), 1..4),
        splits in prop::collection::vec(any::<usize>(), 0..6),
        authenticated in any::<bool>(),
    ) {
        let input = mutate(input, &mutations);
        for limits in [Limits::default(), small_limits()] {
            let whole = run(&input, &[], limits, authenticated);
            prop_assert_eq!(&run(&input, &byte_by_byte(&input), limits, authenticated), &whole);
            let splits: Vec<usize> = splits.iter().map(|s| s % (input.len() + 1)).collect();
            prop_assert_eq!(&run(&input, &splits, limits, authenticated), &whole);
        }
    }
}
