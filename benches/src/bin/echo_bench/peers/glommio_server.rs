//! The glommio peer: one local executor per core, pinned to that core's
//! CPU (`Placement::Fixed`), each with its own SO_REUSEPORT listener;
//! reads into a 16 KiB buffer per connection, echoed with `write_all`.

use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// Runs the server until it is killed.
pub(crate) fn serve(port: u16, cores: usize, placement: frys::Placement) -> Result<(), String> {
    let cpus = super::server_cpus(cores, placement)?;
    let addr = crate::server_addr(port);
    let mut executors = Vec::new();
    let (bound_tx, bound) = std::sync::mpsc::channel::<Result<(), String>>();
    for &cpu in &cpus {
        let bound_tx = bound_tx.clone();
        let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(cpu))
            .name(&format!("glommio-{cpu}"))
            .spawn(move || async move {
                // glommio's listeners set SO_REUSEPORT: every core binds
                // the same port.
                let listener = match glommio::net::TcpListener::bind(addr) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = bound_tx.send(Err(format!("listen on {addr}: {e}")));
                        return;
                    }
                };
                let _ = bound_tx.send(Ok(()));
                loop {
                    match listener.accept().await {
                        Ok(stream) => {
                            glommio::spawn_local(echo(stream)).detach();
                        }
                        Err(e) => eprintln!("glommio server: accept failed: {e}"),
                    }
                }
            })
            .map_err(|e| format!("glommio: cannot start an executor on cpu {cpu}: {e}"))?;
        executors.push(executor);
    }
    // Each executor binds inside its thread: READY once all of them did.
    drop(bound_tx);
    for _ in &cpus {
        bound
            .recv()
            .map_err(|_| "glommio server: an executor stopped before binding".to_string())?
            .map_err(|e| format!("glommio server: {e}"))?;
    }
    crate::announce_ready(&cpus)?;
    for e in executors {
        let _ = e.join();
    }
    Ok(())
}

async fn echo(mut stream: glommio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
