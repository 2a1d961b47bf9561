//! The `CURRENT` file: the name of the live manifest, then `\n`.

use super::error::{CurrentError, ManifestError};

/// Longest manifest file name (a common file-system name limit).
const MAX_NAME_LEN: usize = 255;

/// The content of `CURRENT` naming `manifest_file_name`.
///
/// The name must be a plain file name that [`decode_current`] accepts (the
/// Db makes it, e.g. `MANIFEST-000042`); debug builds assert this.
pub fn encode_current(manifest_file_name: &str) -> Vec<u8> {
    debug_assert_eq!(
        check_name(manifest_file_name.as_bytes()),
        Ok(manifest_file_name)
    );
    let mut out = Vec::with_capacity(manifest_file_name.len() + 1);
    out.extend_from_slice(manifest_file_name.as_bytes());
    out.push(b'\n');
    out
}

/// The manifest file name in `CURRENT`'s content: exactly one plain file
/// name (no path separator, control character, `.` or `..`) then one `\n`.
///
/// # Examples
///
/// ```
/// use frys_storage::manifest::{decode_current, encode_current};
/// assert_eq!(decode_current(&encode_current("MANIFEST-000007")).unwrap(), "MANIFEST-000007");
/// assert!(decode_current(b"../etc/passwd\n").is_err());
/// ```
pub fn decode_current(bytes: &[u8]) -> Result<&str, ManifestError> {
    let name = bytes
        .strip_suffix(b"\n")
        .ok_or(CurrentError::MissingNewline)
        .and_then(check_name)
        .map_err(ManifestError::Current)?;
    Ok(name)
}

fn check_name(name: &[u8]) -> Result<&str, CurrentError> {
    if name.is_empty() {
        return Err(CurrentError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(CurrentError::TooLong(name.len()));
    }
    let name = std::str::from_utf8(name).map_err(|_| CurrentError::NotUtf8)?;
    if name.contains(['/', '\\']) {
        return Err(CurrentError::PathSeparator);
    }
    if name.chars().any(char::is_control) {
        return Err(CurrentError::ControlCharacter);
    }
    if name == "." || name == ".." {
        return Err(CurrentError::DotName);
    }
    Ok(name)
}
