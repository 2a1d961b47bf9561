//! Ed25519 signatures of plugin files: a detached signature beside the
//! file (`<file>.sig`, 128 hex digits), checked against the trusted
//! public keys (64 hex digits each) of the server's settings.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// The detached signature's path for `file`.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// A trusted public key from its hex text.
pub fn parse_public_key(hex: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = unhex(hex.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("public key '{hex}' is not 64 hex digits"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("public key '{hex}': {e}"))
}

/// A new signing key from the OS's randomness: (secret hex, public hex).
pub fn keygen() -> Result<(String, String), String> {
    let mut seed = [0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom").map_err(|e| format!("/dev/urandom: {e}"))?;
    std::io::Read::read_exact(&mut f, &mut seed).map_err(|e| format!("/dev/urandom: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    Ok((hex(&seed), hex(key.verifying_key().as_bytes())))
}

/// Signs `file` with the secret key `secret_hex`; returns the signature
/// path it wrote.
pub fn sign_file(file: &Path, secret_hex: &str) -> Result<PathBuf, String> {
    let seed: [u8; 32] = unhex(secret_hex.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or("the secret key is not 64 hex digits")?;
    let key = SigningKey::from_bytes(&seed);
    let data = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let sig = key.sign(&data);
    let path = signature_path(file);
    std::fs::write(&path, format!("{}\n", hex(&sig.to_bytes())))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Checks `data` (the contents of `file`) against its detached signature
/// and `trusted` keys: Ok with the index of the key that signed it.
pub fn verify(file: &Path, data: &[u8], trusted: &[VerifyingKey]) -> Result<usize, String> {
    let path = signature_path(file);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        format!(
            "plugin {} is not signed (no {})",
            file.display(),
            path.display()
        )
    })?;
    let bytes: [u8; 64] = unhex(text.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{} is not 128 hex digits", path.display()))?;
    let sig = Signature::from_bytes(&bytes);
    trusted
        .iter()
        .position(|k| k.verify(data, &sig).is_ok())
        .ok_or_else(|| {
            format!(
                "plugin {} has a bad signature (tampered, or signed by an untrusted key)",
                file.display()
            )
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_files_verify_and_tampered_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("frys-sign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.wasm");
        std::fs::write(&file, b"plugin bytes").unwrap();
        let (secret, public) = keygen().unwrap();
        let (_, other) = keygen().unwrap();
        let trusted = [
            parse_public_key(&other).unwrap(),
            parse_public_key(&public).unwrap(),
        ];
        assert!(
            verify(&file, b"plugin bytes", &trusted).is_err(),
            "unsigned"
        );
        sign_file(&file, &secret).unwrap();
        assert_eq!(verify(&file, b"plugin bytes", &trusted), Ok(1));
        assert!(verify(&file, b"plugin bytez", &trusted).is_err());
        assert!(verify(&file, b"plugin bytes", &trusted[..1]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
