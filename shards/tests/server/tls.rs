//! TLS on `tls-port`: the `redis` crate and `redis-cli --tls` against the
//! real binary, mutual TLS (required, optional), TLS 1.2 only when opted
//! in, bad clients (plaintext, expired or unknown certificates) dropped
//! without harming others, and certificate reload by CONFIG SET and
//! SIGHUP. Certificates are generated here with rcgen.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A certificate authority of one test.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed");
        Ca { cert, key }
    }

    /// A leaf certificate for 127.0.0.1 / localhost, valid now (or expired).
    fn issue(&self, name: &str, expired: bool) -> (String, String) {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("signed");
        (cert.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }
}

/// The files of one test: a CA, the server's and a client's certificate.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().expect("tmp"),
            ca: Ca::new("frys test CA"),
        };
        pki.write("ca.crt", &pki.ca.pem());
        let (cert, key) = pki.ca.issue("server", false);
        pki.write("server.crt", &cert);
        pki.write("server.key", &key);
        let (cert, key) = pki.ca.issue("client", false);
        pki.write("client.crt", &cert);
        pki.write("client.key", &key);
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write pem");
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read pem")
    }

    /// Server flags for TLS with `tls-auth-clients auth` on `port`.
    fn server_args(&self, auth: &str, port: u16) -> Vec<String> {
        let p = |n: &str| self.path(n).display().to_string();
        vec![
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            p("server.crt"),
            "--tls-key-file".into(),
            p("server.key"),
            "--tls-ca-cert-file".into(),
            p("ca.crt"),
            "--tls-auth-clients".into(),
            auth.into(),
        ]
    }
}

/// A port the kernel had free a moment ago (`tls-port 0` means no TLS,
/// as in Redis, so the port is chosen here).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start(pki: &Pki, auth: &str, more: &[&str]) -> (Server, u16) {
    let mut args = pki.server_args(auth, free_port());
    args.extend(more.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(2, &args);
    let log = server.stderr();
    let port = log
        .lines()
        .find_map(|l| l.split("tls_addr=127.0.0.1:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no TLS port in the log:\n{log}"));
    (server, port)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration trusting `ca_pem`, with a client
/// certificate if given, speaking `versions`.
fn client_config(
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("ca pem")).expect("ca");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    Arc::new(match identity {
        Some((cert, key)) => {
            let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("cert pem");
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key pem");
            builder.with_client_auth_cert(certs, key).expect("identity")
        }
        None => builder.with_no_client_auth(),
    })
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects with `config` and completes the handshake.
fn tls_connect(port: u16, config: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(PATIENCE))?;
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Sends one inline command and reads one reply line.
fn exchange(tls: &mut Tls, command: &str) -> std::io::Result<String> {
    tls.write_all(format!("{command}\r\n").as_bytes())?;
    tls.flush()?;
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if tls.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(b[0]);
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Whether a client with `config` gets PONG (with mutual TLS 1.3 a refused
/// client certificate shows at the first read, after the handshake).
fn pings(port: u16, config: Arc<rustls::ClientConfig>) -> Result<(), String> {
    let mut tls = tls_connect(port, config).map_err(|e| e.to_string())?;
    match exchange(&mut tls, "PING") {
        Ok(l) if l == "+PONG\r\n" => Ok(()),
        Ok(l) => Err(format!("unexpected reply {l:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The server certificate a new connection is shown.
fn presented_cert(port: u16, config: Arc<rustls::ClientConfig>) -> Vec<u8> {
    let tls = tls_connect(port, config).expect("tls connect");
    tls.conn.peer_certificates().expect("peer certs")[0].to_vec()
}

fn redis_tls_client(
    pki: &Pki,
    port: u16,
    with_cert: bool,
) -> redis::RedisResult<redis::Connection> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client_tls = with_cert.then(|| redis::ClientTlsConfig {
        client_cert: pki.read("client.crt").into_bytes(),
        client_key: pki.read("client.key").into_bytes(),
    });
    let client = redis::Client::build_with_tls(
        format!("rediss://127.0.0.1:{port}/"),
        redis::TlsCertificates {
            client_tls,
            root_cert: Some(pki.read("ca.crt").into_bytes()),
        },
    )?;
    let mut con = client.get_connection_with_timeout(PATIENCE)?;
    con.set_read_timeout(Some(PATIENCE))?;
    // The handshake's last step (the client certificate) is checked here.
    redis::cmd("PING").query::<String>(&mut con)?;
    Ok(con)
}

const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

fn client_identity(pki: &Pki) -> (String, String) {
    (pki.read("client.crt"), pki.read("client.key"))
}

#[test]
fn redis_crate_over_mutual_tls_shares_data_with_the_plain_port() {
    let pki = Pki::new();
    let (server, port) = start(&pki, "yes", &[]);
    let mut tls = redis_tls_client(&pki, port, true).expect("TLS client with a certificate");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("over tls")
        .query(&mut tls)
        .unwrap();
    let mut plain = server.conn();
    assert_eq!(qa::<String>(&mut plain, &["GET", "k"]), "over tls");
    q(&mut plain, &["SET", "big", &"x".repeat(200_000)]);
    // A reply larger than rustls' send buffer and a pipelined batch.
    let big: String = redis::cmd("GET").arg("big").query(&mut tls).unwrap();
    assert_eq!(big.len(), 200_000);
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("INCR").arg("n").ignore();
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    pipe.cmd("GET").arg("n");
    let (n,): (i64,) = pipe.query(&mut tls).unwrap();
    assert_eq!(n, 500);
    // Without a client certificate the server refuses the client.
    assert!(redis_tls_client(&pki, port, false).is_err());
    assert_eq!(qa::<String>(&mut tls, &["PING"]), "PONG");
}

#[test]
fn redis_cli_speaks_tls_to_the_server() {
    let pki = Pki::new();
    let (_server, port) = start(&pki, "yes", &[]);
    let p = |n: &str| pki.path(n).display().to_string();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args([
                "--tls",
                "--cacert",
                &p("ca.crt"),
                "--cert",
                &p("client.crt"),
            ])
            .args([
                "--key",
                &p("client.key"),
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", "cli", "value"]), "OK");
    assert_eq!(cli(&["GET", "cli"]), "value");
    assert_eq!(cli(&["PING"]), "PONG");
}

#[test]
fn optional_client_auth_takes_anonymous_and_verified_clients_only() {
    let pki = Pki::new();
    let (_server, port) = start(&pki, "optional", &[]);
    let ca = pki.read("ca.crt");
    let (cert, key) = client_identity(&pki);
    pings(port, client_config(&ca, None, TLS13)).expect("anonymous client");
    pings(port, client_config(&ca, Some((&cert, &key)), TLS13)).expect("verified client");
    let stranger = Ca::new("another CA");
    let (cert, key) = stranger.issue("stranger", false);
    assert!(pings(port, client_config(&ca, Some((&cert, &key)), TLS13)).is_err());
}

#[test]
fn required_client_auth_refuses_expired_and_unknown_certificates() {
    let pki = Pki::new();
    let (server, port) = start(&pki, "yes", &[]);
    let ca = pki.read("ca.crt");
    let (cert, key) = client_identity(&pki);
    let mut good = tls_connect(port, client_config(&ca, Some((&cert, &key)), TLS13)).unwrap();
    assert_eq!(exchange(&mut good, "PING").unwrap(), "+PONG\r\n");
    assert!(pings(port, client_config(&ca, None, TLS13)).is_err());
    let (expired, expired_key) = pki.ca.issue("expired", true);
    let e = pings(
        port,
        client_config(&ca, Some((&expired, &expired_key)), TLS13),
    )
    .unwrap_err();
    assert!(e.contains("Expired") || e.contains("alert"), "{e}");
    // The good client was not affected, and the failure was logged.
    assert_eq!(exchange(&mut good, "PING").unwrap(), "+PONG\r\n");
    assert!(eventually(PATIENCE, || server
        .stderr()
        .contains("TLS connection closed")));
}

#[test]
fn plaintext_client_on_the_tls_port_is_dropped_and_others_are_served() {
    let pki = Pki::new();
    let (server, port) = start(&pki, "no", &[]);
    let ca = pki.read("ca.crt");
    let mut good = tls_connect(port, client_config(&ca, None, TLS13)).unwrap();
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    let (got, closed) = raw_exchange(&mut plain, b"PING\r\n");
    assert!(closed, "the plaintext client was not closed");
    assert!(!String::from_utf8_lossy(&got).contains("PONG"));
    assert_eq!(exchange(&mut good, "PING").unwrap(), "+PONG\r\n");
    pings(port, client_config(&ca, None, TLS13)).expect("a new TLS client");
    assert_eq!(qa::<String>(&mut server.conn(), &["PING"]), "PONG");
    assert!(eventually(PATIENCE, || server
        .stderr()
        .contains("TLS connection closed")));
}

#[test]
fn tls12_only_when_opted_in() {
    let pki = Pki::new();
    let ca = pki.read("ca.crt");
    let (_server, port) = start(&pki, "no", &[]);
    assert!(pings(port, client_config(&ca, None, TLS12)).is_err());
    pings(port, client_config(&ca, None, TLS13)).expect("TLS 1.3");
    let (_server, port) = start(&pki, "no", &["--tls-protocols", "TLSv1.2 TLSv1.3"]);
    pings(port, client_config(&ca, None, TLS12)).expect("TLS 1.2 opted in");
    pings(port, client_config(&ca, None, TLS13)).expect("TLS 1.3");
}

/// Writes a server certificate of a new CA as `name`.crt/.key; returns the CA.
fn new_server_identity(pki: &Pki, name: &str) -> Ca {
    let ca = Ca::new(name);
    let (cert, key) = ca.issue("server", false);
    pki.write(&format!("{name}.crt"), &cert);
    pki.write(&format!("{name}.key"), &key);
    ca
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn config_set_reloads_the_certificate_for_new_connections_only() {
    let pki = Pki::new();
    let (server, port) = start(&pki, "no", &[]);
    let old_ca = pki.ca.pem();
    let mut old = tls_connect(port, client_config(&old_ca, None, TLS13)).unwrap();
    let before = presented_cert(port, client_config(&old_ca, None, TLS13));
    let new_ca = new_server_identity(&pki, "renewed");
    let mut admin = server.conn();
    let crt = path_str(&pki.path("renewed.crt"));
    let key = path_str(&pki.path("renewed.key"));
    q(
        &mut admin,
        &["CONFIG", "SET", "tls-cert-file", &crt, "tls-key-file", &key],
    );
    assert_eq!(
        qa::<Vec<String>>(&mut admin, &["CONFIG", "GET", "tls-cert-file"]),
        vec!["tls-cert-file".to_string(), crt.clone()]
    );
    // New connections see the new certificate (trusted by the new CA only).
    let after = presented_cert(port, client_config(&new_ca.pem(), None, TLS13));
    assert_ne!(before, after);
    assert!(pings(port, client_config(&old_ca, None, TLS13)).is_err());
    // The connection made before keeps working.
    assert_eq!(exchange(&mut old, "PING").unwrap(), "+PONG\r\n");
    // A file that is no certificate is refused and the last one stays.
    pki.write("garbage.crt", "not a certificate");
    let garbage = path_str(&pki.path("garbage.crt"));
    assert_eq!(
        err(&mut admin, &["CONFIG", "SET", "tls-cert-file", &garbage]),
        "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs."
    );
    assert_eq!(
        qa::<Vec<String>>(&mut admin, &["CONFIG", "GET", "tls-cert-file"]),
        vec!["tls-cert-file".to_string(), crt]
    );
    pings(port, client_config(&new_ca.pem(), None, TLS13)).expect("after a refused reload");
}

#[test]
fn sighup_reloads_the_certificate_files() {
    let pki = Pki::new();
    let (server, port) = start(&pki, "no", &[]);
    let old_ca = pki.ca.pem();
    let mut old = tls_connect(port, client_config(&old_ca, None, TLS13)).unwrap();
    let new_ca = new_server_identity(&pki, "renewed");
    pki.write("server.crt", &pki.read("renewed.crt"));
    pki.write("server.key", &pki.read("renewed.key"));
    // SAFETY: kill(2) on the pid of the server this test started.
    unsafe { libc::kill(server.pid() as i32, libc::SIGHUP) };
    assert!(
        eventually(PATIENCE, || pings(
            port,
            client_config(&new_ca.pem(), None, TLS13)
        )
        .is_ok()),
        "the new certificate was never presented"
    );
    assert!(pings(port, client_config(&old_ca, None, TLS13)).is_err());
    assert_eq!(exchange(&mut old, "PING").unwrap(), "+PONG\r\n");
    assert!(server.stderr().contains("TLS certificates reloaded"));
}

#[test]
fn bad_tls_settings_stop_the_start_with_the_reason() {
    let pki = Pki::new();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let crt = path_str(&pki.path("server.crt"));
    let key = path_str(&pki.path("server.key"));
    let base = [
        "--tls-port",
        &port,
        "--tls-cert-file",
        &crt,
        "--tls-key-file",
        &key,
    ];
    let e = Server::try_start_on(&tmp.path().join("a"), 1, &base)
        .err()
        .expect("mutual TLS without a CA started");
    assert!(
        e.stderr.contains("tls-ca-cert-file is required"),
        "{}",
        e.stderr
    );
    let mut old = base.to_vec();
    old.extend(["--tls-auth-clients", "no", "--tls-protocols", "TLSv1.1"]);
    let e = Server::try_start_on(&tmp.path().join("b"), 1, &old)
        .err()
        .expect("TLSv1.1 started");
    assert!(
        e.stderr.contains("'TLSv1.1' is not supported"),
        "{}",
        e.stderr
    );
}

/// Reads until `want` has arrived (or fails on EOF / timeout).
fn read_until(tls: &mut Tls, want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        let n = tls.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "closed before {want:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn pushes_and_blocking_commands_work_over_tls() {
    let pki = Pki::new();
    let (server, port) = start(&pki, "no", &[]);
    let ca = pki.read("ca.crt");
    // A subscriber gets messages written while its read is in flight.
    let mut sub = tls_connect(port, client_config(&ca, None, TLS13)).unwrap();
    sub.write_all(b"SUBSCRIBE news\r\n").unwrap();
    read_until(&mut sub, "news");
    let mut plain = server.conn();
    assert_eq!(qa::<i64>(&mut plain, &["PUBLISH", "news", "hello"]), 1);
    read_until(&mut sub, "hello");
    // A blocked BLPOP is served by a push from another client.
    let mut blocked = tls_connect(port, client_config(&ca, None, TLS13)).unwrap();
    blocked.write_all(b"BLPOP q 0\r\n").unwrap();
    blocked.flush().unwrap();
    assert!(eventually(PATIENCE, || {
        let info: String = qa(&mut plain, &["INFO", "clients"]);
        info.contains("blocked_clients:1")
    }));
    q(&mut plain, &["RPUSH", "q", "item"]);
    read_until(&mut blocked, "item");
}
