#!/usr/bin/env bash
# sparsevec hnsw side by side with pgvector (benches/sparse_bench.py), on
# the benchmark cluster: TF-IDF rows of WordNet's glosses, then
# SPLADE-shaped synthetic rows.
#
#   bash scripts/bench-sparse.sh [--dataset wordnet_tfidf|splade_like]
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
dpkg -s wordnet-base >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y wordnet-base
python3 -c "import sklearn, scipy" 2>/dev/null || pip install scikit-learn scipy
trap 'stop_cluster "$BENCH_DATA"' EXIT
start_bench_cluster
cd benches
if [[ $# -gt 0 ]]; then
    python3 sparse_bench.py --conninfo "host=127.0.0.1 port=$BENCH_PORT user=postgres" "$@"
else
    for d in wordnet_tfidf splade_like; do
        python3 sparse_bench.py --conninfo "host=127.0.0.1 port=$BENCH_PORT user=postgres" --dataset "$d"
    done
fi
