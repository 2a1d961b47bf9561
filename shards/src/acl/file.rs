//! The `aclfile`: one `user <name> <rule> ...` line per user, as ACL LIST
//! prints them, selectors included (Redis' `ACLLoadFromFile` /
//! `ACLSaveToFile`). Loading is
//! all or nothing: any bad line leaves the users as they were, and the
//! error names every bad line. Saving writes a temporary file, syncs it,
//! and renames it over the old one.

use std::io::Write;
use std::path::Path;

use super::describe::describe_user;
use super::registry;
use super::selector::merge_selector_arguments;
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
            continue;
        };
        let mut syntax_error = false;
        for rule in &rules {
            let rule = trim(rule);
            match user.apply(rule) {
                Ok(()) => {}
                Err(RuleError::UnknownName) => errors.push_str(&format!(
                    "{shown}:{n}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(rule),
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
    let mut text = String::new();
    for u in registry::all() {
        text.push_str(&format!("user {} {}\n", u.name, describe_user(&u)));
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
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
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let users = read_users(&path, "users.acl").unwrap();
        assert_eq!(users[0].selectors.len(), 2);
        assert_eq!(format!("user bob {}", describe_user(&users[0])), line);
        let missing = read_users(&dir.join("nope"), "nope").unwrap_err();
        assert_eq!(
            missing,
            "Error loading ACLs, opening file 'nope': No such file or directory"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
