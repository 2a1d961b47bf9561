//! [`LocalExec`]: hyper's executor as `spawn_local` on the current core.

use std::future::Future;

/// A [`hyper::rt::Executor`] that runs each future as a task of the
/// current core ([`spawn_local`](crate::spawn_local)), so the futures need
/// not be `Send`. hyper hands it the tasks a connection spawns (an HTTP/2
/// connection's streams, a client connection's background task); they run
/// on the core that polls the connection and never leave it.
///
/// The task is detached: it runs to completion, or until the runtime is
/// dropped, whether or not anything waits for it.
///
/// # Panics
///
/// [`execute`](hyper::rt::Executor::execute) panics outside a frys core,
/// as `spawn_local` does.
///
/// # Examples
///
/// ```no_run
/// use frys_runtime::hyper::LocalExec;
/// use hyper::rt::Executor;
///
/// # frys_runtime::Runtime::builder().build().unwrap().block_on(async {
/// let here = std::rc::Rc::new(()); // a `!Send` value is fine
/// LocalExec.execute(async move {
///     let _still_here = here;
/// });
/// // With hyper's `http2` feature:
/// // hyper::server::conn::http2::Builder::new(LocalExec).serve_connection(io, service)
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalExec;

impl<F> ::hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        drop(crate::spawn_local(future));
    }
}
