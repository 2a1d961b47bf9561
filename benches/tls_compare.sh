#!/usr/bin/env bash
# TLS: shard-server's tls-port vs redis-server's tls-port, side by side in
# one run, with `redis-benchmark --tls`.
#
#   benches/tls_compare.sh [-n REQUESTS] [-c CLIENTS] [-t TESTS] [-P "1 16"] [--cores N]
#
# Installs redis-server and redis-tools (Debian) if missing, builds
# shard-server in release, makes a throw-away CA and server certificate
# with openssl (EC P-256), and for each pipeline depth starts, on fresh
# data directories, redis-server (appendonly yes, appendfsync everysec,
# no RDB saves) and shard-server (appendfsync everysec, --cores N), both
# with TLS 1.3 and `tls-auth-clients no`. redis-benchmark opens its
# connections once (-k 1 is its default), so the figures are the TLS
# record path, not handshakes. Each test runs alone so the server's CPU
# time (utime+stime from /proc/<pid>/stat) is attributed to it.
# Each test also runs on the plain port of the same server (rows
# `plain`), so the table shows what TLS itself costs each server.
# Prints one table: requests/s, p50 latency (ms), server CPU-us per
# request, and the ratio shard-server / redis on the same transport.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=200000
CLIENTS=50
TESTS="set,get"
PIPELINES="1 16"
CORES=2
while [ $# -gt 0 ]; do
  case "$1" in
    -n) REQUESTS=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -t) TESTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    --cores) CORES=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null
fi
cargo build --release -q -p frys-shards --bin shard-server
BIN="${CARGO_TARGET_DIR:-target}/release/shard-server"
WORK=$(mktemp -d /tmp/tls-compare.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
CLK=$(getconf CLK_TCK)
PORT=16479
TLS_PORT=16480

# A CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$WORK/ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 2 -extfile "$WORK/ext" -out "$WORK/server.crt" 2>/dev/null
TLS_FILES=(--tls-port "$TLS_PORT" --tls-cert-file "$WORK/server.crt" --tls-key-file "$WORK/server.key"
  --tls-ca-cert-file "$WORK/ca.crt" --tls-auth-clients no --tls-protocols TLSv1.3)
CLI_TLS=(--tls --cacert "$WORK/ca.crt")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_ready() {
  for _ in $(seq 1 200); do
    redis-cli "${CLI_TLS[@]}" -p "$TLS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on TLS port $TLS_PORT did not start:" >&2
  cat "$WORK"/*/log >&2 2>/dev/null || true
  return 1
}

start_server() { # name -> sets PID
  local name=$1 dir="$WORK/$1-$RANDOM"
  mkdir -p "$dir"
  case "$name" in
    redis)
      redis-server --port "$PORT" "${TLS_FILES[@]}" --dir "$dir" --appendonly yes \
        --appendfsync everysec --save "" --daemonize no --protected-mode no --logfile "$dir/log" &
      ;;
    frys)
      "$BIN" --port "$PORT" "${TLS_FILES[@]}" --dir "$dir" --appendfsync everysec \
        --admin-port 0 --cores "$CORES" 2>"$dir/log" &
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
  for server in redis frys; do
    start_server "$server"
    for t in ${TESTS//,/ }; do
      for transport in tls plain; do
        if [ "$transport" = tls ]; then target=("${CLI_TLS[@]}" -p "$TLS_PORT"); else target=(-p "$PORT"); fi
        before=$(cpu_ticks "$PID")
        line=$(redis-benchmark "${target[@]}" -t "$t" -r 1000000 -d 64 -c "$CLIENTS" \
          -n "$REQUESTS" -P "$P" --csv -q | grep -v '^"test"' | tail -1)
        after=$(cpu_ticks "$PID")
        # "TEST","rps","avg","min","p50","p95","p99","max"
        echo "$line" | tr -d '"' | awk -F, -v s="$server" -v p="$P" -v t="$t" -v n="$REQUESTS" \
          -v x="$transport" -v cpu=$((after - before)) -v clk="$CLK" \
          '{ printf "%s %s %s %s %.0f %.3f %.2f\n", p, t, x, s, $2, $5, cpu / clk * 1e6 / n }' >> "$ROWS"
      done
    done
    stop_server
  done
done

printf '| -P | test | port | server | requests/s | p50 ms | server CPU-us/req | rps vs redis | CPU vs redis |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
sort -k1,1n -k2,2 -k3,3r -k4,4r "$ROWS" | awk '
  { key=$1" "$2" "$3; if ($4 == "redis") { rps[key]=$5; cpu[key]=$7 } line[NR]=$0 }
  END {
    for (i = 1; i <= NR; i++) {
      split(line[i], f, " "); key=f[1]" "f[2]" "f[3]
      r = (f[4] == "redis") ? "1.00" : sprintf("%.2f", f[5] / rps[key])
      c = (f[4] == "redis") ? "1.00" : sprintf("%.2f", f[7] / cpu[key])
      printf "| %s | %s | %s | %s | %d | %.3f | %.2f | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], r, c
    }
  }'
