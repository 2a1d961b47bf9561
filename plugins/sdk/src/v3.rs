//! The ABI v3 host functions as safe [`Ctx`] methods: a key's type,
//! existence and expiry, the list edits, HINCRBY / ZINCRBY, and the range
//! reads. The host copies a range into a buffer the plugin owns, as many
//! records as fit; these methods page through it (growing the buffer
//! only when one element needs more) and return the whole range.

use crate::{abi, count, flag, key_error, Ctx, KeyError};

/// A key's type, as TYPE names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// No such key.
    None,
    /// A string.
    String,
    /// A hash.
    Hash,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A list.
    List,
}

/// PEXPIRE's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    /// Always.
    Always = 0,
    /// NX: only if the key has no expiry.
    Nx = 1,
    /// XX: only if it has one.
    Xx = 2,
    /// GT: only later than the current one (none is infinite).
    Gt = 3,
    /// LT: only earlier than the current one (none is infinite).
    Lt = 4,
}

/// A ZRANGEBYSCORE interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lowest score.
    pub min: f64,
    /// `(min`: excluded.
    pub min_exclusive: bool,
    /// Highest score.
    pub max: f64,
    /// `(max`: excluded.
    pub max_exclusive: bool,
}

/// The first page buffer of a range read.
const PAGE: usize = 4096;

/// Decodes `n` records of `buf` (with scores if `scores`).
fn decode(buf: &[u8], n: i64, scores: bool, out: &mut Vec<(Vec<u8>, f64)>) {
    let mut at = 0usize;
    for _ in 0..n {
        let Some(len) = buf.get(at..at + 4) else {
            return;
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let Some(bytes) = buf.get(at + 4..at + 4 + len) else {
            return;
        };
        at += 4 + len;
        let mut score = 0.0;
        if scores {
            let Some(s) = buf.get(at..at + 8) else {
                return;
            };
            score = f64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
            at += 8;
        }
        out.push((bytes.to_vec(), score));
    }
}

/// Redis' range rules on a collection of `len` elements, as absolute
/// indices (`None`: empty).
fn absolute(start: i64, stop: i64, len: u64) -> Option<(i64, i64)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start, stop))
}

impl Ctx<'_> {
    fn key_fn(&mut self, f: abi::KeyFn, key: &[u8]) -> i32 {
        // SAFETY: a host function of this call's table with a valid slice.
        unsafe { f(self.host.call, key.as_ptr(), key.len()) }
    }

    /// The type of `key`.
    pub fn key_type(&mut self, key: &[u8]) -> Result<KeyType, KeyError> {
        Ok(match self.key_fn(self.host.key_type, key) {
            0 => KeyType::None,
            1 => KeyType::String,
            2 => KeyType::Hash,
            3 => KeyType::Set,
            4 => KeyType::ZSet,
            5 => KeyType::List,
            code => return Err(key_error(code)),
        })
    }

    /// Whether `key` exists.
    pub fn exists(&mut self, key: &[u8]) -> Result<bool, KeyError> {
        flag(self.key_fn(self.host.exists, key))
    }

    /// Milliseconds `key` has to live; `None` if missing or without
    /// expiry.
    pub fn ttl_ms(&mut self, key: &[u8]) -> Result<Option<u64>, KeyError> {
        // SAFETY: a host function of this call's table with a valid slice.
        match unsafe { (self.host.ttl_ms)(self.host.call, key.as_ptr(), key.len()) } {
            n if n >= 0 => Ok(Some(n as u64)),
            n if n == i64::from(abi::MISSING) => Ok(None),
            n => Err(key_error(n as i32)),
        }
    }

    /// PEXPIRE key ms [NX|XX|GT|LT] on a key of any type: whether it was
    /// set. A deadline not after now (`ms <= 0`) deletes the key when
    /// `cond` allows the change (NX, XX, GT and LT may refuse it: then
    /// nothing changes and it answers `false`), as PEXPIRE does. A
    /// deadline past i64 milliseconds is [`KeyError::InvalidExpireTime`].
    pub fn pexpire(&mut self, key: &[u8], ms: i64, cond: Expire) -> Result<bool, KeyError> {
        // SAFETY: a host function of this call's table with a valid slice.
        flag(unsafe {
            (self.host.pexpire)(self.host.call, key.as_ptr(), key.len(), ms, cond as i32)
        })
        .map_err(KeyError::in_pexpire)
    }

    /// PERSIST: whether `key` had an expiry.
    pub fn persist(&mut self, key: &[u8]) -> Result<bool, KeyError> {
        flag(self.key_fn(self.host.persist, key))
    }

    /// LSET: `Ok(false)` if the key is missing (`ERR no such key`),
    /// [`KeyError::OutOfRange`] past the ends.
    pub fn lset(&mut self, key: &[u8], index: i64, value: &[u8]) -> Result<bool, KeyError> {
        // SAFETY: a host function of this call's table with valid slices.
        let rc = unsafe {
            (self.host.lset)(
                self.host.call,
                key.as_ptr(),
                key.len(),
                index,
                value.as_ptr(),
                value.len(),
            )
        };
        match rc {
            0 => Ok(true),
            abi::MISSING => Ok(false),
            code => Err(key_error(code)),
        }
    }

    /// LINSERT: the length after, 0 if the key is missing, -1 if `pivot`
    /// is not an element.
    pub fn linsert(
        &mut self,
        key: &[u8],
        after: bool,
        pivot: &[u8],
        value: &[u8],
    ) -> Result<i64, KeyError> {
        // SAFETY: a host function of this call's table with valid slices.
        let n = unsafe {
            (self.host.linsert)(
                self.host.call,
                key.as_ptr(),
                key.len(),
                i32::from(after),
                pivot.as_ptr(),
                pivot.len(),
                value.as_ptr(),
                value.len(),
            )
        };
        if n >= -1 {
            Ok(n)
        } else {
            Err(key_error(n as i32))
        }
    }

    /// LREM: how many elements it removed.
    pub fn lrem(&mut self, key: &[u8], n: i64, value: &[u8]) -> Result<u64, KeyError> {
        // SAFETY: a host function of this call's table with valid slices.
        count(unsafe {
            (self.host.lrem)(
                self.host.call,
                key.as_ptr(),
                key.len(),
                n,
                value.as_ptr(),
                value.len(),
            )
        })
    }

    /// LTRIM.
    pub fn ltrim(&mut self, key: &[u8], start: i64, stop: i64) -> Result<(), KeyError> {
        // SAFETY: a host function of this call's table with a valid slice.
        match unsafe { (self.host.ltrim)(self.host.call, key.as_ptr(), key.len(), start, stop) } {
            0 => Ok(()),
            code => Err(key_error(code)),
        }
    }

    /// HINCRBY: the new value; [`KeyError::NotAnInteger`] or
    /// [`KeyError::Overflow`] as HINCRBY refuses.
    pub fn hincrby(&mut self, key: &[u8], field: &[u8], by: i64) -> Result<i64, KeyError> {
        let mut out = 0i64;
        // SAFETY: a host function of this call's table with valid slices
        // and a local out-pointer.
        let rc = unsafe {
            (self.host.hincrby)(
                self.host.call,
                key.as_ptr(),
                key.len(),
                field.as_ptr(),
                field.len(),
                by,
                &mut out,
            )
        };
        if rc == 0 {
            Ok(out)
        } else {
            Err(key_error(rc))
        }
    }

    /// ZINCRBY: the new score; [`KeyError::NotANumber`] for a NaN one.
    pub fn zincrby(&mut self, key: &[u8], by: f64, member: &[u8]) -> Result<f64, KeyError> {
        let mut out = 0f64;
        // SAFETY: a host function of this call's table with valid slices
        // and a local out-pointer.
        let rc = unsafe {
            (self.host.zincrby)(
                self.host.call,
                key.as_ptr(),
                key.len(),
                by,
                member.as_ptr(),
                member.len(),
                &mut out,
            )
        };
        if rc == 0 {
            Ok(out)
        } else {
            Err(key_error(rc))
        }
    }

    /// Pages `read(buf, done)` (records after the `done` read so far)
    /// until it reads none.
    fn pages(
        &mut self,
        scores: bool,
        mut read: impl FnMut(&mut Self, &mut [u8], i64) -> i64,
    ) -> Result<Vec<(Vec<u8>, f64)>, KeyError> {
        let mut buf = vec![0u8; PAGE];
        let mut out = Vec::new();
        loop {
            let n = read(self, &mut buf, out.len() as i64);
            match n {
                0 => return Ok(out),
                n if n > 0 => decode(&buf, n, scores, &mut out),
                n if n == i64::from(abi::TOO_LARGE) => {
                    let bigger = buf.len().checked_mul(2).ok_or(KeyError::TooLarge)?;
                    buf.resize(bigger, 0);
                }
                n => return Err(key_error(n as i32)),
            }
        }
    }

    /// LRANGE key start stop.
    pub fn lrange(&mut self, key: &[u8], start: i64, stop: i64) -> Result<Vec<Vec<u8>>, KeyError> {
        let len = self.llen(key)?;
        let Some((start, stop)) = absolute(start, stop, len) else {
            return Ok(Vec::new());
        };
        let f = self.host.lrange;
        let got = self.pages(false, |c, buf, done| {
            if start + done > stop {
                return 0;
            }
            // SAFETY: a host function of this call's table with a valid
            // key slice and our writable buffer.
            unsafe {
                f(
                    c.host.call,
                    key.as_ptr(),
                    key.len(),
                    start + done,
                    stop,
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            }
        })?;
        Ok(got.into_iter().map(|(e, _)| e).collect())
    }

    /// ZRANGE key start stop WITHSCORES.
    pub fn zrange(
        &mut self,
        key: &[u8],
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Vec<u8>, f64)>, KeyError> {
        let len = self.zcard(key)?;
        let Some((start, stop)) = absolute(start, stop, len) else {
            return Ok(Vec::new());
        };
        let f = self.host.zrange;
        self.pages(true, |c, buf, done| {
            if start + done > stop {
                return 0;
            }
            // SAFETY: as in `lrange`.
            unsafe {
                f(
                    c.host.call,
                    key.as_ptr(),
                    key.len(),
                    start + done,
                    stop,
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            }
        })
    }

    /// ZRANGEBYSCORE key min max WITHSCORES; a NaN bound is
    /// [`KeyError::BoundNotANumber`].
    pub fn zrangebyscore(
        &mut self,
        key: &[u8],
        r: ScoreRange,
    ) -> Result<Vec<(Vec<u8>, f64)>, KeyError> {
        let flags = i32::from(r.min_exclusive) | (i32::from(r.max_exclusive) << 1);
        let f = self.host.zrangebyscore;
        let read = self.pages(true, |c, buf, done| {
            // SAFETY: as in `lrange`.
            unsafe {
                f(
                    c.host.call,
                    key.as_ptr(),
                    key.len(),
                    r.min,
                    r.max,
                    flags,
                    done,
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            }
        });
        read.map_err(KeyError::in_score_range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decode_and_ranges_normalise() {
        let mut buf = Vec::new();
        for (m, s) in [("ab", 1.5), ("", -2.0)] {
            buf.extend_from_slice(&(m.len() as u32).to_le_bytes());
            buf.extend_from_slice(m.as_bytes());
            buf.extend_from_slice(&f64::to_le_bytes(s));
        }
        let mut out = Vec::new();
        decode(&buf, 2, true, &mut out);
        assert_eq!(out, [(b"ab".to_vec(), 1.5), (Vec::new(), -2.0)]);
        assert_eq!(absolute(-2, -1, 5), Some((3, 4)));
        assert_eq!(absolute(0, 100, 5), Some((0, 4)));
        assert_eq!(absolute(4, 2, 5), None);
        assert_eq!(absolute(0, -1, 0), None);
    }

    #[test]
    fn a_refusal_answers_the_text_of_the_function_that_failed() {
        use crate::key_error;
        let lset = key_error(abi::OUT_OF_RANGE);
        assert_eq!(lset.redis_error(), "ERR index out of range");
        let pexpire = key_error(abi::OUT_OF_RANGE).in_pexpire();
        assert_eq!(
            pexpire.redis_error(),
            "ERR invalid expire time in 'pexpire' command"
        );
        let zincrby = key_error(abi::NOT_A_NUMBER);
        assert_eq!(
            zincrby.redis_error(),
            "ERR resulting score is not a number (NaN)"
        );
        let bound = key_error(abi::NOT_A_NUMBER).in_score_range();
        assert_eq!(bound.redis_error(), "ERR min or max is not a float");
        // Codes the function gives one meaning keep it.
        for code in [abi::WRONG_TYPE, abi::NOT_AN_INTEGER, abi::OVERFLOW] {
            let e = key_error(code);
            assert_eq!((e.in_pexpire(), e.in_score_range()), (e, e));
        }
    }
}
