//! How a rule is written in the `aclfile` so that loading it gives back
//! the same bytes ([`quote`] for ACL SAVE, [`unquote_root`] for the
//! loader; selectors are read back by `protocol::split_inline`).
//!
//! Redis' loader splits a line at single spaces, joins a `(...)` selector
//! back from its words (a word ending with `)` closes it), and splits the
//! selector's text again with `sdssplitargs`, where quotes are syntax.
//! Redis' ACL SAVE writes the raw rules (as ACL LIST shows them), so a
//! rule with a quote, a `)` or a space inside a selector, or a control
//! byte anywhere, reloads as different rules: other permissions. Here a
//! rule that would not come back whole is written in `sdssplitargs`'
//! double-quoted form, with every byte outside printable ASCII (space
//! included) and `"` / `\` as `\xHH`, so the quoted word has no space in
//! it and does not end with `)`:
//! - inside a selector, `sdssplitargs` reads it back, as in Redis;
//! - outside one, the loader reads a word that starts with `"` as one
//!   such quoted word ([`unquote_root`]). No rule starts with `"`, so a
//!   file Redis writes, or accepts, loads as it does in Redis.
//!
//! Invariant: for every rule `r` (any bytes; outside a selector, not
//! starting with `(`, as no rule of a selector does) and either place,
//! `quote(r)` read back as described gives `r`.

use std::borrow::Cow;

/// Whether `rule`, written raw, might not read back as itself: inside a
/// selector (`in_selector`), or among the root rules.
fn needs_quotes(rule: &[u8], in_selector: bool) -> bool {
    let reread = |b: &u8| match b {
        b'"' | b'\'' | b'(' | b')' => in_selector,
        0x21..=0x7e | 0x80..=0xff => false,
        _ => true,
    };
    rule.first() == Some(&b'"') || rule.iter().any(reread) || std::str::from_utf8(rule).is_err()
}

/// `rule` as ACL SAVE writes it, inside a selector or not: raw when that
/// reads back as itself, else double-quoted with `\xHH` escapes.
pub fn quote(rule: &[u8], in_selector: bool) -> Cow<'_, [u8]> {
    if !needs_quotes(rule, in_selector) {
        return Cow::Borrowed(rule);
    }
    let mut out = Vec::with_capacity(rule.len() + 2);
    out.push(b'"');
    for &b in rule {
        match b {
            b'"' | b'\\' => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            0x21..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
    Cow::Owned(out)
}

/// A root rule of a loaded line that is one double-quoted word (as
/// [`quote`] writes it): its bytes. `None` for anything else, which is
/// then applied as it is (a word starting with `"` is no rule, so Redis'
/// syntax error). A quoted `(...)` is no selector either.
pub fn unquote_root(word: &[u8]) -> Option<Vec<u8>> {
    if word.first() != Some(&b'"') {
        return None;
    }
    let argv = crate::protocol::split_inline(word).ok()?;
    let mut args = argv.iter();
    let (Some(rule), None) = (args.next(), args.next()) else {
        return None;
    };
    (rule.first() != Some(&b'(')).then(|| rule.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rules_are_quoted_only_where_they_would_be_read_differently() {
        assert_eq!(&*quote(b"~a*", false), b"~a*");
        assert_eq!(&*quote(b"~a\"b", false), b"~a\"b");
        assert_eq!(&*quote(b"~a\"b", true), b"\"~a\\x22b\"");
        assert_eq!(&*quote(b"+select|0)", true), b"\"+select|0)\"");
        assert_eq!(&*quote(b"~caf\xc3\xa9", true), b"~caf\xc3\xa9");
        assert_eq!(&*quote(b"~\xff*", false), b"\"~\\xff*\"");
        assert_eq!(&*quote(b"+select|a b", false), b"\"+select|a\\x20b\"");
        assert_eq!(unquote_root(b"\"~\\xff*\""), Some(b"~\xff*".to_vec()));
        // Not one quoted word: applied as it is.
        assert_eq!(unquote_root(b"~\"x\""), None);
        assert_eq!(unquote_root(b"\"~x"), None);
        assert_eq!(unquote_root(b"\"~x\"y"), None);
        assert_eq!(unquote_root(b"\"(~x)\""), None);
    }

    proptest! {
        /// Whatever its bytes, a quoted rule reads back as itself, in a
        /// selector (split as `sdssplitargs`) and as a root word.
        #[test]
        fn a_quoted_rule_reads_back_as_itself(rule in proptest::collection::vec(any::<u8>(), 1..24)) {
            let root = quote(&rule, false);
            prop_assert!(!root.contains(&b' '));
            if root.as_ref() != rule.as_slice() && rule[0] != b'(' {
                prop_assert_eq!(unquote_root(&root), Some(rule.clone()));
            }
            let inner = quote(&rule, true);
            prop_assert!(!inner.contains(&b' ') && inner.last() != Some(&b')'));
            let argv = crate::protocol::split_inline(&inner).unwrap();
            prop_assert_eq!(argv.len(), 1);
            prop_assert_eq!(argv.get(0).unwrap(), rule.as_slice());
        }
    }
}
