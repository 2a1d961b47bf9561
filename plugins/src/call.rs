//! What one call of a plugin command sees, and what it leaves behind.
//!
//! The server reads every declared key before the plugin runs (the keys
//! are locked and local to the core), so the plugin's reads and writes are
//! synchronous and touch only this [`Call`]. Writes are buffered in it;
//! [`Call::finish`] hands them back only when the call succeeded: a trap,
//! a timeout, an error reply, a failure code or a refused key access
//! discards them all, so the data is as it was.
//!
//! Invariant: `keys` holds exactly the declared keys, each with the value
//! the call sees now (its own buffered writes included); `dirty[i]` says
//! whether key `i` was written.

use crate::reply::{Reply, ReplyBuilder, ReplyError};

/// A key's value as a call sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// A collection (hash, list, set, sorted set): not readable as a string.
    OtherType,
}

/// One buffered write, applied after a successful call.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// Why a key access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// The key is not one of the call's declared keys.
    Undeclared,
    /// The key holds a collection, not a string.
    WrongType,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What the client gets.
    pub reply: Reply,
    /// What to apply, in key order; empty unless `kind` is `Ok`.
    pub writes: Vec<Write>,
    /// For the metrics.
    pub kind: OutcomeKind,
}

/// One call in progress.
pub struct Call {
    args: Vec<Vec<u8>>,
    keys: Vec<(Vec<u8>, Value)>,
    dirty: Vec<bool>,
    now_ms: u64,
    reply: ReplyBuilder,
    reply_error: Option<ReplyError>,
    refused: Option<Vec<u8>>,
}

impl Call {
    /// A call with `args` (the command name first), the declared keys'
    /// current values, and the time.
    pub fn new(args: Vec<Vec<u8>>, keys: Vec<(Vec<u8>, Value)>, now_ms: u64) -> Call {
        let dirty = vec![false; keys.len()];
        Call {
            args,
            keys,
            dirty,
            now_ms,
            reply: ReplyBuilder::default(),
            reply_error: None,
            refused: None,
        }
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
            Value::Missing => Ok(None),
            Value::String { bytes, .. } => Ok(Some(bytes)),
            Value::OtherType => Err(AccessError::WrongType),
        }
    }

    /// Milliseconds `key` has to live: `Ok(None)` when missing or without
    /// expiry.
    pub fn ttl_ms(&mut self, key: &[u8]) -> Result<Option<u64>, AccessError> {
        let i = self.declared(key)?;
        match &self.keys[i].1 {
            Value::String {
                expires_at_ms: Some(at),
                ..
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
        let expires_at_ms = ttl_ms.map(|t| self.now_ms.saturating_add(t.max(1)));
        self.keys[i].1 = Value::String {
            bytes: bytes.to_vec(),
            expires_at_ms,
        };
        self.dirty[i] = true;
        Ok(())
    }

    /// Deletes `key`; whether it existed.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool, AccessError> {
        let i = self.declared(key)?;
        let existed = self.keys[i].1 != Value::Missing;
        self.keys[i].1 = Value::Missing;
        self.dirty[i] = true;
        Ok(existed)
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
            .zip(self.dirty)
            .filter(|(_, dirty)| *dirty)
            .map(|((key, value), _)| match value {
                Value::String {
                    bytes,
                    expires_at_ms,
                } => Write::Set {
                    key,
                    bytes,
                    expires_at_ms,
                },
                _ => Write::Delete { key },
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
            (b"l".to_vec(), Value::OtherType),
        ];
        Call::new(vec![b"cmd".to_vec()], keys, 1000)
    }

    #[test]
    fn successful_calls_hand_back_their_final_writes() {
        let mut c = call();
        assert_eq!(c.get(b"a"), Ok(Some(&b"1"[..])));
        c.set(b"a", b"2", None).unwrap();
        c.set(b"b", b"x", Some(50)).unwrap();
        assert_eq!(c.get(b"b"), Ok(Some(&b"x"[..])));
        assert_eq!(c.ttl_ms(b"b"), Ok(Some(50)));
        assert!(c.delete(b"l").unwrap());
        assert_eq!(c.get(b"l"), Ok(None));
        assert!(c.reply(|r| r.push(Reply::Simple("OK".into()))));
        let out = c.finish("p", Ending::Returned);
        assert_eq!(out.kind, OutcomeKind::Ok);
        assert_eq!(
            out.writes,
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
    fn failures_discard_every_write() {
        for ending in [
            Ending::Failed(3),
            Ending::Trapped("unreachable".into()),
            Ending::TimedOut(5),
            Ending::OutOfMemory(1 << 20),
        ] {
            let mut c = call();
            c.set(b"a", b"2", None).unwrap();
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
    fn undeclared_keys_are_refused_and_fail_the_call() {
        let mut c = call();
        assert_eq!(c.get(b"l"), Err(AccessError::WrongType));
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
