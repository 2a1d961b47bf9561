//! One TLS connection: rustls' sans-IO [`ServerConnection`] fed with the
//! ciphertext of owned-buffer TCP reads, and drained into owned-buffer
//! TCP writes.
//!
//! Invariants:
//! - The rustls state is borrowed only between awaits, never across one,
//!   so a read in flight (the connection loop keeps one) and a write can
//!   interleave on one task.
//! - Only [`TlsStream::write_all`] (and the handshake) send TLS records;
//!   records the read side produces (a KeyUpdate answer) wait in rustls
//!   and leave with the next write, so two sends never race on the socket.
//! - Memory is bounded: one ciphertext read buffer, rustls' own buffers
//!   (its plaintext receive limit stops the feeding: the rest of a read
//!   waits in the buffer until the plaintext is taken), and one
//!   ciphertext write buffer of at most rustls' send limit per write.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use frys_runtime::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

use crate::exec::{race, Either};

/// Bytes of ciphertext taken from the kernel per read.
const RX_BUFFER: usize = 16 * 1024 + 512;
/// Longest a client may take over its handshake: one that connects and
/// stays silent does not hold its slot (`maxclients`) for ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

struct State {
    conn: ServerConnection,
    /// Ciphertext read but not yet fed to rustls: `rx[rx_pos..]`.
    rx: Vec<u8>,
    rx_pos: usize,
    /// Reused buffer of outgoing records.
    tx: Vec<u8>,
    /// The peer closed its side of the TCP stream.
    eof: bool,
}

/// A server-side TLS stream over a [`TcpStream`], after its handshake.
pub struct TlsStream {
    tcp: TcpStream,
    peer: SocketAddr,
    state: RefCell<State>,
}

/// Runs the server handshake on `tcp` with `config`. On failure the alert
/// rustls prepared is sent (best effort), the failure logged (rate
/// limited) and `None` returned: the caller drops the socket.
pub async fn accept(
    tcp: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
) -> Option<TlsStream> {
    let conn = match ServerConnection::new(config) {
        Ok(c) => c,
        Err(e) => {
            super::log_failure(peer, "setup", &e);
            return None;
        }
    };
    let stream = TlsStream {
        tcp,
        peer,
        state: RefCell::new(State {
            conn,
            rx: Vec::with_capacity(RX_BUFFER),
            rx_pos: 0,
            tx: Vec::new(),
            eof: false,
        }),
    };
    let outcome = race(
        stream.handshake(),
        frys_runtime::time::sleep(HANDSHAKE_TIMEOUT),
    )
    .await;
    match outcome {
        Either::Left(Ok(())) => Some(stream),
        Either::Right(()) => {
            super::log_failure(peer, "handshake", &"timed out");
            None
        }
        Either::Left(Err(e)) => {
            super::log_failure(peer, "handshake", &e);
            // The alert (bad certificate, protocol error) tells the client why.
            let _ = stream.flush().await;
            None
        }
    }
}

impl TlsStream {
    /// The TCP stream under it.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    async fn handshake(&self) -> io::Result<()> {
        loop {
            self.flush().await?;
            if !self.state.borrow().conn.is_handshaking() {
                return Ok(());
            }
            self.fill().await?;
            if self.state.borrow().eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during the handshake",
                ));
            }
            self.state.borrow_mut().pump()?;
        }
    }

    /// Reads ciphertext from the socket into the (fully fed) buffer.
    async fn fill(&self) -> io::Result<()> {
        let mut rx = {
            let mut st = self.state.borrow_mut();
            st.rx_pos = 0;
            std::mem::take(&mut st.rx)
        };
        rx.clear();
        // A read dropped in flight took the buffer with it.
        rx.reserve(RX_BUFFER);
        let (res, rx) = self.tcp.read(rx).await;
        let mut st = self.state.borrow_mut();
        st.rx = rx;
        match res {
            Ok(0) => {
                st.eof = true;
                // Tells rustls the stream ended (a close without close_notify
                // then reads as UnexpectedEof).
                st.conn.read_tls(&mut io::empty())?;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends every record rustls has ready.
    async fn flush(&self) -> io::Result<()> {
        loop {
            let tx = {
                let mut st = self.state.borrow_mut();
                if !st.conn.wants_write() {
                    return Ok(());
                }
                let mut tx = std::mem::take(&mut st.tx);
                tx.clear();
                while st.conn.wants_write() {
                    st.conn.write_tls(&mut tx)?;
                }
                tx
            };
            let (res, tx) = self.tcp.write_all(tx).await;
            self.state.borrow_mut().tx = tx;
            res?;
        }
    }

    /// Reads plaintext into `buf`'s spare capacity (appended after its
    /// bytes, as `TcpStream::read` does; room is reserved if there is
    /// none) and sets its length; 0 at the end of the stream.
    pub async fn read(&self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let start = buf.len();
        buf.reserve(READ_AT_LEAST);
        let cap = buf.capacity();
        buf.resize(cap, 0);
        let result = loop {
            {
                let mut st = self.state.borrow_mut();
                match st.conn.reader().read(&mut buf[start..]) {
                    Ok(n) => break Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => break Err(e),
                }
                if st.rx_pos < st.rx.len() {
                    if let Err(e) = st.pump() {
                        super::log_failure(self.peer, "record", &e);
                        break Err(e);
                    }
                    continue;
                }
                if st.eof {
                    break Ok(0);
                }
            }
            if let Err(e) = self.fill().await {
                break Err(e);
            }
        };
        buf.truncate(start + *result.as_ref().unwrap_or(&0));
        (result, buf)
    }

    /// Encrypts and sends all of `buf`.
    pub async fn write_all(&self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let mut sent = 0;
        while sent < buf.len() {
            let taken = {
                let mut st = self.state.borrow_mut();
                st.conn.writer().write(&buf[sent..])
            };
            match taken {
                Ok(n) => sent += n,
                Err(e) => return (Err(e), buf),
            }
            // Full send buffer or all taken: send what is ready.
            if let Err(e) = self.flush().await {
                return (Err(e), buf);
            }
        }
        (Ok(()), buf)
    }
}

/// Smallest plaintext read buffer (a zero-capacity one would read as EOF).
const READ_AT_LEAST: usize = 4096;

impl State {
    /// Feeds buffered ciphertext to rustls until plaintext is readable or
    /// the buffer is used up. A TLS error is returned as `InvalidData`
    /// (rustls has queued the alert).
    fn pump(&mut self) -> io::Result<()> {
        while self.rx_pos < self.rx.len() {
            let mut rest = &self.rx[self.rx_pos..];
            let before = rest.len();
            self.conn.read_tls(&mut rest)?;
            self.rx_pos += before - rest.len();
            let io_state = self
                .conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if io_state.plaintext_bytes_to_read() > 0 || before == rest.len() {
                break;
            }
        }
        Ok(())
    }
}
