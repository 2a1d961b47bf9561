//! Protected mode (Redis' `clientAcceptHandler`): while `protected-mode`
//! is `yes` and the `default` user needs no password, a client that is
//! not on the loopback interface is answered `-DENIED ...` and closed.
//! Binding to loopback only is the same decision: no other client can
//! connect then.

use std::net::{IpAddr, SocketAddr};

use frys_runtime::net::TcpStream;

use crate::{acl, config};

/// Redis 7.0's reply, byte for byte.
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Whether a client from `peer` is refused now.
pub fn refuses(peer: &SocketAddr) -> bool {
    let protected = config::live(|c| c.get("protected-mode") == Some("yes"));
    let open = acl::registry::user("default").is_some_and(|u| u.nopass);
    decide(protected, open, peer.ip())
}

/// The decision itself: protected, `default` without a password, and a
/// peer that is not loopback (IPv4-mapped loopback counts as loopback).
pub fn decide(protected: bool, default_nopass: bool, peer: IpAddr) -> bool {
    let loopback = match peer {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    protected && default_nopass && !loopback
}

/// Answers a refused client and closes it.
pub async fn deny(stream: TcpStream) {
    let _ = stream.write_all(DENIED.as_bytes().to_vec()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outside_clients_of_an_open_protected_server_are_refused() {
        let outside: IpAddr = "192.0.2.7".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(decide(true, true, outside));
        assert!(!decide(true, true, local));
        assert!(!decide(true, true, mapped));
        assert!(!decide(true, true, "::1".parse().unwrap()));
        assert!(!decide(false, true, outside));
        assert!(!decide(true, false, outside));
    }
}
