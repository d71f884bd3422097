#!/usr/bin/env bash
# TOAST strategy benchmark (benches/toast_bench.py): bytes and query time of
# dense, mostly-zero and quantized vectors stored by ruvector_pg (with and
# without a typmod) and by pgvector, on the benchmark cluster.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
trap 'stop_cluster "$BENCH_DATA"' EXIT
start_bench_cluster
python3 benches/toast_bench.py --conninfo "host=127.0.0.1 port=$BENCH_PORT user=postgres" "$@"
