//! The resumable request parser: RESP multibulk and inline requests.
//!
//! The parser absorbs what it is given: when it answers `NeedMore`, it has
//! consumed the whole input, copying a partial bulk into the argument table
//! and a partial header line into a bounded line buffer, so the caller
//! never keeps (or re-feeds) a partial request and nothing is parsed twice.
//! It stops right after a complete request or a skipped empty one, so the
//! caller can run it before parsing the rest of a pipeline.
//!
//! It follows Redis' `processMultibulkBuffer` / `processInlineBuffer`
//! (networking.c) byte for byte: the two bytes after `\r` of a header and
//! the two bytes after bulk data are skipped unchecked; `*0`, `*-1` (any
//! count <= 0) and blank inline lines are skipped; the unauthenticated
//! limits apply when `authenticated` is false. See [`super::line`] for the
//! one place the "too big" rule is made independent of how input is split.
//!
//! Invariants: after an error the parser keeps answering that error; the
//! argument bytes held never exceed the query-buffer limit in force (the
//! request fails with [`ProtocolError::QueryBufferLimit`] first), so
//! [`RequestParser::pending_bytes`] `<= limit + max_inline_len`.

use super::limits::{UNAUTHENTICATED_MAX_BULK_LEN, UNAUTHENTICATED_MAX_MULTIBULK_LEN};
use super::line::{Line, LineStatus};
use super::{parse_i64, split_inline, Argv, Limits, ProtocolError};

/// What one call to [`RequestParser::parse`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete request; `consumed` bytes of the input ended it.
    Request {
        /// The request's arguments (never empty).
        argv: Argv,
        /// Bytes of the input used, up to the end of this request.
        consumed: usize,
    },
    /// The input ended inside a request; all of it was consumed.
    NeedMore {
        /// Always the input's length.
        consumed: usize,
    },
    /// An empty request (blank inline line, `*0`, `*-1`) was skipped.
    Skip {
        /// Bytes of the input used, up to the end of the empty request.
        consumed: usize,
    },
}

impl Parsed {
    /// Bytes of the input used; the caller drains them.
    pub fn consumed(&self) -> usize {
        match self {
            Self::Request { consumed, .. }
            | Self::NeedMore { consumed }
            | Self::Skip { consumed } => *consumed,
        }
    }
}

/// Parses requests out of a byte stream fed in chunks of any size.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::{Argv, Parsed, RequestParser};
///
/// let mut parser = RequestParser::default();
/// let input = b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n";
/// assert_eq!(parser.parse(&input[..9], true), Ok(Parsed::NeedMore { consumed: 9 }));
/// let Ok(Parsed::Request { argv, consumed }) = parser.parse(&input[9..], true) else {
///     panic!("a request");
/// };
/// assert_eq!(argv, Argv::from_args(&[b"ECHO", b"hi"]));
/// let rest = &input[9 + consumed..];
/// let Ok(Parsed::Request { argv, .. }) = parser.parse(rest, true) else { panic!() };
/// assert_eq!(argv, Argv::from_args(&[b"PING"]));
/// ```
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    state: State,
    line: Line,
    argv: Argv,
    failed: Option<ProtocolError>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// Between requests.
    #[default]
    Idle,
    /// Collecting an inline line.
    Inline,
    /// Collecting the `*<count>` line.
    Count,
    /// Collecting a `$<len>` line; `args_left` arguments to go.
    BulkHeader { args_left: usize },
    /// Copying `left` more bytes of an argument.
    BulkData { args_left: usize, left: usize },
    /// Skipping `left` of the two bytes after an argument.
    BulkEnd { args_left: usize, left: usize },
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses from `input`, resuming the request under construction.
    ///
    /// Returns how many bytes were consumed (see [`Parsed`]); the caller
    /// drops them and calls again with the rest, after running a returned
    /// request. `authenticated` selects Redis' unauthenticated limits.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`]: the connection answers its
    /// [`reply_text`](ProtocolError::reply_text), if any, and closes.
    pub fn parse(&mut self, input: &[u8], authenticated: bool) -> Result<Parsed, ProtocolError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let result = self.parse_from(input, authenticated);
        if let Err(err) = result {
            self.failed = Some(err);
            self.line.clear();
            self.argv = Argv::new();
        }
        result
    }

    /// Bytes held for the request under construction: argument bytes,
    /// argument offsets and a partial header or inline line.
    pub fn pending_bytes(&self) -> usize {
        self.argv
            .held_bytes()
            .saturating_add(self.line.held_bytes())
    }

    /// True when `unconsumed` bytes the connection still holds, plus what
    /// the parser holds, exceed the query-buffer limit for this client
    /// (Redis closes such a client without a reply).
    pub fn exceeds_query_buffer_limit(&self, unconsumed: usize, authenticated: bool) -> bool {
        self.pending_bytes().saturating_add(unconsumed)
            > self.limits.query_buffer_limit_for(authenticated)
    }

    /// True between requests (nothing partial is held).
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle && self.failed.is_none()
    }

    fn parse_from(&mut self, input: &[u8], authenticated: bool) -> Result<Parsed, ProtocolError> {
        let max_line = self.limits.max_inline_len;
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            let need_more = Parsed::NeedMore {
                consumed: input.len(),
            };
            match self.state {
                State::Idle => {
                    let Some(&first) = rest.first() else {
                        return Ok(need_more);
                    };
                    self.state = if first == b'*' {
                        State::Count
                    } else {
                        State::Inline
                    };
                }
                State::Inline => match self.line.feed(rest, b'\n', 0, max_line) {
                    LineStatus::Partial => return Ok(need_more),
                    LineStatus::TooBig => return Err(ProtocolError::TooBigInline),
                    LineStatus::Complete(used) => {
                        pos += used;
                        self.state = State::Idle;
                        let mut line = self.line.take();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        let argv =
                            split_inline(&line).map_err(|_| ProtocolError::UnbalancedQuotes)?;
                        return Ok(if argv.is_empty() {
                            Parsed::Skip { consumed: pos }
                        } else {
                            Parsed::Request {
                                argv,
                                consumed: pos,
                            }
                        });
                    }
                },
                State::Count => match self.line.feed(rest, b'\r', 1, max_line) {
                    LineStatus::Partial => return Ok(need_more),
                    LineStatus::TooBig => return Err(ProtocolError::TooBigMultibulkCount),
                    LineStatus::Complete(used) => {
                        pos += used;
                        let line = self.line.take();
                        let count = self.multibulk_count(&line, authenticated)?;
                        if count == 0 {
                            self.state = State::Idle;
                            return Ok(Parsed::Skip { consumed: pos });
                        }
                        self.argv.reserve_args(count);
                        self.state = State::BulkHeader { args_left: count };
                    }
                },
                State::BulkHeader { args_left } => match self.line.feed(rest, b'\r', 1, max_line) {
                    LineStatus::Partial => return Ok(need_more),
                    LineStatus::TooBig => return Err(ProtocolError::TooBigBulkCount),
                    LineStatus::Complete(used) => {
                        pos += used;
                        let line = self.line.take();
                        let left = self.bulk_len(&line, authenticated)?;
                        self.state = State::BulkData { args_left, left };
                    }
                },
                State::BulkData { args_left, left } => {
                    let take = left.min(rest.len());
                    self.argv
                        .extend_partial(rest.get(..take).unwrap_or_default(), left);
                    pos += take;
                    let left = left - take;
                    if left == 0 {
                        self.argv.end_partial();
                        self.state = State::BulkEnd { args_left, left: 2 };
                    } else {
                        self.state = State::BulkData { args_left, left };
                    }
                    if self.argv.held_bytes() > self.limits.query_buffer_limit_for(authenticated) {
                        return Err(ProtocolError::QueryBufferLimit);
                    }
                    if left > 0 {
                        return Ok(need_more);
                    }
                }
                State::BulkEnd { args_left, left } => {
                    let skip = left.min(rest.len());
                    pos += skip;
                    let left = left - skip;
                    if left > 0 {
                        self.state = State::BulkEnd { args_left, left };
                        return Ok(need_more);
                    }
                    let args_left = args_left.saturating_sub(1);
                    if args_left > 0 {
                        self.state = State::BulkHeader { args_left };
                    } else {
                        self.state = State::Idle;
                        return Ok(Parsed::Request {
                            argv: std::mem::take(&mut self.argv),
                            consumed: pos,
                        });
                    }
                }
            }
        }
    }

    /// The argument count of a `*` line (which starts with `*`); 0 for the
    /// counts Redis skips.
    fn multibulk_count(&self, line: &[u8], authenticated: bool) -> Result<usize, ProtocolError> {
        let max = i64::try_from(self.limits.max_multibulk_len).unwrap_or(i64::MAX);
        let count = parse_i64(line.get(1..).unwrap_or_default())
            .filter(|&n| n <= max)
            .ok_or(ProtocolError::InvalidMultibulkLength)?;
        if count > UNAUTHENTICATED_MAX_MULTIBULK_LEN && !authenticated {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// The byte length announced by a `$` line.
    fn bulk_len(&self, line: &[u8], authenticated: bool) -> Result<usize, ProtocolError> {
        match line.first() {
            Some(b'$') => {}
            // An empty line: Redis looks at the `\r` itself.
            other => {
                return Err(ProtocolError::ExpectedDollar(
                    other.copied().unwrap_or(b'\r'),
                ))
            }
        }
        let max = i64::try_from(self.limits.max_bulk_len).unwrap_or(i64::MAX);
        let len = parse_i64(line.get(1..).unwrap_or_default())
            .filter(|&n| (0..=max).contains(&n))
            .ok_or(ProtocolError::InvalidBulkLength)?;
        if len > UNAUTHENTICATED_MAX_BULK_LEN && !authenticated {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)
    }
}
