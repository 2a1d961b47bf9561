//! Server commands: INFO, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, CONFIG,
//! COMMAND, TIME, SAVE, BGSAVE, LASTSAVE, SHUTDOWN, DEBUG, FUNCTION.

use super::body::{arg, help_reply};
use super::glob::glob_match;
use super::global;
use super::spec::{BarrierCtx, CommandSpec, Doc, KeySpec, Run};
use crate::config;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::server;
use crate::session::Session;

fn info(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let sections: Vec<String> = argv
            .iter()
            .skip(1)
            .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
            .collect();
        let text = server::info::render(&sections, ctx.db).await;
        if ctx.resp >= 3 {
            Reply::verbatim_text(text)
        } else {
            Reply::bulk(text)
        }
    })
}

fn config_get(_: &mut Session, argv: &Argv) -> Reply {
    let patterns: Vec<Vec<u8>> = argv
        .iter()
        .skip(2)
        .map(|p| p.to_ascii_lowercase())
        .collect();
    let pairs: Vec<(Reply, Reply)> = config::live(|c| {
        c.iter()
            .filter(|(name, _)| patterns.iter().any(|p| glob_match(p, name.as_bytes())))
            .map(|(name, value)| (Reply::bulk(name), Reply::bulk(value)))
            .collect()
    });
    Reply::Map(pairs)
}

fn config_set(_: &mut Session, argv: &Argv) -> Reply {
    if !argv.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_number_of_arguments("config|set"));
    }
    let pairs: Vec<(String, String)> = (2..argv.len())
        .step_by(2)
        .map(|i| {
            (
                String::from_utf8_lossy(arg(argv, i)).to_ascii_lowercase(),
                String::from_utf8_lossy(arg(argv, i + 1)).into_owned(),
            )
        })
        .collect();
    // All or nothing: validate on a copy, then install it.
    let mut next = config::live(|c| c.clone());
    for (i, (name, value)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Reply::error(errors::config_set_failed(
                name.as_bytes(),
                errors::CONFIG_REASON_DUPLICATE,
            ));
        }
        if config::find(name).is_none() {
            return Reply::error(errors::config_set_unknown(name.as_bytes()));
        }
        if let Err(reason) = next.set(name, value) {
            return Reply::error(errors::config_set_failed(name.as_bytes(), &reason));
        }
    }
    if let Err(name) = server::tls::on_config_set(pairs.iter().map(|(n, _)| n.as_str()), &next) {
        return Reply::error(errors::config_set_failed(
            name.as_bytes(),
            server::tls::CONFIG_SET_FAILED,
        ));
    }
    config::update_live(|c| *c = next);
    Reply::ok()
}

fn config_resetstat(_: BarrierCtx, _: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        server::reset_stats().await;
        Reply::ok()
    })
}

fn config_rewrite(_: &mut Session, _: &Argv) -> Reply {
    Reply::error(errors::CONFIG_NO_FILE)
}

fn time(_: &mut Session, _: &Argv) -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string()),
        Reply::bulk(now.subsec_micros().to_string()),
    ])
}

fn save(_: BarrierCtx, _: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        match server::save_all().await {
            Ok(()) => Reply::ok(),
            // As Redis' saveCommand: the cause goes to the log, the client
            // gets a bare `-ERR` (`shared.err`).
            Err(e) => {
                tracing::error!(error = %e, "SAVE failed");
                Reply::error("ERR")
            }
        }
    })
}

fn bgsave(_: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        if argv.len() > 2 || (argv.len() == 2 && !arg(&argv, 1).eq_ignore_ascii_case(b"SCHEDULE")) {
            return Reply::error(errors::SYNTAX);
        }
        match server::backup::start() {
            Ok(()) => Reply::simple("Background saving started"),
            Err(e) => Reply::error(e),
        }
    })
}

fn lastsave(_: &mut Session, _: &Argv) -> Reply {
    Reply::Integer(server::last_save() as i64)
}

fn shutdown(session: &mut Session, argv: &Argv) -> Reply {
    for opt in argv.iter().skip(1) {
        match opt.to_ascii_uppercase().as_slice() {
            b"NOSAVE" | b"SAVE" | b"NOW" | b"FORCE" => {}
            b"ABORT" => return Reply::error(errors::NO_SHUTDOWN_IN_PROGRESS),
            _ => return Reply::error(errors::SYNTAX),
        }
    }
    // Every partition is synced on the way out either way: the WAL is the
    // persistence, so NOSAVE cannot skip it.
    server::request_shutdown("SHUTDOWN command");
    // Redis answers a successful SHUTDOWN by closing the connection.
    session.closing = true;
    session.close_without_reply = true;
    Reply::ok()
}

fn debug(_: &mut Session, _: &Argv) -> Reply {
    Reply::error(errors::DEBUG_NOT_ALLOWED)
}

fn function_flush(_: &mut Session, argv: &Argv) -> Reply {
    match argv.get(2) {
        None => Reply::ok(),
        Some(o) if o.eq_ignore_ascii_case(b"ASYNC") || o.eq_ignore_ascii_case(b"SYNC") => {
            Reply::ok()
        }
        Some(_) => Reply::error(errors::SYNTAX),
    }
}

fn function_list(_: &mut Session, _: &Argv) -> Reply {
    Reply::Array(Vec::new())
}

fn command_count(_: &mut Session, _: &Argv) -> Reply {
    Reply::Integer((super::all().count() + super::plugin_command_names().len()) as i64)
}

fn command_info_of(spec: &CommandSpec, parent: Option<&str>) -> Reply {
    let name = match parent {
        Some(p) => format!("{p}|{}", spec.name),
        None => spec.name.to_string(),
    };
    Reply::Array(vec![
        Reply::bulk(name.clone()),
        Reply::Integer(i64::from(spec.arity)),
        Reply::Set(spec.flags.iter().map(|f| Reply::simple(*f)).collect()),
        Reply::Integer(i64::from(spec.keys.first)),
        Reply::Integer(i64::from(spec.keys.last)),
        Reply::Integer(i64::from(spec.keys.step)),
        Reply::Set(spec.acl.iter().map(|a| Reply::simple(*a)).collect()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(
            spec.subcommands
                .iter()
                .map(|s| command_info_of(s, Some(&name)))
                .collect(),
        ),
    ])
}

fn command_all(_: &mut Session, _: &Argv) -> Reply {
    Reply::Array(every_command_info())
}

/// COMMAND's entries: the built-in table, then the plugins' commands.
fn every_command_info() -> Vec<Reply> {
    let plugins = super::plugin_command_names();
    super::all()
        .map(|s| command_info_of(s, None))
        .chain(
            plugins
                .iter()
                .filter_map(|n| super::plugin_command_info(n.as_bytes())),
        )
        .collect()
}

fn command_info(_: &mut Session, argv: &Argv) -> Reply {
    if argv.len() == 2 {
        return Reply::Array(every_command_info());
    }
    Reply::Array(
        argv.iter()
            .skip(2)
            .map(|n| match super::lookup(n) {
                Some(s) => command_info_of(s, None),
                None => super::plugin_command_info(n).unwrap_or(Reply::NullArray),
            })
            .collect(),
    )
}

fn command_docs(_: &mut Session, argv: &Argv) -> Reply {
    let names: Vec<Vec<u8>> = if argv.len() == 2 {
        super::all()
            .map(|s| s.name.as_bytes().to_vec())
            .chain(
                super::plugin_command_names()
                    .into_iter()
                    .map(String::into_bytes),
            )
            .collect()
    } else {
        argv.iter().skip(2).map(<[u8]>::to_vec).collect()
    };
    Reply::Map(
        names
            .iter()
            .filter_map(|n| match super::lookup(n) {
                Some(s) => Some((Reply::bulk(s.name), super::docs::doc_reply(s, None))),
                None => super::plugin_command_doc(n),
            })
            .collect(),
    )
}

fn command_list(_: &mut Session, argv: &Argv) -> Reply {
    let pattern = match (argv.get(2), argv.get(3)) {
        (None, _) => None,
        (Some(f), Some(p))
            if f.eq_ignore_ascii_case(b"FILTERBY")
                && argv.len() == 5
                && p.eq_ignore_ascii_case(b"PATTERN") =>
        {
            argv.get(4).map(|p| p.to_vec())
        }
        _ => return Reply::error(errors::SYNTAX),
    };
    Reply::Array(
        super::all()
            .filter(|s| {
                pattern
                    .as_deref()
                    .is_none_or(|p| glob_match(p, s.name.as_bytes()))
            })
            .map(|s| Reply::bulk(s.name))
            .chain(
                super::plugin_command_names()
                    .into_iter()
                    .filter(|n| {
                        pattern
                            .as_deref()
                            .is_none_or(|p| glob_match(p, n.as_bytes()))
                    })
                    .map(Reply::bulk),
            )
            .collect(),
    )
}

fn command_getkeys(_: &mut Session, argv: &Argv) -> Reply {
    let Some(mut spec) = argv.get(2).and_then(super::lookup) else {
        return Reply::error(errors::COMMAND_INVALID);
    };
    if !spec.subcommands.is_empty() && argv.len() > 3 {
        match super::lookup_sub(spec, arg(argv, 3)) {
            Some(sub) => spec = sub,
            None => return Reply::error(errors::COMMAND_INVALID),
        }
    }
    if spec.keys.first == 0 && spec.key_finder.is_none() {
        return Reply::error(errors::COMMAND_NO_KEYS);
    }
    let sub = Argv::from_args(&argv.iter().skip(2).collect::<Vec<_>>());
    if !super::arity_ok(spec, sub.len()) {
        return Reply::error(errors::COMMAND_INVALID_ARITY);
    }
    let keys: Vec<Reply> = super::command_keys(spec, &sub)
        .into_iter()
        .filter_map(|i| sub.get(i))
        .map(Reply::bulk)
        .collect();
    if keys.is_empty() {
        return Reply::error(errors::COMMAND_INVALID_ARGUMENTS);
    }
    Reply::Array(keys)
}

fn command_help(_: &mut Session, _: &Argv) -> Reply {
    help_reply(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST [FILTERBY PATTERN <pattern>]",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        "HELP",
        "    Print this help.",
    ])
}

fn config_help(_: &mut Session, _: &Argv) -> Reply {
    help_reply(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    ])
}

fn function_help(_: &mut Session, _: &Argv) -> Reply {
    help_reply(&[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return general information on all the libraries (none: scripting is not available yet).",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
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
    Doc::of("server", summary, since, complexity, args)
}

const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];
const SLOW: &[&str] = &["@slow"];
const LOADING: &[&str] = &["loading", "stale"];

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "get",
        -3,
        &["admin", "noscript", "loading", "stale"],
        ADMIN,
        doc(
            "Returns the effective values of configuration parameters.",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
            "parameter [parameter ...]",
        ),
        Run::Now(config_get),
    ),
    CommandSpec::keyless(
        "set",
        -4,
        &["admin", "noscript", "loading", "stale"],
        ADMIN,
        doc(
            "Sets configuration parameters in-flight.",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
            "parameter value [parameter value ...]",
        ),
        Run::Now(config_set),
    ),
    CommandSpec::keyless(
        "resetstat",
        2,
        &["admin", "noscript", "loading", "stale"],
        ADMIN,
        doc("Resets the server's statistics.", "2.0.0", "O(1)", ""),
        Run::Barrier(config_resetstat),
    ),
    CommandSpec::keyless(
        "rewrite",
        2,
        &["admin", "noscript", "loading", "stale"],
        ADMIN,
        doc(
            "Persists the effective configuration to file.",
            "2.8.0",
            "O(1)",
            "",
        ),
        Run::Now(config_rewrite),
    ),
    CommandSpec::keyless(
        "help",
        2,
        LOADING,
        SLOW,
        doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
            "",
        ),
        Run::Now(config_help),
    ),
];

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "count",
        2,
        LOADING,
        &["@slow", "@connection"],
        doc("Returns a count of commands.", "2.8.13", "O(1)", ""),
        Run::Now(command_count),
    ),
    CommandSpec::keyless(
        "info",
        -2,
        LOADING,
        &["@slow", "@connection"],
        doc(
            "Returns information about one, multiple or all commands.",
            "2.8.13",
            "O(N) where N is the number of commands to look up",
            "[command-name [command-name ...]]",
        ),
        Run::Now(command_info),
    ),
    CommandSpec::keyless(
        "docs",
        -2,
        LOADING,
        &["@slow", "@connection"],
        doc(
            "Returns documentary information about one, multiple or all commands.",
            "7.0.0",
            "O(N) where N is the number of commands to look up",
            "[command-name [command-name ...]]",
        ),
        Run::Now(command_docs),
    ),
    CommandSpec::keyless(
        "list",
        -2,
        LOADING,
        &["@slow", "@connection"],
        doc(
            "Returns a list of command names.",
            "7.0.0",
            "O(N) where N is the total number of Redis commands",
            "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]",
        ),
        Run::Now(command_list),
    ),
    CommandSpec::keyless(
        "getkeys",
        -3,
        LOADING,
        &["@slow", "@connection"],
        doc(
            "Extracts the key names from an arbitrary command.",
            "2.8.13",
            "O(N) where N is the number of arguments to the command",
            "command [arg [arg ...]]",
        ),
        Run::Now(command_getkeys),
    ),
    CommandSpec::keyless(
        "help",
        2,
        LOADING,
        &["@slow", "@connection"],
        doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
            "",
        ),
        Run::Now(command_help),
    ),
];

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "flush",
        -2,
        &["write", "noscript"],
        &["@write", "@slow", "@scripting"],
        doc(
            "Deletes all libraries and functions.",
            "7.0.0",
            "O(N) where N is the number of functions deleted",
            "[ASYNC | SYNC]",
        ),
        Run::Now(function_flush),
    ),
    CommandSpec::keyless(
        "list",
        -2,
        &["noscript"],
        &["@slow", "@scripting"],
        doc(
            "Returns information about all libraries.",
            "7.0.0",
            "O(N) where N is the number of functions",
            "[LIBRARYNAME library-name-pattern] [WITHCODE]",
        ),
        Run::Now(function_list),
    ),
    CommandSpec::keyless(
        "help",
        2,
        LOADING,
        &["@slow", "@scripting"],
        doc(
            "Returns helpful text about the different subcommands.",
            "7.0.0",
            "O(1)",
            "",
        ),
        Run::Now(function_help),
    ),
];

/// The server family.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::keyless("info", -1, &["loading", "stale"], &["@slow", "@dangerous"], doc("Returns information and statistics about the server.", "1.0.0", "O(1)", "[section [section ...]]"), Run::Barrier(info)),
    CommandSpec::keyless("dbsize", 1, &["readonly", "fast"], &["@keyspace", "@read", "@fast"], doc("Returns the number of keys in the database.", "1.0.0", "O(N) here: the partitions are counted (Redis: O(1))", ""), Run::Barrier(global::dbsize)),
    CommandSpec::keyless("flushdb", -1, &["write"], &["@keyspace", "@write", "@slow", "@dangerous"], doc("Remove all keys from the current database.", "1.0.0", "O(N) where N is the number of keys in the selected database", "[ASYNC | SYNC]"), Run::Barrier(global::flushdb)),
    CommandSpec::keyless("flushall", -1, &["write"], &["@keyspace", "@write", "@slow", "@dangerous"], doc("Removes all keys from all databases.", "1.0.0", "O(N) where N is the total number of keys in all databases", "[ASYNC | SYNC]"), Run::Barrier(global::flushall)),
    CommandSpec::keyless("compact", 1, &["admin", "write"], &["@admin", "@slow", "@dangerous"], doc("Compacts every partition fully, dropping deleted and overwritten data (as Kvrocks' COMPACT).", "frys", "O(N) where N is the size of the data set", ""), Run::Barrier(global::compact)),
    CommandSpec::keyless("swapdb", 3, &["write", "fast"], &["@keyspace", "@write", "@fast", "@dangerous"], doc("Swaps two Redis databases.", "4.0.0", "O(1) here: databases are namespace ids", "index1 index2"), Run::Barrier(global::swapdb)),
    CommandSpec::keyless("time", 1, &["loading", "stale", "fast"], &["@fast"], doc("Returns the server time.", "2.6.0", "O(1)", ""), Run::Now(time)),
    CommandSpec::keyless("save", 1, &["admin", "noscript", "no_async_loading", "no_multi"], ADMIN, doc("Synchronously saves the database(s) to disk.", "1.0.0", "O(N) where N is the total number of keys in all databases", ""), Run::Barrier(save)),
    CommandSpec::keyless("bgsave", -1, &["admin", "noscript", "no_async_loading"], ADMIN, doc("Asynchronously saves the database(s) to disk.", "1.0.0", "O(1)", "[SCHEDULE]"), Run::Barrier(bgsave)),
    CommandSpec::keyless("lastsave", 1, &["loading", "stale", "fast"], &["@admin", "@fast", "@dangerous"], doc("Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "O(1)", ""), Run::Now(lastsave)),
    CommandSpec::keyless("shutdown", -1, &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"], ADMIN, doc("Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"), Run::Now(shutdown)),
    CommandSpec::keyless("debug", -2, &["admin", "noscript", "loading", "stale"], ADMIN, doc("A container for debugging commands.", "1.0.0", "Depends on subcommand.", ""), Run::Now(debug)),
    CommandSpec {
        name: "config",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: SLOW,
        doc: doc("A container for server configuration commands.", "2.0.0", "Depends on subcommand.", ""),
        run: Run::Now(config_help),
        subcommands: CONFIG_SUBCOMMANDS,
        key_finder: None,
    },
    CommandSpec {
        name: "command",
        arity: -1,
        flags: &["loading", "stale"],
        keys: KeySpec::NONE,
        acl: &["@slow", "@connection"],
        doc: doc("Returns detailed information about all commands.", "2.8.13", "O(N) where N is the total number of Redis commands", ""),
        run: Run::Now(command_all),
        subcommands: COMMAND_SUBCOMMANDS,
        key_finder: None,
    },
    CommandSpec {
        name: "function",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: SLOW,
        doc: doc("A container for function commands.", "7.0.0", "Depends on subcommand.", ""),
        run: Run::Now(function_help),
        subcommands: FUNCTION_SUBCOMMANDS,
        key_finder: None,
    },
];
