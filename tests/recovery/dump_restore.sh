#!/usr/bin/env bash
# pg_dump -> pg_restore of a database using every type and both access
# methods (with reloptions) must give identical answers through the indexes.
# pg_restore runs with an empty search_path: the element type of an index
# used to be recognised by its printed, then schema-qualified, name, and
# every hnsw and ivfflat index was lost on restore.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
items_cluster 300 25460
"${P[@]}" <<'SQL'
CREATE TABLE h (id int PRIMARY KEY, v halfvec(8), s sparsevec(20), b bit(16));
INSERT INTO h SELECT i, (SELECT array_agg(round(random()::numeric, 3)) FROM generate_series(1, 8) WHERE i > 0)::real[]::halfvec,
    format('{%s:%s,%s:1}/20', i % 10 + 1, i % 7 + 1, (i * 7) % 10 + 11)::sparsevec, (i * 2654435761 % 65536)::bit(16)
FROM generate_series(1, 300) i;
CREATE INDEX h_half ON h USING hnsw (v halfvec_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX h_half_ivf ON h USING ivfflat (v halfvec_cosine_ops) WITH (lists = 4);
CREATE INDEX h_sparse ON h USING hnsw (s sparsevec_ip_ops);
CREATE INDEX h_bits ON h USING hnsw (b bit_hamming_ops);
SQL
"${P[@]}" -c "SELECT 1" >/dev/null
# The restore builds every index anew (a parallel build: another graph), so
# the answers are compared with settings under which a search is exhaustive
# (ef_search above the row count, every list probed), still through the
# indexes: the same rows must come back, in the same order.
queries="SET enable_seqscan = off; SET hnsw.ef_search = 1000; SET ivfflat.probes = 10;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 7) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <=> (SELECT v FROM items WHERE id = 9) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM h ORDER BY v <-> (SELECT v FROM h WHERE id = 5) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM h ORDER BY v <=> (SELECT v FROM h WHERE id = 6) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM h ORDER BY s <#> (SELECT s FROM h WHERE id = 11) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM h ORDER BY b <~> (SELECT b FROM h WHERE id = 12), id LIMIT 10) q;
SELECT string_agg(indexrelid::regclass::text || ':' || coalesce(array_to_string(c.reloptions, ' '), ''), ',' ORDER BY indexrelid::regclass::text)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE indrelid IN ('items'::regclass, 'h'::regclass);"
before=$(echo "$queries" | "${P[@]}" -At)
dump=$WORK/db.dump
pg_dump -h 127.0.0.1 -p "$PORT" -U postgres -Fc -f "$dump" postgres
"${P[@]}" -c "CREATE DATABASE restored"
pg_restore -h 127.0.0.1 -p "$PORT" -U postgres -d restored --exit-on-error "$dump"
after=$(echo "$queries" | psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d restored -At)
indexes=$(echo "$after" | tail -1 | tr ',' '\n' | grep -c . || true)
if [ "$before" != "$after" ]; then
    echo "dump_restore: answers differ after pg_restore"
    diff <(echo "$before") <(echo "$after") || true
    exit 1
fi
echo "dump_restore: $indexes indexes restored with their reloptions, all 6 index answers identical"
[ "$indexes" -ge 7 ]
