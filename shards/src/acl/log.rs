//! The ACL LOG: the most recent refusals, newest first, at most
//! `acllog-max-len` entries. As Redis' `addACLLogEntry`, an entry of the
//! same reason, context, object and user as one of the 10 newest, within
//! 60 seconds of it, bumps its count (and moves it to the front) instead
//! of being added.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config;

/// Why the entry was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A command was refused.
    Command,
    /// A key was refused.
    Key,
    /// A channel was refused.
    Channel,
    /// AUTH / HELLO AUTH failed.
    Auth,
}

impl Reason {
    /// ACL LOG's `reason`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// One entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// How many times it happened.
    pub count: u64,
    /// Why.
    pub reason: Reason,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    /// The command's full name, the key, the channel, or AUTH's name.
    pub object: String,
    /// The user.
    pub username: String,
    /// Milliseconds since the epoch of the last occurrence.
    pub ctime_ms: u64,
    /// CLIENT INFO of the client of the last occurrence.
    pub client_info: String,
}

const GROUPING_MS: u64 = 60_000;
const SCANNED: usize = 10;

static LOG: Mutex<VecDeque<Entry>> = Mutex::new(VecDeque::new());

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

/// Records a refusal.
pub fn add(
    reason: Reason,
    context: &'static str,
    object: String,
    username: String,
    client_info: String,
) {
    let max =
        config::live(|c| c.get("acllog-max-len").and_then(|v| v.parse().ok())).unwrap_or(128usize);
    let now = now_ms();
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    let same = log.iter().take(SCANNED).position(|e| {
        e.reason == reason
            && e.context == context
            && e.ctime_ms.abs_diff(now) <= GROUPING_MS
            && e.object == object
            && e.username == username
    });
    if let Some(i) = same.and_then(|i| log.remove(i)) {
        let mut e = i;
        e.count += 1;
        e.ctime_ms = now;
        e.client_info = client_info;
        log.push_front(e);
    } else {
        log.push_front(Entry {
            count: 1,
            reason,
            context,
            object,
            username,
            ctime_ms: now,
            client_info,
        });
    }
    log.truncate(max);
}

/// The `count` newest entries with their age in seconds.
pub fn newest(count: usize) -> Vec<(Entry, f64)> {
    let now = now_ms();
    let log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    log.iter()
        .take(count)
        .map(|e| (e.clone(), now.saturating_sub(e.ctime_ms) as f64 / 1000.0))
        .collect()
}

/// ACL LOG RESET.
pub fn reset() {
    LOG.lock().unwrap_or_else(|e| e.into_inner()).clear();
}
