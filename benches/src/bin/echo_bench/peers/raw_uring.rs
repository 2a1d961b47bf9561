//! The raw io_uring echo loop: no runtime, only the `io-uring` crate. One
//! thread per core, pinned to the CPU frys would use, each with its own ring
//! and its own SO_REUSEPORT listener. One multishot accept per ring (Linux
//! 5.19+); per connection one 16 KiB buffer and exactly one operation in
//! flight: a recv, then a send of what it got (sent again from where it
//! stopped until all of it is written), then the next recv. One
//! `io_uring_enter` per batch of completions submits every SQE they led to.
//! This is the floor a runtime could reach on this path: anything a
//! runtime costs beyond it is the runtime's own.
//!
//! Invariant: a connection's slot (its fd and its buffer) is freed only
//! when the CQE of its one in-flight operation arrived, so no SQE ever
//! points at a freed buffer or names a closed fd. Killed by SIGTERM.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

const BUF_SIZE: usize = 16 * 1024;
const RING_ENTRIES: u32 = 1024;
/// `user_data` of the multishot accept; a connection's operations carry
/// `slot << 1 | is_send`.
const ACCEPT: u64 = u64::MAX;

struct Conn {
    fd: OwnedFd,
    buf: Box<[u8]>,
    /// Bytes of the last recv, echoed from `buf[..len]`.
    len: usize,
    /// Bytes of them already sent.
    sent: usize,
}

/// Runs the server (one thread per core) until it is killed.
pub(crate) fn serve(port: u16, cores: usize, placement: frys::Placement) -> Result<(), String> {
    let cpus = super::server_cpus(cores, placement)?;
    let addr = crate::server_addr(port);
    let mut threads = Vec::new();
    for &cpu in &cpus {
        let listener =
            super::reuseport_listener(addr, false).map_err(|e| format!("listen on {addr}: {e}"))?;
        let thread = std::thread::Builder::new()
            .name(format!("raw-uring-{cpu}"))
            .spawn(move || {
                if let Err(e) = frys::topology::pin_current_thread(cpu) {
                    eprintln!("raw io_uring server: cannot pin to cpu {cpu}: {e}");
                }
                if let Err(e) = run(&listener) {
                    eprintln!("raw io_uring server: {e}");
                    std::process::exit(1);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        threads.push(thread);
    }
    crate::announce_ready(&cpus)?;
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn run(listener: &std::net::TcpListener) -> io::Result<()> {
    let mut ring = IoUring::new(RING_ENTRIES)?;
    let mut conns = Conns::default();
    let result = event_loop(&mut ring, listener, &mut conns);
    // The kernel may still use the buffers of operations in flight: never
    // free them under it (the process exits on this error anyway).
    std::mem::forget(conns);
    result
}

fn event_loop(
    ring: &mut IoUring,
    listener: &std::net::TcpListener,
    conns: &mut Conns,
) -> io::Result<()> {
    let accept = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
        .flags(libc::SOCK_CLOEXEC)
        .build()
        .user_data(ACCEPT);
    let mut queue = vec![accept.clone()];
    let mut cqes: Vec<(u64, i32, u32)> = Vec::new();
    loop {
        for sqe in queue.drain(..) {
            push(ring, &sqe)?;
        }
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        cqes.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for (token, result, flags) in cqes.drain(..) {
            if token == ACCEPT {
                if result >= 0 {
                    // SAFETY: the kernel just returned this new fd and
                    // nothing else owns it.
                    let fd = unsafe { OwnedFd::from_raw_fd(result) };
                    let _ = set_nodelay(&fd);
                    queue.push(conns.open(fd));
                } else if result != -libc::ECONNABORTED {
                    eprintln!(
                        "raw io_uring server: accept: {}",
                        io::Error::from_raw_os_error(-result)
                    );
                }
                if !cqueue::more(flags) {
                    queue.push(accept.clone());
                }
                continue;
            }
            let slot = (token >> 1) as usize;
            let next = if token & 1 == 0 {
                conns.received(slot, result)
            } else {
                conns.sent(slot, result)
            };
            queue.extend(next);
        }
    }
}

/// Queues `sqe`, submitting the queue first if it is full.
fn push(ring: &mut IoUring, sqe: &squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: the entry is a multishot accept (it points at nothing:
        // the listener outlives the ring's use of it, `run` never returns
        // while the thread serves) or a recv or send into the buffer of a
        // connection slot, which is a heap box that does not move when the
        // slot table grows and is freed only after this operation's CQE
        // (the module's invariant).
        if unsafe { ring.submission().push(sqe) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

#[derive(Default)]
struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
}

impl Conns {
    /// Takes a slot for a new connection; returns its first recv.
    fn open(&mut self, fd: OwnedFd) -> squeue::Entry {
        let conn = Conn {
            fd,
            buf: vec![0u8; BUF_SIZE].into_boxed_slice(),
            len: 0,
            sent: 0,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(conn);
                slot
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        };
        self.recv(slot)
    }

    fn recv(&mut self, slot: usize) -> squeue::Entry {
        let Some(conn) = self.slots[slot].as_mut() else {
            unreachable!("a recv for a free slot");
        };
        opcode::Recv::new(
            types::Fd(conn.fd.as_raw_fd()),
            conn.buf.as_mut_ptr(),
            BUF_SIZE as u32,
        )
        .build()
        .user_data((slot as u64) << 1)
    }

    fn send(&mut self, slot: usize) -> squeue::Entry {
        let Some(conn) = self.slots[slot].as_mut() else {
            unreachable!("a send for a free slot");
        };
        let rest = &conn.buf[conn.sent..conn.len];
        opcode::Send::new(
            types::Fd(conn.fd.as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32,
        )
        .build()
        .user_data((slot as u64) << 1 | 1)
    }

    /// The recv of `slot` returned `result`: echo it, or close.
    fn received(&mut self, slot: usize, result: i32) -> Option<squeue::Entry> {
        let conn = self.slots.get_mut(slot)?.as_mut()?;
        if result <= 0 {
            self.close(slot);
            return None;
        }
        conn.len = result as usize;
        conn.sent = 0;
        Some(self.send(slot))
    }

    /// The send of `slot` returned `result`: send the rest, or receive.
    fn sent(&mut self, slot: usize, result: i32) -> Option<squeue::Entry> {
        let conn = self.slots.get_mut(slot)?.as_mut()?;
        if result <= 0 {
            self.close(slot);
            return None;
        }
        conn.sent += result as usize;
        if conn.sent < conn.len {
            Some(self.send(slot))
        } else {
            Some(self.recv(slot))
        }
    }

    /// Frees `slot` (its only operation just completed): closes its fd.
    fn close(&mut self, slot: usize) {
        self.slots[slot] = None;
        self.free.push(slot);
    }
}

fn set_nodelay(fd: &OwnedFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: the option value points at a live `c_int` of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
