#!/usr/bin/env bash
# Runs the test suite: the frys facade, frys-runtime and the macros
# (default members; the heavy peers in frys-benches are not built).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked "$@"
