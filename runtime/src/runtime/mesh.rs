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

use crate::channel::{self, Receiver, Sender, TryRecvError, TrySendError};
use crate::task::TaskRef;

use super::core::CoreCtx;

/// What cores send each other.
pub(crate) enum MeshMsg {
    /// Run this task here (`spawn_on`, `submit_to`).
    Spawn(TaskRef),
    /// Wake this waker here: a task of ours waits on a task that finished on
    /// the sending core (the reply of `spawn_on` / `submit_to`).
    Wake(Waker),
}

struct Outgoing {
    sender: Sender<MeshMsg>,
    outbox: VecDeque<MeshMsg>,
}

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
            });
            ends[to].incoming[from] = Some(receiver);
        }
    }
    ends
}

impl MeshEnds {
    /// Queues `msg` for core `to`; it leaves at the end of this tick.
    /// Gives the message back if `to` is not another core of this runtime.
    pub(crate) fn send(&mut self, to: usize, msg: MeshMsg) -> Result<(), MeshMsg> {
        match self.outgoing.get_mut(to) {
            Some(Some(out)) => {
                out.outbox.push_back(msg);
                Ok(())
            }
            _ => Err(msg),
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
                        // The peer core is gone (shutdown): a task sent to
                        // it completes as cancelled (its future was never
                        // made, only its `Send` closure is dropped here).
                        Err(TrySendError::Closed(MeshMsg::Spawn(task))) => task.shutdown(),
                        Err(TrySendError::Closed(MeshMsg::Wake(waker))) => drop(waker),
                    }
                }
                out.sender.flush();
                if out.sender.poll_ready(&mut cx).is_pending() {
                    break;
                }
            }
        }
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
                match rx.try_recv() {
                    Ok(MeshMsg::Spawn(task)) => core.push_local(task),
                    Ok(MeshMsg::Wake(waker)) => waker.wake(),
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
                if let MeshMsg::Spawn(task) = msg {
                    tasks.push(task);
                }
            }
        }
        tasks
    }
}
