//! The state of one client connection, and each core's registry of them
//! (CLIENT LIST / KILL / INFO).
//!
//! A session lives on the core that accepted the connection; the registry
//! is core-local. Nothing here is held across an `.await` by the
//! connection loop, so a barrier command (CLIENT LIST, WATCH, EXEC) can
//! read every session of its core, its own included ([`local`]).
//!
//! A session's transaction state (`multi`, `watch`) is ended by DISCARD,
//! EXEC, RESET and disconnect ([`unregister`]): watches registered on
//! other cores are removed there.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

use crate::txn::multi::MultiState;
use crate::txn::watch::WatchSet;

/// One client connection's state.
pub struct Session {
    /// CLIENT ID.
    pub id: u64,
    /// SELECTed database.
    pub db: u16,
    /// RESP version (2 or 3).
    pub resp: u8,
    /// Passed AUTH, or needed none when it connected (a connection that
    /// did not authenticate is also admitted while the `default` user is
    /// on and nopass).
    pub authenticated: bool,
    /// The ACL user it runs as (`default` until AUTH / HELLO AUTH).
    pub user: crate::acl::SessionUser,
    /// CLIENT SETNAME.
    pub name: Option<String>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<String>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<String>,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// The socket, for CLIENT KILL (shutdown(2) ends the connection's read).
    pub fd: RawFd,
    /// The core serving it.
    pub core: usize,
    /// When it connected.
    pub created: Instant,
    /// Last command received.
    pub last_interaction: Instant,
    /// Name of the last command.
    pub last_cmd: &'static str,
    /// Bytes read but not yet parsed (CLIENT LIST `qbuf`).
    pub qbuf: usize,
    /// Reply bytes being written (CLIENT LIST `omem`, with the pub/sub
    /// mailbox's).
    pub omem: usize,
    /// Set by QUIT or CLIENT KILL: close after the pending replies.
    pub closing: bool,
    /// Set by SHUTDOWN: close without answering the command (as Redis).
    pub close_without_reply: bool,
    /// Channels, patterns and shard channels it listens to.
    pub pubsub: crate::pubsub::Subscriptions,
    /// The queued commands while in MULTI.
    pub multi: Option<MultiState>,
    /// The WATCHed keys.
    pub watch: WatchSet,
    /// Cluster mode: ASKING was sent (Redis' `CLIENT_ASKING`); cleared by
    /// the next command outside MULTI.
    pub asking: bool,
    /// Cluster mode: READONLY was sent (no replicas here: no effect).
    pub readonly: bool,
}

impl Session {
    /// A new session.
    pub fn new(
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
        fd: RawFd,
        core: usize,
        authenticated: bool,
    ) -> Session {
        let now = Instant::now();
        Session {
            id,
            db: 0,
            resp: 2,
            authenticated,
            user: crate::acl::SessionUser::default(),
            name: None,
            lib_name: None,
            lib_ver: None,
            addr,
            laddr,
            fd,
            core,
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            qbuf: 0,
            omem: 0,
            closing: false,
            close_without_reply: false,
            pubsub: crate::pubsub::Subscriptions::default(),
            multi: None,
            watch: WatchSet::default(),
            asking: false,
            readonly: false,
        }
    }

    /// Leaves MULTI and forgets the watches (DISCARD, RESET, a failed
    /// EXEC, disconnect).
    pub fn discard_transaction(&mut self) {
        self.multi = None;
        self.watch.clear();
    }

    /// Output waiting for the client: replies being written and pub/sub
    /// frames not yet written.
    pub fn output_bytes(&self) -> usize {
        self.omem + self.pubsub.mailbox().map_or(0, |m| m.pending_bytes())
    }

    /// CLIENT LIST's `flags`, in Redis' order: `P` subscribed, `x` in
    /// MULTI, `d` when a watched key changed.
    fn flags(&self) -> String {
        let mut flags = String::new();
        if self.pubsub.is_subscribed() {
            flags.push('P');
        }
        if self.multi.is_some() {
            flags.push('x');
        }
        if self.watch.is_dirty() {
            flags.push('d');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    /// The line CLIENT LIST / CLIENT INFO prints for this client (Redis'
    /// field order, fields we do not track reported as Redis' idle values).
    pub fn info_line(&self) -> String {
        self.info_line_showing(self.output_bytes())
    }

    /// [`Session::info_line`] with `omem` bytes of output (a client closed
    /// over its output limit shows the output that broke it, as Redis').
    pub fn info_line_showing(&self, omem: usize) -> String {
        use crate::pubsub::Kind;
        let age = self.created.elapsed().as_secs();
        let idle = self.last_interaction.elapsed().as_secs();
        let qbuf = self.qbuf;
        let tot_mem = qbuf + omem + std::mem::size_of::<Session>();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} watch={} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={omem} tot-mem={tot_mem} events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={} io-thread={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.as_deref().unwrap_or(""),
            age,
            idle,
            self.flags(),
            self.db,
            self.pubsub.count(Kind::Channel),
            self.pubsub.count(Kind::Pattern),
            self.pubsub.count(Kind::Shard),
            self.multi.as_ref().map_or(-1, |m| m.len() as i64),
            self.watch.len(),
            self.last_cmd,
            self.user.name(),
            self.resp,
            self.lib_name.as_deref().unwrap_or(""),
            self.lib_ver.as_deref().unwrap_or(""),
            self.core,
        )
    }
}

/// A session shared between its connection loop and its core's registry.
pub type SharedSession = Rc<RefCell<Session>>;

thread_local! {
    static REGISTRY: RefCell<BTreeMap<u64, SharedSession>> = const { RefCell::new(BTreeMap::new()) };
}

/// Adds a session to this core's registry.
pub fn register(session: SharedSession) {
    let id = session.borrow().id;
    REGISTRY.with(|r| r.borrow_mut().insert(id, session));
}

/// Removes a session from this core's registry (the client is gone): its
/// transaction state ends.
pub fn unregister(id: u64) {
    let gone = REGISTRY.with(|r| r.borrow_mut().remove(&id));
    if let Some(s) = gone {
        if let Ok(mut s) = s.try_borrow_mut() {
            s.discard_transaction();
        }
    }
}

/// This core's session of client `id`.
pub fn local(id: u64) -> Option<SharedSession> {
    REGISTRY.with(|r| r.borrow().get(&id).cloned())
}

/// Info lines of this core's sessions, by id, each with whether it is a
/// pub/sub client (CLIENT LIST TYPE).
pub fn list_local() -> Vec<(u64, bool, String)> {
    REGISTRY.with(|r| {
        r.borrow()
            .iter()
            .filter_map(|(id, s)| {
                s.try_borrow()
                    .ok()
                    .map(|s| (*id, s.pubsub.is_subscribed(), s.info_line()))
            })
            .collect()
    })
}

/// The largest query buffer and output of this core's sessions (INFO
/// clients' `client_recent_max_input_buffer` / `_output_buffer`).
pub fn max_buffers_local() -> (usize, usize) {
    REGISTRY.with(|r| {
        r.borrow()
            .values()
            .filter_map(|s| s.try_borrow().ok().map(|s| (s.qbuf, s.output_bytes())))
            .fold((0, 0), |(q, o), (sq, so)| (q.max(sq), o.max(so)))
    })
}

/// Which clients CLIENT KILL targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillFilter {
    /// By CLIENT ID.
    Id(u64),
    /// By peer address `ip:port`.
    Addr(String),
    /// By local address.
    Laddr(String),
    /// By ACL user.
    User(String),
    /// Subscribers of this ACL user whose subscriptions its rules no longer
    /// allow (Redis closes them when the rules change).
    RevokedSubscriber(String),
}

/// Whether the session's user (as it is now) may keep each of its
/// subscriptions: a channel or shard channel must match one of the channel
/// patterns of one of its selectors, a pattern must equal one, as Redis
/// checks them.
fn subscriptions_allowed(s: &mut Session) -> bool {
    use crate::pubsub::Kind;
    let Some(user) = s.user.current() else {
        return false;
    };
    user.all_channels()
        || s.pubsub
            .all_allowed(|kind, name| user.channel_allowed(kind == Kind::Pattern, name))
}

/// Closes this core's sessions matching `filter` except `skip` (the
/// caller, with SKIPME yes); returns how many.
pub fn kill_local(filter: &KillFilter, skip: Option<u64>) -> usize {
    REGISTRY.with(|r| {
        let mut killed = 0;
        for (id, s) in r.borrow().iter() {
            if Some(*id) == skip {
                continue;
            }
            let Ok(mut s) = s.try_borrow_mut() else {
                continue;
            };
            let hit = match filter {
                KillFilter::Id(want) => s.id == *want,
                KillFilter::Addr(a) => s.addr.to_string() == *a,
                KillFilter::Laddr(a) => s.laddr.to_string() == *a,
                KillFilter::User(u) => s.user.name() == u,
                KillFilter::RevokedSubscriber(u) => {
                    s.user.name() == u && s.pubsub.is_subscribed() && !subscriptions_allowed(&mut s)
                }
            };
            if hit && !s.closing {
                s.closing = true;
                // Out of the pub/sub registry before the client can see
                // the close: a PUBLISH it sends next must not count it.
                crate::pubsub::leave_all(&mut s);
                let _ = shutdown_socket(s.fd, libc::SHUT_RDWR);
                crate::server::blocked::cancel(s.id);
                killed += 1;
            }
        }
        killed
    })
}

/// Ends the reading side of every session of this core (server shutdown):
/// each connection finishes the commands it has read, writes their
/// replies, and closes.
pub fn shutdown_reads() {
    REGISTRY.with(|r| {
        for s in r.borrow().values() {
            if let Ok(s) = s.try_borrow() {
                let _ = shutdown_socket(s.fd, libc::SHUT_RD);
            }
        }
    });
}

/// shutdown(2) of a client's socket. `fd` must be the socket of a
/// connection that is still running (its session is in the registry, or
/// its mailbox in the pub/sub registry): a connection leaves both before
/// its socket is closed.
pub(crate) fn shutdown_socket(fd: RawFd, how: libc::c_int) -> std::io::Result<()> {
    // SAFETY: shutdown(2) takes an fd and a flag and touches no memory of
    // ours; per the contract above `fd` is a socket still open, so it
    // cannot have been reused for another file.
    let rc = unsafe { libc::shutdown(fd, how) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}
