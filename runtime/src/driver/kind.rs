//! Which I/O driver a runtime's cores run, and how [`DriverKind::Auto`]
//! decides.
//!
//! Resolution, once per [`build`](crate::Builder::build):
//! 1. an explicit `IoUring` or `Epoll` from the builder is used as is;
//! 2. `Auto` (the default) takes `FRYS_DRIVER` if it is set (`io_uring`,
//!    `epoll` or `auto`; anything else fails the build, naming the value);
//! 3. what is still `Auto` probes io_uring: one small ring is set up and
//!    dropped, once per process (the answer is cached). If that fails, for
//!    any reason `setup` can name (seccomp `EPERM`, the
//!    `kernel.io_uring_disabled` sysctl, `ENOSYS`, a missing feature), the
//!    runtime runs on epoll.
//!
//! The driver that runs, and why, is logged once per process for each
//! driver (a fallback as a warning that carries the cause).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::setup;

/// The environment variable that overrides [`DriverKind::Auto`].
pub const DRIVER_ENV: &str = "FRYS_DRIVER";

/// The I/O driver of a runtime's cores (see [`Builder::driver`]).
///
/// [`Builder::driver`]: crate::Builder::driver
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DriverKind {
    /// io_uring if it can be set up, else epoll; `FRYS_DRIVER` overrides
    /// it. A running runtime never reports `Auto`.
    #[default]
    Auto,
    /// io_uring: one ring per core; every operation, files included, is
    /// asynchronous in the kernel.
    IoUring,
    /// Edge-triggered epoll, one instance per core: sockets wait for
    /// readiness, file operations run on a small thread pool. For machines
    /// where io_uring is blocked (container seccomp profiles, gVisor,
    /// `kernel.io_uring_disabled`) or missing.
    Epoll,
}

impl DriverKind {
    /// The name `FRYS_DRIVER` and `FromStr` use: `auto`, `io_uring`,
    /// `epoll`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriverKind::Auto => "auto",
            DriverKind::IoUring => "io_uring",
            DriverKind::Epoll => "epoll",
        }
    }
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A driver name that is not `auto`, `io_uring` or `epoll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDriverKindError(String);

impl fmt::Display for ParseDriverKindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown I/O driver {:?} (expected auto, io_uring or epoll)",
            self.0
        )
    }
}

impl std::error::Error for ParseDriverKindError {}

impl FromStr for DriverKind {
    type Err = ParseDriverKindError;

    /// Parses `auto`, `io_uring` (also `io-uring`, `uring`) or `epoll`,
    /// ignoring ASCII case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DriverKind::Auto),
            "io_uring" | "io-uring" | "uring" => Ok(DriverKind::IoUring),
            "epoll" => Ok(DriverKind::Epoll),
            _ => Err(ParseDriverKindError(s.to_string())),
        }
    }
}

/// Resolves a builder's choice to the driver the cores will run (never
/// `Auto`). `Err` names a bad `FRYS_DRIVER`.
pub(crate) fn resolve(requested: DriverKind) -> Result<DriverKind, ParseDriverKindError> {
    let (kind, why) = match requested {
        DriverKind::Auto => match std::env::var(DRIVER_ENV) {
            Ok(v) => match v.parse()? {
                DriverKind::Auto => probe(),
                kind => (kind, format!("{DRIVER_ENV}={}", v.trim())),
            },
            Err(_) => probe(),
        },
        kind => (kind, "chosen with Builder::driver".to_string()),
    };
    log_once(kind, &why);
    Ok(kind)
}

/// `Auto` without an override: io_uring if a ring can be set up here.
fn probe() -> (DriverKind, String) {
    static PROBED: OnceLock<Result<(), String>> = OnceLock::new();
    let probed = PROBED.get_or_init(|| {
        setup::create_ring(setup::MIN_ENTRIES)
            .map(drop)
            .map_err(|e| e.to_string())
    });
    match probed {
        Ok(()) => (DriverKind::IoUring, "io_uring is available".to_string()),
        Err(cause) => (DriverKind::Epoll, format!("falling back: {cause}")),
    }
}

fn log_once(kind: DriverKind, why: &str) {
    static URING_LOGGED: AtomicBool = AtomicBool::new(false);
    static EPOLL_LOGGED: AtomicBool = AtomicBool::new(false);
    let logged = match kind {
        DriverKind::Epoll => &EPOLL_LOGGED,
        _ => &URING_LOGGED,
    };
    if logged.swap(true, Ordering::Relaxed) {
        return;
    }
    if why.starts_with("falling back") {
        tracing::warn!(driver = kind.as_str(), "I/O driver: epoll ({why})");
    } else {
        tracing::info!(driver = kind.as_str(), "I/O driver: {kind} ({why})");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        for kind in [DriverKind::Auto, DriverKind::IoUring, DriverKind::Epoll] {
            assert_eq!(kind.as_str().parse::<DriverKind>(), Ok(kind));
        }
        assert_eq!(" EPOLL ".parse::<DriverKind>(), Ok(DriverKind::Epoll));
        assert_eq!("io-uring".parse::<DriverKind>(), Ok(DriverKind::IoUring));
        let err = "kqueue".parse::<DriverKind>().unwrap_err();
        assert!(err.to_string().contains("\"kqueue\""), "{err}");
    }

    #[test]
    fn an_explicit_choice_is_kept() {
        assert_eq!(resolve(DriverKind::Epoll), Ok(DriverKind::Epoll));
        assert_eq!(resolve(DriverKind::IoUring), Ok(DriverKind::IoUring));
    }
}
