//! Doubles as Redis prints them.
//!
//! [`format_double`] is Redis' `d2string` (util.c), used by
//! `addReplyDouble` and for stored scores: `nan`, `inf`, `-inf`, `0`, `-0`;
//! integral values within ±2^62 as integers; anything else through
//! `fpconv_dtoa`'s layout of the shortest round-trip digits. Redis gets the
//! digits from Grisu2, which in rare cases yields a longer (still
//! round-tripping) string than the true shortest one Rust's formatter
//! gives; there the two differ.
//!
//! [`format_incrbyfloat`] is the `%.17Lf`-then-trim formatting
//! (`ld2string(..., LD_STR_HUMAN)`) that INCRBYFLOAT and HINCRBYFLOAT store.
//! Redis computes and prints in 80-bit `long double`; we have `f64`. The
//! digits used are the shortest round-trip digits of the `f64`, rounded
//! half-up to 17 decimals, which matches Redis whenever the `f64` holds the
//! decimal value Redis' `long double` held. It differs where `f64`
//! arithmetic shows binary noise that 80 bits hide: `0.1 + 0.2` stores
//! `0.30000000000000004` here and `0.3` in Redis; and at magnitudes where
//! `f64` has fewer digits than `long double` (beyond 2^53 the stored
//! integers differ in the last digits).

/// Redis' `d2string`: how replies and scores print a double.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::format_double;
///
/// assert_eq!(format_double(1.5), "1.5");
/// assert_eq!(format_double(3.0), "3");
/// assert_eq!(format_double(1e21), "1e+21");
/// assert_eq!(format_double(0.0001), "0.0001");
/// assert_eq!(format_double(1.5e-7), "1.5e-7");
/// assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
/// ```
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // double2ll: (double)(LLONG_MAX/2) rounds to 2^62.
    const SAFE: f64 = 4_611_686_018_427_387_904.0;
    if (-SAFE..=SAFE).contains(&value) && value.trunc() == value {
        return (value as i64).to_string();
    }
    let (digits, k) = shortest_digits(value);
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    emit_digits(&digits, k, value.is_sign_negative(), &mut out);
    out
}

/// INCRBYFLOAT's stored form: `%.17Lf` with trailing zeros (and a bare
/// `.`) removed, and `-0` printed as `0`. See the module docs for where
/// `f64` differs from Redis' `long double`.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::format_incrbyfloat;
///
/// assert_eq!(format_incrbyfloat(10.6), "10.6");
/// assert_eq!(format_incrbyfloat(5.0e3), "5000");
/// assert_eq!(format_incrbyfloat(1e21), "1000000000000000000000");
/// assert_eq!(format_incrbyfloat(1e-20), "0");
/// assert_eq!(format_incrbyfloat(-1e-20), "0");
/// ```
pub fn format_incrbyfloat(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    const FRACTION: i32 = 17;
    let (mut digits, mut k) = if value == 0.0 {
        (vec![0], 0)
    } else {
        shortest_digits(value)
    };
    if k < -FRACTION {
        // Keep digits down to 10^-17, rounding half-up on the next digit.
        let drop = usize::try_from(-FRACTION - k).unwrap_or(usize::MAX);
        let keep = digits.len().saturating_sub(drop);
        let round_up = digits.get(keep).is_some_and(|&d| d >= 5);
        digits.truncate(keep);
        k = -FRACTION;
        if round_up {
            increment(&mut digits);
        }
        if digits.is_empty() {
            digits.push(0);
        }
    }
    // digits × 10^k with k >= -17: integer part, then fraction.
    let mut text = String::new();
    if value.is_sign_negative() {
        text.push('-');
    }
    let frac_len = usize::try_from(-k.min(0)).unwrap_or(0);
    let int_digits = digits.len().saturating_sub(frac_len);
    if int_digits == 0 {
        text.push('0');
    }
    for d in digits.iter().take(int_digits) {
        text.push(char::from(b'0' + d));
    }
    for _ in 0..k.max(0) {
        text.push('0');
    }
    let mut fraction = String::new();
    for _ in digits.len()..frac_len {
        fraction.push('0');
    }
    for d in digits.iter().skip(int_digits) {
        fraction.push(char::from(b'0' + d));
    }
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        text.push('.');
        text.push_str(fraction);
    }
    if text == "-0" {
        text = "0".to_owned();
    }
    text
}

/// `%.17g`, what Redis' `ld2string(..., LD_STR_AUTO)` prints: ZSCAN of a
/// sorted set too large for a listpack shows its scores this way
/// (`0.10000000000000001`); `nan`, `inf`, `-inf` as [`format_double`].
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::format_double_g17;
///
/// assert_eq!(format_double_g17(0.1), "0.10000000000000001");
/// assert_eq!(format_double_g17(1.5), "1.5");
/// assert_eq!(format_double_g17(1e17), "1e+17");
/// assert_eq!(format_double_g17(1e-5), "1.0000000000000001e-05");
/// ```
pub fn format_double_g17(value: f64) -> String {
    const PRECISION: i32 = 17;
    if value.is_nan() || value.is_infinite() || value == 0.0 {
        return format_double(value);
    }
    // 17 significant digits, correctly rounded; the exponent after
    // rounding picks the style, as C's %g does.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |t: &str| -> String {
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            t.to_owned()
        }
    };
    if !(-4..PRECISION).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa), exp.unsigned_abs());
    }
    let decimals = usize::try_from(PRECISION - 1 - exp).unwrap_or(0);
    trim(&format!("{value:.decimals$}"))
}

/// The shortest round-trip decimal digits of a finite non-zero `value`
/// and the exponent `k` with `|value| = digits × 10^k`.
fn shortest_digits(value: f64) -> (Vec<u8>, i32) {
    let sci = format!("{:e}", value.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    (digits, exp - (ndigits - 1))
}

/// Adds one unit in the last place of a decimal digit string.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, 1);
}

/// `emit_digits` from Redis' deps/fpconv/fpconv_dtoa.c.
fn emit_digits(digits: &[u8], k: i32, negative: bool, out: &mut String) {
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let exp = (k + ndigits - 1).abs();
    let push = |out: &mut String, ds: &[u8]| {
        for d in ds {
            out.push(char::from(b'0' + d));
        }
    };
    // Plain integer.
    if k >= 0 && exp < ndigits + 7 {
        push(out, digits);
        for _ in 0..k {
            out.push('0');
        }
        return;
    }
    // Decimal without exponent.
    if k < 0 && (k > -7 || exp < 4) {
        let offset = ndigits - k.abs();
        if offset <= 0 {
            out.push_str("0.");
            for _ in 0..-offset {
                out.push('0');
            }
            push(out, digits);
        } else {
            let split = usize::try_from(offset).unwrap_or(0);
            push(out, digits.get(..split).unwrap_or(digits));
            out.push('.');
            push(out, digits.get(split..).unwrap_or_default());
        }
        return;
    }
    // Scientific notation.
    let keep = usize::try_from(ndigits.min(18 - i32::from(negative))).unwrap_or(0);
    let digits = digits.get(..keep).unwrap_or(digits);
    if let Some((first, rest)) = digits.split_first() {
        out.push(char::from(b'0' + first));
        if !rest.is_empty() {
            out.push('.');
            push(out, rest);
        }
    }
    out.push('e');
    out.push(if k + ndigits - 1 < 0 { '-' } else { '+' });
    let mut exp = exp;
    let mut cent = 0;
    if exp > 99 {
        cent = exp / 100;
        out.push(digit_char(cent));
        exp -= cent * 100;
    }
    if exp > 9 {
        let dec = exp / 10;
        out.push(digit_char(dec));
        exp -= dec * 10;
    } else if cent != 0 {
        out.push('0');
    }
    out.push(digit_char(exp % 10));
}

fn digit_char(d: i32) -> char {
    char::from_digit(u32::try_from(d).unwrap_or(0), 10).unwrap_or('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_printf() {
        // Expected strings from glibc's printf("%.17g").
        assert_eq!(format_double_g17(1.0), "1");
        assert_eq!(format_double_g17(-2.5), "-2.5");
        assert_eq!(format_double_g17(1.1), "1.1000000000000001");
        assert_eq!(format_double_g17(123456789.123), "123456789.123");
        assert_eq!(format_double_g17(1e16), "10000000000000000");
        assert_eq!(format_double_g17(1e300), "1.0000000000000001e+300");
        assert_eq!(format_double_g17(0.0001), "0.0001");
        assert_eq!(format_double_g17(-0.0), "-0");
        assert_eq!(format_double_g17(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn special_values_are_spelled_like_redis() {
        assert_eq!(format_double(f64::NAN), "nan");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(0.0), "0");
    }

    #[test]
    fn integral_values_up_to_two_to_the_62_print_as_integers() {
        assert_eq!(format_double(-42.0), "-42");
        assert_eq!(
            format_double(4_611_686_018_427_387_904.0),
            "4611686018427387904"
        );
        assert_eq!(
            format_double(9_223_372_036_854_775_808.0),
            "9223372036854776000"
        );
        assert_eq!(format_double(1e20), "1e+20");
    }

    #[test]
    fn fpconv_layout_switches_at_its_thresholds() {
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(123456.7), "123456.7");
        assert_eq!(format_double(0.00015), "0.00015");
        assert_eq!(format_double(1.2345e-4), "1.2345e-4");
        assert_eq!(format_double(1e-7), "1e-7");
        assert_eq!(format_double(-2.5e-300), "-2.5e-300");
        assert_eq!(
            format_double(1.7976931348623157e308),
            "1.7976931348623157e+308"
        );
        assert_eq!(format_double(5e-324), "5e-324");
        assert_eq!(format_double(1.5e19), "1.5e+19");
        assert_eq!(format_double(2.71), "2.71");
    }

    #[test]
    fn incrbyfloat_trims_and_rounds_to_17_decimals() {
        assert_eq!(format_incrbyfloat(1.5), "1.5");
        assert_eq!(format_incrbyfloat(-3.0), "-3");
        assert_eq!(format_incrbyfloat(0.0), "0");
        assert_eq!(format_incrbyfloat(-0.0), "0");
        assert_eq!(format_incrbyfloat(1e-17), "0.00000000000000001");
        assert_eq!(format_incrbyfloat(5e-18), "0.00000000000000001");
        assert_eq!(format_incrbyfloat(4e-18), "0");
        assert_eq!(format_incrbyfloat(1.234e-10), "0.0000000001234");
        assert_eq!(format_incrbyfloat(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_incrbyfloat(1.7976931348623157e308).len(), 309);
    }
}
