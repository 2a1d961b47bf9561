//! PLUGIN (LOAD, UNLOAD, LIST, RELOAD, HELP) and MODULE LIST, and the
//! rows plugin commands add to COMMAND / COMMAND INFO / COMMAND DOCS.
//!
//! Loading runs at the connection, on its core: compiling a module
//! (cold, not cached) holds that core for the compile time.

use std::path::Path;

use frys_plugins::{registry, Plugin};

use super::body::{arg, help_reply};
use super::spec::{CommandSpec, Doc, KeySpec, Run};
use crate::protocol::{Argv, Reply};
use crate::session::Session;

const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];
const FLAGS: &[&str] = &["admin", "noscript", "no_async_loading"];

const fn doc(summary: &'static str, args: &'static str) -> Doc {
    Doc::of("server", summary, "7.0.0", "O(1)", args)
}

fn plugin_help(_: &mut Session, _: &Argv) -> Reply {
    help_reply(&[
        "PLUGIN <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD <path> [CONFIG <name> <value> ...]",
        "    Load a WASM or native plugin (timeout-ms, memory-limit).",
        "UNLOAD <name>",
        "    Remove a plugin's commands.",
        "RELOAD <name>",
        "    Load a plugin's file again; the new version replaces the old.",
        "LIST",
        "    Return the loaded plugins.",
        "HELP",
        "    Print this help.",
    ])
}

fn plugin_load(_: &mut Session, argv: &Argv) -> Reply {
    let path = String::from_utf8_lossy(arg(argv, 2)).into_owned();
    let rest: Vec<&[u8]> = argv.iter().skip(3).collect();
    let pairs: &[&[u8]] = match rest.split_first() {
        None => &[],
        Some((kw, pairs)) if kw.eq_ignore_ascii_case(b"CONFIG") => pairs,
        Some(_) => return Reply::error(crate::errors::SYNTAX),
    };
    match crate::plugin::load_file(Path::new(&path), pairs, None) {
        Ok(_) => Reply::ok(),
        Err(e) => Reply::Error(e.into()),
    }
}

fn plugin_unload(_: &mut Session, argv: &Argv) -> Reply {
    match registry().remove(&String::from_utf8_lossy(arg(argv, 2))) {
        Ok(_) => Reply::ok(),
        Err(e) => Reply::Error(e.into()),
    }
}

fn plugin_reload(_: &mut Session, argv: &Argv) -> Reply {
    let name = String::from_utf8_lossy(arg(argv, 2)).to_ascii_lowercase();
    let Some(old) = registry().plugin(&name) else {
        return Reply::Error(format!("ERR no plugin named '{name}' is loaded").into());
    };
    if old.kind() != "wasm" {
        return Reply::error(
            "ERR only WASM plugins can be reloaded (native code is never unloaded)",
        );
    }
    let args: Vec<&[u8]> = old.args.iter().map(|a| a.as_bytes()).collect();
    match crate::plugin::load_file(&old.path, &args, Some(&name)) {
        Ok(_) => Reply::ok(),
        Err(e) => Reply::Error(e.into()),
    }
}

fn plugin_list(_: &mut Session, _: &Argv) -> Reply {
    Reply::Array(registry().list().iter().map(|p| list_entry(p)).collect())
}

fn list_entry(p: &Plugin) -> Reply {
    let origin = match p.origin {
        Some(frys_plugins::wasm::cache::Origin::Cached) => "cached",
        Some(frys_plugins::wasm::cache::Origin::Compiled) => "compiled",
        None => "native",
    };
    Reply::Map(vec![
        (Reply::bulk("name"), Reply::bulk(p.info.name.clone())),
        (Reply::bulk("kind"), Reply::bulk(p.kind())),
        (
            Reply::bulk("version"),
            Reply::Integer(i64::from(p.info.version)),
        ),
        (
            Reply::bulk("path"),
            Reply::bulk(p.path.display().to_string()),
        ),
        (
            Reply::bulk("commands"),
            Reply::Array(
                p.info
                    .commands
                    .iter()
                    .map(|c| Reply::bulk(c.name.clone()))
                    .collect(),
            ),
        ),
        (
            Reply::bulk("signed-by"),
            p.signed_by.clone().map_or(Reply::Null, Reply::bulk),
        ),
        (Reply::bulk("code"), Reply::bulk(origin)),
        (
            Reply::bulk("load-us"),
            Reply::Integer(p.load_time.as_micros() as i64),
        ),
    ])
}

fn module_help(_: &mut Session, _: &Argv) -> Reply {
    help_reply(&[
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules (Frys: its plugins; load them with PLUGIN LOAD).",
        "HELP",
        "    Print this help.",
    ])
}

/// Redis' MODULE LIST shape: `name`, `ver`, `path`, `args` per module.
fn module_list(_: &mut Session, _: &Argv) -> Reply {
    Reply::Array(
        registry()
            .list()
            .iter()
            .map(|p| {
                Reply::Map(vec![
                    (Reply::bulk("name"), Reply::bulk(p.info.name.clone())),
                    (
                        Reply::bulk("ver"),
                        Reply::Integer(i64::from(p.info.version)),
                    ),
                    (
                        Reply::bulk("path"),
                        Reply::bulk(p.path.display().to_string()),
                    ),
                    (
                        Reply::bulk("args"),
                        Reply::Array(p.args.iter().map(|a| Reply::bulk(a.clone())).collect()),
                    ),
                ])
            })
            .collect(),
    )
}

/// The COMMAND INFO entry of plugin command `name`, if one exists.
pub fn plugin_command_info(name: &[u8]) -> Option<Reply> {
    let (p, i) = registry().command(name)?;
    let c = p.info.commands.get(i)?;
    Some(Reply::Array(vec![
        Reply::bulk(c.name.clone()),
        Reply::Integer(i64::from(c.arity)),
        Reply::Set(c.flags.iter().map(|f| Reply::simple(f.name())).collect()),
        Reply::Integer(i64::from(c.keys.first)),
        Reply::Integer(i64::from(c.keys.last)),
        Reply::Integer(i64::from(c.keys.step)),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ]))
}

/// The COMMAND DOCS entry of plugin command `name` (Redis' shape for a
/// module command: group `module`, and the `module` it comes from).
pub fn plugin_command_doc(name: &[u8]) -> Option<(Reply, Reply)> {
    let (p, i) = registry().command(name)?;
    let c = p.info.commands.get(i)?;
    let doc = Reply::Map(vec![
        (
            Reply::bulk("summary"),
            Reply::bulk(format!("Command of plugin '{}'.", p.info.name)),
        ),
        (
            Reply::bulk("since"),
            Reply::bulk(p.info.version.to_string()),
        ),
        (Reply::bulk("group"), Reply::bulk("module")),
        (Reply::bulk("complexity"), Reply::bulk("")),
        (Reply::bulk("module"), Reply::bulk(p.info.name.clone())),
    ]);
    Some((Reply::bulk(c.name.clone()), doc))
}

/// Every plugin command's name.
pub fn plugin_command_names() -> Vec<String> {
    registry()
        .list()
        .iter()
        .flat_map(|p| p.info.commands.iter().map(|c| c.name.clone()))
        .collect()
}

const PLUGIN_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "load",
        -3,
        FLAGS,
        ADMIN,
        doc(
            "Loads a WASM or native plugin.",
            "path [CONFIG name value [name value ...]]",
        ),
        Run::Now(plugin_load),
    ),
    CommandSpec::keyless(
        "unload",
        3,
        FLAGS,
        ADMIN,
        doc("Removes a plugin's commands.", "name"),
        Run::Now(plugin_unload),
    ),
    CommandSpec::keyless(
        "reload",
        3,
        FLAGS,
        ADMIN,
        doc(
            "Loads a WASM plugin's file again, replacing the running version between two calls.",
            "name",
        ),
        Run::Now(plugin_reload),
    ),
    CommandSpec::keyless(
        "list",
        2,
        &["admin", "noscript", "loading", "stale"],
        ADMIN,
        doc("Returns the loaded plugins.", ""),
        Run::Now(plugin_list),
    ),
    CommandSpec::keyless(
        "help",
        2,
        &["loading", "stale"],
        &["@slow"],
        doc("Returns helpful text about the different subcommands.", ""),
        Run::Now(plugin_help),
    ),
];

const MODULE_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "list",
        2,
        &["admin", "noscript"],
        ADMIN,
        Doc::of(
            "server",
            "Returns all loaded modules.",
            "4.0.0",
            "O(N) where N is the number of loaded modules.",
            "",
        ),
        Run::Now(module_list),
    ),
    CommandSpec::keyless(
        "help",
        2,
        &["loading", "stale"],
        &["@slow"],
        Doc::of(
            "server",
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
            "",
        ),
        Run::Now(module_help),
    ),
];

/// The PLUGIN and MODULE rows.
#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "plugin",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: &["@slow"],
        doc: doc("A container for plugin commands.", ""),
        run: Run::Now(plugin_help),
        subcommands: PLUGIN_SUBCOMMANDS,
        key_finder: None,
    },
    CommandSpec {
        name: "module",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: &["@slow"],
        doc: Doc::of("server", "A container for module commands.", "4.0.0", "Depends on subcommand.", ""),
        run: Run::Now(module_help),
        subcommands: MODULE_SUBCOMMANDS,
        key_finder: None,
    },
];
