#!/usr/bin/env bash
# Many clients (benches/clients_pgbench.py): pgvector and ruvector_pg on the
# benchmark cluster, and ruvector_pg with its shared vector cache on a second
# cluster that preloads it (port BENCH_PORT + 1, the same settings; pgvector
# cannot load there: both libraries define the hnsw.* settings). Needs the
# tables `bash scripts/benchmark.sh --datasets D --methods hnsw --keep` left.
#
#   bash scripts/bench-clients.sh --dataset wordnet384
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
SHARED_DATA=${SHARED_DATA:-$BENCH_DATA-shared}
SHARED_PORT=$((BENCH_PORT + 1))
trap 'stop_cluster "$BENCH_DATA"; stop_cluster "$SHARED_DATA"' EXIT
start_bench_cluster
start_cluster "$SHARED_DATA" "$SHARED_PORT"
as_postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$SHARED_PORT" -U postgres -d postgres \
    -c "ALTER SYSTEM SET shared_buffers = '2GB'" -c "ALTER SYSTEM SET max_parallel_maintenance_workers = 1" \
    -c "ALTER SYSTEM SET shared_preload_libraries = 'ruvector_pg'"
as_postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$SHARED_PORT" -U postgres -d postgres -Atc \
    "SELECT 1 FROM pg_database WHERE datname = 'ruvector_bench'" | grep -q 1 ||
    as_postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$SHARED_PORT" -U postgres -d postgres -c "CREATE DATABASE ruvector_bench"
stop_cluster "$SHARED_DATA"
start_cluster "$SHARED_DATA" "$SHARED_PORT"
python3 benches/clients_pgbench.py --conninfo "host=127.0.0.1 port=$BENCH_PORT user=postgres" \
    --shared-conninfo "host=127.0.0.1 port=$SHARED_PORT user=postgres" --shared-data "$SHARED_DATA" "$@"
