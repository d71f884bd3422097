#!/usr/bin/env bash
# ALTER EXTENSION ruvector_pg UPDATE from 0.1.0 as released
# (sql/upgrades/ruvector_pg--0.1.0.sql): data and indexes made under 0.1.0's
# SQL answer the same after the update, the indexes pass
# ruvector_index_check, and the updated extension has exactly the objects
# (with the same definitions) of a fresh install of the current version.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
scratch_cluster 25458
P=("${P[@]:0:${#P[@]}-2}") # without -d: each command names its database
current=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO_ROOT/Cargo.toml" | head -1)
"${P[@]}" -d postgres -c "CREATE DATABASE old" -c "CREATE DATABASE fresh"
"${P[@]}" -d old <<'SQL'
CREATE EXTENSION ruvector_pg VERSION '0.1.0';
CREATE TABLE t (id int PRIMARY KEY, v ruvector(8), h halfvec(8), s sparsevec(30), b bit(16));
INSERT INTO t SELECT i, a::ruvector, a::halfvec, format('{%s:%s,%s:1}/30', i % 15 + 1, i % 7 + 1, i % 13 + 16)::sparsevec,
    (i * 40503 % 65536)::bit(16)
FROM generate_series(1, 400) i, LATERAL (SELECT array_agg(((i * 7919 + k * 104729) % 1000) / 1000.0)::real[] AS a
                                           FROM generate_series(1, 8) k) x;
CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 8);
CREATE INDEX t_v_ivf ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 5);
CREATE INDEX t_h ON t USING hnsw (h halfvec_ip_ops);
CREATE INDEX t_s ON t USING hnsw (s sparsevec_l1_ops);
CREATE INDEX t_b ON t USING hnsw (b bit_hamming_ops);
SQL
answers="SET enable_seqscan = off; SET hnsw.ef_search = 100; SET ivfflat.probes = 5;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 3) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY v <=> (SELECT v FROM t WHERE id = 4) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY h <#> (SELECT h FROM t WHERE id = 5) LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY s <+> (SELECT s FROM t WHERE id = 6), id LIMIT 10) q;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY b <~> (SELECT b FROM t WHERE id = 7), id LIMIT 10) q;
SELECT avg(v)::text, sum(h)::text FROM t;"
# every object of the extension with its definition (functions: arguments,
# result, C symbol and flags; operators; opclasses; types; the access methods)
objects="SELECT pg_describe_object(classid, objid, objsubid) || coalesce(' = ' || (
           SELECT format('%s -> %s [%s %s %s %s]', pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
                         p.prosrc, p.provolatile, p.proisstrict, p.proparallel)
           FROM pg_proc p WHERE classid = 'pg_proc'::regclass AND p.oid = objid), '')
         FROM pg_depend WHERE refclassid = 'pg_extension'::regclass
           AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ruvector_pg') AND deptype = 'e'
         ORDER BY 1"
before=$(echo "$answers" | "${P[@]}" -d old -At)
"${P[@]}" -d old -c "ALTER EXTENSION ruvector_pg UPDATE"
version=$("${P[@]}" -d old -Atc "SELECT extversion FROM pg_extension WHERE extname = 'ruvector_pg'")
after=$(echo "$answers" | "${P[@]}" -d old -At)
checks=$("${P[@]}" -d old -Atc "SELECT string_agg((ruvector_index_check(c) LIKE 'ok:%')::text, ',') FROM unnest(ARRAY['t_v','t_h','t_s','t_b']::regclass[]) c")
"${P[@]}" -d fresh -c "CREATE EXTENSION ruvector_pg"
updated_objects=$("${P[@]}" -d old -At -c "$objects")
fresh_objects=$("${P[@]}" -d fresh -At -c "$objects")
n=$("${P[@]}" -d fresh -Atc "SELECT count(*) FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ruvector_pg')")
ok=1
[ "$version" = "$current" ] || { echo "upgrade: extversion is $version, expected $current"; ok=0; }
[ "$before" = "$after" ] || { echo "upgrade: answers changed"; diff <(echo "$before") <(echo "$after") || true; ok=0; }
[ "$checks" = "true,true,true,true" ] || { echo "upgrade: ruvector_index_check after the update: $checks"; ok=0; }
[ "$updated_objects" = "$fresh_objects" ] || { echo "upgrade: objects differ from a fresh $current install"; diff <(echo "$updated_objects") <(echo "$fresh_objects") | head -20 || true; ok=0; }
echo "upgrade: 0.1.0 -> $version; 6 answers unchanged, 4 hnsw indexes pass the check, $n extension objects identical to a fresh install"
[ "$ok" = 1 ]
