//! The process-wide set of users.
//!
//! Invariants: the `default` user always exists; a user is replaced
//! whole (rules are applied to a copy, which is installed only if every
//! rule was valid), so a reader never sees half a SETUSER. [`generation`]
//! changes after every change, and before it returns it applies a
//! `requirepass` change to the `default` user (the setting is read from
//! the live configuration whenever that changed).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use super::selector::{c_str, merge_selector_arguments};
use super::user::{has_spaces, User};
use crate::config;

struct Registry {
    users: BTreeMap<String, Arc<User>>,
    /// The `requirepass` last applied to `default`.
    requirepass: Option<String>,
}

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| {
    RwLock::new(Registry {
        users: BTreeMap::from([("default".to_string(), Arc::new(User::default_user()))]),
        requirepass: None,
    })
});
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// The configuration generation whose `requirepass` was applied (0: none).
static CONFIG_SEEN: AtomicU64 = AtomicU64::new(0);

fn read() -> std::sync::RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

/// Changes whenever a user changed (including by `requirepass`).
pub fn generation() -> u64 {
    let config_now = config::generation();
    if CONFIG_SEEN.load(Ordering::Acquire) != config_now {
        sync_requirepass(config_now);
    }
    GENERATION.load(Ordering::Acquire)
}

/// Redis' `ACLUpdateDefaultUserPassword`, when `requirepass` changed.
fn sync_requirepass(config_now: u64) {
    let pass = config::live(|c| c.requirepass().map(str::to_string));
    let mut reg = write();
    CONFIG_SEEN.store(config_now, Ordering::Release);
    if reg.requirepass == pass {
        return;
    }
    let mut default = reg
        .users
        .get("default")
        .map_or_else(User::default_user, |u| (**u).clone());
    let _ = default.apply(b"resetpass");
    let _ = match &pass {
        Some(p) => default.apply(format!(">{p}").as_bytes()),
        None => default.apply(b"nopass"),
    };
    reg.users.insert("default".to_string(), Arc::new(default));
    reg.requirepass = pass;
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// User `name`, as it is now.
pub fn user(name: &str) -> Option<Arc<User>> {
    generation();
    read().users.get(name).cloned()
}

/// Whether a new connection needs no AUTH: `default` is on and nopass.
pub fn default_admits_anyone() -> bool {
    user("default").is_some_and(|u| u.enabled && u.nopass)
}

/// Why AUTH failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No such user, disabled, or wrong password (one answer for all).
    WrongPass,
}

/// Redis' `ACLCheckUserCredentials`.
pub fn authenticate(name: &[u8], password: &[u8]) -> Result<Arc<User>, AuthError> {
    let u = user(&String::from_utf8_lossy(name)).ok_or(AuthError::WrongPass)?;
    if u.enabled && u.password_matches(password) {
        Ok(u)
    } else {
        Err(AuthError::WrongPass)
    }
}

/// ACL SETUSER: applies `rules` (a selector may be spread over several,
/// see [`merge_selector_arguments`]) to (a copy of) user `name`, creating
/// it; nothing changes if a rule is refused. Returns Redis' error text.
pub fn set_user(name: &[u8], rules: &[&[u8]]) -> Result<(), String> {
    if has_spaces(name) {
        return Err("ERR Usernames can't contain spaces or null characters".to_string());
    }
    let name = String::from_utf8_lossy(name).into_owned();
    generation();
    let mut reg = write();
    let mut u = reg
        .users
        .get(&name)
        .map_or_else(|| User::new(&name), |u| (**u).clone());
    let rules = merge_selector_arguments(rules).map_err(|i| {
        format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(c_str(rules[i]))
        )
    })?;
    for rule in &rules {
        if let Err(e) = u.apply(rule) {
            return Err(format!(
                "ERR Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(c_str(rule)),
                e.text()
            ));
        }
    }
    reg.users.insert(name, Arc::new(u));
    GENERATION.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// ACL DELUSER: the names of `names` that existed (and are gone).
pub fn delete(names: &[&[u8]]) -> Result<Vec<String>, String> {
    if names.iter().any(|n| *n == b"default") {
        return Err("ERR The 'default' user cannot be removed".to_string());
    }
    let mut reg = write();
    let deleted = names
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| reg.users.remove(n).is_some())
        .collect();
    GENERATION.fetch_add(1, Ordering::AcqRel);
    Ok(deleted)
}

/// Every user, by name.
pub fn all() -> Vec<Arc<User>> {
    generation();
    read().users.values().cloned().collect()
}

/// Replaces every user by `users` (ACL LOAD); a missing `default` is
/// created as Redis creates it. Returns the names whose clients must be
/// disconnected: every old user but `default`.
pub fn replace_all(users: Vec<User>) -> Vec<String> {
    let mut map: BTreeMap<String, Arc<User>> = users
        .into_iter()
        .map(|u| (u.name.clone(), Arc::new(u)))
        .collect();
    map.entry("default".to_string())
        .or_insert_with(|| Arc::new(User::default_user()));
    let mut reg = write();
    // Every old user but `default` is replaced, even one of the same name
    // (its password may be what changed): Redis 7.0 kills their clients.
    let gone = reg
        .users
        .keys()
        .filter(|n| n.as_str() != "default")
        .cloned()
        .collect();
    reg.users = map;
    GENERATION.fetch_add(1, Ordering::AcqRel);
    gone
}
