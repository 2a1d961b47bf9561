//! Pub/sub across cores: who is subscribed where, how a published message
//! reaches every subscriber, and how a subscriber's pending output stays
//! bounded.
//!
//! # Pieces
//!
//! - [`Subscriptions`] (in each [`Session`](crate::session::Session)): the
//!   client's channels, patterns and shard channels, and its [`Mailbox`].
//! - `registry`: per core, which of *its* clients listen to each name
//!   (channel, pattern or shard channel). Only this core touches it.
//! - `routes`: per core, a replica of *which cores* have at least one
//!   subscriber of each name. A core changes its own entry synchronously
//!   and tells every other core over the mesh when a name gains its first
//!   or loses its last subscriber on it (one message per core per command).
//! - [`Mailbox`]: a subscriber's encoded, not yet written output, with the
//!   `client-output-buffer-limit pubsub` check.
//!
//! # How a message travels
//!
//! PUBLISH runs at the publisher's connection (a barrier command): it asks
//! its core's routes which cores have a subscriber of the channel or of a
//! pattern matching it. None (the common case of a channel nobody
//! listens to): it answers 0 without sending anything. Otherwise the
//! message (one `Arc` for all cores) is delivered on the publisher's core
//! directly and sent to each other target core with `spawn_on`; there the
//! registry encodes it once per protocol version and appends it to each
//! subscriber's mailbox, waking the subscriber's connection, and answers
//! how many clients it reached. PUBLISH sums the answers, so its reply
//! counts receivers on every core (channel subscribers plus pattern
//! matches, as Redis).
//!
//! # Ordering
//!
//! Per publisher, messages arrive in publish order: a connection runs its
//! barrier commands one after the other, and a PUBLISH completes only
//! once every target core has appended the message to its subscribers'
//! mailboxes; a mailbox is written out in append order.
//!
//! A subscription is visible everywhere before its client learns of it:
//! the confirmation of a SUBSCRIBE that made a name new on its core is
//! written only once every other core has applied the route (the
//! announcement's [`Event`](crate::exec::Event)); a client joining a name
//! whose announcement is still on its way waits for the same event. So a
//! PUBLISH issued after a subscriber saw its confirmation, from any core,
//! reaches it. UNSUBSCRIBE (and RESET) likewise wait until the removal
//! is applied everywhere, so PUBSUB CHANNELS / NUMPAT and INFO can answer
//! from the local routes. Route updates from one core travel on one mesh ring and
//! are applied in the order sent, so a name's entry on every core ends as
//! its owner last said. A route that is stale for a moment only makes a
//! PUBLISH ask a core that then finds nobody (it answers 0), never misses
//! a subscriber whose confirmation was written.
//!
//! # Bounded memory
//!
//! A mailbox counts its bytes plus those its connection is writing; when
//! an append takes it to the hard limit, or over the soft limit for
//! longer than the soft seconds, the mailbox drops its bytes, refuses
//! more, and shuts the socket down: the connection ends (its blocked write
//! fails or is abandoned) and leaves every subscription. A client that
//! does not read therefore costs at most the limit. Its command replies
//! are held to the same `pubsub` limit by the connection, with the bytes
//! waiting here counted (see `server::output_limit`).

pub(crate) mod limit;
mod mailbox;
mod registry;
mod routes;
mod subscriptions;

use std::sync::Arc;

pub use mailbox::Mailbox;
pub use subscriptions::{leave_all, subscribe, unsubscribe, Subscriptions};

use crate::exec::join_all;

/// The three namespaces of subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE: glob patterns over channels.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH: shard channels (no patterns apply).
    Shard,
}

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::Channel => 0,
            Kind::Pattern => 1,
            Kind::Shard => 2,
        }
    }
}

/// A published message, shared by every core it is delivered on.
#[derive(Debug)]
pub struct Message {
    /// The channel (or shard channel).
    pub channel: Vec<u8>,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Commands a RESP2 client may run while it is subscribed (Redis'
/// `processCommand`); RESP3 clients may run any.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Delivers `message` to every subscriber on every core (PUBLISH, or
/// SPUBLISH with `shard`) and returns how many clients received it.
pub async fn publish(message: Message, shard: bool) -> i64 {
    let targets = routes::targets(&message.channel, shard);
    if targets.is_empty() {
        return 0;
    }
    let here = frys_runtime::current_core().unwrap_or(0);
    let message = Arc::new(message);
    let mut receivers = 0;
    let mut remote = Vec::new();
    for core in targets {
        if core == here {
            receivers += registry::deliver(&message, shard);
        } else {
            let m = message.clone();
            remote.push(frys_runtime::spawn_on(core, move || {
                std::future::ready(registry::deliver(&m, shard))
            }));
        }
    }
    for n in join_all(remote).await.into_iter().flatten() {
        receivers += n;
    }
    i64::try_from(receivers).unwrap_or(i64::MAX)
}

/// Subscribers of each of `names` over all cores (PUBSUB NUMSUB /
/// SHARDNUMSUB: pattern subscriptions are not counted).
pub async fn numsub(kind: Kind, names: Vec<Vec<u8>>) -> Vec<usize> {
    let here = frys_runtime::current_core().unwrap_or(0);
    let mut totals = vec![0; names.len()];
    let names = Arc::new(names);
    let mut remote = Vec::new();
    for core in routes::cores_of(kind, &names) {
        if core == here {
            add_counts(&mut totals, registry::counts(kind, &names));
        } else {
            let n = names.clone();
            remote.push(frys_runtime::spawn_on(core, move || {
                std::future::ready(registry::counts(kind, &n))
            }));
        }
    }
    for counts in join_all(remote).await.into_iter().flatten() {
        add_counts(&mut totals, counts);
    }
    totals
}

fn add_counts(totals: &mut [usize], counts: Vec<usize>) {
    for (t, c) in totals.iter_mut().zip(counts) {
        *t += c;
    }
}

/// Names of `kind` with a subscriber anywhere, matching `pattern` if
/// given, sorted (PUBSUB CHANNELS / SHARDCHANNELS).
pub fn active(kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
    routes::names(kind, pattern)
}

/// How many names of `kind` have a subscriber anywhere (PUBSUB NUMPAT,
/// INFO's `pubsub_channels`, `pubsub_patterns`, `pubsubshard_channels`).
pub fn active_count(kind: Kind) -> usize {
    routes::count(kind)
}
