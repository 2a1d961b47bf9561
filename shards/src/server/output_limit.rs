//! `client-output-buffer-limit normal` for clients that are not
//! subscribers (subscribers have the `pubsub` class, see
//! `crate::pubsub::limit`).
//!
//! A connection holds at most one batch of replies (it reads no more
//! requests until they are written), so a client's output buffer is the
//! batch being written. Each reply's encoded size is known before it is
//! encoded ([`breaks_hard_limit`]): a reply that would take the batch to
//! `hard` bytes or more disconnects the client at once, without its bytes
//! ever being built (a reply larger than the limit is never buffered). A
//! batch of `soft` bytes or more must be written within `soft-seconds`
//! (Redis: over the soft limit for longer than that), or the client is
//! disconnected. Either way the batch is dropped: its memory is freed
//! with the connection. Each disconnection is logged with Redis' text and
//! counted (INFO `client_output_buffer_limit_disconnections`).
//!
//! With Redis' default `normal 0 0 0` no limit applies, and none is
//! needed to bound memory: the connection stops reading while a batch is
//! unwritten, and a batch stops growing at the reply budget (see
//! `pipeline::execute`: 8 MiB, passed by at most the replies of the last
//! group of commands run together), so a client that never reads holds
//! one batch, whatever it sends.

use std::cell::Cell;
use std::time::Duration;

use crate::config::{self, BufferLimit};
use crate::exec::{race, Either};
use crate::protocol::{encoded_len, ProtocolVersion, Reply};
use crate::session::SharedSession;

thread_local! {
    static CACHED: Cell<Option<(u64, BufferLimit)>> = const { Cell::new(None) };
}

/// The `normal` class limit in force now (re-read when the settings
/// changed).
pub fn normal() -> BufferLimit {
    let generation = config::generation();
    CACHED.with(|c| match c.get() {
        Some((g, limit)) if g == generation => limit,
        _ => {
            let limit = config::live(|cfg| {
                cfg.get("client-output-buffer-limit")
                    .and_then(config::buffer_limits)
                    .map(|l| l[0])
                    .unwrap_or_default()
            });
            c.set(Some((generation, limit)));
            limit
        }
    })
}

/// The reply bytes one batch may build: `budget`, or less under a
/// `normal` hard limit (a batch reaching it disconnects the client, so
/// building more would only hold memory longer).
pub fn reply_budget(budget: usize) -> usize {
    match normal().hard {
        0 => budget,
        hard => budget.min(usize::try_from(hard).unwrap_or(usize::MAX)),
    }
}

/// What the limit says of a batch of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write it.
    Write,
    /// Write it within this time, or disconnect.
    WriteWithin(Duration),
    /// Disconnect now.
    Disconnect,
}

/// The decision for a batch of `len` bytes under `limit`.
pub fn verdict(limit: &BufferLimit, len: usize) -> Verdict {
    let len = len as u64;
    if limit.hard > 0 && len >= limit.hard {
        Verdict::Disconnect
    } else if limit.soft > 0 && len >= limit.soft {
        Verdict::WriteWithin(Duration::from_secs(limit.soft_seconds + 1))
    } else {
        Verdict::Write
    }
}

/// Logs (Redis' `closeClientOnOutputBufferLimitReached` text) and counts
/// a client closed over its `class` limit.
pub fn report_disconnection(client_info: &str, class: &str, limit: &str, bytes: usize) {
    super::stats::count_output_limit_disconnection();
    tracing::warn!(
        class,
        limit,
        bytes,
        "Client {client_info} scheduled to be closed ASAP for overcoming of output buffer limits."
    );
}

/// Whether `reply`, encoded after `buffered` bytes of this batch, would
/// reach the `normal` hard limit; if so the disconnection is reported and
/// the reply must not be encoded (the connection closes).
pub fn breaks_hard_limit(
    session: &SharedSession,
    buffered: usize,
    reply: &Reply,
    version: ProtocolVersion,
) -> bool {
    let hard = normal().hard;
    if hard == 0 {
        return false;
    }
    let total = buffered.saturating_add(encoded_len(reply, version));
    if (total as u64) < hard {
        return false;
    }
    report_disconnection(&session.borrow().info_line(), "normal", "hard", total);
    true
}

/// Writes `buf` unless the client breaks the limit (then `None`: the
/// connection must close).
pub async fn write_within_limit(
    stream: &super::stream::ClientStream,
    session: &SharedSession,
    buf: Vec<u8>,
) -> Option<(std::io::Result<()>, Vec<u8>)> {
    match verdict(&normal(), buf.len()) {
        Verdict::Write => Some(stream.write_all(buf).await),
        Verdict::Disconnect => {
            report_disconnection(&session.borrow().info_line(), "normal", "hard", buf.len());
            None
        }
        Verdict::WriteWithin(patience) => {
            let len = buf.len();
            match race(stream.write_all(buf), frys_runtime::time::sleep(patience)).await {
                Either::Left(r) => Some(r),
                Either::Right(()) => {
                    report_disconnection(&session.borrow().info_line(), "normal", "soft", len);
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_judged_by_the_hard_then_the_soft_limit() {
        let limit = BufferLimit {
            hard: 100,
            soft: 50,
            soft_seconds: 2,
        };
        assert_eq!(verdict(&limit, 49), Verdict::Write);
        assert_eq!(
            verdict(&limit, 50),
            Verdict::WriteWithin(Duration::from_secs(3))
        );
        assert_eq!(verdict(&limit, 100), Verdict::Disconnect);
        assert_eq!(verdict(&BufferLimit::default(), 1 << 30), Verdict::Write);
    }
}
