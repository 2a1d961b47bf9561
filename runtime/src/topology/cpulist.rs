//! The kernel's cpu-list format: `"0-3,5,7-9\n"`.
//!
//! This is the format of `/sys/devices/system/cpu/online`,
//! `/sys/devices/system/node/node<N>/cpulist`, `taskset -c` and
//! `Cpus_allowed_list` in `/proc/<pid>/status`. An empty string (or a string
//! holding only whitespace, such as `"\n"`) is the empty set.
//!
//! [`parse`] turns the text into a sorted, deduplicated `Vec<usize>` and
//! reports malformed text as a [`CpuListError`]; it never panics, whatever the
//! input. [`format()`] does the reverse, collapsing runs into ranges.

use std::fmt;

/// The largest CPU number [`parse`] accepts.
///
/// Linux supports at most 8192 CPUs today (`CONFIG_NR_CPUS`); the limit is far
/// above that and exists only so that a hostile or corrupt list such as
/// `"0-18446744073709551615"` is an error rather than an attempt to allocate
/// the whole address space.
pub const MAX_CPU: usize = (1 << 20) - 1;

/// Why a cpu-list could not be parsed.
///
/// Every variant names the offending piece of text, so the message is useful
/// on its own (callers usually prefix it with the file the text came from).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CpuListError {
    /// An element between two commas (or before the first / after the last
    /// one) is empty, as in `"1,,2"` or `"1,"`. `index` counts from 0.
    EmptyElement {
        /// Position of the empty element in the comma-separated list.
        index: usize,
    },
    /// A piece of text that should be a CPU number is not a plain decimal
    /// number (`"a"`, `"-1"`, `"+3"`, `" 3"`, `""` in `"3-"`).
    InvalidNumber {
        /// The text that is not a number.
        text: String,
    },
    /// A number is larger than [`MAX_CPU`] (or does not fit a `usize`).
    TooLarge {
        /// The number as written.
        text: String,
    },
    /// A range whose start is above its end, as in `"3-1"`.
    ReversedRange {
        /// The first number of the range.
        start: usize,
        /// The second number of the range.
        end: usize,
    },
}

impl fmt::Display for CpuListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuListError::EmptyElement { index } => {
                write!(f, "invalid cpu list: element {index} is empty")
            }
            CpuListError::InvalidNumber { text } => {
                write!(f, "invalid cpu list: {text:?} is not a cpu number")
            }
            CpuListError::TooLarge { text } => write!(
                f,
                "invalid cpu list: cpu number {text} is too large (the limit is {MAX_CPU})"
            ),
            CpuListError::ReversedRange { start, end } => write!(
                f,
                "invalid cpu list: range {start}-{end} ends before it starts"
            ),
        }
    }
}

impl std::error::Error for CpuListError {}

/// Parses one CPU number: ASCII digits only, at most [`MAX_CPU`].
fn parse_cpu(text: &str) -> Result<usize, CpuListError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CpuListError::InvalidNumber {
            text: text.to_owned(),
        });
    }
    match text.parse::<usize>() {
        Ok(n) if n <= MAX_CPU => Ok(n),
        // Only overflow can fail here: the text is a non-empty run of digits.
        _ => Err(CpuListError::TooLarge {
            text: text.to_owned(),
        }),
    }
}

/// Parses a kernel cpu-list such as `"0-3,5,7-9\n"`.
///
/// Leading and trailing whitespace (the kernel ends its files with `'\n'`) is
/// ignored; an empty or all-whitespace string is the empty set. Elements are
/// `N` or `N-M` with `N <= M`, separated by single commas, with no spaces
/// inside. The result is sorted and free of duplicates, whatever the order and
/// overlap of the elements.
///
/// # Errors
///
/// A [`CpuListError`] describing the first malformed element. This function
/// never panics.
///
/// # Examples
///
/// ```ignore
/// use frys_runtime::topology::parse_cpulist;
/// assert_eq!(parse_cpulist("0-2,5\n").unwrap(), vec![0, 1, 2, 5]);
/// assert!(parse_cpulist("3-1").is_err());
/// ```
pub fn parse(text: &str) -> Result<Vec<usize>, CpuListError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    for (index, element) in text.split(',').enumerate() {
        if element.is_empty() {
            return Err(CpuListError::EmptyElement { index });
        }
        let (start, end) = match element.split_once('-') {
            Some((a, b)) => (parse_cpu(a)?, parse_cpu(b)?),
            None => {
                let n = parse_cpu(element)?;
                (n, n)
            }
        };
        if start > end {
            return Err(CpuListError::ReversedRange { start, end });
        }
        ranges.push((start, end));
    }
    // Merge before expanding, so that the work and memory are bounded by the
    // size of the result (at most MAX_CPU + 1 entries) and not by how many
    // times the input repeats a large range.
    ranges.sort_unstable();
    let mut cpus = Vec::new();
    let mut next = 0; // first CPU not yet pushed
    for (start, end) in ranges {
        let from = start.max(next);
        if from <= end {
            cpus.extend(from..=end);
            next = end + 1;
        }
    }
    Ok(cpus)
}

/// Formats CPU numbers in the kernel cpu-list format, without a trailing
/// newline: `[0, 1, 2, 3, 5]` becomes `"0-3,5"`, the empty set becomes `""`.
///
/// The input does not need to be sorted or deduplicated.
/// `parse(&format(cpus))` returns `cpus` sorted and deduplicated.
pub fn format(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&std::format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_examples() {
        assert_eq!(parse("0-3,5,7-9\n").unwrap(), vec![0, 1, 2, 3, 5, 7, 8, 9]);
        assert_eq!(parse("0\n").unwrap(), vec![0]);
        assert_eq!(parse("0-0").unwrap(), vec![0]);
        assert_eq!(parse("").unwrap(), Vec::<usize>::new());
        assert_eq!(parse("\n").unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn sorts_and_deduplicates() {
        assert_eq!(parse("5,0-2,1,2-3").unwrap(), vec![0, 1, 2, 3, 5]);
        assert_eq!(parse("0-3,0-3,2").unwrap(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            parse("3-1"),
            Err(CpuListError::ReversedRange { start: 3, end: 1 })
        );
        assert_eq!(
            parse("a"),
            Err(CpuListError::InvalidNumber { text: "a".into() })
        );
        assert_eq!(parse("1,,2"), Err(CpuListError::EmptyElement { index: 1 }));
        assert_eq!(parse("1,"), Err(CpuListError::EmptyElement { index: 1 }));
        assert_eq!(parse(",1"), Err(CpuListError::EmptyElement { index: 0 }));
        for bad in ["-1", "+3", "1-", "-", "1-2-3", "1 ,2", "0x3", "1.5", "١"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!(
            parse("0-18446744073709551616"),
            Err(CpuListError::TooLarge { .. })
        ));
        assert!(matches!(
            parse(&(MAX_CPU + 1).to_string()),
            Err(CpuListError::TooLarge { .. })
        ));
    }

    #[test]
    fn error_messages_are_readable() {
        assert_eq!(
            parse("3-1").unwrap_err().to_string(),
            "invalid cpu list: range 3-1 ends before it starts"
        );
        assert_eq!(
            parse("a").unwrap_err().to_string(),
            "invalid cpu list: \"a\" is not a cpu number"
        );
    }

    #[test]
    fn large_repeated_ranges_stay_bounded() {
        let text = vec![std::format!("0-{MAX_CPU}"); 1000].join(",");
        assert_eq!(parse(&text).unwrap().len(), MAX_CPU + 1);
    }

    #[test]
    fn formats_ranges() {
        assert_eq!(format(&[]), "");
        assert_eq!(format(&[0]), "0");
        assert_eq!(format(&[0, 1, 2, 3, 5, 7, 8, 9]), "0-3,5,7-9");
        assert_eq!(format(&[9, 1, 0, 1]), "0-1,9");
    }

    /// xorshift64*: enough randomness for a property test, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    #[test]
    fn property_format_then_parse_round_trips() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let len = rng.below(40);
            let max = 1 + rng.below(300) as u64;
            let set: Vec<usize> = (0..len).map(|_| rng.below(max)).collect();
            let mut expected = set.clone();
            expected.sort_unstable();
            expected.dedup();
            let text = format(&set);
            assert_eq!(parse(&text).unwrap(), expected, "text {text:?}");
            assert_eq!(parse(&(text.clone() + "\n")).unwrap(), expected);
        }
    }

    #[test]
    fn property_never_panics_on_random_text() {
        const ALPHABET: &[u8] = b"0123456789--,,\n a+";
        let mut rng = Rng(42);
        for _ in 0..5000 {
            let len = rng.below(16);
            let text: String = (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64)] as char)
                .collect();
            // Must not panic; when it parses, the result is canonical.
            if let Ok(cpus) = parse(&text) {
                assert!(cpus.windows(2).all(|w| w[0] < w[1]), "{text:?}");
                assert_eq!(parse(&format(&cpus)).unwrap(), cpus);
            }
        }
    }
}
