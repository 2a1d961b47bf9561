//! String commands. Bodies run on the core owning the key (or, for
//! fan-outs, on each owning core with that core's keys), parse their own
//! options and touch only that core's store.

use super::body::{arg, boxed, store_err, CmdResult};
use crate::command::{parse_f64, parse_i64, CommandSpec, Doc, KeyCtx, KeySpec, Merge, Run};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{format_incrbyfloat, Argv, Reply};
use crate::store::{now_ms, Entry, ValueType};

/// Reads `key` as a string: `Ok(None)` if absent, WRONGTYPE for another type.
pub(crate) async fn read_string(
    ctx: &KeyCtx,
    key: &[u8],
    locked: bool,
) -> Result<Option<Entry>, Reply> {
    let entry = if locked {
        ctx.store.get_unlocked(ctx.ns, key).await
    } else {
        ctx.get(key).await
    }
    .map_err(store_err)?;
    match entry {
        Some(e) if e.kind != ValueType::String => Err(Reply::error(errors::WRONGTYPE)),
        other => Ok(other),
    }
}

/// The longest string a command may build: `proto-max-bulk-len`, and no
/// more than a record can hold.
fn max_bulk() -> usize {
    crate::config::live(|c| c.limits().max_bulk_len).min(crate::store::MAX_PAYLOAD_LEN)
}

/// An expiry option as SET / GETEX parse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// No expiry option.
    None,
    /// Expire at this unix millisecond.
    At(u64),
    /// KEEPTTL.
    Keep,
    /// PERSIST (GETEX).
    Persist,
}

/// Parses the time of EX / PX / EXAT / PXAT into an absolute unix ms, as
/// Redis' `getExpireMillisecondsOrReply` does.
pub(crate) fn expire_at(
    value: &[u8],
    unit_seconds: bool,
    absolute: bool,
    cmd: &str,
) -> Result<u64, Reply> {
    let n = parse_i64(value).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
    let invalid = || Reply::error(errors::invalid_expire_time(cmd));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = if unit_seconds {
        n.checked_mul(1000).ok_or_else(invalid)?
    } else {
        n
    };
    let at = if absolute {
        ms
    } else {
        ms.checked_add(now_ms() as i64).ok_or_else(invalid)?
    };
    Ok(at as u64)
}

struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    expiry: Expiry,
}

fn parse_set_options(argv: &Argv, from: usize) -> Result<SetOptions, Reply> {
    let mut o = SetOptions {
        nx: false,
        xx: false,
        get: false,
        expiry: Expiry::None,
    };
    let syntax = || Reply::error(errors::SYNTAX);
    let mut i = from;
    while i < argv.len() {
        let opt = arg(argv, i).to_ascii_uppercase();
        let next = argv.get(i + 1);
        match opt.as_slice() {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            b"KEEPTTL" if o.expiry == Expiry::None => o.expiry = Expiry::Keep,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if o.expiry == Expiry::None => {
                let Some(v) = next else { return Err(syntax()) };
                let secs = opt == b"EX" || opt == b"EXAT";
                let abs = opt.ends_with(b"AT");
                o.expiry = Expiry::At(expire_at(v, secs, abs, "set")?);
                i += 1;
            }
            _ => return Err(syntax()),
        }
        i += 1;
    }
    Ok(o)
}

async fn write_or_expire(ctx: &KeyCtx, key: &[u8], entry: Entry) -> Result<(), Reply> {
    match entry.expires_at {
        // A time already past: the key is set and at once gone, as in Redis.
        Some(at) if at <= now_ms() => ctx.store.delete(ctx.ns, key).await,
        _ => ctx.store.put(ctx.ns, key, &entry).await,
    }
    .map_err(store_err)
}

fn get(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        Ok(match read_string(&ctx, arg(&argv, 1), false).await? {
            Some(e) => Reply::Bulk(e.payload),
            None => Reply::Null,
        })
    })
}

fn set(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let o = parse_set_options(&argv, 3)?;
        let key = arg(&argv, 1);
        let value = arg(&argv, 2).to_vec();
        let blind = !o.nx && !o.xx && !o.get && o.expiry != Expiry::Keep;
        let _guard = ctx.lock(key).await;
        let old = if blind {
            None
        } else if o.get {
            read_string(&ctx, key, true).await?
        } else {
            ctx.store
                .get_unlocked(ctx.ns, key)
                .await
                .map_err(store_err)?
        };
        let exists = old.is_some();
        let old_reply = || match &old {
            Some(e) => Reply::Bulk(e.payload.clone()),
            None => Reply::Null,
        };
        if (o.nx && exists) || (o.xx && !exists) {
            return Ok(if o.get { old_reply() } else { Reply::Null });
        }
        let expires_at = match o.expiry {
            Expiry::At(at) => Some(at),
            Expiry::Keep => old.as_ref().and_then(|e| e.expires_at),
            Expiry::None | Expiry::Persist => None,
        };
        let entry = Entry {
            kind: ValueType::String,
            expires_at,
            payload: value,
        };
        write_or_expire(&ctx, key, entry).await?;
        Ok(if o.get { old_reply() } else { Reply::ok() })
    })
}

fn setnx(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _guard = ctx.lock(key).await;
        if ctx
            .store
            .get_unlocked(ctx.ns, key)
            .await
            .map_err(store_err)?
            .is_some()
        {
            return Ok(Reply::Integer(0));
        }
        ctx.store
            .put(ctx.ns, key, &Entry::string(arg(&argv, 2).to_vec()))
            .await
            .map_err(store_err)?;
        Ok(Reply::Integer(1))
    })
}

fn setex_generic(
    ctx: KeyCtx,
    argv: Argv,
    seconds: bool,
    cmd: &'static str,
) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let at = expire_at(arg(&argv, 2), seconds, false, cmd)?;
        let _guard = ctx.lock(key).await;
        let entry = Entry {
            kind: ValueType::String,
            expires_at: Some(at),
            payload: arg(&argv, 3).to_vec(),
        };
        write_or_expire(&ctx, key, entry).await?;
        Ok(Reply::ok())
    })
}

fn setex(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    setex_generic(ctx, argv, true, "setex")
}

fn psetex(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    setex_generic(ctx, argv, false, "psetex")
}

fn getset(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _guard = ctx.lock(key).await;
        let old = read_string(&ctx, key, true).await?;
        ctx.store
            .put(ctx.ns, key, &Entry::string(arg(&argv, 2).to_vec()))
            .await
            .map_err(store_err)?;
        Ok(old.map(|e| Reply::Bulk(e.payload)).unwrap_or(Reply::Null))
    })
}

fn getdel(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _guard = ctx.lock(key).await;
        let Some(old) = read_string(&ctx, key, true).await? else {
            return Ok(Reply::Null);
        };
        ctx.store.delete(ctx.ns, key).await.map_err(store_err)?;
        Ok(Reply::Bulk(old.payload))
    })
}

fn getex(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let mut expiry = Expiry::None;
        let mut i = 2;
        while i < argv.len() {
            let opt = arg(&argv, i).to_ascii_uppercase();
            match opt.as_slice() {
                b"PERSIST" if expiry == Expiry::None => expiry = Expiry::Persist,
                b"EX" | b"PX" | b"EXAT" | b"PXAT" if expiry == Expiry::None => {
                    let Some(v) = argv.get(i + 1) else {
                        return Err(Reply::error(errors::SYNTAX));
                    };
                    let secs = opt == b"EX" || opt == b"EXAT";
                    expiry = Expiry::At(expire_at(v, secs, opt.ends_with(b"AT"), "getex")?);
                    i += 1;
                }
                _ => return Err(Reply::error(errors::SYNTAX)),
            }
            i += 1;
        }
        let _guard = match expiry {
            Expiry::None => None,
            _ => Some(ctx.lock(key).await),
        };
        let Some(mut e) = read_string(&ctx, key, _guard.is_some()).await? else {
            return Ok(Reply::Null);
        };
        let value = e.payload.clone();
        match expiry {
            Expiry::None | Expiry::Keep => {}
            Expiry::Persist => {
                if e.expires_at.is_some() {
                    e.expires_at = None;
                    ctx.store.put(ctx.ns, key, &e).await.map_err(store_err)?;
                }
            }
            Expiry::At(at) => {
                e.expires_at = Some(at);
                write_or_expire(&ctx, key, e).await?;
            }
        }
        Ok(Reply::Bulk(value))
    })
}

fn mget_part(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    Box::pin(async move {
        let mut out = Vec::with_capacity(argv.len().saturating_sub(1));
        for key in argv.iter().skip(1) {
            out.push(match ctx.get(key).await {
                Ok(Some(e)) if e.kind == ValueType::String => Reply::Bulk(e.payload),
                Ok(_) => Reply::Null,
                Err(e) => return store_err(e),
            });
        }
        Reply::Array(out)
    })
}

fn mset_part(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let pairs: Vec<(&[u8], Entry)> = argv
            .iter()
            .skip(1)
            .collect::<Vec<_>>()
            .chunks(2)
            .filter_map(|c| match c {
                [k, v] => Some((*k, Entry::string(v.to_vec()))),
                _ => None,
            })
            .collect();
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| *k).collect();
        let _guards = ctx.lock_all(&keys).await;
        // The last value of a repeated key wins, as in Redis.
        let ops: Vec<(&[u8], Option<&Entry>)> = pairs.iter().map(|(k, e)| (*k, Some(e))).collect();
        ctx.store
            .write_many(ctx.ns, &ops)
            .await
            .map_err(store_err)?;
        Ok(Reply::ok())
    })
}

fn append(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _guard = ctx.lock(key).await;
        let mut e = read_string(&ctx, key, true)
            .await?
            .unwrap_or_else(|| Entry::string(Vec::new()));
        let add = arg(&argv, 2);
        if e.payload.len() + add.len() > max_bulk() {
            return Err(Reply::error(errors::STRING_TOO_LONG));
        }
        e.payload.extend_from_slice(add);
        ctx.store.put(ctx.ns, key, &e).await.map_err(store_err)?;
        Ok(Reply::Integer(e.payload.len() as i64))
    })
}

fn strlen(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let n = read_string(&ctx, arg(&argv, 1), false)
            .await?
            .map_or(0, |e| e.payload.len());
        Ok(Reply::Integer(n as i64))
    })
}

fn getrange(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let (Some(mut start), Some(mut end)) = (parse_i64(arg(&argv, 2)), parse_i64(arg(&argv, 3)))
        else {
            return Err(Reply::error(errors::NOT_AN_INTEGER));
        };
        let value = read_string(&ctx, arg(&argv, 1), false)
            .await?
            .map(|e| e.payload)
            .unwrap_or_default();
        let len = value.len() as i64;
        if start < 0 && end < 0 && start > end {
            return Ok(Reply::Bulk(Vec::new()));
        }
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        start = start.max(0);
        end = end.max(0);
        if end >= len {
            end = len - 1;
        }
        if start > end || len == 0 {
            return Ok(Reply::Bulk(Vec::new()));
        }
        Ok(Reply::Bulk(value[start as usize..=end as usize].to_vec()))
    })
}

fn setrange(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let offset =
            parse_i64(arg(&argv, 2)).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
        if offset < 0 {
            return Err(Reply::error(errors::OFFSET_OUT_OF_RANGE));
        }
        let value = arg(&argv, 3);
        let _guard = ctx.lock(key).await;
        let existing = read_string(&ctx, key, true).await?;
        if value.is_empty() {
            return Ok(Reply::Integer(
                existing.map_or(0, |e| e.payload.len() as i64),
            ));
        }
        let offset = offset as u64;
        if offset + value.len() as u64 > max_bulk() as u64 {
            return Err(Reply::error(errors::STRING_TOO_LONG));
        }
        let mut e = existing.unwrap_or_else(|| Entry::string(Vec::new()));
        let end = offset as usize + value.len();
        if e.payload.len() < end {
            e.payload.resize(end, 0);
        }
        e.payload[offset as usize..end].copy_from_slice(value);
        ctx.store.put(ctx.ns, key, &e).await.map_err(store_err)?;
        Ok(Reply::Integer(e.payload.len() as i64))
    })
}

async fn incr_by(ctx: KeyCtx, key: Vec<u8>, by: i64) -> CmdResult {
    let _guard = ctx.lock(&key).await;
    let mut e = read_string(&ctx, &key, true)
        .await?
        .unwrap_or_else(|| Entry::string(b"0".to_vec()));
    let current = parse_i64(&e.payload).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
    let next = current
        .checked_add(by)
        .ok_or_else(|| Reply::error(errors::INCR_OVERFLOW))?;
    e.payload = next.to_string().into_bytes();
    ctx.store.put(ctx.ns, &key, &e).await.map_err(store_err)?;
    Ok(Reply::Integer(next))
}

fn incr(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(incr_by(ctx, arg(&argv, 1).to_vec(), 1))
}

fn decr(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(incr_by(ctx, arg(&argv, 1).to_vec(), -1))
}

fn incrby(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    let by = parse_i64(arg(&argv, 2));
    let key = arg(&argv, 1).to_vec();
    boxed(async move {
        let by = by.ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
        incr_by(ctx, key, by).await
    })
}

fn decrby(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    let by = parse_i64(arg(&argv, 2));
    let key = arg(&argv, 1).to_vec();
    boxed(async move {
        let by = by.ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
        let by = by
            .checked_neg()
            .ok_or_else(|| Reply::error(errors::DECR_OVERFLOW))?;
        incr_by(ctx, key, by).await
    })
}

fn incrbyfloat(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let by = parse_f64(arg(&argv, 2)).ok_or_else(|| Reply::error(errors::NOT_A_FLOAT))?;
        let _guard = ctx.lock(key).await;
        let mut e = read_string(&ctx, key, true)
            .await?
            .unwrap_or_else(|| Entry::string(b"0".to_vec()));
        let current = parse_f64(&e.payload).ok_or_else(|| Reply::error(errors::NOT_A_FLOAT))?;
        let next = current + by;
        if !next.is_finite() {
            return Err(Reply::error(errors::INCR_NAN_OR_INFINITY));
        }
        e.payload = format_incrbyfloat(next).into_bytes();
        ctx.store.put(ctx.ns, key, &e).await.map_err(store_err)?;
        Ok(Reply::Bulk(e.payload))
    })
}

/// Documentation of a command of this family.
const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("string", summary, since, complexity, args)
}

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const RF: &[&str] = &["readonly", "fast"];
const R: &[&str] = &["readonly"];
const ACL_W: &[&str] = &["@write", "@string", "@slow"];
const ACL_WF: &[&str] = &["@write", "@string", "@fast"];
const ACL_RF: &[&str] = &["@read", "@string", "@fast"];
const ACL_R: &[&str] = &["@read", "@string", "@slow"];

/// The string family.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::leaf("get", 2, RF, KeySpec::FIRST, ACL_RF, doc("Returns the string value of a key.", "1.0.0", "O(1)", "key"), Run::Key(get)),
    CommandSpec::leaf("set", -3, W, KeySpec::FIRST, ACL_W, doc("Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "O(1)", "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"), Run::Key(set)),
    CommandSpec::leaf("setnx", 3, WF, KeySpec::FIRST, ACL_WF, doc("Set the string value of a key only when the key doesn't exist.", "1.0.0", "O(1)", "key value"), Run::Key(setnx)),
    CommandSpec::leaf("setex", 4, W, KeySpec::FIRST, ACL_W, doc("Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0", "O(1)", "key seconds value"), Run::Key(setex)),
    CommandSpec::leaf("psetex", 4, W, KeySpec::FIRST, ACL_W, doc("Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "2.6.0", "O(1)", "key milliseconds value"), Run::Key(psetex)),
    CommandSpec::leaf("getset", 3, WF, KeySpec::FIRST, ACL_WF, doc("Returns the previous string value of a key after setting it to a new value.", "1.0.0", "O(1)", "key value"), Run::Key(getset)),
    CommandSpec::leaf("getdel", 2, &["write", "fast"], KeySpec::FIRST, ACL_WF, doc("Returns the string value of a key after deleting the key.", "6.2.0", "O(1)", "key"), Run::Key(getdel)),
    CommandSpec::leaf("getex", -2, &["write", "fast"], KeySpec::FIRST, ACL_WF, doc("Returns the string value of a key after setting its expiration time.", "6.2.0", "O(1)", "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"), Run::Key(getex)),
    CommandSpec::leaf("mget", -2, RF, KeySpec::ALL, ACL_RF, doc("Atomically returns the string values of one or more keys.", "1.0.0", "O(N) where N is the number of keys to retrieve.", "key [key ...]"), Run::Fanout { part: mget_part, merge: Merge::PerKey }),
    CommandSpec::leaf("mset", -3, W, KeySpec::PAIRS, ACL_W, doc("Atomically creates or modifies the string values of one or more keys.", "1.0.1", "O(N) where N is the number of keys to set.", "key value [key value ...]"), Run::Fanout { part: mset_part, merge: Merge::Ok }),
    CommandSpec::leaf("msetnx", -3, W, KeySpec::PAIRS, ACL_W, doc("Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1", "O(N) where N is the number of keys to set.", "key value [key value ...]"), Run::Barrier(super::cross_core::msetnx)),
    CommandSpec::leaf("append", 3, WF, KeySpec::FIRST, ACL_WF, doc("Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", "key value"), Run::Key(append)),
    CommandSpec::leaf("strlen", 2, RF, KeySpec::FIRST, ACL_RF, doc("Returns the length of a string value.", "2.2.0", "O(1)", "key"), Run::Key(strlen)),
    CommandSpec::leaf("getrange", 4, R, KeySpec::FIRST, ACL_R, doc("Returns a substring of the string stored at a key.", "2.4.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "key start end"), Run::Key(getrange)),
    CommandSpec::leaf("substr", 4, R, KeySpec::FIRST, ACL_R, doc("Returns a substring from a string value.", "1.0.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "key start end"), Run::Key(getrange)),
    CommandSpec::leaf("setrange", 4, W, KeySpec::FIRST, ACL_W, doc("Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", "key offset value"), Run::Key(setrange)),
    CommandSpec::leaf("incr", 2, WF, KeySpec::FIRST, ACL_WF, doc("Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key"), Run::Key(incr)),
    CommandSpec::leaf("decr", 2, WF, KeySpec::FIRST, ACL_WF, doc("Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key"), Run::Key(decr)),
    CommandSpec::leaf("incrby", 3, WF, KeySpec::FIRST, ACL_WF, doc("Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key increment"), Run::Key(incrby)),
    CommandSpec::leaf("decrby", 3, WF, KeySpec::FIRST, ACL_WF, doc("Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)", "key decrement"), Run::Key(decrby)),
    CommandSpec::leaf("incrbyfloat", 3, WF, KeySpec::FIRST, ACL_WF, doc("Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "2.6.0", "O(1)", "key increment"), Run::Key(incrbyfloat)),
    CommandSpec::leaf("lcs", -3, R, KeySpec::TWO, ACL_R, doc("Finds the longest common substring.", "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"), Run::Barrier(super::cross_core::lcs)),
];
