//! The monoio peer: one pinned thread per core, each with a monoio
//! io_uring runtime and its own SO_REUSEPORT listener; owned-buffer reads
//! into a 16 KiB `Vec` per connection, echoed with `write_all`.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};

/// Runs the server until it is killed.
pub(crate) fn serve(port: u16, cores: usize, placement: frys::Placement) -> Result<(), String> {
    let cpus = super::server_cpus(cores, placement)?;
    super::per_core_threads("monoio", &cpus, serve_core, crate::server_addr(port))
}

fn serve_core(cpu: usize, listener: std::net::TcpListener) {
    if let Err(e) = frys::topology::pin_current_thread(cpu) {
        eprintln!("monoio server: cannot pin to cpu {cpu}: {e}");
    }
    let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(1024)
        .build();
    let mut rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("monoio server: cannot build a runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let listener = match monoio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("monoio server: cannot register the listener: {e}");
                std::process::exit(1);
            }
        };
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    monoio::spawn(echo(stream));
                }
                Err(e) => eprintln!("monoio server: accept failed: {e}"),
            }
        }
    });
}

async fn echo(mut stream: monoio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let (read, b) = stream.read(buf).await;
        buf = b;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (written, b) = stream.write_all(buf).await;
        buf = b;
        if written.is_err() {
            return;
        }
    }
}
