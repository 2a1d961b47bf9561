//! The request-size limits of the parser, with Redis 7's defaults.

/// Request-size limits. `Default` is Redis 7's configuration.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::Limits;
///
/// let limits = Limits::default();
/// assert_eq!(limits.max_bulk_len, 512 * 1024 * 1024);
/// assert_eq!(limits.max_multibulk_len, i32::MAX as usize);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `proto-max-bulk-len`: the longest bulk argument (`$<len>`) accepted.
    pub max_bulk_len: usize,
    /// The largest `*<count>`: Redis refuses counts above `INT_MAX`.
    pub max_multibulk_len: usize,
    /// `PROTO_INLINE_MAX_SIZE`: the most bytes an inline request, or a
    /// `*`/`$` header line, may hold before its terminator.
    pub max_inline_len: usize,
    /// `client-query-buffer-limit`: a client holding more than this is
    /// closed without a reply.
    pub query_buffer_limit: usize,
}

/// The query-buffer limit of a client that still has to authenticate:
/// Redis hard-codes 1 MiB.
pub const UNAUTHENTICATED_QUERY_BUFFER_LIMIT: usize = 1024 * 1024;

/// Beyond this many arguments an unauthenticated `*<count>` is refused.
pub const UNAUTHENTICATED_MAX_MULTIBULK_LEN: i64 = 10;

/// Beyond this many bytes an unauthenticated `$<len>` is refused.
pub const UNAUTHENTICATED_MAX_BULK_LEN: i64 = 16384;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
            query_buffer_limit: 1024 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The query-buffer limit in force for a client.
    pub fn query_buffer_limit_for(&self, authenticated: bool) -> usize {
        if authenticated {
            self.query_buffer_limit
        } else {
            self.query_buffer_limit
                .min(UNAUTHENTICATED_QUERY_BUFFER_LIMIT)
        }
    }
}
