//! One ACL user and Redis 7's rule language (`ACLSetUser`): its own
//! flags and passwords, its root selector (rules outside parentheses) and
//! its further selectors (`(...)` rules, see [`super::selector`]).
//!
//! Invariants: `passwords` holds SHA-256 digests only (64 lowercase hex
//! characters), never a cleartext; the root selector always exists
//! (`clearselectors` removes only the others).

use sha2::{Digest, Sha256};

pub use super::selector::{KeyPattern, Selector};

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
    /// The rules outside parentheses.
    pub root: Selector,
    /// The `(...)` selectors, in the order added.
    pub selectors: Vec<Selector>,
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

/// Whether `s` has a space or NUL (refused in names and patterns): C's
/// `isspace`, which counts the vertical tab too, as Redis'
/// `ACLStringHasSpaces`.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0))
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
            root: Selector::new(),
            selectors: Vec::new(),
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

    /// Whether nothing is denied to it (the check can be skipped): one of
    /// its selectors allows every command, key and channel.
    pub fn unrestricted(&self) -> bool {
        self.all_selectors().any(Selector::unrestricted)
    }

    /// The root selector, then the others (the order Redis checks them).
    pub fn all_selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(&self.selectors)
    }

    /// Whether one of its selectors allows every channel.
    pub fn all_channels(&self) -> bool {
        self.all_selectors().any(|s| s.all_channels)
    }

    /// Whether one of its selectors' channel patterns allows `name`: a
    /// channel matched as a glob, a pattern (`is_pattern`) literally, as
    /// Redis' `ACLCheckChannelAgainstList`.
    pub fn channel_allowed(&self, is_pattern: bool, name: &[u8]) -> bool {
        self.all_channels()
            || self.all_selectors().flat_map(|s| &s.channels).any(|c| {
                if is_pattern {
                    c.as_slice() == name
                } else {
                    crate::command::glob_match(c, name)
                }
            })
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
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let inner = &op[1..op.len() - 1];
            self.selectors.push(Selector::from_op_set(inner)?);
        } else if is("clearselectors") {
            self.selectors.clear();
        } else if is("reset") {
            for rule in [
                "resetpass",
                "resetkeys",
                "resetchannels",
                "off",
                "sanitize-payload",
                "clearselectors",
                "-@all",
            ] {
                self.apply(rule.as_bytes())?;
            }
        } else {
            self.root.apply(op)?;
        }
        Ok(())
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
        // C's isspace: a vertical tab is a space too.
        assert_eq!(user(&["~a\x0bb"]).err(), Some(RuleError::Syntax));
        assert_eq!(user(&["&a\x0bb"]).err(), Some(RuleError::Syntax));
    }

    #[test]
    fn parenthesised_rules_add_selectors_and_clearselectors_removes_them() {
        let mut u = user(&["on", "+get", "~a*", "(+set ~b*)", "()"]).unwrap();
        assert_eq!(u.selectors.len(), 2);
        assert_eq!(u.root.keys[0].pattern, b"a*");
        assert_eq!(u.selectors[0].keys[0].pattern, b"b*");
        assert_eq!(u.selectors[1], Selector::new());
        // Rules outside parentheses change the root only.
        u.apply(b"~c*").unwrap();
        assert_eq!(u.root.keys.len(), 2);
        assert_eq!(u.selectors[0].keys.len(), 1);
        // A selector holds selector rules only.
        assert_eq!(u.apply(b"(on)"), Err(RuleError::Syntax));
        assert_eq!(u.apply(b"(+nosuch)"), Err(RuleError::UnknownName));
        u.apply(b"clearselectors").unwrap();
        assert!(u.selectors.is_empty() && u.root.keys.len() == 2 && u.enabled);
        u.apply(b"(&ch)").unwrap();
        u.apply(b"reset").unwrap();
        assert!(u.selectors.is_empty() && u.root.keys.is_empty() && !u.enabled);
    }

    #[test]
    fn a_selector_may_grant_all_channels() {
        let u = user(&["&news.*", "(&sport)"]).unwrap();
        assert!(u.channel_allowed(false, b"news.a") && u.channel_allowed(false, b"sport"));
        assert!(!u.channel_allowed(false, b"other") && !u.channel_allowed(true, b"news.a*"));
        assert!(u.channel_allowed(true, b"news.*"));
        let u = user(&["(allchannels)"]).unwrap();
        assert!(u.all_channels() && u.channel_allowed(true, b"x*"));
        let u = user(&["(+@all ~* &*)"]).unwrap();
        assert!(u.unrestricted() && !u.root.unrestricted());
    }
}
