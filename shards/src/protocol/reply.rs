//! The value a command returns; [`super::encode`] turns it into RESP2 or
//! RESP3 bytes.
//!
//! Invariant kept by the encoder, not by construction: simple strings and
//! error texts go out without CR or LF (each becomes a space, as Redis'
//! `addReplyErrorFormat` does), so no reply can break the framing.

use std::borrow::Cow;

/// A reply value, independent of the protocol version.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+text` (status reply).
    Simple(Cow<'static, str>),
    /// `-text`: the full text with its code, e.g. `ERR syntax error`; see
    /// [`crate::errors`].
    Error(Cow<'static, str>),
    /// `:n`.
    Integer(i64),
    /// `$len` bulk string.
    Bulk(Vec<u8>),
    /// Missing value: RESP2 `$-1`, RESP3 `_`.
    Null,
    /// Missing aggregate: RESP2 `*-1`, RESP3 `_`.
    NullArray,
    /// `*n`.
    Array(Vec<Reply>),
    /// RESP3 `%n`; RESP2 a flat array of `2n` items.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `~n`; RESP2 an array.
    Set(Vec<Reply>),
    /// RESP3 `,`; RESP2 a bulk string; both formatted as Redis' `d2string`.
    Double(f64),
    /// RESP3 `#t`/`#f`; RESP2 `:1`/`:0`.
    Boolean(bool),
    /// RESP3 `=len\r\nfmt:text`; RESP2 a bulk string of `text`.
    Verbatim {
        /// Three-byte format, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text.
        text: Vec<u8>,
    },
    /// RESP3 `(digits`; RESP2 a bulk string.
    BigNumber(String),
    /// RESP3 `>n` out-of-band push; RESP2 an array.
    Push(Vec<Reply>),
    /// Frames [`super::encode`]d earlier, in the protocol the connection
    /// spoke when they were produced, copied out as they are: pub/sub
    /// pushes and confirmations, which Redis appends to a client's output
    /// as they happen (one request may answer with several frames).
    Encoded(Vec<u8>),
}

impl Reply {
    /// `+OK`.
    pub const fn ok() -> Self {
        Self::Simple(Cow::Borrowed("OK"))
    }

    /// `+PONG`.
    pub const fn pong() -> Self {
        Self::Simple(Cow::Borrowed("PONG"))
    }

    /// `+QUEUED`.
    pub const fn queued() -> Self {
        Self::Simple(Cow::Borrowed("QUEUED"))
    }

    /// An empty array, `*0`.
    pub const fn empty_array() -> Self {
        Self::Array(Vec::new())
    }

    /// A status reply.
    pub fn simple(text: impl Into<Cow<'static, str>>) -> Self {
        Self::Simple(text.into())
    }

    /// An error reply from a full text such as [`crate::errors::SYNTAX`].
    ///
    /// # Examples
    ///
    /// ```
    /// use frys_shards::{errors, protocol::{encode, ProtocolVersion, Reply}};
    ///
    /// let mut out = Vec::new();
    /// encode(&Reply::error(errors::SYNTAX), ProtocolVersion::Resp2, &mut out);
    /// assert_eq!(out, b"-ERR syntax error\r\n");
    /// ```
    pub fn error(text: impl Into<Cow<'static, str>>) -> Self {
        Self::Error(text.into())
    }

    /// A bulk string.
    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Bulk(bytes.into())
    }

    /// A verbatim text reply (`txt`), as INFO and CLIENT INFO send.
    pub fn verbatim_text(text: impl Into<Vec<u8>>) -> Self {
        Self::Verbatim {
            format: *b"txt",
            text: text.into(),
        }
    }

    /// True for [`Reply::Error`]: what INFO errorstats and a transaction's
    /// abort flag look at.
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error(_))
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Self {
        Self::Integer(n)
    }
}

impl From<bool> for Reply {
    fn from(b: bool) -> Self {
        Self::Boolean(b)
    }
}

impl From<Vec<u8>> for Reply {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Bulk(bytes)
    }
}

impl<T: Into<Reply>> From<Option<T>> for Reply {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}
