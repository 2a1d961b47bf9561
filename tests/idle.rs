//! An idle runtime parks in the kernel instead of spinning (after polling
//! for its idle-poll window), on either driver.

use std::time::Duration;

use frys::{Cores, DriverKind, Runtime};

fn process_cpu_time() -> Duration {
    let mut ts = libc_timespec();
    // SAFETY: clock_gettime writes into a valid, owned timespec.
    let rc = unsafe {
        clock_gettime(2 /* CLOCK_PROCESS_CPUTIME_ID */, &mut ts)
    };
    assert_eq!(rc, 0);
    Duration::new(ts.0 as u64, ts.1 as u32)
}

#[repr(C)]
struct Timespec(i64, i64);
fn libc_timespec() -> Timespec {
    Timespec(0, 0)
}
extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// Builds a two-core runtime on `driver`, idles it for a second and
/// checks it used under 5% of one CPU.
fn assert_idle_second_is_nearly_free(driver: DriverKind) {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .driver(driver)
        .build()
        .unwrap();
    // Core 1 idles on its own thread; core 0 sleeps inside block_on.
    let before = process_cpu_time();
    rt.block_on(frys::time::sleep(Duration::from_secs(1)));
    let used = process_cpu_time() - before;
    assert!(
        used < Duration::from_millis(50),
        "idle second on {} burned {used:?} of CPU (limit 5%)",
        rt.driver()
    );
    assert!(rt.stats().iter().all(|s| s.parks > 0));
}

#[test]
fn an_idle_runtime_uses_almost_no_cpu() {
    // Auto: io_uring here, or whatever FRYS_DRIVER says.
    assert_idle_second_is_nearly_free(DriverKind::Auto);
}

#[test]
fn an_idle_epoll_runtime_uses_almost_no_cpu() {
    assert_idle_second_is_nearly_free(DriverKind::Epoll);
}

#[test]
fn a_core_polls_for_at_most_its_window_then_parks() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .idle_poll(Duration::from_millis(20))
        .build()
        .unwrap();
    assert_eq!(rt.idle_poll(), Duration::from_millis(20));
    // Longer than the window: both cores must have parked in the kernel.
    rt.block_on(frys::time::sleep(Duration::from_millis(200)));
    assert!(rt.stats().iter().all(|s| s.parks > 0), "{:?}", rt.stats());
}

#[test]
fn a_zero_window_parks_at_once() {
    let rt = Runtime::builder()
        .cores(Cores::Count(2))
        .idle_poll(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(rt.idle_poll(), Duration::ZERO);
    let out = rt.block_on(async { frys::submit_to(1, || 7).await });
    assert_eq!(out, 7);
    rt.block_on(frys::time::sleep(Duration::from_millis(20)));
    assert!(rt.stats().iter().all(|s| s.parks > 0), "{:?}", rt.stats());
}
