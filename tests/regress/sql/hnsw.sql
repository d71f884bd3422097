-- hnsw index access method on ruvector: SQL surface, errors, correctness, recall.

-- clustered data: 40 centres, 16 dims, deterministic (and single-threaded
-- builds, so the graphs are too; threaded builds are tested elsewhere)
SET max_parallel_maintenance_workers = 0;
SELECT setseed(0.42);
CREATE TABLE centres AS SELECT c, (SELECT array_agg(random() * 4 - 2) FROM generate_series(1, 16) WHERE c > 0) AS x FROM generate_series(1, 40) c;
-- no autovacuum: the test's own VACUUMs decide where reinserted rows go
CREATE TABLE items (id int PRIMARY KEY, v ruvector(16)) WITH (autovacuum_enabled = off);
INSERT INTO items SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 16) k)::ruvector
FROM generate_series(1, 5000) i JOIN centres ON c = 1 + i % 40;
CREATE TABLE queries AS SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 16) k)::ruvector(16) AS v
FROM generate_series(1, 50) i JOIN centres ON c = 1 + (i * 7) % 40;

-- the planner uses the index for ORDER BY ... LIMIT, and not otherwise
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' < 1;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
RESET enable_seqscan;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS l2_recall_ok;
SELECT ruvector_index_check('items_l2') LIKE 'ok: 5000 elements (0 deleted, 0 unreachable%' AS check_after_build;

-- inserts after the build (about a third of the rows) keep recall
INSERT INTO items SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 16) k)::ruvector
FROM generate_series(5001, 7500) i JOIN centres ON c = 1 + i % 40;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS l2_recall_after_inserts_ok;
SELECT ruvector_index_check('items_l2') LIKE 'ok: 7500 elements (0 deleted, 0 unreachable%' AS check_after_inserts;

-- every opclass (inner product is not a metric and these vectors' norms vary,
-- so HNSW finds fewer of the true top 10 by inner product: ~0.8 here at the
-- default ef_search, ~0.95 at 200)
CREATE INDEX items_ip ON items USING hnsw (v vector_ip_ops);
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops);
CREATE INDEX items_l1 ON items USING hnsw (v vector_l1_ops);
SELECT recall_at_10('queries', 'items', '<#>') >= 0.7 AS ip_recall_ok,
       recall_at_10('queries', 'items', '<=>') >= 0.95 AS cosine_recall_ok,
       recall_at_10('queries', 'items', '<+>') >= 0.95 AS l1_recall_ok;
DROP INDEX items_ip, items_cos, items_l1;

-- ef_search: a wider search does not lose recall
SET hnsw.ef_search = 200;
SELECT recall_at_10('queries', 'items', '<->') >= 0.99 AS wide_recall_ok;
RESET hnsw.ef_search;

-- results come back in distance order, with the distances of a seq scan
SET enable_seqscan = off;
SELECT bool_and(d >= prev) AS ordered FROM (
    SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev FROM (
        SELECT row_number() OVER () AS n, v <-> (SELECT v FROM queries WHERE i = 1) AS d
        FROM (SELECT v FROM items ORDER BY v <-> (SELECT v FROM queries WHERE i = 1) LIMIT 20) s) t) u;
RESET enable_seqscan;

-- NULLs are not indexed (ORDER BY a NULL distance is planned without the index)
INSERT INTO items VALUES (9001, NULL);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> NULL LIMIT 5) s;
RESET enable_seqscan;

-- duplicates: 1,500 identical rows are all returned
CREATE TABLE dup (id int, v ruvector(3));
INSERT INTO dup SELECT i, '[1,1,1]' FROM generate_series(1, 1000) i;
INSERT INTO dup SELECT i, ARRAY[random(), random(), random()] FROM generate_series(1001, 2000) i;
CREATE INDEX ON dup USING hnsw (v);
INSERT INTO dup SELECT i, '[1,1,1]' FROM generate_series(2001, 2500) i;
SET enable_seqscan = off;
SET hnsw.ef_search = 10;
SELECT count(*) AS identical_rows_found FROM (SELECT id FROM dup ORDER BY v <-> '[1,1,1]' LIMIT 1500) s;
RESET hnsw.ef_search;
RESET enable_seqscan;

-- cosine skips zero vectors
CREATE TABLE cz (id int, v ruvector(2));
INSERT INTO cz VALUES (1, '[0,0]'), (2, '[1,0]'), (3, '[0,1]');
CREATE INDEX ON cz USING hnsw (v vector_cosine_ops);
INSERT INTO cz VALUES (4, '[0,0]'), (5, '[1,1]');
SET enable_seqscan = off;
SELECT id FROM cz ORDER BY v <=> '[1,0.1]' LIMIT 10;
RESET enable_seqscan;

-- 4,096 dimensions (vectors span pages): each row finds itself through the index
CREATE TABLE big (id int, v ruvector(4096));
INSERT INTO big SELECT i, (SELECT array_agg(sin(i * k)) FROM generate_series(1, 4096) k)::ruvector FROM generate_series(1, 200) i;
CREATE INDEX ON big USING hnsw (v vector_l2_ops);
INSERT INTO big SELECT i, (SELECT array_agg(sin(i * k)) FROM generate_series(1, 4096) k)::ruvector FROM generate_series(201, 300) i;
SET enable_indexscan = off;
CREATE TEMP TABLE big_exact AS SELECT q.id AS qid, array_agg(b.id ORDER BY b.v <-> q.v) AS ids
FROM big q, LATERAL (SELECT id, v FROM big ORDER BY v <-> q.v LIMIT 1) b WHERE q.id IN (42, 250) GROUP BY q.id;
RESET enable_indexscan;
SET enable_seqscan = off;
SELECT qid, ids = (SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = qid) LIMIT 1) s) AS index_finds_the_row_itself
FROM big_exact ORDER BY qid;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 42) LIMIT 3;
-- searches measure against SQ8 cache copies, then re-measure what they return
-- from the pages (chunk by chunk): rows come back in exact distance order
SELECT bool_and(d >= coalesce(prev, 0)) AS big_rows_in_exact_order FROM (
    SELECT d, lag(d) OVER (PARTITION BY qid ORDER BY r) AS prev FROM (
        SELECT q.id AS qid, l2_distance(b.v, q.v) AS d, b.r FROM big q, LATERAL (
            SELECT v, row_number() OVER () AS r FROM (SELECT v FROM big ORDER BY v <-> q.v LIMIT 10) s) b
        WHERE q.id IN (7, 99, 260)) x) y;
RESET enable_seqscan;

-- empty table, then inserts; unlogged tables
CREATE UNLOGGED TABLE ul (id int, v ruvector);
CREATE INDEX ON ul USING hnsw (v);
INSERT INTO ul SELECT i, ARRAY[i, i + 1] FROM generate_series(1, 100) i;
SET enable_seqscan = off;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ul ORDER BY v <-> '[50,51]' LIMIT 3) s;
RESET enable_seqscan;
SELECT error_of($$INSERT INTO ul VALUES (101, '[1,2,3]')$$);

-- VACUUM removes dead rows from the index
DELETE FROM items WHERE id % 2 = 0;
VACUUM items;
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE id % 2 = 0) AS deleted_rows_returned, count(*) AS returned
FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries WHERE i = 3) LIMIT 20) s;
RESET enable_seqscan;
-- the graph is repaired around the removed elements: recall within one point
-- of a fresh build on the same rows, and the removed elements are gone (ids
-- are assigned to clusters round-robin, so this deleted whole clusters: the
-- hard case, where queries near them must find their way to other clusters)
CREATE TABLE fresh AS SELECT * FROM items;
CREATE INDEX fresh_l2 ON fresh USING hnsw (v vector_l2_ops);
SELECT recall_at_10('queries', 'items', '<->') >= recall_at_10('queries', 'fresh', '<->') - 0.01 AS vacuumed_recall_near_fresh;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS recall_after_vacuum_ok;
SELECT ruvector_index_check('items_l2') LIKE 'ok: 3750 elements (0 deleted, 0 unreachable%' AS check_after_vacuum;
DROP TABLE fresh;
-- delete everything, vacuum, insert the same rows again: the freed space is
-- reused (in random order: rows inserted one cluster after another make a
-- poorer graph, vacuumed or not; see docs/hnsw.md)
SELECT setseed(0.5);
CREATE TABLE saved AS SELECT * FROM items ORDER BY random();
SELECT pg_relation_size('items_l2') AS size_before \gset
DELETE FROM items;
VACUUM items;
SELECT ruvector_index_check('items_l2') LIKE 'ok: 0 elements%' AS empty_after_vacuum;
INSERT INTO items SELECT * FROM saved;
SELECT pg_relation_size('items_l2') <= :size_before * 1.1 AS size_kept_after_reinsert;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS recall_after_reinsert_ok;
SELECT ruvector_index_check('items_l2') LIKE 'ok: 3750 elements (0 deleted, 0 unreachable%' AS check_after_reinsert;
DROP TABLE saved;

-- the per-backend vector cache: searches fill it, and results are the same
-- with it off, also after VACUUM freed elements whose TIDs new rows reuse
CREATE TABLE cache_t (id int, v ruvector(16));
INSERT INTO cache_t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 2000) i;
CREATE INDEX cache_t_idx ON cache_t USING hnsw (v vector_l2_ops);
CREATE TABLE cache_q AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::ruvector(16) AS v FROM generate_series(1, 30) i;
CREATE FUNCTION cache_answers() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(ids, ';' ORDER BY i) FROM (
        SELECT q.i, (SELECT string_agg(id::text, ',') FROM (SELECT id FROM cache_t t ORDER BY t.v <-> q.v LIMIT 10) s) AS ids
        FROM cache_q q) a $$;
SET enable_seqscan = off;
SELECT cache_answers() AS first_answers \gset
SELECT vectors > 0 AND hits > 0 AS cache_used FROM ruvector_hnsw_cache_info() WHERE index = 'cache_t_idx'::regclass;
SET hnsw.vector_cache_size = 0;
SELECT cache_answers() = :'first_answers' AS same_without_cache;
RESET hnsw.vector_cache_size;
-- cached neighbour lists follow inserts: rows inserted at the queries (where
-- the searches above cached the lists) are found by the next searches in the
-- same transaction; the unlogged table's inserts write no WAL, so its index
-- must not trust cached lists at all
CREATE UNLOGGED TABLE cache_u AS SELECT * FROM cache_t;
CREATE INDEX cache_u_idx ON cache_u USING hnsw (v vector_l2_ops);
CREATE FUNCTION found_inserted(t regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM cache_q q WHERE (SELECT id FROM %s t ORDER BY t.v <-> q.v LIMIT 1) = 100000 + q.i', t) INTO n;
    RETURN n;
END $$;
-- (a backend caches one index at a time: each table is searched, changed
-- and searched again before the other)
BEGIN;
SELECT found_inserted('cache_t') AS logged_before;
INSERT INTO cache_t SELECT 100000 + i, v FROM cache_q;
SELECT found_inserted('cache_t') AS logged_after;
SELECT found_inserted('cache_u') AS unlogged_before;
INSERT INTO cache_u SELECT 100000 + i, v FROM cache_q;
SELECT found_inserted('cache_u') AS unlogged_after;
ROLLBACK;
DROP TABLE cache_u;
DROP FUNCTION found_inserted(regclass);
-- from 256 dimensions the cache holds SQ8 copies (a byte per element):
-- searches measure approximately, then re-measure what they return, so rows
-- still come back in exact distance order; on vectors SQ8 holds exactly
-- (integers spanning at most 255) the answers equal those without the cache
CREATE TABLE half_t (id int, v ruvector(300), w ruvector(300));
INSERT INTO half_t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0),
    (SELECT array_agg(floor(random() * 16)) FROM generate_series(1, 300) WHERE i > 0) FROM generate_series(1, 1500) i;
CREATE INDEX half_v ON half_t USING hnsw (v vector_l2_ops);
CREATE TABLE half_q AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0)::ruvector(300) AS v,
    (SELECT array_agg(floor(random() * 16)) FROM generate_series(1, 300) WHERE i > 0)::ruvector(300) AS w FROM generate_series(1, 20) i;
CREATE FUNCTION half_answers(col text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE out text[];
BEGIN
    EXECUTE format('SELECT array_agg(ids ORDER BY i) FROM (SELECT q.i, (SELECT string_agg(id::text, '','') FROM
        (SELECT id FROM half_t t ORDER BY t.%1$s <-> q.%1$s LIMIT 10) s) AS ids FROM half_q q) a', col) INTO out;
    RETURN out;
END $$;
-- ordered: each query's 10 rows by non-decreasing true distance
SELECT bool_and(ordered) AS half_cache_rows_in_exact_order FROM (
    SELECT q.i, bool_and(d >= coalesce(prev, 0)) AS ordered FROM half_q q, LATERAL (
        SELECT d, lag(d) OVER (ORDER BY r) AS prev FROM (
            SELECT l2_distance(t.v, q.v) AS d, row_number() OVER () AS r FROM
                (SELECT v FROM half_t t ORDER BY t.v <-> q.v LIMIT 10) t) x) y GROUP BY q.i) z;
SELECT bytes < vectors * 600 AND vectors > 0 AS half_cache_holds_sq8
FROM ruvector_hnsw_cache_info() WHERE index = 'half_v'::regclass;
-- recall (true top-10 rows found, of 200) with SQ8 copies against full
-- precision (uniform 300-d data is hard: about 150-170 either way)
CREATE FUNCTION half_hits() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM half_q q, LATERAL (SELECT id FROM half_t t ORDER BY t.v <-> q.v LIMIT 10) a
    WHERE a.id IN (SELECT id FROM half_t t ORDER BY l2_distance(t.v, q.v) LIMIT 10) $$;
SELECT half_hits() AS half_cached_hits \gset
SET hnsw.vector_cache_size = 0;
SELECT :half_cached_hits >= half_hits() - 6 AS half_cache_recall_as_full_precision;
RESET hnsw.vector_cache_size;
DROP FUNCTION half_hits();
-- the other opclasses over SQ8 copies: rows in exact order, recall as with
-- full precision
CREATE FUNCTION half_check(operator text) RETURNS TABLE (op text, rows_in_exact_order bool, recall_as_full_precision bool)
LANGUAGE plpgsql AS $$
DECLARE
    ordered_sql text := format('SELECT bool_and(d >= coalesce(prev, d)) FROM half_q q, LATERAL (
        SELECT d, lag(d) OVER (ORDER BY r) AS prev FROM (SELECT d, row_number() OVER () AS r FROM
            (SELECT t.v %1$s q.v AS d FROM half_t t ORDER BY t.v %1$s q.v LIMIT 10) s) x) y', operator);
    hits_sql text := format('SELECT count(*) FROM half_q q, LATERAL (SELECT id FROM half_t t ORDER BY t.v %1$s q.v LIMIT 10) a
        WHERE a.id IN (SELECT id FROM (SELECT id, t.v %1$s q.v AS d FROM half_t t OFFSET 0) e ORDER BY d LIMIT 10)', operator);
    cached bigint;
    uncached bigint;
BEGIN
    PERFORM set_config('enable_seqscan', 'off', true);
    PERFORM assert_plan(hits_sql, true);
    EXECUTE ordered_sql INTO rows_in_exact_order;
    EXECUTE hits_sql INTO cached;
    PERFORM set_config('hnsw.vector_cache_size', '0', true);
    EXECUTE hits_sql INTO uncached;
    PERFORM set_config('hnsw.vector_cache_size', '64MB', true);
    PERFORM set_config('enable_seqscan', 'on', true);
    op := operator;
    recall_as_full_precision := cached >= uncached - 6;
    RETURN NEXT;
END $$;
DROP INDEX half_v;
CREATE INDEX half_ip ON half_t USING hnsw (v vector_ip_ops);
SELECT * FROM half_check('<#>');
DROP INDEX half_ip;
CREATE INDEX half_cos ON half_t USING hnsw (v vector_cosine_ops);
SELECT * FROM half_check('<=>');
DROP INDEX half_cos;
CREATE INDEX half_l1 ON half_t USING hnsw (v vector_l1_ops);
SELECT * FROM half_check('<+>');
DROP INDEX half_l1;
DROP FUNCTION half_check(text);
CREATE INDEX half_v ON half_t USING hnsw (v vector_l2_ops);
-- near-twins SQ8 cannot tell apart (inserted first, so lower TIDs win
-- ties): only the re-measuring puts each row before its twin
CREATE TABLE twins AS SELECT id + 10000 AS id, v FROM half_t WHERE id <= 20;
UPDATE twins SET v = (SELECT array_agg(CASE WHEN k = 1 THEN x + 0.0001 ELSE x END ORDER BY k)
    FROM unnest(v::real[]) WITH ORDINALITY u(x, k))::ruvector;
TRUNCATE half_t;
INSERT INTO half_t (id, v) SELECT id, v FROM twins;
INSERT INTO half_t (id, v) SELECT id - 10000, v FROM twins;
UPDATE half_t SET v = (SELECT array_agg(CASE WHEN k = 1 THEN x - 0.0001 ELSE x END ORDER BY k)
    FROM unnest(v::real[]) WITH ORDINALITY u(x, k))::ruvector WHERE id <= 20;
INSERT INTO half_t (id, v, w) SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0),
    (SELECT array_agg(floor(random() * 16)) FROM generate_series(1, 300) WHERE i > 0) FROM generate_series(21, 1500) i;
REINDEX INDEX half_v;
SELECT count(*) AS rows_before_their_twins FROM half_t o
WHERE o.id <= 20 AND (SELECT id FROM half_t t ORDER BY t.v <-> o.v LIMIT 1) = o.id;
DROP TABLE twins;
DROP INDEX half_v;
CREATE INDEX half_w ON half_t USING hnsw (w vector_l2_ops);
SELECT half_answers('w') AS half_exact \gset
SET hnsw.vector_cache_size = 0;
SELECT half_answers('w') = :'half_exact'::text[] AS half_cache_exact_values_same_answers;
RESET hnsw.vector_cache_size;
DROP TABLE half_t, half_q;
DROP FUNCTION half_answers(text);
DELETE FROM cache_t;
VACUUM cache_t;
INSERT INTO cache_t SELECT i, (SELECT array_agg(random() * 2) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 2000) i;
SELECT cache_answers() AS cached_answers \gset
SET hnsw.vector_cache_size = 0;
SELECT cache_answers() = :'cached_answers' AS same_after_vacuum_and_reuse;
RESET hnsw.vector_cache_size;
RESET enable_seqscan;
DROP TABLE cache_t, cache_q;
DROP FUNCTION cache_answers();
SELECT error_of($$SELECT ruvector_index_check('items_pkey')$$);

-- options and their errors (pgvector's)
SELECT q, error_of(q) FROM (VALUES
    ($$CREATE INDEX ON items USING hnsw (v) WITH (m = 1)$$),
    ($$CREATE INDEX ON items USING hnsw (v) WITH (m = 101)$$),
    ($$CREATE INDEX ON items USING hnsw (v) WITH (ef_construction = 3)$$),
    ($$CREATE INDEX ON items USING hnsw (v) WITH (ef_construction = 1001)$$),
    ($$CREATE INDEX ON items USING hnsw (v) WITH (m = 16, ef_construction = 31)$$),
    ($$CREATE INDEX ON items USING hnsw (v) WITH (foo = 1)$$),
    ($$SET hnsw.ef_search = 0$$),
    ($$SET hnsw.ef_search = 1001$$),
    ($$SET hnsw.iterative_scan = sometimes$$)
) t(q);
CREATE INDEX items_opts ON items USING hnsw (v) WITH (m = 8, ef_construction = 40);
SELECT reloptions FROM pg_class WHERE relname = 'items_opts';
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
SHOW hnsw.max_scan_tuples;
SHOW hnsw.scan_mem_multiplier;

-- iterative scans return exactly LIMIT rows when a filter removes most candidates
SET enable_seqscan = off;
SET hnsw.ef_search = 10;
SELECT count(*) <= 10 AS filtered_off_returns_at_most_ef FROM (SELECT id FROM items WHERE id % 10 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE i = 5) LIMIT 30) s;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) AS filtered_relaxed FROM (SELECT id FROM items WHERE id % 10 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE i = 5) LIMIT 30) s;
SET hnsw.iterative_scan = strict_order;
SELECT count(*) AS filtered_strict FROM (SELECT id FROM items WHERE id % 10 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE i = 5) LIMIT 30) s;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;

-- an iterative scan stops widening at work_mem × hnsw.scan_mem_multiplier
SET hnsw.iterative_scan = relaxed_order;
SET work_mem = '64kB';
SELECT count(*) FILTER (WHERE id % 50 = 1) AS rows_to_find FROM items;
SELECT count(*) BETWEEN 1 AND 99 AS stops_within_memory FROM (SELECT id FROM items WHERE id % 50 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE i = 5) LIMIT 100) s;
SET hnsw.scan_mem_multiplier = 1000;
SELECT count(*) AS finds_all_with_more_memory FROM (SELECT id FROM items WHERE id % 50 = 1 ORDER BY v <-> (SELECT v FROM queries WHERE i = 5) LIMIT 100) s;
RESET hnsw.scan_mem_multiplier;
RESET work_mem;
RESET hnsw.iterative_scan;
RESET enable_seqscan;

-- a build that outgrows maintenance_work_mem says so, writes the graph built
-- so far and inserts the remaining rows one by one; the index stays whole
SET maintenance_work_mem = '1MB';
CREATE TABLE spill (id int, v ruvector(128));
INSERT INTO spill SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 128) WHERE i > 0) FROM generate_series(1, 3000) i;
CREATE INDEX spill_hnsw ON spill USING hnsw (v vector_l2_ops);
RESET maintenance_work_mem;
SELECT ruvector_index_check('spill_hnsw') LIKE 'ok: 3000 elements (0 deleted, 0 unreachable%' AS spill_check_ok;
SET enable_seqscan = off;
SELECT count(*) <= 30 AS spill_rows_find_themselves FROM spill t WHERE t.id NOT IN (SELECT id FROM spill ORDER BY v <-> t.v LIMIT 1);
RESET enable_seqscan;
DROP TABLE spill;

DROP TABLE items, queries, centres, dup, cz, big, ul;

-- Inserts keep every element reachable, even with the tightest lists: a
-- full neighbour list hands the link it gives up to the newcomer, and a
-- newcomer no list accepts displaces its nearest neighbour's farthest link.
CREATE TABLE tight (id serial, v ruvector(16));
INSERT INTO tight (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 200) i;
CREATE INDEX tight_hnsw ON tight USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8);
INSERT INTO tight (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0) FROM generate_series(1, 3000) i;
SELECT ruvector_index_check('tight_hnsw') LIKE 'ok: 3200 elements (0 deleted, 0 unreachable%' AS all_reachable;
-- and after VACUUM removed a third of them: with so few links, some live
-- elements were reachable only through deleted ones (VACUUM relinks them)
DELETE FROM tight WHERE id % 3 = 0;
VACUUM tight;
SELECT ruvector_index_check('tight_hnsw') LIKE 'ok: 2134 elements (0 deleted, 0 unreachable%' AS all_reachable_after_vacuum;
DROP TABLE tight;

-- The check compares the graph with the table: a row no element holds (here
-- inserted while indisready was off, as a failed CREATE INDEX CONCURRENTLY
-- leaves an index) is reported until REINDEX; a filter column, NULL vectors
-- and a zero vector under cosine are no violation.
CREATE TABLE hgap (id int, cat int, v ruvector(8));
INSERT INTO hgap SELECT i, i % 5, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0)::ruvector FROM generate_series(1, 300) i;
INSERT INTO hgap VALUES (1001, 1, NULL), (1002, NULL, array_fill(0::real, ARRAY[8])::ruvector);
CREATE INDEX hgap_idx ON hgap USING hnsw (v vector_cosine_ops, cat);
SELECT ruvector_index_check('hgap_idx') LIKE 'ok: 300 elements (0 deleted, 0 unreachable%' AS check_ok;
UPDATE pg_index SET indisready = false WHERE indexrelid = 'hgap_idx'::regclass;
INSERT INTO hgap SELECT 2000 + i, 1, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0)::ruvector FROM generate_series(1, 4) i;
UPDATE pg_index SET indisready = true WHERE indexrelid = 'hgap_idx'::regclass;
SELECT regexp_replace(error_of($$SELECT ruvector_index_check('hgap_idx')$$), '\(\d+,\d+\)', 'TID') AS missing_rows;
REINDEX INDEX hgap_idx;
SELECT ruvector_index_check('hgap_idx') LIKE 'ok: 304 elements (0 deleted, 0 unreachable%' AS check_ok_after_reindex;
DROP TABLE hgap;
