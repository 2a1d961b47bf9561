//! Socket addresses in the kernel's layout (`sockaddr_storage`), converted
//! once at the edge to and from `std::net::SocketAddr` or a Unix path.
//!
//! Invariant: `len` is the number of meaningful bytes of `storage` and never
//! exceeds `size_of::<sockaddr_storage>()`; the kernel may lower it (accept,
//! recvmsg) but never raise it past what we passed.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A socket address the kernel can read or fill.
pub(crate) struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    /// An empty address with room for any family, for the kernel to fill.
    pub(crate) fn empty() -> Self {
        Self {
            storage: zeroed_storage(),
            len: STORAGE_LEN,
        }
    }

    /// The kernel form of an IPv4 or IPv6 address.
    pub(crate) fn from_std(addr: &SocketAddr) -> Self {
        let mut storage = zeroed_storage();
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sockaddr_storage` is larger than and at least as
                // aligned as every `sockaddr_*`, which is its purpose.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin)
                };
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6)
                };
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        Self {
            storage,
            len: len as libc::socklen_t,
        }
    }

    /// The kernel form of a Unix socket path. Fails with `InvalidInput` if
    /// the path has an interior NUL or does not fit in `sun_path`.
    pub(crate) fn from_unix_path(path: &Path) -> io::Result<Self> {
        let bytes = path.as_os_str().as_bytes();
        let mut sun = libc::sockaddr_un {
            sun_family: libc::AF_UNIX as libc::sa_family_t,
            sun_path: [0; 108],
        };
        // Keep one byte for the terminating NUL.
        if bytes.len() >= sun.sun_path.len() {
            return Err(invalid_input("unix socket path is too long"));
        }
        if bytes.contains(&0) {
            return Err(invalid_input("unix socket path contains a NUL byte"));
        }
        for (dst, &src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = src as libc::c_char;
        }
        let mut storage = zeroed_storage();
        // SAFETY: `sockaddr_storage` is larger than and at least as aligned
        // as `sockaddr_un`.
        unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sun) };
        let len = mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
        Ok(Self {
            storage,
            len: len as libc::socklen_t,
        })
    }

    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`...).
    pub(crate) fn family(&self) -> libc::c_int {
        libc::c_int::from(self.storage.ss_family)
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// Where the kernel writes the length of the address it filled in.
    pub(crate) fn len_mut(&mut self) -> *mut libc::socklen_t {
        &mut self.len
    }

    /// Records the length of the address the kernel filled in (clamped to
    /// the storage, which the kernel never exceeds anyway).
    pub(crate) fn set_len(&mut self, len: libc::socklen_t) {
        self.len = len.min(STORAGE_LEN);
    }

    /// Decodes an IPv4 or IPv6 address filled in by the kernel.
    pub(crate) fn to_std(&self) -> io::Result<SocketAddr> {
        let len = self.len as usize;
        match self.family() {
            libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a `sockaddr_in`,
                // the length says it is complete, and storage is aligned for it.
                let sin = unsafe { &*(self.as_ptr().cast::<libc::sockaddr_in>()) };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for `sockaddr_in6`.
                let sin6 = unsafe { &*(self.as_ptr().cast::<libc::sockaddr_in6>()) };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the kernel returned an address that is not IPv4 or IPv6",
            )),
        }
    }
}

pub(crate) fn invalid_input(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

const STORAGE_LEN: libc::socklen_t = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;

fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: `sockaddr_storage` is plain old data; all-zero is a valid value
    // (family AF_UNSPEC).
    unsafe { mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_round_trip() {
        for text in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%3]:9", "0.0.0.0:0"] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(SockAddr::from_std(&addr).to_std().unwrap(), addr);
        }
    }

    #[test]
    fn unix_path_limits_are_errors() {
        let long = "x".repeat(200);
        let err = SockAddr::from_unix_path(Path::new(&long)).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let nul = SockAddr::from_unix_path(Path::new("a\0b")).err().unwrap();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
        let ok = SockAddr::from_unix_path(Path::new("/tmp/s")).unwrap();
        assert_eq!(ok.family(), libc::AF_UNIX);
        assert!(ok.to_std().is_err());
    }
}
