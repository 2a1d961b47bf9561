//! One ACL user and Redis 7's rule language (`ACLSetUser` /
//! `ACLSetSelector`).
//!
//! Invariants: `passwords` holds SHA-256 digests only (64 lowercase hex
//! characters), never a cleartext; `all_keys` implies `keys` is empty and
//! `all_channels` implies `channels` is empty; `all_commands` is true only
//! while every command bit is set (clearing any bit clears it), and
//! `future_commands` is Redis' reserved bit, set by `+@all` and cleared by
//! `-@all` only. Rules apply one at a time, in order, each being the same
//! bit operation Redis performs, so the resulting bitmap is Redis'.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::categories;
use super::commands::{ids, CommandIds};

/// A key pattern and the access it grants (`~p` both, `%R~p`, `%W~p`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob pattern.
    pub pattern: Vec<u8>,
    /// Grants reads.
    pub read: bool,
    /// Grants writes.
    pub write: bool,
}

/// An ACL user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its name.
    pub name: String,
    /// `on` (may authenticate) or `off`.
    pub enabled: bool,
    /// Any password authenticates it.
    pub nopass: bool,
    /// `sanitize-payload` (true) / `skip-sanitize-payload` (false), once
    /// set; accepted for compatibility, shown by GETUSER.
    pub sanitize_payload: Option<bool>,
    /// SHA-256 digests of its passwords, hex, in the order added.
    pub passwords: Vec<String>,
    /// One bit per command id (`commands::ids`).
    pub(super) commands: Vec<u64>,
    /// Every bit set and none cleared since `+@all`.
    pub(crate) all_commands: bool,
    /// Redis' reserved "future commands" bit.
    pub(crate) future_commands: bool,
    /// First arguments allowed for a command whose bit is clear
    /// (`+select|0`), by command id.
    pub(super) first_args: BTreeMap<usize, Vec<String>>,
    /// `allkeys` / `~*`.
    pub all_keys: bool,
    /// Key patterns, in the order added.
    pub keys: Vec<KeyPattern>,
    /// `allchannels` / `&*`.
    pub all_channels: bool,
    /// Channel patterns, in the order added.
    pub channels: Vec<Vec<u8>>,
}

/// Why a rule was refused (Redis' errno values of `ACLSetUser`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT.
    UnknownName,
    /// EINVAL.
    Syntax,
    /// EEXIST.
    KeyPatternAfterAll,
    /// EISDIR.
    ChannelPatternAfterAll,
    /// ENODEV.
    NoSuchPassword,
    /// EBADMSG.
    BadHash,
    /// ECHILD.
    FirstArgOfSubcommand,
}

impl RuleError {
    /// Redis' `ACLSetUserStringError` text.
    pub fn text(self) -> &'static str {
        match self {
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyPatternAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelPatternAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// The SHA-256 of `password`, lowercase hex (what is stored).
pub fn hash_password(password: &[u8]) -> String {
    Sha256::digest(password)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `s` has a space or NUL (refused in names and patterns).
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| b.is_ascii_whitespace() || b == 0)
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: off, no password, no
    /// commands, keys or channels.
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize_payload: None,
            passwords: Vec::new(),
            commands: vec![0; ids().len().div_ceil(64)],
            all_commands: false,
            future_commands: false,
            first_args: BTreeMap::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
        }
    }

    /// The `default` user of a server without `requirepass`: on, nopass,
    /// every command, key and channel.
    pub fn default_user() -> User {
        let mut u = User::new("default");
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            let applied = u.apply(rule.as_bytes());
            debug_assert!(applied.is_ok(), "{rule}");
        }
        u
    }

    /// Whether nothing is denied to it (the check can be skipped).
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Whether `password` authenticates it (its state aside).
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let hash = hash_password(password);
        // Compare every stored digest in full, as Redis'
        // time_independent_strcmp does.
        self.passwords.iter().fold(false, |ok, p| {
            ok | constant_time_eq(p.as_bytes(), hash.as_bytes())
        })
    }

    /// Applies one rule.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize_payload = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize_payload = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let at = self.passwords.iter().position(|p| *p == hash);
            match at {
                Some(i) => {
                    self.passwords.remove(i);
                }
                None => return Err(RuleError::NoSuchPassword),
            }
        } else if is("clearselectors") {
            // Only the root selector exists here.
        } else if is("reset") {
            for rule in ["resetpass", "resetkeys", "resetchannels", "off", "-@all"] {
                self.apply(rule.as_bytes())?;
            }
            self.sanitize_payload = Some(true);
        } else {
            self.apply_selector_rule(op)?;
        }
        Ok(())
    }

    fn apply_selector_rule(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.commands.iter_mut().for_each(|w| *w = u64::MAX);
            self.all_commands = true;
            self.future_commands = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.commands.iter_mut().for_each(|w| *w = 0);
            self.all_commands = false;
            self.future_commands = false;
            self.first_args.clear();
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelPatternAfterAll);
            }
            if has_spaces(&op[1..]) {
                return Err(RuleError::Syntax);
            }
            let pattern = op[1..].to_vec();
            if !self.channels.contains(&pattern) {
                self.channels.push(pattern);
            }
        } else if op.len() > 1 && (op[0] == b'+' || op[0] == b'-') && op[1] == b'@' {
            let bit = categories::bit(&op[2..]).ok_or(RuleError::UnknownName)?;
            self.set_category(bit, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(&String::from_utf8_lossy(&op[1..]))?;
        } else if op[0] == b'-' {
            let table = ids();
            let id = table
                .id_by_name(&String::from_utf8_lossy(&op[1..]))
                .ok_or(RuleError::UnknownName)?;
            self.change_perm(table, id, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyPatternAfterAll);
        }
        let (mut read, mut write) = (true, true);
        let mut offset = 1;
        if op[0] == b'%' {
            (read, write) = (false, false);
            loop {
                match op.get(offset).map(u8::to_ascii_uppercase) {
                    Some(b'R') if !read => read = true,
                    Some(b'W') if !write => write = true,
                    Some(b'~') => {
                        offset += 1;
                        break;
                    }
                    // Redis stops at the end of the rule too (`%R`: an
                    // empty pattern).
                    None => break,
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
        }
        let pattern = &op[offset.min(op.len())..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(k) => {
                k.read |= read;
                k.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    fn allow_command(&mut self, name: &str) -> Result<(), RuleError> {
        let table = ids();
        let Some((parent, sub)) = name.rsplit_once('|') else {
            let id = table.id_by_name(name).ok_or(RuleError::UnknownName)?;
            self.change_perm(table, id, true);
            return Ok(());
        };
        let pid = table.id_by_name(parent).ok_or(RuleError::UnknownName)?;
        if parent.contains('|') {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if table.entries[pid].subcommands.is_empty() {
            let args = self.first_args.entry(pid).or_default();
            if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                args.push(sub.to_ascii_lowercase());
            }
        } else {
            let id = table.id_by_name(name).ok_or(RuleError::UnknownName)?;
            self.change_perm(table, id, true);
        }
        Ok(())
    }

    /// Whether the bit of command `id` is set.
    pub(super) fn bit(&self, id: usize) -> bool {
        self.commands
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_bit(&mut self, id: usize, value: bool) {
        if let Some(w) = self.commands.get_mut(id / 64) {
            if value {
                *w |= 1 << (id % 64);
            } else {
                *w &= !(1 << (id % 64));
                self.all_commands = false;
            }
        }
    }

    /// Redis' `ACLChangeSelectorPerm`: the command and its subcommands.
    pub(super) fn change_perm(&mut self, table: &CommandIds, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.remove(&id);
        for sub in table.entries[id].subcommands.clone() {
            self.set_bit(sub, allow);
        }
    }

    /// Redis' `ACLSetSelectorCommandBitsForCategory`.
    pub(super) fn set_category(&mut self, bit: u32, allow: bool) {
        let table = ids();
        for id in 0..table.len() {
            if table.entries[id].categories & bit != 0 {
                self.change_perm(table, id, allow);
            }
        }
    }

    /// The first arguments allowed for command `id` while its bit is clear.
    pub(super) fn first_args_of(&self, id: usize) -> &[String] {
        self.first_args.get(&id).map_or(&[], Vec::as_slice)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> Result<User, RuleError> {
        let mut u = User::new("u");
        for r in rules {
            u.apply(r.as_bytes())?;
        }
        Ok(u)
    }

    #[test]
    fn passwords_are_stored_as_sha256_only() {
        let u = user(&[">secret"]).unwrap();
        assert_eq!(
            u.passwords,
            vec!["2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b".to_string()]
        );
        assert!(u.password_matches(b"secret"));
        assert!(!u.password_matches(b"other"));
        let mut u = u;
        assert_eq!(u.apply(b"<nope"), Err(RuleError::NoSuchPassword));
        assert_eq!(u.apply(b"<secret"), Ok(()));
        assert!(u.passwords.is_empty());
        assert_eq!(u.apply(b"#ABC"), Err(RuleError::BadHash));
    }

    #[test]
    fn later_rules_override_earlier_ones_per_command() {
        let table = ids();
        let get = table.id_by_name("get").unwrap();
        let set = table.id_by_name("set").unwrap();
        let u = user(&["+@all", "-@string", "+get"]).unwrap();
        assert!(u.bit(get) && !u.bit(set) && !u.all_commands && u.future_commands);
        let u = user(&["+config|get"]).unwrap();
        let config = table.id_by_name("config").unwrap();
        assert!(!u.bit(config) && u.bit(table.id_by_name("config|get").unwrap()));
        let u = user(&["+select|0"]).unwrap();
        let select = table.id_by_name("select").unwrap();
        assert_eq!(u.first_args_of(select), ["0".to_string()]);
    }

    #[test]
    fn bad_rules_say_why() {
        assert_eq!(user(&["+nosuch"]).err(), Some(RuleError::UnknownName));
        assert_eq!(user(&["+@nosuch"]).err(), Some(RuleError::UnknownName));
        assert_eq!(user(&["bogus"]).err(), Some(RuleError::Syntax));
        assert_eq!(
            user(&["~*", "~a"]).err(),
            Some(RuleError::KeyPatternAfterAll)
        );
        assert_eq!(
            user(&["&*", "&a"]).err(),
            Some(RuleError::ChannelPatternAfterAll)
        );
        assert_eq!(user(&["%X~a"]).err(), Some(RuleError::Syntax));
        assert_eq!(
            user(&["+config|get|x"]).err(),
            Some(RuleError::FirstArgOfSubcommand)
        );
        assert_eq!(user(&["+get|"]).err(), Some(RuleError::Syntax));
    }

    #[test]
    fn key_patterns_merge_their_access() {
        let u = user(&["%R~a*", "%W~a*", "%R~b"]).unwrap();
        assert_eq!(u.keys.len(), 2);
        assert!(u.keys[0].read && u.keys[0].write);
        assert!(u.keys[1].read && !u.keys[1].write);
    }
}
