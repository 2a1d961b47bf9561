//! Whether a user may run a request (Redis' `ACLSelectorCheckCmd`): the
//! command (or subcommand) bit, or an allowed first argument; then every
//! key at the command's key positions against the key patterns with the
//! access its key spec asks; then the channels of (P|S)SUBSCRIBE and
//! (S)PUBLISH against the channel patterns (a PSUBSCRIBE pattern must be
//! one of them literally).

use super::commands::ids;
use super::key_access::key_specs;
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
    let entry = &table.entries[id];
    if !user.all_commands && !spec.flags.contains(&"no_auth") && !user.bit(id) {
        let first_at = if entry.full_name.contains('|') { 2 } else { 1 };
        let first = argv.get(first_at);
        let allowed = first.is_some_and(|a| {
            user.first_args_of(id)
                .iter()
                .any(|f| f.as_bytes().eq_ignore_ascii_case(a))
        });
        if !allowed {
            return Err(Denied::Command);
        }
    }
    // Shard channels sit where keys would (for routing), but are checked
    // as channels, as Redis does.
    let shard_channels = matches!(
        entry.full_name.as_str(),
        "spublish" | "ssubscribe" | "sunsubscribe"
    );
    if !user.all_keys && !shard_channels {
        for (j, pos) in command_keys(spec, argv).into_iter().enumerate() {
            let need = access_of(spec, &entry.full_name, argv, j);
            let key = argv.get(pos).unwrap_or_default();
            let ok = user.keys.iter().any(|k| {
                (!need.read || k.read) && (!need.write || k.write) && glob_match(&k.pattern, key)
            });
            if !ok {
                return Err(Denied::Key(pos));
            }
        }
    }
    if !user.all_channels {
        let (positions, pattern) = channel_positions(&entry.full_name, argv.len());
        for pos in positions {
            let channel = argv.get(pos).unwrap_or_default();
            let ok = user.channels.iter().any(|c| {
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
/// checks module commands: only a user whose command rules cover commands
/// added later (`+@all` / `allcommands`, Redis' "future commands") may run
/// it, and its declared keys must match the user's key patterns for
/// reading and writing. Refusals are
/// logged and answered as in [`check_session`].
pub fn check_plugin_session(
    session: &mut Session,
    name: &str,
    keys: impl Iterator<Item = usize>,
    argv: &Argv,
) -> Result<(), Option<String>> {
    let verdict = session
        .user
        .with_current(|u| {
            if u.unrestricted() {
                return Ok(());
            }
            if !(u.all_commands || u.future_commands) {
                return Err(Denied::Command);
            }
            if !u.all_keys {
                // A plugin's writes are applied whatever it declares, so
                // its keys need both (Redis gives module key ranges full
                // access too).
                let need = RW;
                for pos in keys {
                    let key = argv.get(pos).unwrap_or_default();
                    let ok = u.keys.iter().any(|k| {
                        (!need.read || k.read)
                            && (!need.write || k.write)
                            && glob_match(&k.pattern, key)
                    });
                    if !ok {
                        return Err(Denied::Key(pos));
                    }
                }
            }
            Ok(())
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
    fn write_only_patterns_allow_set_but_not_get() {
        let u = user(&["+@all", "%W~w*"]);
        assert_eq!(run(&u, "set w1 v"), Ok(()));
        assert_eq!(run(&u, "set w1 v GET"), Err(Denied::Key(1)));
        assert_eq!(run(&u, "get w1"), Err(Denied::Key(1)));
        assert_eq!(run(&u, "exists w1"), Ok(()));
    }
}
