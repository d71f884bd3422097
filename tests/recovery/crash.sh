#!/usr/bin/env bash
# Crash safety: kill the server (pg_ctl stop -m immediate) in the middle of a
# concurrent insert workload on a table with an hnsw and an ivfflat index;
# after restart (WAL replay) the hnsw index passes ruvector_index_check, and
# both indexes find every committed row.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

items_cluster 1000 25433
work=$WORK data=$DATA port=$PORT

# Three clients insert in small transactions until the server goes away.
insert_loop() {
    for _ in $(seq 1 2000); do
        psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c \
            "INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE g > 0) FROM generate_series(1, 5) g" \
            >/dev/null 2>&1 || return 0
    done
}
insert_loop & insert_loop & insert_loop &
sleep 4
as_postgres "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
wait || true
start_cluster "$data" "$port"

rows=$("${P[@]}" -Atc "SELECT count(*) FROM items")
check=$("${P[@]}" -Atc "SELECT ruvector_index_check('items_hnsw')")
missing=$(hnsw_self_search_misses "$port")
# ivfflat probing every list is exact: each row is its own nearest by cosine
ivf_rows=$("${P[@]}" -Atc "SET enable_seqscan = off; SET ivfflat.probes = 10;
    SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]') s")
ivf_missing=$("${P[@]}" -Atc "SET enable_seqscan = off; SET ivfflat.probes = 10;
    SELECT count(*) FROM items t WHERE t.id NOT IN (SELECT id FROM items ORDER BY v <=> t.v LIMIT 1)")
echo "crash: $rows committed rows after restart; $check; rows hnsw misses at ef 100/1000 and lost: $missing;" \
    "ivfflat returns $ivf_rows rows and cannot find $ivf_missing"
if hnsw_misses_ok "$missing" "$rows" && [ "$rows" -gt 1000 ] && [ "$ivf_rows" = "$rows" ] && [ "$ivf_missing" = 0 ]; then
    exit 0
fi
# Keep what a failure needs to be understood (the test fails about once in
# 15-20 runs on this machine, cause not yet known): the rows missed at ef
# 1000 with the rank at which an iterative scan returns them, the element
# holding each, and the whole cluster (server log, data directory).
kept=$(mktemp -d /tmp/ruvector-crash-failed.XXXXXX)
"${P[@]}" -Atc "SET enable_seqscan = off; SET hnsw.ef_search = 1000;
    SET hnsw.iterative_scan = relaxed_order; SET hnsw.max_scan_tuples = 1000000; SET work_mem = '256MB';
    SELECT t.id, (SELECT count(*) FROM items u WHERE (u.v <-> t.v) < 1e-9 AND u.id <> t.id) AS twins,
           (SELECT r FROM (SELECT id, row_number() OVER () AS r FROM (SELECT id FROM items ORDER BY v <-> t.v) o) q
             WHERE q.id = t.id) AS iterative_rank
    FROM items t WHERE t.id NOT IN (SELECT id FROM items ORDER BY v <-> t.v LIMIT 5)" > "$kept/missed.txt" 2>&1 || true
stop_cluster "$data"
cp -a "$data" "$kept/data"
echo "crash: FAILED; missed rows and the cluster kept in $kept (missed.txt, data/server.log)"
exit 1
