//! I/O completes on a core that never goes idle: completions must be reaped
//! every tick, not only when the core parks.

use std::cell::Cell;
use std::rc::Rc;

use frys::net::{TcpListener, TcpStream};
use frys::{Cores, Runtime};

#[test]
fn io_completes_while_another_task_keeps_the_core_busy() {
    let rt = Runtime::builder().cores(Cores::Count(1)).build().unwrap();
    let (spins_before_done, io_ok) = rt.block_on(async {
        let done = Rc::new(Cell::new(false));
        let spins = Rc::new(Cell::new(0u64));
        // Never lets the core park while `done` is false (bounded so that a
        // regression fails instead of hanging).
        let spinner = {
            let (done, spins) = (done.clone(), spins.clone());
            frys::spawn_local(async move {
                while !done.get() && spins.get() < 2_000_000 {
                    spins.set(spins.get() + 1);
                    frys::yield_now().await;
                }
            })
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (w, _) = client.write_all(b"ping".to_vec()).await;
        w.unwrap();
        let (r, buf) = server.read(Vec::with_capacity(16)).await;
        let io_ok = r.is_ok() && buf == b"ping";
        done.set(true);
        spinner.await.unwrap();
        (spins.get(), io_ok)
    });
    assert!(io_ok);
    assert!(
        spins_before_done < 2_000_000,
        "I/O only completed once the busy task gave up: completions are not reaped while busy"
    );
}
