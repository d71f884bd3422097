#!/usr/bin/env bash
# HNSW VACUUM benchmark (benches/hnsw_vacuum_bench.py): recall after deleting
# half the rows and vacuuming, against a fresh build of the rows that remain,
# on the benchmark cluster (common.sh: start_bench_cluster).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
trap 'stop_cluster "$BENCH_DATA"' EXIT
start_bench_cluster
python3 benches/hnsw_vacuum_bench.py --conninfo "$BENCH_CONNINFO" "$@"
