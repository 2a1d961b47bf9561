//! The write limit holds for the v3 functions that write more than their
//! arguments: LINSERT and LREM (which rewrite a stored list), LTRIM
//! (a delete per element it drops, as that many pops), PEXPIRE and
//! PERSIST on a string (which rewrite its value). Each case measures
//! what the unlimited call writes, then runs it under a limit just
//! below that (refused) and, where the charge is exact, at it.

use super::*;
use crate::call::{Ending, OutcomeKind, Value, Write, WRITE_OVERHEAD};
use crate::collection::Change;
use crate::reply::Reply;

/// What `writes` cost against the limit, as the host writes them: each
/// record its key, its data and [`WRITE_OVERHEAD`]; a list change a
/// delete per popped element and a record per pushed or replaced one.
fn cost(writes: &[Write]) -> u64 {
    let record = |key: &[u8], data: usize| key.len() as u64 + data as u64 + WRITE_OVERHEAD;
    writes
        .iter()
        .map(|w| match w {
            Write::Set { key, bytes, .. } => record(key, bytes.len()),
            Write::Delete { key } | Write::Expire { key, .. } => record(key, 0),
            Write::Collection {
                key,
                change:
                    Change::List {
                        popped_front,
                        popped_back,
                        pushed_front,
                        pushed_back,
                        replaced,
                        ..
                    },
                ..
            } => {
                (popped_front + popped_back) * record(key, 0)
                    + pushed_front
                        .iter()
                        .chain(pushed_back)
                        .chain(replaced.iter().map(|r| &r.1))
                        .map(|e| record(key, e.len()))
                        .sum::<u64>()
            }
            Write::Collection { .. } => panic!("only lists and strings here: {w:?}"),
        })
        .sum()
}

/// A call over the list `l` of `n` elements of `elem` bytes each.
fn list_call(n: usize, elem: usize, limit: u64) -> Call {
    let items = (0..n).map(|i| format!("{i:0elem$}").into_bytes()).collect();
    let value = Value::Collection {
        items: Collection::List(items),
        expires_at_ms: None,
    };
    Call::new(vec![b"x".to_vec()], vec![(b"l".to_vec(), value)], 1000).with_max_write_bytes(limit)
}

/// A call over the string `s` of `len` bytes (expiring if `ttl`).
fn string_call(len: usize, ttl: bool, limit: u64) -> Call {
    let value = Value::String {
        bytes: vec![b'v'; len],
        expires_at_ms: ttl.then_some(50_000),
    };
    Call::new(vec![b"x".to_vec()], vec![(b"s".to_vec(), value)], 1000).with_max_write_bytes(limit)
}

/// Runs `op` on `make(limit)` and finishes the call: its outcome and
/// writes.
fn run(
    make: &dyn Fn(u64) -> Call,
    limit: u64,
    op: &dyn Fn(&mut Call) -> bool,
) -> (OutcomeKind, Reply, Vec<Write>) {
    let mut c = make(limit);
    let done = op(&mut c);
    c.reply(|r| r.push(Reply::Integer(i64::from(done))));
    let out = c.finish("p", Ending::Returned);
    (out.kind, out.reply, out.writes)
}

/// What `op` writes unlimited; asserts that a limit one byte below is
/// refused (the call fails, nothing is written).
fn refused_below_what_it_writes(make: &dyn Fn(u64) -> Call, op: &dyn Fn(&mut Call) -> bool) -> u64 {
    let (kind, _, writes) = run(make, u64::MAX, op);
    assert_eq!(kind, OutcomeKind::Ok);
    let written = cost(&writes);
    let (kind, reply, writes) = run(make, written - 1, op);
    assert_eq!(
        kind,
        OutcomeKind::Error,
        "{written} bytes passed a limit below them"
    );
    assert!(writes.is_empty());
    let limit = written - 1;
    assert_eq!(
        reply,
        Reply::Error(format!(
            "ERR plugin 'p' wrote more than {limit} bytes in one call (plugin-max-write-bytes)"
        ))
    );
    written
}

/// As [`refused_below_what_it_writes`], and the call passes at exactly
/// what it writes (the charge is exact).
fn charged_exactly(make: &dyn Fn(u64) -> Call, op: &dyn Fn(&mut Call) -> bool) {
    let written = refused_below_what_it_writes(make, op);
    let (kind, reply, _) = run(make, written, op);
    assert_eq!(
        kind,
        OutcomeKind::Ok,
        "{reply:?} at a limit of what it writes"
    );
}

#[test]
fn linsert_is_charged_the_rewrite_of_the_stored_list() {
    let first = format!("{:0100}", 0).into_bytes();
    let make = |limit| list_call(1000, 100, limit);
    charged_exactly(&make, &|c: &mut Call| {
        c.linsert(b"l", false, &first, b"x") == Ok(1001)
    });
    // Pushed and popped first: the rewrite counts the stored elements
    // still there (the push and the pops were charged themselves).
    charged_exactly(&make, &|c: &mut Call| {
        c.push(b"l", true, b"p").is_ok()
            && c.pop(b"l", false).is_ok()
            && c.linsert(b"l", true, &first, b"x") == Ok(1001)
    });
    // A second edit between the ends rewrites nothing more.
    charged_exactly(&make, &|c: &mut Call| {
        c.linsert(b"l", true, &first, b"x") == Ok(1001)
            && c.linsert(b"l", true, b"x", b"y") == Ok(1002)
    });
}

#[test]
fn lrem_is_charged_the_rewrite_of_the_stored_list() {
    let middle = format!("{:0100}", 500).into_bytes();
    let make = |limit| list_call(1000, 100, limit);
    let op = |c: &mut Call| c.lrem(b"l", 1, &middle) == Ok(1);
    let written = refused_below_what_it_writes(&make, &op);
    // The charge counts the removed element's push too: within a
    // record or two of what is written.
    let (kind, reply, _) = run(&make, 2 * written, &op);
    assert_eq!(kind, OutcomeKind::Ok, "{reply:?}");
}

#[test]
fn ltrim_is_charged_as_the_pops_it_does() {
    let make = |limit| list_call(10_000, 4, limit);
    charged_exactly(&make, &|c: &mut Call| c.ltrim(b"l", 0, 0) == Ok(()));
    charged_exactly(&make, &|c: &mut Call| c.ltrim(b"l", 100, -100) == Ok(()));
    // The same deletes through `pop` cost the same.
    let (_, _, writes) = run(&make, u64::MAX, &|c: &mut Call| c.ltrim(b"l", 0, 0).is_ok());
    charged_exactly(&make, &|c: &mut Call| {
        (0..9_999).all(|_| c.pop(b"l", false).is_ok_and(|p| p.is_some()))
    });
    let (_, _, by_pops) = run(&make, u64::MAX, &|c: &mut Call| {
        (0..9_999).all(|_| c.pop(b"l", false).is_ok())
    });
    assert_eq!(cost(&by_pops), cost(&writes));
}

#[test]
fn an_expiry_on_a_string_is_charged_the_value_it_rewrites() {
    let make = |limit| string_call(1 << 20, false, limit);
    charged_exactly(&make, &|c: &mut Call| {
        c.pexpire(b"s", 10_000, ExpireIf::Always) == Ok(true)
    });
    let make = |limit| string_call(1 << 20, true, limit);
    charged_exactly(&make, &|c: &mut Call| c.persist(b"s") == Ok(true));
    // A deadline in the past deletes: the key only.
    charged_exactly(&make, &|c: &mut Call| {
        c.pexpire(b"s", -1, ExpireIf::Always) == Ok(true)
    });
}

/// What a sorted-set change costs as the host writes it back: per member
/// put, its score record and its score-ordered entry, plus the old
/// entry's delete when the member had a score; per member removed, two
/// deletes. Each record holds the key, the member and 8 bytes of score.
fn zset_cost(writes: &[Write]) -> u64 {
    writes
        .iter()
        .map(|w| match w {
            Write::Collection {
                key,
                change: Change::ZSet { put, removed, .. },
                ..
            } => {
                let record = |m: &[u8]| key.len() as u64 + m.len() as u64 + 8 + WRITE_OVERHEAD;
                put.iter()
                    .map(|(m, _, old)| record(m) * if old.is_some() { 3 } else { 2 })
                    .sum::<u64>()
                    + removed.iter().map(|(m, _)| 2 * record(m)).sum::<u64>()
            }
            _ => panic!("only sorted sets here: {w:?}"),
        })
        .sum()
}

#[test]
fn zincrby_zadd_and_zrem_are_charged_every_record_they_write_back() {
    use std::collections::BTreeMap;
    let member = vec![b'm'; 100_000];
    let make = |limit: u64| {
        let value = Value::Collection {
            // Two members, so that removing one does not delete the key.
            items: Collection::ZSet(BTreeMap::from([
                (member.clone(), 1.0),
                (b"other".to_vec(), 3.0),
            ])),
            expires_at_ms: None,
        };
        Call::new(vec![b"x".to_vec()], vec![(b"z".to_vec(), value)], 1000)
            .with_max_write_bytes(limit)
    };
    let ops: [&dyn Fn(&mut Call) -> bool; 3] = [
        &|c| c.zincrby(b"z", 1.0, &member) == Ok(2.0),
        &|c| c.zadd(b"z", 5.0, b"new") == Ok(true),
        &|c| c.zrem(b"z", &member) == Ok(true),
    ];
    for op in ops {
        let (kind, _, writes) = run(&make, u64::MAX, op);
        assert_eq!(kind, OutcomeKind::Ok);
        let written = zset_cost(&writes);
        // Refused one byte below what the host writes: nothing written.
        let (kind, _, writes) = run(&make, written - 1, op);
        assert!(
            kind == OutcomeKind::Error && writes.is_empty(),
            "{written} bytes passed a limit below them: {kind:?}, {} writes",
            writes.len()
        );
    }
}
