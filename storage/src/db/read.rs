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
    let (mems, version) = {
        let state = inner.state.borrow();
        let mut mems = vec![state.mem.clone()];
        mems.extend(state.frozen.iter().rev().map(|f| f.mem.clone()));
        (mems, state.version.clone())
    };
    for mem in &mems {
        let mem = mem.borrow();
        match mem.get(user_key, snapshot) {
            Some(memtable::Found::Value(field)) => return Ok(visible_value(field, now)),
            Some(memtable::Found::Deleted) => return Ok(None),
            None => {}
        }
    }
    for table in version.candidates(user_key) {
        match table.get(&inner.cache, user_key, snapshot).await? {
            Some(Found::Value(field)) => return Ok(visible_value(&field, now)),
            Some(Found::Deleted) => return Ok(None),
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
