#!/usr/bin/env python3
"""redis-py against the real shard-server: RESP2 and RESP3, pipelines over
both cores, errors as redis-py raises them, expiry, SCAN, a restart.

    python3 shards/tests/clients/redis_py_check.py target/debug/shard-server

Exits non-zero on the first failed check; prints 'N passed, 0 failed'."""
import os, shutil, signal, socket, subprocess, sys, tempfile, time

import redis

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
    p = subprocess.Popen([BIN, "--port", str(port), "--dir", d, "--admin-port", "0", "--cores", "2"],
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return p
        except redis.ConnectionError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("shard-server did not start")


d = tempfile.mkdtemp(prefix="frys-redis-py-")
port = free_port()
proc = start(d, port)
try:
    for protocol in (2, 3):
        r = redis.Redis(port=port, protocol=protocol, decode_responses=True)
        r.flushall()
        check(f"set/get resp{protocol}", r.set("a", "1") and r.get("a") == "1")
        check(f"incr resp{protocol}", r.incr("a", 5) == 6)
        check(f"mset/mget resp{protocol}", r.mset({f"k{i}": i for i in range(50)}) and
              r.mget([f"k{i}" for i in range(50)]) == [str(i) for i in range(50)])
        pipe = r.pipeline(transaction=False)
        for i in range(1000):
            pipe.set(f"p{i}", i)
            pipe.get(f"p{i}")
        out = pipe.execute()
        check(f"pipeline of 2000 in order resp{protocol}", out[1::2] == [str(i) for i in range(1000)])
        check(f"delete across cores resp{protocol}", r.delete(*[f"p{i}" for i in range(1000)]) == 1000)
        try:
            r.execute_command("GET")
            check("arity error raised", False)
        except redis.ResponseError as e:
            check(f"arity error text resp{protocol}", str(e) == "wrong number of arguments for 'get' command")
        r.set("s", "x")
        try:
            r.incr("s")
            check("not an integer raised", False)
        except redis.ResponseError as e:
            check(f"not-an-integer text resp{protocol}", str(e) == "value is not an integer or out of range")
        r.set("t", "v", px=100)
        check(f"pttl resp{protocol}", 0 < r.pttl("t") <= 100)
        deadline = time.time() + 10
        while r.exists("t") and time.time() < deadline:
            time.sleep(0.05)
        check(f"expired resp{protocol}", not r.exists("t"))
        keys = set(r.scan_iter(match="k*", count=7))
        check(f"scan_iter resp{protocol}", keys == {f"k{i}" for i in range(50)})
        info = r.info()
        check(f"info resp{protocol}", info.get("role") == "master" and info.get("loading") == 0)
        check(f"config get resp{protocol}", r.config_get("appendfsync") == {"appendfsync": "everysec"})
        r.client_setname("py")
        check(f"client name resp{protocol}", r.client_getname() == "py")
        r3 = redis.Redis(port=port, protocol=protocol, db=3, decode_responses=True)
        r3.set("in3", "yes")
        check(f"db from url resp{protocol}", r.get("in3") is None and r3.get("in3") == "yes")
    r = redis.Redis(port=port, decode_responses=True)
    r.set("durable", "yes")
    proc.send_signal(signal.SIGTERM)
    check("exit 0 on SIGTERM", proc.wait(timeout=30) == 0)
    proc = start(d, port)
    check("value after restart", redis.Redis(port=port, decode_responses=True).get("durable") == "yes")
finally:
    proc.kill()
    proc.wait()
    shutil.rmtree(d, ignore_errors=True)
print(f"{passed} passed, 0 failed")
