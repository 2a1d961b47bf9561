//! TCP: a listener that every core of a process can bind on the same port
//! (`SO_REUSEPORT`, the kernel spreads connections; another process is
//! refused), and streams.

mod claim;
mod incoming;
mod listener;
mod stream;

pub use incoming::Incoming;
pub use listener::TcpListener;
pub use stream::TcpStream;
