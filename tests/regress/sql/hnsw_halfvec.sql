-- hnsw on halfvec: every opclass, high dimensions, and an expression index
-- over a ruvector column.

SELECT setseed(0.3);
CREATE TABLE hc AS SELECT c, (SELECT array_agg(random() * 4 - 2) FROM generate_series(1, 24) WHERE c > 0) AS x FROM generate_series(1, 30) c;
CREATE TABLE hitems (id int PRIMARY KEY, v halfvec(24));
INSERT INTO hitems SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 24) k)::halfvec
FROM generate_series(1, 3000) i JOIN hc ON c = 1 + i % 30;
CREATE TABLE hq AS SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 24) k)::halfvec(24) AS v
FROM generate_series(1, 40) i JOIN hc ON c = 1 + (i * 7) % 30;

CREATE INDEX hitems_l2 ON hitems USING hnsw (v halfvec_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hitems ORDER BY v <-> (SELECT v FROM hq WHERE i = 1) LIMIT 5;
RESET enable_seqscan;
SELECT recall_at_10('hq', 'hitems', '<->') >= 0.95 AS l2_ok, ruvector_index_check('hitems_l2') LIKE 'ok: 3000 elements%' AS check_ok;
INSERT INTO hitems SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 24) k)::halfvec
FROM generate_series(3001, 4000) i JOIN hc ON c = 1 + i % 30;
SELECT recall_at_10('hq', 'hitems', '<->') >= 0.95 AS l2_after_inserts_ok;
DROP INDEX hitems_l2;
CREATE INDEX ON hitems USING hnsw (v halfvec_ip_ops);
SELECT recall_at_10('hq', 'hitems', '<#>') >= 0.7 AS ip_ok;
CREATE INDEX ON hitems USING hnsw (v halfvec_cosine_ops);
SELECT recall_at_10('hq', 'hitems', '<=>') >= 0.95 AS cosine_ok;
CREATE INDEX ON hitems USING hnsw (v halfvec_l1_ops);
SELECT recall_at_10('hq', 'hitems', '<+>') >= 0.95 AS l1_ok;

-- distances come from the stored binary16 values, exactly as the operator computes them
SET enable_seqscan = off;
SELECT bool_and(abs(d - (v <+> (SELECT v FROM hq WHERE i = 2))) = 0) AS same_distances FROM (
    SELECT v, v <+> (SELECT v FROM hq WHERE i = 2) AS d FROM hitems ORDER BY v <+> (SELECT v FROM hq WHERE i = 2) LIMIT 10) s;
RESET enable_seqscan;

-- 8,000 dimensions (pgvector stops at 4,000 for halfvec)
CREATE TABLE hbig (id int, v halfvec(8000));
INSERT INTO hbig SELECT i, (SELECT array_agg(sin(i * k)) FROM generate_series(1, 8000) k)::halfvec FROM generate_series(1, 100) i;
CREATE INDEX hbig_l2 ON hbig USING hnsw (v halfvec_l2_ops);
SELECT ruvector_index_check('hbig_l2') LIKE 'ok: 100 elements%' AS big_check_ok;
-- These 100 vectors are nearly equidistant, the worst case for graph search,
-- so ef_search covers the whole graph: what is tested is that 16,000-byte
-- values are stored, chunked and compared exactly.
SET hnsw.ef_search = 100;
SET enable_seqscan = off;
SELECT bool_and((SELECT id FROM hbig b ORDER BY b.v <-> a.v LIMIT 1) = a.id) AS every_row_finds_itself FROM hbig a;
RESET enable_seqscan;
RESET hnsw.ef_search;

-- an expression index on a ruvector column, used by a query with the same expression
CREATE TABLE docs (id int, embedding ruvector(24));
INSERT INTO docs SELECT id, v::ruvector FROM hitems;
CREATE INDEX docs_half ON docs USING hnsw ((embedding::halfvec(24)) halfvec_cosine_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY embedding::halfvec(24) <=> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24]' LIMIT 5;
SELECT count(*) AS rows_returned FROM (SELECT id FROM docs ORDER BY embedding::halfvec(24) <=> (SELECT v FROM hq WHERE i = 3) LIMIT 10) s;
RESET enable_seqscan;

DROP TABLE hitems, hq, hc, hbig, docs;
