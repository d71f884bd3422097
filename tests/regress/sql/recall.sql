-- ruvector_recall(query): what an approximate query really returns against
-- the exact answer, with timings and the vector index the plan used.
CREATE TABLE rc (id int, cat int, v ruvector(3));
INSERT INTO rc SELECT i, i % 10, ARRAY[i % 7, i % 11 + 0.5, i % 13 + 0.25]::real[] FROM generate_series(1, 1000) i;
-- one build thread: the same graph every run (these tie-heavy rows give
-- a parallel build's graphs recall 0.9 to 1 under the filter below)
SET max_parallel_maintenance_workers = 0;
CREATE INDEX rc_v ON rc USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8);
ANALYZE rc;
SET enable_seqscan = off;
-- a filter that removes most rows, without an iterative scan: the ANN scan
-- returns too few rows, and the function says so
SET hnsw.ef_search = 10;
SELECT recall < 1 AS lost_rows, rows_returned < rows_exact AS fewer_rows, rows_exact, vector_index,
       approximate_ms >= 0 AND exact_ms >= 0 AS timed
FROM ruvector_recall($$SELECT id FROM rc WHERE cat = 3 ORDER BY v <-> '[3,3,3]' LIMIT 10$$);
-- with an iterative scan it finds them all
SET hnsw.iterative_scan = relaxed_order;
SELECT recall, rows_returned, rows_exact, vector_index
FROM ruvector_recall($$SELECT id FROM rc WHERE cat = 3 ORDER BY v <-> '[3,3,3]' LIMIT 10$$);
-- a plan without a vector index is exact
RESET enable_seqscan;
SELECT recall, vector_index IS NULL AS no_vector_index
FROM ruvector_recall($$SELECT id FROM rc WHERE id <= 5 ORDER BY id$$);
-- the settings it changed are back
SET enable_seqscan = off;
SELECT recall FROM ruvector_recall($$SELECT id FROM rc WHERE id <= 5 ORDER BY id$$);
SHOW enable_indexscan;
SHOW enable_seqscan;
RESET enable_seqscan;
SELECT error_of($$SELECT ruvector_recall('SELECT nonsense FROM rc')$$);
SHOW enable_indexscan;
RESET hnsw.ef_search;
RESET hnsw.iterative_scan;
DROP TABLE rc;
