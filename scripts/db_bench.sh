#!/usr/bin/env bash
# db_bench: frys-storage vs fjall 3 vs RocksDB, in one run.
# RocksDB is built from the `rocksdb` crate's bundled sources (RocksDB
# 11.8.1 with rocksdb 0.25): a long C++ build (about 345 files), done once
# and without debug info; bindgen needs libclang. Arguments go to db_bench:
#   ./scripts/db_bench.sh --num 10000000 --cache-mb 64 --dir /tmp/dbb
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y libclang-dev
fi
exec cargo run --release -p frys-benches --features rocksdb \
    --config 'profile.release.package.librocksdb-sys.debug=false' --bin db_bench -- \
    --benchmarks fillrandom,overwrite,readrandom,readzipf,seekrandom,readwhilewriting,fillsync16 \
    --value-size 100 "$@"
