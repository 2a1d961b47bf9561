//! `Runtime::builder()`: how many cores, where, and with what resources.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::driver::{DriverKind, ParseDriverKindError, RingSetupError};
use crate::topology::{Cores, MemoryBinding, Placement, PlacementError};

/// Configures and starts a [`Runtime`](super::Runtime).
///
/// # Examples
/// ```no_run
/// use frys_runtime::{Cores, Runtime};
/// let rt = Runtime::builder().cores(Cores::Count(2)).stealing(true).build()?;
/// let ids = rt.run_on_all(|core| async move { core });
/// assert_eq!(ids, vec![0, 1]);
/// # Ok::<(), frys_runtime::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) cores: Cores,
    pub(crate) placement: Placement,
    pub(crate) memory_binding: MemoryBinding,
    /// `None`: decided at build time (see `pin`).
    pub(crate) pin: Option<bool>,
    pub(crate) ring_entries: u32,
    pub(crate) arena_capacity: usize,
    pub(crate) stealing: bool,
    pub(crate) mesh_capacity: usize,
    pub(crate) sysfs_root: PathBuf,
    /// `None`: chosen at build time (see `idle_poll`).
    pub(crate) idle_poll: Option<Duration>,
    pub(crate) adaptive_idle_poll: bool,
    pub(crate) driver: DriverKind,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            cores: Cores::All,
            placement: Placement::Compact,
            memory_binding: MemoryBinding::Preferred,
            pin: None,
            ring_entries: 256,
            arena_capacity: 64 * 1024,
            stealing: true,
            mesh_capacity: 1024,
            sysfs_root: PathBuf::from("/sys"),
            idle_poll: None,
            adaptive_idle_poll: true,
            driver: DriverKind::Auto,
        }
    }
}

impl Builder {
    /// Which CPUs get a core (default: every usable CPU — online and in the
    /// process's affinity mask, so `taskset` and cpusets are respected).
    pub fn cores(mut self, cores: Cores) -> Self {
        self.cores = cores;
        self
    }

    /// How a `Count` of cores is spread over NUMA nodes (default `Compact`).
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// How a pinned core's memory is bound to its CPU's NUMA node (default
    /// [`MemoryBinding::Preferred`]): set on the core's thread before its
    /// arena, rings and tasks allocate anything. Unpinned cores are not
    /// bound. A binding the kernel refuses is logged once, never an error.
    pub fn memory_binding(mut self, binding: MemoryBinding) -> Self {
        self.memory_binding = binding;
        self
    }

    /// Pin each core's thread to its CPU. The thread that builds the
    /// runtime runs core 0 inside `block_on` and is pinned too; its
    /// original affinity is restored when the runtime is dropped.
    /// Unpinned, a [`Cores::Count`] above the usable CPUs is allowed: the
    /// cores share CPUs (for tests of more cores than the machine has).
    ///
    /// Default: pinned when the runtime takes every usable CPU
    /// ([`Cores::All`], or a `Count` of all of them) or names its CPUs
    /// ([`Cores::List`]); *not* pinned when a `Count` leaves some usable
    /// CPUs free. Two independent processes that each ask for fewer cores
    /// than the machine has would otherwise both pin to the lowest CPUs
    /// and stack there (a server and its load generator, say); unpinned,
    /// the kernel spreads them. Call `pin(true)` to pin such a runtime
    /// (to the CPUs its [`Placement`] picks) anyway.
    pub fn pin(mut self, pin: bool) -> Self {
        self.pin = Some(pin);
        self
    }

    /// Submission queue entries per core's ring (default 256; rounded up to
    /// a power of two; halved automatically if `RLIMIT_MEMLOCK` is too low).
    /// The epoll driver has no ring and ignores it.
    pub fn ring_entries(mut self, entries: u32) -> Self {
        self.ring_entries = entries;
        self
    }

    /// Bytes preallocated for each core's arena (default 64 KiB).
    pub fn arena_capacity(mut self, bytes: usize) -> Self {
        self.arena_capacity = bytes;
        self
    }

    /// Let idle cores steal unstarted `Send` tasks (default true).
    pub fn stealing(mut self, on: bool) -> Self {
        self.stealing = on;
        self
    }

    /// Slots of each mesh ring between two cores (default 1024).
    pub fn mesh_capacity(mut self, slots: usize) -> Self {
        self.mesh_capacity = slots.max(2);
        self
    }

    /// How long a core that ran out of work keeps polling its queues, mesh
    /// and completion queue before it parks in the kernel (`Duration::ZERO`:
    /// park at once).
    ///
    /// Work arriving within the window (a `submit_to` from a busy peer, a
    /// reply, an I/O completion) is taken in well under a microsecond
    /// instead of waking a parked thread; the price is up to one window of
    /// CPU per idle period. Default: 200 µs on bare metal, 2 ms when the
    /// machine looks virtualized (`/sys/hypervisor/type`, or the
    /// `hypervisor` CPU flag), as Seastar does; waking a halted vCPU costs
    /// far more than waking a physical CPU.
    ///
    /// The window is a bound: by default each core adapts it (see
    /// [`adaptive_idle_poll`](Self::adaptive_idle_poll)).
    pub fn idle_poll(mut self, window: Duration) -> Self {
        self.idle_poll = Some(window);
        self
    }

    /// Whether each core adapts its idle-poll window (default true): it
    /// halves the window each time polling finds nothing (so a core whose
    /// work comes rarely soon parks at once and an idle runtime burns no
    /// CPU), restores the full window when a park ends sooner than the
    /// window would have, and parks at once for 100 ms when its thread was
    /// preempted while polling (its CPU is shared with runnable threads,
    /// perhaps the client it waits for). `false` polls the full window
    /// every time, for cores that have a CPU to themselves.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = frys_runtime::Runtime::builder()
    ///     .cores(frys_runtime::Cores::Count(1))
    ///     .idle_poll(Duration::from_micros(200))
    ///     .adaptive_idle_poll(false)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.idle_poll(), Duration::from_micros(200));
    /// ```
    pub fn adaptive_idle_poll(mut self, adaptive: bool) -> Self {
        self.adaptive_idle_poll = adaptive;
        self
    }

    /// Which I/O driver the cores run (default [`DriverKind::Auto`]:
    /// io_uring, or epoll where io_uring cannot be set up — a container's
    /// seccomp profile, gVisor, `kernel.io_uring_disabled`, an old kernel).
    /// With `Auto`, the `FRYS_DRIVER` environment variable (`io_uring`,
    /// `epoll`, `auto`) decides instead; an explicit choice here ignores
    /// it. The driver that runs, and why, is logged once and reported by
    /// [`Runtime::driver`](super::Runtime::driver). An explicit `IoUring`
    /// that cannot be set up fails the build with the cause.
    ///
    /// Both drivers offer the same API and guarantees; on epoll, file
    /// operations run on a small shared thread pool instead of in the
    /// kernel's io_uring workers.
    pub fn driver(mut self, kind: DriverKind) -> Self {
        self.driver = kind;
        self
    }

    /// Where to read the CPU topology (default `/sys`); tests point this at
    /// a fake tree.
    pub fn sysfs_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.sysfs_root = root.into();
        self
    }

    /// Starts the cores. Core 0 is driven by this thread inside
    /// [`block_on`](super::Runtime::block_on); the others get threads now.
    pub fn build(self) -> Result<super::Runtime, BuildError> {
        super::Runtime::start(self)
    }
}

/// Why a runtime could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// Reading the CPU topology or the affinity mask failed.
    Topology(io::Error),
    /// The requested cores cannot be used.
    Placement(PlacementError),
    /// A core's io_uring could not be created.
    Ring {
        /// The core whose ring failed.
        core: usize,
        /// Why.
        source: RingSetupError,
    },
    /// A core's epoll instance could not be created.
    Epoll {
        /// The core whose epoll instance failed.
        core: usize,
        /// Why.
        source: io::Error,
    },
    /// `FRYS_DRIVER` names no driver.
    DriverEnv(ParseDriverKindError),
    /// Creating a core's thread, eventfd or pinning failed.
    Io(io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topology(e) => write!(f, "cannot read the CPU topology: {e}"),
            Self::Placement(e) => write!(f, "cannot place the cores: {e}"),
            Self::Ring { core, source } => write!(f, "core {core}: {source}"),
            Self::Epoll { core, source } => {
                write!(f, "core {core}: cannot create its epoll instance: {source}")
            }
            Self::DriverEnv(e) => write!(f, "{}: {e}", crate::driver::DRIVER_ENV),
            Self::Io(e) => write!(f, "cannot start a core: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Topology(e) | Self::Io(e) | Self::Epoll { source: e, .. } => Some(e),
            Self::DriverEnv(e) => Some(e),
            Self::Placement(e) => Some(e),
            Self::Ring { source, .. } => Some(source),
        }
    }
}
