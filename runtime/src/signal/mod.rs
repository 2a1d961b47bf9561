//! Waiting for Unix signals (`SIGINT`, `SIGTERM`, `SIGHUP`, ...) as
//! futures.
//!
//! [`Signal::new`] subscribes to one [`SignalKind`]; its
//! [`recv`](Signal::recv) completes once for each delivery that arrived
//! since the previous `recv` (several deliveries in between coalesce into
//! one, as with tokio). *Every* listener sees every delivery, whichever core
//! it waits on: a library and the application can both wait for Ctrl-C.
//! A delivery that arrives before a listener exists is not seen by it.
//!
//! How: the first time a signal is listened for, a process-wide handler is
//! installed for it (it stays installed for the life of the process, as
//! with tokio). Each core that listens has one eventfd per signal, which
//! the handler writes (`write` is async-signal-safe), and one task that
//! reads it through the core's driver and wakes the core's listeners. This
//! works whatever the signal masks of the core threads are.

mod hub;
mod slots;

use std::future::{poll_fn, Future};
use std::io;
use std::rc::Rc;
use std::task::Poll;

use hub::Hub;

/// A Unix signal to listen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignalKind {
    /// `SIGINT` (Ctrl-C).
    Interrupt,
    /// `SIGTERM` (the polite request to stop: `kill`, systemd, Docker).
    Terminate,
    /// `SIGHUP` (by convention: reload the configuration).
    Hangup,
    /// `SIGQUIT`.
    Quit,
    /// `SIGUSR1`.
    User1,
    /// `SIGUSR2`.
    User2,
    /// `SIGCHLD`.
    Child,
    /// `SIGPIPE`.
    Pipe,
    /// `SIGALRM`.
    Alarm,
    /// `SIGWINCH` (the terminal changed size).
    WindowChange,
}

impl SignalKind {
    /// The signal's number.
    pub fn as_raw(self) -> i32 {
        match self {
            SignalKind::Interrupt => libc::SIGINT,
            SignalKind::Terminate => libc::SIGTERM,
            SignalKind::Hangup => libc::SIGHUP,
            SignalKind::Quit => libc::SIGQUIT,
            SignalKind::User1 => libc::SIGUSR1,
            SignalKind::User2 => libc::SIGUSR2,
            SignalKind::Child => libc::SIGCHLD,
            SignalKind::Pipe => libc::SIGPIPE,
            SignalKind::Alarm => libc::SIGALRM,
            SignalKind::WindowChange => libc::SIGWINCH,
        }
    }

    /// The signal's name, as `kill -l` prints it with the `SIG` prefix.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::Interrupt => "SIGINT",
            SignalKind::Terminate => "SIGTERM",
            SignalKind::Hangup => "SIGHUP",
            SignalKind::Quit => "SIGQUIT",
            SignalKind::User1 => "SIGUSR1",
            SignalKind::User2 => "SIGUSR2",
            SignalKind::Child => "SIGCHLD",
            SignalKind::Pipe => "SIGPIPE",
            SignalKind::Alarm => "SIGALRM",
            SignalKind::WindowChange => "SIGWINCH",
        }
    }
}

impl std::fmt::Display for SignalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A subscription to one signal on the current core (`!Send`: it waits
/// through this core's driver).
///
/// # Examples
/// ```no_run
/// use frys_runtime::signal::{Signal, SignalKind};
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let mut hangups = Signal::new(SignalKind::Hangup)?;
/// loop {
///     hangups.recv().await?;
///     println!("reloading the configuration");
/// }
/// # #[allow(unreachable_code)]
/// # Ok::<(), std::io::Error>(())
/// # });
/// ```
pub struct Signal {
    kind: SignalKind,
    hub: Rc<Hub>,
    /// The hub's delivery count this listener has seen.
    seen: u64,
}

impl Signal {
    /// Starts listening for `kind`; deliveries from now on are seen.
    ///
    /// # Errors
    /// Outside a frys core; or if the handler cannot be installed or no
    /// eventfd can be made.
    pub fn new(kind: SignalKind) -> io::Result<Signal> {
        let hub = hub::current(kind.as_raw())?;
        let seen = hub.delivered();
        Ok(Signal { kind, hub, seen })
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    /// Waits for the next delivery (or returns at once if one arrived since
    /// the last `recv`).
    ///
    /// # Errors
    /// If the core can no longer read the signal's eventfd, or the runtime
    /// this listener was made on has shut down and none runs now.
    ///
    /// # Cancel safety
    /// Cancel-safe: a delivery that arrives while no `recv` is polled is
    /// kept for the next one.
    pub async fn recv(&mut self) -> io::Result<()> {
        poll_fn(|cx| {
            if self.hub.delivered() > self.seen {
                self.seen = self.hub.delivered();
                return Poll::Ready(Ok(()));
            }
            if !self.hub.alive() {
                // The pump ended (its runtime shut down, or a read failed):
                // join the current core's hub.
                match hub::current(self.kind.as_raw()) {
                    Ok(hub) if !Rc::ptr_eq(&hub, &self.hub) => {
                        self.seen = hub.delivered();
                        self.hub = hub;
                    }
                    Ok(_) => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            self.hub.wait(cx.waker());
            Poll::Pending
        })
        .await
    }
}

/// Waits for `SIGINT` (Ctrl-C).
///
/// # Cancel safety
/// Cancel-safe in the sense that nothing is lost for other listeners; a
/// new call only sees deliveries from its own start.
pub async fn ctrl_c() -> io::Result<()> {
    Signal::new(SignalKind::Interrupt)?.recv().await
}

/// Waits for `SIGINT` or `SIGTERM`, whichever comes first; returns which.
///
/// # Cancel safety
/// As [`ctrl_c`]: a new call only sees deliveries from its own start.
pub async fn shutdown() -> io::Result<SignalKind> {
    let mut int = Signal::new(SignalKind::Interrupt)?;
    let mut term = Signal::new(SignalKind::Terminate)?;
    let mut int_recv = std::pin::pin!(int.recv());
    let mut term_recv = std::pin::pin!(term.recv());
    poll_fn(|cx| {
        if let Poll::Ready(r) = int_recv.as_mut().poll(cx) {
            return Poll::Ready(r.map(|_| SignalKind::Interrupt));
        }
        if let Poll::Ready(r) = term_recv.as_mut().poll(cx) {
            return Poll::Ready(r.map(|_| SignalKind::Terminate));
        }
        Poll::Pending
    })
    .await
}

#[cfg(all(test, not(loom)))]
mod tests;
