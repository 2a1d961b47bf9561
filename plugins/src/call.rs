//! What one call of a plugin command sees, and what it leaves behind.
//!
//! The server reads every declared key before the plugin runs (the keys
//! are locked and local to the core; a collection is loaded whole, see
//! [`crate::collection`]), so the plugin's reads and writes are
//! synchronous and touch only this [`Call`]. Writes are buffered in it;
//! [`Call::finish`] hands them back only when the call succeeded: a trap,
//! a timeout, an error reply, a failure code, a refused key access or a
//! write past the call's byte limit discards them all, so the data is as
//! it was.
//!
//! Invariants: `keys` holds exactly the declared keys, each with the value
//! the call sees now (its own buffered writes included; a collection the
//! call emptied is `Missing`); `dirty[i]` says whether key `i` was
//! written, `expiry_dirty[i]` whether its expiry was changed (`pexpire`,
//! `persist`; a collection whose elements are unchanged is then written
//! as a [`Write::Expire`]); `written` counts the bytes of every write so
//! far (its key, field, member and value, plus [`WRITE_OVERHEAD`] for the
//! write itself, so that many empty writes also count) and never passes
//! `max_write_bytes` (the write that would is refused). Each function is
//! charged what it makes the call write, at least: a pop, and each
//! element LTRIM drops, one delete of the key; the first edit between
//! the ends of a stored list (LINSERT, LREM), the rewrite it causes (a
//! delete and a push of every stored element the list still holds);
//! PEXPIRE / PERSIST on a string the call has not written yet, the value
//! it rewrites. No collection grows past `max_elements` (the write that
//! would is refused).

use crate::collection::{Change, Collection, Kind, Live};
use crate::reply::{Reply, ReplyBuilder, ReplyError};

mod v3;
pub use v3::{encode_range, ExpireIf, KeyType, Range};

/// A key's value as the server hands it to a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No such key (or it expired).
    Missing,
    /// A string.
    String {
        /// Its bytes.
        bytes: Vec<u8>,
        /// Unix milliseconds after which it no longer exists.
        expires_at_ms: Option<u64>,
    },
    /// A collection, loaded whole (never empty).
    Collection {
        /// Its elements.
        items: Collection,
        /// Unix milliseconds after which it no longer exists.
        expires_at_ms: Option<u64>,
    },
    /// A collection whose elements the call does not load (the call of a
    /// version-1 plugin, which has no collection functions): reading it
    /// answers `WrongType`; `set` and `delete` replace or delete it.
    Unloaded {
        /// Unix milliseconds after which it no longer exists.
        expires_at_ms: Option<u64>,
    },
}

/// A key's value during the call.
enum State {
    Missing,
    String {
        bytes: Vec<u8>,
        expires_at_ms: Option<u64>,
    },
    Collection {
        live: Live,
        expires_at_ms: Option<u64>,
    },
    Unloaded {
        expires_at_ms: Option<u64>,
    },
}

impl From<Value> for State {
    fn from(v: Value) -> State {
        match v {
            Value::Missing => State::Missing,
            Value::String {
                bytes,
                expires_at_ms,
            } => State::String {
                bytes,
                expires_at_ms,
            },
            Value::Collection { items, .. } if items.is_empty() => State::Missing,
            Value::Collection {
                items,
                expires_at_ms,
            } => State::Collection {
                live: Live::stored(items),
                expires_at_ms,
            },
            Value::Unloaded { expires_at_ms } => State::Unloaded { expires_at_ms },
        }
    }
}

/// One buffered write, applied after a successful call.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// `key` becomes the string `bytes`.
    Set {
        /// The key.
        key: Vec<u8>,
        /// Its new value.
        bytes: Vec<u8>,
        /// Unix milliseconds after which it no longer exists.
        expires_at_ms: Option<u64>,
    },
    /// `key` is deleted.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// `key`'s collection changes (or a new one replaces its value).
    Collection {
        /// The key.
        key: Vec<u8>,
        /// What changes.
        change: Change,
        /// Unix milliseconds after which it no longer exists, after the
        /// change (the stored expiry unless the call changed it).
        expires_at_ms: Option<u64>,
    },
    /// Only the expiry of `key`'s stored collection changes.
    Expire {
        /// The key.
        key: Vec<u8>,
        /// Unix milliseconds after which it no longer exists (`None`: for
        /// ever).
        expires_at_ms: Option<u64>,
    },
}

/// Why a key access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// The key is not one of the call's declared keys.
    Undeclared,
    /// The key holds a value of another type.
    WrongType,
    /// A sorted-set score that is not a number (NaN).
    NotANumber,
    /// The write would pass the call's byte limit.
    TooLarge,
    /// An index past the ends (LSET), or an expiry past the clock's range.
    OutOfRange,
    /// A hash value that is not a decimal integer (HINCRBY).
    NotAnInteger,
    /// An increment past the integer's range (HINCRBY).
    Overflow,
}

/// How the plugin's code ended, as the engine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It returned 0.
    Returned,
    /// It returned a non-zero code.
    Failed(i32),
    /// It trapped (or a native plugin panicked).
    Trapped(String),
    /// It ran past its deadline.
    TimedOut(u64),
    /// It grew its memory past its cap.
    OutOfMemory(u64),
}

/// What kind of outcome a call had, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Success: the writes are to be applied.
    Ok,
    /// An error reply (by the plugin, or a refused access or bad reply).
    Error,
    /// A trap or out-of-memory.
    Trap,
    /// A timeout.
    Timeout,
}

/// The result of a finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What the client gets.
    pub reply: Reply,
    /// What to apply, in key order; empty unless `kind` is `Ok`.
    pub writes: Vec<Write>,
    /// For the metrics.
    pub kind: OutcomeKind,
}

/// Most bytes one call may write when the server sets no limit.
pub const DEFAULT_MAX_WRITE_BYTES: u64 = 64 << 20;

/// Bytes each write costs against the write limit on top of its data:
/// about what one buffered element costs the host beyond its bytes.
pub const WRITE_OVERHEAD: u64 = 32;

/// One call in progress.
pub struct Call {
    args: Vec<Vec<u8>>,
    keys: Vec<(Vec<u8>, State)>,
    dirty: Vec<bool>,
    /// Whether key `i`'s expiry was changed (by `pexpire` / `persist`).
    expiry_dirty: Vec<bool>,
    now_ms: u64,
    reply: ReplyBuilder,
    reply_error: Option<ReplyError>,
    refused: Option<Vec<u8>>,
    written: u64,
    max_write_bytes: u64,
    over_limit: bool,
    max_elements: u64,
    /// The first key a write would have grown past `max_elements`.
    over_elements: Option<Vec<u8>>,
    /// The element the last [`Call::pop_kept`] popped.
    popped: Vec<u8>,
}

impl Call {
    /// A call with `args` (the command name first), the declared keys'
    /// current values, and the time.
    pub fn new(args: Vec<Vec<u8>>, keys: Vec<(Vec<u8>, Value)>, now_ms: u64) -> Call {
        let dirty = vec![false; keys.len()];
        Call {
            args,
            keys: keys.into_iter().map(|(k, v)| (k, v.into())).collect(),
            expiry_dirty: dirty.clone(),
            dirty,
            now_ms,
            reply: ReplyBuilder::default(),
            reply_error: None,
            refused: None,
            written: 0,
            max_write_bytes: DEFAULT_MAX_WRITE_BYTES,
            over_limit: false,
            max_elements: u64::MAX,
            over_elements: None,
            popped: Vec::new(),
        }
    }

    /// Limits the bytes (keys, fields, members and values) the call's
    /// writes may add up to; the write that would pass it is refused
    /// with [`AccessError::TooLarge`] and fails the call.
    pub fn with_max_write_bytes(mut self, max: u64) -> Call {
        self.max_write_bytes = max;
        self
    }

    /// Limits the elements a collection may grow to; the write that would
    /// pass it is refused with [`AccessError::TooLarge`] and fails the
    /// call.
    pub fn with_max_collection_elements(mut self, max: u64) -> Call {
        self.max_elements = max;
        self
    }

    /// The arguments, the command name first.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// Unix milliseconds at the start of the call (one value per call).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The string at `key`, `None` if missing.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<&[u8]>, AccessError> {
        let i = self.declared(key)?;
        match &self.keys[i].1 {
            State::Missing => Ok(None),
            State::String { bytes, .. } => Ok(Some(bytes)),
            State::Collection { .. } | State::Unloaded { .. } => Err(AccessError::WrongType),
        }
    }

    /// Milliseconds `key` has to live: `Ok(None)` when missing or without
    /// expiry.
    pub fn ttl_ms(&mut self, key: &[u8]) -> Result<Option<u64>, AccessError> {
        let i = self.declared(key)?;
        match &self.keys[i].1 {
            State::String {
                expires_at_ms: Some(at),
                ..
            }
            | State::Collection {
                expires_at_ms: Some(at),
                ..
            }
            | State::Unloaded {
                expires_at_ms: Some(at),
            } => Ok(Some(at.saturating_sub(self.now_ms))),
            _ => Ok(None),
        }
    }

    /// Sets `key` to the string `bytes`, living `ttl_ms` milliseconds
    /// (`None`: for ever). Replaces a value of any type, as SET does.
    pub fn set(
        &mut self,
        key: &[u8],
        bytes: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), AccessError> {
        let i = self.declared(key)?;
        self.charge(key.len() + bytes.len())?;
        let expires_at_ms = ttl_ms.map(|t| self.now_ms.saturating_add(t.max(1)));
        self.keys[i].1 = State::String {
            bytes: bytes.to_vec(),
            expires_at_ms,
        };
        self.dirty[i] = true;
        Ok(())
    }

    /// Deletes `key`; whether it existed.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool, AccessError> {
        let i = self.declared(key)?;
        self.charge(key.len())?;
        let existed = !matches!(self.keys[i].1, State::Missing);
        self.keys[i].1 = State::Missing;
        self.dirty[i] = true;
        Ok(existed)
    }

    /// Hash field `field` of `key`; `None` if either is missing.
    pub fn hget(&mut self, key: &[u8], field: &[u8]) -> Result<Option<&[u8]>, AccessError> {
        Ok(match self.read(key, Kind::Hash)? {
            Some(Collection::Hash(m)) => m.get(field).map(Vec::as_slice),
            _ => None,
        })
    }

    /// Sets hash field `field` of `key` (a new hash if missing); whether
    /// the field is new.
    pub fn hset(&mut self, key: &[u8], field: &[u8], value: &[u8]) -> Result<bool, AccessError> {
        self.edit(
            key,
            Kind::Hash,
            Some(field),
            field.len() + value.len(),
            |l| l.hset(field, value),
        )
    }

    /// Removes hash field `field`; whether it existed.
    pub fn hdel(&mut self, key: &[u8], field: &[u8]) -> Result<bool, AccessError> {
        self.remove(key, Kind::Hash, field.len(), |l| l.hdel(field))
            .map(|r| r.unwrap_or(false))
    }

    /// Number of fields (0 if missing).
    pub fn hlen(&mut self, key: &[u8]) -> Result<u64, AccessError> {
        self.len(key, Kind::Hash)
    }

    /// Adds `member` to the set at `key`; whether it is new.
    pub fn sadd(&mut self, key: &[u8], member: &[u8]) -> Result<bool, AccessError> {
        self.edit(key, Kind::Set, Some(member), member.len(), |l| {
            l.sadd(member)
        })
    }

    /// Removes `member`; whether it was one.
    pub fn srem(&mut self, key: &[u8], member: &[u8]) -> Result<bool, AccessError> {
        self.remove(key, Kind::Set, member.len(), |l| l.srem(member))
            .map(|r| r.unwrap_or(false))
    }

    /// Whether `member` is in the set at `key`.
    pub fn sismember(&mut self, key: &[u8], member: &[u8]) -> Result<bool, AccessError> {
        Ok(match self.read(key, Kind::Set)? {
            Some(Collection::Set(s)) => s.contains(member),
            _ => false,
        })
    }

    /// Number of members (0 if missing).
    pub fn scard(&mut self, key: &[u8]) -> Result<u64, AccessError> {
        self.len(key, Kind::Set)
    }

    /// Sets `member`'s score in the sorted set at `key`; whether it is new.
    pub fn zadd(&mut self, key: &[u8], score: f64, member: &[u8]) -> Result<bool, AccessError> {
        if score.is_nan() {
            self.declared(key)?;
            return Err(AccessError::NotANumber);
        }
        // Written back as up to three records that each hold the key and
        // the member: the member's score, the score-ordered entry, and the
        // old score-ordered entry's delete (`shards`' zset layout).
        let record = (key.len() as u64).saturating_add(member.len() as u64);
        let bytes = record.saturating_add(8).saturating_mul(3);
        self.edit_charged(key, Kind::ZSet, Some(member), bytes, 3, |l| {
            l.zadd(score, member)
        })
    }

    /// `member`'s score; `None` if it (or the key) is missing.
    pub fn zscore(&mut self, key: &[u8], member: &[u8]) -> Result<Option<f64>, AccessError> {
        Ok(match self.read(key, Kind::ZSet)? {
            Some(Collection::ZSet(z)) => z.get(member).copied(),
            _ => None,
        })
    }

    /// Removes `member`; whether it was one.
    pub fn zrem(&mut self, key: &[u8], member: &[u8]) -> Result<bool, AccessError> {
        // Two deletes (the member's record and its score-ordered entry),
        // each holding the key and the member.
        let record = (key.len() as u64).saturating_add(member.len() as u64);
        let bytes = record.saturating_add(8).saturating_mul(2);
        self.remove_charged(key, Kind::ZSet, bytes, 2, |l| l.zrem(member))
            .map(|r| r.unwrap_or(false))
    }

    /// Number of members (0 if missing).
    pub fn zcard(&mut self, key: &[u8]) -> Result<u64, AccessError> {
        self.len(key, Kind::ZSet)
    }

    /// Number of elements of the list at `key` (0 if missing).
    pub fn llen(&mut self, key: &[u8]) -> Result<u64, AccessError> {
        self.len(key, Kind::List)
    }

    /// Pushes `value` at the front (or back) of the list at `key`; its
    /// length after.
    pub fn push(&mut self, key: &[u8], front: bool, value: &[u8]) -> Result<u64, AccessError> {
        self.edit(key, Kind::List, None, value.len(), |l| {
            l.push(front, value);
            l.items.len() as u64
        })
    }

    /// Pops the front (or back) element of the list at `key`.
    pub fn pop(&mut self, key: &[u8], front: bool) -> Result<Option<Vec<u8>>, AccessError> {
        self.remove(key, Kind::List, 0, |l| l.pop(front))
            .map(Option::flatten)
    }

    /// As [`Call::pop`], keeping the element in the call until the next
    /// pop (for hosts that lend the plugin a pointer to it).
    pub fn pop_kept(&mut self, key: &[u8], front: bool) -> Result<Option<&[u8]>, AccessError> {
        match self.pop(key, front)? {
            Some(v) => {
                self.popped = v;
                Ok(Some(&self.popped))
            }
            None => Ok(None),
        }
    }

    /// Element, field or member `index` of the collection of `kind` at
    /// `key` (negative: from the end), in index order: list order, byte
    /// order of hash fields and set members, rank in a sorted set.
    /// After a write to the key the order is rebuilt at the next call
    /// (O(n log n)); reads in between are O(1).
    pub fn at(&mut self, key: &[u8], kind: Kind, index: i64) -> Result<Option<&[u8]>, AccessError> {
        let i = self.declared(key)?;
        match &mut self.keys[i].1 {
            State::Missing => Ok(None),
            State::Collection { live, .. } if live.items.kind() == kind => Ok(live.at(index)),
            _ => Err(AccessError::WrongType),
        }
    }

    /// The collection of `kind` at `key`, `None` if missing.
    fn read(&mut self, key: &[u8], kind: Kind) -> Result<Option<&Collection>, AccessError> {
        let i = self.declared(key)?;
        match &self.keys[i].1 {
            State::Missing => Ok(None),
            State::Collection { live, .. } if live.items.kind() == kind => Ok(Some(&live.items)),
            _ => Err(AccessError::WrongType),
        }
    }

    fn len(&mut self, key: &[u8], kind: Kind) -> Result<u64, AccessError> {
        Ok(self.read(key, kind)?.map_or(0, |c| c.len() as u64))
    }

    /// Runs `f` on the collection of `kind` at `key`, made empty if
    /// missing, charging one write of `bytes` (and the key) to the write
    /// limit. `f` adds an element unless `member` (`None`: always adds) is
    /// one already; a collection at `max_elements` refuses that.
    fn edit<T>(
        &mut self,
        key: &[u8],
        kind: Kind,
        member: Option<&[u8]>,
        bytes: usize,
        f: impl FnOnce(&mut Live) -> T,
    ) -> Result<T, AccessError> {
        let bytes = (key.len() as u64).saturating_add(bytes as u64);
        self.edit_charged(key, kind, member, bytes, 1, f)
    }

    /// As [`Call::edit`], charging `records` writes of `bytes` in all.
    fn edit_charged<T>(
        &mut self,
        key: &[u8],
        kind: Kind,
        member: Option<&[u8]>,
        bytes: u64,
        records: u64,
        f: impl FnOnce(&mut Live) -> T,
    ) -> Result<T, AccessError> {
        let i = self.declared(key)?;
        let (len, adds) = match &self.keys[i].1 {
            State::Missing => (0, true),
            State::Collection { live, .. } if live.items.kind() == kind => (
                live.items.len() as u64,
                member.is_none_or(|m| !live.items.contains(m)),
            ),
            _ => return Err(AccessError::WrongType),
        };
        if adds && len >= self.max_elements {
            self.over_elements.get_or_insert_with(|| key.to_vec());
            return Err(AccessError::TooLarge);
        }
        self.charge_records(bytes, records)?;
        let state = &mut self.keys[i].1;
        if matches!(state, State::Missing) {
            *state = State::Collection {
                live: Live::new(kind),
                expires_at_ms: None,
            };
        }
        let State::Collection { live, .. } = state else {
            unreachable!("made a collection above");
        };
        self.dirty[i] = true;
        Ok(f(live))
    }

    /// Runs `f` on the collection of `kind` at `key` if it exists
    /// (`None` if not), turning it into a missing key if `f` empties it;
    /// charges one write of `bytes` and the key.
    fn remove<T>(
        &mut self,
        key: &[u8],
        kind: Kind,
        bytes: usize,
        f: impl FnOnce(&mut Live) -> T,
    ) -> Result<Option<T>, AccessError> {
        let bytes = (key.len() as u64).saturating_add(bytes as u64);
        self.remove_charged(key, kind, bytes, 1, f)
    }

    /// As [`Call::remove`], charging `records` writes of `bytes` in all.
    fn remove_charged<T>(
        &mut self,
        key: &[u8],
        kind: Kind,
        bytes: u64,
        records: u64,
        f: impl FnOnce(&mut Live) -> T,
    ) -> Result<Option<T>, AccessError> {
        let i = self.declared(key)?;
        match &self.keys[i].1 {
            State::Missing => return Ok(None),
            State::Collection { live, .. } if live.items.kind() == kind => {}
            _ => return Err(AccessError::WrongType),
        }
        self.charge_records(bytes, records)?;
        let state = &mut self.keys[i].1;
        let State::Collection { live, .. } = state else {
            unreachable!("checked above");
        };
        let out = f(live);
        if live.items.is_empty() {
            *state = State::Missing;
        }
        self.dirty[i] = true;
        Ok(Some(out))
    }

    /// Counts a write of `n` bytes (and [`WRITE_OVERHEAD`]), refusing
    /// past the limit.
    fn charge(&mut self, n: usize) -> Result<(), AccessError> {
        self.charge_records(n as u64, 1)
    }

    /// Counts `records` writes of `bytes` in all (and [`WRITE_OVERHEAD`]
    /// each), refusing past the limit.
    fn charge_records(&mut self, bytes: u64, records: u64) -> Result<(), AccessError> {
        let total = self
            .written
            .saturating_add(bytes)
            .saturating_add(records.saturating_mul(WRITE_OVERHEAD));
        if total > self.max_write_bytes {
            self.over_limit = true;
            return Err(AccessError::TooLarge);
        }
        self.written = total;
        Ok(())
    }

    /// The reply being built. A refused value is remembered and makes the
    /// call fail.
    pub fn reply(&mut self, f: impl FnOnce(&mut ReplyBuilder) -> Result<(), ReplyError>) -> bool {
        match f(&mut self.reply) {
            Ok(()) => true,
            Err(e) => {
                self.reply_error.get_or_insert(e);
                false
            }
        }
    }

    fn declared(&mut self, key: &[u8]) -> Result<usize, AccessError> {
        match self.keys.iter().position(|(k, _)| k == key) {
            Some(i) => Ok(i),
            None => {
                self.refused.get_or_insert_with(|| key.to_vec());
                Err(AccessError::Undeclared)
            }
        }
    }

    /// Ends the call of `plugin`: its reply and, on success, its writes.
    pub fn finish(self, plugin: &str, ending: Ending) -> Outcome {
        let fail = |kind, text: String| Outcome {
            reply: Reply::Error(crate::reply::one_line(&text)),
            writes: Vec::new(),
            kind,
        };
        match ending {
            Ending::Returned => {}
            Ending::Failed(code) => {
                return fail(
                    OutcomeKind::Error,
                    format!("ERR plugin '{plugin}' failed with code {code}"),
                )
            }
            Ending::Trapped(why) => {
                return fail(
                    OutcomeKind::Trap,
                    format!("ERR plugin '{plugin}' trapped: {why}"),
                )
            }
            Ending::TimedOut(ms) => {
                return fail(
                    OutcomeKind::Timeout,
                    format!("ERR plugin '{plugin}' timed out after {ms} ms"),
                )
            }
            Ending::OutOfMemory(cap) => {
                return fail(
                    OutcomeKind::Trap,
                    format!("ERR plugin '{plugin}' trapped: memory limit of {cap} bytes exceeded"),
                )
            }
        }
        if let Some(key) = &self.refused {
            let key = String::from_utf8_lossy(key);
            return fail(
                OutcomeKind::Error,
                format!("ERR plugin '{plugin}' accessed key '{key}' that the call did not declare"),
            );
        }
        if self.over_limit {
            return fail(
                OutcomeKind::Error,
                format!(
                    "ERR plugin '{plugin}' wrote more than {} bytes in one call (plugin-max-write-bytes)",
                    self.max_write_bytes
                ),
            );
        }
        if let Some(key) = &self.over_elements {
            return fail(
                OutcomeKind::Error,
                format!(
                    "ERR plugin '{plugin}' grew key '{}' past {} elements \
                     (plugin-max-collection-elements)",
                    String::from_utf8_lossy(key),
                    self.max_elements
                ),
            );
        }
        if let Some(e) = self.reply_error {
            return fail(
                OutcomeKind::Error,
                format!("ERR plugin '{plugin}' built a bad reply: {e:?}"),
            );
        }
        let Some(reply) = self.reply.finish() else {
            return fail(
                OutcomeKind::Error,
                format!("ERR plugin '{plugin}' returned without a complete reply"),
            );
        };
        if matches!(reply, Reply::Error(_)) {
            return Outcome {
                reply,
                writes: Vec::new(),
                kind: OutcomeKind::Error,
            };
        }
        let writes = self
            .keys
            .into_iter()
            .zip(self.dirty.into_iter().zip(self.expiry_dirty))
            .filter(|(_, (dirty, _))| *dirty)
            .filter_map(|((key, state), (_, expiry_dirty))| match state {
                State::String {
                    bytes,
                    expires_at_ms,
                } => Some(Write::Set {
                    key,
                    bytes,
                    expires_at_ms,
                }),
                State::Missing => Some(Write::Delete { key }),
                State::Collection {
                    live,
                    expires_at_ms,
                } => match live.change() {
                    Some(change) => Some(Write::Collection {
                        key,
                        change,
                        expires_at_ms,
                    }),
                    None if expiry_dirty => Some(Write::Expire { key, expires_at_ms }),
                    None => None,
                },
                // Never written: a write replaces it.
                State::Unloaded { .. } => None,
            })
            .collect();
        Outcome {
            reply,
            writes,
            kind: OutcomeKind::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn call() -> Call {
        let keys = vec![
            (
                b"a".to_vec(),
                Value::String {
                    bytes: b"1".to_vec(),
                    expires_at_ms: None,
                },
            ),
            (b"b".to_vec(), Value::Missing),
            (
                b"l".to_vec(),
                Value::Collection {
                    items: Collection::List([b"x".to_vec(), b"y".to_vec()].into()),
                    expires_at_ms: Some(5000),
                },
            ),
            (
                b"h".to_vec(),
                Value::Collection {
                    items: Collection::Hash(BTreeMap::from([
                        (b"f".to_vec(), b"1".to_vec()),
                        (b"g".to_vec(), b"2".to_vec()),
                    ])),
                    expires_at_ms: None,
                },
            ),
            (
                b"s".to_vec(),
                Value::Collection {
                    items: Collection::Set(BTreeSet::from([b"m".to_vec()])),
                    expires_at_ms: None,
                },
            ),
        ];
        Call::new(vec![b"cmd".to_vec()], keys, 1000)
    }

    fn ok(mut c: Call) -> Vec<Write> {
        assert!(c.reply(|r| r.push(Reply::Simple("OK".into()))));
        let out = c.finish("p", Ending::Returned);
        assert_eq!(out.kind, OutcomeKind::Ok);
        out.writes
    }

    #[test]
    fn successful_calls_hand_back_their_final_writes() {
        let mut c = call();
        assert_eq!(c.get(b"a"), Ok(Some(&b"1"[..])));
        c.set(b"a", b"2", None).unwrap();
        c.set(b"b", b"x", Some(50)).unwrap();
        assert_eq!(c.get(b"b"), Ok(Some(&b"x"[..])));
        assert_eq!(c.ttl_ms(b"b"), Ok(Some(50)));
        assert_eq!(c.ttl_ms(b"l"), Ok(Some(4000)));
        assert!(c.delete(b"l").unwrap());
        assert_eq!(c.get(b"l"), Ok(None));
        assert_eq!(
            ok(c),
            vec![
                Write::Set {
                    key: b"a".to_vec(),
                    bytes: b"2".to_vec(),
                    expires_at_ms: None
                },
                Write::Set {
                    key: b"b".to_vec(),
                    bytes: b"x".to_vec(),
                    expires_at_ms: Some(1050)
                },
                Write::Delete { key: b"l".to_vec() },
            ]
        );
    }

    #[test]
    fn collections_read_their_snapshot_and_their_own_writes() {
        let mut c = call();
        assert_eq!(c.hget(b"h", b"f"), Ok(Some(&b"1"[..])));
        assert_eq!(c.hset(b"h", b"f", b"9"), Ok(false));
        assert_eq!(c.hset(b"h", b"e", b"0"), Ok(true));
        assert_eq!(c.hget(b"h", b"f"), Ok(Some(&b"9"[..])));
        assert_eq!(c.hlen(b"h"), Ok(3));
        let fields: Vec<_> = (0..3)
            .map(|i| c.at(b"h", Kind::Hash, i).unwrap().unwrap().to_vec())
            .collect();
        assert_eq!(fields, [b"e".to_vec(), b"f".to_vec(), b"g".to_vec()]);
        assert_eq!(c.hdel(b"h", b"g"), Ok(true));
        assert_eq!(c.at(b"h", Kind::Hash, -1), Ok(Some(&b"f"[..])));
        assert_eq!(c.at(b"h", Kind::Hash, 2), Ok(None));
        assert_eq!(c.at(b"l", Kind::List, -1), Ok(Some(&b"y"[..])));
        assert_eq!(c.push(b"l", true, b"w"), Ok(3));
        assert_eq!(c.pop(b"l", false), Ok(Some(b"y".to_vec())));
        assert_eq!(c.llen(b"l"), Ok(2));
        // A missing key reads as empty and is made by its first write.
        assert_eq!((c.scard(b"b"), c.zscore(b"b", b"m")), (Ok(0), Ok(None)));
        assert_eq!(c.zadd(b"b", 2.5, b"m"), Ok(true));
        assert_eq!(c.zscore(b"b", b"m"), Ok(Some(2.5)));
        assert_eq!(c.zadd(b"b", f64::NAN, b"m"), Err(AccessError::NotANumber));
        assert_eq!(
            ok(c),
            vec![
                Write::Collection {
                    key: b"b".to_vec(),
                    change: Change::Replace(Collection::ZSet(BTreeMap::from([(
                        b"m".to_vec(),
                        2.5
                    )]))),
                    expires_at_ms: None,
                },
                Write::Collection {
                    key: b"l".to_vec(),
                    change: Change::List {
                        popped_front: 0,
                        popped_back: 1,
                        pushed_front: vec![b"w".to_vec()],
                        pushed_back: vec![],
                        replaced: vec![],
                        len: 2,
                    },
                    expires_at_ms: Some(5000),
                },
                Write::Collection {
                    key: b"h".to_vec(),
                    change: Change::Hash {
                        put: vec![
                            (b"e".to_vec(), b"0".to_vec()),
                            (b"f".to_vec(), b"9".to_vec())
                        ],
                        removed: vec![b"g".to_vec()],
                        len: 2,
                    },
                    expires_at_ms: None,
                },
            ]
        );
    }

    #[test]
    fn type_errors_and_emptied_collections() {
        let mut c = call();
        assert_eq!(c.get(b"h"), Err(AccessError::WrongType));
        assert_eq!(c.hset(b"a", b"f", b"v"), Err(AccessError::WrongType));
        assert_eq!(c.sadd(b"h", b"m"), Err(AccessError::WrongType));
        assert_eq!(c.llen(b"s"), Err(AccessError::WrongType));
        assert_eq!(c.at(b"s", Kind::ZSet, 0), Err(AccessError::WrongType));
        // Emptying the set makes it a missing key: any type may follow.
        assert_eq!(c.srem(b"s", b"m"), Ok(true));
        assert_eq!(c.get(b"s"), Ok(None));
        assert_eq!(c.srem(b"s", b"m"), Ok(false));
        assert_eq!(c.pop(b"b", true), Ok(None));
        assert_eq!(ok(c), vec![Write::Delete { key: b"s".to_vec() }]);

        let mut c = call();
        assert_eq!(c.srem(b"s", b"m"), Ok(true));
        assert_eq!(c.push(b"s", false, b"v"), Ok(1));
        assert_eq!(
            ok(c),
            vec![Write::Collection {
                key: b"s".to_vec(),
                change: Change::Replace(Collection::List([b"v".to_vec()].into())),
                expires_at_ms: None,
            }]
        );
    }

    #[test]
    fn failures_discard_every_write() {
        for ending in [
            Ending::Failed(3),
            Ending::Trapped("unreachable".into()),
            Ending::TimedOut(5),
            Ending::OutOfMemory(1 << 20),
        ] {
            let mut c = call();
            c.set(b"a", b"2", None).unwrap();
            c.hset(b"h", b"f", b"x").unwrap();
            c.pop(b"l", true).unwrap();
            c.reply(|r| r.push(Reply::Simple("OK".into())));
            let out = c.finish("p", ending);
            assert!(out.writes.is_empty());
            assert!(matches!(&out.reply, Reply::Error(t) if t.contains("plugin 'p'")));
        }
        let mut c = call();
        c.set(b"a", b"2", None).unwrap();
        c.reply(|r| r.push(Reply::Error("ERR no".into())));
        let out = c.finish("p", Ending::Returned);
        assert_eq!((out.kind, out.writes.len()), (OutcomeKind::Error, 0));
    }

    #[test]
    fn writes_past_the_byte_limit_are_refused_and_fail_the_call() {
        let max = 2 * WRITE_OVERHEAD + 10;
        let mut c = call().with_max_write_bytes(max);
        assert_eq!(c.sadd(b"s", b"12345678"), Ok(true)); // 1 + 8 bytes
        assert_eq!(c.sadd(b"s", b"xy"), Err(AccessError::TooLarge));
        assert_eq!(c.scard(b"s"), Ok(2));
        c.reply(|r| r.push(Reply::Integer(1)));
        let out = c.finish("p", Ending::Returned);
        assert!(out.writes.is_empty());
        assert_eq!(
            out.reply,
            Reply::Error(format!(
                "ERR plugin 'p' wrote more than {max} bytes in one call (plugin-max-write-bytes)"
            ))
        );
    }

    #[test]
    fn an_unloaded_collection_is_another_type_that_set_and_delete_replace() {
        let unloaded = || {
            let v = Value::Unloaded {
                expires_at_ms: Some(9000),
            };
            Call::new(vec![b"x".to_vec()], vec![(b"c".to_vec(), v)], 1000)
        };
        let mut c = unloaded();
        assert_eq!(c.get(b"c"), Err(AccessError::WrongType));
        assert_eq!(c.hget(b"c", b"f"), Err(AccessError::WrongType));
        assert_eq!(c.push(b"c", false, b"v"), Err(AccessError::WrongType));
        assert_eq!(c.ttl_ms(b"c"), Ok(Some(8000)));
        c.set(b"c", b"s", None).unwrap();
        c.reply(|r| r.push(Reply::Integer(1)));
        let out = c.finish("p", Ending::Returned);
        assert_eq!(
            out.writes,
            vec![Write::Set {
                key: b"c".to_vec(),
                bytes: b"s".to_vec(),
                expires_at_ms: None
            }]
        );
        let mut c = unloaded();
        assert_eq!(c.delete(b"c"), Ok(true));
        c.reply(|r| r.push(Reply::Integer(1)));
        let out = c.finish("p", Ending::Returned);
        assert_eq!(out.writes, vec![Write::Delete { key: b"c".to_vec() }]);
    }

    #[test]
    fn empty_writes_still_count_against_the_byte_limit() {
        let mut c = call().with_max_write_bytes(10 * WRITE_OVERHEAD);
        let mut pushed = 0;
        while c.push(b"b", false, b"").is_ok() {
            pushed += 1;
        }
        // Each push costs its key (1 byte) and the overhead.
        assert_eq!(pushed, 10 * WRITE_OVERHEAD / (1 + WRITE_OVERHEAD));
        c.reply(|r| r.push(Reply::Integer(1)));
        assert!(c.finish("p", Ending::Returned).writes.is_empty());
    }

    #[test]
    fn a_collection_may_not_grow_past_the_element_cap() {
        let mut c = call().with_max_collection_elements(2);
        // "l" holds 2 elements: pushes are refused, pops are not.
        assert_eq!(c.push(b"l", false, b"z"), Err(AccessError::TooLarge));
        assert_eq!(c.llen(b"l"), Ok(2));
        // "s" holds "m": one more, then only members it has.
        assert_eq!(c.sadd(b"s", b"m1"), Ok(true));
        assert_eq!(c.sadd(b"s", b"m1"), Ok(false));
        assert_eq!(c.sadd(b"s", b"m"), Ok(false));
        assert_eq!(c.sadd(b"s", b"m2"), Err(AccessError::TooLarge));
        assert_eq!(c.scard(b"s"), Ok(2));
        c.reply(|r| r.push(Reply::Integer(1)));
        let out = c.finish("p", Ending::Returned);
        assert!(out.writes.is_empty());
        assert_eq!(
            out.reply,
            Reply::Error(
                "ERR plugin 'p' grew key 'l' past 2 elements (plugin-max-collection-elements)"
                    .into()
            )
        );
    }

    #[test]
    fn undeclared_keys_are_refused_and_fail_the_call() {
        let mut c = call();
        assert_eq!(c.hget(b"zz", b"f"), Err(AccessError::Undeclared));
        assert_eq!(c.set(b"zz", b"1", None), Err(AccessError::Undeclared));
        c.set(b"a", b"2", None).unwrap();
        c.reply(|r| r.push(Reply::Integer(1)));
        let out = c.finish("p", Ending::Returned);
        assert!(out.writes.is_empty());
        assert_eq!(
            out.reply,
            Reply::Error("ERR plugin 'p' accessed key 'zz' that the call did not declare".into())
        );
    }
}
