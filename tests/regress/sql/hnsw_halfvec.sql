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

-- from 1,024 dimensions the vector cache of a halfvec index holds SQ8 copies
-- (a byte per element instead of two): searches measure approximately, then
-- measure what they return again from the pages, so rows still come back in
-- exact distance order, and recall is as without the cache
CREATE TABLE hwide (id int, v halfvec(1100));
INSERT INTO hwide SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 1100) WHERE i > 0)::halfvec FROM generate_series(1, 800) i;
CREATE TABLE hwide_q AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 1100) WHERE i > 0)::halfvec(1100) AS v FROM generate_series(1, 15) i;
-- (rows come in the order of what the index measures: under cosine, as in
-- pgvector, the inner product of the vectors normalised to binary16, which
-- the operator's own value can put a rounding out of order)
CREATE FUNCTION hwide_check(opclass text, operator text, measure text) RETURNS TABLE (op text, rows_in_exact_order bool, recall_as_full_precision bool, cache_holds_sq8 bool)
LANGUAGE plpgsql AS $$
DECLARE
    ordered_sql text := format('SELECT bool_and(d >= coalesce(prev, d)) FROM hwide_q q, LATERAL (
        SELECT d, lag(d) OVER (ORDER BY r) AS prev FROM (SELECT d, row_number() OVER () AS r FROM
            (SELECT %2$s AS d FROM hwide t ORDER BY t.v %1$s q.v LIMIT 10) s) x) y', operator, measure);
    hits_sql text := format('SELECT count(*) FROM hwide_q q, LATERAL (SELECT id FROM hwide t ORDER BY t.v %1$s q.v LIMIT 10) a
        WHERE a.id IN (SELECT id FROM (SELECT id, t.v %1$s q.v AS d FROM hwide t OFFSET 0) e ORDER BY d LIMIT 10)', operator);
    cached bigint;
    uncached bigint;
BEGIN
    EXECUTE format('CREATE INDEX hwide_idx ON hwide USING hnsw (v %s)', opclass);
    PERFORM set_config('enable_seqscan', 'off', true);
    PERFORM assert_plan(hits_sql, true);
    EXECUTE ordered_sql INTO rows_in_exact_order;
    EXECUTE hits_sql INTO cached;
    SELECT bool_and(bytes < vectors * 1500 AND vectors > 0) INTO cache_holds_sq8
    FROM ruvector_hnsw_cache_info() WHERE index = 'hwide_idx'::regclass;
    PERFORM set_config('hnsw.vector_cache_size', '0', true);
    EXECUTE hits_sql INTO uncached;
    PERFORM set_config('hnsw.vector_cache_size', '64MB', true);
    PERFORM set_config('enable_seqscan', 'on', true);
    DROP INDEX hwide_idx;
    op := operator;
    recall_as_full_precision := cached >= uncached - 6;
    RETURN NEXT;
END $$;
SELECT * FROM hwide_check('halfvec_l2_ops', '<->', 't.v <-> q.v');
SELECT * FROM hwide_check('halfvec_ip_ops', '<#>', 't.v <#> q.v');
SELECT * FROM hwide_check('halfvec_cosine_ops', '<=>', 'l2_normalize(t.v) <#> l2_normalize(q.v)');
SELECT * FROM hwide_check('halfvec_l1_ops', '<+>', 't.v <+> q.v');
DROP FUNCTION hwide_check(text, text, text);
-- near-twins SQ8 cannot tell apart (one element 0.001 higher, two binary16
-- steps but a quarter of an SQ8 step; inserted first, so they would win the
-- ties): only the measuring again puts each row before its twin
CREATE TABLE hwide_twins AS SELECT id + 10000 AS id, v FROM hwide WHERE id <= 20;
UPDATE hwide_twins SET v = (SELECT array_agg(CASE WHEN k = 1 THEN x + 0.001 ELSE x END ORDER BY k)
    FROM unnest(v::real[]) WITH ORDINALITY u(x, k))::halfvec;
CREATE TABLE hwide2 (id int, v halfvec(1100));
INSERT INTO hwide2 SELECT * FROM hwide_twins;
INSERT INTO hwide2 SELECT * FROM hwide;
CREATE INDEX hwide2_l2 ON hwide2 USING hnsw (v halfvec_l2_ops);
SET enable_seqscan = off;
SELECT bool_and((SELECT id FROM hwide2 b ORDER BY b.v <-> a.v LIMIT 1) = a.id) AS every_row_before_its_twin
FROM hwide a WHERE id <= 20;
-- rows inserted into the built index (their neighbours found through the
-- SQ8 copies) are found by their own vectors, and the index checks
INSERT INTO hwide2 SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 1100) WHERE i > 0)::halfvec FROM generate_series(2001, 2100) i;
SELECT bool_and((SELECT id FROM hwide2 b ORDER BY b.v <-> a.v LIMIT 1) = a.id) AS inserted_rows_find_themselves
FROM hwide2 a WHERE id > 2000;
RESET enable_seqscan;
SELECT ruvector_index_check('hwide2_l2') LIKE 'ok: 920 elements%' AS wide_check_ok;
DROP TABLE hwide, hwide_q, hwide_twins, hwide2;

DROP TABLE hitems, hq, hc, hbig, docs;
