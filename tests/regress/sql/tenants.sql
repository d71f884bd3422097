-- Many tenants, queried one at a time (docs/filtered-search.md): a table
-- partitioned by tenant, each partition with its own hnsw index.
CREATE TABLE docs (tenant int, id int, v ruvector(8), PRIMARY KEY (tenant, id)) PARTITION BY HASH (tenant);
SELECT format('CREATE TABLE docs_%s PARTITION OF docs FOR VALUES WITH (MODULUS 8, REMAINDER %s)', r, r)
FROM generate_series(0, 7) r \gexec
-- components from md5, so that the exact top 10 is one set of rows (a linear
-- formula here once made 40 rows tie for nearest, and recall judged which 10
-- of them came back): the 10th and 11th nearest differ
INSERT INTO docs SELECT t, i, (SELECT array_agg(('x' || left(md5(t || ':' || i || ':' || k), 8))::bit(32)::bigint / 4294967296.0)
    FROM generate_series(1, 8) k)::ruvector
FROM generate_series(1, 1000) t, generate_series(1, 20) i;
SELECT d[10] < d[11] AS top_10_is_one_set
FROM (SELECT array_agg(v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]') d FROM docs) s;
CREATE INDEX ON docs USING hnsw (v vector_l2_ops);
ANALYZE docs;
\set q '''[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]'''
-- one tenant (20 rows of 20,000): pruned to its partition, answered exactly
EXPLAIN (costs off) SELECT id FROM docs WHERE tenant = 42 ORDER BY v <-> :q LIMIT 10;
SELECT recall, rows_returned FROM ruvector_recall($$SELECT id FROM docs WHERE tenant = 42 ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10$$);
-- every tenant: the partitions' ordered index scans merged
EXPLAIN (costs off) SELECT tenant, id FROM docs ORDER BY v <-> :q LIMIT 10;
SET hnsw.ef_search = 100;
SELECT recall >= 0.9 AS merged_recall_ok, vector_index IS NOT NULL AS used_the_indexes
FROM ruvector_recall($$SELECT tenant, id FROM docs ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10$$);
RESET hnsw.ef_search;
DROP TABLE docs;

-- a large tenant in a list partition of its own: its query scans only that
-- partition's index (the filter, true for every row there, removes nothing)
CREATE TABLE big (tenant int, id int, v ruvector(8)) PARTITION BY LIST (tenant);
CREATE TABLE big_7 PARTITION OF big FOR VALUES IN (7);
CREATE TABLE big_rest PARTITION OF big DEFAULT;
INSERT INTO big SELECT CASE WHEN i <= 5000 THEN 7 ELSE i % 50 + 100 END, i,
    (SELECT array_agg(((i * 7919 + k * 104729) % 1000) / 1000.0) FROM generate_series(1, 8) k)::ruvector
FROM generate_series(1, 10000) i;
CREATE INDEX ON big USING hnsw (v vector_l2_ops);
ANALYZE big;
EXPLAIN (costs off) SELECT id FROM big WHERE tenant = 7 ORDER BY v <-> :q LIMIT 10;
DROP TABLE big;
