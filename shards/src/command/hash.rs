//! Hash commands. A hash is collection metadata plus one element record
//! per field (`store::collection`); every body runs on the core owning the
//! key, holding the key's lock from its first read to its write.

use super::body::{arg, boxed};
use super::coll::{self, Sample};
use crate::command::{parse_f64, parse_i64, CommandSpec, Doc, KeyCtx};
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{format_incrbyfloat, Argv, Reply};
use crate::store::{Collection, ValueType};

const HASH: ValueType = ValueType::Hash;
const NOT_INTEGER: &str = "ERR hash value is not an integer";
const NOT_FLOAT: &str = "ERR hash value is not a float";

async fn field(
    ctx: &KeyCtx,
    key: &[u8],
    c: &Collection,
    f: &[u8],
) -> Result<Option<Vec<u8>>, Reply> {
    ctx.store
        .element(ctx.ns, key, c.meta.version, &coll::subkey(HASH, f))
        .await
        .map_err(super::body::store_err)
}

/// Sets the field/value pairs of `argv[2..]`; returns how many were new.
/// `nx`: only fields that do not exist.
async fn set_fields(ctx: &KeyCtx, argv: &Argv, nx: bool) -> Result<i64, Reply> {
    let key = arg(argv, 1);
    let _g = ctx.lock(key).await;
    let mut c = coll::open_or_new(ctx, key, HASH).await?;
    let mut w = coll::writer(ctx, key, &c);
    let mut added = 0;
    let mut seen = std::collections::HashSet::new();
    for i in (2..argv.len()).step_by(2) {
        let (f, v) = (arg(argv, i), arg(argv, i + 1));
        let new = if seen.insert(f) {
            c.meta.count == 0 || field(ctx, key, &c, f).await?.is_none()
        } else {
            false // repeated in this call: the first occurrence counted it
        };
        if nx && !new {
            continue;
        }
        w.put(&coll::subkey(HASH, f), v);
        if new {
            added += 1;
        }
    }
    // A field over the storage limits leaves `w` empty: refuse, not skip.
    w.check().map_err(crate::command::body::store_err)?;
    if w.is_empty() {
        return Ok(0);
    }
    c.meta.count += added as u64;
    coll::commit(ctx, w, &c).await?;
    Ok(added)
}

fn hset(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        if !argv.len().is_multiple_of(2) {
            return Err(Reply::error(errors::wrong_number_of_arguments("hset")));
        }
        Ok(Reply::Integer(set_fields(&ctx, &argv, false).await?))
    })
}

fn hmset(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        if !argv.len().is_multiple_of(2) {
            return Err(Reply::error(errors::wrong_number_of_arguments("hmset")));
        }
        set_fields(&ctx, &argv, false).await?;
        Ok(Reply::ok())
    })
}

fn hsetnx(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { Ok(Reply::Integer(set_fields(&ctx, &argv, true).await?)) })
}

fn hget(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, HASH).await? else {
            return Ok(Reply::Null);
        };
        Ok(field(&ctx, key, &c, arg(&argv, 2))
            .await?
            .map_or(Reply::Null, Reply::Bulk))
    })
}

fn hmget(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let c = coll::open(&ctx, key, HASH).await?;
        let mut out = Vec::with_capacity(argv.len() - 2);
        for f in argv.iter().skip(2) {
            out.push(match &c {
                Some(c) => field(&ctx, key, c, f)
                    .await?
                    .map_or(Reply::Null, Reply::Bulk),
                None => Reply::Null,
            });
        }
        Ok(Reply::Array(out))
    })
}

fn hdel(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(mut c) = coll::open(&ctx, key, HASH).await? else {
            return Ok(Reply::Integer(0));
        };
        let mut w = coll::writer(&ctx, key, &c);
        let mut gone = std::collections::HashSet::new();
        for f in argv.iter().skip(2) {
            if !gone.contains(f) && field(&ctx, key, &c, f).await?.is_some() {
                gone.insert(f);
                w.delete(&coll::subkey(HASH, f));
            }
        }
        c.meta.count -= gone.len() as u64;
        if !gone.is_empty() {
            coll::commit(&ctx, w, &c).await?;
        }
        Ok(Reply::Integer(gone.len() as i64))
    })
}

fn hlen(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let c = coll::open(&ctx, key, HASH).await?;
        Ok(Reply::Integer(c.map_or(0, |c| c.meta.count as i64)))
    })
}

fn hexists(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, HASH).await? else {
            return Ok(Reply::Integer(0));
        };
        let found = field(&ctx, key, &c, arg(&argv, 2)).await?.is_some();
        Ok(Reply::Integer(i64::from(found)))
    })
}

fn hstrlen(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, HASH).await? else {
            return Ok(Reply::Integer(0));
        };
        let len = field(&ctx, key, &c, arg(&argv, 2))
            .await?
            .map_or(0, |v| v.len());
        Ok(Reply::Integer(len as i64))
    })
}

/// Reads field `f` for an increment: its value (if any) and the hash.
async fn incr_target(
    ctx: &KeyCtx,
    key: &[u8],
    f: &[u8],
) -> Result<(Collection, Option<Vec<u8>>), Reply> {
    let c = coll::open_or_new(ctx, key, HASH).await?;
    let old = if c.meta.count == 0 {
        None
    } else {
        field(ctx, key, &c, f).await?
    };
    Ok((c, old))
}

async fn write_field(
    ctx: &KeyCtx,
    key: &[u8],
    mut c: Collection,
    f: &[u8],
    v: &[u8],
    new: bool,
) -> Result<(), Reply> {
    let mut w = coll::writer(ctx, key, &c);
    w.put(&coll::subkey(HASH, f), v);
    if new {
        c.meta.count += 1;
    }
    coll::commit(ctx, w, &c).await
}

fn hincrby(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let f = arg(&argv, 2);
        let by = parse_i64(arg(&argv, 3)).ok_or_else(|| Reply::error(errors::NOT_AN_INTEGER))?;
        let _g = ctx.lock(key).await;
        let (c, old) = incr_target(&ctx, key, f).await?;
        let cur = match &old {
            Some(v) => parse_i64(v).ok_or_else(|| Reply::error(NOT_INTEGER))?,
            None => 0,
        };
        let n = cur
            .checked_add(by)
            .ok_or_else(|| Reply::error(errors::INCR_OVERFLOW))?;
        write_field(&ctx, key, c, f, n.to_string().as_bytes(), old.is_none()).await?;
        Ok(Reply::Integer(n))
    })
}

fn hincrbyfloat(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let key = arg(&argv, 1);
        let f = arg(&argv, 2);
        let by = parse_f64(arg(&argv, 3)).ok_or_else(|| Reply::error(errors::NOT_A_FLOAT))?;
        let _g = ctx.lock(key).await;
        let (c, old) = incr_target(&ctx, key, f).await?;
        let cur = match &old {
            Some(v) => parse_f64(v).ok_or_else(|| Reply::error(NOT_FLOAT))?,
            None => 0.0,
        };
        let n = cur + by;
        if !n.is_finite() {
            return Err(Reply::error(errors::INCR_NAN_OR_INFINITY));
        }
        let text = format_incrbyfloat(n);
        write_field(&ctx, key, c, f, text.as_bytes(), old.is_none()).await?;
        Ok(Reply::Bulk(text.into_bytes()))
    })
}

/// Every field and value of `key` (empty if absent).
async fn all(ctx: &KeyCtx, key: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Reply> {
    let _g = ctx.lock(key).await;
    match coll::open(ctx, key, HASH).await? {
        Some(c) => coll::all_elements(ctx, key, &c, false).await,
        None => Ok(Vec::new()),
    }
}

fn hgetall(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let pairs = all(&ctx, arg(&argv, 1)).await?;
        Ok(Reply::Map(
            pairs
                .into_iter()
                .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
                .collect(),
        ))
    })
}

fn hkeys(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let pairs = all(&ctx, arg(&argv, 1)).await?;
        Ok(Reply::Array(
            pairs.into_iter().map(|(f, _)| Reply::Bulk(f)).collect(),
        ))
    })
}

fn hvals(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let pairs = all(&ctx, arg(&argv, 1)).await?;
        Ok(Reply::Array(
            pairs.into_iter().map(|(_, v)| Reply::Bulk(v)).collect(),
        ))
    })
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let with_values = match argv.len() {
            4 if arg(&argv, 3).eq_ignore_ascii_case(b"withvalues") => true,
            2 | 3 => false,
            _ => return Err(Reply::error(errors::SYNTAX)),
        };
        let sample = match argv.get(2) {
            Some(n) => coll::parse_sample(n, with_values)?,
            None => Sample::One,
        };
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, HASH).await? else {
            return Ok(match sample {
                Sample::One => Reply::Null,
                _ => Reply::empty_array(),
            });
        };
        let picked = coll::sample_elements(&ctx, key, &c, &sample).await?;
        if matches!(sample, Sample::One) {
            return Ok(picked
                .into_iter()
                .next()
                .map_or(Reply::Null, |(f, _)| Reply::Bulk(f)));
        }
        let resp3 = ctx.resp >= 3;
        let mut out = Vec::with_capacity(picked.len() * 2);
        for (f, v) in &picked {
            match (with_values, resp3) {
                (false, _) => out.push(Reply::Bulk(f.clone())),
                (true, true) => out.push(Reply::Array(vec![
                    Reply::Bulk(f.clone()),
                    Reply::Bulk(v.clone()),
                ])),
                (true, false) => {
                    out.push(Reply::Bulk(f.clone()));
                    out.push(Reply::Bulk(v.clone()));
                }
            }
        }
        Ok(Reply::Array(out))
    })
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
fn hscan(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move {
        let args = coll::parse_scan(&argv, true)?;
        let key = arg(&argv, 1);
        let _g = ctx.lock(key).await;
        let Some(c) = coll::open(&ctx, key, HASH).await? else {
            return Ok(coll::scan_reply(0, Vec::new()));
        };
        let (next, items) = coll::scan_step(&ctx, key, &c, &args).await?;
        let mut out = Vec::with_capacity(items.len() * 2);
        for (f, v) in items {
            out.push(Reply::Bulk(f));
            if !args.no_values {
                out.push(Reply::Bulk(v));
            }
        }
        Ok(coll::scan_reply(next, out))
    })
}

const W: &[&str] = &["write", "denyoom", "fast"];
const R: &[&str] = &["readonly", "fast"];
const RS: &[&str] = &["readonly"];
const ACL_W: &[&str] = &["@write", "@hash", "@fast"];
const ACL_R: &[&str] = &["@read", "@hash", "@fast"];
const ACL_RS: &[&str] = &["@read", "@hash", "@slow"];

const fn doc(
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    args: &'static str,
) -> Doc {
    Doc::of("hash", summary, since, complexity, args)
}

/// The hash commands.
pub const SPECS: &[CommandSpec] = &[
    CommandSpec::on_key("hset", -4, W, ACL_W, doc("Creates or modifies the value of a field in a hash.", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "key field value [field value ...]"), hset),
    CommandSpec::on_key("hmset", -4, W, ACL_W, doc("Sets the values of multiple fields.", "2.0.0", "O(N) where N is the number of fields being set.", "key field value [field value ...]"), hmset),
    CommandSpec::on_key("hsetnx", 4, W, ACL_W, doc("Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0", "O(1)", "key field value"), hsetnx),
    CommandSpec::on_key("hget", 3, R, ACL_R, doc("Returns the value of a field in a hash.", "2.0.0", "O(1)", "key field"), hget),
    CommandSpec::on_key("hmget", -3, R, ACL_R, doc("Returns the values of all fields in a hash.", "2.0.0", "O(N) where N is the number of fields being requested.", "key field [field ...]"), hmget),
    CommandSpec::on_key("hdel", -3, &["write", "fast"], &["@write", "@hash", "@fast"], doc("Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "2.0.0", "O(N) where N is the number of fields to be removed.", "key field [field ...]"), hdel),
    CommandSpec::on_key("hlen", 2, R, ACL_R, doc("Returns the number of fields in a hash.", "2.0.0", "O(1)", "key"), hlen),
    CommandSpec::on_key("hexists", 3, R, ACL_R, doc("Determines whether a field exists in a hash.", "2.0.0", "O(1)", "key field"), hexists),
    CommandSpec::on_key("hstrlen", 3, R, ACL_R, doc("Returns the length of the value of a field.", "3.2.0", "O(1)", "key field"), hstrlen),
    CommandSpec::on_key("hincrby", 4, W, ACL_W, doc("Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "2.0.0", "O(1)", "key field increment"), hincrby),
    CommandSpec::on_key("hincrbyfloat", 4, W, ACL_W, doc("Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "2.6.0", "O(1)", "key field increment"), hincrbyfloat),
    CommandSpec::on_key("hgetall", 2, RS, ACL_RS, doc("Returns all fields and values in a hash.", "2.0.0", "O(N) where N is the size of the hash.", "key"), hgetall),
    CommandSpec::on_key("hkeys", 2, RS, ACL_RS, doc("Returns all fields in a hash.", "2.0.0", "O(N) where N is the size of the hash.", "key"), hkeys),
    CommandSpec::on_key("hvals", 2, RS, ACL_RS, doc("Returns all values in a hash.", "2.0.0", "O(N) where N is the size of the hash.", "key"), hvals),
    CommandSpec::on_key("hrandfield", -2, RS, ACL_RS, doc("Returns one or more random fields from a hash.", "6.2.0", "O(N) where N is the number of fields returned", "key [count [WITHVALUES]]"), hrandfield),
    CommandSpec::on_key("hscan", -3, RS, ACL_RS, doc("Iterates over fields and values of a hash.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count] [NOVALUES]"), hscan),
];
