//! The io_uring driver.
//!
//! One [`UringDriver`] per core, created and used only on that core's thread.
//! SQEs queued during a scheduler tick are submitted together (one
//! `io_uring_enter` per tick, or none if nothing was queued). When the core
//! has nothing to run it parks in `io_uring_enter`, waiting for one
//! completion with the nearest timer deadline as the ring timeout. A read on
//! the core's eventfd is always armed so that another thread can end the
//! park by writing the eventfd (see `sync::park` for the flag protocol).
//!
//! Besides one-shot operations (`slab`), a ring runs multishot operations
//! (`multishot`: accept, and receive into the core's provided buffer ring,
//! `buf_ring`) where the kernel has them; `probe` finds out once per ring,
//! and the module docs there say which kernel gives what.
//!
//! Tokens (`user_data`): one-shot operations have bits 62 and 63 clear,
//! multishot ones bit 62 set, the driver's own (eventfd read,
//! cancellations, probes) bit 63 set.

mod buf_ring;
mod multishot;
mod probe;

pub(crate) use buf_ring::{BufRing, MAX_ENTRIES as MAX_RING_BUFFERS};
pub(crate) use multishot::{MultishotCqe, MultishotKind};
#[cfg(test)]
pub(crate) use multishot::{ACCEPT_QUEUE_CAP, RECV_QUEUE_CAP};
pub(crate) use probe::Features;

use std::any::Any;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::recv_pool::RecvPool;
use super::setup::{self, RingSetupError};
use super::slab::{self, Completed, FinishedOrphan, OpSlab, Slot};
use super::{next_driver_id, release_orphans, NetConfig};
use multishot::{MultishotTable, MULTISHOT_TAG};

/// `user_data` of the eventfd read.
const EVENTFD_TOKEN: u64 = u64::MAX;
/// `user_data` of cancellation requests, whose CQEs carry nothing we need.
const CANCEL_TOKEN: u64 = u64::MAX - 1;
/// Tokens with this bit are the driver's own (above, and `probe`'s).
const RESERVED_TAG: u64 = 1 << 63;
/// The buffer group of the core's buffer ring.
const BUF_GROUP: u16 = 0;

pub(crate) struct UringDriver {
    /// Unique among all drivers of the process: an `Op` remembers it and is
    /// only ever resolved against the driver that carries it.
    id: u64,
    ring: IoUring,
    /// One-shot operations; a waiting slot holds the result of a
    /// zero-copy send whose buffer notification has not arrived yet.
    ops: OpSlab<Option<i32>>,
    eventfd: RawFd,
    /// The eventfd read's target; boxed so its address is stable.
    eventfd_buf: Box<u64>,
    eventfd_armed: bool,
    /// `io_uring_enter` calls made, for metrics.
    enters: u64,
    /// Wakers of completions reaped while pushing into a full queue; the
    /// core wakes them at its next submit or park.
    deferred: Vec<Waker>,
    /// Orphans whose operation finished, released outside the driver's
    /// borrow (their `Drop` may use frys I/O, which borrows the driver).
    finished_orphans: Vec<FinishedOrphan>,
    /// The fast paths the probe found (and the builder allowed).
    features: Features,
    /// The provided buffer ring, if multishot receive is on.
    buf_ring: Option<Rc<BufRing>>,
    multishot: MultishotTable,
    /// Heap buffers for pooled receives without the ring.
    recv_pool: Rc<RecvPool>,
    /// False if a probe left an operation in the kernel: the buffer ring
    /// is then leaked at teardown rather than freed.
    probe_clean: bool,
    /// Sends at least this long go out as `SEND_ZC` (if the kernel has it).
    send_zc_threshold: Option<usize>,
    /// Zero-copy notifications reaped (tests).
    zc_notifs: u64,
    /// Tokens whose `ASYNC_CANCEL` is still to be queued: multishot
    /// operations whose queue reached its cap (found while reaping, when
    /// the submission queue cannot be touched), and cancellations that
    /// could not be queued. Queued at the next submit or park.
    pending_cancels: Vec<u64>,
}

impl UringDriver {
    /// Creates the ring on the calling thread and probes its fast paths
    /// (unless `net.fast_path` is off). `eventfd` must stay open for the
    /// driver's whole life (the core owns it).
    pub(crate) fn new(
        entries: u32,
        eventfd: RawFd,
        net: &NetConfig,
    ) -> Result<Self, RingSetupError> {
        let mut ring = setup::create_ring(entries)?;
        let mut buf_ring = None;
        let (mut features, mut probe_clean) = (Features::default(), true);
        if net.fast_path {
            buf_ring =
                match BufRing::register(&ring, net.recv_buffers, net.recv_buffer_size, BUF_GROUP) {
                    Ok(br) => Some(Rc::new(br)),
                    Err(e) => {
                        tracing::debug!(error = %e, "no provided buffer ring");
                        None
                    }
                };
            (features, probe_clean) = probe::probe(&mut ring, buf_ring.as_deref());
            if !features.recv_multishot {
                if let Some(br) = buf_ring.take() {
                    release_buf_ring(&ring, br, probe_clean);
                }
            }
            tracing::debug!(?features, "io_uring fast paths");
        }
        Ok(Self {
            id: next_driver_id(),
            ring,
            ops: OpSlab::new(),
            eventfd,
            eventfd_buf: Box::new(0),
            eventfd_armed: false,
            enters: 0,
            deferred: Vec::new(),
            finished_orphans: Vec::new(),
            features,
            buf_ring,
            multishot: MultishotTable::new(),
            recv_pool: Rc::new(RecvPool::new(
                net.recv_buffer_size as usize,
                usize::from(net.recv_buffers),
            )),
            probe_clean,
            send_zc_threshold: net.send_zc_threshold.filter(|_| features.send_zc),
            zc_notifs: 0,
            pending_cancels: Vec::new(),
        })
    }

    /// Sends at least this long should be `SEND_ZC` (`None`: never).
    pub(crate) fn send_zc_threshold(&self) -> Option<usize> {
        self.send_zc_threshold
    }

    #[cfg(test)]
    pub(crate) fn zc_notifs(&self) -> u64 {
        self.zc_notifs
    }

    pub(crate) fn features(&self) -> Features {
        self.features
    }

    pub(crate) fn buf_ring(&self) -> Option<&Rc<BufRing>> {
        self.buf_ring.as_ref()
    }

    pub(crate) fn recv_pool(&self) -> &Rc<RecvPool> {
        &self.recv_pool
    }

    /// Queues a multishot operation whose slot keeps `keep` (the socket)
    /// until its final CQE; returns its token.
    pub(crate) fn submit_multishot(
        &mut self,
        sqe: squeue::Entry,
        kind: MultishotKind,
        keep: Box<dyn Any>,
    ) -> io::Result<u64> {
        let token = self
            .multishot
            .insert(kind, keep)
            .ok_or_else(|| io::Error::other("too many multishot operations in flight"))?;
        if let Err(e) = self.push(&sqe.user_data(token)) {
            self.multishot.remove_unsubmitted(token);
            return Err(e);
        }
        Ok(token)
    }

    #[cfg(test)]
    pub(crate) fn multishot_in_flight(&self) -> usize {
        self.multishot.in_flight()
    }

    #[cfg(test)]
    pub(crate) fn multishot_queued(&self) -> usize {
        self.multishot.queued()
    }

    /// The next CQE of multishot operation `token` (see
    /// `MultishotTable::poll`).
    pub(crate) fn poll_multishot(
        &mut self,
        token: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<MultishotCqe>> {
        self.multishot.poll(token, cx)
    }

    /// The owner of multishot operation `token` is gone: what it queued is
    /// released, and the kernel is asked to stop it.
    pub(crate) fn cancel_multishot(&mut self, token: u64) {
        if self.multishot.cancel(token, self.buf_ring.as_deref()) {
            self.queue_cancel(token);
        }
    }

    /// Queues an `ASYNC_CANCEL` of operation `token`; if the queue is full
    /// and cannot be submitted, retries at the next submit or park.
    fn queue_cancel(&mut self, token: u64) {
        let cancel = opcode::AsyncCancel::new(token)
            .build()
            .user_data(CANCEL_TOKEN);
        if let Err(e) = self.push(&cancel) {
            tracing::debug!(error = %e, "could not queue a cancellation; retrying next tick");
            self.pending_cancels.push(token);
        }
    }

    /// Queues the cancellations left for later (see `pending_cancels`).
    fn queue_pending_cancels(&mut self) {
        for token in std::mem::take(&mut self.pending_cancels) {
            self.queue_cancel(token);
        }
    }

    #[cfg(test)]
    pub(crate) fn ops_in_flight(&self) -> usize {
        self.ops.in_flight()
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn enters(&self) -> u64 {
        self.enters
    }

    /// Queues an SQE, submitting the queue first if it is full.
    fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry we push points only at memory that outlives
            // the operation: an `Op`'s box (kept by the future or by the
            // orphaned slot until the CQE), the driver's boxed eventfd buffer
            // (freed only after `Drop` drained the ring), the core's buffer
            // ring (multishot receives name its group: its memory is freed
            // only after the kernel let go of it, see `release_buf_ring`),
            // or nothing at all (cancellations, multishot accepts).
            let pushed = unsafe { self.ring.submission().push(sqe) };
            if pushed.is_ok() {
                return Ok(());
            }
            // Full: submit, and reap so that a kernel waiting for CQ room
            // (EBUSY) can take more.
            self.enter(0, None)?;
            let mut reaped = std::mem::take(&mut self.deferred);
            self.reap(&mut reaped);
            self.deferred = reaped;
        }
    }

    /// Queues an operation; returns its token (the SQE's `user_data`).
    pub(crate) fn submit_op(&mut self, sqe: squeue::Entry) -> io::Result<u64> {
        let token = self
            .ops
            .insert(None)
            .ok_or_else(|| io::Error::other("too many io_uring operations in flight"))?;
        if let Err(e) = self.push(&sqe.user_data(token)) {
            self.ops.remove(token);
            return Err(e);
        }
        Ok(token)
    }

    pub(crate) fn poll_op(&mut self, token: u64, cx: &mut Context<'_>) -> Poll<(i32, u32)> {
        let Some(slot) = self.ops.get_mut(token) else {
            return Poll::Pending;
        };
        match slot {
            Slot::Completed { result, flags } => {
                let done = (*result, *flags);
                self.ops.remove(token);
                Poll::Ready(done)
            }
            Slot::Waiting(waker, _) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Slot::Orphaned(_) | Slot::Free { .. } => Poll::Pending,
        }
    }

    /// The future of operation `token` was dropped. If the operation is
    /// still in flight its data moves into the slot and a cancellation is
    /// queued; if it already completed, the data is given back with the
    /// result, for the caller to release once the driver is not borrowed.
    #[must_use]
    pub(crate) fn orphan(
        &mut self,
        token: u64,
        data: Box<dyn slab::Orphan>,
    ) -> Option<FinishedOrphan> {
        let Some(slot) = self.ops.get_mut(token) else {
            // Not ours to free: the kernel may still use it. Unreachable
            // while `Op` is tied to its driver, so leaking is only a safety net.
            std::mem::forget(data);
            return None;
        };
        match slot {
            Slot::Waiting(..) => {
                *slot = Slot::Orphaned(data);
                self.queue_cancel(token);
                None
            }
            Slot::Completed { result, .. } => {
                // Completed but never polled: the kernel is done, yet what it
                // produced (an accepted fd...) must still be released.
                let result = *result;
                self.ops.remove(token);
                Some((data, result))
            }
            Slot::Orphaned(_) | Slot::Free { .. } => {
                std::mem::forget(data);
                None
            }
        }
    }

    /// Orphans whose operation finished during a reap; the core releases
    /// them with [`release_orphans`] after its borrow of the driver ends.
    pub(crate) fn take_finished_orphans(&mut self) -> Vec<FinishedOrphan> {
        std::mem::take(&mut self.finished_orphans)
    }

    /// Whether an `io_uring_enter` is needed to make progress without
    /// waiting: queued SQEs, deferred task work or an overflowed CQ.
    pub(crate) fn needs_enter(&mut self) -> bool {
        let sq = self.ring.submission();
        !sq.is_empty() || sq.taskrun() || sq.cq_overflow()
    }

    /// Whether a non-blocking [`submit_and_reap`](Self::submit_and_reap)
    /// would find something: completions in the CQ, deferred wakers, or
    /// work only an `io_uring_enter` runs (queued SQEs, deferred task work).
    pub(crate) fn has_progress(&mut self) -> bool {
        !self.deferred.is_empty() || self.needs_enter() || !self.ring.completion().is_empty()
    }

    /// Submits queued SQEs without waiting, then collects completions.
    pub(crate) fn submit_and_reap(&mut self, woken: &mut Vec<Waker>) -> io::Result<()> {
        self.queue_pending_cancels();
        woken.append(&mut self.deferred);
        if self.needs_enter() {
            self.enter(0, None)?;
        }
        self.reap(woken);
        Ok(())
    }

    /// Parks the thread in the kernel until a completion arrives (the eventfd
    /// read counts) or `timeout` passes, then collects completions.
    pub(crate) fn park(
        &mut self,
        timeout: Option<Duration>,
        woken: &mut Vec<Waker>,
    ) -> io::Result<()> {
        self.queue_pending_cancels();
        self.arm_eventfd()?;
        self.enter(1, timeout)?;
        self.reap(woken);
        Ok(())
    }

    fn arm_eventfd(&mut self) -> io::Result<()> {
        if self.eventfd_armed {
            return Ok(());
        }
        let buf: *mut u64 = &mut *self.eventfd_buf;
        let read = opcode::Read::new(types::Fd(self.eventfd), buf.cast(), 8)
            .build()
            .user_data(EVENTFD_TOKEN);
        self.push(&read)?;
        self.eventfd_armed = true;
        Ok(())
    }

    fn enter(&mut self, want: usize, timeout: Option<Duration>) -> io::Result<()> {
        self.enters += 1;
        let submitter = self.ring.submitter();
        let result = match timeout {
            Some(t) => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                submitter.submit_with_args(want, &args)
            }
            None => submitter.submit_and_wait(want),
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                // Timed out, interrupted, or completions must be reaped
                // first: all mean "go and look at the CQ".
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                    Ok(())
                }
                _ => Err(e),
            },
        }
    }

    fn reap(&mut self, woken: &mut Vec<Waker>) {
        let mut cq = self.ring.completion();
        cq.sync();
        for cqe in &mut cq {
            match cqe.user_data() {
                EVENTFD_TOKEN => self.eventfd_armed = false,
                token if token & RESERVED_TAG != 0 => {}
                token if token & MULTISHOT_TAG != 0 => {
                    let done = MultishotCqe {
                        result: cqe.result(),
                        flags: cqe.flags(),
                    };
                    self.multishot.complete(
                        token,
                        done,
                        self.buf_ring.as_deref(),
                        woken,
                        &mut self.pending_cancels,
                    );
                }
                token if cqueue::more(cqe.flags()) => {
                    // A zero-copy send's result: the kernel still reads the
                    // buffer until its notification, so the operation (and
                    // the buffer it owns) completes only then.
                    if let Some(Slot::Waiting(_, sent)) = self.ops.get_mut(token) {
                        *sent = Some(cqe.result());
                    }
                }
                token => {
                    let mut result = cqe.result();
                    if cqueue::notif(cqe.flags()) {
                        self.zc_notifs += 1;
                        if let Some(Slot::Waiting(_, Some(sent))) = self.ops.get_mut(token) {
                            result = *sent;
                        }
                    }
                    match self.ops.complete(token, result, cqe.flags()) {
                        Completed::Wake(w) => woken.push(w),
                        Completed::Orphan(o) => self.finished_orphans.push(o),
                        Completed::Nothing => {}
                    }
                }
            }
        }
    }
}

/// Gives up the driver's buffer ring. If nothing in the kernel can pick a
/// buffer any more (`idle`) and the kernel unregisters the group, the
/// memory is freed with the last buffer users still hold; otherwise (an
/// operation may still use it, or the kernel kept the registration) the
/// memory is leaked, never freed under the kernel.
fn release_buf_ring(ring: &IoUring, br: Rc<BufRing>, idle: bool) {
    if idle {
        match ring.submitter().unregister_buf_ring(br.bgid()) {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "cannot unregister the buffer ring; leaking it"),
        }
    }
    std::mem::forget(br);
}

impl Drop for UringDriver {
    /// Cancels what is still in flight and waits (bounded) for the kernel to
    /// finish with every buffer before the ring and the slab are freed.
    fn drop(&mut self) {
        let cancel_all = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL_TOKEN);
        let _ = self.push(&cancel_all);
        // `CancelBuilder::any` needs Linux 5.19; cancel the eventfd read by
        // its token too, which every kernel understands.
        let cancel_eventfd = opcode::AsyncCancel::new(EVENTFD_TOKEN)
            .build()
            .user_data(CANCEL_TOKEN);
        let _ = self.push(&cancel_eventfd);
        let mut woken = Vec::new();
        for _ in 0..50 {
            if self.ops.in_flight() == 0 && !self.eventfd_armed && self.multishot.in_flight() == 0 {
                break;
            }
            if self.enter(1, Some(Duration::from_millis(20))).is_err() {
                break;
            }
            self.reap(&mut woken);
            // Wakers of tasks that no longer exist; nothing to do with them.
            woken.clear();
        }
        release_orphans(self.take_finished_orphans());
        self.multishot.release_all(self.buf_ring.as_deref());
        let multishot_done = self.multishot.in_flight() == 0;
        if let Some(br) = self.buf_ring.take() {
            // Nothing can pick a buffer any more unless a multishot receive
            // or a probe is still in the kernel.
            release_buf_ring(&self.ring, br, multishot_done && self.probe_clean);
        }
        if self.ops.in_flight() > 0 || self.eventfd_armed || !multishot_done {
            tracing::warn!(
                in_flight = self.ops.in_flight() + self.multishot.in_flight(),
                "io_uring operations did not finish at shutdown; leaking their buffers"
            );
            let ops = std::mem::replace(&mut self.ops, OpSlab::new());
            std::mem::forget(ops);
            let buf = std::mem::replace(&mut self.eventfd_buf, Box::new(0));
            std::mem::forget(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer ring's memory is freed only if the kernel confirmed the
    /// unregistration; a failed one leaks it (the kernel may still write it).
    #[test]
    fn the_buffer_ring_is_freed_only_after_the_kernel_let_go_of_it() {
        let Ok(ring) = IoUring::new(8) else {
            return; // no io_uring here (seccomp): nothing to release
        };
        let Ok(br) = BufRing::register(&ring, 4, 64, 7) else {
            return; // a kernel without buffer rings
        };
        let br = Rc::new(br);
        let weak = Rc::downgrade(&br);
        release_buf_ring(&ring, br, true);
        assert!(weak.upgrade().is_none(), "unregistered, then freed");

        let br = Rc::new(BufRing::register(&ring, 4, 64, 7).unwrap());
        // Unregistered behind its back: the driver's unregistration fails.
        ring.submitter().unregister_buf_ring(7).unwrap();
        let weak = Rc::downgrade(&br);
        release_buf_ring(&ring, br, true);
        assert!(weak.upgrade().is_some(), "not confirmed: leaked, not freed");

        let br = Rc::new(BufRing::register(&ring, 4, 64, 8).unwrap());
        let weak = Rc::downgrade(&br);
        release_buf_ring(&ring, br, false);
        assert!(weak.upgrade().is_some(), "still in use: leaked");
    }

    /// A cancellation that could not be queued is queued at the next
    /// submit: the multishot operation it stops ends then, instead of
    /// staying armed until its socket's end.
    #[test]
    fn a_cancellation_left_for_later_goes_in_at_the_next_submit() {
        // SAFETY: plain syscall; the fd is closed at the end of the test.
        let eventfd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(eventfd >= 0);
        let net = NetConfig {
            fast_path: true,
            recv_buffers: 4,
            recv_buffer_size: 64,
            send_zc_threshold: None,
        };
        let Ok(mut d) = UringDriver::new(8, eventfd, &net) else {
            return; // no io_uring here (seccomp)
        };
        if d.features().accept_multishot {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
            let sqe = opcode::AcceptMulti::new(types::Fd(fd)).build();
            let token = d
                .submit_multishot(sqe, MultishotKind::Accept, Box::new(()))
                .unwrap();
            let mut woken = Vec::new();
            d.submit_and_reap(&mut woken).unwrap();
            assert!(d.multishot.cancel(token, None), "armed");
            // As if queueing the cancellation had failed.
            d.pending_cancels.push(token);
            for _ in 0..1000 {
                if d.multishot.in_flight() == 0 {
                    break;
                }
                d.park(Some(Duration::from_millis(10)), &mut woken).unwrap();
            }
            assert_eq!(d.multishot.in_flight(), 0, "the cancellation went in");
            assert!(d.pending_cancels.is_empty());
            drop(d);
            drop(listener);
        }
        // SAFETY: ours, and the driver that used it is gone.
        unsafe { libc::close(eventfd) };
    }
}
