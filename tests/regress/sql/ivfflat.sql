-- ivfflat index access method: SQL surface, errors, correctness, recall.

-- clustered data: 40 centres, 16 dims, deterministic
SELECT setseed(0.24);
CREATE TABLE centres AS SELECT c, (SELECT array_agg(random() * 4 - 2) FROM generate_series(1, 16) WHERE c > 0) AS x FROM generate_series(1, 40) c;
CREATE TABLE items (id int PRIMARY KEY, v ruvector(16));
INSERT INTO items SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 16) k)::ruvector
FROM generate_series(1, 6000) i JOIN centres ON c = 1 + i % 40;
CREATE TABLE queries AS SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 16) k)::ruvector(16) AS v
FROM generate_series(1, 50) i JOIN centres ON c = 1 + (i * 7) % 40;

-- options and errors (pgvector's ranges and messages)
SELECT error_of('CREATE INDEX ON items USING ivfflat (v vector_l2_ops) WITH (lists = 0)');
SELECT error_of('CREATE INDEX ON items USING ivfflat (v vector_l2_ops) WITH (lists = 32769)');
SELECT error_of('CREATE INDEX ON items USING ivfflat (v vector_l2_ops) WITH (nlists = 3)');
SELECT error_of('CREATE INDEX ON items USING ivfflat (v vector_l1_ops)');
SELECT error_of('SET ivfflat.probes = 0');
SELECT error_of('SET ivfflat.iterative_scan = strict_order');
CREATE TABLE wide (v ruvector(2001));
SELECT error_of('CREATE INDEX ON wide USING ivfflat (v)');
CREATE TABLE wide_half (v halfvec(4001));
SELECT error_of('CREATE INDEX ON wide_half USING ivfflat (v halfvec_l2_ops)');
CREATE TABLE ok_half (v halfvec(4000));
CREATE INDEX ON ok_half USING ivfflat (v halfvec_l2_ops);
DROP TABLE wide, wide_half, ok_half;
SET maintenance_work_mem = '1MB';
SELECT error_of('CREATE INDEX ON items USING ivfflat (v) WITH (lists = 2000)');
RESET maintenance_work_mem;

-- build (serial), the planner uses the index for ORDER BY ... LIMIT only
SET max_parallel_maintenance_workers = 0;
CREATE INDEX items_l2 ON items USING ivfflat (v vector_l2_ops) WITH (lists = 40);
RESET max_parallel_maintenance_workers;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' < 1;
RESET enable_seqscan;
SET ivfflat.probes = 4;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS serial_build_recall_ok;
-- probing every list is exact
SET ivfflat.probes = 40;
SELECT recall_at_10('queries', 'items', '<->') = 1 AS all_lists_exact;
-- one probe finds less than four
SET ivfflat.probes = 1;
SELECT recall_at_10('queries', 'items', '<->') < 1 AS one_probe_approximate;

-- the threaded build gives the same quality
DROP INDEX items_l2;
SET max_parallel_maintenance_workers = 1;
CREATE INDEX items_l2 ON items USING ivfflat (v vector_l2_ops) WITH (lists = 40);
RESET max_parallel_maintenance_workers;
SET ivfflat.probes = 4;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS threaded_build_recall_ok;

-- results come back in distance order, past the first batch: after the
-- LIMIT 10 scans above it keeps 32 rows (ivf::batch), so the scan below
-- runs out of it five times; afterwards a first batch has room for 600
-- (1,024 rows: 600 × 1.5 + 4 as a power of two)
SELECT ruvector_index_stats('items_l2')->'scan_first_batch' AS first_batch_after_limit_10;
SET enable_seqscan = off;
SELECT bool_and(d >= prev) AS ordered, count(*) AS n FROM (
    SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev FROM (
        SELECT row_number() OVER () AS n, v <-> (SELECT v FROM queries WHERE i = 1) AS d
        FROM (SELECT v FROM items ORDER BY v <-> (SELECT v FROM queries WHERE i = 1) LIMIT 600) s) t) u;
SELECT ruvector_index_stats('items_l2')->'scan_first_batch' AS first_batch_after_limit_600;
-- and a scan returns each probed row exactly once
SELECT count(*) = count(DISTINCT id) AS no_repeats, count(*) > 600 AS more_than_batches FROM (
    SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries WHERE i = 1)) s;
RESET enable_seqscan;

-- inserts after the build go to their lists
INSERT INTO items SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.6) FROM generate_series(1, 16) k)::ruvector
FROM generate_series(6001, 9000) i JOIN centres ON c = 1 + i % 40;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS recall_after_inserts_ok;
SET ivfflat.probes = 40;
SET enable_seqscan = off;
SELECT count(*) AS all_rows_reachable FROM (SELECT id FROM items ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]') s;
RESET enable_seqscan;
SET ivfflat.probes = 4;

-- filtered queries: an iterative scan returns exactly LIMIT rows
SET enable_seqscan = off;
SELECT count(*) < 50 AS off_returns_fewer FROM (
    SELECT id FROM items WHERE id % 50 = 0 ORDER BY v <-> (SELECT v FROM queries WHERE i = 3) LIMIT 50) s;
SET ivfflat.iterative_scan = relaxed_order;
SELECT count(*) AS relaxed_returns_limit FROM (
    SELECT id FROM items WHERE id % 50 = 0 ORDER BY v <-> (SELECT v FROM queries WHERE i = 3) LIMIT 50) s;
SET ivfflat.max_probes = 6;
SELECT count(*) < 50 AS max_probes_stops FROM (
    SELECT id FROM items WHERE id % 50 = 0 ORDER BY v <-> (SELECT v FROM queries WHERE i = 3) LIMIT 50) s;
RESET ivfflat.max_probes;
RESET ivfflat.iterative_scan;
RESET enable_seqscan;

-- vacuum: delete half, recall holds; delete all + vacuum + reinsert keeps the size
DELETE FROM items WHERE id % 2 = 0;
VACUUM items;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS recall_after_vacuum_ok;
CREATE TABLE saved AS SELECT * FROM items;
SELECT pg_relation_size('items_l2') AS size_before \gset
DELETE FROM items;
VACUUM items;
SET enable_seqscan = off;
SELECT count(*) AS nothing_left FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries WHERE i = 1) LIMIT 5) s;
RESET enable_seqscan;
INSERT INTO items SELECT * FROM saved;
SELECT pg_relation_size('items_l2') <= :size_before * 1.1 AS size_kept_after_reinsert;
SELECT recall_at_10('queries', 'items', '<->') >= 0.95 AS recall_after_reinsert_ok;

-- inner product and cosine (spherical k-means)
CREATE INDEX items_ip ON items USING ivfflat (v vector_ip_ops) WITH (lists = 20);
CREATE INDEX items_cos ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 20);
SELECT recall_at_10('queries', 'items', '<#>') >= 0.9 AS ip_recall_ok,
       recall_at_10('queries', 'items', '<=>') >= 0.95 AS cosine_recall_ok;
-- every row is in the one list a query equal to it probes (the build assigns
-- rows by matrix products, then measures near ties again as a scan does):
-- with one probe and no LIMIT short of it, a scan returns its whole list
CREATE FUNCTION rows_outside_their_list(op text, cast_to text DEFAULT '') RETURNS TABLE (missing bigint, one_list_only boolean)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT count(*) FROM items f WHERE f.id %% 3 = 0 AND f.id NOT IN
                    (SELECT g.id FROM items g ORDER BY g.v%2$s %1$s f.v%2$s LIMIT 6000)', op, cast_to) INTO missing;
    EXECUTE format('SELECT count(*) < 1000 FROM (SELECT g.id FROM items g ORDER BY g.v%2$s %1$s (SELECT v FROM items WHERE id = 3)%2$s LIMIT 6000) s',
                   op, cast_to) INTO one_list_only;
    RETURN NEXT;
END $$;
SET ivfflat.probes = 1;
SET enable_seqscan = off;
SELECT 'l2' AS ops, * FROM rows_outside_their_list('<->')
UNION ALL SELECT 'ip', * FROM rows_outside_their_list('<#>')
UNION ALL SELECT 'cosine', * FROM rows_outside_their_list('<=>');
DROP INDEX items_l2, items_ip, items_cos;
CREATE INDEX items_half ON items USING ivfflat ((v::halfvec(16)) halfvec_cosine_ops) WITH (lists = 30);
SELECT 'halfvec cosine' AS ops, * FROM rows_outside_their_list('<=>', '::halfvec(16)');
DROP INDEX items_half;
RESET enable_seqscan;
DROP FUNCTION rows_outside_their_list;
SET ivfflat.probes = 4;

-- a table of several batches (maintenance_work_mem 4MB leaves batches of
-- 1MB, read while k-means runs and assigned to lists on worker threads, or
-- in the backend without workers): every row indexed once, each in the
-- list its own vector probes first, and no more pages than one batch gives
-- (each batch's rows go first onto the room left on their list's last page)
CREATE TABLE big AS SELECT i AS id,
    (SELECT array_agg(((i * 7919 + k * 104729) % 1000) / 1000.0) FROM generate_series(1, 64) k)::ruvector(64) AS v
FROM generate_series(1, 20000) i;
CREATE FUNCTION big_check(workers int) RETURNS TABLE (indexed bigint, distinct_rows bigint, outside_their_list bigint, pages_as_one_batch bool)
LANGUAGE plpgsql AS $$
DECLARE
    batched bigint;
BEGIN
    EXECUTE format('SET max_parallel_maintenance_workers = %s', workers);
    SET maintenance_work_mem = '4MB';
    CREATE INDEX big_idx ON big USING ivfflat (v vector_l2_ops) WITH (lists = 20);
    RESET maintenance_work_mem;
    RESET max_parallel_maintenance_workers;
    SET enable_seqscan = off;
    SET ivfflat.probes = 20;
    SELECT count(*), count(DISTINCT id) INTO indexed, distinct_rows FROM (SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 1)) s;
    SET ivfflat.probes = 1;
    SELECT count(*) INTO outside_their_list FROM big f
    WHERE f.id % 40 = 0 AND f.id NOT IN (SELECT g.id FROM big g ORDER BY g.v <-> f.v LIMIT 20000);
    RESET ivfflat.probes;
    RESET enable_seqscan;
    batched := pg_relation_size('big_idx');
    DROP INDEX big_idx;
    EXECUTE format('SET max_parallel_maintenance_workers = %s', workers);
    SET maintenance_work_mem = '256MB';
    CREATE INDEX big_idx ON big USING ivfflat (v vector_l2_ops) WITH (lists = 20);
    RESET maintenance_work_mem;
    RESET max_parallel_maintenance_workers;
    pages_as_one_batch := pg_relation_size('big_idx') = batched;
    DROP INDEX big_idx;
    RETURN NEXT;
END $$;
SELECT 2 AS workers, * FROM big_check(2) UNION ALL SELECT 0, * FROM big_check(0);
DROP FUNCTION big_check;
DROP TABLE big;

-- little data: pgvector's NOTICE; degenerate data: every row still reachable with one probe
CREATE TABLE few (id int, v ruvector(3));
INSERT INTO few VALUES (1, '[1,2,3]'), (2, '[1,2,3]'), (3, '[4,5,6]');
CREATE INDEX few_idx ON few USING ivfflat (v) WITH (lists = 10);
SET enable_seqscan = off;
SET ivfflat.probes = 1;
SELECT f.id, (SELECT count(*) FROM (SELECT id FROM few g ORDER BY g.v <-> f.v LIMIT 3) s WHERE s.id = f.id) AS found_itself
FROM few f ORDER BY f.id;
CREATE TABLE same (id int, v ruvector(4));
INSERT INTO same SELECT i, '[0.5,0.5,0.5,0.5]' FROM generate_series(1, 2000) i;
CREATE INDEX ON same USING ivfflat (v) WITH (lists = 8);
SELECT count(*) AS all_equal_rows_found FROM (SELECT id FROM same ORDER BY v <-> '[0.5,0.5,0.5,0.5]') s;
RESET enable_seqscan;
RESET ivfflat.probes;

-- an index built on an empty table takes inserts
CREATE TABLE empty_then (id int, v ruvector(2));
CREATE INDEX ON empty_then USING ivfflat (v) WITH (lists = 3);
INSERT INTO empty_then SELECT i, ARRAY[i, -i]::ruvector FROM generate_series(1, 100) i;
SET enable_seqscan = off;
SELECT array_agg(id) AS nearest FROM (SELECT id FROM empty_then ORDER BY v <-> '[50.2,-50]' LIMIT 3) s;
RESET enable_seqscan;
SELECT error_of('INSERT INTO empty_then VALUES (0, ''[1,2,3]'')');

-- NULLs and zero vectors under cosine are not indexed
CREATE TABLE nz (id int, v ruvector(2));
INSERT INTO nz VALUES (1, NULL), (2, '[0,0]'), (3, '[1,0]'), (4, '[0,1]');
CREATE INDEX ON nz USING ivfflat (v vector_cosine_ops) WITH (lists = 1);
SET enable_seqscan = off;
SELECT array_agg(id) AS cosine_indexed FROM (SELECT id FROM nz ORDER BY v <=> '[1,0.1]' LIMIT 10) s;
RESET enable_seqscan;

-- halfvec and bit opclasses
CREATE TABLE hitems AS SELECT id, v::halfvec(16) AS v FROM items;
CREATE TABLE hqueries AS SELECT i, v::halfvec(16) AS v FROM queries;
CREATE INDEX ON hitems USING ivfflat (v halfvec_l2_ops) WITH (lists = 20);
SET ivfflat.probes = 4;
SELECT recall_at_10('hqueries', 'hitems', '<->') >= 0.95 AS halfvec_recall_ok;
CREATE TABLE bitems AS SELECT id, (SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '') FROM unnest(v::real[]) x)::bit(16) AS v FROM items;
CREATE TABLE bqueries AS SELECT i, (SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '') FROM unnest(v::real[]) x)::bit(16) AS v FROM queries;
CREATE INDEX ON bitems USING ivfflat (v bit_hamming_ops) WITH (lists = 10);
SET ivfflat.probes = 10;
SET enable_seqscan = off;
-- all lists probed: the nearest Hamming distances equal a sequential scan's
SELECT bool_and(a = b) AS bit_exact FROM (
    SELECT (SELECT array_agg(d) FROM (SELECT v <~> q.v AS d FROM bitems ORDER BY v <~> q.v LIMIT 10) s) AS a,
           (SELECT (array_agg(v <~> q.v ORDER BY v <~> q.v))[1:10] FROM bitems) AS b
    FROM bqueries q) t;
RESET enable_seqscan;
RESET ivfflat.probes;

-- unlogged tables (init fork)
CREATE UNLOGGED TABLE u (id int, v ruvector(3));
INSERT INTO u SELECT i, ARRAY[i, 0, 0]::ruvector FROM generate_series(1, 50) i;
CREATE INDEX ON u USING ivfflat (v) WITH (lists = 2);
SET enable_seqscan = off;
SELECT array_agg(id) AS unlogged_nearest FROM (SELECT id FROM u ORDER BY v <-> '[10.2,0,0]' LIMIT 3) s;
RESET enable_seqscan;

DROP TABLE centres, items, queries, saved, few, same, empty_then, nz, hitems, hqueries, bitems, bqueries, u;
