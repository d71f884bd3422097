#!/usr/bin/env bash
# With ruvector_pg in shared_preload_libraries, every backend publishes what
# its hnsw vector cache holds to its slot in shared memory: one session sees
# another's cache (ruvector_backend_caches(), and the "all backends" row of
# ruvector_memory_components(), and ruvector_memory_detailed()'s total_mb), each row agrees with that backend's own
# ruvector_hnsw_cache_info(), and a backend's slot is cleared when it exits.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

scratch_cluster 25436
work=$WORK data=$DATA port=$PORT
"${P[@]}" -c "ALTER SYSTEM SET shared_preload_libraries = 'ruvector_pg'" >/dev/null
stop_cluster "$data"
start_cluster "$data" "$port"

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
