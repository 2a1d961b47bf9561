//! The command table and the command families.
//!
//! Each family file ends with a `pub const SPECS: &[CommandSpec]`; they are
//! joined here, explicitly, into one table. Lookup is case-insensitive and
//! allocation-free.

mod acl;
mod args;
mod blocking;
mod body;
mod cluster;
mod coll;
mod connection;
mod cross_core;
mod docs;
mod glob;
mod global;
mod hash;
mod key_hops;
mod keys;
mod list;
mod list_blocking;
mod list_move;
mod plugin;
mod pubsub;
mod server;
mod set;
mod set_ops;
mod spec;
mod string;
mod transactions;
mod zset;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use crate::protocol::parse_i64;
pub use args::parse_f64;
pub use connection::REDIS_VERSION;
pub use glob::glob_match;
/// Serve the clients blocked on a key after a write made it a non-empty
/// list / sorted set (plugin calls write collections outside the families).
pub(crate) use list_blocking::serve_waiters as serve_list_waiters;
pub use plugin::{plugin_command_doc, plugin_command_info, plugin_command_names};
pub use spec::{
    command_keys, dest_plus_numkeys_keys, numkeys_keys, BarrierCtx, BarrierFn, CommandSpec, Doc,
    KeyCtx, KeyFinder, KeyFn, KeySpec, Merge, Run,
};
pub(crate) use zset::serve_waiters as serve_zset_waiters;

/// Every family's commands.
pub const FAMILIES: &[&[CommandSpec]] = &[
    string::SPECS,
    keys::SPECS,
    hash::SPECS,
    list::SPECS,
    list_move::SPECS,
    list_blocking::SPECS,
    set::SPECS,
    set_ops::SPECS,
    zset::SPECS,
    connection::SPECS,
    server::SPECS,
    pubsub::SPECS,
    transactions::SPECS,
    plugin::SPECS,
    acl::SPECS,
    cluster::SPECS,
];

/// Longest command name looked up (longer names are unknown).
const MAX_NAME: usize = 32;

type Index = HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::RandomState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        FAMILIES
            .iter()
            .flat_map(|f| f.iter())
            .map(|spec| (spec.name.as_bytes(), spec))
            .collect()
    })
}

/// The command named `name` (any case).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let lower = lowercase(name)?;
    index().get(&lower.1[..lower.0]).copied()
}

/// The subcommand `name` (any case) of `parent`.
pub fn lookup_sub(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    let (len, buf) = lowercase(name)?;
    parent
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes() == &buf[..len])
}

fn lowercase(name: &[u8]) -> Option<(usize, [u8; MAX_NAME])> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some((name.len(), buf))
}

/// Every top-level command, in table order.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// Whether `argc` arguments (name included) satisfy `spec`'s arity. Keys
/// repeated in groups to the end (MSET's key value pairs) must come in
/// whole groups, as Redis' MSET checks.
pub fn arity_ok(spec: &CommandSpec, argc: usize) -> bool {
    let keys = spec.keys;
    if keys.last == -1 && keys.step > 1 && keys.first > 0 {
        let rest = argc as i64 - i64::from(keys.first);
        if rest % i64::from(keys.step) != 0 {
            return false;
        }
    }
    let argc = argc as i64;
    let arity = i64::from(spec.arity);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command whose keys a `numkeys` argument counts must say where
    /// they are: EXEC locks exactly what `command_keys` finds.
    #[test]
    fn commands_with_movable_keys_find_them() {
        for spec in all() {
            if spec.flags.contains(&"movablekeys") {
                assert!(spec.key_finder.is_some(), "{} has no key finder", spec.name);
            }
        }
        let keys = |line: &str| {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let argv = crate::protocol::Argv::from_args(&args);
            let spec = lookup(args[0]).unwrap();
            command_keys(spec, &argv)
        };
        assert_eq!(keys("lmpop 2 a b LEFT"), vec![2, 3]);
        assert_eq!(keys("blmpop 0 2 a b LEFT COUNT 2"), vec![3, 4]);
        assert_eq!(keys("zmpop 1 a MIN"), vec![2]);
        assert_eq!(keys("zunionstore d 2 a b WEIGHTS 1 2"), vec![1, 3, 4]);
        assert_eq!(keys("zinter 2 a b"), vec![2, 3]);
        assert_eq!(keys("zintercard 1 a LIMIT 3"), vec![2]);
        assert_eq!(keys("sintercard 2 a b"), vec![2, 3]);
        assert_eq!(keys("zrangestore d s 0 -1"), vec![1, 2]);
        assert_eq!(keys("lmove a b LEFT RIGHT"), vec![1, 2]);
        assert_eq!(keys("smove a b m"), vec![1, 2]);
    }

    #[test]
    fn names_are_unique_lower_case_and_found_in_any_case() {
        let mut seen = std::collections::HashSet::new();
        for spec in all() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(seen.insert(spec.name), "duplicate {}", spec.name);
            let upper = spec.name.to_ascii_uppercase();
            // By name: a `const` table may be instantiated at more than one
            // address, so pointer equality is not reliable.
            assert_eq!(lookup(upper.as_bytes()).unwrap().name, spec.name);
            for sub in spec.subcommands {
                let upper = sub.name.to_ascii_uppercase();
                assert_eq!(lookup_sub(spec, upper.as_bytes()).unwrap().name, sub.name);
            }
        }
        assert!(lookup(b"no-such-command").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn key_specs_agree_with_run_kinds() {
        for spec in all() {
            match spec.run {
                Run::Key(_) => assert_eq!(spec.keys, KeySpec::FIRST, "{}", spec.name),
                Run::Fanout { .. } => assert!(spec.keys.last == -1, "{}", spec.name),
                _ => {}
            }
        }
    }
}
