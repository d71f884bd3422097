#!/usr/bin/env bash
# A hot standby fed by streaming replication answers hnsw and ivfflat queries exactly as
# the primary does after build, inserts, deletes and VACUUM: the build's
# log_newpage_range and every Generic WAL record replay to identical pages
# (wal_consistency_checking = generic: each record carries the page as the
# primary left it, and the standby compares it with what replay made; the
# records `Index::update` writes itself included).
# With RUVECTOR_PRELOAD=1 (replica_shared.sh) both servers preload the
# library: searches use the shared vector cache, the primary's page changes
# raise their change positions, and the standby, whose replay does not,
# trusts its cached lists only while its replay position stands still.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

work=$(mktemp -d /tmp/ruvector-replica.XXXXXX)
chown postgres:postgres "$work"
primary=$work/primary standby=$work/standby
pport=25431 sport=25432
trap 'stop_cluster "$standby"; stop_cluster "$primary"; rm -rf "$work"' EXIT

start_cluster "$primary" "$pport"
P=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d postgres)
if [ "${RUVECTOR_PRELOAD:-0}" = 1 ]; then
    # (the standby's copy of postgresql.auto.conf preloads it there too)
    preload_ruvector "$primary" "$pport"
fi
# No autovacuum: its cleanup relinks stranded hnsw elements, and a record
# written after the standby caught up would let the two servers' answers
# differ for a moment. The script's own VACUUMs run on both.
"${P[@]}" -p "$pport" -c "ALTER SYSTEM SET wal_consistency_checking = 'generic'" -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$standby" -R -X stream -c fast
start_cluster "$standby" "$sport"

"${P[@]}" -p "$pport" >/dev/null <<'SQL'
CREATE EXTENSION ruvector_pg;
SELECT setseed(0.7);
CREATE TABLE items (id int PRIMARY KEY, v ruvector(16));
INSERT INTO items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 3000) i;
CREATE INDEX items_hnsw ON items USING hnsw (v vector_l2_ops);
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
INSERT INTO items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(3001, 4000) i;
INSERT INTO items SELECT i, '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' FROM generate_series(4001, 4030) i;
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
INSERT INTO items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(5001, 5500) i;
CREATE TABLE litems (id int PRIMARY KEY, v ruvector(16));
INSERT INTO litems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 3000) i;
CREATE INDEX litems_ivf ON litems USING ivfflat (v vector_l2_ops) WITH (lists = 20);
INSERT INTO litems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(3001, 6000) i;
DELETE FROM litems WHERE id % 3 = 0;
VACUUM litems;
INSERT INTO litems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(6001, 7000) i;
CREATE TABLE queries AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::ruvector(16) AS v FROM generate_series(1, 25) i;
-- 256 dimensions: an ivfflat index of SQ8 rows (format 2)
CREATE TABLE witems (id int PRIMARY KEY, v ruvector(256));
INSERT INTO witems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 256) WHERE i > 0) FROM generate_series(1, 2000) i;
CREATE INDEX witems_ivf ON witems USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
CREATE INDEX witems_hnsw ON witems USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
INSERT INTO witems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 256) WHERE i > 0) FROM generate_series(2001, 3000) i;
DELETE FROM witems WHERE id % 4 = 0;
VACUUM witems;
INSERT INTO witems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 256) WHERE i > 0) FROM generate_series(3001, 3300) i;
CREATE TABLE wqueries AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 256) WHERE i > 0)::ruvector(256) AS v FROM generate_series(1, 10) i;
-- 600 dimensions, exact_copies: SQ8 rows with full copies on copy pages (format 3)
CREATE TABLE citems (id int PRIMARY KEY, v ruvector(600));
INSERT INTO citems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 600) WHERE i > 0) FROM generate_series(1, 1000) i;
CREATE INDEX citems_ivf ON citems USING ivfflat (v vector_l2_ops) WITH (lists = 5, exact_copies = true);
INSERT INTO citems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 600) WHERE i > 0) FROM generate_series(1001, 1500) i;
DELETE FROM citems WHERE id % 4 = 0;
VACUUM citems;
INSERT INTO citems SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 600) WHERE i > 0) FROM generate_series(1501, 1700) i;
CREATE TABLE cqueries AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 600) WHERE i > 0)::ruvector(600) AS v FROM generate_series(1, 10) i;
SQL

lsn=$("${P[@]}" -p "$pport" -Atc "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 300); do
    caught=$("${P[@]}" -p "$sport" -Atc "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")
    [ "$caught" = t ] && break
    sleep 0.2
done
[ "$caught" = t ] || { echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: standby did not catch up"; exit 1; }

query='SET enable_seqscan = off;
SELECT q.i, string_agg(a.id::text, $$,$$ ORDER BY a.n) FROM queries q,
  LATERAL (SELECT id, row_number() OVER () AS n FROM (SELECT id FROM items ORDER BY v <-> q.v LIMIT 10) s) a GROUP BY q.i ORDER BY q.i;
SELECT q.i, string_agg(a.id::text, $$,$$ ORDER BY a.n) FROM queries q,
  LATERAL (SELECT id, row_number() OVER () AS n FROM (SELECT id FROM items ORDER BY v <=> q.v LIMIT 10) s) a GROUP BY q.i ORDER BY q.i;
SELECT ruvector_index_check($$items_hnsw$$), ruvector_index_check($$items_cos$$);
SELECT q.i, string_agg(a.id::text, $$,$$ ORDER BY a.n) FROM wqueries q,
  LATERAL (SELECT id, row_number() OVER () AS n FROM (SELECT id FROM witems ORDER BY v <-> q.v LIMIT 10) s) a GROUP BY q.i ORDER BY q.i;
SELECT ruvector_index_check($$witems_hnsw$$);
SET ivfflat.probes = 3;
SELECT q.i, string_agg(a.id::text, $$,$$ ORDER BY a.n) FROM queries q,
  LATERAL (SELECT id, row_number() OVER () AS n FROM (SELECT id FROM litems ORDER BY v <-> q.v LIMIT 10) s) a GROUP BY q.i ORDER BY q.i;
SET ivfflat.probes = 20;
SELECT count(*) FROM (SELECT id FROM litems ORDER BY v <-> (SELECT v FROM queries WHERE i = 1)) s;
SET ivfflat.probes = 3;
SELECT q.i, string_agg(a.id::text, $$,$$ ORDER BY a.n) FROM wqueries q,
  LATERAL (SELECT id, row_number() OVER () AS n FROM (SELECT id FROM witems ORDER BY v <=> q.v LIMIT 10) s) a GROUP BY q.i ORDER BY q.i;
SET ivfflat.probes = 2;
SELECT q.i, string_agg(a.id::text || $$:$$ || a.d::text, $$,$$ ORDER BY a.n) FROM cqueries q,
  LATERAL (SELECT id, d, row_number() OVER () AS n FROM (SELECT id, v <-> q.v AS d FROM citems ORDER BY v <-> q.v LIMIT 10) s) a GROUP BY q.i ORDER BY q.i;
SELECT ruvector_index_stats($$citems_ivf$$)->>$$copies$$;
SET ivfflat.probes = 5;
SELECT count(*) FROM (SELECT id FROM citems ORDER BY v <-> (SELECT v FROM cqueries WHERE i = 1)) s;
SET ivfflat.probes = 10;
SELECT count(*) FROM (SELECT id FROM witems ORDER BY v <=> (SELECT v FROM wqueries WHERE i = 1)) s;'
# (the check compares an index with its table on the primary only: a
# standby cannot lock the table in SHARE mode; the rest of its summary must
# match)
same_on_both() { sed -E 's/, [0-9]+ table rows indexed|, table not compared \(recovery\)//g'; }
on_primary=$("${P[@]}" -p "$pport" -Atc "$query" | same_on_both)
on_standby=$("${P[@]}" -p "$sport" -Atc "$query" | same_on_both)
if [ "$on_primary" != "$on_standby" ]; then
    diff <(echo "$on_primary") <(echo "$on_standby") | head -20
    echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: 0 passed, 1 failed"
    exit 1
fi
# every row of the SQ8 indexes when all their lists are probed, and a
# copy per row of the 600-d one
if [ "$(echo "$on_primary" | tail -3 | head -2 | tr '\n' ' ')" != "1325 1325 " ]; then
    echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: the 600-d ivfflat index has $(echo "$on_primary" | tail -3 | head -1) copies and returned $(echo "$on_primary" | tail -2 | head -1) rows, not 1325"
    echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: 0 passed, 1 failed"
    exit 1
fi
if [ "$(echo "$on_primary" | tail -1)" != 2550 ]; then
    echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: the 256-d ivfflat index returned $(echo "$on_primary" | tail -1) rows, not 2550"
    echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: 0 passed, 1 failed"
    exit 1
fi
if grep -q "inconsistent page" "$standby/server.log"; then
    grep "inconsistent page" "$standby/server.log" | head -3
    echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: 0 passed, 1 failed"
    exit 1
fi
lines=$(echo "$on_primary" | wc -l)
echo "replica${RUVECTOR_PRELOAD:+ (preloaded)}: standby returned the same $lines result lines as the primary"
