//! The reply a plugin builds, one value at a time: scalars, and arrays
//! and maps whose elements follow them (a map of n takes 2n: key, value,
//! ...). Bounded in elements and bytes so a plugin cannot make the server
//! hold an unbounded reply.

/// A plugin's reply, in RESP's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+text`.
    Simple(String),
    /// `-CODE text`.
    Error(String),
    /// `:n`.
    Integer(i64),
    /// `$bytes`.
    Bulk(Vec<u8>),
    /// Null (`$-1` in RESP2, `_` in RESP3).
    Null,
    /// `*n`.
    Array(Vec<Reply>),
    /// `%n` (a flat array in RESP2).
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    /// An error; `text` gets the `ERR ` prefix unless it starts with an
    /// upper-case code (`WRONGTYPE ...`).
    pub fn error(text: &str) -> Reply {
        let text = one_line(text);
        let code = text.split(' ').next().unwrap_or("");
        let has_code = !code.is_empty()
            && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            && text.len() > code.len();
        if has_code {
            Reply::Error(text)
        } else {
            Reply::Error(format!("ERR {text}"))
        }
    }
}

/// `text` with CR and LF replaced by spaces (they would end a RESP line).
pub fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Most values in one reply.
pub const MAX_REPLY_VALUES: usize = 1 << 20;
/// Most bytes of strings in one reply.
pub const MAX_REPLY_BYTES: usize = 64 << 20;
/// Deepest nesting of arrays and maps.
pub const MAX_REPLY_DEPTH: usize = 32;

/// Why a reply value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A second top-level value.
    AlreadyComplete,
    /// Over [`MAX_REPLY_VALUES`], [`MAX_REPLY_BYTES`] or [`MAX_REPLY_DEPTH`].
    TooLarge,
    /// A negative element count.
    BadCount,
}

enum Open {
    Array(usize, Vec<Reply>),
    Map(usize, Vec<Reply>),
}

/// Builds one [`Reply`].
#[derive(Default)]
pub struct ReplyBuilder {
    open: Vec<Open>,
    done: Option<Reply>,
    values: usize,
    bytes: usize,
}

impl ReplyBuilder {
    /// Adds a scalar (or an empty aggregate).
    pub fn push(&mut self, value: Reply) -> Result<(), ReplyError> {
        let size = match &value {
            Reply::Simple(s) | Reply::Error(s) => s.len(),
            Reply::Bulk(b) => b.len(),
            _ => 0,
        };
        self.account(size)?;
        self.place(value)
    }

    /// Opens an array of `n` values (the next `n` pushed).
    pub fn array(&mut self, n: i64) -> Result<(), ReplyError> {
        let n = self.count(n, 1)?;
        if n == 0 {
            return self.place(Reply::Array(Vec::new()));
        }
        self.open(Open::Array(n, Vec::new()))
    }

    /// Opens a map of `n` pairs (the next `2n` values pushed).
    pub fn map(&mut self, n: i64) -> Result<(), ReplyError> {
        let n = self.count(n, 2)?;
        if n == 0 {
            return self.place(Reply::Map(Vec::new()));
        }
        self.open(Open::Map(n, Vec::new()))
    }

    /// The reply, if exactly one complete value was built.
    pub fn finish(self) -> Option<Reply> {
        if self.open.is_empty() {
            self.done
        } else {
            None
        }
    }

    fn count(&mut self, n: i64, per: usize) -> Result<usize, ReplyError> {
        if n < 0 {
            return Err(ReplyError::BadCount);
        }
        let total = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(per))
            .ok_or(ReplyError::TooLarge)?;
        if total > MAX_REPLY_VALUES {
            return Err(ReplyError::TooLarge);
        }
        self.account(0)?;
        Ok(total)
    }

    fn open(&mut self, open: Open) -> Result<(), ReplyError> {
        if self.done.is_some() {
            return Err(ReplyError::AlreadyComplete);
        }
        if self.open.len() >= MAX_REPLY_DEPTH {
            return Err(ReplyError::TooLarge);
        }
        self.open.push(open);
        Ok(())
    }

    fn account(&mut self, bytes: usize) -> Result<(), ReplyError> {
        self.values += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.values > MAX_REPLY_VALUES || self.bytes > MAX_REPLY_BYTES {
            return Err(ReplyError::TooLarge);
        }
        Ok(())
    }

    /// Puts a complete value into the innermost open aggregate, closing
    /// every aggregate it completes.
    fn place(&mut self, mut value: Reply) -> Result<(), ReplyError> {
        if self.done.is_some() {
            return Err(ReplyError::AlreadyComplete);
        }
        loop {
            let Some(top) = self.open.last_mut() else {
                self.done = Some(value);
                return Ok(());
            };
            let (want, items) = match top {
                Open::Array(n, items) | Open::Map(n, items) => (*n, items),
            };
            items.push(value);
            if items.len() < want {
                return Ok(());
            }
            value = match self.open.pop() {
                Some(Open::Array(_, items)) => Reply::Array(items),
                Some(Open::Map(_, items)) => {
                    let mut it = items.into_iter();
                    let mut pairs = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Reply::Map(pairs)
                }
                None => return Err(ReplyError::AlreadyComplete),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_close_their_aggregates() {
        let mut b = ReplyBuilder::default();
        b.map(1).unwrap();
        b.push(Reply::Simple("a".into())).unwrap();
        b.array(2).unwrap();
        b.push(Reply::Integer(1)).unwrap();
        b.push(Reply::Null).unwrap();
        assert_eq!(
            b.finish(),
            Some(Reply::Map(vec![(
                Reply::Simple("a".into()),
                Reply::Array(vec![Reply::Integer(1), Reply::Null])
            )]))
        );
    }

    #[test]
    fn incomplete_or_second_values_are_refused() {
        let mut b = ReplyBuilder::default();
        b.array(2).unwrap();
        b.push(Reply::Integer(1)).unwrap();
        assert_eq!(b.finish(), None);
        let mut b = ReplyBuilder::default();
        b.push(Reply::Integer(1)).unwrap();
        assert_eq!(b.push(Reply::Null), Err(ReplyError::AlreadyComplete));
        let mut b = ReplyBuilder::default();
        assert_eq!(b.array(-1), Err(ReplyError::BadCount));
        assert_eq!(b.array(i64::MAX), Err(ReplyError::TooLarge));
    }

    #[test]
    fn errors_get_a_code() {
        assert_eq!(
            Reply::error("bad\r\nthing"),
            Reply::Error("ERR bad  thing".into())
        );
        assert_eq!(
            Reply::error("WRONGTYPE x"),
            Reply::Error("WRONGTYPE x".into())
        );
    }
}
