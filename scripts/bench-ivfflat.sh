#!/usr/bin/env bash
# IVFFlat benchmark against faiss IndexIVFFlat on GloVe-50 (or Fashion-MNIST;
# see benches/ivfflat_bench.py), on the benchmark cluster (common.sh:
# start_bench_cluster). Pass `--datasets fashion`, `--queries 200`,
# `--probes 16,32` or `--reuse` (query the index an earlier run left).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
trap 'stop_cluster "$BENCH_DATA"' EXIT
start_bench_cluster
python3 benches/ivfflat_bench.py --conninfo "$BENCH_CONNINFO" "$@"
