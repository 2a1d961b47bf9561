//! The readiness table of one epoll instance: for every fd in the set, what
//! epoll last reported and which operations wait for it.
//!
//! Edge-triggered: an fd is reported once per change (new data, new buffer
//! space, a hang-up), so each flag means "may be ready" from the event that
//! set it until an operation's call fails with `EAGAIN`, which clears it.
//! Only the core's thread touches the table, and it never waits in the
//! kernel between a call's `EAGAIN` and clearing the flag, so no event is
//! lost in between: anything that arrives later makes a new edge.
//!
//! Entries are indexed by fd number. A closed fd leaves its entry behind
//! (the kernel drops it from the epoll set, so no event comes for it); the
//! next socket given the same number is a new owner whose `SourceState`
//! says it is not registered here, and registering it resets the entry.
//! Waiting tokens are removed when their operation finishes or is dropped,
//! so a closed fd's entry has none.

use std::io;
use std::os::fd::RawFd;

use super::source::SourceState;
use super::syscall::Interest;

/// The events every fd is registered for.
const EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
/// Events that make a read worth trying (an error or hang-up is reported by
/// the call itself).
const READABLE: u32 =
    (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
const WRITABLE: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;

#[derive(Default)]
struct Entry {
    readable: bool,
    writable: bool,
    /// Tokens of operations waiting to read (accept, recv...).
    readers: Vec<u64>,
    /// Tokens of operations waiting to write (send, connect...).
    writers: Vec<u64>,
}

impl Entry {
    fn waiters(&mut self, interest: Interest) -> &mut Vec<u64> {
        match interest {
            Interest::Read => &mut self.readers,
            Interest::Write => &mut self.writers,
        }
    }
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct FdTable {
    entries: Vec<Entry>,
}

impl FdTable {
    /// Makes sure `fd` is in epoll set `epfd` of driver `driver`, with a
    /// fresh entry if it was just added.
    pub(crate) fn register(
        &mut self,
        epfd: RawFd,
        driver: u64,
        fd: RawFd,
        source: &SourceState,
    ) -> io::Result<()> {
        if source.is_registered_in(driver) {
            return Ok(());
        }
        let index = usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        let mut event = libc::epoll_event {
            events: EVENTS,
            u64: index as u64,
        };
        // SAFETY: plain syscall; `event` is a live local.
        let mut ret = unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) };
        if ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) {
            // Added by us before, then registered elsewhere: re-arm, which
            // reports the current readiness as a fresh edge.
            // SAFETY: as above.
            ret = unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, &mut event) };
        }
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        if self.entries.len() <= index {
            self.entries.resize_with(index + 1, Entry::default);
        }
        let entry = &mut self.entries[index];
        // ADD and MOD both queue an event if the fd is ready now, so
        // starting from "not ready" loses nothing.
        entry.readable = false;
        entry.writable = false;
        source.set_registered_in(driver);
        Ok(())
    }

    /// Whether the last event said `fd` may be ready for `interest`.
    pub(crate) fn is_ready(&self, fd: RawFd, interest: Interest) -> bool {
        self.entry(fd).is_some_and(|e| match interest {
            Interest::Read => e.readable,
            Interest::Write => e.writable,
        })
    }

    /// A call on `fd` failed with `EAGAIN`: not ready until the next event.
    pub(crate) fn clear(&mut self, fd: RawFd, interest: Interest) {
        if let Some(e) = self.entry_mut(fd) {
            match interest {
                Interest::Read => e.readable = false,
                Interest::Write => e.writable = false,
            }
        }
    }

    /// Operation `token` waits for `fd` to be ready for `interest` (once).
    pub(crate) fn add_waiter(&mut self, fd: RawFd, interest: Interest, token: u64) {
        if let Some(e) = self.entry_mut(fd) {
            let waiters = e.waiters(interest);
            if !waiters.contains(&token) {
                waiters.push(token);
            }
        }
    }

    /// Operation `token` stopped waiting (finished or dropped).
    pub(crate) fn remove_waiter(&mut self, fd: RawFd, interest: Interest, token: u64) {
        if let Some(e) = self.entry_mut(fd) {
            e.waiters(interest).retain(|&t| t != token);
        }
    }

    /// Records an event for `fd` and moves the tokens of the operations it
    /// makes worth retrying into `ready`.
    pub(crate) fn on_event(&mut self, fd: RawFd, events: u32, ready: &mut Vec<u64>) {
        let Some(e) = self.entry_mut(fd) else {
            return;
        };
        if events & READABLE != 0 {
            e.readable = true;
            ready.append(&mut e.readers);
        }
        if events & WRITABLE != 0 {
            e.writable = true;
            ready.append(&mut e.writers);
        }
    }

    fn entry(&self, fd: RawFd) -> Option<&Entry> {
        usize::try_from(fd).ok().and_then(|i| self.entries.get(i))
    }

    fn entry_mut(&mut self, fd: RawFd) -> Option<&mut Entry> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.entries.get_mut(i))
    }
}
