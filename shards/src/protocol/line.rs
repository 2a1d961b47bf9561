//! Collecting one header or inline line across input chunks.
//!
//! Redis looks for the terminator with `strchr` from the line start, so a
//! NUL byte before the terminator hides it: such a line never completes
//! and only ends in a "too big" error. Redis raises that error when more
//! than `max` unparsed bytes hold no terminator, which depends on how reads
//! were split; here it is raised whenever more than `max` bytes precede the
//! terminator, the same for every split (and the same as Redis whenever the
//! terminator arrives in a later read than byte `max + 1`).
//!
//! Invariants: `bytes.len() <= seen <= max`; a poisoned line stores
//! nothing; once the terminator is found, `trailer_left` bytes (any value)
//! are skipped before the line is complete.

/// Outcome of feeding a chunk to a [`Line`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineStatus {
    /// The line is complete; this many bytes of the chunk were used.
    Complete(usize),
    /// The whole chunk was used and the line is not complete yet.
    Partial,
    /// More than `max` bytes came before the terminator.
    TooBig,
}

/// A line under construction. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Line {
    bytes: Vec<u8>,
    seen: usize,
    poisoned: bool,
    found: bool,
    trailer_left: usize,
}

impl Line {
    /// Feeds `input`; `terminator` ends the line, then `trailer` more bytes
    /// are skipped (1 for `*`/`$` headers, whose `\n` Redis never checks).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        terminator: u8,
        trailer: usize,
        max: usize,
    ) -> LineStatus {
        let mut used = 0;
        if !self.found {
            if self.poisoned {
                return self.count_unterminated(input.len(), max);
            }
            let hit = input.iter().position(|&b| b == terminator || b == 0);
            match hit.and_then(|i| Some((i, *input.get(i)?))) {
                Some((i, b)) if b == terminator && b != 0 => {
                    if self.seen.saturating_add(i) > max {
                        return LineStatus::TooBig;
                    }
                    self.bytes
                        .extend_from_slice(input.get(..i).unwrap_or_default());
                    self.seen += i;
                    self.found = true;
                    self.trailer_left = trailer;
                    used = i + 1;
                }
                Some(_) => {
                    self.poisoned = true;
                    self.bytes = Vec::new();
                    return self.count_unterminated(input.len(), max);
                }
                None => {
                    let status = self.count_unterminated(input.len(), max);
                    if status == LineStatus::Partial {
                        self.bytes.extend_from_slice(input);
                    }
                    return status;
                }
            }
        }
        let skip = self.trailer_left.min(input.len() - used);
        self.trailer_left -= skip;
        used += skip;
        if self.trailer_left == 0 {
            LineStatus::Complete(used)
        } else {
            LineStatus::Partial
        }
    }

    /// The complete line's bytes before the terminator; resets the line.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.bytes);
        self.clear();
        bytes
    }

    /// Bytes held.
    pub(crate) fn held_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    fn count_unterminated(&mut self, n: usize, max: usize) -> LineStatus {
        self.seen = self.seen.saturating_add(n);
        if self.seen > max {
            LineStatus::TooBig
        } else {
            LineStatus::Partial
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_completes_after_terminator_and_trailer() {
        let mut line = Line::default();
        assert_eq!(line.feed(b"*12", b'\r', 1, 100), LineStatus::Partial);
        assert_eq!(line.feed(b"\r", b'\r', 1, 100), LineStatus::Partial);
        assert_eq!(line.feed(b"\nrest", b'\r', 1, 100), LineStatus::Complete(1));
        assert_eq!(line.take(), b"*12");
        assert_eq!(line.held_bytes(), 0);
    }

    #[test]
    fn exactly_max_bytes_before_terminator_is_accepted() {
        let mut line = Line::default();
        assert_eq!(line.feed(b"abcd", b'\n', 0, 4), LineStatus::Partial);
        assert_eq!(line.feed(b"\n", b'\n', 0, 4), LineStatus::Complete(1));
        let mut line = Line::default();
        assert_eq!(line.feed(b"abcde\n", b'\n', 0, 4), LineStatus::TooBig);
    }

    #[test]
    fn nul_hides_the_terminator_until_too_big() {
        let mut line = Line::default();
        assert_eq!(line.feed(b"a\0b\n", b'\n', 0, 6), LineStatus::Partial);
        assert_eq!(line.held_bytes(), 0);
        assert_eq!(line.feed(b"\n\n", b'\n', 0, 6), LineStatus::Partial);
        assert_eq!(line.feed(b"\n", b'\n', 0, 6), LineStatus::TooBig);
    }
}
