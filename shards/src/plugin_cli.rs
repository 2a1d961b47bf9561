//! `shard-server plugin keygen | sign | verify`: the key handling of
//! plugin signatures (Ed25519, detached `<file>.sig`).
//!
//! ```text
//! shard-server plugin keygen <secret-key-file>    writes the secret key (mode 0600), prints the public key
//! shard-server plugin sign <secret-key-file> <plugin>   writes <plugin>.sig
//! shard-server plugin verify <public-key> <plugin>      exit 0 if <plugin>.sig is valid
//! ```

use std::path::Path;

use frys_plugins::sign;

const USAGE: &str = "usage: shard-server plugin keygen <secret-key-file> | sign <secret-key-file> <plugin> | verify <public-key-hex> <plugin>";

/// Runs the subcommand of `args` (after `plugin`); the text to print on
/// success, or the error.
pub fn run(args: &[String]) -> Result<String, String> {
    match args {
        [cmd, secret_file] if cmd == "keygen" => {
            let (secret, public) = sign::keygen()?;
            write_secret(Path::new(secret_file), &secret)?;
            Ok(format!("public key: {public}"))
        }
        [cmd, secret_file, plugin] if cmd == "sign" => {
            let secret =
                std::fs::read_to_string(secret_file).map_err(|e| format!("{secret_file}: {e}"))?;
            let sig = sign::sign_file(Path::new(plugin), &secret)?;
            Ok(format!("wrote {}", sig.display()))
        }
        [cmd, public, plugin] if cmd == "verify" => {
            let key = sign::parse_public_key(public)?;
            let data = std::fs::read(plugin).map_err(|e| format!("{plugin}: {e}"))?;
            sign::verify(Path::new(plugin), &data, &[key])?;
            Ok(format!("{plugin}: good signature"))
        }
        _ => Err(USAGE.to_string()),
    }
}

fn write_secret(path: &Path, secret: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(f, "{secret}").map_err(|e| format!("{}: {e}", path.display()))
}
