#!/usr/bin/env bash
# The `hwloc` feature of frys-runtime: the topology read through hwloc and
# placements on hwloc's synthetic topologies. Off by default (it links the
# hwloc C library), so the workspace's build and clippy do not compile it;
# this builds and tests it on its own (about two minutes from scratch).
set -euo pipefail
cd "$(dirname "$0")/.."
# hwloc's pkg-config file names libudev among its private libraries.
if ! pkg-config --exists 'hwloc >= 2.8' 2>/dev/null || ! pkg-config --exists libudev 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq pkg-config libhwloc-dev libudev-dev >/dev/null
fi
cargo clippy --locked -p frys-runtime --features hwloc --lib --tests -- -D warnings
cargo test --locked -p frys-runtime --features hwloc --lib topology::
