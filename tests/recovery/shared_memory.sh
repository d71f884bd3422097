#!/usr/bin/env bash
# With ruvector_pg in shared_preload_libraries:
# 1. With hnsw.shared_cache_size = 0 (a cache per backend), every backend
#    publishes what its hnsw vector cache holds to its slot in shared
#    memory: one session sees another's cache (ruvector_backend_caches(), and
#    the "all backends" row of ruvector_memory_components(), and
#    ruvector_memory_detailed()'s total_mb), each row agrees with that
#    backend's own ruvector_hnsw_cache_info(), and a backend's slot is
#    cleared when it exits.
# 3. The index registry: every hnsw and ivfflat index's meta page in shared
#    memory. While three sessions insert, one deletes and vacuums and one
#    searches, the entry read with the meta page locked equals the meta page
#    every time it is looked at (ruvector_index_stats); afterwards the
#    entries' element and row counts equal a walk over the pages; after a
#    restart the entry is made again from the meta page (by the first
#    search, or autovacuum before it), its count unknown; ruvector_prewarm
#    puts every element's vector into the shared cache, so the first search
#    after it misses none; DROP INDEX frees its segment at once.
# 2. With the shared cache (hnsw.shared_cache_size = 64MB): four sessions
#    searching at once while it fills get exactly the results of a session
#    without any cache; a session after them finds every vector it needs
#    already cached (no misses); one segment serves the index, its memory
#    figures agree with pg_shmem_allocations and ruvector_memory_detailed();
#    after DELETE and VACUUM the next search gets a new generation's segment,
#    the old one is freed, and results still agree; the same after rows
#    change and REINDEX rebuilds the index (a new build nonce).
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

scratch_cluster 25436
work=$WORK data=$DATA port=$PORT
echo "hnsw.shared_cache_size = 0" >>"$data/postgresql.conf"
preload_ruvector "$data" "$port"

"${P[@]}" >/dev/null <<'SQL'
CREATE EXTENSION ruvector_pg;
CREATE TABLE items (id int, v ruvector(300));
INSERT INTO items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0) FROM generate_series(1, 800) i;
CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops);
SQL

search='SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 5) LIMIT 10) s;'

# session A searches, then stays connected while B looks
a_out=$work/a.out
"${P[@]}" -At >"$a_out" <<SQL &
$search
SELECT pg_backend_pid(), bytes FROM ruvector_hnsw_cache_info();
SELECT pg_sleep(4);
SQL
a_job=$!
for _ in $(seq 1 50); do
    [ "$(wc -l <"$a_out")" -ge 2 ] && break
    sleep 0.1
done
read -r a_pid a_bytes < <(sed -n 2p "$a_out" | tr '|' ' ')

b=$("${P[@]}" -At <<SQL
$search
SELECT (SELECT bytes FROM ruvector_backend_caches() WHERE pid = $a_pid) = $a_bytes
   AND (SELECT bytes FROM ruvector_backend_caches() WHERE pid = pg_backend_pid())
       = (SELECT bytes FROM ruvector_hnsw_cache_info())
   AND (SELECT count(*) FROM ruvector_backend_caches() WHERE index = 'items_v'::regclass) = 2
   AND (SELECT bytes FROM ruvector_memory_components() WHERE component = 'hnsw vector caches, all backends')
       = (SELECT sum(bytes) FROM ruvector_backend_caches())
   AND abs((ruvector_memory_detailed()->>'total_mb')::float8 * 1048576 - (SELECT sum(bytes) FROM ruvector_backend_caches())) < 1;
SQL
)
wait "$a_job"
after=$("${P[@]}" -Atc "SELECT count(*) FROM ruvector_backend_caches() WHERE pid = $a_pid")

if [ "$(echo "$b" | tail -1)" = t ] && [ "$after" = 0 ]; then
    echo "shared memory: a second session saw the first's cache ($a_bytes bytes, pid $a_pid) and its own; cleared after exit"
else
    echo "shared memory: FAILED (checks: $(echo "$b" | tail -1), rows of the exited backend: $after)"
    exit 1
fi

# 2. the shared cache
"${P[@]}" -c "ALTER SYSTEM SET hnsw.shared_cache_size = '64MB'" >/dev/null
stop_cluster "$data"
start_cluster "$data" "$port"
"${P[@]}" >/dev/null <<'SQL'
CREATE TABLE small (id int, v ruvector(64));
INSERT INTO small SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE i > 0) FROM generate_series(1, 4000) i;
CREATE INDEX small_v ON small USING hnsw (v vector_l2_ops);
CREATE TABLE qs AS SELECT q, (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE q > 0)::ruvector(64) AS v FROM generate_series(1, 40) q;
CREATE TABLE results (session int, q int, ids int[]);
SQL
# 40 searches, in an order of the session's own (f32 copies at 64
# dimensions: cached distances are the pages' to the bit, so a search takes
# the same path with or without the cache)
searches() { # SESSION
    echo "SET enable_seqscan = off;"
    for q in $(seq 1 40 | shuf --random-source=<(yes "$1")); do
        echo "INSERT INTO results SELECT $1, $q, array_agg(id) FROM (SELECT id FROM small ORDER BY v <-> (SELECT v FROM qs WHERE q = $q) LIMIT 10) s;"
    done
}
differ() { # SESSION...: for each, searches whose results differ from session 0's / searches
    local s
    for s in "$@"; do
        "${P[@]}" -At -c "SELECT count(*) FILTER (WHERE r.ids IS DISTINCT FROM o.ids) || '/' || count(*)
                          FROM results r JOIN results o ON o.q = r.q AND o.session = 0 WHERE r.session = $s"
    done | tr '\n' ' '
}
{ echo "SET hnsw.vector_cache_size = 0;"; searches 0; } | "${P[@]}"
for s in 1 2 3 4; do searches $s | "${P[@]}" & done
wait
fifth=$({ searches 5; echo "SELECT misses FROM ruvector_hnsw_cache_info();"; } | "${P[@]}" -At | tail -1)
differing=$(differ 1 2 3 4 5)
read -r segs vectors generation < <("${P[@]}" -At -F ' ' -c "SELECT count(*), min(vectors), min(generation) FROM ruvector_shared_cache() WHERE index = 'small_v'::regclass AND state = 'live'")
agree=$("${P[@]}" -At <<'SQL'
SELECT (SELECT allocated_size FROM pg_shmem_allocations WHERE name = 'ruvector_pg shared vector cache') >= 64 * 1048576
   AND (SELECT detail FROM ruvector_memory_components() WHERE component = 'hnsw shared vector cache') LIKE '%of 64.0 MB (hnsw.shared_cache_size)%'
   AND abs((ruvector_memory_detailed()->>'total_mb')::float8 - (ruvector_memory_detailed()->>'shared_cache_mb')::float8) < 0.001
   AND (SELECT bytes FROM ruvector_memory_components() WHERE component = 'hnsw shared vector cache') > 0;
SQL
)
if [ "$differing" != "0/40 0/40 0/40 0/40 0/40 " ] || [ "$fifth" != 0 ] || [ "$segs" != 1 ] || [ "$vectors" -le 0 ] || [ "$agree" != t ]; then
    echo "shared cache: FAILED (results differing from uncached: $differing; fifth session's misses: $fifth; live segments: $segs; memory figures agree: $agree)"
    exit 1
fi
# after CHANGE (SQL): an uncached session and a cached one agree, and the
# index has one segment, of generation GENERATION, live
after_change() { # WHAT CHANGE GENERATION
    echo "$2; DELETE FROM results;" | "${P[@]}" >/dev/null
    { echo "SET hnsw.vector_cache_size = 0;"; searches 0; } | "${P[@]}"
    searches 1 | "${P[@]}"
    local differing segments
    differing=$(differ 1)
    segments=$("${P[@]}" -At -c "SELECT string_agg(generation || ':' || state, ',') FROM ruvector_shared_cache() WHERE index = 'small_v'::regclass")
    if [ "$differing" != "0/40 " ] || [ "$segments" != "$3:live" ]; then
        echo "shared cache after $1: FAILED (results differing: $differing; segments: $segments, expected generation $3 alone)"
        exit 1
    fi
}
# VACUUM frees elements: a new generation
after_change VACUUM "DELETE FROM small WHERE id % 3 = 0; VACUUM small" $((generation + 1))
# a rebuild (a new nonce, generation 0 again) after rows changed
after_change REINDEX "UPDATE small SET v = (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE id > 0) WHERE id % 5 = 0; REINDEX INDEX small_v" 0
echo "shared cache: 4 sessions at once and a fifth after agree with an uncached one (40 searches each), the fifth missed nothing; one segment ($vectors vectors); figures agree with pg_shmem_allocations; after VACUUM generation $((generation + 1)) replaced $generation; after changed rows and REINDEX a new segment, results agree"

# 3. the index registry
"${P[@]}" >/dev/null <<'SQL'
CREATE TABLE reg (id serial, v ruvector(16));
INSERT INTO reg (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 2000) i;
CREATE INDEX reg_v ON reg USING hnsw (v vector_l2_ops);
CREATE INDEX reg_ivf ON reg USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SQL
built=$("${P[@]}" -At -c "SELECT s->>'source', s->'shared_memory'->>'elements', s->>'elements', s->>'shared_entry_matches_meta_page', s->'shared_memory'->>'made_from_meta_page' FROM ruvector_index_stats('reg_v') s")
for s in 1 2 3; do
    for i in $(seq 1 300); do echo "INSERT INTO reg (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE $i > 0);"; done | "${P[@]}" &
done
for round in 1 2 3; do echo "DELETE FROM reg WHERE id % 7 = $round; VACUUM reg;"; done | "${P[@]}" &
for i in $(seq 1 200); do echo "SELECT count(*) FROM (SELECT id FROM reg ORDER BY v <-> (SELECT v FROM reg ORDER BY id DESC LIMIT 1) LIMIT 5) s;"; done | "${P[@]}" >/dev/null &
mismatches=$("${P[@]}" -At <<'SQL'
CREATE TEMP TABLE seen (ok text);
DO $$ BEGIN
    FOR i IN 1..150 LOOP
        INSERT INTO seen SELECT ruvector_index_stats('reg_v')->>'shared_entry_matches_meta_page';
        INSERT INTO seen SELECT ruvector_index_stats('reg_ivf')->>'shared_entry_matches_meta_page';
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;
SELECT count(*) FILTER (WHERE ok IS DISTINCT FROM 'true') || '/' || count(*) FROM seen;
SQL
)
wait
# searches take the meta page from the registry: 20 warm searches (a
# second pass in one transaction) read fewer than 20 index blocks, where
# reading the meta page alone would be one per search
fetched=$("${P[@]}" -At <<'SQL'
SET enable_seqscan = off;
BEGIN;
SELECT count(*) FROM generate_series(1, 20) q, LATERAL (SELECT id FROM reg ORDER BY v <-> (SELECT v FROM reg ORDER BY id LIMIT 1 OFFSET q) LIMIT 5) s;
SELECT pg_stat_get_xact_blocks_fetched('reg_v'::regclass) AS before \gset
SELECT count(*) FROM generate_series(1, 20) q, LATERAL (SELECT id FROM reg ORDER BY v <-> (SELECT v FROM reg ORDER BY id LIMIT 1 OFFSET q) LIMIT 5) s;
SELECT pg_stat_get_xact_blocks_fetched('reg_v'::regclass) - :before;
COMMIT;
SQL
)
fetched=$(echo "$fetched" | tail -1)
counts=$("${P[@]}" -At <<'SQL'
SELECT (h->'shared_memory'->>'elements') = (h->>'elements') AND (h->>'shared_entry_matches_meta_page')::bool
   AND (i->'shared_memory'->>'vectors') = (i->>'node_count') AND (i->>'shared_entry_matches_meta_page')::bool
   AND (SELECT x->'shared_memory_entry' IS NOT NULL AND x->>'source' LIKE '%shared memory' FROM jsonb_array_elements(ruvector_memory_detailed()->'indexes') x WHERE x->>'name' = 'reg_v')
FROM ruvector_index_stats('reg_v') h, ruvector_index_stats('reg_ivf') i;
SQL
)
stop_cluster "$data"
start_cluster "$data" "$port"
restarted=$("${P[@]}" -At <<'SQL'
SELECT ruvector_prewarm('reg_v') > 0;
SELECT vectors = (ruvector_index_stats('reg_v')->>'elements')::int FROM ruvector_shared_cache() WHERE index = 'reg_v'::regclass AND state = 'live';
SELECT count(*) FROM (SELECT id FROM reg ORDER BY v <-> (SELECT v FROM reg LIMIT 1) LIMIT 5) s;
SELECT misses FROM ruvector_hnsw_cache_info();
SELECT s->>'source', s->'shared_memory'->>'made_from_meta_page', coalesce(s->'shared_memory'->>'elements', 'unknown'), s->>'shared_entry_matches_meta_page' FROM ruvector_index_stats('reg_v') s;
SQL
)
restarted=$(echo $restarted)
if [ "$built" != "shared_memory|2000|2000|true|false" ] || [ "$mismatches" != "0/300" ] || [ "$counts" != t ] || [ "$fetched" -ge 20 ] || [ "$restarted" != "t t 5 0 shared_memory|true|unknown|true" ]; then
    echo "index registry: FAILED (after the build: $built; entries differing from the meta page under load: $mismatches; counts agree: $counts; index blocks read by 20 warm searches: $fetched; after a restart: $restarted)"
    exit 1
fi
echo "index registry: 20 warm searches read $fetched index blocks (no meta page); entries equal the meta pages in 300 looks during inserts, VACUUM and searches; element and row counts equal the pages'; remade from the meta page after a restart; prewarm filled the shared cache (first search: no misses)"
dropped=$("${P[@]}" -At <<'SQL'
SELECT 'reg_v'::regclass::oid AS reg_oid \gset
SELECT count(*) FROM ruvector_shared_cache() WHERE index = :reg_oid AND state = 'live';
DROP INDEX reg_v;
SELECT count(*) FROM ruvector_shared_cache() WHERE index = :reg_oid;
SQL
)
dropped=$(echo $dropped)
if [ "$dropped" != "1 0" ]; then
    echo "DROP INDEX: FAILED (live segments of the index before, segments after: $dropped)"
    exit 1
fi
echo "DROP INDEX: its shared cache segment was freed at once"
