//! Creating a core's io_uring, degrading instead of failing where we can.
//!
//! Two things make `io_uring_setup` fail on machines people really run:
//!
//! * a low `RLIMIT_MEMLOCK` on kernels before 5.12 (ring memory was charged to
//!   it): we halve the ring size until it fits, down to [`MIN_ENTRIES`], and
//!   log what was given up;
//! * io_uring being unavailable: too old a kernel (`ENOSYS`), disabled by the
//!   `kernel.io_uring_disabled` sysctl or refused by a seccomp profile
//!   (`EPERM`). These end in a [`RingSetupError`] that names the cause.
//!
//! Optional ring flags (`SINGLE_ISSUER`, `DEFER_TASKRUN`, `COOP_TASKRUN`) are
//! tried first and dropped, with a debug log, on kernels that reject them.

use std::fmt;
use std::io;

use io_uring::IoUring;

/// The smallest ring a core will run with.
pub(crate) const MIN_ENTRIES: u32 = 8;

/// Why a core's ring could not be created.
#[derive(Debug)]
#[non_exhaustive]
pub enum RingSetupError {
    /// The kernel has no io_uring (`ENOSYS`): Linux 5.11 or newer is needed.
    Unsupported,
    /// io_uring is switched off for this process (`EPERM`/`EACCES`).
    Disabled {
        /// The value of `/proc/sys/kernel/io_uring_disabled`, when readable.
        sysctl: Option<String>,
    },
    /// The kernel's io_uring lacks a feature frys relies on.
    MissingFeature(&'static str),
    /// Any other failure of `io_uring_setup`.
    Io(io::Error),
}

impl fmt::Display for RingSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported => write!(
                f,
                "io_uring is not available: the kernel is too old or built without it \
                 (io_uring_setup returned ENOSYS; frys needs Linux 5.11 or newer)"
            ),
            Self::Disabled { sysctl: Some(v) } if v.trim() != "0" => write!(
                f,
                "io_uring is disabled by the sysctl kernel.io_uring_disabled={} \
                 (set it to 0, or 1 and add this user to kernel.io_uring_group)",
                v.trim()
            ),
            Self::Disabled { .. } => write!(
                f,
                "io_uring_setup was refused with EPERM: a seccomp profile (for example a \
                 container runtime's default) blocks io_uring; allow io_uring_setup, \
                 io_uring_enter and io_uring_register"
            ),
            Self::MissingFeature(what) => write!(
                f,
                "the kernel's io_uring lacks {what}; frys needs Linux 5.11 or newer"
            ),
            Self::Io(e) => write!(f, "io_uring_setup failed: {e}"),
        }
    }
}

impl std::error::Error for RingSetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Builds a ring of up to `entries` entries for the calling thread.
///
/// The ring must then only be used by the thread that created it (it may be
/// set up with `SINGLE_ISSUER`).
pub(crate) fn create_ring(entries: u32) -> Result<IoUring, RingSetupError> {
    let wanted = entries.max(MIN_ENTRIES).next_power_of_two();
    let mut entries = wanted;
    loop {
        match try_flags(entries) {
            Ok(ring) => {
                if entries < wanted {
                    tracing::warn!(
                        wanted,
                        entries,
                        "RLIMIT_MEMLOCK is too low for the requested io_uring size; \
                         running with a smaller ring (raise `ulimit -l` to restore it)"
                    );
                }
                if !ring.params().is_feature_ext_arg() {
                    return Err(RingSetupError::MissingFeature("IORING_FEAT_EXT_ARG"));
                }
                return Ok(ring);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && entries > MIN_ENTRIES => {
                entries /= 2;
            }
            Err(e) => return Err(classify(e)),
        }
    }
}

/// Applies one set of optional setup flags to a ring builder.
type FlagSet = fn(&mut io_uring::Builder);

/// Tries the flag sets from most to least capable; returns the first ring.
fn try_flags(entries: u32) -> io::Result<IoUring> {
    let attempts: [(&str, FlagSet); 3] = [
        // TASKRUN_FLAG makes the kernel raise IORING_SQ_TASKRUN when deferred
        // completions wait, so a busy core (which never parks) still knows
        // to enter the kernel and reap them.
        ("SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG", |b| {
            b.setup_single_issuer()
                .setup_defer_taskrun()
                .setup_taskrun_flag();
        }),
        ("COOP_TASKRUN|TASKRUN_FLAG", |b| {
            b.setup_coop_taskrun().setup_taskrun_flag();
        }),
        ("no optional flags", |_| {}),
    ];
    let mut last = None;
    for (name, apply) in attempts {
        let mut builder = IoUring::builder();
        apply(&mut builder);
        match builder.build(entries) {
            Ok(ring) => {
                tracing::debug!(flags = name, entries, "io_uring created");
                return Ok(ring);
            }
            // EINVAL: the kernel does not know a flag; try fewer.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)))
}

fn classify(e: io::Error) -> RingSetupError {
    match e.raw_os_error() {
        Some(libc::ENOSYS) => RingSetupError::Unsupported,
        Some(libc::EPERM) | Some(libc::EACCES) => RingSetupError::Disabled {
            sysctl: std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").ok(),
        },
        _ => RingSetupError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_cause() {
        let disabled = RingSetupError::Disabled {
            sysctl: Some("2\n".into()),
        };
        assert!(disabled.to_string().contains("kernel.io_uring_disabled=2"));
        let seccomp = RingSetupError::Disabled {
            sysctl: Some("0\n".into()),
        };
        assert!(seccomp.to_string().contains("seccomp"));
        assert!(RingSetupError::Unsupported.to_string().contains("ENOSYS"));
        assert!(matches!(
            classify(io::Error::from_raw_os_error(libc::ENOSYS)),
            RingSetupError::Unsupported
        ));
        assert!(matches!(
            classify(io::Error::from_raw_os_error(libc::EPERM)),
            RingSetupError::Disabled { .. }
        ));
    }

    #[test]
    fn ring_size_is_rounded_to_a_power_of_two() {
        let ring = create_ring(100).expect("io_uring is available on the test machine");
        assert_eq!(ring.params().sq_entries(), 128);
    }
}
