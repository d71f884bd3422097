#!/usr/bin/env bash
# HNSW benchmark against hnswlib on GloVe-50 and Fashion-MNIST (see
# benches/hnsw_bench.py), on the benchmark cluster (common.sh:
# start_bench_cluster). Pass `--datasets fashion` or `--queries 200` to
# shorten it. `--vacuum` runs benches/hnsw_vacuum_bench.py instead (recall
# after delete + VACUUM against a fresh build, size after reinserting).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
trap 'stop_cluster "$BENCH_DATA"' EXIT
start_bench_cluster
if [ "${1:-}" = --vacuum ]; then
    shift
    python3 benches/hnsw_vacuum_bench.py --conninfo "$BENCH_CONNINFO" "$@"
else
    python3 benches/hnsw_bench.py --conninfo "$BENCH_CONNINFO" "$@"
fi
