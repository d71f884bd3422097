#!/usr/bin/env bash
# Without shared_preload_libraries, the shared vector cache lives in one
# dynamic shared memory segment (src/shared/dynamic.rs):
# 1. The first search makes it (pg_dynshmem/ruvector_pg.cache names it, a
#    file of that size exists in /dev/shm); a new connection's search finds
#    every vector it needs there (no miss), with results equal to a session
#    without any cache.
# 1b. An index made on an empty table and filled by inserts: its segment,
#    made tiny by the first insert, is made again as the index doubles, so
#    it ends with room for every row.
# 2. After a backend crashes (SIGKILL: the server reinitialises shared
#    memory, the start time stays) the old segment is gone, the next search
#    makes a new one, and it serves the next connection again.
# 3. After a restart with hnsw.shared_cache_size larger than /dev/shm has
#    room for, no segment is made ("none" recorded), searches keep a cache
#    per backend and return the same rows, and ruvector_shared_cache() says
#    there is none.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

items_cluster 2000 25438
data=$DATA port=$PORT
file=$data/pg_dynshmem/ruvector_pg.cache
query="SET enable_seqscan = off; SET hnsw.ef_search = 40;
    SELECT string_agg(id::text, ',' ORDER BY n) FROM (
        SELECT t.id, row_number() OVER () n FROM (SELECT id FROM items
        ORDER BY v <-> (SELECT v FROM items WHERE id = 17) LIMIT 10) t) s"
stats="SELECT hits || ' ' || misses FROM ruvector_hnsw_cache_info()"
fail() { echo "shared_cache_dynamic: FAILED: $*"; exit 1; }

uncached=$("${P[@]}" -Atc "SET hnsw.vector_cache_size = 0; $query")

# 1. made by the first search, used by the next connection
first=$("${P[@]}" -Atc "$query")
[ -f "$file" ] || fail "no $file after a search"
read -r start handle bytes <"$file"
[ -f "/dev/shm/PostgreSQL.$handle" ] || fail "segment $handle not in /dev/shm"
[ "$(stat -c %s "/dev/shm/PostgreSQL.$handle")" = "$bytes" ] || fail "segment size differs from the recorded $bytes"
second=$("${P[@]}" -Atc "$query" -c "$stats")
read -r rows hits misses <<<"$(echo "$second" | tr '\n' ' ')"
[ "$first" = "$uncached" ] && [ "$rows" = "$uncached" ] || fail "results differ: $uncached / $first / $rows"
[ "$misses" = 0 ] && [ "$hits" -gt 0 ] || fail "a new connection missed $misses (hits $hits)"
vectors=$("${P[@]}" -Atc "SELECT vectors FROM ruvector_shared_cache() WHERE index = 'items_hnsw'::regclass")
echo "shared_cache_dynamic: segment $handle of $bytes bytes, $vectors vectors; next connection: $hits hits, 0 misses"

# 1b. an index grown by inserts
capacity=$("${P[@]}" -Atc "CREATE TABLE grown (id int, v ruvector(16));
    CREATE INDEX grown_hnsw ON grown USING hnsw (v vector_l2_ops);
    INSERT INTO grown SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 3000) i;
    SELECT vector_capacity || ' ' || vectors FROM ruvector_shared_cache() WHERE index = 'grown_hnsw'::regclass AND state = 'live'")
read -r room held <<<"$capacity"
[ "${room:-0}" -ge 3000 ] && [ "${held:-0}" -ge 2900 ] || fail "an index grown by inserts has a segment for ${room:-no} vectors, holding ${held:-none}"
echo "shared_cache_dynamic: an index filled by 3,000 inserts ends with a segment for $room vectors, $held held"

# 2. a crashed backend: shared memory reinitialised, a new segment made
"${P[@]}" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
sleeper=$!
for _ in $(seq 50); do
    pid=$("${P[@]}" -Atc "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'")
    [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] || fail "no backend to crash"
kill -9 "$pid"
wait "$sleeper" || true
for _ in $(seq 100); do
    "${P[@]}" -Atc "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
done
[ ! -e "/dev/shm/PostgreSQL.$handle" ] || fail "the old segment outlived the crash restart"
after=$("${P[@]}" -Atc "$query")
read -r start2 handle2 _ <"$file"
[ "$start2" = "$start" ] && [ "$handle2" != "$handle" ] || fail "no new segment after the crash ($start $handle -> $start2 $handle2)"
again=$("${P[@]}" -Atc "$query" -c "$stats")
read -r rows hits misses <<<"$(echo "$again" | tr '\n' ' ')"
[ "$after" = "$uncached" ] && [ "$rows" = "$uncached" ] && [ "$misses" = 0 ] ||
    fail "after the crash: rows $after / $rows, misses $misses"
echo "shared_cache_dynamic: after a crash restart segment $handle2 serves the next connection with 0 misses"

# 3. no room in /dev/shm: a cache per backend
shm_kb=$(df -k --output=size /dev/shm | tail -1 | tr -d ' ')
echo "hnsw.shared_cache_size = '$((shm_kb / 1024 + 1024))MB'" >>"$data/postgresql.conf"
stop_cluster "$data"
start_cluster "$data" "$port"
rows=$("${P[@]}" -Atc "$query" -c "$stats")
read -r rows hits misses <<<"$(echo "$rows" | tr '\n' ' ')"
grep -q " none$" "$file" || fail "no 'none' recorded: $(cat "$file")"
[ "$rows" = "$uncached" ] && [ "$misses" -gt 0 ] || fail "without room: rows $rows, misses $misses"
error=$("${P[@]}" -Atc "SELECT count(*) FROM ruvector_shared_cache()" 2>&1 || true)
echo "$error" | grep -q "no shared vector cache yet" || fail "ruvector_shared_cache() said: $error"
echo "shared_cache_dynamic: without room in /dev/shm ($shm_kb kB) searches keep a cache per backend ($misses misses), same rows"
