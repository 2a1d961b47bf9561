//! The mesh: one bounded SPSC channel per ordered pair of cores.
//!
//! Core `i` owns the sending end of channel `(i, j)` and core `j` its
//! receiving end, so each ring has exactly one producer thread and one
//! consumer thread. Messages are batched per tick: sends during a tick go to
//! a core-local outbox and are pushed and published once, at the end of the
//! tick (`flush`). When a ring is full the rest stays in the outbox and the
//! sender's waker (this core) is registered, so the consumer's draining wakes
//! us to continue. A core drains its incoming rings every tick and, before it
//! parks, arms their receivers with its own waker.

use std::collections::VecDeque;
use std::task::{Context, Waker};

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::channel::{self, Receiver, Sender, TryRecvError, TrySendError};
use crate::task::{wake_user, TaskRef};

use super::core::CoreCtx;

/// What cores send each other.
///
/// Dropping a message that was never acted on (its ring or outbox dropped
/// with a core that exited, a peer that is gone) is never silent: a task
/// completes as cancelled and a waker is woken, on the dropping thread.
/// Both are fine on any thread: the task was never started (only its `Send`
/// closure exists) and wakers are `Send + Sync`.
pub(crate) struct MeshMsg(Option<Payload>);

pub(crate) enum Payload {
    /// Run this task here (`spawn_on`, `submit_to`).
    Spawn(TaskRef),
    /// Wake this waker here: a task of ours waits on a task that finished on
    /// the sending core (the reply of `spawn_on` / `submit_to`).
    Wake(Waker),
}

impl MeshMsg {
    pub(crate) fn spawn(task: TaskRef) -> MeshMsg {
        MeshMsg(Some(Payload::Spawn(task)))
    }

    pub(crate) fn wake(waker: Waker) -> MeshMsg {
        MeshMsg(Some(Payload::Wake(waker)))
    }

    /// Takes the payload to act on; always `Some` (only `open` and `drop`
    /// take it, and both consume the message).
    fn open(mut self) -> Option<Payload> {
        self.0.take()
    }
}

impl Drop for MeshMsg {
    fn drop(&mut self) {
        match self.0.take() {
            Some(Payload::Spawn(task)) => cancel_unstarted(task),
            Some(Payload::Wake(waker)) => wake_user(waker),
            None => {}
        }
    }
}

/// Completes a task that never started as cancelled (its `JoinHandle`
/// gives `JoinError::is_cancelled`).
fn cancel_unstarted(task: TaskRef) {
    if catch_unwind(AssertUnwindSafe(|| task.shutdown())).is_err() {
        tracing::error!("a task panicked while being cancelled; ignored");
    }
}

struct Outgoing {
    sender: Sender<MeshMsg>,
    outbox: VecDeque<MeshMsg>,
    /// `submit_to` callers waiting for the outbox to shrink below
    /// [`SUBMIT_BACKLOG`]; woken by `flush` once it has.
    room_waiters: Vec<Waker>,
}

/// Messages an outbox may hold (beyond its full ring) before `submit_to`
/// waits for room: the bound on what a caller can queue for a busy core.
pub(crate) const SUBMIT_BACKLOG: usize = 1024;

/// One core's ends of the mesh.
pub(crate) struct MeshEnds {
    /// Indexed by destination core; `None` for ourselves.
    outgoing: Vec<Option<Outgoing>>,
    /// Indexed by source core; `None` for ourselves.
    incoming: Vec<Option<Receiver<MeshMsg>>>,
}

/// Messages taken from one incoming ring per tick, so one chatty peer
/// cannot starve the core's own tasks.
const RECEIVE_BATCH: usize = 256;

/// Builds the N×N mesh; element `i` of the result belongs to core `i`.
pub(crate) fn build(cores: usize, capacity: usize) -> Vec<MeshEnds> {
    let mut ends: Vec<MeshEnds> = (0..cores)
        .map(|_| MeshEnds {
            outgoing: (0..cores).map(|_| None).collect(),
            incoming: (0..cores).map(|_| None).collect(),
        })
        .collect();
    for from in 0..cores {
        for to in 0..cores {
            if from == to {
                continue;
            }
            let (sender, receiver) = channel::bounded(capacity);
            ends[from].outgoing[to] = Some(Outgoing {
                sender,
                outbox: VecDeque::new(),
                room_waiters: Vec::new(),
            });
            ends[to].incoming[from] = Some(receiver);
        }
    }
    ends
}

impl MeshEnds {
    /// Queues `msg` for core `to`; it leaves at the end of this tick. A
    /// message for a core that is not another core of this runtime is
    /// dropped, which cancels or wakes it (see [`MeshMsg`]).
    pub(crate) fn send(&mut self, to: usize, msg: MeshMsg) {
        if let Some(Some(out)) = self.outgoing.get_mut(to) {
            out.outbox.push_back(msg);
        }
    }

    /// Whether the outbox for `to` has room for a `submit_to` message now.
    pub(crate) fn has_submit_room(&self, to: usize) -> bool {
        !matches!(self.outgoing.get(to), Some(Some(out)) if out.outbox.len() >= SUBMIT_BACKLOG)
    }

    /// Whether the outbox for `to` has room for a `submit_to` message;
    /// if not, `waker` is woken once it has. A core that is not another
    /// core of this runtime always has room (`send` drops its messages).
    pub(crate) fn poll_submit_room(&mut self, to: usize, waker: &Waker) -> bool {
        match self.outgoing.get_mut(to) {
            Some(Some(out)) if out.outbox.len() >= SUBMIT_BACKLOG => {
                if !out.room_waiters.iter().any(|w| w.will_wake(waker)) {
                    out.room_waiters.push(waker.clone());
                }
                false
            }
            _ => true,
        }
    }

    /// Pushes every outbox into its ring and publishes each ring once.
    ///
    /// A ring that stays full keeps the rest of its outbox, with
    /// `core_waker` registered to be woken when the peer frees room (the
    /// registration is re-checked, so room that appeared meanwhile is used
    /// now rather than lost).
    pub(crate) fn flush(&mut self, core_waker: &Waker) {
        let mut cx = Context::from_waker(core_waker);
        for out in self.outgoing.iter_mut().flatten() {
            while !out.outbox.is_empty() {
                while let Some(msg) = out.outbox.pop_front() {
                    match out.sender.try_send_buffered(msg) {
                        Ok(()) => {}
                        Err(TrySendError::Full(msg)) => {
                            out.outbox.push_front(msg);
                            break;
                        }
                        // The peer core is gone (shutdown): dropping the
                        // message cancels its task or wakes its waker here.
                        Err(TrySendError::Closed(msg)) => drop(msg),
                    }
                }
                out.sender.flush();
                if out.sender.poll_ready(&mut cx).is_pending() {
                    break;
                }
            }
            if out.outbox.len() < SUBMIT_BACKLOG && !out.room_waiters.is_empty() {
                for w in std::mem::take(&mut out.room_waiters) {
                    wake_user(w);
                }
            }
        }
    }

    /// Messages waiting in the outbox for `to` (tests of the bound).
    #[cfg(test)]
    pub(crate) fn outbox_len(&self, to: usize) -> usize {
        self.outgoing[to].as_ref().map_or(0, |o| o.outbox.len())
    }

    /// Whether some outbox still holds messages (its ring was full).
    pub(crate) fn has_backlog(&self) -> bool {
        self.outgoing.iter().flatten().any(|o| !o.outbox.is_empty())
    }

    /// Takes messages from every incoming ring and acts on them.
    pub(crate) fn receive(&mut self, core: &CoreCtx) -> usize {
        let mut n = 0;
        for rx in self.incoming.iter_mut().flatten() {
            for _ in 0..RECEIVE_BATCH {
                match rx.try_recv().map(MeshMsg::open) {
                    Ok(Some(Payload::Spawn(task))) => core.push_local(task),
                    Ok(Some(Payload::Wake(waker))) => wake_user(waker),
                    Ok(None) => {}
                    Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
                }
                n += 1;
            }
        }
        // A backlog in a full outbox is not work: `flush` registered us to
        // be woken when the peer frees room, so the core may park.
        n
    }

    /// Part of the park re-check (after `begin_park`): registers
    /// `core_waker` on every incoming ring and on every full ring we still
    /// have messages for, and says whether any incoming ring has messages
    /// or any full ring has room again.
    pub(crate) fn arm(&mut self, core_waker: &Waker) -> bool {
        let mut ready = false;
        for rx in self.incoming.iter().flatten() {
            rx.register_waker(core_waker);
            ready |= rx.has_pending();
        }
        ready || self.backlog_can_move(core_waker)
    }

    /// Whether an incoming ring has messages (a hint for idle polling; no
    /// waker is registered).
    pub(crate) fn has_incoming(&self) -> bool {
        self.incoming.iter().flatten().any(|rx| rx.has_pending())
    }

    /// Whether a ring we have a backlog for has room (or closed) now;
    /// otherwise `core_waker` stays registered for when it does.
    pub(crate) fn backlog_can_move(&mut self, core_waker: &Waker) -> bool {
        let mut cx = Context::from_waker(core_waker);
        let mut ready = false;
        for out in self.outgoing.iter_mut().flatten() {
            if !out.outbox.is_empty() {
                ready |= out.sender.poll_ready(&mut cx).is_ready();
            }
        }
        ready
    }

    /// Shutdown: the tasks that were sent to us and never started.
    pub(crate) fn take_spawned(&mut self) -> Vec<TaskRef> {
        let mut tasks = Vec::new();
        for rx in self.incoming.iter_mut().flatten() {
            while let Ok(msg) = rx.try_recv() {
                match msg.open() {
                    Some(Payload::Spawn(task)) => tasks.push(task),
                    Some(Payload::Wake(waker)) => wake_user(waker),
                    None => {}
                }
            }
        }
        tasks
    }
}
