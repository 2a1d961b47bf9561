//! hyper 1.x on frys (the `hyper` feature): the three things hyper asks
//! of a runtime.
//!
//! - [`HyperStream`]: a frys [`TcpStream`](crate::net::TcpStream) or
//!   [`UnixStream`](crate::net::UnixStream) as hyper's I/O
//!   ([`hyper::rt::Read`], [`hyper::rt::Write`]);
//! - [`LocalExec`]: hyper's [`Executor`](hyper::rt::Executor) for the tasks
//!   a connection spawns (HTTP/2 streams, for instance), run with
//!   [`spawn_local`](crate::spawn_local) on the current core, so they may
//!   be `!Send`;
//! - [`FrysTimer`]: hyper's [`Timer`](hyper::rt::Timer) on the core's
//!   timers, which the builder's timeouts (`header_read_timeout`, keep-alive
//!   timers) need. Its sleeps are [`time::Sleep`](crate::time::Sleep)s, which
//!   implement [`hyper::rt::Sleep`].
//!
//! This crate enables no hyper feature: pick `http1`, `http2`, `server`
//! and `client` in your own `hyper` dependency. A connection is a `!Send`
//! future: serve each on the core that accepted it with `spawn_local`, so
//! the service may hold `Rc`s and `RefCell`s of that core.
//!
//! Known limits:
//! - HTTP upgrades (WebSocket, `CONNECT` tunnels through
//!   `hyper::upgrade`) do not work over [`HyperStream`]: hyper's
//!   `http1::Connection::with_upgrades` and `Upgraded` require a `Send`
//!   I/O type, and frys streams are `!Send` by design (they belong to one
//!   core). The bound is reported as an unsatisfied `Send` trait error.
//! - Under `use frys_runtime::*` (or `use frys::*`), the name `hyper`
//!   means this module, which shadows the hyper crate (`use hyper::...`
//!   is then ambiguous, error E0659). Name the crate `::hyper::...`, or
//!   import this module's items by path instead of the glob.
//!
//! # Examples
//!
//! A hello-world HTTP/1.1 server on one core (`examples/http.rs` in the
//! repository runs one on every core):
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper::{server::conn::http1, service::service_fn, Request, Response};
//! use frys_runtime::hyper::{FrysTimer, HyperStream};
//! use frys_runtime::net::TcpListener;
//!
//! # let rt = frys_runtime::Runtime::builder().build().unwrap();
//! # rt.block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:8080")?;
//! loop {
//!     let (stream, _peer) = listener.accept().await?;
//!     frys_runtime::spawn_local(async move {
//!         let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello\n"))))
//!         });
//!         let served = http1::Builder::new()
//!             .timer(FrysTimer)
//!             .serve_connection(HyperStream::new(stream), hello)
//!             .await;
//!         if let Err(e) = served {
//!             eprintln!("connection: {e}");
//!         }
//!     });
//! }
//! # #[allow(unreachable_code)]
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```

mod exec;
mod stream;
mod timer;

pub use exec::LocalExec;
pub use stream::HyperStream;
pub use timer::FrysTimer;
