//! The `aclfile`: one `user <name> <rule> ...` line per user, as ACL LIST
//! prints them, selectors included (Redis' `ACLLoadFromFile` /
//! `ACLSaveToFile`), except that a rule that would not load back as
//! itself is written quoted (see `acl::file_quoting`): saving then
//! loading never changes a permission. Loading is all or nothing: any
//! bad line leaves the users as they were, and the error names every bad
//! line. Saving writes a temporary file, syncs it, and renames it over
//! the old one.

use std::io::Write;
use std::path::Path;

use super::describe::{user_line, Form};
use super::file_quoting::unquote_root;
use super::registry;
use super::selector::{c_str, merge_selector_arguments};
use super::user::{has_spaces, RuleError, User};

/// Reads the users of `path` (shown as `shown` in errors); on any error,
/// Redis' error text.
pub fn read_users(path: &Path, shown: &str) -> Result<Vec<User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{shown}': {}",
            strerror(&e)
        )
    })?;
    parse_users(&text, shown)
}

/// The users of an aclfile's `text` (`shown` names it in errors).
pub fn parse_users(text: &[u8], shown: &str) -> Result<Vec<User>, String> {
    let mut errors = String::new();
    let mut users: Vec<User> = Vec::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = trim(raw);
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if words[0] != b"user" || words.len() < 2 {
            errors.push_str(&format!(
                "{shown}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        if has_spaces(words[1]) {
            errors.push_str(&format!(
                "'{shown}:{n}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(words[1])
            ));
            continue;
        }
        let name = String::from_utf8_lossy(words[1]).into_owned();
        if users.iter().any(|u| u.name == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{name}' found on line {n}. "
            ));
            continue;
        }
        let mut user = User::new(&name);
        let Ok(rules) = merge_selector_arguments(&words[2..]) else {
            errors.push_str(&format!(
                "{shown}:{n}: Unmatched parenthesis in selector definition."
            ));
            // The user exists, as in Redis: a later line of the same
            // name is a duplicate.
            users.push(user);
            continue;
        };
        let mut syntax_error = false;
        for rule in &rules {
            let rule = trim(rule);
            let unquoted = unquote_root(rule);
            let rule = unquoted.as_deref().unwrap_or(rule);
            match user.apply(rule) {
                Ok(()) => {}
                Err(RuleError::UnknownName) => errors.push_str(&format!(
                    "{shown}:{n}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(c_str(rule)),
                    RuleError::UnknownName.text()
                )),
                Err(e) if !syntax_error => {
                    errors.push_str(&format!("{shown}:{n}: {}. ", e.text()));
                    syntax_error = true;
                }
                Err(_) => {}
            }
        }
        users.push(user);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        Err(errors)
    }
}

/// ACL LOAD (and start-up): replaces every user by the file's; returns
/// the names of the users whose clients must be disconnected.
pub fn load(path: &Path, shown: &str) -> Result<Vec<String>, String> {
    let users = read_users(path, shown)?;
    Ok(registry::replace_all(users))
}

/// Loads the `aclfile` setting's users, if it is set (at start: a bad
/// file stops the server, as Redis does).
pub fn load_at_start() -> Result<(), String> {
    let file = crate::config::live(|c| c.get("aclfile").unwrap_or("").to_string());
    if file.is_empty() {
        return Ok(());
    }
    load(Path::new(&file), &file).map_err(|e| format!("aclfile {file}: {e}"))?;
    tracing::info!(file, "ACL users loaded");
    Ok(())
}

/// ACL SAVE: writes every user to `path`.
pub fn save(path: &Path) -> std::io::Result<()> {
    let mut text = Vec::new();
    for u in registry::all() {
        text.extend_from_slice(&user_line(&u, Form::File));
        text.push(b'\n');
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn trim(s: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !is_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// The C library's text for an I/O error (`No such file or directory`).
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::describe::describe_user;
    use crate::acl::selector::Selector;
    use proptest::prelude::*;

    /// Bytes for patterns and first arguments, often ones the aclfile's
    /// splitting treats specially.
    fn pattern() -> impl Strategy<Value = Vec<u8>> {
        let special =
            prop::sample::select(b"\"'()\\ \t\r\n\x00\x0b\x7f\xff\xc3*?[]|~&%#!".to_vec());
        prop::collection::vec(prop_oneof![special, any::<u8>()], 0..10)
    }

    /// One rule of a selector: a key or channel pattern, a first argument
    /// or a command rule.
    fn rule() -> impl Strategy<Value = Vec<u8>> {
        let prefix = prop::sample::select(vec![
            &b"~"[..],
            b"%R~",
            b"%W~",
            b"%RW~",
            b"&",
            b"+select|",
            b"+get",
            b"-@all",
            b"+@read",
        ]);
        (prefix, pattern()).prop_map(|(p, rest)| {
            let mut r = p.to_vec();
            if p.ends_with(b"~") || p.ends_with(b"&") || p.ends_with(b"|") {
                r.extend_from_slice(&rest);
            }
            r
        })
    }

    /// A selector of `rules`, those that apply (SETUSER refuses the others).
    fn selector_of(rules: &[Vec<u8>]) -> Selector {
        let mut s = Selector::new();
        for r in rules {
            let _ = s.apply(r);
        }
        s
    }

    proptest! {
        /// ACL SAVE's line, read back by ACL LOAD, is the same user, with
        /// whatever bytes its patterns and first arguments hold, at the
        /// root and in selectors.
        #[test]
        fn a_saved_user_loads_back_the_same(
            root in prop::collection::vec(rule(), 0..6),
            selectors in prop::collection::vec(prop::collection::vec(rule(), 0..6), 0..3),
        ) {
            let mut u = User::new("u");
            u.apply(b"on").unwrap();
            u.root = selector_of(&root);
            u.selectors = selectors.iter().map(|s| selector_of(s)).collect();
            let line = user_line(&u, Form::File);
            let loaded = parse_users(&line, "f");
            prop_assert!(loaded.is_ok(), "{:?} -> {:?}", String::from_utf8_lossy(&line), loaded);
            let loaded = loaded.unwrap();
            prop_assert_eq!(loaded.len(), 1);
            prop_assert_eq!(&loaded[0], &u, "{:?}", String::from_utf8_lossy(&line));
        }
    }

    /// The review's cases: raw, these lines reload as wider permissions
    /// (a quoted pattern becomes `*`, a `)` ends the selector early).
    #[test]
    fn quotes_and_parentheses_in_selectors_are_saved_quoted() {
        let mut u = User::new("q");
        u.apply(b"(~'\"*\"' +get)").unwrap();
        assert_eq!(u.selectors[0].keys[0].pattern, b"\"*\"");
        assert_eq!(
            describe_user(&u, Form::Raw),
            b"off resetchannels -@all (~\"*\" resetchannels -@all +get)"
        );
        let line = user_line(&u, Form::File);
        assert_eq!(
            line,
            b"user q off resetchannels -@all (\"~\\x22*\\x22\" resetchannels -@all +get)"
        );
        assert_eq!(parse_users(&line, "f").unwrap()[0], u);
        let mut r = User::new("r");
        for rule in [
            &b"-@all"[..],
            b"+get",
            b"~public*",
            b"(~x) ~secret* -@all +set +select|0)",
        ] {
            r.apply(rule).unwrap();
        }
        let line = user_line(&r, Form::File);
        assert_eq!(
            line,
            b"user r off ~public* resetchannels -@all +get (\"~x)\" ~secret* resetchannels -@all +set +select|0)"
        );
        assert_eq!(parse_users(&line, "f").unwrap()[0], r);
        // A pattern `*` is no `allkeys`: `~*` would load as that, and then
        // refuse the pattern after it.
        let mut p = User::new("p");
        p.apply(b"%RW~*").unwrap();
        p.apply(b"~a").unwrap();
        assert_eq!(
            describe_user(&p, Form::Raw),
            b"off ~* ~a resetchannels -@all"
        );
        let line = user_line(&p, Form::File);
        assert_eq!(line, b"user p off %RW~* ~a resetchannels -@all");
        assert_eq!(parse_users(&line, "f").unwrap()[0], p);
    }

    #[test]
    fn a_file_with_a_bad_line_is_refused_whole() {
        let dir = std::env::temp_dir().join(format!("frys-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.acl");
        std::fs::write(
            &path,
            "user alice on >pw ~* +@all\n\nuser bob +nosuch bogus\nfoo\n",
        )
        .unwrap();
        let err = read_users(&path, "users.acl").unwrap_err();
        assert_eq!(
            err,
            "users.acl:3: Error in applying operation '+nosuch': Unknown command or category name in ACL. users.acl:3: Syntax error. users.acl:4 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        );
        std::fs::write(&path, "user alice on >pw ~* +@all\n").unwrap();
        let users = read_users(&path, "users.acl").unwrap();
        assert_eq!(users.len(), 1);
        assert!(users[0].enabled && users[0].password_matches(b"pw"));
        // Selectors, as ACL SAVE writes them, come back whole.
        let line = "user bob on ~a* resetchannels -@all +get (~b* resetchannels &ch -@all +set) (resetchannels -@all)";
        std::fs::write(&path, format!("{line}\nuser carol (+get ~x\n")).unwrap();
        let err = read_users(&path, "users.acl").unwrap_err();
        assert_eq!(
            err,
            "users.acl:2: Unmatched parenthesis in selector definition.WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        );
        // The user of a line with an unclosed selector exists: a later
        // line of the same name is a duplicate, as Redis reports it.
        std::fs::write(&path, "user a (+get\nuser a on\n").unwrap();
        let err = read_users(&path, "users.acl").unwrap_err();
        assert_eq!(
            err,
            "users.acl:1: Unmatched parenthesis in selector definition.WARNING: Duplicate user 'a' found on line 2. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        );
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let users = read_users(&path, "users.acl").unwrap();
        assert_eq!(users[0].selectors.len(), 2);
        assert_eq!(user_line(&users[0], Form::File), line.as_bytes());
        let missing = read_users(&dir.join("nope"), "nope").unwrap_err();
        assert_eq!(
            missing,
            "Error loading ACLs, opening file 'nope': No such file or directory"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
