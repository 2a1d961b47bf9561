//! Whether a user may run a request (Redis' `ACLCheckAllUserCommandPerm`):
//! allowed if one of its selectors allows it (`ACLSelectorCheckCmd`): the
//! command (or subcommand) bit, or an allowed first argument; then every
//! key at the command's key positions against the key patterns with the
//! access its key spec asks; then the channels of (P|S)SUBSCRIBE and
//! (S)PUBLISH against the channel patterns (a PSUBSCRIBE pattern must be
//! one of them literally). When every selector refuses, the refusal
//! reported is Redis' pick: a channel over a key over the command, and of
//! the same kind the one at the highest argument index.

use super::commands::ids;
use super::key_access::key_specs;
use super::selector::Selector;
use super::user::User;
use super::{KeyAccess, R, RW, W};
use crate::command::{command_keys, glob_match, CommandSpec};
use crate::protocol::Argv;
use crate::session::Session;

use super::log::{self as acl_log, Reason};

/// What a user may not do, with the argument index of the key or
/// channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The command.
    Command,
    /// The key at this index.
    Key(usize),
    /// The channel at this index.
    Channel(usize),
}

impl Denied {
    /// Redis' `ACL_DENIED_*` order (the kind reported when every selector
    /// refuses), then the argument index.
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }
}

/// Checks `argv`, a request for `spec` (the subcommand's row for a
/// subcommand of `container`), against `user`.
pub fn check(
    user: &User,
    container: Option<&str>,
    spec: &CommandSpec,
    argv: &Argv,
) -> Result<(), Denied> {
    if user.unrestricted() {
        return Ok(());
    }
    let table = ids();
    let Some(id) = table.id_of(container, spec) else {
        return Err(Denied::Command);
    };
    let full_name = table.entries[id].full_name.as_str();
    // The keys are found once for all selectors, as Redis' key cache.
    let mut keys: Option<Vec<usize>> = None;
    let mut relevant = Denied::Command;
    for selector in user.all_selectors() {
        let Err(denied) = check_selector(selector, id, full_name, spec, argv, &mut keys) else {
            return Ok(());
        };
        if denied.rank() > relevant.rank() {
            relevant = denied;
        }
    }
    Err(relevant)
}

/// Redis' `ACLSelectorCheckCmd`: whether one selector allows the request.
fn check_selector(
    selector: &Selector,
    id: usize,
    full_name: &str,
    spec: &CommandSpec,
    argv: &Argv,
    keys: &mut Option<Vec<usize>>,
) -> Result<(), Denied> {
    if !selector.all_commands && !spec.flags.contains(&"no_auth") && !selector.bit(id) {
        let first_at = if full_name.contains('|') { 2 } else { 1 };
        let first = argv.get(first_at);
        let allowed = first.is_some_and(|a| {
            selector
                .first_args_of(id)
                .iter()
                .any(|f| f.eq_ignore_ascii_case(a))
        });
        if !allowed {
            return Err(Denied::Command);
        }
    }
    // Shard channels sit where keys would (for routing), but are checked
    // as channels, as Redis does.
    let shard_channels = matches!(full_name, "spublish" | "ssubscribe" | "sunsubscribe");
    if !selector.all_keys && !shard_channels {
        let positions = keys.get_or_insert_with(|| command_keys(spec, argv));
        for (j, &pos) in positions.iter().enumerate() {
            let need = access_of(spec, full_name, argv, j);
            let key = argv.get(pos).unwrap_or_default();
            if !key_allowed(selector, need, key) {
                return Err(Denied::Key(pos));
            }
        }
    }
    if !selector.all_channels {
        let (positions, pattern) = channel_positions(full_name, argv.len());
        for pos in positions {
            let channel = argv.get(pos).unwrap_or_default();
            let ok = selector.channels.iter().any(|c| {
                if pattern {
                    c.as_slice() == channel
                } else {
                    glob_match(c, channel)
                }
            });
            if !ok {
                return Err(Denied::Channel(pos));
            }
        }
    }
    Ok(())
}

/// Redis' `ACLSelectorCheckKey`: a pattern granting `need` matches `key`.
fn key_allowed(selector: &Selector, need: KeyAccess, key: &[u8]) -> bool {
    selector.all_keys
        || selector.keys.iter().any(|k| {
            (!need.read || k.read) && (!need.write || k.write) && glob_match(&k.pattern, key)
        })
}

/// Checks a request of `session` before it is routed. A refusal is
/// logged and answered with Redis' `-NOPERM` text (`Err(Some(text))`);
/// `Err(None)` means the session's user was deleted (the client is to be
/// disconnected, as Redis kills the clients of a deleted user).
pub fn check_session(
    session: &mut Session,
    container: Option<&str>,
    spec: &CommandSpec,
    argv: &Argv,
) -> Result<(), Option<String>> {
    let verdict = session
        .user
        .with_current(|u| check(u, container, spec, argv))
        .ok_or(None)?;
    let Err(denied) = verdict else {
        return Ok(());
    };
    let full_name = ids()
        .id_of(container, spec)
        .map_or(spec.name, |id| ids().entries[id].full_name.as_str());
    Err(Some(refuse(session, denied, full_name, argv)))
}

/// Logs a refusal in the ACL log (with the session's context) and returns
/// its `NOPERM` text, as Redis words it; `command` is the name the command
/// refusal shows.
fn refuse(session: &Session, denied: Denied, command: &str, argv: &Argv) -> String {
    let argument = |i: usize| String::from_utf8_lossy(argv.get(i).unwrap_or_default()).into_owned();
    let (reason, object, text) = match denied {
        Denied::Command => (
            Reason::Command,
            command.to_string(),
            format!("NOPERM this user has no permissions to run the '{command}' command"),
        ),
        Denied::Key(i) => (
            Reason::Key,
            argument(i),
            "NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_string(),
        ),
        Denied::Channel(i) => (
            Reason::Channel,
            argument(i),
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .to_string(),
        ),
    };
    let context = if session.multi.is_some() {
        "multi"
    } else {
        "toplevel"
    };
    acl_log::add(
        reason,
        context,
        object,
        session.user.name().to_string(),
        session.info_line(),
    );
    text
}

/// The access the `j`-th key of the request asks: its key spec in Redis'
/// table (the last spec for the keys after it), SET without GET being a
/// pure write as Redis' `setGetKeys` says; a command Redis does not have
/// asks reads if read-only, else reads and writes.
fn access_of(spec: &CommandSpec, full_name: &str, argv: &Argv, j: usize) -> KeyAccess {
    if full_name == "set" {
        let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
        return if get { RW } else { W };
    }
    match key_specs(full_name) {
        Some(specs) if !specs.is_empty() => specs[j.min(specs.len() - 1)],
        _ if spec.flags.contains(&"readonly") => R,
        _ => RW,
    }
}

/// The channel arguments of a request and whether they are patterns.
fn channel_positions(full_name: &str, argc: usize) -> (std::ops::Range<usize>, bool) {
    match full_name {
        "subscribe" | "ssubscribe" => (1..argc, false),
        "psubscribe" => (1..argc, true),
        "publish" | "spublish" => (1..argc.min(2), false),
        _ => (0..0, false),
    }
}

/// Checks a plugin command of `session` before it is routed, as Redis
/// checks module commands: one selector whose command rules cover
/// commands added later (`+@all` / `allcommands`, Redis' "future
/// commands") must allow it, with the declared keys matching that
/// selector's key patterns for reading and writing. Refusals are logged
/// and answered as in [`check_session`].
pub fn check_plugin_session(
    session: &mut Session,
    name: &str,
    keys: impl Iterator<Item = usize>,
    argv: &Argv,
) -> Result<(), Option<String>> {
    let keys: Vec<usize> = keys.collect();
    let verdict = session
        .user
        .with_current(|u| {
            if u.unrestricted() {
                return Ok(());
            }
            let mut relevant = Denied::Command;
            for selector in u.all_selectors() {
                if !(selector.all_commands || selector.future_commands) {
                    continue;
                }
                // A plugin's writes are applied whatever it declares, so
                // its keys need both (Redis gives module key ranges full
                // access too).
                let refused = keys
                    .iter()
                    .find(|&&pos| !key_allowed(selector, RW, argv.get(pos).unwrap_or_default()));
                match refused {
                    None => return Ok(()),
                    Some(&pos) if Denied::Key(pos).rank() > relevant.rank() => {
                        relevant = Denied::Key(pos)
                    }
                    Some(_) => {}
                }
            }
            Err(relevant)
        })
        .ok_or(None)?;
    let Err(denied) = verdict else {
        return Ok(());
    };
    Err(Some(refuse(session, denied, name, argv)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::lookup;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new("u");
        for r in rules {
            u.apply(r.as_bytes()).unwrap();
        }
        u
    }

    fn run(u: &User, line: &str) -> Result<(), Denied> {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let argv = Argv::from_args(&words);
        let top = lookup(words[0]).unwrap();
        if top.subcommands.is_empty() {
            check(u, None, top, &argv)
        } else {
            let sub = crate::command::lookup_sub(top, words[1]).unwrap();
            check(u, Some(top.name), sub, &argv)
        }
    }

    #[test]
    fn commands_keys_and_channels_are_checked() {
        let u = user(&["+@all", "-set", "%R~r*", "~k*", "&news.*"]);
        assert_eq!(run(&u, "set k v"), Err(Denied::Command));
        assert_eq!(run(&u, "get k1"), Ok(()));
        assert_eq!(run(&u, "get r1"), Ok(()));
        assert_eq!(run(&u, "del r1"), Err(Denied::Key(1)));
        assert_eq!(run(&u, "mget k1 x"), Err(Denied::Key(2)));
        assert_eq!(run(&u, "publish news.a hi"), Ok(()));
        assert_eq!(run(&u, "subscribe news.a other"), Err(Denied::Channel(2)));
        assert_eq!(run(&u, "psubscribe news.*"), Ok(()));
        assert_eq!(run(&u, "psubscribe news.a*"), Err(Denied::Channel(1)));
    }

    #[test]
    fn subcommands_and_first_args_are_checked() {
        let u = user(&["+config|get", "+select|0", "allkeys"]);
        assert_eq!(run(&u, "config get x"), Ok(()));
        assert_eq!(run(&u, "config set x y"), Err(Denied::Command));
        assert_eq!(run(&u, "select 0"), Ok(()));
        assert_eq!(run(&u, "select 1"), Err(Denied::Command));
        assert_eq!(run(&u, "auth x"), Ok(()));
    }

    #[test]
    fn a_request_is_allowed_if_one_selector_allows_it_whole() {
        let u = user(&["+get", "~a*", "(+set ~b*)", "(+publish &news.*)"]);
        assert_eq!(run(&u, "get a1"), Ok(()));
        assert_eq!(run(&u, "set b1 v"), Ok(()));
        // Each selector is checked whole: GET is not allowed on b*, SET
        // not on a*.
        assert_eq!(run(&u, "get b1"), Err(Denied::Key(1)));
        assert_eq!(run(&u, "set a1 v"), Err(Denied::Key(1)));
        assert_eq!(run(&u, "publish news.a hi"), Ok(()));
        // A channel refusal is reported over a key or command refusal.
        assert_eq!(run(&u, "publish sport hi"), Err(Denied::Channel(1)));
        assert_eq!(run(&u, "del a1"), Err(Denied::Command));
        // Of two key refusals, the one further right.
        let u = user(&["+mget", "~a", "(+mget ~b ~c)"]);
        assert_eq!(run(&u, "mget a b"), Err(Denied::Key(2)));
        assert_eq!(run(&u, "mget b c"), Ok(()));
        assert_eq!(run(&u, "mget b x"), Err(Denied::Key(2)));
    }

    #[test]
    fn write_only_patterns_allow_set_but_not_get() {
        let u = user(&["+@all", "%W~w*"]);
        assert_eq!(run(&u, "set w1 v"), Ok(()));
        assert_eq!(run(&u, "set w1 v GET"), Err(Denied::Key(1)));
        assert_eq!(run(&u, "get w1"), Err(Denied::Key(1)));
        assert_eq!(run(&u, "exists w1"), Ok(()));
    }
}
