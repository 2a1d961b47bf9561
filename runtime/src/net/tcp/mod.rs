//! TCP: a listener that every core can bind on the same port
//! (`SO_REUSEPORT`, the kernel spreads connections), and streams.

mod listener;
mod stream;

pub use listener::TcpListener;
pub use stream::TcpStream;
