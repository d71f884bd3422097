#!/usr/bin/env bash
# The migration path of docs/migration.md, run: a pgvector database is dumped
# as SQL, the dump is rewritten (the extension and the float4 type's name),
# restored into a database with ruvector_pg, and every answer — exact and
# through each restored index — matches pgvector's. Needs pgvector installed
# in this PostgreSQL (it is not part of this project; built by hand for
# side-by-side measurement); skipped, saying so, without it.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ]; then
    echo "migrate_from_pgvector: skipped (pgvector is not installed in this PostgreSQL)"
    exit 0
fi
scratch_cluster 25459
"${P[@]}" -c "CREATE DATABASE pgv" -c "CREATE DATABASE ruv"
PV=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d pgv)
RV=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d ruv)
"${PV[@]}" <<'SQL'
CREATE EXTENSION vector;
CREATE TABLE docs (id int PRIMARY KEY, body text, embedding vector(8), small halfvec(8), sparse sparsevec(20));
INSERT INTO docs SELECT i, 'doc ' || i, a::vector, a::halfvec, format('{%s:%s,%s:1}/20', i % 10 + 1, i % 7 + 1, i % 9 + 11)::sparsevec
FROM generate_series(1, 500) i,
     LATERAL (SELECT array_agg(((i * 7919 + k * 104729) % 1009) / 1009.0)::real[] AS a FROM generate_series(1, 8) k) x;
CREATE INDEX docs_hnsw ON docs USING hnsw (embedding vector_cosine_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX docs_ivf ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 5);
CREATE INDEX docs_half ON docs USING hnsw (small halfvec_l2_ops);
CREATE INDEX docs_sparse ON docs USING hnsw (sparse sparsevec_ip_ops);
CREATE VIEW recent AS SELECT id, embedding FROM docs WHERE id > 400;
SQL
# The path: dump as SQL; swap the extension and the type's name; restore.
dump=$WORK/pgv.sql
pg_dump -h 127.0.0.1 -p "$PORT" -U postgres --no-owner pgv > "$dump"
sed -E -e 's/^CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;/CREATE EXTENSION IF NOT EXISTS ruvector_pg WITH SCHEMA public;/' \
       -e '/^COMMENT ON EXTENSION vector /d' \
       -e 's/public\.vector\(/public.ruvector(/g' -e 's/::public\.vector\b/::public.ruvector/g' \
       "$dump" > "$WORK/ruv.sql"
"${RV[@]}" -f "$WORK/ruv.sql" >/dev/null
# indexes built separately: settings under which a search is exhaustive
answers="SET enable_seqscan = off; SET hnsw.ef_search = 1000; SET ivfflat.probes = 5;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM docs ORDER BY embedding <=> (SELECT embedding FROM docs WHERE id = 3) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM docs ORDER BY embedding <-> (SELECT embedding FROM docs WHERE id = 4) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM docs ORDER BY small <-> (SELECT small FROM docs WHERE id = 5) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM docs ORDER BY sparse <#> (SELECT sparse FROM docs WHERE id = 6), id LIMIT 10) q;
SELECT count(*) FROM recent;
SELECT md5(string_agg(id || embedding::text || small::text || sparse::text, ',' ORDER BY id)) FROM docs;"
exact="${answers//SET enable_seqscan = off;/SET enable_indexscan = off; SET enable_bitmapscan = off;}"
pgvector=$(echo "$answers" | "${PV[@]}" -At)
ours=$(echo "$answers" | "${RV[@]}" -At)
ours_exact=$(echo "$exact" | "${RV[@]}" -At)
pgvector_exact=$(echo "$exact" | "${PV[@]}" -At)
type=$("${RV[@]}" -Atc "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'docs'::regclass AND attname = 'embedding'")
indexes=$("${RV[@]}" -Atc "SELECT count(*) FROM pg_indexes WHERE tablename = 'docs' AND indexdef ~ 'USING (hnsw|ivfflat)'")
echo "migrate_from_pgvector: restored as $type with $indexes vector indexes; exact answers equal pgvector's:" \
     "$([ "$ours_exact" = "$pgvector_exact" ] && echo yes || echo no); index answers equal pgvector's: $([ "$ours" = "$pgvector" ] && echo yes || echo no)"
[ "$ours_exact" = "$pgvector_exact" ] && [ "$indexes" = 4 ] && [ "$type" = "ruvector(8)" ] && [ "$ours" = "$pgvector" ]
