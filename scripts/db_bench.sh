#!/usr/bin/env bash
# db_bench: frys-storage vs fjall vs RocksDB, in one run.
# RocksDB comes from Debian's librocksdb-dev (prebuilt, so no C++ build of
# RocksDB itself); bindgen needs libclang. Arguments go to db_bench, e.g.
#   ./scripts/db_bench.sh --num 1000000 --dir /tmp/dbb
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s librocksdb-dev libclang-dev >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y librocksdb-dev libclang-dev
fi
export ROCKSDB_LIB_DIR="/usr/lib/$(gcc -print-multiarch)"
exec cargo run --release -p frys-benches --features rocksdb --bin db_bench -- \
    --benchmarks fillseq,fillrandom,overwrite,readrandom,readseq --value-size 100 "$@"
