//! The only place that knows RESP2 from RESP3.
//!
//! Mirrors Redis' `addReply*` family (networking.c): maps flatten to
//! arrays of `2n` items in RESP2, sets and pushes become arrays, doubles
//! and big numbers become bulk strings, booleans `:1`/`:0`, verbatim
//! strings plain bulk strings; both nulls are `_` in RESP3.

use super::{format_double, Reply};

/// The protocol a connection speaks, chosen by HELLO (RESP2 by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// Appends `reply` to `out` in the given protocol.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::{encode, ProtocolVersion, Reply};
///
/// let reply = Reply::Map(vec![(Reply::bulk("k"), Reply::Double(1.5))]);
/// let mut out = Vec::new();
/// encode(&reply, ProtocolVersion::Resp2, &mut out);
/// assert_eq!(out, b"*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n");
/// out.clear();
/// encode(&reply, ProtocolVersion::Resp3, &mut out);
/// assert_eq!(out, b"%1\r\n$1\r\nk\r\n,1.5\r\n");
/// ```
pub fn encode(reply: &Reply, version: ProtocolVersion, out: &mut Vec<u8>) {
    let resp3 = version == ProtocolVersion::Resp3;
    match reply {
        Reply::Simple(text) => line(out, b'+', text.as_bytes()),
        Reply::Error(text) => line(out, b'-', text.as_bytes()),
        Reply::Integer(n) => header(out, b':', *n),
        Reply::Bulk(bytes) => bulk(out, bytes),
        Reply::Null if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Null => out.extend_from_slice(b"$-1\r\n"),
        Reply::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) => aggregate(out, b'*', items, version),
        Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, version),
        Reply::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, version),
        Reply::Map(pairs) => {
            if resp3 {
                header(out, b'%', len_i64(pairs.len()));
            } else {
                header(out, b'*', len_i64(pairs.len()).saturating_mul(2));
            }
            for (key, value) in pairs {
                encode(key, version, out);
                encode(value, version, out);
            }
        }
        Reply::Double(d) if resp3 => {
            out.push(b',');
            out.extend_from_slice(format_double(*d).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Double(d) => bulk(out, format_double(*d).as_bytes()),
        Reply::Boolean(b) if resp3 => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Boolean(b) => header(out, b':', i64::from(*b)),
        Reply::Verbatim { format, text } if resp3 => {
            header(out, b'=', len_i64(text.len()).saturating_add(4));
            out.extend_from_slice(format);
            out.push(b':');
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Verbatim { text, .. } => bulk(out, text),
        Reply::BigNumber(digits) if resp3 => line(out, b'(', digits.as_bytes()),
        Reply::BigNumber(digits) => bulk(out, digits.as_bytes()),
        Reply::Encoded(bytes) => out.extend_from_slice(bytes),
    }
}

/// Encodes into a fresh buffer.
pub fn encode_to_vec(reply: &Reply, version: ProtocolVersion) -> Vec<u8> {
    let mut out = Vec::new();
    encode(reply, version, &mut out);
    out
}

/// The number of bytes [`encode`] appends for `reply`, without encoding
/// it: a connection checks a reply against the client's output limit
/// before it builds the bytes.
pub fn encoded_len(reply: &Reply, version: ProtocolVersion) -> usize {
    let resp3 = version == ProtocolVersion::Resp3;
    let header_len = |n: usize| 1 + digits(n as u64) + 2;
    let bulk_len = |n: usize| header_len(n) + n + 2;
    match reply {
        Reply::Simple(text) | Reply::Error(text) => text.len() + 3,
        Reply::Integer(n) => 1 + usize::from(*n < 0) + digits(n.unsigned_abs()) + 2,
        Reply::Bulk(bytes) => bulk_len(bytes.len()),
        Reply::Null | Reply::NullArray if resp3 => 3,
        Reply::Null | Reply::NullArray => 5,
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            header_len(items.len()) + items.iter().map(|r| encoded_len(r, version)).sum::<usize>()
        }
        Reply::Map(pairs) => {
            header_len(if resp3 { pairs.len() } else { pairs.len() * 2 })
                + pairs
                    .iter()
                    .map(|(k, v)| encoded_len(k, version) + encoded_len(v, version))
                    .sum::<usize>()
        }
        Reply::Double(d) if resp3 => format_double(*d).len() + 3,
        Reply::Double(d) => bulk_len(format_double(*d).len()),
        Reply::Boolean(_) => 4,
        Reply::Verbatim { text, .. } if resp3 => bulk_len(text.len() + 4),
        Reply::Verbatim { text, .. } => bulk_len(text.len()),
        Reply::BigNumber(d) if resp3 => d.len() + 3,
        Reply::BigNumber(d) => bulk_len(d.len()),
        Reply::Encoded(bytes) => bytes.len(),
    }
}

/// Decimal digits of `n`.
fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// `<prefix><text>\r\n` with CR and LF in `text` replaced by spaces.
fn line(out: &mut Vec<u8>, prefix: u8, text: &[u8]) {
    out.push(prefix);
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    header(out, b'$', len_i64(bytes.len()));
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn aggregate(out: &mut Vec<u8>, prefix: u8, items: &[Reply], version: ProtocolVersion) {
    header(out, prefix, len_i64(items.len()));
    for item in items {
        encode(item, version, out);
    }
}

/// `<prefix><n>\r\n`.
fn header(out: &mut Vec<u8>, prefix: u8, n: i64) {
    out.push(prefix);
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        if let Some(slot) = digits.get_mut(i) {
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(digits.get(i..).unwrap_or_default());
    out.extend_from_slice(b"\r\n");
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn both(reply: &Reply) -> (Vec<u8>, Vec<u8>) {
        (
            encode_to_vec(reply, ProtocolVersion::Resp2),
            encode_to_vec(reply, ProtocolVersion::Resp3),
        )
    }

    #[test]
    fn encoded_len_is_the_length_encode_writes() {
        let replies = [
            Reply::ok(),
            Reply::error("ERR x"),
            Reply::Integer(0),
            Reply::Integer(-10),
            Reply::Integer(i64::MIN),
            Reply::Integer(i64::MAX),
            Reply::bulk(""),
            Reply::bulk("v".repeat(1000)),
            Reply::Null,
            Reply::NullArray,
            Reply::Array(vec![Reply::Integer(9), Reply::bulk("ab")]),
            Reply::Set(vec![Reply::Null]),
            Reply::Push(vec![]),
            Reply::Map(vec![(Reply::bulk("k"), Reply::Double(1.5))]),
            Reply::Double(f64::NAN),
            Reply::Double(-0.1),
            Reply::Boolean(true),
            Reply::verbatim_text("hi"),
            Reply::BigNumber("123456789012345678901234567890".to_string()),
            Reply::Encoded(b"+x\r\n".to_vec()),
        ];
        for r in &replies {
            for v in [ProtocolVersion::Resp2, ProtocolVersion::Resp3] {
                assert_eq!(encoded_len(r, v), encode_to_vec(r, v).len(), "{r:?} {v:?}");
            }
        }
    }

    #[test]
    fn scalars_match_redis_bytes() {
        assert_eq!(both(&Reply::ok()).0, b"+OK\r\n");
        assert_eq!(both(&Reply::Integer(0)).1, b":0\r\n");
        assert_eq!(
            both(&Reply::Integer(i64::MIN)).0,
            b":-9223372036854775808\r\n"
        );
        assert_eq!(both(&Reply::bulk("")).0, b"$0\r\n\r\n");
        assert_eq!(both(&Reply::Null), (b"$-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(
            both(&Reply::NullArray),
            (b"*-1\r\n".to_vec(), b"_\r\n".to_vec())
        );
        assert_eq!(
            both(&Reply::Boolean(true)),
            (b":1\r\n".to_vec(), b"#t\r\n".to_vec())
        );
        assert_eq!(
            both(&Reply::Boolean(false)),
            (b":0\r\n".to_vec(), b"#f\r\n".to_vec())
        );
    }

    #[test]
    fn doubles_are_bulk_in_resp2_and_comma_in_resp3() {
        assert_eq!(
            both(&Reply::Double(f64::INFINITY)),
            (b"$3\r\ninf\r\n".to_vec(), b",inf\r\n".to_vec())
        );
        assert_eq!(both(&Reply::Double(f64::NAN)).1, b",nan\r\n");
        assert_eq!(both(&Reply::Double(-1.0)).0, b"$2\r\n-1\r\n");
    }

    #[test]
    fn aggregates_flatten_in_resp2() {
        let set = Reply::Set(vec![Reply::Integer(1)]);
        assert_eq!(
            both(&set),
            (b"*1\r\n:1\r\n".to_vec(), b"~1\r\n:1\r\n".to_vec())
        );
        let push = Reply::Push(vec![Reply::bulk("x")]);
        assert_eq!(both(&push).1, b">1\r\n$1\r\nx\r\n");
        let map = Reply::Map(vec![]);
        assert_eq!(both(&map), (b"*0\r\n".to_vec(), b"%0\r\n".to_vec()));
    }

    #[test]
    fn verbatim_and_big_number() {
        let v = Reply::verbatim_text("hi");
        assert_eq!(
            both(&v),
            (b"$2\r\nhi\r\n".to_vec(), b"=6\r\ntxt:hi\r\n".to_vec())
        );
        let big = Reply::BigNumber("12345678901234567890".into());
        assert_eq!(both(&big).1, b"(12345678901234567890\r\n");
        assert_eq!(both(&big).0, b"$20\r\n12345678901234567890\r\n");
    }

    #[test]
    fn encoded_frames_go_out_unchanged_in_both_protocols() {
        let frames = encode_to_vec(
            &Reply::Push(vec![Reply::bulk("message")]),
            ProtocolVersion::Resp3,
        );
        let reply = Reply::Encoded(frames.clone());
        assert_eq!(both(&reply), (frames.clone(), frames));
    }

    #[test]
    fn newlines_in_errors_and_status_become_spaces() {
        let reply = Reply::Error(Cow::Borrowed("ERR a\r\nb"));
        assert_eq!(both(&reply).0, b"-ERR a  b\r\n");
        assert_eq!(both(&Reply::simple("x\ny")).1, b"+x y\r\n");
    }
}
