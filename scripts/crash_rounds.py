#!/usr/bin/env python3
"""Server-level crash check: clients write under `appendfsync always` while
shard-server is SIGKILLed at random moments; after every restart, every
acknowledged write must be there.

    python3 scripts/crash_rounds.py target/debug/shard-server [ROUNDS] [SEED]

Each round starts the server on the same data directory (alternating
`--cores 2` and `--cores 1`, so restarts also change the core count), runs
writer threads with one connection each, kills the server with SIGKILL
after a random 50-400 ms, restarts it and checks each writer's keys:

- strings: a key holds the last acknowledged SET's value, or the value of
  the one SET that was in flight when the server died;
- counters: INCR's value is the last acknowledged reply, or one more if an
  INCR was in flight;
- lists: RPUSH's length is the last acknowledged length (or one more), and
  the acknowledged tail element is in place;
- hashes: every acknowledged HSET field is present with its value;
- deletes: a key whose DEL was acknowledged is gone (unless a later write
  to it was acknowledged).

What was found becomes the next round's baseline. Prints one line per
round and a summary: rounds, acknowledged writes, lost. Exits non-zero on
the first loss. `FRYS_CRASH_SABOTAGE=1` deletes one acknowledged key
before the first check, to show that the check catches a loss."""
import os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

import redis

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/shard-server"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 1
WRITERS = 6
# FRYS_CRASH_SABOTAGE=1 deletes an acknowledged key before the check.
SABOTAGE = os.environ.get("FRYS_CRASH_SABOTAGE") == "1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(d, port, cores):
    p = subprocess.Popen(
        [BIN, "--port", str(port), "--dir", d, "--admin-port", "0", "--cores", str(cores),
         "--appendfsync", "always"],
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        if p.poll() is not None:
            raise SystemExit(f"shard-server exited with {p.returncode} at start")
        try:
            if redis.Redis(port=port, socket_timeout=5).ping():
                return p
        except (redis.ConnectionError, redis.TimeoutError):
            time.sleep(0.02)
    p.kill()
    raise SystemExit("shard-server did not start")


class Writer:
    """One client's keys and what it was told about them."""

    def __init__(self, wid):
        self.wid = wid
        self.string = {}      # key -> acknowledged value (None: acknowledged DEL)
        self.counter = 0      # acknowledged INCR reply
        self.list_len = 0     # acknowledged RPUSH reply
        self.list_tail = None  # the element that reply acknowledged
        self.fields = {}      # field -> acknowledged value
        self.inflight = None  # (kind, key, value) sent, no reply seen
        self.acked = 0

    def key(self, name):
        # Hash tags spread the writers' keys over slots and so over cores.
        return f"{{w{self.wid}{name}}}"

    def run(self, port, rnd, stop, connected):
        rng = random.Random(self.wid * 7919 + rnd)
        try:
            c = redis.Redis(port=port, socket_timeout=10)
            c.ping()
        except (redis.ConnectionError, redis.TimeoutError):
            return
        finally:
            connected.release()
        i = 0
        while not stop.is_set():
            i += 1
            value = f"r{rnd}-{i}"
            pick = rng.randrange(10)
            try:
                if pick < 4:
                    key = self.key(f"s{rng.randrange(8)}")
                    self.inflight = ("set", key, value)
                    c.set(key, value)
                    self.string[key] = value
                elif pick < 6:
                    self.inflight = ("incr", None, None)
                    self.counter = c.incr(self.key("c"))
                elif pick < 8:
                    self.inflight = ("rpush", None, value)
                    self.list_len = c.rpush(self.key("l"), value)
                    self.list_tail = value
                elif pick < 9:
                    field = f"f{rng.randrange(32)}"
                    self.inflight = ("hset", field, value)
                    c.hset(self.key("h"), field, value)
                    self.fields[field] = value
                else:
                    key = self.key(f"s{rng.randrange(8)}")
                    self.inflight = ("del", key, None)
                    c.delete(key)
                    self.string[key] = None
                self.inflight = None
                self.acked += 1
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                return

    def check(self, c):
        """Compares the store with what was acknowledged; returns the
        losses found and adopts the store's state as the new baseline."""
        lost = []
        fl = self.inflight or (None, None, None)
        for key, want in list(self.string.items()):
            got = c.get(key)
            got = got.decode() if got is not None else None
            ok = got == want or (fl[0] in ("set", "del") and fl[1] == key
                                 and got == fl[2])
            if not ok:
                lost.append(f"{key}: want {want!r}, found {got!r}")
            self.string[key] = got
        got = int(c.get(self.key("c")) or 0)
        if not (got == self.counter or (fl[0] == "incr" and got == self.counter + 1)):
            lost.append(f"counter: want {self.counter}, found {got}")
        self.counter = got
        length = c.llen(self.key("l"))
        if not (length == self.list_len or (fl[0] == "rpush" and length == self.list_len + 1)):
            lost.append(f"list: want length {self.list_len}, found {length}")
        elif self.list_len and c.lindex(self.key("l"), self.list_len - 1).decode() != self.list_tail:
            lost.append(f"list: element {self.list_len - 1} is not {self.list_tail!r}")
        if length:
            self.list_tail = c.lindex(self.key("l"), length - 1).decode()
        self.list_len = length
        stored = {k.decode(): v.decode() for k, v in c.hgetall(self.key("h")).items()}
        for field, want in self.fields.items():
            got = stored.get(field)
            if got != want and not (fl[0] == "hset" and fl[1] == field and got == fl[2]):
                lost.append(f"hash field {field}: want {want!r}, found {got!r}")
        self.fields = stored
        self.inflight = None
        return lost


def main():
    rng = random.Random(SEED)
    d = tempfile.mkdtemp(prefix="frys-crash-rounds-")
    writers = [Writer(w) for w in range(WRITERS)]
    total_lost = 0
    started = time.time()
    try:
        for rnd in range(ROUNDS):
            port = free_port()
            proc = start(d, port, 2 if rnd % 2 == 0 else 1)
            stop = threading.Event()
            before = sum(w.acked for w in writers)
            connected = threading.Semaphore(0)
            threads = [threading.Thread(target=w.run, args=(port, rnd, stop, connected))
                       for w in writers]
            for t in threads:
                t.start()
            for _ in threads:
                connected.acquire(timeout=30)
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop.set()
            for t in threads:
                t.join()
            acked = sum(w.acked for w in writers) - before
            port = free_port()
            proc = start(d, port, 1 if rnd % 2 == 0 else 2)
            c = redis.Redis(port=port, socket_timeout=30)
            if SABOTAGE:
                # Proves the check can fail: drop one acknowledged key.
                c.delete(writers[0].key("c"))
            lost = []
            for w in writers:
                lost += w.check(c)
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            total_lost += len(lost)
            print(f"round {rnd + 1}: {acked} writes acknowledged, {len(lost)} lost", flush=True)
            for line in lost[:10]:
                print(f"  LOST {line}")
            if lost:
                break
    finally:
        shutil.rmtree(d, ignore_errors=True)
    total = sum(w.acked for w in writers)
    print(f"{rnd + 1} rounds, {total} acknowledged writes, {total_lost} lost "
          f"({time.time() - started:.0f} s)")
    sys.exit(1 if total_lost else 0)


if __name__ == "__main__":
    main()
