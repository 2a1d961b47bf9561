//! The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT,
//! DRYRUN, LOG, SAVE, LOAD, GENPASS, HELP (Redis 7.0's `aclCommand`).
//! They run at the connection; the users are process-wide (`crate::acl`).

use std::io::Read;
use std::path::PathBuf;

use super::body::{arg, help_reply};
use super::spec::{CommandSpec, Doc, KeySpec, Run};
use crate::acl::{self, categories, check::Denied, commands::ids, describe};
use crate::command::{arity_ok, lookup, lookup_sub, parse_i64};
use crate::config;
use crate::errors;
use crate::protocol::{Argv, Reply};
use crate::session::{KillFilter, Session};

use super::connection::kill_everywhere;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn setuser(_: &mut Session, argv: &Argv) -> Reply {
    let rules: Vec<&[u8]> = argv.iter().skip(3).collect();
    match acl::registry::set_user(arg(argv, 2), &rules) {
        Ok(()) => {
            // Subscribers left without the right to their channels are
            // closed, on every core (Redis' ACLKillPubsubClientsIfNeeded).
            let name = text(arg(argv, 2));
            frys_runtime::spawn_local(async move {
                kill_everywhere(KillFilter::RevokedSubscriber(name), None).await;
            });
            Reply::ok()
        }
        Err(e) => Reply::error(e),
    }
}

fn getuser(_: &mut Session, argv: &Argv) -> Reply {
    let Some(u) = acl::registry::user(&text(arg(argv, 2))) else {
        return Reply::Null;
    };
    let mut flags = vec![Reply::bulk(if u.enabled { "on" } else { "off" })];
    if u.nopass {
        flags.push(Reply::bulk("nopass"));
    }
    match u.sanitize_payload {
        Some(false) => flags.push(Reply::bulk("skip-sanitize-payload")),
        Some(true) => flags.push(Reply::bulk("sanitize-payload")),
        None => {}
    }
    let fields: Vec<(Reply, Reply)> = [
        (Reply::bulk("flags"), Reply::Set(flags)),
        (
            Reply::bulk("passwords"),
            Reply::Array(
                u.passwords
                    .iter()
                    .map(|p| Reply::bulk(p.as_str()))
                    .collect(),
            ),
        ),
    ]
    .into_iter()
    .chain(selector_fields(&u.root))
    .chain([(
        Reply::bulk("selectors"),
        Reply::Array(
            u.selectors
                .iter()
                .map(|s| Reply::Map(selector_fields(s).collect()))
                .collect(),
        ),
    )])
    .collect();
    Reply::Map(fields)
}

/// GETUSER's `commands`, `keys` and `channels` of one selector (Redis'
/// `aclAddReplySelectorDescription`).
fn selector_fields(s: &acl::selector::Selector) -> impl Iterator<Item = (Reply, Reply)> {
    [
        (
            Reply::bulk("commands"),
            Reply::bulk(describe::command_rules(s)),
        ),
        (Reply::bulk("keys"), Reply::bulk(describe::keys_field(s))),
        (
            Reply::bulk("channels"),
            Reply::bulk(describe::channels_field(s)),
        ),
    ]
    .into_iter()
}

fn deluser(s: &mut Session, argv: &Argv) -> Reply {
    let names: Vec<&[u8]> = argv.iter().skip(2).collect();
    match acl::registry::delete(&names) {
        Ok(gone) => {
            let n = gone.len();
            disconnect_users(s, gone);
            Reply::Integer(n as i64)
        }
        Err(e) => Reply::error(e),
    }
}

/// Closes the clients of users that are gone, on every core (Redis'
/// `ACLFreeUserAndKillClients`). The caller is closed at its next
/// command, after this reply.
fn disconnect_users(s: &Session, gone: Vec<String>) {
    if gone.is_empty() {
        return;
    }
    let me = s.id;
    frys_runtime::spawn_local(async move {
        for name in gone {
            kill_everywhere(KillFilter::User(name), Some(me)).await;
        }
    });
}

fn list(_: &mut Session, _: &Argv) -> Reply {
    Reply::Array(
        acl::registry::all()
            .iter()
            .map(|u| Reply::bulk(describe::user_line(u, describe::Form::Raw)))
            .collect(),
    )
}

fn users(_: &mut Session, _: &Argv) -> Reply {
    Reply::Array(
        acl::registry::all()
            .iter()
            .map(|u| Reply::bulk(u.name.as_str()))
            .collect(),
    )
}

fn whoami(s: &mut Session, _: &Argv) -> Reply {
    Reply::bulk(s.user.name())
}

fn cat(_: &mut Session, argv: &Argv) -> Reply {
    if argv.len() == 2 {
        return Reply::Array(
            categories::CATEGORIES
                .iter()
                .map(|c| Reply::bulk(*c))
                .collect(),
        );
    }
    if argv.len() > 3 {
        return Reply::error(errors::subcommand_syntax(b"acl", arg(argv, 1)));
    }
    let Some(bit) = categories::bit(arg(argv, 2)) else {
        let name: String = text(arg(argv, 2)).chars().take(128).collect();
        return Reply::error(format!("ERR Unknown category '{name}'"));
    };
    Reply::Array(
        ids()
            .entries
            .iter()
            .filter(|e| e.categories & bit != 0)
            .map(|e| Reply::bulk(e.full_name.as_str()))
            .collect(),
    )
}

fn dryrun(_: &mut Session, argv: &Argv) -> Reply {
    let name = text(arg(argv, 2));
    let Some(user) = acl::registry::user(&name) else {
        return Reply::error(format!("ERR User '{name}' not found"));
    };
    let request = Argv::from_args(&argv.iter().skip(3).collect::<Vec<_>>());
    let not_found = || Reply::error(format!("ERR Command '{}' not found", text(arg(argv, 3))));
    let Some(top) = lookup(arg(argv, 3)) else {
        return not_found();
    };
    let (container, spec, full) = if top.subcommands.is_empty() || request.len() == 1 {
        (None, top, top.name.to_string())
    } else {
        match lookup_sub(top, arg(argv, 4)) {
            Some(sub) => (Some(top.name), sub, format!("{}|{}", top.name, sub.name)),
            None => return not_found(),
        }
    };
    if !arity_ok(spec, request.len()) {
        return Reply::error(errors::wrong_number_of_arguments(&full));
    }
    match acl::check::check(&user, container, spec, &request) {
        Ok(()) => Reply::ok(),
        Err(Denied::Command) => Reply::bulk(format!(
            "This user has no permissions to run the '{full}' command"
        )),
        Err(Denied::Key(i)) => Reply::bulk(format!(
            "This user has no permissions to access the '{}' key",
            text(arg(&request, i))
        )),
        Err(Denied::Channel(i)) => Reply::bulk(format!(
            "This user has no permissions to access the '{}' channel",
            text(arg(&request, i))
        )),
    }
}

fn log(_: &mut Session, argv: &Argv) -> Reply {
    if argv.len() > 3 {
        return Reply::error(errors::subcommand_syntax(b"acl", arg(argv, 1)));
    }
    let mut count = 10;
    if argv.len() == 3 {
        if arg(argv, 2).eq_ignore_ascii_case(b"reset") {
            acl::log::reset();
            return Reply::ok();
        }
        let Some(n) = parse_i64(arg(argv, 2)) else {
            return Reply::error(errors::NOT_AN_INTEGER);
        };
        count = n.max(0) as usize;
    }
    Reply::Array(
        acl::log::newest(count)
            .into_iter()
            .map(|(e, age)| {
                Reply::Map(vec![
                    (Reply::bulk("count"), Reply::Integer(e.count as i64)),
                    (Reply::bulk("reason"), Reply::bulk(e.reason.name())),
                    (Reply::bulk("context"), Reply::bulk(e.context)),
                    (Reply::bulk("object"), Reply::bulk(e.object)),
                    (Reply::bulk("username"), Reply::bulk(e.username)),
                    (Reply::bulk("age-seconds"), Reply::Double(age)),
                    (Reply::bulk("client-info"), Reply::bulk(e.client_info)),
                ])
            })
            .collect(),
    )
}

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn acl_file() -> Option<String> {
    config::live(|c| {
        c.get("aclfile")
            .filter(|f| !f.is_empty())
            .map(str::to_string)
    })
}

fn load(s: &mut Session, _: &Argv) -> Reply {
    let Some(file) = acl_file() else {
        return Reply::error(NO_ACL_FILE);
    };
    match acl::file::load(&PathBuf::from(&file), &file) {
        Ok(gone) => {
            disconnect_users(s, gone);
            Reply::ok()
        }
        Err(e) => Reply::error(format!("ERR {e}")),
    }
}

fn save(_: &mut Session, _: &Argv) -> Reply {
    let Some(file) = acl_file() else {
        return Reply::error(NO_ACL_FILE);
    };
    match acl::file::save(&PathBuf::from(&file)) {
        Ok(()) => Reply::ok(),
        Err(e) => {
            tracing::warn!(file, error = %e, "ACL SAVE failed");
            Reply::error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        }
    }
}

const GENPASS_MAX_BITS: i64 = 4096;

fn genpass(_: &mut Session, argv: &Argv) -> Reply {
    let bits = match argv.len() {
        2 => 256,
        3 => match parse_i64(arg(argv, 2)) {
            Some(b) => b,
            None => return Reply::error(errors::NOT_AN_INTEGER),
        },
        _ => return Reply::error(errors::subcommand_syntax(b"acl", arg(argv, 1))),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Reply::error(format!("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"));
    }
    let chars = (bits as usize).div_ceil(4);
    let mut random = vec![0u8; chars.div_ceil(2)];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random));
    if let Err(e) = read {
        return Reply::error(format!("ERR cannot read random bytes: {e}"));
    }
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Reply::bulk(&hex[..chars])
}

fn help(_: &mut Session, _: &Argv) -> Reply {
    help_reply(&[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Print this help.",
    ])
}

const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("server", summary, since, complexity, args)
}

const ADMIN_FLAGS: &[&str] = &["admin", "noscript", "loading", "stale"];
const FLAGS: &[&str] = &["noscript", "loading", "stale"];
const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];
const SLOW: &[&str] = &["@slow"];

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless("cat", -2, FLAGS, SLOW, doc("List the ACL categories or the commands inside a category", "6.0.0", "O(1) since the categories and commands are a fixed set.", "[category]"), Run::Now(cat)),
    CommandSpec::keyless("deluser", -3, ADMIN_FLAGS, ADMIN, doc("Remove the specified ACL users and the associated rules", "6.0.0", "O(1) amortized time considering the typical user.", "username [username ...]"), Run::Now(deluser)),
    CommandSpec::keyless("dryrun", -4, ADMIN_FLAGS, ADMIN, doc("Returns whether the user can execute the given command without executing the command.", "7.0.0", "O(1).", "username command [arg [arg ...]]"), Run::Now(dryrun)),
    CommandSpec::keyless("genpass", -2, FLAGS, SLOW, doc("Generate a pseudorandom secure password to use for ACL users", "6.0.0", "O(1)", "[bits]"), Run::Now(genpass)),
    CommandSpec::keyless("getuser", 3, ADMIN_FLAGS, ADMIN, doc("Get the rules for a specific ACL user", "6.0.0", "O(N). Where N is the number of password, command and pattern rules that the user has.", "username"), Run::Now(getuser)),
    CommandSpec::keyless("help", 2, &["loading", "stale"], SLOW, doc("Show helpful text about the different subcommands", "6.0.0", "O(1)", ""), Run::Now(help)),
    CommandSpec::keyless("list", 2, ADMIN_FLAGS, ADMIN, doc("List the current ACL rules in ACL config file format", "6.0.0", "O(N). Where N is the number of configured users.", ""), Run::Now(list)),
    CommandSpec::keyless("load", 2, ADMIN_FLAGS, ADMIN, doc("Reload the ACLs from the configured ACL file", "6.0.0", "O(N). Where N is the number of configured users.", ""), Run::Now(load)),
    CommandSpec::keyless("log", -2, ADMIN_FLAGS, ADMIN, doc("List latest events denied because of ACLs in place", "6.0.0", "O(N) with N being the number of entries shown.", "[count | RESET]"), Run::Now(log)),
    CommandSpec::keyless("save", 2, ADMIN_FLAGS, ADMIN, doc("Save the current ACL rules in the configured ACL file", "6.0.0", "O(N). Where N is the number of configured users.", ""), Run::Now(save)),
    CommandSpec::keyless("setuser", -3, ADMIN_FLAGS, ADMIN, doc("Modify or create the rules for a specific ACL user", "6.0.0", "O(N). Where N is the number of rules provided.", "username [rule [rule ...]]"), Run::Now(setuser)),
    CommandSpec::keyless("users", 2, ADMIN_FLAGS, ADMIN, doc("List the username of all the configured ACL rules", "6.0.0", "O(N). Where N is the number of configured users.", ""), Run::Now(users)),
    CommandSpec::keyless("whoami", 2, FLAGS, SLOW, doc("Return the name of the user associated to the current connection", "6.0.0", "O(1)", ""), Run::Now(whoami)),
];

/// The ACL container.
pub const SPECS: &[CommandSpec] = &[CommandSpec {
    name: "acl",
    arity: -2,
    flags: &[],
    keys: KeySpec::NONE,
    acl: SLOW,
    doc: doc(
        "A container for Access List Control commands ",
        "6.0.0",
        "Depends on subcommand.",
        "",
    ),
    run: Run::Now(help),
    subcommands: SUBCOMMANDS,
    key_finder: None,
}];
