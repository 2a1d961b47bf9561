#!/usr/bin/env python3
"""Deleting a 1,000,000-element collection: shard-server (O(1): one
metadata record; compaction reclaims the space) beside redis-server
(O(N) unless lazyfree-lazy-user-del), in one run.

    python3 benches/big_delete.py [--elements N] [--bin target/release/shard-server]

For each server: fills one hash with N fields (pipelined HSET batches),
then times DEL of it (client round trip, and the server's own time from
INFO commandstats `cmdstat_del:usec`), then for shard-server runs
COMPACT and reports the table bytes on disk before and after."""
import argparse, os, shutil, socket, subprocess, tempfile, time


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        for _ in range(400):
            try:
                self.s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(1 << 20)
        i = self.buf.index(b"\r\n")
        l, self.buf = self.buf[:i], self.buf[i + 2:]
        return l

    def reply(self):
        l = self.line()
        if l[:1] == b"$":
            n = int(l[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 20)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if l[:1] == b"*":
            return [self.reply() for _ in range(int(l[1:]))]
        if l[:1] == b"-":
            raise RuntimeError(l.decode())
        return l[1:]

    def call(self, *args):
        self.s.sendall(enc(*args))
        return self.reply()


def table_bytes(d):
    total = 0
    for root, _, files in os.walk(d):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".sst"))
    return total


def del_usec(c):
    info = c.call("INFO", "commandstats").decode()
    for line in info.splitlines():
        if line.startswith("cmdstat_del:"):
            fields = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
            return float(fields["usec"])
    return 0.0


def run(name, cmd, port, n, data_dir):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = Conn(port)
        c.call("PING")
        batch = 1000
        for start in range(0, n, batch):
            args = ["HSET", "big"]
            for i in range(start, min(n, start + batch)):
                args += [f"field:{i}", f"value-{i:012d}"]
            c.call(*args)
        assert int(c.call("HLEN", "big")) == n
        extra = ""
        if name == "frys":
            c.call("COMPACT")
            extra_before = table_bytes(data_dir)
        before = del_usec(c)
        t0 = time.perf_counter()
        assert int(c.call("DEL", "big")) == 1
        rtt = (time.perf_counter() - t0) * 1e6
        server = del_usec(c) - before
        if name == "frys":
            c.call("COMPACT")
            extra = f"; tables {extra_before / 1e6:.1f} MB before DEL, {table_bytes(data_dir) / 1e6:.2f} MB after COMPACT"
        print(f"| {name} | {n} | {server:.0f} | {rtt:.0f} |{extra}")
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", type=int, default=1_000_000)
    ap.add_argument("--bin", default="target/release/shard-server")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="frys-bigdel-")
    try:
        print("| server | elements | DEL server time (us) | DEL round trip (us) |")
        print("|---|---|---|---|")
        run("redis", ["redis-server", "--port", "17390", "--save", "", "--appendonly", "no",
                      "--dir", work], 17390, a.elements, work)
        d = os.path.join(work, "frys")
        run("frys", [a.bin, "--port", "17391", "--dir", d, "--admin-port", "0", "--cores", "1"],
            17391, a.elements, d)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
