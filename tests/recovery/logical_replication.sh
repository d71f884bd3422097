#!/usr/bin/env bash
# Logical replication carries ruvector, halfvec and sparsevec columns, in
# text mode and in binary mode (the types' send/recv), and the subscriber's
# own hnsw/ivfflat indexes answer like the publisher's.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
WORK=$(mktemp -d /tmp/ruvector-logical.XXXXXX)
chown postgres:postgres "$WORK"
PUB=$WORK/pub SUB=$WORK/sub PUB_PORT=25456 SUB_PORT=25457
trap 'stop_cluster "$SUB"; stop_cluster "$PUB"; rm -rf "$WORK"' EXIT
start_cluster "$PUB" "$PUB_PORT"
as_postgres "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PUB_PORT" -U postgres -d postgres -c "ALTER SYSTEM SET wal_level = logical"
stop_cluster "$PUB"
start_cluster "$PUB" "$PUB_PORT"
start_cluster "$SUB" "$SUB_PORT"
export PGOPTIONS="-c client_min_messages=warning"
PP=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PUB_PORT" -U postgres -d postgres)
SP=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SUB_PORT" -U postgres -d postgres)
schema="CREATE EXTENSION ruvector_pg;
CREATE TABLE text_mode (id int PRIMARY KEY, v ruvector(8), h halfvec(8), s sparsevec(40));
CREATE TABLE binary_mode (id int PRIMARY KEY, v ruvector(8), h halfvec(8), s sparsevec(40));"
indexes="CREATE INDEX ON text_mode USING hnsw (v vector_l2_ops);
CREATE INDEX ON text_mode USING ivfflat (h halfvec_cosine_ops) WITH (lists = 4);
CREATE INDEX ON text_mode USING hnsw (s sparsevec_ip_ops);
CREATE INDEX ON binary_mode USING hnsw (v vector_cosine_ops);
CREATE INDEX ON binary_mode USING hnsw (h halfvec_l2_ops);
CREATE INDEX ON binary_mode USING hnsw (s sparsevec_l2_ops);"
"${PP[@]}" -c "$schema" -c "$indexes"
"${SP[@]}" -c "$schema" -c "$indexes"
"${PP[@]}" -c "CREATE PUBLICATION p_text FOR TABLE text_mode" -c "CREATE PUBLICATION p_binary FOR TABLE binary_mode"
fill="INSERT INTO %s SELECT i, a::ruvector, a::halfvec, format('{%%s:%%s,%%s:-1.5}/40', i %% 20 + 1, i %% 9 + 1, i %% 17 + 21)::sparsevec
FROM generate_series(%s, %s) i, LATERAL (SELECT array_agg(((i * 7919 + k * 104729) %% 997) / 997.0 - 0.5)::real[] AS a FROM generate_series(1, 8) k) x"
for t in text_mode binary_mode; do "${PP[@]}" -c "$(printf "$fill" "$t" 1 300)"; done
conn="host=127.0.0.1 port=$PUB_PORT user=postgres dbname=postgres"
"${SP[@]}" -c "CREATE SUBSCRIPTION s_text CONNECTION '$conn' PUBLICATION p_text WITH (binary = false)"
"${SP[@]}" -c "CREATE SUBSCRIPTION s_binary CONNECTION '$conn' PUBLICATION p_binary WITH (binary = true)"
# changes after the initial copy travel through the stream
for t in text_mode binary_mode; do
    "${PP[@]}" -c "$(printf "$fill" "$t" 301 400)" -c "UPDATE $t SET v = v * '[2,2,2,2,2,2,2,2]', s = s WHERE id % 10 = 0" -c "DELETE FROM $t WHERE id % 25 = 0"
done
"${PP[@]}" -c "CREATE TABLE done_marker (x int PRIMARY KEY)" >/dev/null
# wait until the subscriber has everything (each table's content hash agrees)
digest="SELECT md5(string_agg(id || ':' || v::text || h::text || s::text, ',' ORDER BY id)) FROM %s"
for _ in $(seq 1 120); do
    same=1
    for t in text_mode binary_mode; do
        [ "$("${PP[@]}" -Atc "$(printf "$digest" $t)")" = "$("${SP[@]}" -Atc "$(printf "$digest" $t)")" ] || same=0
    done
    [ "$same" = 1 ] && break
    sleep 0.5
done
[ "$same" = 1 ] || { echo "logical_replication: the subscriber never caught up"; exit 1; }
# indexes built separately: settings under which a search is exhaustive
queries="SET enable_seqscan = off; SET hnsw.ef_search = 1000; SET ivfflat.probes = 4;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM text_mode ORDER BY v <-> (SELECT v FROM text_mode WHERE id = 7) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM text_mode ORDER BY h <=> (SELECT h FROM text_mode WHERE id = 8) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM text_mode ORDER BY s <#> (SELECT s FROM text_mode WHERE id = 9), id LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM binary_mode ORDER BY v <=> (SELECT v FROM binary_mode WHERE id = 11) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM binary_mode ORDER BY h <-> (SELECT h FROM binary_mode WHERE id = 12) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM binary_mode ORDER BY s <-> (SELECT s FROM binary_mode WHERE id = 13), id LIMIT 10) q;"
pub=$(echo "$queries" | "${PP[@]}" -At)
sub=$(echo "$queries" | "${SP[@]}" -At)
rows=$("${SP[@]}" -Atc "SELECT (SELECT count(*) FROM text_mode) || '+' || (SELECT count(*) FROM binary_mode)")
binary=$("${SP[@]}" -Atc "SELECT string_agg(subname || '=' || subbinary, ',' ORDER BY subname) FROM pg_subscription")
echo "logical_replication: subscriber has $rows rows ($binary), identical to the publisher; its 6 index answers equal the publisher's: $([ "$pub" = "$sub" ] && echo yes || echo no)"
[ "$pub" = "$sub" ] && [ "$rows" = "384+384" ] && [ "$binary" = "s_binary=true,s_text=false" ]
