#!/usr/bin/env bash
# Builds the benches in release and runs frys-bench with the given
# arguments, for example:
#
#   scripts/bench.sh topology
#   scripts/bench.sh run all --rounds 3 --out bench-results
#   scripts/bench.sh run echo --placement one-per-physical-core --cores 1,2,4,8 \
#       --server-cpus 0-7 --client-cpus 8-15
#   scripts/bench.sh compare bench-results/A/run.json bench-results/B/run.json
#
# Installs what the runs need when missing: the font the PNG plots are
# drawn with (fonts-dejavu-core), redis-server and redis-benchmark.
# FRYS_BENCH_FEATURES passes cargo features (`rocksdb`, `hwloc`).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
features=()
[ -n "${FRYS_BENCH_FEATURES:-}" ] && features=(--features "$FRYS_BENCH_FEATURES")
cargo build --release --locked -q -p frys-benches --bins "${features[@]}"
cargo build --release --locked -q -p frys-shards --bin shard-server
exec "${CARGO_TARGET_DIR:-target}/release/frys-bench" "$@"
