#!/usr/bin/env bash
# shard-server vs redis-server, side by side in one run, with redis-benchmark.
#
#   benches/redis_compare.sh [-n REQUESTS] [-c CLIENTS] [-t TESTS] [-P "1 16"] [--cores "1 2"]
#                            [--drivers "io_uring epoll"] [--server-cpus 0-3 --client-cpus 4-7]
#                            [--json PATH] [--round N]
#
# Installs redis-server and redis-tools (Debian) if missing, builds
# shard-server in release, and for each pipeline depth starts, on fresh
# data directories: redis-server (appendonly yes, appendfsync everysec, no
# RDB saves) and shard-server (appendfsync everysec) with each --cores
# value, on each I/O driver (rows `frys-N` run io_uring, `frys-epoll-N` the
# epoll fallback). Each test (-t) runs alone so the server's CPU time (utime+stime
# from /proc/<pid>/stat) is attributed to it. `exec` is not a
# redis-benchmark test: benches/exec_load.py sends pipelines of
# `MULTI; INCR a<i>; INCR b<j>; EXEC` (two keys, usually on two cores) from
# as many processes as -c allows (at most 8), and counts transactions.
# lrange_* first fills the list with LPUSH (redis-benchmark does it): the
# requests/s are LRANGE's, the CPU per request includes that fill.
# Prints one table: requests/s,
# p50 and p99 latency (ms), server CPU-us per request, and the ratio
# shard-server / redis for requests/s and CPU. --server-cpus and
# --client-cpus (taskset lists) keep the servers and redis-benchmark on
# disjoint CPUs; --json writes every row as frys-bench's BenchOutput, with
# --round as the round number. $CARGO_TARGET_DIR is honoured, and
# $SHARD_SERVER names a prebuilt shard-server to compare instead.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=500000
CLIENTS=50
TESTS="set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_600,exec"
PIPELINES="1 16"
CORES="1 2"
DRIVERS="io_uring epoll"
SERVER_CPUS=""
CLIENT_CPUS=""
JSON=""
ROUND=1
while [ $# -gt 0 ]; do
  case "$1" in
    -n) REQUESTS=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -t) TESTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    --cores) CORES=$2; shift 2 ;;
    --drivers) DRIVERS=$2; shift 2 ;;
    --server-cpus) SERVER_CPUS=$2; shift 2 ;;
    --client-cpus) CLIENT_CPUS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --round) ROUND=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null
fi
# SHARD_SERVER: a shard-server binary to use instead of building one.
if [ -n "${SHARD_SERVER:-}" ]; then
  BIN=$SHARD_SERVER
else
  cargo build --release -q -p frys-shards --bin shard-server
  BIN=${CARGO_TARGET_DIR:-target}/release/shard-server
fi
# Command prefixes that pin servers and clients when CPUs were given. An
# array and not a function: `taskset` execs the server, so `$!` is the
# server's own pid (its CPU time is read, and it is what gets stopped).
SERVER_PIN=()
CLIENT_PIN=()
[ -n "$SERVER_CPUS" ] && SERVER_PIN=(taskset -c "$SERVER_CPUS")
[ -n "$CLIENT_CPUS" ] && CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
WORK=$(mktemp -d /tmp/redis-compare.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
CLK=$(getconf CLK_TCK)
PORT=16379

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_ready() {
  for _ in $(seq 1 200); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on $PORT did not start" >&2; return 1
}

start_server() { # name -> sets PID
  local name=$1 dir="$WORK/$1-$RANDOM"
  mkdir -p "$dir"
  case "$name" in
    redis)
      "${SERVER_PIN[@]}" redis-server --port "$PORT" --dir "$dir" --appendonly yes --appendfsync everysec \
        --save "" --daemonize no --protected-mode no --logfile "$dir/log" &
      ;;
    frys-*)
      local cores=${name#frys-} driver=io_uring
      case "$cores" in epoll-*) driver=epoll; cores=${cores#epoll-} ;; esac
      "${SERVER_PIN[@]}" "$BIN" --port "$PORT" --dir "$dir" --appendfsync everysec --admin-port 0 \
        --cores "$cores" --driver "$driver" 2>"$dir/log" &
      ;;
  esac
  PID=$!
  wait_ready
}

stop_server() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

ROWS="$WORK/rows"
: > "$ROWS"
for P in $PIPELINES; do
  frys_servers=$(for c in $CORES; do for d in $DRIVERS; do
    if [ "$d" = io_uring ]; then echo "frys-$c"; else echo "frys-$d-$c"; fi
  done; done)
  for server in redis $frys_servers; do
    start_server "$server"
    for t in ${TESTS//,/ }; do
      before=$(cpu_ticks "$PID")
      if [ "$t" = exec ]; then
        n_exec=$((REQUESTS / 5))
        procs=$((CLIENTS < 8 ? CLIENTS : 8))
        read -r rps p50 p99 < <("${CLIENT_PIN[@]}" python3 benches/exec_load.py "$PORT" "$n_exec" "$procs" "$P")
        line="\"exec\",\"$rps\",0,0,\"$p50\",0,\"$p99\",0"
        n_req=$n_exec
      else
        line=$("${CLIENT_PIN[@]}" redis-benchmark -p "$PORT" -t "$t" -r 1000000 -d 64 -c "$CLIENTS" -n "$REQUESTS" -P "$P" --csv -q \
          | grep -v '^"test"' | tail -1)
        n_req=$REQUESTS
      fi
      after=$(cpu_ticks "$PID")
      # "TEST","rps","avg","min","p50","p95","p99","max"
      echo "$line" | tr -d '"' | awk -F, -v s="$server" -v p="$P" -v t="$t" -v n="$n_req" \
        -v cpu=$((after - before)) -v clk="$CLK" \
        '{ printf "%s %s %s %.0f %.3f %.3f %.2f\n", p, t, s, $2, $5, $7, cpu / clk * 1e6 / n }' >> "$ROWS"
    done
    stop_server
  done
done

if [ -n "$JSON" ]; then
  # Rows: P test server rps p50_ms p99_ms cpu_us. `frys-N`, `frys-epoll-N`.
  awk -v round="$ROUND" '
    BEGIN { printf "{\n  \"rounds\": [" }
    {
      name = $3; cores = 1
      if (name ~ /^frys-/) { n = split(name, part, "-"); cores = part[n]; name = substr(name, 1, length(name) - length(cores) - 1) }
      printf "%s\n    {\"bench\": \"redis\", \"case\": \"%s P%s\", \"system\": \"%s\", \"cores\": %d, \"round\": %d, \"ops_per_sec\": %s, \"p50_us\": %.1f, \"p99_us\": %.1f, \"cpu_us_per_req\": %s}", (NR > 1 ? "," : ""), $2, $1, name, cores, round, $4, $5 * 1000, $6 * 1000, $7
    }
    END { printf "\n  ]\n}\n" }' "$ROWS" > "$JSON"
fi

printf '| -P | test | server | requests/s | p50 ms | p99 ms | server CPU-us/req | rps vs redis | CPU vs redis |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
awk '
  { key=$1" "$2; if ($3 == "redis") { rps[key]=$4; cpu[key]=$7 } line[NR]=$0 }
  END {
    for (i = 1; i <= NR; i++) {
      split(line[i], f, " "); key=f[1]" "f[2]
      r = (f[3] == "redis") ? "1.00" : sprintf("%.2f", f[4] / rps[key])
      c = (f[3] == "redis") ? "1.00" : sprintf("%.2f", f[7] / cpu[key])
      printf "| %s | %s | %s | %d | %.3f | %.3f | %.2f | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], r, c
    }
  }' "$ROWS"
