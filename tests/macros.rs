//! `#[frys::test]` and `#[frys::main]` build a runtime and run the body.

#[frys::test]
async fn frys_test_runs_on_a_one_core_runtime() {
    assert_eq!(frys::current_core(), Some(0));
    let h = frys::spawn_local(async { 40 + 2 });
    assert_eq!(h.await.unwrap(), 42);
}

#[frys::test(cores = 2)]
async fn frys_test_takes_a_core_count() {
    assert_eq!(frys::submit_to(1, frys::current_core).await, Some(1));
}

#[frys::test]
async fn frys_test_can_return_a_result() -> std::io::Result<()> {
    let l = frys::net::TcpListener::bind("127.0.0.1:0")?;
    l.local_addr()?;
    Ok(())
}
