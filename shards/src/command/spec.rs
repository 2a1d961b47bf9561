//! The command table's row type.
//!
//! Generic code reads a row to check arity, find keys, route the command
//! to the core owning its keys, check authentication, and answer COMMAND
//! INFO / DOCS / COUNT; a command body never re-checks arity or finds its
//! own keys. The spec is fixed; live per-command counters are kept apart
//! (`server::stats`).
//!
//! Keys are found from the row alone: [`KeySpec`] for keys at fixed
//! positions, or a [`KeyFinder`] ([`CommandSpec::with_key_finder`]) for
//! keys counted by an argument (`numkeys key [key ...]`). [`command_keys`]
//! answers for any row; the transaction layer locks what it returns.

use std::rc::Rc;

use crate::exec::LocalBoxFuture;
use crate::protocol::{parse_i64, Argv, Reply};
use crate::session::Session;
use crate::store::{CoreStore, Entry, KeyGuard, StoreResult};

/// One command (or subcommand).
pub struct CommandSpec {
    /// Lower-case name (`get`; a subcommand's own name, `setname`).
    pub name: &'static str,
    /// Redis arity: `n > 0` exactly n arguments with the name; `n < 0` at
    /// least `-n`.
    pub arity: i32,
    /// Flags as COMMAND shows them (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Where the keys are.
    pub keys: KeySpec,
    /// ACL categories (`@string`, ...), for COMMAND INFO.
    pub acl: &'static [&'static str],
    /// Documentation (COMMAND DOCS).
    pub doc: Doc,
    /// How it runs.
    pub run: Run,
    /// Subcommands (CLIENT, CONFIG, ...): then `run` is ignored.
    pub subcommands: &'static [CommandSpec],
    /// Finds the keys when `keys` cannot say where they are (a `numkeys`
    /// argument); `None` for the rows whose `keys` is exact.
    pub key_finder: Option<KeyFinder>,
}

/// Finds the key positions of a request (indices into its `Argv`, the
/// command name being 0). Only positions inside the request are returned;
/// a malformed count yields no keys (the body answers the error).
pub type KeyFinder = fn(&Argv) -> Vec<usize>;

impl CommandSpec {
    /// A command without subcommands (the rows of the family tables).
    pub const fn leaf(
        name: &'static str,
        arity: i32,
        flags: &'static [&'static str],
        keys: KeySpec,
        acl: &'static [&'static str],
        doc: Doc,
        run: Run,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            keys,
            acl,
            doc,
            run,
            subcommands: &[],
            key_finder: None,
        }
    }

    /// The same row with its keys found by `finder` instead of `keys`
    /// (which still answers COMMAND INFO's first / last / step).
    ///
    /// # Examples
    ///
    /// ```
    /// use frys_shards::command::{command_keys, numkeys_keys, CommandSpec, Doc, KeySpec, Run};
    /// use frys_shards::protocol::{Argv, Reply};
    ///
    /// const SINTERCARD: CommandSpec = CommandSpec::leaf(
    ///     "sintercard",
    ///     -3,
    ///     &["readonly", "movablekeys"],
    ///     KeySpec::NONE,
    ///     &["@read", "@set", "@slow"],
    ///     Doc::of("set", "Returns the number of members of the intersect of multiple sets.", "7.0.0", "", ""),
    ///     Run::Now(|_, _| Reply::Integer(0)),
    /// )
    /// .with_key_finder(numkeys_keys::<1>);
    ///
    /// let argv = Argv::from_args(&[b"SINTERCARD", b"2", b"a", b"b", b"LIMIT", b"5"]);
    /// assert_eq!(command_keys(&SINTERCARD, &argv), vec![2, 3]);
    /// ```
    pub const fn with_key_finder(self, finder: KeyFinder) -> CommandSpec {
        CommandSpec {
            key_finder: Some(finder),
            ..self
        }
    }

    /// A command on the key that is its first argument, run on the core
    /// owning that key (the rows of the collection families).
    pub const fn on_key(
        name: &'static str,
        arity: i32,
        flags: &'static [&'static str],
        acl: &'static [&'static str],
        doc: Doc,
        run: KeyFn,
    ) -> CommandSpec {
        CommandSpec::leaf(name, arity, flags, KeySpec::FIRST, acl, doc, Run::Key(run))
    }

    /// A command whose keys may live on several cores, run at the
    /// connection after the pipeline's earlier commands.
    pub const fn barrier(
        name: &'static str,
        arity: i32,
        flags: &'static [&'static str],
        keys: KeySpec,
        acl: &'static [&'static str],
        doc: Doc,
        run: BarrierFn,
    ) -> CommandSpec {
        CommandSpec::leaf(name, arity, flags, keys, acl, doc, Run::Barrier(run))
    }

    /// A command that takes no keys.
    pub const fn keyless(
        name: &'static str,
        arity: i32,
        flags: &'static [&'static str],
        acl: &'static [&'static str],
        doc: Doc,
        run: Run,
    ) -> CommandSpec {
        CommandSpec::leaf(name, arity, flags, KeySpec::NONE, acl, doc, run)
    }
}

/// Redis' legacy key specification: keys at `first`, `first + step`, ...
/// up to `last` (negative counts from the end, -1 = last argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Index of the first key, 0 for none.
    pub first: i32,
    /// Index of the last key (negative: from the end).
    pub last: i32,
    /// Distance between keys.
    pub step: i32,
}

impl KeySpec {
    /// No keys.
    pub const NONE: KeySpec = KeySpec {
        first: 0,
        last: 0,
        step: 0,
    };
    /// The key is the first argument.
    pub const FIRST: KeySpec = KeySpec {
        first: 1,
        last: 1,
        step: 1,
    };
    /// Every argument is a key.
    pub const ALL: KeySpec = KeySpec {
        first: 1,
        last: -1,
        step: 1,
    };
    /// Arguments alternate key, value.
    pub const PAIRS: KeySpec = KeySpec {
        first: 1,
        last: -1,
        step: 2,
    };
    /// The first two arguments are keys.
    pub const TWO: KeySpec = KeySpec {
        first: 1,
        last: 2,
        step: 1,
    };

    /// Indices of the keys in a request of `argc` arguments.
    pub fn positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let (first, step) = (self.first.max(0) as usize, self.step.max(1) as usize);
        let last = if self.last < 0 {
            argc as i64 + i64::from(self.last)
        } else {
            i64::from(self.last)
        };
        let end = if first == 0 || last < first as i64 {
            0
        } else {
            (last as usize + 1).min(argc)
        };
        (first..end).step_by(step)
    }
}

/// Every key position of `argv` for `spec` (its key finder, else its
/// [`KeySpec`]), in request order, each inside the request.
pub fn command_keys(spec: &CommandSpec, argv: &Argv) -> Vec<usize> {
    match spec.key_finder {
        Some(find) => find(argv)
            .into_iter()
            .filter(|&i| i > 0 && i < argv.len())
            .collect(),
        None => spec.keys.positions(argv.len()).collect(),
    }
}

/// Keys counted by the argument at `AT`: `... numkeys key [key ...]`
/// (SINTERCARD, LMPOP, ZMPOP, ZINTERCARD, ZDIFF, ZUNION, ZINTER at 1;
/// EVAL, EVALSHA, FCALL, BLMPOP, BZMPOP at 2).
pub fn numkeys_keys<const AT: usize>(argv: &Argv) -> Vec<usize> {
    counted_keys(argv, AT).collect()
}

/// `destination numkeys key [key ...]` (ZUNIONSTORE, ZINTERSTORE,
/// ZDIFFSTORE): the destination, then the counted keys.
pub fn dest_plus_numkeys_keys(argv: &Argv) -> Vec<usize> {
    std::iter::once(1).chain(counted_keys(argv, 2)).collect()
}

/// The `numkeys` keys after the count at `at`; none when the count is not
/// a positive integer or there are fewer arguments than it says.
fn counted_keys(argv: &Argv, at: usize) -> std::ops::Range<usize> {
    let first = at + 1;
    match argv.get(at).and_then(parse_i64) {
        Some(n) if n > 0 && (n as u64) <= argv.len().saturating_sub(first) as u64 => {
            first..first + n as usize
        }
        _ => 0..0,
    }
}

/// Documentation of a command, for COMMAND DOCS and `--help`-like hints.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// One line.
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// Group (`string`, `generic`, `connection`, `server`).
    pub group: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
    /// Arguments in Redis' usage syntax (`key value [NX | XX]`).
    pub args: &'static str,
}

impl Doc {
    /// The documentation of a command of `group`.
    pub const fn of(
        group: &'static str,
        summary: &'static str,
        since: &'static str,
        complexity: &'static str,
        args: &'static str,
    ) -> Doc {
        Doc {
            summary,
            since,
            group,
            complexity,
            args,
        }
    }
}

/// What runs on the core owning a command's key.
pub type KeyFn = fn(KeyCtx, Argv) -> LocalBoxFuture<Reply>;

/// What a barrier command runs at the connection.
pub type BarrierFn = fn(BarrierCtx, Argv) -> LocalBoxFuture<Reply>;

/// How a command runs.
#[derive(Clone, Copy)]
pub enum Run {
    /// At the connection, synchronously, in pipeline order.
    Now(fn(&mut Session, &Argv) -> Reply),
    /// At the connection, after every earlier command of the pipeline has
    /// its reply; it may visit every core.
    Barrier(BarrierFn),
    /// On the core owning the (single) key.
    Key(KeyFn),
    /// Keys split by owning core; each core runs `part` on its keys (the
    /// command name plus its key [and value] arguments, in order) and the
    /// replies are combined by `merge`.
    Fanout {
        /// Runs on each owning core.
        part: KeyFn,
        /// Combines the parts' replies.
        merge: Merge,
    },
}

/// How the parts of a fan-out command are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Integers are added (DEL, EXISTS, TOUCH, UNLINK).
    Sum,
    /// `+OK` if every part answered `+OK` (MSET).
    Ok,
    /// Each part answers an array, one element per key; the elements are
    /// put back in the request's key order (MGET).
    PerKey,
}

/// Context of a keyed command on the owning core.
///
/// A body takes its keys' locks and reads through the context, never
/// through the store directly: inside a transaction (`held`) the caller
/// already holds the lock of every key the command touches, so the body
/// must neither take them again nor wait for them, and must not block
/// (a blocking command inside MULTI answers as if it timed out).
pub struct KeyCtx {
    /// The core's store.
    pub store: Rc<CoreStore>,
    /// Namespace id of the client's database, resolved once where the
    /// command was dispatched (so a concurrent SWAPDB cannot split it).
    pub ns: u16,
    /// Whether the caller holds the locks of every key of the command.
    pub held: bool,
    /// The client's protocol (2 or 3), for replies whose shape differs
    /// beyond what the encoder maps (pairs of HRANDFIELD, ZRANGE ...).
    pub resp: u8,
}

impl KeyCtx {
    /// A context for a command that takes its own locks.
    pub fn new(store: Rc<CoreStore>, ns: u16) -> KeyCtx {
        KeyCtx {
            store,
            ns,
            held: false,
            resp: 2,
        }
    }

    /// Takes `key`'s write lock (nothing if the caller holds it).
    pub async fn lock(&self, key: &[u8]) -> Option<KeyGuard> {
        if self.held {
            return None;
        }
        Some(self.store.lock(self.ns, key).await)
    }

    /// Takes the write locks of `keys` (none if the caller holds them).
    pub async fn lock_all(&self, keys: &[&[u8]]) -> Vec<KeyGuard> {
        if self.held {
            return Vec::new();
        }
        self.store.lock_all(self.ns, keys).await
    }

    /// Reads `key`, waiting behind in-flight writers unless the caller
    /// holds its lock (then waiting would wait for itself).
    pub async fn get(&self, key: &[u8]) -> StoreResult<Option<Entry>> {
        if self.held {
            self.store.get_unlocked(self.ns, key).await
        } else {
            self.store.get(self.ns, key).await
        }
    }
}

/// Context of a barrier command at the connection.
#[derive(Clone)]
pub struct BarrierCtx {
    /// The client's logical database.
    pub db: u16,
    /// Its namespace id, resolved once at dispatch: every step of the
    /// command uses it, so a concurrent SWAPDB cannot split the command
    /// between two databases.
    pub ns: u16,
    /// The client's id.
    pub client_id: u64,
    /// The client's protocol (2 or 3).
    pub resp: u8,
    /// Whether the caller (EXEC) already holds the locks of every key the
    /// command touches: then [`crate::txn::Txn::begin`] locks nothing and
    /// the body must not wait for any key (nor block).
    pub held: bool,
    /// Cluster mode: the client's ASKING flag as the dispatcher saw it,
    /// for the check made again once the keys are locked
    /// ([`crate::cluster::refuse_locked`]).
    pub asking: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Argv {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        Argv::from_args(&args)
    }

    #[test]
    fn numkeys_finders_count_the_keys_and_refuse_bad_counts() {
        let a = argv(&["sintercard", "2", "a", "b", "LIMIT", "1"]);
        assert_eq!(numkeys_keys::<1>(&a), vec![2, 3]);
        let a = argv(&["blmpop", "0", "2", "a", "b", "LEFT"]);
        assert_eq!(numkeys_keys::<2>(&a), vec![3, 4]);
        let a = argv(&["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"]);
        assert_eq!(dest_plus_numkeys_keys(&a), vec![1, 3, 4]);
        for bad in ["0", "-1", "x", "3"] {
            let a = argv(&["lmpop", bad, "a", "b"]);
            assert!(numkeys_keys::<1>(&a).is_empty(), "{bad}");
        }
        assert_eq!(
            dest_plus_numkeys_keys(&argv(&["zdiffstore", "d", "9"])),
            vec![1]
        );
    }

    #[test]
    fn command_keys_uses_the_finder_or_the_key_spec() {
        let doc = Doc::of("generic", "", "", "", "");
        let run = Run::Now(|_, _| Reply::ok());
        let fixed = CommandSpec::leaf("x", -2, &[], KeySpec::PAIRS, &[], doc, run);
        assert_eq!(
            command_keys(&fixed, &argv(&["x", "a", "1", "b", "2"])),
            vec![1, 3]
        );
        let counted = CommandSpec::leaf("y", -2, &[], KeySpec::NONE, &[], doc, run)
            .with_key_finder(numkeys_keys::<1>);
        assert_eq!(command_keys(&counted, &argv(&["y", "1", "k"])), vec![2]);
    }
}
