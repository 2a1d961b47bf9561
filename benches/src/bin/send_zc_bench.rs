//! Where does `SEND_ZC` pay on this machine? A frys core sends a stream of
//! `--size`-byte `write_all` calls over loopback TCP to a reader thread,
//! once with plain `SEND` and once with `SEND_ZC`
//! (`Builder::send_zc_threshold(Some(0))`), rounds alternating, and reports
//! throughput and the sender's CPU per KiB sent (the process's CPU time,
//! io_uring workers included, minus the reader thread's own).
//!
//! ```text
//! cargo run --release -p frys-benches --bin send_zc_bench -- \
//!     [--sizes 1024,4096,16384,65536,262144] [--mib 256] [--rounds 3]
//! ```
//!
//! On loopback the kernel copies the data on delivery anyway, so this
//! measures what zero-copy costs here (pinning pages, the notification
//! completion), not what it saves on a NIC.

use std::io::Read;
use std::net::TcpListener as StdListener;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("send_zc_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    sizes: Vec<usize>,
    mib: usize,
    rounds: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        sizes: vec![1024, 4096, 16384, 65536, 262_144],
        mib: 256,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: bad number {v}"))
        };
        match flag.as_str() {
            "--sizes" => args.sizes = v.split(',').map(num).collect::<Result<_, _>>()?,
            "--mib" => args.mib = num(&v)?,
            "--rounds" => args.rounds = num(&v)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.sizes.contains(&0) || args.mib == 0 || args.rounds == 0 {
        return Err("sizes, --mib and --rounds must be > 0".into());
    }
    Ok(args)
}

/// (GiB/s, sender CPU ns per KiB) of one run.
fn one_run(size: usize, total: usize, zero_copy: bool) -> Result<(f64, f64), String> {
    let rt = frys::Runtime::builder()
        .cores(frys::Cores::Count(1))
        .send_zc_threshold(zero_copy.then_some(0))
        .build()
        .map_err(|e| e.to_string())?;
    let listener = StdListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let reader = std::thread::spawn(move || -> Result<f64, String> {
        let (mut s, _) = listener.accept().map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 1 << 20];
        let start = thread_cpu_secs();
        let mut got = 0;
        while got < total {
            match s.read(&mut buf) {
                Ok(0) => return Err("sender closed early".into()),
                Ok(n) => got += n,
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(thread_cpu_secs() - start)
    });
    let cpu0 = process_cpu_secs();
    let t0 = Instant::now();
    let sent = rt.block_on(async move {
        let stream = frys::net::TcpStream::connect(addr).await?;
        let mut buf = vec![0x5a; size];
        let mut sent = 0;
        while sent < total {
            let (res, back) = stream.write_all(buf).await;
            res?;
            buf = back;
            sent += size;
        }
        Ok::<_, std::io::Error>(sent)
    });
    let reader_cpu = reader.join().map_err(|_| "reader panicked")??;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = process_cpu_secs() - cpu0 - reader_cpu;
    let sent = sent.map_err(|e| e.to_string())?;
    drop(rt);
    Ok((
        sent as f64 / secs / (1u64 << 30) as f64,
        cpu * 1e9 / (sent as f64 / 1024.0),
    ))
}

fn run() -> Result<(), String> {
    let args = parse()?;
    println!("# SEND vs SEND_ZC, loopback TCP, one frys core sending");
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "kernel {} , {} MiB per run, {} rounds",
        kernel.trim(),
        args.mib,
        args.rounds
    );
    println!();
    println!("| size | SEND GiB/s | SEND_ZC GiB/s | SEND CPU ns/KiB | SEND_ZC CPU ns/KiB | ZC/SEND CPU |");
    println!("|---|---|---|---|---|---|");
    for &size in &args.sizes {
        let total = (args.mib << 20) / size * size;
        let (mut plain, mut zc) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds {
            plain.push(one_run(size, total, false)?);
            zc.push(one_run(size, total, true)?);
        }
        let m = |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| median(v.iter().map(f).collect());
        let (pg, pc) = (m(&plain, |r| r.0), m(&plain, |r| r.1));
        let (zg, zcpu) = (m(&zc, |r| r.0), m(&zc, |r| r.1));
        println!(
            "| {size} | {pg:.2} | {zg:.2} | {pc:.0} | {zcpu:.0} | {:.2} |",
            zcpu / pc
        );
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn cpu_secs(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one live `timespec`.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn thread_cpu_secs() -> f64 {
    cpu_secs(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn process_cpu_secs() -> f64 {
    cpu_secs(libc::CLOCK_PROCESS_CPUTIME_ID)
}
