//! Pub/sub commands: (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE run at the
//! connection on its session; PUBLISH, SPUBLISH and PUBSUB NUMSUB /
//! SHARDNUMSUB are barriers that visit the cores with subscribers; PUBSUB
//! CHANNELS / SHARDCHANNELS / NUMPAT answer from this core's routes. See
//! [`crate::pubsub`] for how messages cross cores.

use super::body::{arg, help_reply};
use super::spec::{BarrierCtx, CommandSpec, Doc, KeySpec, Run};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::pubsub::{self, Kind, Message};
use crate::session::Session;

fn names(argv: &Argv) -> impl Iterator<Item = &[u8]> {
    argv.iter().skip(1)
}

/// The names after the command, or `None` for "all of them".
fn names_or_all(argv: &Argv) -> Option<Vec<Vec<u8>>> {
    (argv.len() > 1).then(|| names(argv).map(<[u8]>::to_vec).collect())
}

fn subscribe(s: &mut Session, argv: &Argv) -> Reply {
    pubsub::subscribe(s, Kind::Channel, names(argv))
}

fn psubscribe(s: &mut Session, argv: &Argv) -> Reply {
    pubsub::subscribe(s, Kind::Pattern, names(argv))
}

fn ssubscribe(s: &mut Session, argv: &Argv) -> Reply {
    pubsub::subscribe(s, Kind::Shard, names(argv))
}

fn unsubscribe(s: &mut Session, argv: &Argv) -> Reply {
    pubsub::unsubscribe(s, Kind::Channel, names_or_all(argv))
}

fn punsubscribe(s: &mut Session, argv: &Argv) -> Reply {
    pubsub::unsubscribe(s, Kind::Pattern, names_or_all(argv))
}

fn sunsubscribe(s: &mut Session, argv: &Argv) -> Reply {
    pubsub::unsubscribe(s, Kind::Shard, names_or_all(argv))
}

fn publish_to(argv: Argv, shard: bool) -> LocalBoxFuture<Reply> {
    let message = Message {
        channel: arg(&argv, 1).to_vec(),
        payload: arg(&argv, 2).to_vec(),
    };
    Box::pin(async move { Reply::Integer(pubsub::publish(message, shard).await) })
}

fn publish(_: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    publish_to(argv, false)
}

fn spublish(_: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    publish_to(argv, true)
}

/// PUBSUB CHANNELS / SHARDCHANNELS `[pattern]`.
fn channels_of(kind: Kind, argv: &Argv) -> Reply {
    if argv.len() > 3 {
        return Reply::error(errors::subcommand_syntax(arg(argv, 0), arg(argv, 1)));
    }
    let pattern = argv.get(2);
    Reply::Array(
        pubsub::active(kind, pattern)
            .into_iter()
            .map(Reply::Bulk)
            .collect(),
    )
}

fn pubsub_channels(_: &mut Session, argv: &Argv) -> Reply {
    channels_of(Kind::Channel, argv)
}

fn pubsub_shardchannels(_: &mut Session, argv: &Argv) -> Reply {
    channels_of(Kind::Shard, argv)
}

fn pubsub_numpat(_: &mut Session, _: &Argv) -> Reply {
    Reply::Integer(pubsub::active_count(Kind::Pattern) as i64)
}

/// PUBSUB NUMSUB / SHARDNUMSUB `[name ...]`: a flat array of name, count.
fn numsub_of(kind: Kind, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let names: Vec<Vec<u8>> = argv.iter().skip(2).map(<[u8]>::to_vec).collect();
        let counts = pubsub::numsub(kind, names.clone()).await;
        let mut out = Vec::with_capacity(names.len() * 2);
        for (name, n) in names.into_iter().zip(counts) {
            out.push(Reply::Bulk(name));
            out.push(Reply::Integer(n as i64));
        }
        Reply::Array(out)
    })
}

fn pubsub_numsub(_: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    numsub_of(Kind::Channel, argv)
}

fn pubsub_shardnumsub(_: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    numsub_of(Kind::Shard, argv)
}

fn pubsub_help(_: &mut Session, _: &Argv) -> Reply {
    help_reply(&[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Print this help.",
    ])
}

/// Documentation of a command of this family.
const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("pubsub", summary, since, complexity, args)
}

const SUBSCRIBER: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const PUBLISHER: &[&str] = &["pubsub", "loading", "stale", "fast", "may_replicate"];
const INTROSPECTION: &[&str] = &["pubsub", "loading", "stale"];
const SLOW: &[&str] = &["@pubsub", "@slow"];
const FAST: &[&str] = &["@pubsub", "@fast"];

/// Shard channels are keys in Redis' legacy key specification (for
/// cluster routing), though not keys of the keyspace.
const SHARD_CHANNEL: KeySpec = KeySpec::FIRST;

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "channels",
        -2,
        INTROSPECTION,
        SLOW,
        doc(
            "Returns the active channels.",
            "2.8.0",
            "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
            "[pattern]",
        ),
        Run::Now(pubsub_channels),
    ),
    CommandSpec::keyless(
        "numsub",
        -2,
        INTROSPECTION,
        SLOW,
        doc(
            "Returns a count of subscribers to channels.",
            "2.8.0",
            "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
            "[channel [channel ...]]",
        ),
        Run::Barrier(pubsub_numsub),
    ),
    CommandSpec::keyless(
        "numpat",
        2,
        INTROSPECTION,
        SLOW,
        doc(
            "Returns a count of unique pattern subscriptions.",
            "2.8.0",
            "O(1)",
            "",
        ),
        Run::Now(pubsub_numpat),
    ),
    CommandSpec::keyless(
        "shardchannels",
        -2,
        INTROSPECTION,
        SLOW,
        doc(
            "Returns the active shard channels.",
            "7.0.0",
            "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
            "[pattern]",
        ),
        Run::Now(pubsub_shardchannels),
    ),
    CommandSpec::keyless(
        "shardnumsub",
        -2,
        INTROSPECTION,
        SLOW,
        doc(
            "Returns the count of subscribers of shard channels.",
            "7.0.0",
            "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
            "[shardchannel [shardchannel ...]]",
        ),
        Run::Barrier(pubsub_shardnumsub),
    ),
    CommandSpec::keyless(
        "help",
        2,
        &["loading", "stale"],
        &["@slow"],
        doc(
            "Returns helpful text about the different subcommands.",
            "6.2.0",
            "O(1)",
            "",
        ),
        Run::Now(pubsub_help),
    ),
];

/// The pub/sub family.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "subscribe",
        -2,
        SUBSCRIBER,
        SLOW,
        doc(
            "Listens for messages published to channels.",
            "2.0.0",
            "O(N) where N is the number of channels to subscribe to.",
            "channel [channel ...]",
        ),
        Run::Now(subscribe),
    ),
    CommandSpec::keyless(
        "unsubscribe",
        -1,
        SUBSCRIBER,
        SLOW,
        doc(
            "Stops listening to messages posted to channels.",
            "2.0.0",
            "O(N) where N is the number of channels to unsubscribe.",
            "[channel [channel ...]]",
        ),
        Run::Now(unsubscribe),
    ),
    CommandSpec::keyless(
        "psubscribe",
        -2,
        SUBSCRIBER,
        SLOW,
        doc(
            "Listens for messages published to channels that match one or more patterns.",
            "2.0.0",
            "O(N) where N is the number of patterns to subscribe to.",
            "pattern [pattern ...]",
        ),
        Run::Now(psubscribe),
    ),
    CommandSpec::keyless(
        "punsubscribe",
        -1,
        SUBSCRIBER,
        SLOW,
        doc(
            "Stops listening to messages published to channels that match one or more patterns.",
            "2.0.0",
            "O(N) where N is the number of patterns to unsubscribe.",
            "[pattern [pattern ...]]",
        ),
        Run::Now(punsubscribe),
    ),
    CommandSpec::keyless(
        "publish",
        3,
        PUBLISHER,
        FAST,
        doc(
            "Posts a message to a channel.",
            "2.0.0",
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
            "channel message",
        ),
        Run::Barrier(publish),
    ),
    CommandSpec::leaf(
        "ssubscribe",
        -2,
        SUBSCRIBER,
        KeySpec::ALL,
        SLOW,
        doc(
            "Listens for messages published to shard channels.",
            "7.0.0",
            "O(N) where N is the number of shard channels to subscribe to.",
            "shardchannel [shardchannel ...]",
        ),
        Run::Now(ssubscribe),
    ),
    CommandSpec::leaf(
        "sunsubscribe",
        -1,
        SUBSCRIBER,
        KeySpec::ALL,
        SLOW,
        doc(
            "Stops listening to messages posted to shard channels.",
            "7.0.0",
            "O(N) where N is the number of shard channels to unsubscribe.",
            "[shardchannel [shardchannel ...]]",
        ),
        Run::Now(sunsubscribe),
    ),
    CommandSpec::leaf(
        "spublish",
        3,
        PUBLISHER,
        SHARD_CHANNEL,
        FAST,
        doc(
            "Post a message to a shard channel",
            "7.0.0",
            "O(N) where N is the number of clients subscribed to the receiving shard channel.",
            "shardchannel message",
        ),
        Run::Barrier(spublish),
    ),
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: &["@slow"],
        doc: doc(
            "A container for Pub/Sub commands.",
            "2.8.0",
            "Depends on subcommand.",
            "",
        ),
        run: Run::Now(pubsub_help),
        subcommands: PUBSUB_SUBCOMMANDS,
        key_finder: None,
    },
];
