#!/usr/bin/env python3
"""Differential check: the same commands against redis-server and
shard-server, raw RESP replies compared byte for byte, in RESP2 and RESP3.

    python3 shards/tests/clients/redis_diff.py target/debug/shard-server [cases-file]

Each case is one line of a cases file (default: redis_diff_cases.txt next
to this script): a command in redis-cli-like syntax (double quotes for
arguments with spaces). Lines starting with '#' are comments; a line
'---' flushes both databases. A leading '~' marks a command whose reply is
an unordered collection: its elements are compared as multisets (Redis'
hash order is not a contract). A leading '?' marks a command whose reply
is random: only its shape (type and length) is compared.

With a third argument `--cluster` both servers run in cluster mode as
one node owning every slot (redis-server: CLUSTER ADDSLOTSRANGE 0 16383;
shard-server: a one-node map pushed with CLUSTERX SETNODES), for the
cases of redis_cluster_diff_cases.txt.

Exits non-zero listing every case whose replies differ."""
import os, shlex, shutil, socket, subprocess, sys, tempfile, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/shard-server"
HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "redis_diff_cases.txt")
CLUSTER = len(sys.argv) > 3 and sys.argv[3] == "--cluster"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_is_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_cluster_port():
    """A free port whose cluster bus port (port + 10000, as redis-server
    in cluster mode opens) exists and is free too."""
    while True:
        port = free_port()
        if port + 10000 <= 65535 and port_is_free(port + 10000):
            return port


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        deadline = time.time() + 30
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        """A reply as a tree: (type byte, payload or children)."""
        line = self.line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-", b":", b",", b"(", b"#", b"_"):
            return (t, rest)
        if t in (b"$", b"="):
            n = int(rest)
            return (t, None) if n < 0 else (t, self.exact(n))
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return (t, None) if n < 0 else (t, [self.reply() for _ in range(n)])
        if t == b"%" or t == b"|":
            n = int(rest)
            return (t, [(self.reply(), self.reply()) for _ in range(n)])
        raise ValueError(f"bad reply line {line!r}")

    def call(self, args):
        self.s.sendall(encode(args))
        return self.reply()


def canonical(tree, unordered):
    t, v = tree
    if isinstance(v, list):
        items = [canonical(x, False) if not isinstance(x, tuple) or len(x) != 2 or not isinstance(x[0], tuple)
                 else (canonical(x[0], False), canonical(x[1], False)) for x in v]
        if unordered:
            items = sorted(items, key=repr)
        return (t, items)
    return (t, v)


def shape(tree):
    t, v = tree
    return (t, len(v) if isinstance(v, list) else None)


def one_node_clusters(rport, fport):
    """Makes each server a cluster of itself owning every slot."""
    r, f = Conn(rport), Conn(fport)
    r.call(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
    # Epoch 1 on both: a pushed map starts at version 1 (0 is "no map").
    r.call(["CLUSTER", "BUMPEPOCH"])
    my_id = f.call(["CLUSTER", "MYID"])[1].decode()
    f.call(["CLUSTERX", "SETNODES", f"{my_id} 127.0.0.1 {fport} master - 0-16383", "1"])
    deadline = time.time() + 30
    for c in (r, f):
        while b"cluster_state:ok" not in c.call(["CLUSTER", "INFO"])[1]:
            if time.time() > deadline:
                raise RuntimeError("a server's cluster did not come up")
            time.sleep(0.05)


def main():
    tmp = tempfile.mkdtemp(prefix="frys-diff-")
    rport = free_cluster_port() if CLUSTER else free_port()
    fport = free_port()
    while fport in (rport, rport + 10000):
        fport = free_port()
    cluster = ["--cluster-enabled", "yes"] if CLUSTER else []
    redis_cluster = cluster + (["--cluster-config-file", os.path.join(tmp, "nodes.conf")] if CLUSTER else [])
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no",
                              "--dir", tmp, "--enable-debug-command", "yes"] + redis_cluster,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    frys = subprocess.Popen([BIN, "--port", str(fport), "--dir", os.path.join(tmp, "frys"),
                             "--admin-port", "0", "--cores", "2"] + cluster,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if CLUSTER:
        one_node_clusters(rport, fport)
    failures = []
    total = 0
    try:
        for resp in (2, 3):
            conns = [Conn(rport), Conn(fport)]
            for c in conns:
                c.call(["HELLO", str(resp)])
                c.call(["FLUSHALL"])
            with open(CASES) as f:
                for n, raw in enumerate(f, 1):
                    line = raw.strip()
                    if not line or line.startswith("#"):
                        continue
                    if line == "---":
                        for c in conns:
                            c.call(["FLUSHALL"])
                        continue
                    mode = ""
                    if line[0] in "~?":
                        mode, line = line[0], line[1:].strip()
                    args = shlex.split(line)
                    total += 1
                    r, fr = (c.call(args) for c in conns)
                    if mode == "?":
                        same = shape(r) == shape(fr)
                    else:
                        same = canonical(r, mode == "~") == canonical(fr, mode == "~")
                    if not same:
                        failures.append(f"RESP{resp} line {n}: {line}\n   redis: {r}\n    frys: {fr}")
    finally:
        redis.terminate()
        frys.terminate()
        redis.wait()
        frys.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print(f)
    print(f"{total - len(failures)} same, {len(failures)} different")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
