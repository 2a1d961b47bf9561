#!/usr/bin/env bash
# Runs the test suite: the frys facade, frys-runtime, the macros,
# frys-storage and frys-shards (whose integration tests start the real
# shard-server binary). These are the default members; the heavy peers in
# frys-benches are not built.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked "$@"
