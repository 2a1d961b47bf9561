#!/usr/bin/env bash
# A 3-node frys cluster vs a 3-node Redis Cluster, side by side in one run,
# with `redis-benchmark --cluster`.
#
#   benches/cluster_compare.sh [-n REQUESTS] [-c CLIENTS] [-t TESTS] [-P "1 16"]
#
# Installs redis-server and redis-tools (Debian) if missing, builds
# shard-server in release, then starts on fresh data directories:
#   - three redis-server processes (cluster-enabled yes, appendonly yes,
#     appendfsync everysec, no RDB saves) made one cluster with
#     `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`;
#   - three shard-server processes (cluster-enabled yes, --cores 1,
#     appendfsync everysec) made one cluster with `shard-server cluster
#     create`.
# Each test (-t) at each pipeline depth (-P) runs alone against each
# cluster; the servers' CPU time (utime+stime of all three, from
# /proc/<pid>/stat) is attributed to it. Prints one table: requests/s, p50
# and p99 latency (ms), server CPU-us per request, and the ratios frys /
# redis. Every process (the six servers and the load generator) shares
# this machine's CPUs: the table compares the two servers' cost per
# request under the same contention, not how a cluster scales.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=200000
CLIENTS=50
TESTS="set,get,incr,lpush,sadd,hset,mset"
PIPELINES="1 16"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) REQUESTS=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -t) TESTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null
fi
# SHARD_SERVER=<binary> skips the build (to check the script with a debug build).
if [ -z "${SHARD_SERVER:-}" ]; then
  cargo build --release -q -p frys-shards --bin shard-server
fi
BIN=${SHARD_SERVER:-${CARGO_TARGET_DIR:-target}/release/shard-server}
WORK=$(mktemp -d /tmp/cluster-compare.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
CLK=$(getconf CLK_TCK)
REDIS_PORTS="17301 17302 17303"
FRYS_PORTS="17311 17312 17313"

cpu_ticks() { # pids... -> summed utime+stime ticks
  local t=0
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}

wait_ready() { # port
  for _ in $(seq 1 400); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on $1 did not start" >&2; return 1
}

wait_cluster_ok() { # ports...
  for p in "$@"; do
    for _ in $(seq 1 400); do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q "cluster_state:ok" && break
      sleep 0.05
    done
    redis-cli -p "$p" cluster info | grep -q "cluster_state:ok" \
      || { echo "cluster node $p is not ok" >&2; return 1; }
  done
}

REDIS_PIDS=()
for p in $REDIS_PORTS; do
  d="$WORK/redis-$p"; mkdir -p "$d"
  redis-server --port "$p" --dir "$d" --cluster-enabled yes --cluster-config-file "$d/nodes.conf" \
    --appendonly yes --appendfsync everysec --save "" --daemonize no --protected-mode no \
    --logfile "$d/log" &
  REDIS_PIDS+=($!)
done
FRYS_PIDS=()
for p in $FRYS_PORTS; do
  d="$WORK/frys-$p"; mkdir -p "$d"
  "$BIN" --port "$p" --dir "$d" --cluster-enabled yes --cores 1 --appendfsync everysec \
    --admin-port 0 2>"$d/log" &
  FRYS_PIDS+=($!)
done
for p in $REDIS_PORTS $FRYS_PORTS; do wait_ready "$p"; done
# shellcheck disable=SC2046
redis-cli --cluster create $(for p in $REDIS_PORTS; do echo "127.0.0.1:$p"; done) \
  --cluster-replicas 0 --cluster-yes >/dev/null
# shellcheck disable=SC2046
"$BIN" cluster create $(for p in $FRYS_PORTS; do echo "127.0.0.1:$p"; done) >/dev/null
# shellcheck disable=SC2086
wait_cluster_ok $REDIS_PORTS $FRYS_PORTS

run_one() { # first-port test pipeline pids... -> "rps p50 p99 cpu_us_per_req"
  local port=$1 test=$2 pipe=$3; shift 3
  local before after line
  before=$(cpu_ticks "$@")
  line=$(redis-benchmark --cluster -h 127.0.0.1 -p "$port" -n "$REQUESTS" -c "$CLIENTS" \
    -P "$pipe" -t "$test" --csv 2>/dev/null | grep -v '^"test"' | tail -1)
  after=$(cpu_ticks "$@")
  echo "$line" | awk -F'"' -v t=$((after - before)) -v clk="$CLK" -v n="$REQUESTS" \
    '{printf "%s %s %s %.2f\n", $4, $10, $14, t * 1e6 / clk / n}'
}

printf "%-6s %3s | %10s %6s %6s %7s | %10s %6s %6s %7s | %6s %6s\n" \
  test P redis-rps p50 p99 cpu/req frys-rps p50 p99 cpu/req rps-x cpu-x
for pipe in $PIPELINES; do
  for test in ${TESTS//,/ }; do
    read -r rr rp50 rp99 rcpu < <(run_one 17301 "$test" "$pipe" "${REDIS_PIDS[@]}")
    read -r fr fp50 fp99 fcpu < <(run_one 17311 "$test" "$pipe" "${FRYS_PIDS[@]}")
    awk -v t="$test" -v p="$pipe" -v rr="$rr" -v rp50="$rp50" -v rp99="$rp99" -v rc="$rcpu" \
      -v fr="$fr" -v fp50="$fp50" -v fp99="$fp99" -v fc="$fcpu" 'BEGIN {
        printf "%-6s %3s | %10.0f %6.3f %6.3f %7.2f | %10.0f %6.3f %6.3f %7.2f | %5.2fx %5.2fx\n",
          t, p, rr, rp50, rp99, rc, fr, fp50, fp99, fc, (rr > 0 ? fr / rr : 0), (rc > 0 ? fc / rc : 0) }'
  done
done
echo "(all six servers and redis-benchmark share $(nproc) CPUs; cpu/req = server CPU-us per request, summed over the three nodes)"
