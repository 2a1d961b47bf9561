#!/usr/bin/env bash
# Runs the test suite: the frys facade, frys-runtime, the macros,
# frys-storage, frys-plugins and frys-shards (whose integration tests start the real
# shard-server binary). These are the default members; the heavy peers in
# frys-benches are not built. Then redis-py drives the shard-server too
# (installed from PyPI if missing), and the same commands run against
# redis-server and shard-server must get byte-identical replies
# (redis-server installed from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# server_tls runs `redis-cli --tls` (Debian's redis-tools has TLS); the
# plugin tests build their examples from source: C to wasm32 (clang,
# wasm-ld) and WAT (wat2wasm).
need=()
command -v redis-cli >/dev/null || need+=(redis-tools)
{ command -v clang >/dev/null && command -v wasm-ld >/dev/null; } || need+=(clang lld)
command -v wat2wasm >/dev/null || need+=(wabt)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo test --locked "$@"

echo "== redis-py against shard-server"
if ! python3 -c "import redis" 2>/dev/null; then
  python3 -m pip install --quiet --root-user-action=ignore redis
fi
cargo build --locked --quiet -p frys-shards --bin shard-server
python3 shards/tests/clients/redis_py_check.py target/debug/shard-server
python3 shards/tests/clients/redis_py_cluster_check.py target/debug/shard-server

echo "== shard-server vs redis-server, reply for reply"
if ! command -v redis-server >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
python3 shards/tests/clients/redis_diff.py target/debug/shard-server
# Cluster mode: both servers one node owning every slot.
python3 shards/tests/clients/redis_diff.py target/debug/shard-server \
  shards/tests/clients/redis_cluster_diff_cases.txt --cluster
