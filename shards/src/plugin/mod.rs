//! Plugin commands: frys-plugins adapted to the command pipeline.
//!
//! Built-in commands are a static table (`command::lookup`); plugin
//! commands live in frys-plugins' process-wide registry, consulted only
//! when the built-in table has no such name ([`lookup`]). The dispatcher
//! checks a plugin command's arity from its declaration, finds its keys
//! from its key range, and queues it for the core owning them
//! ([`route`]), like a built-in `Run::Key` command: the plugin's code
//! runs there ([`call::run`]) and sees only local, locked keys. Keys on
//! several cores are refused with `-CROSSSLOT` before any plugin code
//! runs; plugin commands are refused inside MULTI.

mod apply;
pub mod call;
mod load;
pub mod metrics;
pub(crate) mod snapshot;

use std::sync::Arc;

use frys_plugins::{registry, CommandDesc, Plugin};

use crate::keyspace::{key_slot, PartitionMap};
use crate::protocol::Argv;

pub use load::{load_configured, load_file, options};

/// Redis' text for keys that do not live together.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// The plugin command `name` (any case), if a plugin declares it.
pub fn lookup(name: &[u8]) -> Option<(Arc<Plugin>, usize)> {
    registry().command(name)
}

/// The declaration of command `cmd` of `plugin`.
pub fn desc(plugin: &Plugin, cmd: usize) -> Option<&CommandDesc> {
    plugin.info.commands.get(cmd)
}

/// The core that must run `argv` for `desc`: the owner of its keys' slot,
/// or `here` for a command without keys; `Err(CROSSSLOT)` when its keys
/// are in several hash slots (as Redis Cluster answers, and whatever the
/// core count: use a `{hash tag}` to keep a call's keys together).
pub fn route(
    desc: &CommandDesc,
    argv: &Argv,
    map: PartitionMap,
    here: usize,
) -> Result<usize, &'static str> {
    let mut slot = None;
    for i in desc.keys.positions(argv.len()) {
        let s = key_slot(argv.get(i).unwrap_or_default());
        match slot {
            None => slot = Some(s),
            Some(o) if o != s => return Err(CROSSSLOT),
            Some(_) => {}
        }
    }
    Ok(slot.map_or(here, |s| map.core_of_slot(s)))
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
