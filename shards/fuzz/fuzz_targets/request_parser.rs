//! Coverage-guided fuzzing of the sans-IO request parser.
//!
//! `cargo +nightly fuzz run request_parser` (from `shards/`). Invariants
//! checked on every input, beyond "no panic": the parser never consumes
//! more than it was given; feeding the input whole and feeding it in two
//! pieces (split at a point chosen by the input) give the same requests
//! and the same error; and the bytes it holds stay within the limits.
#![no_main]

use frys_shards::protocol::{Limits, Parsed, RequestParser};
use libfuzzer_sys::fuzz_target;

/// Small limits so the fuzzer reaches every limit quickly.
fn limits() -> Limits {
    Limits {
        max_bulk_len: 4096,
        max_multibulk_len: 64,
        max_inline_len: 1024,
        query_buffer_limit: 16 * 1024,
    }
}

#[derive(Debug, PartialEq)]
enum Event {
    Request(Vec<Vec<u8>>),
    Error(String),
}

fn run(chunks: &[&[u8]], authenticated: bool) -> Vec<Event> {
    let mut parser = RequestParser::new(limits());
    let mut events = Vec::new();
    for chunk in chunks {
        let mut input: &[u8] = chunk;
        while !input.is_empty() {
            match parser.parse(input, authenticated) {
                Ok(parsed) => {
                    let consumed = parsed.consumed();
                    assert!(consumed <= input.len(), "consumed past the input");
                    if let Parsed::Request { argv, .. } = parsed {
                        events.push(Event::Request(argv.iter().map(<[u8]>::to_vec).collect()));
                    }
                    input = &input[consumed..];
                    if consumed == 0 {
                        break;
                    }
                }
                Err(e) => {
                    events.push(Event::Error(format!("{e:?}")));
                    return events;
                }
            }
            assert!(
                parser.pending_bytes() <= 16 * 1024 + 1024 + 64 * 8,
                "parser holds {} bytes",
                parser.pending_bytes()
            );
        }
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let authenticated = split & 1 == 0;
    let at = usize::from(split) * rest.len() / 256;
    let whole = run(&[rest], authenticated);
    let halves = run(&[&rest[..at], &rest[at..]], authenticated);
    assert_eq!(whole, halves, "splitting at {at} changed the result");
});
