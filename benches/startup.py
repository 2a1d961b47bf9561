#!/usr/bin/env python3
"""Time from exec to the first answered PING of shard-server, on a fresh
empty data directory (or on one holding data, with --dir DIR: then it is
the recovery time).

    python3 benches/startup.py [--bin target/release/shard-server] [--runs 7] [--dir DIR]
Prints each run and the median, in milliseconds."""
import argparse, os, shutil, socket, statistics, subprocess, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default="target/release/shard-server")
ap.add_argument("--runs", type=int, default=7)
ap.add_argument("--dir", help="existing data directory (kept); default: a new empty one per run")
ap.add_argument("--port", type=int, default=16410)
a = ap.parse_args()

times = []
for _ in range(a.runs):
    d = a.dir or tempfile.mkdtemp(prefix="frys-startup-")
    t0 = time.monotonic()
    p = subprocess.Popen([a.bin, "--port", str(a.port), "--dir", d, "--admin-port", "0"],
                         stderr=subprocess.DEVNULL)
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", a.port), timeout=600)
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                s.close()
                break
            s.close()
        except OSError:
            if p.poll() is not None:
                raise SystemExit("server exited early")
            time.sleep(0.0005)
    times.append((time.monotonic() - t0) * 1000)
    p.terminate()
    p.wait()
    if not a.dir:
        shutil.rmtree(d)
for t in times:
    print(f"{t:.1f} ms")
print(f"median {statistics.median(times):.1f} ms over {len(times)} runs")
