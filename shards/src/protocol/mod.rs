//! The sans-IO RESP protocol layer: bytes in, requests out; replies in,
//! bytes out. No sockets, no clocks, no async.
//!
//! - [`RequestParser`] turns a byte stream into [`Argv`]s, resumably and
//!   with Redis 7's limits ([`Limits`]) and error texts
//!   ([`ProtocolError`]). Nothing a client sends can make it panic, and
//!   the result does not depend on how the input is split into chunks.
//! - [`Reply`] is what a command returns; [`encode`] writes it as RESP2 or
//!   RESP3 and is the only code that knows the difference.
//! - [`format_double`] / [`format_incrbyfloat`] print doubles as Redis.
//!
//! The connection loop calls `parse` on its unconsumed input, drains
//! `consumed` bytes, runs a returned request, and repeats; before reading
//! more it checks [`RequestParser::exceeds_query_buffer_limit`]. On a
//! `ProtocolError` it sends the reply text (if any) as `-<text>\r\n` and
//! closes.

#![forbid(unsafe_code)]

mod argv;
mod double;
mod encode;
mod error;
mod inline;
mod limits;
mod line;
mod number;
mod parser;
mod reply;

pub use argv::{Argv, ArgvIter};
pub use double::{format_double, format_double_g17, format_incrbyfloat};
pub use encode::{encode, encode_to_vec, encoded_len, ProtocolVersion};
pub use error::ProtocolError;
pub use inline::{split_inline, UnbalancedQuotes};
pub use limits::{
    Limits, UNAUTHENTICATED_MAX_BULK_LEN, UNAUTHENTICATED_MAX_MULTIBULK_LEN,
    UNAUTHENTICATED_QUERY_BUFFER_LIMIT,
};
pub use number::parse_i64;
pub use parser::{Parsed, RequestParser};
pub use reply::Reply;
