#!/usr/bin/env python3
"""EXEC-heavy load for benches/redis_compare.sh: CLIENTS processes, each
sending pipelines of P transactions `MULTI; INCR {t}a<i>; INCR b<j>; EXEC`
(two keys, usually on different cores of shard-server) until REQUESTS
transactions are done. Prints `rps p50_ms p99_ms` (transactions per second
over all clients; latency of one pipeline round trip divided by nothing:
the time until its last EXEC reply).

    exec_load.py PORT REQUESTS CLIENTS P
"""
import multiprocessing as mp
import socket
import sys
import time


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def client(port, n, p, seed, q):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    batches = []
    for b in range(64):
        parts = []
        for i in range(p):
            k = (seed * 7919 + b * 131 + i * 17) % 1000
            parts += [enc(b"MULTI"), enc(b"INCR", b"a%d" % k), enc(b"INCR", b"b%d" % (k * 3 % 1000)), enc(b"EXEC")]
        batches.append(b"".join(parts))
    lat = []
    done = 0
    buf = b""
    while done < n:
        batch = batches[(done // p) % len(batches)]
        t0 = time.perf_counter()
        s.sendall(batch)
        seen = 0
        # Each transaction ends with "*2\r\n:x\r\n:y\r\n"; count EXEC arrays.
        while seen < p:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise SystemExit("server closed the connection")
            buf += chunk
            seen += buf.count(b"*2\r\n")
            cut = buf.rfind(b"\r\n")
            buf = buf[cut + 2:] if cut >= 0 else buf
            if b"-" in chunk[:1]:
                raise SystemExit(f"error reply: {chunk[:80]!r}")
        lat.append(time.perf_counter() - t0)
        done += p
    q.put((done, lat))


def main():
    port, requests, clients, p = (int(x) for x in sys.argv[1:5])
    q = mp.Queue()
    per = max(p, requests // clients)
    procs = [mp.Process(target=client, args=(port, per, p, i, q)) for i in range(clients)]
    t0 = time.perf_counter()
    for pr in procs:
        pr.start()
    results = [q.get() for _ in procs]
    elapsed = time.perf_counter() - t0
    for pr in procs:
        pr.join()
    total = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1000
    print(f"{total / elapsed:.0f} {p50:.3f} {p99:.3f}")


if __name__ == "__main__":
    main()
