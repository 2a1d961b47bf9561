//! Why a request could not be parsed. Every variant ends the connection.

use crate::errors;

/// A protocol violation. Redis answers `-<reply_text>\r\n` and closes the
/// connection after the reply; [`ProtocolError::QueryBufferLimit`] closes
/// it without a reply.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*<count>` is not an integer or exceeds `max_multibulk_len`.
    InvalidMultibulkLength,
    /// `*<count>` above 10 from an unauthenticated client.
    UnauthenticatedMultibulkLength,
    /// A bulk header did not start with `$`; holds the byte found.
    ExpectedDollar(u8),
    /// `$<len>` is not an integer, is negative or exceeds `max_bulk_len`.
    InvalidBulkLength,
    /// `$<len>` above 16384 from an unauthenticated client.
    UnauthenticatedBulkLength,
    /// No `\r` within `max_inline_len` bytes of a `*` line.
    TooBigMultibulkCount,
    /// No `\r` within `max_inline_len` bytes of a `$` line.
    TooBigBulkCount,
    /// No `\n` within `max_inline_len` bytes of an inline request.
    TooBigInline,
    /// An inline request with unbalanced quotes (or a closing quote
    /// followed by something other than a space).
    UnbalancedQuotes,
    /// The request under construction outgrew the query-buffer limit.
    QueryBufferLimit,
}

impl ProtocolError {
    /// The error reply (without `-` and CRLF), or `None` when the
    /// connection is closed without a reply.
    ///
    /// # Examples
    ///
    /// ```
    /// use frys_shards::protocol::ProtocolError;
    ///
    /// assert_eq!(
    ///     ProtocolError::InvalidBulkLength.reply_text().as_deref(),
    ///     Some("ERR Protocol error: invalid bulk length")
    /// );
    /// assert_eq!(ProtocolError::QueryBufferLimit.reply_text(), None);
    /// ```
    pub fn reply_text(&self) -> Option<String> {
        let text = match self {
            Self::InvalidMultibulkLength => errors::PROTOCOL_INVALID_MULTIBULK_LENGTH,
            Self::UnauthenticatedMultibulkLength => {
                errors::PROTOCOL_UNAUTHENTICATED_MULTIBULK_LENGTH
            }
            Self::ExpectedDollar(got) => return Some(errors::protocol_expected_dollar(*got)),
            Self::InvalidBulkLength => errors::PROTOCOL_INVALID_BULK_LENGTH,
            Self::UnauthenticatedBulkLength => errors::PROTOCOL_UNAUTHENTICATED_BULK_LENGTH,
            Self::TooBigMultibulkCount => errors::PROTOCOL_TOO_BIG_MBULK_COUNT,
            Self::TooBigBulkCount => errors::PROTOCOL_TOO_BIG_BULK_COUNT,
            Self::TooBigInline => errors::PROTOCOL_TOO_BIG_INLINE,
            Self::UnbalancedQuotes => errors::PROTOCOL_UNBALANCED_QUOTES,
            Self::QueryBufferLimit => return None,
        };
        Some(text.to_owned())
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reply_text() {
            Some(text) => f.write_str(&text),
            None => f.write_str("query buffer limit reached"),
        }
    }
}

impl std::error::Error for ProtocolError {}
