//! The key functions ABI version 3 adds to a [`Call`]: a key's type,
//! existence and expiry (PEXPIRE's conditions, PERSIST) on keys of every
//! type; the list edits LSET, LINSERT, LREM, LTRIM; HINCRBY, ZINCRBY; and
//! the bounded range reads (LRANGE, ZRANGE by rank and by score).
//!
//! Each follows the server command of the same name (Redis 7): the same
//! index rules, the same refusals (as [`AccessError`] codes the plugin
//! maps to the command's error text), a missing key read as empty and an
//! emptied collection deleted. Writes are buffered like every other
//! write of the call. A range read copies into a buffer the plugin
//! passes ([`encode_range`]) and never allocates for the elements it
//! cannot fit: the plugin pages with the count it gets back.

use super::{AccessError, Call, State};
use crate::collection::{clamp_range, trim_ends, Collection, Kind, ScoreRange};

/// The type of a key, as the `type` function answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// No such key: 0.
    None = 0,
    /// A string: 1.
    String = 1,
    /// A hash: 2.
    Hash = 2,
    /// A set: 3.
    Set = 3,
    /// A sorted set: 4.
    ZSet = 4,
    /// A list: 5.
    List = 5,
}

/// PEXPIRE's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireIf {
    /// Always (no flag): 0.
    Always,
    /// NX, only without an expiry: 1.
    NoExpiry,
    /// XX, only with an expiry: 2.
    HasExpiry,
    /// GT, only later than the current expiry (none counts as infinite): 3.
    Later,
    /// LT, only earlier than the current expiry (none counts as infinite): 4.
    Earlier,
}

impl ExpireIf {
    /// The condition of ABI code `code`, `None` if there is no such one.
    pub fn from_code(code: i32) -> Option<ExpireIf> {
        Some(match code {
            0 => ExpireIf::Always,
            1 => ExpireIf::NoExpiry,
            2 => ExpireIf::HasExpiry,
            3 => ExpireIf::Later,
            4 => ExpireIf::Earlier,
            _ => return None,
        })
    }
}

/// What a range read reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// LRANGE key start stop.
    List {
        /// First index (negative: from the end).
        start: i64,
        /// Last index, included.
        stop: i64,
    },
    /// ZRANGE key start stop WITHSCORES.
    Rank {
        /// First rank (negative: from the end).
        start: i64,
        /// Last rank, included.
        stop: i64,
    },
    /// ZRANGEBYSCORE key min max WITHSCORES LIMIT offset -1.
    Score {
        /// The scores.
        range: ScoreRange,
        /// Matching members skipped first (negative: none are read).
        offset: i64,
    },
}

/// Writes the records of `items` that fit into `dst`, in order, stopping
/// at the first that does not: each is its length (u32 little-endian),
/// its bytes and, when it has one, its score (f64 little-endian). Returns
/// how many it wrote; [`AccessError::TooLarge`] when there is an item and
/// not even the first fits (the plugin needs a larger buffer).
pub fn encode_range<'a>(
    items: impl Iterator<Item = (&'a [u8], Option<f64>)>,
    dst: &mut [u8],
) -> Result<u64, AccessError> {
    let mut at = 0usize;
    let mut n = 0u64;
    for (bytes, score) in items {
        let need = 4 + bytes.len() + if score.is_some() { 8 } else { 0 };
        let fits = at.checked_add(need).filter(|&e| e <= dst.len());
        let (Some(end), Ok(len)) = (fits, u32::try_from(bytes.len())) else {
            if n == 0 {
                return Err(AccessError::TooLarge);
            }
            break;
        };
        dst[at..at + 4].copy_from_slice(&len.to_le_bytes());
        dst[at + 4..at + 4 + bytes.len()].copy_from_slice(bytes);
        if let Some(s) = score {
            dst[end - 8..end].copy_from_slice(&s.to_le_bytes());
        }
        at = end;
        n += 1;
    }
    Ok(n)
}

/// Redis' `string2ll`: a decimal i64, no sign but `-`, no leading zero,
/// no space.
fn parse_i64(bytes: &[u8]) -> Option<i64> {
    // Redis' LONG_STR_SIZE: longer is refused before parsing.
    if bytes.is_empty() || bytes.len() >= 21 {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        (value <= i64::MIN.unsigned_abs()).then(|| 0i64.wrapping_sub_unsigned(value))
    } else {
        i64::try_from(value).ok()
    }
}

impl Call {
    /// The type of `key`.
    pub fn key_type(&mut self, key: &[u8]) -> Result<KeyType, AccessError> {
        let i = self.declared(key)?;
        Ok(match &self.keys[i].1 {
            State::Missing => KeyType::None,
            State::String { .. } => KeyType::String,
            State::Collection { live, .. } => match live.items.kind() {
                Kind::Hash => KeyType::Hash,
                Kind::Set => KeyType::Set,
                Kind::ZSet => KeyType::ZSet,
                Kind::List => KeyType::List,
            },
            // Only a version-1 call has these, and it has no `type`.
            State::Unloaded { .. } => return Err(AccessError::WrongType),
        })
    }

    /// Whether `key` exists.
    pub fn exists(&mut self, key: &[u8]) -> Result<bool, AccessError> {
        let i = self.declared(key)?;
        Ok(!matches!(self.keys[i].1, State::Missing))
    }

    /// PEXPIRE key ms [NX|XX|GT|LT], on a key of any type: whether the
    /// expiry was set (a deadline not after now deletes the key, as
    /// PEXPIRE does). A deadline past i64 milliseconds is
    /// [`AccessError::OutOfRange`] (Redis: `invalid expire time`).
    pub fn pexpire(&mut self, key: &[u8], ms: i64, cond: ExpireIf) -> Result<bool, AccessError> {
        let i = self.declared(key)?;
        let now = self.now_ms;
        let when = i128::from(ms) + i128::from(now);
        if when > i128::from(i64::MAX) {
            return Err(AccessError::OutOfRange);
        }
        let current = match &self.keys[i].1 {
            State::Missing => return Ok(false),
            State::Unloaded { .. } => return Err(AccessError::WrongType),
            State::String { expires_at_ms, .. } | State::Collection { expires_at_ms, .. } => {
                *expires_at_ms
            }
        };
        let allowed = match (cond, current) {
            (ExpireIf::Always, _) => true,
            (ExpireIf::NoExpiry, c) => c.is_none(),
            (ExpireIf::HasExpiry, c) => c.is_some(),
            (ExpireIf::Later, Some(c)) => when > i128::from(c),
            (ExpireIf::Later, None) => false,
            (ExpireIf::Earlier, Some(c)) => when < i128::from(c),
            (ExpireIf::Earlier, None) => true,
        };
        if !allowed {
            return Ok(false);
        }
        let deletes = when <= i128::from(now);
        self.charge(key.len() + self.expiry_rewrite(i, deletes))?;
        if deletes {
            self.keys[i].1 = State::Missing;
        } else {
            self.set_expiry(i, Some(when as u64));
        }
        self.dirty[i] = true;
        Ok(true)
    }

    /// PERSIST: removes `key`'s expiry; whether it had one.
    pub fn persist(&mut self, key: &[u8]) -> Result<bool, AccessError> {
        let i = self.declared(key)?;
        let had = match &self.keys[i].1 {
            State::Missing => false,
            State::Unloaded { .. } => return Err(AccessError::WrongType),
            State::String { expires_at_ms, .. } | State::Collection { expires_at_ms, .. } => {
                expires_at_ms.is_some()
            }
        };
        if had {
            self.charge(key.len() + self.expiry_rewrite(i, false))?;
            self.set_expiry(i, None);
            self.dirty[i] = true;
        }
        Ok(had)
    }

    /// The bytes a new expiry of key `i` rewrites beyond the key (0 if it
    /// `deletes` the key): a string is written again whole (unless the
    /// call wrote it already: that write was charged), a stored
    /// collection only its expiry.
    fn expiry_rewrite(&self, i: usize, deletes: bool) -> usize {
        match &self.keys[i].1 {
            State::String { bytes, .. } if !deletes && !self.dirty[i] => bytes.len(),
            _ => 0,
        }
    }

    fn set_expiry(&mut self, i: usize, at: Option<u64>) {
        match &mut self.keys[i].1 {
            State::String { expires_at_ms, .. } | State::Collection { expires_at_ms, .. } => {
                *expires_at_ms = at;
                self.expiry_dirty[i] = true;
            }
            State::Missing | State::Unloaded { .. } => {}
        }
    }

    /// LSET key index value: `Ok(false)` if the key is missing (`ERR no
    /// such key`), [`AccessError::OutOfRange`] past the ends (`ERR index
    /// out of range`).
    pub fn lset(&mut self, key: &[u8], index: i64, value: &[u8]) -> Result<bool, AccessError> {
        match self.remove(key, Kind::List, value.len(), |l| l.lset(index, value))? {
            None => Ok(false),
            Some(true) => Ok(true),
            Some(false) => Err(AccessError::OutOfRange),
        }
    }

    /// LINSERT key BEFORE|AFTER pivot value: the length after, 0 if the
    /// key is missing, -1 if `pivot` is not an element.
    pub fn linsert(
        &mut self,
        key: &[u8],
        after: bool,
        pivot: &[u8],
        value: &[u8],
    ) -> Result<i64, AccessError> {
        match self.read(key, Kind::List)? {
            None => return Ok(0),
            Some(Collection::List(l)) if !l.iter().any(|e| e == pivot) => return Ok(-1),
            Some(_) => {}
        }
        self.charge_rewrite(key)?;
        let len = self.edit(key, Kind::List, None, value.len(), |l| {
            l.linsert(after, pivot, value)
        })?;
        Ok(len.map_or(-1, |n| n as i64))
    }

    /// LREM key count value: how many elements it removed.
    pub fn lrem(&mut self, key: &[u8], count: i64, value: &[u8]) -> Result<u64, AccessError> {
        // Nothing to remove: no write (and no charge).
        match self.read(key, Kind::List)? {
            Some(Collection::List(l)) if l.iter().any(|e| e == value) => {}
            _ => return Ok(0),
        }
        self.charge_rewrite(key)?;
        self.remove(key, Kind::List, value.len(), |l| l.lrem(count, value))
            .map(|r| r.unwrap_or(0))
    }

    /// LTRIM key start stop (an empty range deletes the key); charged as
    /// the pops it does.
    pub fn ltrim(&mut self, key: &[u8], start: i64, stop: i64) -> Result<(), AccessError> {
        let (front, back) = trim_ends(start, stop, self.llen(key)?);
        let pops = front + back;
        let bytes = pops.saturating_mul(key.len() as u64);
        self.remove_charged(key, Kind::List, bytes, pops, |l| l.ltrim(start, stop))
            .map(|_| ())
    }

    /// Charges the rewrite the first edit between the ends of the stored
    /// list at `key` causes (`Live::rewrite_cost`): a delete and a push
    /// of each stored element it still holds. The key exists and is a
    /// list (the caller read it).
    fn charge_rewrite(&mut self, key: &[u8]) -> Result<(), AccessError> {
        let i = self.declared(key)?;
        let State::Collection { live, .. } = &self.keys[i].1 else {
            return Ok(());
        };
        let Some((stored, bytes)) = live.rewrite_cost() else {
            return Ok(());
        };
        let keys = stored.saturating_mul(2).saturating_mul(key.len() as u64);
        self.charge_records(bytes.saturating_add(keys), stored.saturating_mul(2))
    }

    /// HINCRBY key field by: the new value. A value that is not a
    /// decimal i64 is [`AccessError::NotAnInteger`] (`ERR hash value is
    /// not an integer`), a sum past i64 [`AccessError::Overflow`] (`ERR
    /// increment or decrement would overflow`).
    pub fn hincrby(&mut self, key: &[u8], field: &[u8], by: i64) -> Result<i64, AccessError> {
        let current = match self.hget(key, field)? {
            Some(v) => parse_i64(v).ok_or(AccessError::NotAnInteger)?,
            None => 0,
        };
        let n = current.checked_add(by).ok_or(AccessError::Overflow)?;
        self.hset(key, field, n.to_string().as_bytes())?;
        Ok(n)
    }

    /// ZINCRBY key by member: the new score. A NaN increment or result is
    /// [`AccessError::NotANumber`] (`ERR resulting score is not a number
    /// (NaN)`).
    pub fn zincrby(&mut self, key: &[u8], by: f64, member: &[u8]) -> Result<f64, AccessError> {
        if by.is_nan() {
            self.declared(key)?;
            return Err(AccessError::NotANumber);
        }
        let score = self.zscore(key, member)?.unwrap_or(0.0) + by;
        self.zadd(key, score, member)?;
        Ok(score)
    }

    /// Copies the elements of `range` of the list or sorted set at `key`
    /// into `dst` ([`encode_range`]'s records; sorted-set members with
    /// their scores) and returns how many fit ([`AccessError::TooLarge`]:
    /// not even the first). A missing key is empty.
    pub fn range(&mut self, key: &[u8], range: Range, dst: &mut [u8]) -> Result<u64, AccessError> {
        let kind = match range {
            Range::List { .. } => Kind::List,
            Range::Rank { .. } | Range::Score { .. } => Kind::ZSet,
        };
        if let Range::Score { range: r, .. } = range {
            if r.min.is_nan() || r.max.is_nan() {
                self.declared(key)?;
                return Err(AccessError::NotANumber);
            }
        }
        let i = self.declared(key)?;
        let live = match &mut self.keys[i].1 {
            State::Missing => return Ok(0),
            State::Collection { live, .. } if live.items.kind() == kind => live,
            _ => return Err(AccessError::WrongType),
        };
        let len = live.items.len() as u64;
        match range {
            Range::List { start, stop } => match clamp_range(start, stop, len) {
                Some((from, to)) => encode_range(live.list_slice(from, to).map(|e| (e, None)), dst),
                None => Ok(0),
            },
            Range::Rank { start, stop } => match clamp_range(start, stop, len) {
                Some((from, to)) => {
                    encode_range(live.zset_slice(from, to).map(|(m, s)| (m, Some(s))), dst)
                }
                None => Ok(0),
            },
            Range::Score { range, offset } => {
                let Ok(offset) = u64::try_from(offset) else {
                    return Ok(0);
                };
                match live.zset_ranks_by_score(&range) {
                    Some((from, to)) if from.saturating_add(offset) <= to => encode_range(
                        live.zset_slice(from + offset, to)
                            .map(|(m, s)| (m, Some(s))),
                        dst,
                    ),
                    _ => Ok(0),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Ending, OutcomeKind, Value, Write};
    use crate::collection::Change;
    use crate::reply::Reply;
    use std::collections::BTreeMap;

    fn call() -> Call {
        let list = |items: &[&str]| Value::Collection {
            items: Collection::List(items.iter().map(|s| s.as_bytes().to_vec()).collect()),
            expires_at_ms: None,
        };
        let keys = vec![
            (b"l".to_vec(), list(&["a", "b", "c", "b"])),
            (
                b"h".to_vec(),
                Value::Collection {
                    items: Collection::Hash(BTreeMap::from([
                        (b"n".to_vec(), b"41".to_vec()),
                        (b"s".to_vec(), b" 1".to_vec()),
                        (b"max".to_vec(), i64::MAX.to_string().into_bytes()),
                    ])),
                    expires_at_ms: Some(5000),
                },
            ),
            (
                b"z".to_vec(),
                Value::Collection {
                    items: Collection::ZSet(BTreeMap::from([
                        (b"a".to_vec(), 1.0),
                        (b"b".to_vec(), 2.0),
                        (b"c".to_vec(), 3.0),
                    ])),
                    expires_at_ms: None,
                },
            ),
            (
                b"s".to_vec(),
                Value::String {
                    bytes: b"v".to_vec(),
                    expires_at_ms: None,
                },
            ),
            (b"m".to_vec(), Value::Missing),
        ];
        Call::new(vec![b"x".to_vec()], keys, 1000)
    }

    fn decode(buf: &[u8], n: u64, scores: bool) -> Vec<(String, Option<f64>)> {
        let mut out = Vec::new();
        let mut at = 0;
        for _ in 0..n {
            let len = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
            let s = String::from_utf8(buf[at + 4..at + 4 + len].to_vec()).unwrap();
            at += 4 + len;
            let score = scores.then(|| {
                at += 8;
                f64::from_le_bytes(buf[at - 8..at].try_into().unwrap())
            });
            out.push((s, score));
        }
        out
    }

    fn writes(mut c: Call) -> Vec<Write> {
        c.reply(|r| r.push(Reply::Integer(0)));
        let out = c.finish("p", Ending::Returned);
        assert_eq!(out.kind, OutcomeKind::Ok);
        out.writes
    }

    #[test]
    fn types_and_existence() {
        let mut c = call();
        let got: Vec<_> = [&b"l"[..], b"h", b"z", b"s", b"m"]
            .iter()
            .map(|k| c.key_type(k).unwrap())
            .collect();
        use KeyType::*;
        assert_eq!(got, [List, Hash, ZSet, String, None]);
        assert_eq!((c.exists(b"h"), c.exists(b"m")), (Ok(true), Ok(false)));
        assert_eq!(c.key_type(b"q"), Err(AccessError::Undeclared));
    }

    #[test]
    fn pexpire_follows_its_conditions_on_every_type() {
        let mut c = call();
        assert_eq!(c.pexpire(b"m", 10, ExpireIf::Always), Ok(false));
        assert_eq!(c.pexpire(b"h", 100, ExpireIf::NoExpiry), Ok(false));
        assert_eq!(c.pexpire(b"h", 100_000, ExpireIf::Earlier), Ok(false));
        assert_eq!(c.pexpire(b"h", 100, ExpireIf::Earlier), Ok(true));
        assert_eq!(c.ttl_ms(b"h"), Ok(Some(100)));
        assert_eq!(c.pexpire(b"h", 50, ExpireIf::Later), Ok(false));
        assert_eq!(c.pexpire(b"l", 50, ExpireIf::Later), Ok(false));
        assert_eq!(c.pexpire(b"l", 50, ExpireIf::HasExpiry), Ok(false));
        assert_eq!(c.pexpire(b"l", 50, ExpireIf::Earlier), Ok(true));
        assert_eq!(c.persist(b"l"), Ok(true));
        assert_eq!(c.persist(b"l"), Ok(false));
        assert_eq!(c.pexpire(b"s", 20, ExpireIf::NoExpiry), Ok(true));
        assert_eq!(c.pexpire(b"z", 0, ExpireIf::Always), Ok(true));
        assert_eq!(c.exists(b"z"), Ok(false));
        assert_eq!(
            c.pexpire(b"s", i64::MAX, ExpireIf::Always),
            Err(AccessError::OutOfRange)
        );
        assert_eq!(
            writes(c),
            vec![
                // Elements unchanged: the expiry only (in key order).
                Write::Expire {
                    key: b"l".to_vec(),
                    expires_at_ms: None
                },
                Write::Expire {
                    key: b"h".to_vec(),
                    expires_at_ms: Some(1100)
                },
                Write::Delete { key: b"z".to_vec() },
                Write::Set {
                    key: b"s".to_vec(),
                    bytes: b"v".to_vec(),
                    expires_at_ms: Some(1020)
                },
            ]
        );
    }

    #[test]
    fn an_edited_collection_carries_its_expiry() {
        let mut c = call();
        assert_eq!(c.hincrby(b"h", b"n", 1), Ok(42));
        assert_eq!(c.pexpire(b"h", 10, ExpireIf::Always), Ok(true));
        assert_eq!(
            writes(c),
            vec![Write::Collection {
                key: b"h".to_vec(),
                change: Change::Hash {
                    put: vec![(b"n".to_vec(), b"42".to_vec())],
                    removed: vec![],
                    len: 3
                },
                expires_at_ms: Some(1010),
            }]
        );
    }

    #[test]
    fn list_edits_answer_as_the_commands_do() {
        let mut c = call();
        assert_eq!(c.lset(b"m", 0, b"x"), Ok(false));
        assert_eq!(c.lset(b"l", 4, b"x"), Err(AccessError::OutOfRange));
        assert_eq!(c.lset(b"l", -4, b"A"), Ok(true));
        assert_eq!(c.linsert(b"m", true, b"a", b"x"), Ok(0));
        assert_eq!(c.linsert(b"l", true, b"zz", b"x"), Ok(-1));
        assert_eq!(c.linsert(b"l", false, b"c", b"x"), Ok(5));
        assert_eq!(c.lrem(b"l", -1, b"b"), Ok(1));
        assert_eq!(c.lrem(b"l", 0, b"nope"), Ok(0));
        let mut buf = [0u8; 64];
        let n = c
            .range(b"l", Range::List { start: 0, stop: -1 }, &mut buf)
            .unwrap();
        let got: Vec<_> = decode(&buf, n, false).into_iter().map(|e| e.0).collect();
        assert_eq!(got, ["A", "b", "x", "c"]);
        assert_eq!(c.ltrim(b"l", 1, 0), Ok(()));
        assert_eq!(c.exists(b"l"), Ok(false));
        assert_eq!(c.lset(b"s", 0, b"x"), Err(AccessError::WrongType));
        assert_eq!(writes(c), vec![Write::Delete { key: b"l".to_vec() }]);
    }

    #[test]
    fn increments_refuse_what_the_commands_refuse() {
        let mut c = call();
        assert_eq!(c.hincrby(b"h", b"s", 1), Err(AccessError::NotAnInteger));
        assert_eq!(c.hincrby(b"h", b"max", 1), Err(AccessError::Overflow));
        assert_eq!(c.hincrby(b"h", b"new", -3), Ok(-3));
        assert_eq!(c.zincrby(b"z", 1.5, b"a"), Ok(2.5));
        assert_eq!(
            c.zincrby(b"z", f64::NAN, b"a"),
            Err(AccessError::NotANumber)
        );
        assert_eq!(c.zincrby(b"z", f64::INFINITY, b"a"), Ok(f64::INFINITY));
        assert_eq!(
            c.zincrby(b"z", f64::NEG_INFINITY, b"a"),
            Err(AccessError::NotANumber)
        );
        assert_eq!(c.zincrby(b"m", 2.0, b"q"), Ok(2.0));
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"007"), None);
    }

    #[test]
    fn ranges_are_bounded_by_the_buffer_and_page() {
        let mut c = call();
        // One record of "a" with a score takes 4 + 1 + 8 bytes.
        let mut buf = [0u8; 26];
        let all = Range::Rank { start: 0, stop: -1 };
        let n = c.range(b"z", all, &mut buf).unwrap();
        assert_eq!(
            decode(&buf, n, true),
            [("a".into(), Some(1.0)), ("b".into(), Some(2.0))]
        );
        let rest = Range::Rank { start: 2, stop: -1 };
        assert_eq!(c.range(b"z", rest, &mut buf), Ok(1));
        let by_score = |min, offset| Range::Score {
            range: ScoreRange {
                min,
                min_exclusive: true,
                max: f64::INFINITY,
                max_exclusive: false,
            },
            offset,
        };
        let n = c.range(b"z", by_score(1.0, 0), &mut buf).unwrap();
        assert_eq!(
            decode(&buf, n, true),
            [("b".into(), Some(2.0)), ("c".into(), Some(3.0))]
        );
        assert_eq!(c.range(b"z", by_score(1.0, 1), &mut buf), Ok(1));
        assert_eq!(c.range(b"z", by_score(1.0, 2), &mut buf), Ok(0));
        assert_eq!(c.range(b"z", by_score(1.0, -1), &mut buf), Ok(0));
        assert_eq!(
            c.range(b"z", by_score(f64::NAN, 0), &mut buf),
            Err(AccessError::NotANumber)
        );
        assert_eq!(c.range(b"m", all, &mut buf), Ok(0));
        assert_eq!(c.range(b"l", all, &mut buf), Err(AccessError::WrongType));
        assert_eq!(
            c.range(b"z", all, &mut [0u8; 12]),
            Err(AccessError::TooLarge)
        );
    }
}

#[cfg(test)]
mod write_limit_tests;
