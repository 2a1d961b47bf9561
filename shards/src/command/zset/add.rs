//! ZADD and ZINCRBY: Redis' `zaddGenericCommand` and `zsetAdd`.
//!
//! Options are read from the third argument on until one is not an
//! option word (so `ZINCRBY key NX m` is a syntax error, as in Redis);
//! every score is parsed before the set is touched, so a bad score
//! changes nothing. Each pair costs one point read of the member record
//! (skipped for a new set) and one or three record writes; all pairs and
//! the metadata go out in one batch. A member given twice in one call is
//! seen with the score the first occurrence gave it. A change serves the
//! clients blocked on the key for a sorted set (`blocking`) before the
//! key's lock is released.

use std::collections::HashMap;

use super::super::body::{arg, boxed};
use super::access::{self, ZWrite, ZSET};
use super::parse::parse_score;
use crate::command::KeyCtx;
use crate::errors;
use crate::exec::LocalBoxFuture;
use crate::protocol::{Argv, Reply};
use crate::store::Collection;

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { add(&ctx, &argv, false).await })
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: KeyCtx, argv: Argv) -> LocalBoxFuture<Reply> {
    boxed(async move { add(&ctx, &argv, true).await })
}

/// The options of one ZADD.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Flags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Parses the options and scores; returns them with the index of the
/// first score.
fn parse(argv: &Argv, incr: bool) -> Result<(Flags, Vec<f64>, usize), Reply> {
    let mut f = Flags {
        incr,
        ..Flags::default()
    };
    let mut at = 2;
    while at < argv.len() {
        let opt = arg(argv, at);
        let flag = match opt.to_ascii_lowercase().as_slice() {
            b"nx" => &mut f.nx,
            b"xx" => &mut f.xx,
            b"ch" => &mut f.ch,
            b"incr" => &mut f.incr,
            b"gt" => &mut f.gt,
            b"lt" => &mut f.lt,
            _ => break,
        };
        *flag = true;
        at += 1;
    }
    let elements = argv.len() - at;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(Reply::error(errors::SYNTAX));
    }
    if f.nx && f.xx {
        return Err(Reply::error(errors::ZADD_XX_AND_NX));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(Reply::error(errors::ZADD_GT_LT_NX));
    }
    if f.incr && elements > 2 {
        return Err(Reply::error(errors::ZADD_INCR_ONE_PAIR));
    }
    let scores = (at..argv.len())
        .step_by(2)
        .map(|i| parse_score(arg(argv, i)).ok_or_else(|| Reply::error(errors::NOT_A_FLOAT)))
        .collect::<Result<Vec<f64>, Reply>>()?;
    Ok((f, scores, at))
}

/// What `zsetAdd` did with one pair.
enum Outcome {
    Added(f64),
    Updated(f64),
    /// Processed without a change (same score, or a zero increment).
    Kept(f64),
    /// Not processed: NX/XX/GT/LT said no.
    Skipped,
}

/// `zsetAdd`: the decision for one pair, given the member's current
/// score; `Err` for a NaN increment.
fn decide(f: &Flags, score: f64, current: Option<f64>) -> Result<Outcome, Reply> {
    let Some(cur) = current else {
        return Ok(if f.xx {
            Outcome::Skipped
        } else {
            Outcome::Added(score)
        });
    };
    if f.nx {
        return Ok(Outcome::Skipped);
    }
    let score = if f.incr { score + cur } else { score };
    if score.is_nan() {
        return Err(Reply::error(errors::ZSCORE_NAN));
    }
    if (f.lt && score >= cur) || (f.gt && score <= cur) {
        return Ok(Outcome::Skipped);
    }
    Ok(if score != cur {
        Outcome::Updated(score)
    } else {
        Outcome::Kept(score)
    })
}

async fn add(ctx: &KeyCtx, argv: &Argv, incr: bool) -> Result<Reply, Reply> {
    let (f, scores, first) = parse(argv, incr)?;
    let key = arg(argv, 1);
    let _g = ctx.lock(key).await;
    let existing = access::open(ctx, key).await?;
    let fresh = existing.is_none();
    let mut c = match existing {
        Some(c) => c,
        None if f.xx => return Ok(reply(&f, 0, 0, None)),
        None => Collection::new(ZSET),
    };
    let mut w = ZWrite::new(ctx, key, &c);
    // Scores as this call left them, for members it already touched.
    let mut touched: HashMap<&[u8], f64> = HashMap::new();
    let (mut added, mut updated, mut last) = (0, 0, None);
    for (j, &score) in scores.iter().enumerate() {
        let member = arg(argv, first + 2 * j + 1);
        let current = match touched.get(member) {
            Some(s) => Some(*s),
            None if fresh => None,
            None => access::score(ctx, key, &c, member).await?,
        };
        match decide(&f, score, current)? {
            Outcome::Added(s) => {
                w.insert(member, s);
                c.meta.count += 1;
                added += 1;
                touched.insert(member, s);
                last = Some(s);
            }
            Outcome::Updated(s) => {
                w.rescore(member, current.unwrap_or(s), s);
                updated += 1;
                touched.insert(member, s);
                last = Some(s);
            }
            Outcome::Kept(s) => last = Some(s),
            Outcome::Skipped => {}
        }
    }
    if added + updated > 0 {
        w.commit(ctx, &c).await?;
        super::serve_waiters(ctx, key).await;
    }
    Ok(reply(&f, added, updated, last))
}

fn reply(f: &Flags, added: i64, updated: i64, last: Option<f64>) -> Reply {
    if f.incr {
        return last.map_or(Reply::Null, Reply::Double);
    }
    Reply::Integer(if f.ch { added + updated } else { added })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(s: &str) -> Flags {
        let mut f = Flags::default();
        for w in s.split_whitespace() {
            match w {
                "nx" => f.nx = true,
                "xx" => f.xx = true,
                "gt" => f.gt = true,
                "lt" => f.lt = true,
                "incr" => f.incr = true,
                _ => {}
            }
        }
        f
    }

    fn score(o: Outcome) -> Option<f64> {
        match o {
            Outcome::Added(s) | Outcome::Updated(s) | Outcome::Kept(s) => Some(s),
            Outcome::Skipped => None,
        }
    }

    #[test]
    fn decisions_follow_zset_add() {
        let d = |f: &str, s, cur| score(decide(&flags(f), s, cur).unwrap());
        assert_eq!(d("", 2.0, Some(1.0)), Some(2.0));
        assert_eq!(d("nx", 2.0, Some(1.0)), None);
        assert_eq!(d("nx", 2.0, None), Some(2.0));
        assert_eq!(d("xx", 2.0, None), None);
        assert_eq!(d("gt", 0.5, Some(1.0)), None);
        assert_eq!(d("gt", 0.5, None), Some(0.5));
        assert_eq!(d("lt", 1.0, Some(1.0)), None);
        assert_eq!(d("incr", 2.0, Some(1.0)), Some(3.0));
        assert_eq!(d("incr", 2.0, None), Some(2.0));
        // GT/LT compare the incremented score.
        assert_eq!(d("incr gt", -1.0, Some(5.0)), None);
        assert!(matches!(
            decide(&flags(""), 1.0, Some(1.0)).unwrap(),
            Outcome::Kept(_)
        ));
        assert!(decide(&flags("incr"), f64::NEG_INFINITY, Some(f64::INFINITY)).is_err());
    }
}
