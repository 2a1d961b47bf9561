//! `client-output-buffer-limit` for client connections: the `normal`
//! class, and the `pubsub` class for a client subscribed at that moment
//! ([`Class::of`], Redis' `getClientType`: `CLIENT_PUBSUB` is set while
//! the client has a subscription, in RESP2 and RESP3 alike, and cleared
//! when the last one goes). The class is decided per reply, from whether
//! the client was subscribed when its command ran, and again for each
//! batch written; a subscriber's pub/sub frames are also checked as they
//! arrive, by its mailbox (`crate::pubsub::limit`).
//!
//! A connection holds at most one batch of replies (it reads no more
//! requests until they are written), so a client's output buffer is the
//! batch being written plus the frames waiting in its mailbox. Each
//! reply's encoded size is known before it is encoded
//! ([`breaks_hard_limit`]): a reply that would take the output to `hard`
//! bytes or more disconnects the client at once, without its bytes ever
//! being built (a reply larger than the limit is never buffered). A
//! batch of `soft` bytes or more must be written within `soft-seconds`
//! (Redis: over the soft limit for longer than that), or the client is
//! disconnected. Either way the batch is dropped: its memory is freed
//! with the connection. Each disconnection is logged with Redis' text
//! (`scheduled to be closed ASAP` when found as output is added, `closed`
//! when found later, as Redis' `clientsCron` finds a soft limit held too
//! long) and counted (INFO `client_output_buffer_limit_disconnections`).
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

/// A client's output limit class (Redis' `getClientType` for clients
/// that are neither replicas nor masters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `normal`.
    Normal,
    /// `pubsub`: the client is subscribed to something.
    Pubsub,
}

impl Class {
    /// The class of a client that is (or is not) subscribed.
    pub fn of(subscribed: bool) -> Class {
        if subscribed {
            Class::Pubsub
        } else {
            Class::Normal
        }
    }

    /// The limit in force now.
    pub fn limit(self) -> BufferLimit {
        match self {
            Class::Normal => normal(),
            Class::Pubsub => crate::pubsub::limit::current(),
        }
    }

    /// Its name in `client-output-buffer-limit`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Normal => "normal",
            Class::Pubsub => "pubsub",
        }
    }
}

/// When a disconnection was decided, which picks Redis' log text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// As output was added (Redis' `closeClientOnOutputBufferLimitReached(c, 1)`).
    AddingOutput,
    /// Later, as the output waited (Redis' `clientsCron`, async = 0).
    Waiting,
}

/// The reply bytes one batch of a client of `class` may build: `budget`,
/// or less under the class' hard limit (a batch reaching it disconnects
/// the client, so building more would only hold memory longer).
pub fn reply_budget(class: Class, budget: usize) -> usize {
    match class.limit().hard {
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

/// Redis' `closeClientOnOutputBufferLimitReached` log line for a client
/// described by `client_info` (its CLIENT LIST line, `omem` counting the
/// output that broke the limit), closed over its `class` limit.
pub fn disconnection_text(client_info: &str, found: Found) -> String {
    match found {
        Found::AddingOutput => format!(
            "Client {client_info} scheduled to be closed ASAP for overcoming of output buffer limits."
        ),
        Found::Waiting => {
            format!("Client {client_info} closed for overcoming of output buffer limits.")
        }
    }
}

/// Logs ([`disconnection_text`]) and counts a client closed over its
/// `class` limit (`limit`: `hard` or `soft`) with `bytes` of output.
pub fn report_disconnection(
    client_info: &str,
    class: &str,
    limit: &str,
    bytes: usize,
    found: Found,
) {
    super::stats::count_output_limit_disconnection();
    let text = disconnection_text(client_info, found);
    tracing::warn!(class, limit, bytes, "{text}");
}

/// The client's CLIENT LIST line with `omem` showing `bytes` of output
/// (the output that broke the limit, as Redis shows it).
fn info_with_output(session: &SharedSession, bytes: usize) -> String {
    session.borrow().info_line_showing(bytes)
}

/// Whether `reply`, encoded after `buffered` bytes of output (the batch
/// so far and the frames waiting in the mailbox), would reach the hard
/// limit of `class`; if so the disconnection is reported and the reply
/// must not be encoded (the connection closes).
pub fn breaks_hard_limit(
    session: &SharedSession,
    class: Class,
    buffered: usize,
    reply: &Reply,
    version: ProtocolVersion,
) -> bool {
    let hard = class.limit().hard;
    if hard == 0 {
        return false;
    }
    let total = buffered.saturating_add(encoded_len(reply, version));
    if (total as u64) < hard {
        return false;
    }
    let info = info_with_output(session, total);
    report_disconnection(&info, class.name(), "hard", total, Found::AddingOutput);
    true
}

/// Writes `buf` unless the client breaks the limit of `class` with it
/// and the `pending` bytes waiting behind it (then `None`: the
/// connection must close).
pub async fn write_within_limit(
    stream: &super::stream::ClientStream,
    session: &SharedSession,
    class: Class,
    pending: usize,
    buf: Vec<u8>,
) -> Option<(std::io::Result<()>, Vec<u8>)> {
    let len = buf.len().saturating_add(pending);
    match verdict(&class.limit(), len) {
        Verdict::Write => Some(stream.write_all(buf).await),
        Verdict::Disconnect => {
            let info = info_with_output(session, len);
            report_disconnection(&info, class.name(), "hard", len, Found::AddingOutput);
            None
        }
        Verdict::WriteWithin(patience) => {
            match race(stream.write_all(buf), frys_runtime::time::sleep(patience)).await {
                Either::Left(r) => Some(r),
                Either::Right(()) => {
                    let info = session.borrow().info_line();
                    report_disconnection(&info, class.name(), "soft", len, Found::Waiting);
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
