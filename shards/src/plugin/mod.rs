//! Plugin commands: frys-plugins adapted to the command pipeline.
//!
//! Built-in commands are a static table (`command::lookup`); plugin
//! commands live in frys-plugins' process-wide registry, consulted only
//! when the built-in table has no such name ([`lookup`]). The dispatcher
//! checks a plugin command's arity from its declaration, finds its keys
//! from its key range, and queues it for the core owning them
//! ([`route`]), like a built-in `Run::Key` command: the plugin's code
//! runs there ([`call::run`]) and sees only local, locked keys. A call
//! whose keys are on several cores runs at the connection as a barrier,
//! through the transaction layer ([`cross::run`]): its keys are locked
//! and read on their cores, the plugin runs once against that snapshot,
//! and its writes go back to their cores with every key still locked.
//! Keys of several hash slots are refused with `-CROSSSLOT` in cluster
//! mode only (by the cluster gate, as Redis Cluster does); plugin
//! commands are refused inside MULTI.

mod apply;
pub mod call;
pub mod cross;
mod load;
pub mod metrics;
pub(crate) mod snapshot;

use std::sync::Arc;

use frys_plugins::{registry, CommandDesc, Plugin};

use crate::keyspace::{key_slot, PartitionMap};
use crate::protocol::Argv;

pub use load::{load_configured, load_file, options};

/// The plugin command `name` (any case), if a plugin declares it.
pub fn lookup(name: &[u8]) -> Option<(Arc<Plugin>, usize)> {
    registry().command(name)
}

/// The declaration of command `cmd` of `plugin`.
pub fn desc(plugin: &Plugin, cmd: usize) -> Option<&CommandDesc> {
    plugin.info.commands.get(cmd)
}

/// The core that must run `argv` for `desc`: the owner of its keys, or
/// `here` for a command without keys; `None` when its keys are on several
/// cores (the call then goes through [`cross::run`]).
pub fn route(desc: &CommandDesc, argv: &Argv, map: PartitionMap, here: usize) -> Option<usize> {
    let mut core = None;
    for i in desc.keys.positions(argv.len()) {
        let c = map.core_of_slot(key_slot(argv.get(i).unwrap_or_default()));
        if *core.get_or_insert(c) != c {
            return None;
        }
    }
    Some(core.unwrap_or(here))
}

/// A plugin reply as a protocol reply.
pub fn to_reply(reply: frys_plugins::Reply) -> crate::protocol::Reply {
    use crate::protocol::Reply as R;
    use frys_plugins::Reply as P;
    match reply {
        P::Simple(s) => R::Simple(s.into()),
        P::Error(e) => R::Error(e.into()),
        P::Integer(n) => R::Integer(n),
        P::Bulk(b) => R::Bulk(b),
        P::Null => R::Null,
        P::Array(items) => R::Array(items.into_iter().map(to_reply).collect()),
        P::Map(pairs) => R::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (to_reply(k), to_reply(v)))
                .collect(),
        ),
    }
}
