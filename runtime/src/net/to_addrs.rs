//! [`ToSocketAddrs`]: what `connect` and `bind` accept — a socket address,
//! an (IP, port) pair, or `"host:port"` / `("host", port)` with a name to
//! look up.
//!
//! A literal address is used as is. A name is looked up with the system
//! resolver (`getaddrinfo`), which blocks: `connect` runs it on the
//! blocking pool ([`crate::spawn_blocking`]) so the core keeps serving;
//! `bind`, being synchronous, looks it up on the calling thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Addresses that [`TcpStream::connect`](super::TcpStream::connect),
/// [`TcpListener::bind`](super::TcpListener::bind) and
/// [`UdpSocket`](super::UdpSocket)'s `bind`/`connect` accept. Implemented
/// for socket addresses, `(IpAddr, u16)` pairs, `&str` / `String`
/// (`"127.0.0.1:6379"`, `"localhost:6379"`, `"[::1]:80"`), `(&str, u16)` /
/// `(String, u16)`, and slices of socket addresses (tried in order).
///
/// Sealed: the lookup strategy is the runtime's.
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::*;

    /// A resolved address list, or a name still to look up.
    pub enum Resolution {
        Ready(Vec<SocketAddr>),
        Lookup(String, u16),
    }

    pub trait Sealed {
        fn resolution(&self) -> Resolution;
    }
}

use sealed::{Resolution, Sealed};

macro_rules! literal {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl Sealed for $ty {
            fn resolution(&self) -> Resolution {
                Resolution::Ready(vec![SocketAddr::from(*self)])
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for &[SocketAddr] {}
impl Sealed for &[SocketAddr] {
    fn resolution(&self) -> Resolution {
        Resolution::Ready(self.to_vec())
    }
}

impl ToSocketAddrs for str {}
impl Sealed for str {
    fn resolution(&self) -> Resolution {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Resolution::Ready(vec![addr]);
        }
        // "host:port": split at the last colon (a bare IPv6 address without
        // brackets is not a valid "host:port" and fails in the lookup).
        match self.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(port))) => name_or_ip(host, port),
            _ => Resolution::Lookup(self.to_string(), 0),
        }
    }
}

impl ToSocketAddrs for &str {}
impl Sealed for &str {
    fn resolution(&self) -> Resolution {
        (**self).resolution()
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn resolution(&self) -> Resolution {
        self.as_str().resolution()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn resolution(&self) -> Resolution {
        name_or_ip(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn resolution(&self) -> Resolution {
        name_or_ip(&self.0, self.1)
    }
}

fn name_or_ip(host: &str, port: u16) -> Resolution {
    match host.parse::<IpAddr>() {
        Ok(ip) => Resolution::Ready(vec![SocketAddr::new(ip, port)]),
        Err(_) => Resolution::Lookup(host.to_string(), port),
    }
}

fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs as _;
    let found: Vec<SocketAddr> = if port == 0 && host.contains(':') {
        // The whole "host:port" string could not be split: let std say why.
        host.to_socket_addrs()?.collect()
    } else {
        (host, port).to_socket_addrs()?.collect()
    };
    if found.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no address found for {host}"),
        ));
    }
    Ok(found)
}

/// The addresses of `addr`, looking a name up on the calling thread.
pub(crate) fn resolve_blocking<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    match addr.resolution() {
        Resolution::Ready(addrs) => non_empty(addrs),
        Resolution::Lookup(host, port) => lookup(&host, port),
    }
}

/// The addresses of `addr`, looking a name up on the blocking pool.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    match addr.resolution() {
        Resolution::Ready(addrs) => non_empty(addrs),
        Resolution::Lookup(host, port) => crate::spawn_blocking(move || lookup(&host, port))
            .await
            .map_err(|e| io::Error::other(format!("address lookup failed: {e}")))?,
    }
}

fn non_empty(addrs: Vec<SocketAddr>) -> io::Result<Vec<SocketAddr>> {
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address given",
        ));
    }
    Ok(addrs)
}

/// Tries `f` on each address in turn; the first success, or the last error.
pub(crate) fn first_ok<T>(
    addrs: &[SocketAddr],
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for &addr in addrs {
        match f(addr) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("addresses are non-empty"))
}
