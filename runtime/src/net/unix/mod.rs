//! Unix domain stream sockets, addressed by filesystem path.

mod listener;
mod stream;

pub use listener::UnixListener;
pub use stream::UnixStream;
