#!/usr/bin/env bash
# Concurrency: clients insert, delete and query while VACUUM runs over and
# over, on a table with an hnsw (L2) and an ivfflat (cosine) index. Nothing may error or
# deadlock; afterwards the hnsw index passes ruvector_index_check (no
# neighbour pointer to a freed element, no live element unreachable), and
# both indexes find every row that is left, with recall@10 of at least 0.9
# (hnsw, ef_search 40) and 0.8 (ivfflat, 4 of 10 lists) on random queries.
# Beside it the same workload runs on a 600-d table whose ivfflat index keeps
# full copies of its rows (exact_copies, format 3): afterwards it has one copy per row,
# returns every row, and answers exactly as a sequential scan with every
# list probed.
# With RUVECTOR_PRELOAD=1 (concurrent_shared.sh) the library is preloaded,
# so searches use the shared vector cache and the index registry, and the
# same checks hold for them.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

items_cluster 3000 25435
work=$WORK data=$DATA port=$PORT
label=concurrent
if [ "${RUVECTOR_PRELOAD:-0}" = 1 ]; then
    preload_ruvector "$data" "$port"
    label="concurrent, preloaded (shared cache and index registry)"
fi

"${P[@]}" >/dev/null <<'SQL'
CREATE TABLE wide (id bigserial PRIMARY KEY, v ruvector(600));
INSERT INTO wide (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 600) WHERE i > 0) FROM generate_series(1, 400) i;
CREATE INDEX wide_ivf ON wide USING ivfflat (v vector_cosine_ops) WITH (lists = 4, exact_copies = true);
SQL

errors=$work/errors
: > "$errors"
run() { # run SQL repeatedly for $1 seconds; any error is recorded
    local until=$((SECONDS + $1)) sql=$2
    while [ $SECONDS -lt $until ]; do
        psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$sql" >/dev/null 2>>"$errors" ||
            echo "failed: $sql" >>"$errors"
    done
}
insert="INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE g > 0) FROM generate_series(1, 20) g"
delete="DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 15)"
query="SET enable_seqscan = off; SET ivfflat.probes = 3;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT array_agg(random()) FROM generate_series(1, 16))::ruvector LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> (SELECT array_agg(random()) FROM generate_series(1, 16))::ruvector LIMIT 10) s"
winsert="INSERT INTO wide (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 600) WHERE g > 0) FROM generate_series(1, 10) g"
wdelete="DELETE FROM wide WHERE id IN (SELECT id FROM wide ORDER BY random() LIMIT 8)"
wquery="SET enable_seqscan = off; SET ivfflat.probes = 2;
SELECT count(*) FROM (SELECT id FROM wide ORDER BY v <=> (SELECT array_agg(random()) FROM generate_series(1, 600))::ruvector LIMIT 10) s"
run 12 "$insert" & run 12 "$insert" & run 12 "$delete" & run 12 "$query" & run 12 "VACUUM items" &
run 12 "$winsert" & run 12 "$wdelete" & run 12 "$wquery" & run 12 "VACUUM wide" &
wait
"${P[@]}" -c "VACUUM wide" >/dev/null
wide=$("${P[@]}" -Atc "SET enable_seqscan = off; SET ivfflat.probes = 4;
    SELECT (SELECT count(*) FROM wide) = (ruvector_index_stats('wide_ivf')->>'copies')::bigint
       AND (SELECT count(*) FROM wide) = (SELECT count(*) FROM (SELECT id FROM wide ORDER BY v <=> (SELECT v FROM wide LIMIT 1)) s)
       AND (SELECT bool_and(same) FROM (SELECT (index_rows = seq_rows) AS same FROM generate_series(1, 5) k,
            LATERAL (SELECT (SELECT array_agg(random()) FROM generate_series(1, 600) WHERE k > 0)::ruvector AS q) qq,
            LATERAL (SELECT array(SELECT v <=> qq.q FROM wide ORDER BY v <=> qq.q LIMIT 20) AS index_rows) a,
            LATERAL (SELECT array(SELECT d FROM (SELECT v <=> qq.q AS d FROM wide OFFSET 0) w ORDER BY d LIMIT 20) AS seq_rows) b) t)")
[ "$wide" = t ] || { echo "concurrent: the 600-d format-3 index lost rows or copies, or answers differ from a sequential scan"; exit 1; }
"${P[@]}" -c "VACUUM items" # one more pass, alone

if [ -s "$errors" ]; then
    head -20 "$errors"
    echo "concurrent: errors during the workload"
    exit 1
fi
rows=$("${P[@]}" -Atc "SELECT count(*) FROM items")
check=$("${P[@]}" -Atc "SELECT ruvector_index_check('items_hnsw')")
missing=$(hnsw_self_search_misses "$port")
ivf_rows=$("${P[@]}" -Atc "SET enable_seqscan = off; SET ivfflat.probes = 10;
    SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> (SELECT v FROM items LIMIT 1)) s")
# recall@10 of 50 random queries against exact answers (a sequential scan)
recall() { # $1: operator, $2: settings
    "${P[@]}" -Atc "CREATE TEMP TABLE q AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::ruvector(16) AS v FROM generate_series(1, 50) i;
        SET enable_indexscan = off;
        CREATE TEMP TABLE truth AS SELECT q.i, a.id FROM q, LATERAL (SELECT id FROM items t ORDER BY t.v $1 q.v LIMIT 10) a;
        SET enable_indexscan = on; SET enable_seqscan = off; $2;
        CREATE TEMP TABLE got AS SELECT q.i, a.id FROM q, LATERAL (SELECT id FROM items t ORDER BY t.v $1 q.v LIMIT 10) a;
        SELECT round((SELECT count(*) FROM got g JOIN truth t USING (i, id))::numeric / (SELECT count(*) FROM truth), 3)"
}
hnsw_recall=$(recall "<->" "SET hnsw.ef_search = 40")
ivf_recall=$(recall "<=>" "SET ivfflat.probes = 4")
shared=""
if [ "${RUVECTOR_PRELOAD:-0}" = 1 ]; then
    shared=$("${P[@]}" -Atc "SELECT count(*) FROM ruvector_shared_cache() WHERE index = 'items_hnsw'::regclass AND vectors > 0")
    matches=$("${P[@]}" -Atc "SELECT ruvector_index_stats('items_hnsw')->>'shared_entry_matches_meta_page'")
    [ "$shared" -ge 1 ] && [ "$matches" = true ] || { echo "$label: shared cache segments $shared, registry entry matches: $matches"; exit 1; }
    shared=" shared cache segments used: $shared;"
fi
echo "$label: $rows rows after inserts, deletes, queries and vacuums; $check; rows hnsw misses at ef 100/1000 and lost: $missing;" \
    "ivfflat returns $ivf_rows;$shared recall@10: hnsw $hnsw_recall (ef_search 40), ivfflat $ivf_recall (4 of 10 lists)"
case "$check" in ok:*) ;; *) exit 1 ;; esac
hnsw_misses_ok "$missing" "$rows" && [ "$ivf_rows" = "$rows" ] &&
    awk -v h="$hnsw_recall" -v f="$ivf_recall" 'BEGIN { exit !(h >= 0.9 && f >= 0.8) }'
