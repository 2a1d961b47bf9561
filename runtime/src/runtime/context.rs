//! The thread-local "current core".
//!
//! A core thread enters its [`CoreCtx`] for as long as it runs; the thread
//! that built the runtime enters core 0 only inside `block_on`. Everything
//! that needs the current core (spawning, I/O, timers, the arena) goes
//! through [`with_current`]. The context is only borrowed immutably while
//! user code runs, so nested calls are fine.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use super::core::CoreCtx;
use crate::driver::{Driver, DriverKind};

thread_local! {
    static CURRENT: RefCell<Option<Rc<CoreCtx>>> = const { RefCell::new(None) };
}

/// Runs `f` with the current core, if this thread is running one.
pub(crate) fn with_current<R>(f: impl FnOnce(&CoreCtx) -> R) -> Option<R> {
    CURRENT
        .try_with(|cur| cur.borrow().as_deref().map(f))
        .ok()
        .flatten()
}

/// Runs `f` with the current core's driver.
pub(crate) fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    with_current(|ctx| f(&mut ctx.driver.borrow_mut()))
}

/// The driver of the current core, if this thread is running one.
pub(crate) fn driver_kind() -> Option<DriverKind> {
    with_current(|ctx| ctx.driver.try_borrow().ok().map(|d| d.kind())).flatten()
}

pub(crate) fn not_on_core() -> io::Error {
    io::Error::other("frys I/O used outside a frys core thread")
}

/// Makes `ctx` the current core until the guard drops.
pub(crate) fn enter(ctx: Rc<CoreCtx>) -> EnterGuard {
    let prev = CURRENT.with(|cur| cur.borrow_mut().replace(ctx));
    EnterGuard { prev }
}

pub(crate) struct EnterGuard {
    prev: Option<Rc<CoreCtx>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|cur| *cur.borrow_mut() = prev);
    }
}
