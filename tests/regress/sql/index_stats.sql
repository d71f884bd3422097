-- ruvector_index_stats(), ruvector_prewarm(), ruvector_reset_peak_memory():
-- each figure against a source that does not come from this extension.
CREATE TABLE st (id int, v ruvector(4));
INSERT INTO st SELECT i, ARRAY[i, i % 7, i % 11, 1]::real[] FROM generate_series(1, 3000) i;
SELECT ruvector_reset_peak_memory() >= 0 AS reset;
CREATE INDEX st_h ON st USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX st_i ON st USING ivfflat (v vector_l2_ops) WITH (lists = 10);
-- the build's graph raised the peak, which a reset reports and restarts
SELECT ruvector_reset_peak_memory() AS build_peak \gset
SELECT :build_peak > 200000 AS build_peak_seen, ruvector_reset_peak_memory() < :build_peak AS restarted;
-- sizes against pg_relation_size, contents against the table
SELECT s->>'access_method' AS am, (s->>'bytes')::bigint = pg_relation_size('st_h') AS bytes_ok,
       (s->>'pages')::bigint = pg_relation_size('st_h') / current_setting('block_size')::int AS pages_ok,
       (s->>'node_count')::bigint = (SELECT count(DISTINCT v) FROM st) AS nodes_ok,
       (s->>'heap_tids')::bigint = (SELECT count(*) FROM st) AS tids_ok,
       s->>'m' AS m, s->>'ef_construction' AS efc, s->>'dimensions' AS dims, s->>'source' AS source
FROM ruvector_index_stats('st_h') s;
-- a build keeps level-0 lists full: about 2 * m links each, never more
SELECT (s->>'mean_level0_links')::float8 BETWEEN 15 AND 16 AS level0_lists_full FROM ruvector_index_stats('st_h') s;
SELECT (s->>'bytes')::bigint = pg_relation_size('st_i') AS bytes_ok,
       (s->>'node_count')::bigint = (SELECT count(*) FROM st) AS rows_ok, s->>'lists' AS lists
FROM ruvector_index_stats('st_i') s;
-- after deletes and VACUUM
DELETE FROM st WHERE id % 3 = 0;
VACUUM st;
SELECT (s->>'node_count')::bigint = (SELECT count(DISTINCT v) FROM st) AS nodes_ok, s->>'deleted_nodes' AS deleted,
       (s->>'vacuum_generation')::int > 0 AS vacuumed
FROM ruvector_index_stats('st_h') s;
SELECT (s->>'node_count')::bigint = (SELECT count(*) FROM st) AS rows_ok FROM ruvector_index_stats('st_i') s;
-- prewarm: every page of the index is then in shared buffers (pg_buffercache)
CREATE EXTENSION pg_buffercache;
SELECT ruvector_prewarm('st_h') = pg_relation_size('st_h') / current_setting('block_size')::int AS all_pages_read,
       (SELECT count(DISTINCT relblocknumber) FROM pg_buffercache
         WHERE relfilenode = pg_relation_filenode('st_h')
           AND reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))
       = pg_relation_size('st_h') / current_setting('block_size')::int AS all_pages_cached;
DROP EXTENSION pg_buffercache;
SELECT error_of($$SELECT ruvector_index_stats('st')$$);
DROP TABLE st;
-- pg_stat_user_indexes counts every scan of a vector index, as PostgreSQL
-- counts its own and pgvector its (the same figures here): one per query,
-- one per rescan of a nested loop's inner side, none for EXPLAIN
CREATE TABLE sc (id int, v ruvector(3));
INSERT INTO sc SELECT i, ARRAY[i % 13, i % 7, i % 5]::real[] FROM generate_series(1, 500) i;
CREATE INDEX sc_h ON sc USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM sc ORDER BY v <-> '[1,2,3]' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM sc ORDER BY v <-> '[1,2,3]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM sc ORDER BY v <-> '[3,2,1]' LIMIT 5) s;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM generate_series(1, 3) g, LATERAL (SELECT id FROM sc ORDER BY v <-> ARRAY[g, 1, 1]::real[]::ruvector LIMIT 2) s;
SELECT count(*) FROM generate_series(1, 3) g, LATERAL (SELECT id FROM sc ORDER BY v <-> ARRAY[g, 1, 1]::real[]::ruvector LIMIT 2) s;
SELECT pg_stat_force_next_flush();
SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'sc_h';
DROP INDEX sc_h;
CREATE INDEX sc_i ON sc USING ivfflat (v vector_l2_ops) WITH (lists = 4);
EXPLAIN (COSTS OFF) SELECT id FROM sc ORDER BY v <-> '[1,2,3]' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM sc ORDER BY v <-> '[1,2,3]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM sc ORDER BY v <-> '[3,2,1]' LIMIT 5) s;
SELECT count(*) FROM generate_series(1, 3) g, LATERAL (SELECT id FROM sc ORDER BY v <-> ARRAY[g, 1, 1]::real[]::ruvector LIMIT 2) s;
SELECT pg_stat_force_next_flush();
SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'sc_i';
RESET enable_seqscan;
DROP TABLE sc;
