//! Redis' strict integer syntax (`string2ll` in util.c).
//!
//! Accepted: an optional `-`, then `0` alone or a digit 1-9 followed by
//! digits, fitting an `i64`, shorter than 21 bytes. Refused: empty input,
//! `+`, leading zeros, `-0`, spaces, anything else. The parser uses it for
//! `*<count>` and `$<len>`; commands use it wherever Redis calls
//! `getLongLongFromObject`.

/// `LONG_STR_SIZE` in Redis: inputs this long or longer are refused.
const LONG_STR_SIZE: usize = 21;

/// Parses `bytes` as Redis' `string2ll` does.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::parse_i64;
///
/// assert_eq!(parse_i64(b"-42"), Some(-42));
/// assert_eq!(parse_i64(b"007"), None);
/// assert_eq!(parse_i64(b"+1"), None);
/// assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
/// ```
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() >= LONG_STR_SIZE {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if value > i64::MIN.unsigned_abs() {
            return None;
        }
        Some(0i64.wrapping_sub_unsigned(value))
    } else {
        i64::try_from(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_redis_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"1"), Some(1));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn refuses_what_string2ll_refuses() {
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
