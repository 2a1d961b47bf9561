//! Connection commands: PING, ECHO, SELECT, AUTH, HELLO, QUIT, RESET and
//! CLIENT. They run at the connection, on its session.

use super::body::{arg, help_reply};
use super::spec::{BarrierCtx, CommandSpec, Doc, KeySpec, Run};
use crate::acl;
use crate::command::parse_i64;
use crate::config;
use crate::errors;
use crate::exec::{join_all, LocalBoxFuture};
use crate::protocol::{Argv, Reply};
use crate::session::{self, KillFilter, Session};

/// The Redis version this server speaks (HELLO, INFO).
pub const REDIS_VERSION: &str = "7.2.0";

fn ping(s: &mut Session, argv: &Argv) -> Reply {
    if argv.len() > 2 {
        return Reply::error(errors::wrong_number_of_arguments("ping"));
    }
    // A RESP2 subscriber can only read pushes: Redis answers as one.
    if s.resp == 2 && s.pubsub.is_subscribed() {
        return Reply::Array(vec![Reply::bulk("pong"), Reply::bulk(arg(argv, 1))]);
    }
    match argv.len() {
        1 => Reply::pong(),
        _ => Reply::bulk(arg(argv, 1)),
    }
}

fn echo(_: &mut Session, argv: &Argv) -> Reply {
    Reply::bulk(arg(argv, 1))
}

fn select(s: &mut Session, argv: &Argv) -> Reply {
    let Some(n) = parse_i64(arg(argv, 1)) else {
        return Reply::error(errors::NOT_AN_INTEGER);
    };
    if n != 0 && crate::cluster::enabled() {
        return Reply::error(errors::SELECT_IN_CLUSTER);
    }
    if n < 0 || n >= i64::from(config::live(|c| c.databases())) {
        return Reply::error(errors::DB_INDEX_OUT_OF_RANGE);
    }
    s.db = n as u16;
    Reply::ok()
}

/// Authenticates `s` as `user` (Redis' `ACLAuthenticateUser`): a failure
/// is logged in the ACL LOG under the command's name as the client typed
/// it.
fn authenticate(s: &mut Session, argv: &Argv, user: &[u8], pass: &[u8]) -> bool {
    match acl::authenticate(user, pass) {
        Ok(u) => {
            s.authenticated = true;
            s.user = acl::SessionUser::of(u);
            true
        }
        Err(_) => {
            let context = if s.multi.is_some() {
                "multi"
            } else {
                "toplevel"
            };
            acl::log::add(
                acl::log::Reason::Auth,
                context,
                String::from_utf8_lossy(arg(argv, 0)).into_owned(),
                String::from_utf8_lossy(user).into_owned(),
                s.info_line(),
            );
            false
        }
    }
}

fn auth(s: &mut Session, argv: &Argv) -> Reply {
    let ok = match argv.len() {
        2 => {
            let nopass = acl::registry::user("default").is_none_or(|u| u.nopass);
            if nopass {
                return Reply::error(errors::AUTH_NOT_CONFIGURED);
            }
            authenticate(s, argv, b"default", arg(argv, 1))
        }
        3 => authenticate(s, argv, arg(argv, 1), arg(argv, 2)),
        _ => return Reply::error(errors::SYNTAX),
    };
    if ok {
        Reply::ok()
    } else {
        Reply::error(errors::WRONGPASS)
    }
}

fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn hello(s: &mut Session, argv: &Argv) -> Reply {
    let mut resp = s.resp;
    if argv.len() >= 2 {
        let Some(v) = parse_i64(arg(argv, 1)) else {
            return Reply::error(errors::HELLO_VERSION_NOT_INTEGER);
        };
        if !(2..=3).contains(&v) {
            return Reply::error(errors::NOPROTO);
        }
        resp = v as u8;
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let opt = arg(argv, i);
        let left = argv.len() - i - 1;
        if opt.eq_ignore_ascii_case(b"AUTH") && left >= 2 {
            auth = Some((arg(argv, i + 1), arg(argv, i + 2)));
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && left >= 1 {
            let n = arg(argv, i + 1);
            if !valid_client_name(n) {
                return Reply::error(errors::CLIENT_NAME_INVALID);
            }
            name = Some(n);
            i += 2;
        } else {
            return Reply::error(errors::hello_syntax(opt));
        }
    }
    match auth {
        Some((user, pass)) if !authenticate(s, argv, user, pass) => {
            return Reply::error(errors::WRONGPASS);
        }
        Some(_) => {}
        None if !s.authenticated && !acl::default_admits_anyone() => {
            return Reply::error(errors::HELLO_NOAUTH)
        }
        None => {}
    }
    if let Some(n) = name {
        s.name = (!n.is_empty()).then(|| String::from_utf8_lossy(n).into_owned());
    }
    s.resp = resp;
    s.pubsub.set_resp(resp);
    // Pub/sub frames that arrived before HELLO keep their protocol and
    // go out before its answer.
    s.pubsub.behind_pending(Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Integer(i64::from(resp))),
        (Reply::bulk("id"), Reply::Integer(s.id as i64)),
        (
            Reply::bulk("mode"),
            Reply::bulk(if crate::cluster::enabled() {
                "cluster"
            } else {
                "standalone"
            }),
        ),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(Vec::new())),
    ]))
}

fn quit(s: &mut Session, _: &Argv) -> Reply {
    s.closing = true;
    Reply::ok()
}

fn reset(s: &mut Session, _: &Argv) -> Reply {
    s.discard_transaction();
    crate::pubsub::leave_all(s);
    // Messages that arrived before RESET go out before its answer, in
    // the protocol they were encoded in.
    let reply = s.pubsub.behind_pending(Reply::simple("RESET"));
    s.db = 0;
    s.resp = 2;
    s.pubsub.set_resp(2);
    s.name = None;
    s.authenticated = acl::default_admits_anyone();
    s.user = acl::SessionUser::default();
    reply
}

fn client_setname(s: &mut Session, argv: &Argv) -> Reply {
    let n = arg(argv, 2);
    if !valid_client_name(n) {
        return Reply::error(errors::CLIENT_NAME_INVALID);
    }
    s.name = (!n.is_empty()).then(|| String::from_utf8_lossy(n).into_owned());
    Reply::ok()
}

fn client_getname(s: &mut Session, _: &Argv) -> Reply {
    s.name.as_deref().map_or(Reply::Null, Reply::bulk)
}

fn client_id(s: &mut Session, _: &Argv) -> Reply {
    Reply::Integer(s.id as i64)
}

fn client_setinfo(s: &mut Session, argv: &Argv) -> Reply {
    let (attr, value) = (arg(argv, 2), arg(argv, 3));
    let lib_name = attr.eq_ignore_ascii_case(b"lib-name");
    if !lib_name && !attr.eq_ignore_ascii_case(b"lib-ver") {
        return Reply::error(errors::client_setinfo_unrecognized(attr));
    }
    if !valid_client_name(value) {
        return Reply::error(errors::client_setinfo_invalid(attr));
    }
    let v = (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
    if lib_name {
        s.lib_name = v;
    } else {
        s.lib_ver = v;
    }
    Reply::ok()
}

fn text_reply(resp: u8, text: String) -> Reply {
    if resp >= 3 {
        Reply::verbatim_text(text)
    } else {
        Reply::bulk(text)
    }
}

fn client_info(s: &mut Session, _: &Argv) -> Reply {
    text_reply(s.resp, format!("{}\n", s.info_line()))
}

fn on_off(_: &mut Session, argv: &Argv) -> Reply {
    let v = arg(argv, 2);
    if v.eq_ignore_ascii_case(b"on") || v.eq_ignore_ascii_case(b"off") {
        Reply::ok()
    } else {
        Reply::error(errors::SYNTAX)
    }
}

async fn every_core<R: Send + 'static>(f: fn() -> R) -> Vec<R> {
    let cores = usize::from(crate::store::current().map().cores());
    let handles: Vec<_> = (0..cores)
        .map(|c| frys_runtime::spawn_on(c, move || std::future::ready(f())))
        .collect();
    join_all(handles)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect()
}

fn client_list(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let mut ids: Option<Vec<u64>> = None;
        // Some(true): pub/sub clients only; Some(false): normal ones.
        let mut pubsub: Option<bool> = None;
        let mut i = 2;
        while i < argv.len() {
            let opt = arg(&argv, i);
            if opt.eq_ignore_ascii_case(b"TYPE") && i + 1 < argv.len() {
                let t = arg(&argv, i + 1).to_ascii_lowercase();
                if !matches!(
                    t.as_slice(),
                    b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
                ) {
                    return Reply::error(errors::unknown_client_type(arg(&argv, i + 1)));
                }
                match t.as_slice() {
                    b"normal" => pubsub = Some(false),
                    b"pubsub" => pubsub = Some(true),
                    _ => return text_reply(ctx.resp, String::new()),
                }
                i += 2;
            } else if opt.eq_ignore_ascii_case(b"ID") && i + 1 < argv.len() {
                let mut list = Vec::new();
                for a in argv.iter().skip(i + 1) {
                    match parse_i64(a) {
                        Some(n) if n > 0 => list.push(n as u64),
                        _ => return Reply::error(errors::INVALID_CLIENT_ID),
                    }
                }
                ids = Some(list);
                i = argv.len();
            } else {
                return Reply::error(errors::SYNTAX);
            }
        }
        let mut lines: Vec<(u64, bool, String)> = every_core(session::list_local)
            .await
            .into_iter()
            .flatten()
            .collect();
        lines.sort_by_key(|(id, _, _)| *id);
        let mut text = String::new();
        for (id, is_pubsub, line) in lines {
            if ids.as_ref().is_none_or(|l| l.contains(&id))
                && pubsub.is_none_or(|want| want == is_pubsub)
            {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text_reply(ctx.resp, text)
    })
}

fn client_kill(ctx: BarrierCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        // Old form: CLIENT KILL addr:port.
        if argv.len() == 3 {
            let filter = KillFilter::Addr(String::from_utf8_lossy(arg(&argv, 2)).into_owned());
            let n = kill_everywhere(filter, None).await;
            return if n == 0 {
                Reply::error(errors::NO_SUCH_CLIENT)
            } else {
                Reply::ok()
            };
        }
        let mut filter = None;
        let mut skipme = true;
        let mut i = 2;
        while i + 1 < argv.len() {
            let (opt, value) = (arg(&argv, i).to_ascii_uppercase(), arg(&argv, i + 1));
            let text = String::from_utf8_lossy(value).into_owned();
            match opt.as_slice() {
                b"ID" => match parse_i64(value) {
                    Some(n) if n > 0 => filter = Some(KillFilter::Id(n as u64)),
                    _ => return Reply::error(errors::CLIENT_ID_NOT_POSITIVE),
                },
                b"ADDR" => filter = Some(KillFilter::Addr(text)),
                b"LADDR" => filter = Some(KillFilter::Laddr(text)),
                b"USER" => {
                    if acl::registry::user(&text).is_none() {
                        return Reply::error(format!("ERR No such user '{text}'"));
                    }
                    filter = Some(KillFilter::User(text));
                }
                b"SKIPME" => match value.to_ascii_lowercase().as_slice() {
                    b"yes" => skipme = true,
                    b"no" => skipme = false,
                    _ => return Reply::error(errors::SYNTAX),
                },
                _ => return Reply::error(errors::SYNTAX),
            }
            i += 2;
        }
        if i != argv.len() {
            return Reply::error(errors::SYNTAX);
        }
        let Some(filter) = filter else {
            return Reply::Integer(0);
        };
        let skip = skipme.then_some(ctx.client_id);
        Reply::Integer(kill_everywhere(filter, skip).await as i64)
    })
}

/// Closes the clients matching `filter` on every core, but `skip`.
pub(crate) async fn kill_everywhere(filter: KillFilter, skip: Option<u64>) -> usize {
    let cores = usize::from(crate::store::current().map().cores());
    let handles: Vec<_> = (0..cores)
        .map(|c| {
            let f = filter.clone();
            frys_runtime::spawn_on(c, move || std::future::ready(session::kill_local(&f, skip)))
        })
        .collect();
    join_all(handles)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .sum()
}

fn client_help(_: &mut Session, _: &Argv) -> Reply {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE (NORMAL|MASTER|REPLICA|PUBSUB), ID <client-id> [...].",
        "NO-EVICT (ON|OFF)",
        "    Accepted; keys are never evicted.",
        "NO-TOUCH (ON|OFF)",
        "    Accepted.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Print this help.",
    ];
    help_reply(&lines)
}

/// Documentation of a command of this family.
const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("connection", summary, since, complexity, args)
}

const CONN: &[&str] = &["@slow", "@connection"];
const CONN_FAST: &[&str] = &["@fast", "@connection"];
const NOAUTH_FLAGS: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "allow_busy",
];

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "setname",
        3,
        &["noscript", "loading", "stale"],
        CONN,
        doc(
            "Sets the connection name.",
            "2.6.9",
            "O(1)",
            "connection-name",
        ),
        Run::Now(client_setname),
    ),
    CommandSpec::keyless(
        "getname",
        2,
        &["noscript", "loading", "stale"],
        CONN,
        doc("Returns the name of the connection.", "2.6.9", "O(1)", ""),
        Run::Now(client_getname),
    ),
    CommandSpec::keyless(
        "id",
        2,
        &["noscript", "loading", "stale"],
        CONN,
        doc(
            "Returns the unique client ID of the connection.",
            "5.0.0",
            "O(1)",
            "",
        ),
        Run::Now(client_id),
    ),
    CommandSpec::keyless(
        "setinfo",
        4,
        &["noscript", "loading", "stale"],
        CONN,
        doc(
            "Sets information specific to the client or connection.",
            "7.2.0",
            "O(1)",
            "LIB-NAME libname | LIB-VER libver",
        ),
        Run::Now(client_setinfo),
    ),
    CommandSpec::keyless(
        "info",
        2,
        &["noscript", "loading", "stale"],
        CONN,
        doc(
            "Returns information about the connection.",
            "6.2.0",
            "O(1)",
            "",
        ),
        Run::Now(client_info),
    ),
    CommandSpec::keyless(
        "list",
        -2,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous", "@connection"],
        doc(
            "Lists open connections.",
            "2.4.0",
            "O(N) where N is the number of client connections",
            "[TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]",
        ),
        Run::Barrier(client_list),
    ),
    CommandSpec::keyless(
        "kill",
        -3,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous", "@connection"],
        doc(
            "Terminates open connections.",
            "2.4.0",
            "O(N) where N is the number of client connections",
            "ip:port | ID client-id | ADDR ip:port | LADDR ip:port | SKIPME yes|no",
        ),
        Run::Barrier(client_kill),
    ),
    CommandSpec::keyless(
        "no-evict",
        3,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous", "@connection"],
        doc(
            "Sets the client eviction mode of the connection.",
            "7.0.0",
            "O(1)",
            "ON | OFF",
        ),
        Run::Now(on_off),
    ),
    CommandSpec::keyless(
        "no-touch",
        3,
        &["noscript", "loading", "stale"],
        CONN,
        doc(
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
            "7.2.0",
            "O(1)",
            "ON | OFF",
        ),
        Run::Now(on_off),
    ),
    CommandSpec::keyless(
        "help",
        2,
        &["loading", "stale"],
        CONN,
        doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
            "",
        ),
        Run::Now(client_help),
    ),
];

/// The connection family.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::keyless(
        "ping",
        -1,
        &["fast"],
        CONN_FAST,
        doc(
            "Returns the server's liveliness response.",
            "1.0.0",
            "O(1)",
            "[message]",
        ),
        Run::Now(ping),
    ),
    CommandSpec::keyless(
        "echo",
        2,
        &["fast"],
        CONN_FAST,
        doc("Returns the given string.", "1.0.0", "O(1)", "message"),
        Run::Now(echo),
    ),
    CommandSpec::keyless(
        "select",
        2,
        &["loading", "stale", "fast"],
        CONN_FAST,
        doc("Changes the selected database.", "1.0.0", "O(1)", "index"),
        Run::Now(select),
    ),
    CommandSpec::keyless(
        "auth",
        -2,
        NOAUTH_FLAGS,
        CONN_FAST,
        doc(
            "Authenticates the connection.",
            "1.0.0",
            "O(N) where N is the number of passwords defined for the user",
            "[username] password",
        ),
        Run::Now(auth),
    ),
    CommandSpec::keyless(
        "hello",
        -1,
        NOAUTH_FLAGS,
        CONN_FAST,
        doc(
            "Handshakes with the Redis server.",
            "6.0.0",
            "O(1)",
            "[protover [AUTH username password] [SETNAME clientname]]",
        ),
        Run::Now(hello),
    ),
    CommandSpec::keyless(
        "quit",
        -1,
        &[
            "allow_busy",
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
        ],
        CONN_FAST,
        doc("Closes the connection.", "1.0.0", "O(1)", ""),
        Run::Now(quit),
    ),
    CommandSpec::keyless(
        "reset",
        1,
        NOAUTH_FLAGS,
        CONN_FAST,
        doc("Resets the connection.", "6.2.0", "O(1)", ""),
        Run::Now(reset),
    ),
    CommandSpec {
        name: "client",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: &["@slow"],
        doc: doc(
            "A container for client connection commands.",
            "2.4.0",
            "Depends on subcommand.",
            "",
        ),
        run: Run::Now(client_help),
        subcommands: CLIENT_SUBCOMMANDS,
        key_finder: None,
    },
];
