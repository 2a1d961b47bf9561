//! Sorted-set arguments decoded once, at the edge, exactly as Redis reads
//! them: scores (`string2d`), score ranges (`zslParseRange`, which uses
//! `strtod` directly and so is laxer), lex ranges (`zslParseLexRange`) and
//! rank ranges. Pure functions, no I/O.
//!
//! The two float syntaxes differ on purpose, as in Redis: a ZADD score, a
//! WEIGHTS value or a ZINCRBY increment must be the whole argument, with no
//! leading space, and must not overflow to ±inf or underflow to 0; a range
//! bound is `strtod` up to the first NUL byte, so `""` is 0, `" 1"` is 1
//! and `1e400` is inf. Both accept `inf`, `infinity` and C hex floats, and
//! both refuse NaN.

use std::cmp::Ordering;

/// Parses `arg` as Redis' `string2d` (ZADD scores, WEIGHTS, ZINCRBY).
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.first().is_none_or(|b| is_c_space(*b)) {
        return None;
    }
    let parsed = strtod(arg);
    (parsed.len == arg.len() && !parsed.out_of_range && !parsed.value.is_nan())
        .then_some(parsed.value)
}

/// One end of a score range: `1.5` includes it, `(1.5` excludes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// `(`: the bound itself is outside the range.
    pub exclusive: bool,
}

impl ScoreBound {
    /// `zslParseRange` for one bound: `strtod` must stop at the argument's
    /// end (its first NUL byte, as in C); NaN is refused.
    fn parse(arg: &[u8]) -> Option<ScoreBound> {
        let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
        let text = &arg[..end];
        let (exclusive, number) = match text.split_first() {
            Some((b'(', rest)) => (true, rest),
            _ => (false, text),
        };
        let parsed = strtod(number);
        (parsed.len == number.len() && !parsed.value.is_nan()).then_some(ScoreBound {
            value: parsed.value,
            exclusive,
        })
    }
}

/// A score range `min..max` (`zrangespec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// The low end.
    pub min: ScoreBound,
    /// The high end.
    pub max: ScoreBound,
}

impl ScoreRange {
    /// Parses `min max` (callers swap them for the REV forms); `None` is
    /// Redis' `min or max is not a float`.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        Some(ScoreRange {
            min: ScoreBound::parse(min)?,
            max: ScoreBound::parse(max)?,
        })
    }

    /// Whether no score can be in the range (`zslIsInRange`'s first test).
    pub fn is_empty(&self) -> bool {
        self.min.value > self.max.value
            || (self.min.value == self.max.value && (self.min.exclusive || self.max.exclusive))
    }
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[m`: `m` itself is in the range.
    Inclusive(Vec<u8>),
    /// `(m`: `m` itself is outside the range.
    Exclusive(Vec<u8>),
}

impl LexBound {
    /// `zslParseLexRangeItem`.
    fn parse(arg: &[u8]) -> Option<LexBound> {
        match arg.split_first() {
            Some((b'+', [])) => Some(LexBound::Max),
            Some((b'-', [])) => Some(LexBound::Min),
            Some((b'(', rest)) => Some(LexBound::Exclusive(rest.to_vec())),
            Some((b'[', rest)) => Some(LexBound::Inclusive(rest.to_vec())),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }

    /// `sdscmplex(member, self)`: how a member compares with this bound.
    fn cmp_member(&self, member: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Inclusive(m) | LexBound::Exclusive(m) => member.cmp(m),
        }
    }
}

/// A lex range (`zlexrangespec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// The low end.
    pub min: LexBound,
    /// The high end.
    pub max: LexBound,
}

impl LexRange {
    /// Parses `min max`; `None` is Redis' `min or max not valid string
    /// range item`.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Whether no member can be in the range (`zslIsInLexRange`'s first
    /// test, with `sdscmplex`'s order: `-` below and `+` above all).
    pub fn is_empty(&self) -> bool {
        let cmp = match (&self.min, &self.max) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
            (
                LexBound::Inclusive(a) | LexBound::Exclusive(a),
                LexBound::Inclusive(b) | LexBound::Exclusive(b),
            ) => a.cmp(b),
        };
        cmp == Ordering::Greater
            || (cmp == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }

    /// Whether `member` is at or above the low end (`zslLexValueGteMin`).
    pub fn above_min(&self, member: &[u8]) -> bool {
        match self.min.cmp_member(member) {
            Ordering::Greater => true,
            Ordering::Equal => !self.min.exclusive(),
            Ordering::Less => false,
        }
    }

    /// Whether `member` is at or below the high end (`zslLexValueLteMax`).
    pub fn below_max(&self, member: &[u8]) -> bool {
        match self.max.cmp_member(member) {
            Ordering::Less => true,
            Ordering::Equal => !self.max.exclusive(),
            Ordering::Greater => false,
        }
    }
}

/// The ranks `start..=stop` of a set of `len` members after Redis'
/// sanitising (negative counts from the end); `None` when empty.
pub fn rank_span(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as u64, stop.min(len - 1) as u64))
}

/// What C's `strtod` made of a prefix of its input.
struct Strtod {
    value: f64,
    /// Bytes consumed (0 if nothing parsed).
    len: usize,
    /// `ERANGE` as `string2d` looks at it: a finite number that overflowed
    /// to ±inf or underflowed to 0.
    out_of_range: bool,
}

/// `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtod`: leading white space, a sign, then `inf`/`infinity`,
/// `nan`, a hex float (`0x1.8p3`) or a decimal float; the longest prefix
/// that is a number.
fn strtod(s: &[u8]) -> Strtod {
    let nothing = Strtod {
        value: 0.0,
        len: 0,
        out_of_range: false,
    };
    let mut i = s.iter().take_while(|b| is_c_space(**b)).count();
    let negative = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"infinity") || starts(b"inf") {
        let n = if starts(b"infinity") { 8 } else { 3 };
        return Strtod {
            value: sign * f64::INFINITY,
            len: i + n,
            out_of_range: false,
        };
    }
    if starts(b"nan") {
        return Strtod {
            value: f64::NAN,
            len: i + 3,
            out_of_range: false,
        };
    }
    let hex = starts(b"0x")
        && rest
            .get(2)
            .is_some_and(|b| b.is_ascii_hexdigit() || *b == b'.');
    let parsed = if hex {
        hex_float(&rest[2..])
    } else {
        decimal_float(rest)
    };
    match parsed {
        Some((magnitude, len, nonzero)) => Strtod {
            value: sign * magnitude,
            len: i + len + if hex { 2 } else { 0 },
            out_of_range: magnitude.is_infinite() || (magnitude == 0.0 && nonzero),
        },
        // "0x" without digits: strtod takes the "0".
        None if hex => Strtod {
            value: sign * 0.0,
            len: i + 1,
            out_of_range: false,
        },
        None => nothing,
    }
}

/// The longest decimal float at the start of `s`: its magnitude, its
/// length, and whether any mantissa digit is non-zero.
fn decimal_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(0);
    let mut end = int;
    let mut frac = 0;
    if s.get(end) == Some(&b'.') {
        frac = digits(end + 1);
        if int + frac > 0 {
            end += 1 + frac;
        }
    }
    if int + frac == 0 {
        return None;
    }
    let nonzero = s[..end].iter().any(|b| (b'1'..=b'9').contains(b));
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(s.get(e), Some(b'-' | b'+')) {
            e += 1;
        }
        let exp = digits(e);
        if exp > 0 {
            end = e + exp;
        }
    }
    let text = std::str::from_utf8(&s[..end]).ok()?;
    Some((text.parse().ok()?, end, nonzero))
}

/// A hex float after its `0x`: hex digits, an optional fraction, an
/// optional binary exponent `p[+-]n`.
fn hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut mantissa: u128 = 0;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut i = 0;
    let mut seen_point = false;
    while let Some(&b) = s.get(i) {
        if b == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (b as char).to_digit(16) {
            any = true;
            if mantissa >> 120 == 0 {
                mantissa = mantissa << 4 | u128::from(d);
                if seen_point {
                    exp -= 4;
                }
            } else if !seen_point {
                exp += 4; // digits past what u128 keeps only scale
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut e = i + 1;
        let negative = s.get(e) == Some(&b'-');
        if matches!(s.get(e), Some(b'-' | b'+')) {
            e += 1;
        }
        let n = s[e..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            let p: i64 = std::str::from_utf8(&s[e..e + n])
                .ok()?
                .parse()
                .unwrap_or(i64::MAX / 2);
            exp = exp.saturating_add(if negative { -p } else { p });
            i = e + n;
        }
    }
    let value = (mantissa as f64) * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    Some((value, i, mantissa != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"5."), Some(5.0));
        assert_eq!(parse_score(b"1e3"), Some(1000.0));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"4.9e-324"), Some(4.9e-324));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1e",
            b".",
            b"1\0",
            b"--1",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn score_ranges_follow_strtod() {
        let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
        assert!(r.min.exclusive && !r.max.exclusive);
        assert_eq!((r.min.value, r.max.value), (1.0, f64::INFINITY));
        // strtod accepts what string2d does not.
        assert_eq!(ScoreRange::parse(b"", b" 2").unwrap().min.value, 0.0);
        assert_eq!(
            ScoreRange::parse(b"(", b"1e400").unwrap().max.value,
            f64::INFINITY
        );
        assert_eq!(ScoreRange::parse(b"1\0zz", b"2").unwrap().min.value, 1.0);
        assert!(ScoreRange::parse(b"1 ", b"2").is_none());
        assert!(ScoreRange::parse(b"nan", b"2").is_none());
        assert!(ScoreRange::parse(b"1", b"((2").is_none());
        assert!(ScoreRange::parse(b"2", b"(2").unwrap().is_empty());
        assert!(ScoreRange::parse(b"3", b"2").unwrap().is_empty());
        assert!(!ScoreRange::parse(b"2", b"2").unwrap().is_empty());
    }

    #[test]
    fn lex_ranges_compare_like_sdscmplex() {
        let r = LexRange::parse(b"[b", b"(d").unwrap();
        assert!(r.above_min(b"b") && r.above_min(b"bb") && !r.above_min(b"a"));
        assert!(r.below_max(b"c") && !r.below_max(b"d"));
        let all = LexRange::parse(b"-", b"+").unwrap();
        assert!(all.above_min(b"") && all.below_max(b"\xff\xff") && !all.is_empty());
        assert!(LexRange::parse(b"+", b"-").unwrap().is_empty());
        assert!(LexRange::parse(b"(a", b"[a").unwrap().is_empty());
        assert!(!LexRange::parse(b"[a", b"[a").unwrap().is_empty());
        assert!(LexRange::parse(b"a", b"+").is_none());
        assert!(LexRange::parse(b"-x", b"+").is_none());
        assert!(LexRange::parse(b"", b"+").is_none());
    }

    #[test]
    fn rank_spans_sanitise_like_redis() {
        assert_eq!(rank_span(0, -1, 5), Some((0, 4)));
        assert_eq!(rank_span(-2, -1, 5), Some((3, 4)));
        assert_eq!(rank_span(-100, 1, 5), Some((0, 1)));
        assert_eq!(rank_span(2, 100, 5), Some((2, 4)));
        assert_eq!(rank_span(3, 2, 5), None);
        assert_eq!(rank_span(5, 10, 5), None);
        assert_eq!(rank_span(0, -6, 5), None);
        assert_eq!(rank_span(0, -1, 0), None);
    }
}
