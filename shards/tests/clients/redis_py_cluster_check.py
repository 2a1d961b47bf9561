#!/usr/bin/env python3
"""redis-py's RedisCluster against three shard-server nodes made one
cluster by `shard-server cluster create`: keys spread over every node,
MOVED followed, hash-tag multi-key commands and transactions, CROSSSLOT
as the server answers it, a live move of a slot range (`shard-server
cluster move-slots`) while a RedisCluster client writes and reads, a
restarted node serving from its persisted map.

    python3 shards/tests/clients/redis_py_cluster_check.py target/debug/shard-server

Exits non-zero on the first failed check; prints 'N passed, 0 failed'."""
import os, shutil, socket, subprocess, sys, tempfile, threading, time

import redis
from redis.cluster import RedisCluster, ClusterNode

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/shard-server"
passed = 0


def check(name, cond):
    global passed
    if not cond:
        print(f"FAILED: {name}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(d, port):
    p = subprocess.Popen([BIN, "--port", str(port), "--dir", d, "--admin-port", "0", "--cores", "1",
                          "--cluster-enabled", "yes"], stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return p
        except redis.ConnectionError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("shard-server did not start")


root = tempfile.mkdtemp(prefix="frys-redis-py-cluster-")
ports = [free_port() for _ in range(3)]
dirs = [os.path.join(root, f"n{i}") for i in range(3)]
procs = [start(d, p) for d, p in zip(dirs, ports)]
try:
    out = subprocess.run([BIN, "cluster", "create"] + [f"127.0.0.1:{p}" for p in ports],
                         capture_output=True, text=True)
    check("cluster create succeeds", out.returncode == 0 and "16384 of 16384" in out.stdout)

    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", ports[0])], decode_responses=True)
    for i in range(200):
        rc.set(f"key:{i}", i)
    check("every key reads back", all(rc.get(f"key:{i}") == str(i) for i in range(200)))
    sizes = [redis.Redis(port=p).dbsize() for p in ports]
    check("keys spread over every node", all(s > 0 for s in sizes) and sum(sizes) == 200)
    check("three masters known", len(rc.get_primaries()) == 3)

    rc.mset({"{u1}.name": "ann", "{u1}.age": "7"})
    check("hash-tag MGET", rc.mget("{u1}.name", "{u1}.age") == ["ann", "7"])
    with rc.pipeline(transaction=True) as p:
        p.set("{u1}.n", 1)
        p.incr("{u1}.n")
        check("hash-tag transaction", p.execute() == ["OK", 2])

    # The server's own refusal, sent to the node owning the first key.
    slot = rc.keyslot("b")
    owner = rc.get_node_from_key("b")
    direct = redis.Redis(host=owner.host, port=owner.port, decode_responses=True)
    try:
        direct.execute_command("MSET", "b", "1", "hello", "2")
        check("CROSSSLOT refused", False)
    except redis.ResponseError as e:
        check("CROSSSLOT text", str(e).endswith("Keys in request don't hash to the same slot"))
    other = next(p for p in ports if p != owner.port)
    try:
        redis.Redis(port=other).get("b")
        check("MOVED answered", False)
    except redis.ResponseError as e:
        check("MOVED names slot and owner", str(e).endswith(f"{slot} 127.0.0.1:{owner.port}"))

    # Move slots 0-1023 (not "b"'s 3300) from the first node to the second
    # while a client writes fresh keys of the range and reads them back.
    moved = [k for k in (f"m:{i}" for i in range(20000)) if rc.keyslot(k) < 1024]
    before = moved[:100]
    for k in before:
        rc.set(k, k, ex=3600)
    acked, errors, stop = [], [], threading.Event()

    def writer():
        w = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", ports[2])], decode_responses=True)
        for k in moved[100:]:
            if stop.is_set() and len(acked) >= 20:
                break
            try:
                w.set(k, "w" + k)
                acked.append(k)
                if w.get(k) != "w" + k:
                    errors.append(f"GET {k}")
            except Exception as e:  # noqa: BLE001 - every error is a failure here
                errors.append(f"{k}: {e!r}")

    t = threading.Thread(target=writer)
    t.start()
    while len(acked) < 10 and t.is_alive():
        time.sleep(0.01)
    out = subprocess.run([BIN, "cluster", "move-slots", f"127.0.0.1:{ports[0]}", "0-1023",
                          f"127.0.0.1:{ports[1]}"], capture_output=True, text=True)
    stop.set()
    t.join()
    check("move-slots with data succeeds", out.returncode == 0 and out.stdout.startswith("moved 1024 slots"))
    check("the writer saw no error during the move", errors == [])
    new, old = redis.Redis(port=ports[1], decode_responses=True), redis.Redis(port=ports[0])
    check("every acknowledged write is on the new owner",
          all(new.get(k) == "w" + k for k in acked) and all(new.get(k) == k for k in before))
    check("moved keys keep their TTL", all(0 < new.ttl(k) <= 3600 for k in before))
    check("the old owner has no key of the moved slots",
          sum(old.execute_command("CLUSTER", "COUNTKEYSINSLOT", s) for s in range(1024)) == 0)

    # Restart a node: it serves from its persisted map at once.
    i = ports.index(owner.port)
    procs[i].terminate()
    procs[i].wait()
    procs[i] = start(dirs[i], ports[i])
    rc2 = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", ports[i])], decode_responses=True)
    check("restarted node keeps its keys", rc2.get("b") is None and rc2.get("key:1") == "1")
    check("restarted node: cluster ok", redis.Redis(port=ports[i]).cluster("info")["cluster_state"] == "ok")
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()
    shutil.rmtree(root, ignore_errors=True)
print(f"{passed} passed, 0 failed")
