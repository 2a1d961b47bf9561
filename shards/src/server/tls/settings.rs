//! Building the rustls server configuration from the `tls-*` settings,
//! and the configuration in force (swapped whole by a reload).

use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::config::Config;

/// Redis' reason when CONFIG SET of a `tls-*` setting cannot be applied
/// (the cause is logged).
pub const CONFIG_SET_FAILED: &str = "Unable to update TLS configuration. Check server logs.";

/// The settings a reload reads.
const TLS_SETTINGS: [&str; 5] = [
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-auth-clients",
    "tls-protocols",
];

static CURRENT: RwLock<Option<Arc<ServerConfig>>> = RwLock::new(None);

/// The configuration new connections get (None: TLS is off).
pub fn current() -> Option<Arc<ServerConfig>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn install(config: Arc<ServerConfig>) {
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(config);
}

/// Builds and installs the configuration at start.
pub(super) fn install_initial(config: &Config) -> Result<(), String> {
    install(build(config)?);
    Ok(())
}

/// Rebuilds the configuration from `config`'s files and installs it; on
/// error the previous one stays in force.
pub fn reload(config: &Config) -> Result<(), String> {
    install(build(config)?);
    Ok(())
}

/// Applies a CONFIG SET that changed `names` to `next` (not yet live):
/// with TLS on and a `tls-*` setting among them, the new configuration is
/// built and installed, or the setting that failed is returned with the
/// cause logged.
pub fn on_config_set<'a>(
    mut names: impl Iterator<Item = &'a str>,
    next: &Config,
) -> Result<(), String> {
    let Some(name) = names.find(|n| TLS_SETTINGS.contains(n)) else {
        return Ok(());
    };
    if super::port().is_none() {
        return Ok(());
    }
    reload(next).map_err(|e| {
        tracing::warn!(error = %e, "CONFIG SET: TLS configuration not updated");
        name.to_string()
    })
}

fn build(config: &Config) -> Result<Arc<ServerConfig>, String> {
    let setting = |name: &str| config.get(name).unwrap_or("").to_string();
    let cert_file = setting("tls-cert-file");
    let key_file = setting("tls-key-file");
    if cert_file.is_empty() || key_file.is_empty() {
        return Err("tls-port is set: tls-cert-file and tls-key-file are required".into());
    }
    let certs = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls-cert-file {cert_file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("tls-cert-file {cert_file}: no certificate in it"));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("tls-key-file {key_file}: {e}"))?;
    let versions = protocols(&setting("tls-protocols"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls-protocols: {e}"))?;
    let auth = setting("tls-auth-clients");
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let ca_file = setting("tls-ca-cert-file");
        if ca_file.is_empty() {
            return Err(format!(
                "tls-auth-clients is {auth}: tls-ca-cert-file is required to verify the clients"
            ));
        }
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&ca_file)
            .map_err(|e| format!("tls-ca-cert-file {ca_file}: {e}"))?
        {
            let ca = ca.map_err(|e| format!("tls-ca-cert-file {ca_file}: {e}"))?;
            roots
                .add(ca)
                .map_err(|e| format!("tls-ca-cert-file {ca_file}: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if auth == "optional" {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| format!("tls-ca-cert-file {ca_file}: {e}"))?,
        )
    };
    let server = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls-cert-file / tls-key-file: {e}"))?;
    Ok(Arc::new(server))
}

/// `tls-protocols`: space-separated `TLSv1.2` / `TLSv1.3`, any case.
fn protocols(value: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let mut versions = Vec::new();
    for word in value.split_whitespace() {
        let v = match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => &rustls::version::TLS12,
            "tlsv1.3" => &rustls::version::TLS13,
            _ => {
                return Err(format!(
                    "tls-protocols: '{word}' is not supported (TLSv1.2 and TLSv1.3 are)"
                ))
            }
        };
        if !versions.contains(&v) {
            versions.push(v);
        }
    }
    if versions.is_empty() {
        return Err("tls-protocols: no protocol given (TLSv1.2 and/or TLSv1.3)".into());
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_take_redis_names_and_refuse_old_ones() {
        assert_eq!(protocols("TLSv1.3").unwrap(), vec![&rustls::version::TLS13]);
        assert_eq!(
            protocols("tlsv1.2 TLSv1.3").unwrap(),
            vec![&rustls::version::TLS12, &rustls::version::TLS13]
        );
        assert!(protocols("TLSv1.1").unwrap_err().contains("not supported"));
        assert!(protocols("").unwrap_err().contains("no protocol"));
    }
}
