#!/usr/bin/env python3
"""Client storm against shard-server, bounded in time.

    python3 benches/client_storm.py target/release/shard-server \
        [--clients 10000] [--slow 100] [--churners 50] [--seconds 30] [--cores 2]

Starts its own server (fd limit raised, maxclients above the load, a
`client-output-buffer-limit normal` of 4mb/1mb/5s) and runs, at once:

- CLIENTS steady connections, each sending pipelines of `SET k v`, `GET k`,
  `INCR n` (its own keys) and checking every reply against what it must be;
- SLOW clients that pipeline `GET big` (a 256 KiB value) and never read:
  each must be disconnected by the server (the output limit);
- CHURNERS that connect, PING, check PONG and close, in a loop.

Reports requests checked, wrong or missing replies (must be 0), peak
server RSS, connections opened by churners, and how many slow readers were
cut. Exits non-zero if a reply was wrong, a steady client was cut, or a
slow reader was not cut.
"""
import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BIG = 256 * 1024


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, min(want, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


async def read_reply(r):
    """One RESP2 reply: bytes for simple/bulk/integer, Exception for errors."""
    line = await r.readline()
    if not line:
        raise EOFError("closed")
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b":"):
        return rest
    if t == b"-":
        return Exception(rest.decode())
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = await r.readexactly(n + 2)
        return data[:-2]
    raise ValueError(f"unexpected reply {line!r}")


class Stats:
    def __init__(self):
        self.checked = 0
        self.wrong = 0
        self.steady_cut = 0
        self.churned = 0
        self.connect_retries = 0
        self.churn_refused = 0
        self.slow_cut = 0
        self.first_error = None


async def connect_checked(port, st):
    """A connection the server has accepted (it answered PING), retrying
    the ones the kernel dropped from a full accept queue."""
    for attempt in range(20):
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(enc("PING"))
            await w.drain()
            if await read_reply(r) == b"PONG":
                return r, w
            w.close()
        except (OSError, EOFError, asyncio.IncompleteReadError):
            pass
        st.connect_retries += 1
        await asyncio.sleep(0.05 * (attempt + 1))
    return None


async def steady(port, i, stop, st, pipeline, started):
    conn = await connect_checked(port, st)
    if conn is None:
        st.first_error = st.first_error or f"steady {i}: never accepted"
        started.append(False)
        return
    r, w = conn
    started.append(True)
    n = 0
    try:
        while not stop.is_set():
            batch, want = [], []
            for j in range(pipeline):
                key, val = f"s{i}:{j}", f"v{i}:{n}:{j}"
                batch += [enc("SET", key, val), enc("GET", key), enc("INCR", f"n{i}")]
                n += 1
                want += [b"OK", val.encode(), str(n).encode()]
            w.write(b"".join(batch))
            await w.drain()
            for expect in want:
                got = await read_reply(r)
                st.checked += 1
                if got != expect:
                    st.wrong += 1
                    st.first_error = st.first_error or f"steady {i}: {got!r} != {expect!r}"
            await asyncio.sleep(0.05)
    except (EOFError, ConnectionError, asyncio.IncompleteReadError) as e:
        st.steady_cut += 1
        st.first_error = st.first_error or f"steady {i} cut: {e!r}"
    finally:
        w.close()


async def slow_reader(port, stop, st):
    conn = await connect_checked(port, st)
    if conn is None:
        return
    r, w = conn
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        while not stop.is_set():
            w.write(enc("GET", "big") * 16)
            await asyncio.wait_for(w.drain(), timeout=1)
            await asyncio.sleep(0.01)
    except (ConnectionError, asyncio.TimeoutError, OSError):
        pass
    # Cut means the server closed it: reading drains what the kernel holds
    # and then sees the end of the stream.
    try:
        while True:
            chunk = await asyncio.wait_for(r.read(1 << 20), timeout=30)
            if not chunk:
                st.slow_cut += 1
                break
    except ConnectionError:
        st.slow_cut += 1
    except (asyncio.TimeoutError, OSError):
        pass
    w.close()


async def churner(port, stop, st):
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(enc("PING"))
            await w.drain()
            got = await read_reply(r)
            st.checked += 1
            if got != b"PONG":
                st.wrong += 1
                st.first_error = st.first_error or f"churner: {got!r}"
            st.churned += 1
            w.close()
        except (OSError, EOFError, asyncio.IncompleteReadError):
            # A connection the kernel could not queue (accept backlog
            # full); the server never saw it.
            st.churn_refused += 1


async def run(args, port, pid):
    st = Stats()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(enc("SET", "big", b"x" * BIG))
    await w.drain()
    assert await read_reply(r) == b"OK"
    started = []
    stop = asyncio.Event()
    peak = [0, 0]

    async def monitor():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            w.write(enc("INFO", "clients"))
            await w.drain()
            info = await read_reply(r)
            for line in info.decode().split("\r\n"):
                if line.startswith("connected_clients:"):
                    peak[1] = max(peak[1], int(line.split(":")[1]))
            await asyncio.sleep(0.5)

    tasks = [asyncio.create_task(monitor())]
    tasks += [asyncio.create_task(slow_reader(port, stop, st)) for _ in range(args.slow)]
    tasks += [asyncio.create_task(churner(port, stop, st)) for _ in range(args.churners)]
    # Open the steady clients in waves so the accept queue keeps up.
    for i in range(args.clients):
        tasks.append(asyncio.create_task(steady(port, i, stop, st, args.pipeline, started)))
        if i % 100 == 99:
            await asyncio.sleep(0.1)
    while len(started) < args.clients:
        await asyncio.sleep(0.1)
    await asyncio.sleep(args.seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return st, max(peak[0], rss_kib(pid)), peak[1], started.count(True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--slow", type=int, default=100)
    ap.add_argument("--churners", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--pipeline", type=int, default=8)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    need = args.clients + args.slow + args.churners * 2 + 1000
    limit = raise_fd_limit(need)
    if limit < need:
        sys.exit(f"fd limit {limit} < {need}: raise the hard limit (ulimit -Hn)")
    port = free_port()
    data = tempfile.mkdtemp(prefix="client-storm-")
    server = subprocess.Popen(
        [args.binary, "--port", str(port), "--dir", data, "--admin-port", "0",
         "--cores", str(args.cores), "--maxclients", str(need),
         "--client-output-buffer-limit", "normal 4mb 1mb 5", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(data + ".log", "w"),
        preexec_fn=lambda: raise_fd_limit(need))
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        t0 = time.monotonic()
        st, peak, peak_clients, opened = asyncio.run(run(args, port, server.pid))
        took = time.monotonic() - t0
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)
    print(f"steady clients opened: {opened}/{args.clients} (connect retries: {st.connect_retries}), peak connected_clients: {peak_clients}")
    print(f"replies checked: {st.checked}, wrong or missing: {st.wrong}, steady clients cut: {st.steady_cut}")
    print(f"churner connections: {st.churned} (refused by the kernel: {st.churn_refused})")
    print(f"slow readers cut: {st.slow_cut}/{args.slow}")
    print(f"peak server RSS: {peak / 1024:.1f} MiB, run: {took:.1f} s")
    if st.first_error:
        print(f"first error: {st.first_error}")
    ok = st.wrong == 0 and st.steady_cut == 0 and st.slow_cut == args.slow and opened == args.clients
    if ok:
        os.remove(data + ".log")
    else:
        print(f"server log: {data}.log")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
