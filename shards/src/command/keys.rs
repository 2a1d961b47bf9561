//! Generic key commands that touch one core: DEL, UNLINK, EXISTS, TOUCH
//! (as fan-out parts), TYPE, EXPIRE and friends, TTL and friends, PERSIST,
//! OBJECT. Commands over several cores or the whole keyspace are in
//! `cross_core` and `global`.

use std::collections::HashSet;

use super::body::{arg, boxed, help_reply, store_err};
use super::cross_core;
use super::global;
use super::spec::{CommandSpec, Doc, KeyCtx, KeySpec, Merge, Run};
use crate::command::parse_i64;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store::{now_ms, Collection, Entry, ValueType};

fn del_part(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let keys: Vec<&[u8]> = argv.iter().skip(1).collect();
        let _guards = ctx.lock_all(&keys).await;
        let mut gone: HashSet<&[u8]> = HashSet::new();
        let mut deletes: Vec<(&[u8], Option<&Entry>)> = Vec::new();
        for key in &keys {
            if gone.contains(key) {
                continue;
            }
            if ctx
                .store
                .get_unlocked(ctx.ns, key)
                .await
                .map_err(store_err)?
                .is_some()
            {
                gone.insert(key);
                deletes.push((key, None));
            }
        }
        ctx.store
            .write_many(ctx.ns, &deletes)
            .await
            .map_err(store_err)?;
        Ok(Reply::Integer(deletes.len() as i64))
    })
}

fn exists_part(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let mut n = 0;
        for key in argv.iter().skip(1) {
            if ctx.get(key).await.map_err(store_err)?.is_some() {
                n += 1;
            }
        }
        Ok(Reply::Integer(n))
    })
}

fn type_of(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let e = ctx.get(arg(&argv, 1)).await.map_err(store_err)?;
        Ok(Reply::simple(e.map_or("none", |e| e.kind.name())))
    })
}

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn expire_generic(
    ctx: KeyCtx,
    argv: Argv,
    seconds: bool,
    absolute: bool,
    cmd: &'static str,
) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let mut f = ExpireFlags::default();
        for opt in argv.iter().skip(3) {
            match opt.to_ascii_uppercase().as_slice() {
                b"NX" => f.nx = true,
                b"XX" => f.xx = true,
                b"GT" => f.gt = true,
                b"LT" => f.lt = true,
                _ => return Err(Reply::error(errors::unsupported_option(opt))),
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            return Err(Reply::error(errors::EXPIRE_NX_AND_XX_GT_LT));
        }
        if f.gt && f.lt {
            return Err(Reply::error(errors::EXPIRE_GT_AND_LT));
        }
        let when = parse_i64(arg(&argv, 2)).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
        let invalid = || Reply::error(errors::invalid_expire_time(cmd));
        let when = if seconds {
            when.checked_mul(1000).ok_or_else(invalid)?
        } else {
            when
        };
        let base = if absolute { 0 } else { now_ms() as i64 };
        let when = when.checked_add(base).ok_or_else(invalid)?;
        let key = arg(&argv, 1);
        let _guard = ctx.lock(key).await;
        let Some(mut e) = ctx
            .store
            .get_unlocked(ctx.ns, key)
            .await
            .map_err(store_err)?
        else {
            return Ok(Reply::Integer(0));
        };
        let current = e.expires_at.map(|a| a as i64);
        let refused = (f.nx && current.is_some())
            || (f.xx && current.is_none())
            || (f.gt && current.is_none_or(|c| when <= c))
            || (f.lt && current.is_some_and(|c| when >= c));
        if refused {
            return Ok(Reply::Integer(0));
        }
        if when <= now_ms() as i64 {
            ctx.store.delete(ctx.ns, key).await.map_err(store_err)?;
        } else {
            e.expires_at = Some(when as u64);
            ctx.store.put(ctx.ns, key, &e).await.map_err(store_err)?;
        }
        Ok(Reply::Integer(1))
    })
}

fn expire(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    expire_generic(ctx, argv, true, false, "expire")
}
fn pexpire(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    expire_generic(ctx, argv, false, false, "pexpire")
}
fn expireat(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    expire_generic(ctx, argv, true, true, "expireat")
}
fn pexpireat(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    expire_generic(ctx, argv, false, true, "pexpireat")
}

#[derive(Clone, Copy)]
enum TtlKind {
    Ttl,
    Pttl,
    ExpireTime,
    PexpireTime,
}

fn ttl_generic(ctx: KeyCtx, argv: Argv, kind: TtlKind) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let Some(e) = ctx.get(arg(&argv, 1)).await.map_err(store_err)? else {
            return Ok(Reply::Integer(-2));
        };
        let Some(at) = e.expires_at else {
            return Ok(Reply::Integer(-1));
        };
        let left = (at as i64 - now_ms() as i64).max(0);
        Ok(Reply::Integer(match kind {
            TtlKind::Ttl => (left + 500) / 1000,
            TtlKind::Pttl => left,
            TtlKind::ExpireTime => at as i64 / 1000,
            TtlKind::PexpireTime => at as i64,
        }))
    })
}

fn ttl(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    ttl_generic(ctx, argv, TtlKind::Ttl)
}
fn pttl(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    ttl_generic(ctx, argv, TtlKind::Pttl)
}
fn expiretime(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    ttl_generic(ctx, argv, TtlKind::ExpireTime)
}
fn pexpiretime(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    ttl_generic(ctx, argv, TtlKind::PexpireTime)
}

fn persist(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _guard = ctx.lock(key).await;
        match ctx
            .store
            .get_unlocked(ctx.ns, key)
            .await
            .map_err(store_err)?
        {
            Some(mut e) if e.expires_at.is_some() => {
                e.expires_at = None;
                ctx.store.put(ctx.ns, key, &e).await.map_err(store_err)?;
                Ok(Reply::Integer(1))
            }
            _ => Ok(Reply::Integer(0)),
        }
    })
}

/// The encoding OBJECT ENCODING reports, as Redis would pick it.
fn string_encoding(value: &[u8]) -> &'static str {
    if value.len() <= 20 && parse_i64(value).is_some() {
        "int"
    } else if value.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// The encoding OBJECT ENCODING reports for a collection: the one Redis
/// picks at its default size thresholds (128 entries), by element count.
fn collection_encoding(kind: ValueType, e: &Entry) -> Result<&'static str, Reply> {
    let c = Collection::from_entry(e)
        .map_err(store_err)?
        .ok_or_else(|| Reply::error("ERR internal: not a collection"))?;
    let small = c.meta.count <= 128;
    Ok(match (kind, small) {
        (ValueType::List, true) => "listpack",
        (ValueType::List, false) => "quicklist",
        (ValueType::ZSet, false) => "skiplist",
        (ValueType::Hash | ValueType::Set, false) => "hashtable",
        _ => "listpack",
    })
}

fn object_generic(ctx: KeyCtx, argv: Argv, what: &'static str) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let Some(e) = ctx.get(arg(&argv, 2)).await.map_err(store_err)? else {
            return Ok(Reply::Null);
        };
        Ok(match what {
            "encoding" => Reply::bulk(match e.kind {
                ValueType::String => string_encoding(&e.payload),
                kind => collection_encoding(kind, &e)?,
            }),
            "freq" => {
                let lfu = crate::config::live(|c| {
                    c.get("maxmemory-policy").is_some_and(|p| p.contains("lfu"))
                });
                if !lfu {
                    return Err(Reply::error(errors::OBJECT_FREQ_NO_LFU));
                }
                Reply::Integer(0)
            }
            "refcount" => Reply::Integer(1),
            _ => {
                let lfu = crate::config::live(|c| {
                    c.get("maxmemory-policy").is_some_and(|p| p.contains("lfu"))
                });
                if lfu {
                    return Err(Reply::error(errors::OBJECT_IDLETIME_LFU));
                }
                Reply::Integer(0)
            }
        })
    })
}

fn object_encoding(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    object_generic(ctx, argv, "encoding")
}
fn object_freq(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    object_generic(ctx, argv, "freq")
}
fn object_idletime(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    object_generic(ctx, argv, "idletime")
}
fn object_refcount(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    object_generic(ctx, argv, "refcount")
}

fn object_help(_: &mut crate::session::Session, _: &Argv) -> Reply {
    let lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
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
    Doc::of("generic", summary, since, complexity, args)
}

const KEYSPACE_W: &[&str] = &["@keyspace", "@write", "@fast"];
const KEYSPACE_WS: &[&str] = &["@keyspace", "@write", "@slow"];
const KEYSPACE_R: &[&str] = &["@keyspace", "@read", "@fast"];
const KEYSPACE_RS: &[&str] = &["@keyspace", "@read", "@slow", "@dangerous"];
const WF: &[&str] = &["write", "fast"];
const RF: &[&str] = &["readonly", "fast"];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::leaf(
        "encoding",
        3,
        &["readonly"],
        KeySpec {
            first: 2,
            last: 2,
            step: 1,
        },
        &["@keyspace", "@read", "@slow"],
        doc(
            "Returns the internal encoding of a Redis object.",
            "2.2.3",
            "O(1)",
            "key",
        ),
        Run::Barrier(global::object_via_owner),
    ),
    CommandSpec::leaf(
        "freq",
        3,
        &["readonly"],
        KeySpec {
            first: 2,
            last: 2,
            step: 1,
        },
        &["@keyspace", "@read", "@slow"],
        doc(
            "Returns the logarithmic access frequency counter of a Redis object.",
            "4.0.0",
            "O(1)",
            "key",
        ),
        Run::Barrier(global::object_via_owner),
    ),
    CommandSpec::leaf(
        "idletime",
        3,
        &["readonly"],
        KeySpec {
            first: 2,
            last: 2,
            step: 1,
        },
        &["@keyspace", "@read", "@slow"],
        doc(
            "Returns the time since the last access to a Redis object.",
            "2.2.3",
            "O(1)",
            "key",
        ),
        Run::Barrier(global::object_via_owner),
    ),
    CommandSpec::leaf(
        "refcount",
        3,
        &["readonly"],
        KeySpec {
            first: 2,
            last: 2,
            step: 1,
        },
        &["@keyspace", "@read", "@slow"],
        doc(
            "Returns the reference count of a value of a key.",
            "2.2.3",
            "O(1)",
            "key",
        ),
        Run::Barrier(global::object_via_owner),
    ),
    CommandSpec::leaf(
        "help",
        2,
        &["loading", "stale"],
        KeySpec::NONE,
        &["@keyspace", "@slow"],
        doc(
            "Returns helpful text about the different subcommands.",
            "6.2.0",
            "O(1)",
            "",
        ),
        Run::Now(object_help),
    ),
];

/// The OBJECT subcommand bodies, by name (run on the key's owner).
pub(crate) fn object_body(sub: &[u8]) -> Option<super::spec::KeyFn> {
    match sub.to_ascii_lowercase().as_slice() {
        b"encoding" => Some(object_encoding),
        b"freq" => Some(object_freq),
        b"idletime" => Some(object_idletime),
        b"refcount" => Some(object_refcount),
        _ => None,
    }
}

/// The generic (keyspace) family.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::leaf("del", -2, &["write"], KeySpec::ALL, KEYSPACE_WS, doc("Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.", "key [key ...]"), Run::Fanout { part: del_part, merge: Merge::Sum }),
    CommandSpec::leaf("unlink", -2, WF, KeySpec::ALL, KEYSPACE_W, doc("Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size.", "key [key ...]"), Run::Fanout { part: del_part, merge: Merge::Sum }),
    CommandSpec::leaf("exists", -2, RF, KeySpec::ALL, KEYSPACE_R, doc("Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.", "key [key ...]"), Run::Fanout { part: exists_part, merge: Merge::Sum }),
    CommandSpec::leaf("touch", -2, RF, KeySpec::ALL, KEYSPACE_R, doc("Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1", "O(N) where N is the number of keys that will be touched.", "key [key ...]"), Run::Fanout { part: exists_part, merge: Merge::Sum }),
    CommandSpec::leaf("type", 2, RF, KeySpec::FIRST, KEYSPACE_R, doc("Determines the type of value stored at a key.", "1.0.0", "O(1)", "key"), Run::Key(type_of)),
    CommandSpec::leaf("expire", -3, WF, KeySpec::FIRST, KEYSPACE_W, doc("Sets the expiration time of a key in seconds.", "1.0.0", "O(1)", "key seconds [NX | XX | GT | LT]"), Run::Key(expire)),
    CommandSpec::leaf("pexpire", -3, WF, KeySpec::FIRST, KEYSPACE_W, doc("Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)", "key milliseconds [NX | XX | GT | LT]"), Run::Key(pexpire)),
    CommandSpec::leaf("expireat", -3, WF, KeySpec::FIRST, KEYSPACE_W, doc("Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)", "key unix-time-seconds [NX | XX | GT | LT]"), Run::Key(expireat)),
    CommandSpec::leaf("pexpireat", -3, WF, KeySpec::FIRST, KEYSPACE_W, doc("Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "O(1)", "key unix-time-milliseconds [NX | XX | GT | LT]"), Run::Key(pexpireat)),
    CommandSpec::leaf("ttl", 2, RF, KeySpec::FIRST, KEYSPACE_R, doc("Returns the expiration time in seconds of a key.", "1.0.0", "O(1)", "key"), Run::Key(ttl)),
    CommandSpec::leaf("pttl", 2, RF, KeySpec::FIRST, KEYSPACE_R, doc("Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)", "key"), Run::Key(pttl)),
    CommandSpec::leaf("expiretime", 2, RF, KeySpec::FIRST, KEYSPACE_R, doc("Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)", "key"), Run::Key(expiretime)),
    CommandSpec::leaf("pexpiretime", 2, RF, KeySpec::FIRST, KEYSPACE_R, doc("Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "O(1)", "key"), Run::Key(pexpiretime)),
    CommandSpec::leaf("persist", 2, WF, KeySpec::FIRST, KEYSPACE_W, doc("Removes the expiration time of a key.", "2.2.0", "O(1)", "key"), Run::Key(persist)),
    CommandSpec::leaf("keys", 2, &["readonly"], KeySpec::NONE, KEYSPACE_RS, doc("Returns all key names that match a pattern.", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "pattern"), Run::Barrier(global::keys)),
    CommandSpec::leaf("scan", -2, &["readonly"], KeySpec::NONE, &["@keyspace", "@read", "@slow"], doc("Iterates over the key names in the database.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "cursor [MATCH pattern] [COUNT count] [TYPE type]"), Run::Barrier(global::scan)),
    CommandSpec::leaf("randomkey", 1, &["readonly"], KeySpec::NONE, &["@keyspace", "@read", "@slow"], doc("Returns a random key name from the database.", "1.0.0", "O(1)", ""), Run::Barrier(global::randomkey)),
    CommandSpec::leaf("rename", 3, &["write"], KeySpec::TWO, KEYSPACE_WS, doc("Renames a key and overwrites the destination.", "1.0.0", "O(1)", "key newkey"), Run::Barrier(cross_core::rename)),
    CommandSpec::leaf("renamenx", 3, WF, KeySpec::TWO, KEYSPACE_W, doc("Renames a key only when the target key name doesn't exist.", "1.0.0", "O(1)", "key newkey"), Run::Barrier(cross_core::renamenx)),
    CommandSpec::leaf("copy", -3, &["write", "denyoom"], KeySpec::TWO, KEYSPACE_WS, doc("Copies the value of a key to a new key.", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "source destination [DB destination-db] [REPLACE]"), Run::Barrier(cross_core::copy)),
    CommandSpec::leaf("move", 3, WF, KeySpec::FIRST, KEYSPACE_W, doc("Moves a key to another database.", "1.0.0", "O(1)", "key db"), Run::Barrier(cross_core::move_key)),
    CommandSpec {
        name: "object",
        arity: -2,
        flags: &[],
        keys: KeySpec::NONE,
        acl: &["@slow"],
        doc: doc("A container for object introspection commands.", "2.2.3", "Depends on subcommand.", ""),
        run: Run::Now(object_help),
        subcommands: OBJECT_SUBCOMMANDS,
        key_finder: None,
    },
];
