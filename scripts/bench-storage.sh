#!/usr/bin/env bash
# Bytes per value and per hnsw index entry (benches/storage.sql) on a
# throw-away cluster on 127.0.0.1:54334.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
bash scripts/install-deps.sh
install_extension >/dev/null
data=$(mktemp -d /tmp/ruvector-storage.XXXXXX)
trap 'stop_cluster "$data"; rm -rf "$data"' EXIT
start_cluster "$data" 54334
psql -X -h 127.0.0.1 -p 54334 -U postgres -d postgres -c "CREATE EXTENSION ruvector_pg" -f benches/storage.sql
