//! A user as rules that recreate it (ACL LIST, ACL GETUSER, ACL SAVE),
//! with Redis' `ACLDescribeUser` algorithm: flags, passwords, the root
//! selector, then each other selector in parentheses; a selector's
//! commands start from `+@all` or `-@all`, greedily apply the category
//! that best fits the remaining difference, then name single commands
//! until the bitmap is exact.

use super::categories::CATEGORIES;
use super::commands::ids;
use super::file_quoting::quote;
use super::selector::{KeyPattern, Selector};
use super::user::User;

/// How a description's rules are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Each rule's bytes as they are (ACL LIST and GETUSER, as Redis).
    Raw,
    /// For the aclfile: a rule that would not load back as itself is
    /// quoted (see `acl::file_quoting`).
    File,
}

/// `on #hash ~keys resetchannels &ch -@all +get` (the part after the name
/// in `user <name> ...`).
pub fn describe_user(u: &User, form: Form) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(if u.enabled { b"on " } else { b"off " });
    if u.nopass {
        out.extend_from_slice(b"nopass ");
    }
    match u.sanitize_payload {
        Some(false) => out.extend_from_slice(b"skip-sanitize-payload "),
        Some(true) => out.extend_from_slice(b"sanitize-payload "),
        None => {}
    }
    for p in &u.passwords {
        out.push(b'#');
        out.extend_from_slice(p.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(&join(&selector_rules(&u.root, form), form, false));
    for selector in &u.selectors {
        out.extend_from_slice(b" (");
        out.extend_from_slice(&join(&selector_rules(selector, form), form, true));
        out.push(b')');
    }
    out
}

/// `user <name> <rules>`: ACL LIST's line (`Form::Raw`) or ACL SAVE's.
pub fn user_line(u: &User, form: Form) -> Vec<u8> {
    let mut line = format!("user {} ", u.name).into_bytes();
    line.extend_from_slice(&describe_user(u, form));
    line
}

/// `rules` separated by spaces, each quoted for its place under `File`.
fn join(rules: &[Vec<u8>], form: Form, in_selector: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match form {
            Form::Raw => out.extend_from_slice(rule),
            Form::File => out.extend_from_slice(&quote(rule, in_selector)),
        }
    }
    out
}

/// Redis' `ACLDescribeSelector`: `~keys resetchannels &ch -@all +get`,
/// one rule each. A pattern `*` (from `%RW~*`) is `~*` as Redis shows it,
/// but `%RW~*` in the aclfile, where `~*` would load as `allkeys` (and
/// refuse the patterns after it).
fn selector_rules(s: &Selector, form: Form) -> Vec<Vec<u8>> {
    let mut rules = Vec::new();
    if s.all_keys {
        rules.push(b"~*".to_vec());
    } else {
        rules.extend(s.keys.iter().map(|k| match key_pattern(k) {
            p if form == Form::File && p == b"~*" => b"%RW~*".to_vec(),
            p => p,
        }));
    }
    if s.all_channels {
        rules.push(b"&*".to_vec());
    } else {
        rules.push(b"resetchannels".to_vec());
        rules.extend(s.channels.iter().map(|c| [b"&", c.as_slice()].concat()));
    }
    rules.extend(command_rule_list(s));
    rules
}

/// `~p`, `%R~p` or `%W~p`.
pub fn key_pattern(k: &KeyPattern) -> Vec<u8> {
    let prefix: &[u8] = match (k.read, k.write) {
        (true, true) => b"~",
        (true, false) => b"%R~",
        (false, true) => b"%W~",
        (false, false) => b"%~",
    };
    [prefix, k.pattern.as_slice()].concat()
}

/// The key patterns as GETUSER shows them (space separated).
pub fn keys_field(u: &Selector) -> Vec<u8> {
    if u.all_keys {
        return b"~*".to_vec();
    }
    u.keys
        .iter()
        .map(key_pattern)
        .collect::<Vec<_>>()
        .join(&b' ')
}

/// The channel patterns as GETUSER shows them.
pub fn channels_field(u: &Selector) -> Vec<u8> {
    if u.all_channels {
        return b"&*".to_vec();
    }
    u.channels
        .iter()
        .map(|c| [b"&", c.as_slice()].concat())
        .collect::<Vec<_>>()
        .join(&b' ')
}

/// GETUSER's `commands`: the command rules, space separated.
pub fn command_rules(u: &Selector) -> Vec<u8> {
    command_rule_list(u).join(&b' ')
}

/// Redis' `ACLDescribeSelectorCommandRules`, one rule each.
fn command_rule_list(u: &Selector) -> Vec<Vec<u8>> {
    let table = ids();
    let additive = !u.future_commands;
    let mut rules: Vec<Vec<u8>> = vec![if additive {
        b"-@all".to_vec()
    } else {
        b"+@all".to_vec()
    }];
    let mut fake = Selector::new();
    let _ = fake.apply(if additive { b"-@all" } else { b"+@all" });
    // The categories still to explain are undone on `temp` as applied.
    let mut temp = u.clone();
    let mut applied = [false; CATEGORIES.len()];
    loop {
        let mut best = None;
        let (mut min_diff, mut max_same) = (usize::MAX, 0);
        for (j, _) in CATEGORIES.iter().enumerate() {
            if applied[j] {
                continue;
            }
            let (on, off) = count_bits(&temp, 1 << j);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(j);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(j) = best else { break };
        fake.set_category(1 << j, additive);
        temp.set_category(1 << j, !additive);
        let sign = if additive { "+@" } else { "-@" };
        rules.push(format!("{sign}{}", CATEGORIES[j]).into_bytes());
        applied[j] = true;
    }
    for (id, entry) in table.entries.iter().enumerate() {
        let user_bit = u.bit(id);
        if user_bit != fake.bit(id) {
            let sign = if user_bit { '+' } else { '-' };
            rules.push(format!("{sign}{}", entry.full_name).into_bytes());
            fake.change_perm(table, id, user_bit);
        }
        if !user_bit {
            for arg in u.first_args_of(id) {
                let mut rule = format!("+{}|", entry.full_name).into_bytes();
                rule.extend_from_slice(arg);
                rules.push(rule);
            }
        }
    }
    rules
}

/// How many commands of category `bit` `u` allows and denies.
fn count_bits(u: &Selector, bit: u32) -> (usize, usize) {
    let table = ids();
    let mut on_off = (0, 0);
    for (id, e) in table.entries.iter().enumerate() {
        if e.categories & bit != 0 {
            if u.bit(id) {
                on_off.0 += 1;
            } else {
                on_off.1 += 1;
            }
        }
    }
    on_off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(rules: &[&str]) -> String {
        let mut u = User::new("u");
        for r in rules {
            u.apply(r.as_bytes()).unwrap();
        }
        String::from_utf8(describe_user(&u, Form::Raw)).unwrap()
    }

    #[test]
    fn users_are_described_as_redis_does() {
        assert_eq!(described(&[]), "off resetchannels -@all");
        assert_eq!(
            describe_user(&User::default_user(), Form::Raw),
            b"on nopass ~* &* +@all"
        );
        assert_eq!(
            described(&["on", "~k*", "%R~r*", "&ch", "-@all", "+get"]),
            "on ~k* %R~r* resetchannels &ch -@all +get"
        );
        assert_eq!(
            described(&["+@all", "-@dangerous"]),
            "off resetchannels +@all -@dangerous"
        );
        assert_eq!(
            described(&["+select|0"]),
            "off resetchannels -@all +select|0"
        );
        assert_eq!(
            described(&["on", "+get", "~a*", "(+set ~b*)", "(%R~c &ch +@all)", "()"]),
            "on ~a* resetchannels -@all +get (~b* resetchannels -@all +set) (%R~c resetchannels &ch +@all) (resetchannels -@all)"
        );
    }

    /// Patterns and first arguments are described with their bytes as
    /// they are, UTF-8 or not (Redis replies with the raw bytes).
    #[test]
    fn descriptions_keep_the_bytes_of_patterns() {
        let mut u = User::new("n");
        for rule in [&b"(~\xff* &\xfe)"[..], b"%R~a\xff", b"+select|\xfd"] {
            u.apply(rule).unwrap();
        }
        assert_eq!(
            describe_user(&u, Form::Raw),
            b"off %R~a\xff resetchannels -@all +select|\xfd (~\xff* resetchannels &\xfe -@all)"
        );
        assert_eq!(keys_field(&u.selectors[0]), b"~\xff*");
        assert_eq!(channels_field(&u.selectors[0]), b"&\xfe");
        assert_eq!(command_rules(&u.root), b"-@all +select|\xfd");
        // The aclfile's form quotes them.
        assert_eq!(
            describe_user(&u, Form::File),
            b"off \"%R~a\\xff\" resetchannels -@all \"+select|\\xfd\" (\"~\\xff*\" resetchannels \"&\\xfe\" -@all)"
        );
    }

    /// Applying a description gives back the same permissions.
    #[test]
    fn a_description_recreates_the_user() {
        for rules in [
            &["+@all", "-@write", "+set", "-config|set"][..],
            &["-@all", "+@hash", "-hset", "+@string", "-@write"],
            &["+@read", "+config|get", "-get"],
        ] {
            let mut u = User::new("u");
            for r in rules {
                u.apply(r.as_bytes()).unwrap();
            }
            let text = command_rules(&u.root);
            let mut again = User::new("u");
            for r in text.split(|&b| b == b' ') {
                again.apply(r).unwrap();
            }
            assert_eq!(again.root.commands, u.root.commands, "{text:?}");
        }
    }
}
