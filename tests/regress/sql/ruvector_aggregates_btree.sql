-- Aggregates, btree opclass, ordering, and nearest-neighbour queries by sequential scan.

CREATE TABLE t (id int, v ruvector(3));
INSERT INTO t VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, '[1,1,1]'), (4, NULL), (5, '[1,2,3]');

SELECT avg(v), sum(v) FROM t;
SELECT avg(v), sum(v) FROM t WHERE false;
SELECT id, v FROM t ORDER BY v, id;
SELECT v, count(*) FROM t GROUP BY v ORDER BY v;
SELECT DISTINCT v FROM t ORDER BY v;

CREATE INDEX ON t (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM t WHERE v = '[1,2,3]';
SELECT id FROM t WHERE v = '[1,2,3]' ORDER BY id;
RESET enable_seqscan;

SELECT id, v <-> '[1,1,1]' AS l2 FROM t WHERE v IS NOT NULL ORDER BY v <-> '[1,1,1]', id LIMIT 3;
SELECT id FROM t WHERE v IS NOT NULL ORDER BY v <#> '[1,1,1]', id LIMIT 3;
SELECT id FROM t WHERE v IS NOT NULL ORDER BY v <=> '[1,1,1]', id LIMIT 3;
SELECT id FROM t WHERE v IS NOT NULL ORDER BY v <+> '[1,1,1]', id LIMIT 3;

SELECT error_of($$SELECT avg(v) FROM (VALUES ('[1,2]'::ruvector), ('[1,2,3]')) t(v)$$);
SELECT error_of($$SELECT sum(v) FROM (VALUES ('[1,2]'::ruvector), ('[1,2,3]')) t(v)$$);
SELECT error_of($$SELECT sum(v) FROM (VALUES ('[3e38]'::ruvector), ('[3e38]')) t(v)$$);

-- Parallel aggregation combines partial states.
CREATE TABLE many AS SELECT i, ARRAY[i % 10, 1, -(i % 7)]::ruvector(3) AS v FROM generate_series(1, 200000) i;
ANALYZE many;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM many;
SELECT avg(v), sum(v) FROM many;
RESET ALL;
DROP TABLE t, many;
