#!/usr/bin/env bash
# Plugins against their alternatives, with redis-benchmark in one run:
#   CAS as a WASM plugin on shard-server  vs  the same logic as EVAL on redis-server
#   PGET (GET through a WASM plugin)      vs  the built-in GET, both on shard-server
# and a plugin's load time, cold (compiled) and cached (read from the disk
# cache). Prints a markdown table. Needs clang + lld, redis-server,
# redis-benchmark, redis-cli.
#   benches/plugin_compare.sh [requests] [clients]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
C=${2:-50}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p frys-shards --bin shard-server
BIN=$TARGET/release/shard-server
WORK=$(mktemp -d)
trap 'kill $FRYS_PID $REDIS_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for p in cas pget; do
  clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -o "$WORK/$p.wasm" "plugins/examples/wasm/$p.c"
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FP=$(free_port)
RP=$(free_port)
"$BIN" --port "$FP" --admin-port 0 --dir "$WORK/data" --plugin-allow-unsigned yes --loglevel warning 2>"$WORK/frys.log" &
FRYS_PID=$!
redis-server --port "$RP" --save '' --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for p in "$FP" "$RP"; do
  for _ in $(seq 100); do redis-cli -p "$p" PING >/dev/null 2>&1 && break; sleep 0.1; done
done

load_us() { # the load-us of plugin $1 in PLUGIN LIST
  redis-cli -p "$FP" PLUGIN LIST | awk -v n="$1" '$0==n{f=1} f&&prev=="load-us"{print; exit} {prev=$0}'
}
redis-cli -p "$FP" PLUGIN LOAD "$WORK/cas.wasm" >/dev/null
COLD=$(load_us cas)
redis-cli -p "$FP" PLUGIN UNLOAD cas >/dev/null
redis-cli -p "$FP" PLUGIN LOAD "$WORK/cas.wasm" >/dev/null
CACHED=$(load_us cas)
redis-cli -p "$FP" PLUGIN LOAD "$WORK/pget.wasm" >/dev/null

rps() { # requests per second of one redis-benchmark command
  local port=$1; shift
  redis-benchmark -p "$port" -n "$N" -c "$C" -r 100000 -q "$@" | tr '\r' '\n' | awk '/requests per second/{for(i=1;i<=NF;i++) if($(i+1)=="requests") print $i}' | tail -1
}
redis-benchmark -p "$FP" -n 100000 -c "$C" -r 100000 -q SET 'k:__rand_int__' v >/dev/null
LUA="local v=redis.call('GET',KEYS[1]) if (v==false and ARGV[1]=='') or v==ARGV[1] then redis.call('SET',KEYS[1],ARGV[2]) return 1 end return 0"
PLUGIN_CAS=$(rps "$FP" CAS 'c:__rand_int__' '' v)
EVAL_CAS=$(rps "$RP" EVAL "$LUA" 1 'c:__rand_int__' '' v)
PLUGIN_GET=$(rps "$FP" PGET 'k:__rand_int__')
BUILTIN_GET=$(rps "$FP" GET 'k:__rand_int__')

echo "| what | requests/s |"
echo "| --- | --- |"
echo "| CAS, WASM plugin (shard-server) | $PLUGIN_CAS |"
echo "| CAS, EVAL script (redis-server) | $EVAL_CAS |"
echo "| PGET, WASM plugin (shard-server) | $PLUGIN_GET |"
echo "| GET, built-in (shard-server) | $BUILTIN_GET |"
echo
echo "| plugin load (cas.wasm) | microseconds |"
echo "| --- | --- |"
echo "| cold (compiled) | $COLD |"
echo "| cached (disk cache) | $CACHED |"
echo
echo "($N requests, $C clients, redis-benchmark -r 100000; shard-server on all cores, $(nproc) CPUs)"
