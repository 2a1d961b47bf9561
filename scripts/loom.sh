#!/usr/bin/env bash
# Model-checks the lock-free code (SPSC ring, channel wake protocol,
# AtomicWaker, core park flag) with loom. Separate target dir so the
# `--cfg loom` build does not invalidate the normal one.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom"
# The models bound preemptions to 4 unless LOOM_MAX_PREEMPTIONS says otherwise.
cargo test --locked --release --target-dir target/loom -p frys-runtime --lib loom "$@"
