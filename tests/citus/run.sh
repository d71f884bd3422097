#!/usr/bin/env bash
# ruvector_pg on a Citus cluster: a coordinator and two workers on
# 127.0.0.1. Checks that hnsw and ivfflat indexes built from the coordinator
# reach every shard, that a KNN query pushes ORDER BY ... LIMIT to every
# shard and the merged top 10 equals the exact answer at a high ef_search,
# that a tenant-filtered query goes to one shard, that binary COPY and
# prepared INSERTs work, and that search settings reach the workers the way
# docs/citus.md says. Citus is built from ../shared/citus (or CITUS_SRC) by
# scripts/install-citus.sh; without that source the test is skipped.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$REPO_ROOT"
set +e
bash scripts/install-citus.sh
rc=$?
set -e
if [ "$rc" = 2 ]; then
    echo "citus: skipped (no Citus source: put it in ../shared/citus or set CITUS_SRC)"
    echo "citus: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
[ "$rc" = 0 ]
WORK=$(mktemp -d /tmp/ruvector-citus.XXXXXX)
ports=(25480 25481 25482)
[ -n "${CITUS_KEEP:-}" ] || trap 'for p in "${ports[@]}"; do stop_cluster "$WORK/n$p"; done; rm -rf "$WORK"' EXIT
export PGOPTIONS="-c client_min_messages=warning"
citus_cluster "$WORK" "${ports[@]}"
C=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 25480 -U postgres -d postgres)
# the extension, created on the coordinator, is created on the workers too
"${C[@]}" -c "CREATE EXTENSION ruvector_pg"
workers_ext=$(for p in 25481 25482; do psql -X -At -h 127.0.0.1 -p $p -U postgres -d postgres -c "SELECT count(*) FROM pg_extension WHERE extname = 'ruvector_pg'"; done | paste -sd,)
"${C[@]}" <<'SQL'
SET citus.shard_count = 4;
CREATE TABLE items (id bigint PRIMARY KEY, tenant int, v ruvector(16));
SELECT create_distributed_table('items', 'id');
CREATE TABLE tenant_items (tenant int, id bigint, v ruvector(16), PRIMARY KEY (tenant, id));
SELECT create_distributed_table('tenant_items', 'tenant');
CREATE TABLE staging AS
SELECT i::bigint AS id, i % 40 AS tenant,
       (SELECT array_agg(((i * 7919 + k * 104729) % 100003) / 100003.0) FROM generate_series(1, 16) k)::ruvector AS v
FROM generate_series(1, 12000) i;
SQL
# binary COPY through the coordinator, then prepared INSERTs
"${C[@]}" -c "\copy (SELECT id, tenant, v FROM staging WHERE id <= 11900) TO '$WORK/items.bin' WITH (FORMAT binary)"
"${C[@]}" -c "\copy items FROM '$WORK/items.bin' WITH (FORMAT binary)"
"${C[@]}" -c "\copy (SELECT tenant, id, v FROM staging) TO '$WORK/tenant.bin' WITH (FORMAT binary)"
"${C[@]}" -c "\copy tenant_items FROM '$WORK/tenant.bin' WITH (FORMAT binary)"
"${C[@]}" <<'SQL'
PREPARE add(bigint, int, ruvector) AS INSERT INTO items VALUES ($1, $2, $3);
SELECT format('EXECUTE add(%s, %s, %L)', id, tenant, v) FROM staging WHERE id > 11900 \gexec
CREATE INDEX items_hnsw ON items USING hnsw (v vector_l2_ops);
CREATE INDEX tenant_ivf ON tenant_items USING ivfflat (v vector_cosine_ops) WITH (lists = 4);
SQL
rows=$("${C[@]}" -Atc "SELECT count(*) FROM items")
shards=$("${C[@]}" -Atc "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'items'::regclass")
indexed=$("${C[@]}" -Atc "SELECT count(*) FROM run_command_on_shards('items', \$\$SELECT count(*) FROM pg_indexes WHERE tablename = '%s' AND indexdef LIKE '%%USING hnsw%%'\$\$) WHERE result = '1'")
ivf_indexed=$("${C[@]}" -Atc "SELECT count(*) FROM run_command_on_shards('tenant_items', \$\$SELECT count(*) FROM pg_indexes WHERE tablename = '%s' AND indexdef LIKE '%%USING ivfflat%%'\$\$) WHERE result = '1'")
# the query vector as a literal (staging is a local table of the coordinator)
q="'$("${C[@]}" -Atc "SELECT v FROM staging WHERE id = 77")'::ruvector"
# KNN over every shard: each shard's plan is Limit -> Index Scan on its hnsw index
plan=$("${C[@]}" -At -c "SET citus.explain_all_tasks = on" -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> $q LIMIT 10")
tasks=$(echo "$plan" | sed -n 's/.*Task Count: \([0-9]*\).*/\1/p' | head -1)
pushed=$(echo "$plan" | grep -c "Index Scan using items_hnsw" || true)
limit_pushed=$(echo "$plan" | grep -c "^ *->  Limit\|^ *Limit" || true)
# settings: SET LOCAL with citus.propagate_set_commands = 'local' reaches the workers
# (one statement per command: Citus refuses a multi-statement string here)
approx=$("${C[@]}" -At -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL hnsw.ef_search = 1000" \
    -c "SELECT string_agg(id::text, ',' ORDER BY d, id) FROM (SELECT id, v <-> $q AS d FROM items ORDER BY v <-> $q LIMIT 10) s" \
    -c "COMMIT" | grep -v '^\(BEGIN\|SET\|COMMIT\)$' | tail -1)
# whether a setting reached the workers shows in what they return: at
# ef_search 1 (no iterative scan) each shard's scan yields one row
count_rows="SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> $q LIMIT 10) s"
session_set=$("${C[@]}" -At -c "SET hnsw.ef_search = 1" -c "$count_rows" | tail -1)
local_set=$("${C[@]}" -At -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = 'local'" -c "SET LOCAL hnsw.ef_search = 1" \
    -c "$count_rows" -c "COMMIT" | grep -v '^\(BEGIN\|SET\|COMMIT\)$' | tail -1)
exact=$("${C[@]}" -Atc "SELECT string_agg(id::text, ',' ORDER BY d, id) FROM (SELECT id, v <-> $q AS d FROM staging ORDER BY 2, 1 LIMIT 10) s")
# a tenant's query goes to one shard
tplan=$("${C[@]}" -Atc "EXPLAIN (COSTS OFF) SELECT id FROM tenant_items WHERE tenant = 7 ORDER BY v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5")
ttasks=$(echo "$tplan" | sed -n 's/.*Task Count: \([0-9]*\).*/\1/p' | head -1)
tanswer=$("${C[@]}" -Atc "SELECT count(*) FROM (SELECT id FROM tenant_items WHERE tenant = 7 ORDER BY v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s")
echo "citus: extension on the workers: $workers_ext; $rows rows over $shards shards (binary COPY + 100 prepared INSERTs);" \
     "hnsw on $indexed of $shards shards, ivfflat on $ivf_indexed of tenant_items' shards; KNN: $tasks tasks," \
     "$pushed with the shard's hnsw index scan under its Limit; merged top 10 at ef_search 1000 (SET LOCAL, propagated)" \
     "$([ "$approx" = "$exact" ] && echo equals || echo differs from) the exact answer; tenant query: $ttasks task(s), $tanswer rows;" \
     "ef_search 1 by session SET: $session_set rows (workers kept 40), by propagated SET LOCAL: $local_set rows (one per shard)"
if [ "$workers_ext" = "1,1" ] && [ "$rows" = 12000 ] && [ "$indexed" = "$shards" ] && [ "$ivf_indexed" -gt 0 ] \
    && [ "$tasks" = "$shards" ] && [ "$pushed" = "$shards" ] && [ "$limit_pushed" -ge 1 ] \
    && [ "$approx" = "$exact" ] && [ "$ttasks" = 1 ] && [ "$tanswer" = 5 ] \
    && [ "$session_set" = 10 ] && [ "$local_set" = "$shards" ]; then
    echo "citus: 1 passed, 0 failed"
else
    echo "citus: 0 passed, 1 failed"
    exit 1
fi
