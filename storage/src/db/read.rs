//! Point reads: memtable, frozen memtables, then tables, newest first.

use std::rc::Rc;

use super::Inner;
use crate::error::Result;
use crate::key::{self, SeqNo};
use crate::memtable;
use crate::table::Found;

/// Milliseconds since the Unix epoch (the clock of expiry times).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The newest value of `user_key` visible at `snapshot`, hiding values
/// whose expiry is `<= now` (`now = 0` hides none).
pub(crate) async fn get(
    inner: &Rc<Inner>,
    user_key: &[u8],
    snapshot: SeqNo,
    now: u64,
) -> Result<Option<Vec<u8>>> {
    let found = newest(inner, user_key, snapshot, |_, field| {
        field.and_then(|f| visible_value(f, now))
    });
    Ok(found.await?.flatten())
}

/// The seqno of the newest version of `user_key` visible at `snapshot`,
/// and its value as [`get`] gives it; `None` if there is no version at all.
pub(crate) async fn get_with_seqno(
    inner: &Rc<Inner>,
    user_key: &[u8],
    snapshot: SeqNo,
    now: u64,
) -> Result<Option<(SeqNo, Option<Vec<u8>>)>> {
    newest(inner, user_key, snapshot, |seqno, field| {
        (seqno, field.and_then(|f| visible_value(f, now)))
    })
    .await
}

/// Finds the newest version of `user_key` visible at `snapshot` and gives
/// `found` its seqno and value field (`None`: a tombstone).
async fn newest<T>(
    inner: &Rc<Inner>,
    user_key: &[u8],
    snapshot: SeqNo,
    found: impl FnOnce(SeqNo, Option<&[u8]>) -> T,
) -> Result<Option<T>> {
    let (mems, version) = {
        let state = inner.state.borrow();
        let mut mems = vec![state.mem.clone()];
        mems.extend(state.frozen.iter().rev().map(|f| f.mem.clone()));
        (mems, state.version.clone())
    };
    for mem in &mems {
        let mem = mem.borrow();
        match mem.get(user_key, snapshot) {
            Some((seqno, memtable::Found::Value(field))) => {
                return Ok(Some(found(seqno, Some(field))))
            }
            Some((seqno, memtable::Found::Deleted)) => return Ok(Some(found(seqno, None))),
            None => {}
        }
    }
    for table in version.candidates(user_key) {
        match table.get(&inner.cache, user_key, snapshot).await? {
            Some((seqno, Found::Value(field))) => return Ok(Some(found(seqno, Some(&field)))),
            Some((seqno, Found::Deleted)) => return Ok(Some(found(seqno, None))),
            None => {}
        }
    }
    Ok(None)
}

/// The value of a value field, or `None` if it has expired at `now`.
pub(crate) fn visible_value(field: &[u8], now: u64) -> Option<Vec<u8>> {
    let (expires_at, value) = key::decode_value(field)?;
    match expires_at {
        Some(t) if t <= now => None,
        _ => Some(value.to_vec()),
    }
}
