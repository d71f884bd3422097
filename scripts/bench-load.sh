#!/usr/bin/env bash
# Loading benchmark (benches/load_bench.py): text COPY, binary COPY and the
# bytea path at 1,536 dimensions beside the machine's memory bandwidth, on
# the benchmark cluster (common.sh: start_bench_cluster).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
trap 'stop_cluster "$BENCH_DATA"' EXIT
start_bench_cluster
python3 benches/load_bench.py --conninfo "host=127.0.0.1 port=$BENCH_PORT user=postgres" "$@"
