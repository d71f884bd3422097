#!/usr/bin/env bash
# One node against a three-node Citus cluster on 127.0.0.1 (benches/citus_bench.py):
# recall and QPS of the same hnsw queries on a plain table and on a
# distributed one. Needs Citus (scripts/install-citus.sh builds it from
# ../shared/citus). Pass e.g. `--dataset glove --rows 50000`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
bash scripts/install-citus.sh
install_extension
WORK=$(mktemp -d /tmp/ruvector-citus-bench.XXXXXX)
ports=(25490 25491 25492)
trap 'for p in "${ports[@]}"; do stop_cluster "$WORK/n$p"; done; rm -rf "$WORK"' EXIT
export PGOPTIONS="-c client_min_messages=warning"
citus_cluster "$WORK" "${ports[@]}"
nodes=$(for p in "${ports[@]}"; do printf 'host=127.0.0.1 port=%s user=postgres dbname=postgres,' "$p"; done)
python3 benches/citus_bench.py --coordinator "host=127.0.0.1 port=25490 user=postgres dbname=postgres" \
    --nodes "${nodes%,}" "$@"
