-- The planner hook (src/am/planner.rs): an ORDER BY distance that an hnsw or
-- ivfflat scan already ordered by, and that nothing reads, is not computed
-- for each returned row; every other plan shape keeps it.

SET max_parallel_maintenance_workers = 0;
SELECT setseed(0.7);
CREATE TABLE pts (id int PRIMARY KEY, v ruvector(3));
INSERT INTO pts SELECT i, ARRAY[random(), random(), random()] FROM generate_series(1, 500) i;
-- two exact duplicates of row 1, for WITH TIES
INSERT INTO pts SELECT 500 + i, v FROM pts, generate_series(1, 2) i WHERE id = 1;
CREATE INDEX pts_hnsw ON pts USING hnsw (v vector_l2_ops);
CREATE INDEX pts_ivf ON pts USING ivfflat (v vector_cosine_ops) WITH (lists = 2);
SET enable_seqscan = off;
SET ivfflat.probes = 2;

-- the junk sort column becomes a constant, for both access methods
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pts ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 5;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pts ORDER BY v <=> '[0.5,0.5,0.5]' LIMIT 5;
-- ... also without LIMIT
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pts ORDER BY v <-> '[0.5,0.5,0.5]';

-- and the rows are the same, in the same order, as with the hook off
CREATE TABLE hooked AS SELECT array_agg(id) AS ids FROM (SELECT id FROM pts ORDER BY v <-> '[0.2,0.4,0.6]' LIMIT 20) s;
SET ruvector.skip_unused_distances = off;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pts ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 5;
SELECT (SELECT ids FROM hooked) = array_agg(id) AS same_rows
FROM (SELECT id FROM pts ORDER BY v <-> '[0.2,0.4,0.6]' LIMIT 20) s;
RESET ruvector.skip_unused_distances;

-- a distance the query returns is computed (and is the true one)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, v <-> '[0.5,0.5,0.5]' AS d FROM pts ORDER BY d LIMIT 5;
SELECT bool_and(d = l2_distance(v, '[0.5,0.5,0.5]')) AND count(*) = 5 AS distances_returned
FROM (SELECT id, v, v <-> '[0.5,0.5,0.5]' AS d FROM pts ORDER BY d LIMIT 5) s;

-- WITH TIES compares the sort keys: kept, and the duplicates come back
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pts ORDER BY v <-> (SELECT v FROM pts WHERE id = 1) FETCH FIRST 1 ROWS WITH TIES;
SELECT array_agg(id ORDER BY id) AS ties FROM
(SELECT id FROM pts ORDER BY v <-> (SELECT v FROM pts WHERE id = 1) FETCH FIRST 1 ROWS WITH TIES) s;

-- a merge of partitions compares the sort keys: kept, and the order holds
CREATE TABLE parts (id int, v ruvector(3)) PARTITION BY RANGE (id);
CREATE TABLE parts_a PARTITION OF parts FOR VALUES FROM (0) TO (250);
CREATE TABLE parts_b PARTITION OF parts FOR VALUES FROM (250) TO (1000);
INSERT INTO parts SELECT id, v FROM pts;
CREATE INDEX ON parts USING hnsw (v vector_l2_ops);
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM parts ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 5;
SELECT array_agg(id) = (SELECT array_agg(id) FROM (SELECT id FROM pts ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 10) t)
    AS partitions_in_order
FROM (SELECT id FROM parts ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 10) s;

-- under a nested loop (LATERAL), an aggregate or a sublink, a distance the
-- node above does not read is not computed; one it reads is
CREATE TABLE qs AS SELECT i, ARRAY[random(), random(), random()]::ruvector(3) AS v FROM generate_series(1, 5) i;
EXPLAIN (VERBOSE, COSTS OFF) SELECT q.i, s.id FROM qs q, LATERAL (SELECT id FROM pts ORDER BY pts.v <-> q.v LIMIT 3) s;
EXPLAIN (VERBOSE, COSTS OFF) SELECT q.i, s.id, s.d FROM qs q, LATERAL (SELECT id, pts.v <-> q.v AS d FROM pts ORDER BY d LIMIT 3) s;
EXPLAIN (VERBOSE, COSTS OFF) SELECT q.i, (SELECT array_agg(id) FROM (SELECT id FROM pts ORDER BY pts.v <-> q.v LIMIT 3) z) FROM qs q;
EXPLAIN (VERBOSE, COSTS OFF) SELECT q.i FROM qs q WHERE 7 IN (SELECT id FROM pts ORDER BY pts.v <-> q.v LIMIT 3);
-- a subquery scan that outputs the column (its whole row, here) keeps it
EXPLAIN (VERBOSE, COSTS OFF) SELECT q.i, s.id FROM qs q, LATERAL (SELECT id, v FROM pts ORDER BY pts.v <-> q.v LIMIT 3) s WHERE s.v <-> q.v < 0.3;
CREATE TABLE lateral_hooked AS
    SELECT q.i, s.id, s.d FROM qs q, LATERAL (SELECT id, pts.v <-> q.v AS d FROM pts ORDER BY d LIMIT 3) s;
SELECT count(*) = 15 AND bool_and(d = l2_distance(p.v, q.v)) AS lateral_distances_true
FROM lateral_hooked h JOIN pts p USING (id) JOIN qs q USING (i);
CREATE TABLE lateral_ids AS
    SELECT q.i, array_agg(s.id) AS ids FROM qs q, LATERAL (SELECT id FROM pts ORDER BY pts.v <-> q.v LIMIT 3) s GROUP BY q.i;
SET ruvector.skip_unused_distances = off;
SELECT bool_and(l.ids = o.ids) AND count(*) = 5 AS lateral_same_rows FROM lateral_ids l JOIN
    (SELECT q.i, array_agg(s.id) AS ids FROM qs q, LATERAL (SELECT id FROM pts ORDER BY pts.v <-> q.v LIMIT 3) s GROUP BY q.i) o USING (i);
RESET ruvector.skip_unused_distances;
DROP TABLE qs, lateral_hooked, lateral_ids;

-- other access methods are left alone (a btree ORDER BY id keeps its key)
EXPLAIN (VERBOSE, COSTS OFF) SELECT v FROM pts ORDER BY id LIMIT 1;
DROP TABLE pts, parts, hooked;
