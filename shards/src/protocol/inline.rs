//! Splitting an inline request into arguments, as Redis' `sdssplitargs`.
//!
//! Outside quotes an argument ends at space, tab, CR or LF (not at VT or
//! FF, though those are skipped between arguments). `"..."` understands
//! `\n \r \t \b \a`, `\xHH` and `\<any>`; `'...'` understands only `\'`.
//! A quote may open mid-argument (`a"b c"` is `ab c`); a closing quote must
//! be followed by whitespace or the end of the line. The line never holds a
//! NUL byte (the parser keeps such lines from completing, as Redis does).

use super::Argv;

/// Unbalanced quotes, or a closing quote followed by a non-space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnbalancedQuotes;

/// Splits `line` (without its line ending) into arguments.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::split_inline;
///
/// let argv = split_inline(br#"set "a\x41" 'it\'s'"#).unwrap();
/// let args: Vec<&[u8]> = argv.iter().collect();
/// assert_eq!(args, vec![&b"set"[..], b"aA", b"it's"]);
/// assert!(split_inline(b"get \"x").is_err());
/// ```
pub fn split_inline(line: &[u8]) -> Result<Argv, UnbalancedQuotes> {
    let mut argv = Argv::new();
    let mut p = 0;
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Ok(argv);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            if in_double {
                if c == b'\\' && at(p + 1) == b'x' && is_hex(at(p + 2)) && is_hex(at(p + 3)) {
                    current.push(hex(at(p + 2)) * 16 + hex(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        p += 1;
                        break;
                    }
                    0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    other => current.push(other),
                }
            }
            p += 1;
        }
        argv.push(&current);
    }
}

/// C's `isspace` in the C locale (bytes >= 0x80 are not spaces).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &[u8]) -> Vec<Vec<u8>> {
        split_inline(line)
            .expect("balanced")
            .iter()
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn v(args: &[&[u8]]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.to_vec()).collect()
    }

    #[test]
    fn plain_words_split_on_blanks() {
        assert_eq!(split(b"  set  k\tv  "), v(&[b"set", b"k", b"v"]));
        assert_eq!(split(b""), Vec::<Vec<u8>>::new());
        assert_eq!(split(b" \t "), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn vertical_tab_is_skipped_between_but_kept_inside_words() {
        assert_eq!(split(b"\x0ba\x0bb"), v(&[b"a\x0bb"]));
    }

    #[test]
    fn double_quotes_understand_escapes() {
        assert_eq!(
            split(br#""a\x41\x4a\n\r\t\b\a\"\\\q""#),
            v(&[b"aAJ\n\r\t\x08\x07\"\\q"])
        );
        assert_eq!(split(br#""\x4""#), v(&[b"x4"]));
        assert_eq!(split(br#""""#), v(&[b""]));
    }

    #[test]
    fn single_quotes_understand_only_escaped_quote() {
        assert_eq!(split(br"'a\'b\n'"), v(&[br"a'b\n"]));
    }

    #[test]
    fn quote_may_open_mid_argument() {
        assert_eq!(split(br#"a"b c" d"#), v(&[b"ab c", b"d"]));
    }

    #[test]
    fn unbalanced_or_glued_quotes_are_refused() {
        for bad in [&br#""abc"#[..], br"'abc", br#""a"b"#, br"'a'b", br#""abc\"#] {
            assert_eq!(split_inline(bad), Err(UnbalancedQuotes), "{bad:?}");
        }
    }

    #[test]
    fn closing_quote_may_be_followed_by_any_c_space() {
        assert_eq!(split(b"\"a\"\x0bb"), v(&[b"a", b"b"]));
    }
}
