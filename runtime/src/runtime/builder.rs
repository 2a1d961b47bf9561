//! `Runtime::builder()`: how many cores, where, and with what resources.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::driver::{DriverKind, NetConfig, ParseDriverKindError, RingSetupError};
use crate::topology::{Cores, MemoryBinding, Placement, PlacementError};

/// Default [`Builder::task_quota`] (Seastar's default task quota).
const DEFAULT_TASK_QUOTA: Duration = Duration::from_micros(500);

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
    pub(crate) net: NetConfig,
    pub(crate) task_quota: Duration,
    pub(crate) stall_threshold: Duration,
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
            net: NetConfig {
                fast_path: true,
                recv_buffers: 256,
                recv_buffer_size: 4096,
                send_zc_threshold: None,
            },
            task_quota: DEFAULT_TASK_QUOTA,
            stall_threshold: super::stall::DEFAULT_STALL_THRESHOLD,
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
    /// CPU per idle period. Default: 50 µs, about what a park and a
    /// wake-up cost (~36 µs measured on a 2-vCPU VM), so polling never
    /// spends much more CPU than parking would have; longer windows were
    /// measured to take CPU from clients sharing the CPUs.
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

    /// Whether io_uring cores use the kernel's network fast paths where
    /// their ring's probe finds them (default `true`): multishot accept
    /// ([`TcpListener::incoming`]), multishot receive into a per-core
    /// provided buffer ring ([`TcpStream::recv_pooled`]). `false` makes
    /// every core behave as on a kernel without them (the fallbacks the
    /// same APIs take on older kernels); the epoll driver has none and
    /// ignores it.
    ///
    /// What each kernel gives (probed per ring, not read from the kernel
    /// version, since distributions backport):
    ///
    /// | feature | Linux | without it |
    /// |---|---|---|
    /// | multishot accept | 5.19 | one accept SQE per connection |
    /// | provided buffer ring | 5.19 | pooled receives wait for readability, then read into a heap pool buffer |
    /// | multishot receive | 6.0 | as above |
    /// | `SEND_ZC` | 6.0; pays off only on 6.10+ for sends above ~4 KiB (published figures) | plain `SEND` (see [`send_zc_threshold`](Self::send_zc_threshold)) |
    ///
    /// [`TcpListener::incoming`]: crate::net::TcpListener::incoming
    /// [`TcpStream::recv_pooled`]: crate::net::TcpStream::recv_pooled
    pub fn net_fast_path(mut self, on: bool) -> Self {
        self.net.fast_path = on;
        self
    }

    /// The receive buffers of each core for pooled receives
    /// ([`TcpStream::recv_pooled`]): `count` buffers of `size` bytes in the
    /// provided buffer ring (default 256 of 4096 bytes; `count` is rounded
    /// up to a power of two, at most 32768), and at most `count` free
    /// buffers kept in the heap pool that serves receives without the ring
    /// (the epoll driver, older kernels, a ring that ran out). One receive
    /// returns at most `size` bytes (clamped to 1 byte .. 16 MiB). A ring
    /// that runs out costs speed, not correctness: receives then use the
    /// heap pool until buffers return. A ring that cannot be allocated or
    /// registered leaves the core on the heap pool.
    ///
    /// [`TcpStream::recv_pooled`]: crate::net::TcpStream::recv_pooled
    pub fn recv_buffers(mut self, count: u16, size: u32) -> Self {
        self.net.recv_buffers = count
            .clamp(1, crate::driver::MAX_RING_BUFFERS)
            .next_power_of_two();
        self.net.recv_buffer_size = size.clamp(1, 1 << 24);
        self
    }

    /// Sends of at least `threshold` bytes (`TcpStream::write`,
    /// `write_all`) go out as `IORING_OP_SEND_ZC` on io_uring cores whose
    /// kernel has it (6.0+): the kernel sends from the caller's buffer
    /// instead of copying it, and the write completes once the kernel has
    /// let go of the buffer (a second completion). `None` (the default)
    /// never uses it; the epoll driver ignores it. Only TCP sockets take
    /// `SEND_ZC`: on a socket whose kernel refuses it (`EOPNOTSUPP`, e.g. a
    /// [`UnixStream`](crate::net::UnixStream)) the write is sent plainly,
    /// and that socket's later writes skip zero-copy.
    ///
    /// Off by default: on the VM frys is measured on (Linux 6.18, loopback
    /// TCP, `send_zc_bench`) it cost 1.2–6.7× the sender CPU per KiB of a
    /// plain send for writes of 1–32 KiB, and only sometimes less (0.6–0.8×)
    /// at 64–256 KiB, not at 1 MiB. Published figures put the break-even
    /// near 4 KiB on real NICs with 6.10+ kernels: measure your own path
    /// before turning it on.
    pub fn send_zc_threshold(mut self, threshold: Option<usize>) -> Self {
        self.net.send_zc_threshold = threshold;
        self
    }

    /// How long a core polls the tasks of one [`TaskQueue`](crate::TaskQueue)
    /// before it yields to the other queues that have tasks (default
    /// 0.5 ms, as Seastar's task quota). The queue yields at its next poll
    /// boundary: nothing preempts a poll. Shorter means other queues wait
    /// less for the core; longer means fewer switches between queues.
    ///
    /// # Examples
    /// ```no_run
    /// use std::time::Duration;
    /// let rt = frys_runtime::Runtime::builder()
    ///     .task_quota(Duration::from_micros(200))
    ///     .build()?;
    /// # Ok::<(), frys_runtime::BuildError>(())
    /// ```
    pub fn task_quota(mut self, quota: Duration) -> Self {
        self.task_quota = quota;
        self
    }

    /// A task whose single poll runs longer than this has stalled its core
    /// (default 25 ms): it is counted in
    /// [`CoreStats::stalls`](crate::CoreStats::stalls) and reported with
    /// `tracing::warn!`, with its task queue and where it was spawned (at
    /// most one report per core per second; a report says how many stalls
    /// went unreported since the previous one).
    ///
    /// Polls are timed in wall time, so two errors remain (see the
    /// `runtime::stall` module): a poll during which the OS descheduled
    /// the core's thread for long enough is counted and reported as a
    /// stall of the task that was running (on a loaded host or a
    /// CPU-limited container the count partly measures the host); and
    /// while one task queue runs alone polls are timed with the coarse
    /// clock, so a poll is judged to within one kernel tick (1–10 ms) in
    /// either direction. Keep the threshold well above a tick.
    ///
    /// # Examples
    /// ```no_run
    /// use std::time::Duration;
    /// let rt = frys_runtime::Runtime::builder()
    ///     .stall_threshold(Duration::from_millis(5))
    ///     .build()?;
    /// rt.block_on(async {
    ///     frys_runtime::spawn_local(async {
    ///         std::thread::sleep(Duration::from_millis(10)); // blocks the core
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// assert_eq!(rt.stats()[0].stalls, 1);
    /// # Ok::<(), frys_runtime::BuildError>(())
    /// ```
    pub fn stall_threshold(mut self, threshold: Duration) -> Self {
        self.stall_threshold = threshold;
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
