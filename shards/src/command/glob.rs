//! Glob-style patterns as Redis matches them (`stringmatchlen` in util.c):
//! `*`, `?`, `[abc]`, `[^a-z]`, `\x`.

/// Whether `string` matches `pattern`.
pub fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    matches(pattern, string, false, &mut skip_longer, 0)
}

/// Redis' `stringmatchlen_impl`: `skip_longer` stops retrying earlier
/// stars once the rest of the pattern matched nowhere (no exponential
/// time), and nesting is bounded.
fn matches(mut p: &[u8], mut s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while let Some(&pc) = p.first() {
        match pc {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if matches(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                let Some(&c) = s.first() else { return false };
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut hit = false;
                loop {
                    match p {
                        [] => break,
                        [b'\\', esc, ..] => {
                            if eq(*esc, c) {
                                hit = true;
                            }
                            p = &p[2..];
                        }
                        [b']', ..] => break,
                        [lo, b'-', hi, ..] => {
                            let (mut lo, mut hi, mut c2) = (*lo, *hi, c);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            if nocase {
                                lo = lo.to_ascii_lowercase();
                                hi = hi.to_ascii_lowercase();
                                c2 = c2.to_ascii_lowercase();
                            }
                            if c2 >= lo && c2 <= hi {
                                hit = true;
                            }
                            p = &p[3..];
                        }
                        [x, ..] => {
                            if eq(*x, c) {
                                hit = true;
                            }
                            p = &p[1..];
                        }
                    }
                }
                if not {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                s = &s[1..];
                // `p` is at the closing ']' (or exhausted).
                if p.is_empty() {
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                match s.first() {
                    Some(&c) if eq(p[0], c) => s = &s[1..],
                    _ => return false,
                }
            }
            _ => match s.first() {
                Some(&c) if eq(pc, c) => s = &s[1..],
                _ => return false,
            },
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn patterns_match_as_in_redis() {
        let yes: &[(&[u8], &[u8])] = &[
            (b"*", b""),
            (b"*", b"anything"),
            (b"h?llo", b"hello"),
            (b"h*llo", b"heeeello"),
            (b"h[ae]llo", b"hallo"),
            (b"h[^e]llo", b"hallo"),
            (b"h[a-b]llo", b"hbllo"),
            (b"key:*", b"key:1"),
            (b"a\\*b", b"a*b"),
            (b"*:*:*", b"a:b:c"),
        ];
        for (p, s) in yes {
            assert!(glob_match(p, s), "{:?} should match {:?}", p, s);
        }
        let no: &[(&[u8], &[u8])] = &[
            (b"h?llo", b"hllo"),
            (b"h[ae]llo", b"hillo"),
            (b"h[^e]llo", b"hello"),
            (b"a\\*b", b"axb"),
            (b"key:*", b"key"),
            (b"abc", b"abcd"),
        ];
        for (p, s) in no {
            assert!(!glob_match(p, s), "{:?} should not match {:?}", p, s);
        }
    }

    #[test]
    fn pathological_patterns_end_quickly() {
        let p = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let s = [b'a'; 60];
        assert!(!glob_match(p, &s));
    }
}
