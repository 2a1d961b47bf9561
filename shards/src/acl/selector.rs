//! One ACL selector: the commands, keys and channels it allows (Redis 7's
//! `aclSelector` and `ACLSetSelector`).
//!
//! A user has a root selector (the rules written outside parentheses) and
//! any number of further selectors (`(+set ~b*)`); a request is allowed if
//! one of them allows it whole: its command, every key and every channel
//! (see [`super::check`]).
//!
//! Invariants: `all_keys` implies `keys` is empty and `all_channels`
//! implies `channels` is empty; `all_commands` is true only while every
//! command bit is set (clearing any bit clears it), and `future_commands`
//! is Redis' reserved bit, set by `+@all` and cleared by `-@all` only.
//! Rules apply one at a time, in order, each being the same bit operation
//! Redis performs, so the resulting bitmap is Redis'.

use std::collections::BTreeMap;

use super::categories;
use super::commands::{ids, CommandIds};
use super::user::{has_spaces, RuleError};

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

/// What one selector allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// One bit per command id (`commands::ids`).
    pub(super) commands: Vec<u64>,
    /// Every bit set and none cleared since `+@all`.
    pub(crate) all_commands: bool,
    /// Redis' reserved "future commands" bit.
    pub(crate) future_commands: bool,
    /// First arguments allowed for a command whose bit is clear
    /// (`+select|0`), by command id: the bytes given (up to a NUL, as
    /// Redis reads them), compared without case.
    pub(super) first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    /// `allkeys` / `~*`.
    pub all_keys: bool,
    /// Key patterns, in the order added.
    pub keys: Vec<KeyPattern>,
    /// `allchannels` / `&*`.
    pub all_channels: bool,
    /// Channel patterns, in the order added.
    pub channels: Vec<Vec<u8>>,
}

impl Default for Selector {
    fn default() -> Self {
        Selector::new()
    }
}

impl Selector {
    /// A selector that allows nothing (Redis' `ACLCreateSelector` with
    /// `acl-pubsub-default resetchannels`).
    pub fn new() -> Selector {
        Selector {
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

    /// A selector of the rules inside `(...)` (`inner` is what is between
    /// the parentheses), split as Redis' `sdssplitargs` splits them: as
    /// Redis' `aclCreateSelectorFromOpSet`, unbalanced quotes leave no
    /// rules (an empty selector).
    pub fn from_op_set(inner: &[u8]) -> Result<Selector, RuleError> {
        let mut s = Selector::new();
        if let Ok(rules) = crate::protocol::split_inline(inner) {
            for rule in rules.iter() {
                s.apply(rule)?;
            }
        }
        Ok(s)
    }

    /// Whether nothing is denied by it.
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Applies one selector rule (Redis' `ACLSetSelector`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Err(RuleError::Syntax);
        }
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
            self.allow_command(c_str(&op[1..]))?;
        } else if op[0] == b'-' {
            let table = ids();
            let id = table
                .id_by_name(&String::from_utf8_lossy(c_str(&op[1..])))
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

    fn allow_command(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let table = ids();
        let name = String::from_utf8_lossy(rule);
        let Some(bar) = rule.iter().rposition(|&b| b == b'|') else {
            let id = table.id_by_name(&name).ok_or(RuleError::UnknownName)?;
            self.change_perm(table, id, true);
            return Ok(());
        };
        let parent = String::from_utf8_lossy(&rule[..bar]);
        let sub = &rule[bar + 1..];
        let pid = table.id_by_name(&parent).ok_or(RuleError::UnknownName)?;
        if parent.contains('|') {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if table.entries[pid].subcommands.is_empty() {
            let args = self.first_args.entry(pid).or_default();
            if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                args.push(sub.to_vec());
            }
        } else {
            let id = table.id_by_name(&name).ok_or(RuleError::UnknownName)?;
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
    pub(super) fn first_args_of(&self, id: usize) -> &[Vec<u8>] {
        self.first_args.get(&id).map_or(&[], Vec::as_slice)
    }
}

/// `s` up to its first NUL: Redis reads command rules, and the parts of a
/// selector after its first, as C strings (and prints rules so in errors).
pub(super) fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
}

/// Joins a selector written over several arguments (`(+get` `~a*)`) into
/// one (`(+get ~a*)`), as Redis' `ACLMergeSelectorArguments`: an argument
/// that starts with `(` and does not end with `)` opens a selector (even
/// inside another, whose arguments so far are then dropped), the next one
/// that ends with `)` closes it. The arguments after the opening one are
/// joined up to their first NUL, as Redis' `sdscatfmt(" %s")` joins them.
/// `Err(i)`: argument `i` opened a selector that was never closed.
pub fn merge_selector_arguments(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, &arg) in args.iter().enumerate() {
        if arg.first() == Some(&b'(') && arg.last() != Some(&b')') {
            open = Some((i, arg.to_vec()));
            continue;
        }
        if let Some((_, selector)) = open.as_mut() {
            selector.push(b' ');
            selector.extend_from_slice(c_str(arg));
            if arg.last() == Some(&b')') {
                merged.extend(open.take().map(|(_, s)| s));
            }
            continue;
        }
        merged.push(arg.to_vec());
    }
    match open {
        Some((i, _)) => Err(i),
        None => Ok(merged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(rules: &[&str]) -> Result<Selector, RuleError> {
        let mut s = Selector::new();
        for r in rules {
            s.apply(r.as_bytes())?;
        }
        Ok(s)
    }

    #[test]
    fn later_rules_override_earlier_ones_per_command() {
        let table = ids();
        let get = table.id_by_name("get").unwrap();
        let set = table.id_by_name("set").unwrap();
        let s = selector(&["+@all", "-@string", "+get"]).unwrap();
        assert!(s.bit(get) && !s.bit(set) && !s.all_commands && s.future_commands);
        let s = selector(&["+config|get"]).unwrap();
        let config = table.id_by_name("config").unwrap();
        assert!(!s.bit(config) && s.bit(table.id_by_name("config|get").unwrap()));
        let s = selector(&["+select|0"]).unwrap();
        let select = table.id_by_name("select").unwrap();
        assert_eq!(s.first_args_of(select), [b"0".to_vec()]);
        // Kept as given, each once whatever its case (Redis' strcasecmp).
        let s = selector(&["+select|AbC", "+select|abc", "+select|x\0y"]).unwrap();
        assert_eq!(s.first_args_of(select), [b"AbC".to_vec(), b"x".to_vec()]);
    }

    #[test]
    fn key_patterns_merge_their_access() {
        let s = selector(&["%R~a*", "%W~a*", "%R~b"]).unwrap();
        assert_eq!(s.keys.len(), 2);
        assert!(s.keys[0].read && s.keys[0].write);
        assert!(s.keys[1].read && !s.keys[1].write);
    }

    #[test]
    fn an_op_set_is_split_as_redis_splits_it() {
        let s = Selector::from_op_set(b"+get  \"~a b*\"").err();
        // A quoted pattern with a space is still refused.
        assert_eq!(s, Some(RuleError::Syntax));
        let s = Selector::from_op_set(b"+get ~a*").unwrap();
        assert_eq!(s.keys[0].pattern, b"a*");
        // Unbalanced quotes: no rules at all, as Redis.
        assert_eq!(
            Selector::from_op_set(b"+get \"~a").unwrap(),
            Selector::new()
        );
        assert_eq!(Selector::from_op_set(b"on").err(), Some(RuleError::Syntax));
    }

    #[test]
    fn selectors_spread_over_arguments_are_joined() {
        let args: Vec<&[u8]> = vec![b"on", b"(+get", b"~a*)", b"(~b)", b"+set"];
        assert_eq!(
            merge_selector_arguments(&args).unwrap(),
            vec![
                b"on".to_vec(),
                b"(+get ~a*)".to_vec(),
                b"(~b)".to_vec(),
                b"+set".to_vec()
            ]
        );
        // A second opening drops the first one's arguments, as Redis.
        let args: Vec<&[u8]> = vec![b"(+get", b"(~a", b"~b)"];
        assert_eq!(
            merge_selector_arguments(&args).unwrap(),
            vec![b"(~a ~b)".to_vec()]
        );
        let args: Vec<&[u8]> = vec![b"on", b"(+get", b"~a*"];
        assert_eq!(merge_selector_arguments(&args), Err(1));
        // Later parts are joined up to a NUL, as Redis' `%s`, though the
        // whole part says whether it closes the selector.
        let args: Vec<&[u8]> = vec![b"(+get", b"\0", b"~x\0y", b"~z)"];
        assert_eq!(
            merge_selector_arguments(&args).unwrap(),
            vec![b"(+get  ~x ~z)".to_vec()]
        );
        let args: Vec<&[u8]> = vec![b"(+get", b"~x\0y)", b"~z"];
        assert_eq!(
            merge_selector_arguments(&args).unwrap(),
            vec![b"(+get ~x".to_vec(), b"~z".to_vec()]
        );
    }
}
