//! A user as rules that recreate it (ACL LIST, ACL GETUSER, ACL SAVE),
//! with Redis' `ACLDescribeUser` algorithm: flags, passwords, the root
//! selector, then each other selector in parentheses; a selector's
//! commands start from `+@all` or `-@all`, greedily apply the category
//! that best fits the remaining difference, then name single commands
//! until the bitmap is exact.

use super::categories::CATEGORIES;
use super::commands::ids;
use super::selector::{KeyPattern, Selector};
use super::user::User;

/// `on #hash ~keys resetchannels &ch -@all +get` (the part after the name
/// in `user <name> ...`).
pub fn describe_user(u: &User) -> String {
    let mut out = String::new();
    out.push_str(if u.enabled { "on " } else { "off " });
    if u.nopass {
        out.push_str("nopass ");
    }
    match u.sanitize_payload {
        Some(false) => out.push_str("skip-sanitize-payload "),
        Some(true) => out.push_str("sanitize-payload "),
        None => {}
    }
    for p in &u.passwords {
        out.push('#');
        out.push_str(p);
        out.push(' ');
    }
    out.push_str(&describe_selector(&u.root));
    for selector in &u.selectors {
        out.push_str(" (");
        out.push_str(&describe_selector(selector));
        out.push(')');
    }
    out
}

/// Redis' `ACLDescribeSelector`: `~keys resetchannels &ch -@all +get`.
pub fn describe_selector(s: &Selector) -> String {
    let mut out = String::new();
    if s.all_keys {
        out.push_str("~* ");
    } else {
        for k in &s.keys {
            out.push_str(&key_pattern(k));
            out.push(' ');
        }
    }
    if s.all_channels {
        out.push_str("&* ");
    } else {
        out.push_str("resetchannels ");
        for c in &s.channels {
            out.push('&');
            out.push_str(&String::from_utf8_lossy(c));
            out.push(' ');
        }
    }
    out.push_str(&command_rules(s));
    out
}

/// `~p`, `%R~p` or `%W~p`.
pub fn key_pattern(k: &KeyPattern) -> String {
    let prefix = match (k.read, k.write) {
        (true, true) => "~",
        (true, false) => "%R~",
        (false, true) => "%W~",
        (false, false) => "%~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
}

/// The key patterns as GETUSER shows them (space separated).
pub fn keys_field(u: &Selector) -> String {
    if u.all_keys {
        return "~*".to_string();
    }
    u.keys.iter().map(key_pattern).collect::<Vec<_>>().join(" ")
}

/// The channel patterns as GETUSER shows them.
pub fn channels_field(u: &Selector) -> String {
    if u.all_channels {
        return "&*".to_string();
    }
    u.channels
        .iter()
        .map(|c| format!("&{}", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Redis' `ACLDescribeSelectorCommandRules`.
pub fn command_rules(u: &Selector) -> String {
    let table = ids();
    let additive = !u.future_commands;
    let mut rules = String::from(if additive { "-@all " } else { "+@all " });
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
        rules.push_str(if additive { "+@" } else { "-@" });
        rules.push_str(CATEGORIES[j]);
        rules.push(' ');
        applied[j] = true;
    }
    for (id, entry) in table.entries.iter().enumerate() {
        let user_bit = u.bit(id);
        if user_bit != fake.bit(id) {
            rules.push(if user_bit { '+' } else { '-' });
            rules.push_str(&entry.full_name);
            rules.push(' ');
            fake.change_perm(table, id, user_bit);
        }
        if !user_bit {
            for arg in u.first_args_of(id) {
                rules.push_str(&format!("+{}|{arg} ", entry.full_name));
            }
        }
    }
    rules.pop();
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
        describe_user(&u)
    }

    #[test]
    fn users_are_described_as_redis_does() {
        assert_eq!(described(&[]), "off resetchannels -@all");
        assert_eq!(
            describe_user(&User::default_user()),
            "on nopass ~* &* +@all"
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
            for r in text.split(' ') {
                again.apply(r.as_bytes()).unwrap();
            }
            assert_eq!(again.root.commands, u.root.commands, "{text}");
        }
    }
}
