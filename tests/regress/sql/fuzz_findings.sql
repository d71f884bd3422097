-- Statement sequences the SQL fuzzer (tests/fuzz) found giving wrong
-- answers, replayed as they ran (serial build, so the graph is the same).

-- An outlier (L1 distance 3e38 from the query) reachable from the entry
-- point at level 0, but not from where the greedy descent ended: with
-- ef_search above the row count the scan missed it. Scans now also walk
-- level 0 from the entry point.
SET max_parallel_maintenance_workers = 0;
SET client_min_messages = warning;
CREATE TABLE outlier (id serial, cat int, v ruvector(3));
INSERT INTO outlier (cat, v) VALUES (1, '[-0,-0.904,-0.161]'::ruvector), (1, '[-1.251,-1,-0.756]'::ruvector), (2, '[-0.293,-0.213,-0]'::ruvector), (5, '[1e-45,70000,0]'::ruvector), (8, '[0.583,1.321,-1.505]'::ruvector), (5, '[1e-38,-1,0.546]'::ruvector), (8, '[0,-1.453,0.84]'::ruvector), (6, '[70000,0.95,0.5]'::ruvector), (5, '[70000,0.95,0.5]'::ruvector), (0, '[0,0,0]'::ruvector), (3, '[-1.814,-0.707,-1e+38]'::ruvector), (6, '[0,0,0]'::ruvector), (4, '[0.157,1.712,-0.015]'::ruvector), (5, '[-0.224,-0,0.577]'::ruvector), (8, '[-1.336,-0,0]'::ruvector), (2, '[0,0,0]'::ruvector), (5, '[-0.187,-1.46,0]'::ruvector), (7, '[1,1e-08,0]'::ruvector), (5, '[0,0,0]'::ruvector), (8, '[0.663,1e+38,-1e+38]'::ruvector), (4, '[1,1,1]'::ruvector), (7, '[1,1,1]'::ruvector), (0, '[-1.22,-0.707,0.591]'::ruvector), (8, '[-1.115,1.265,0.215]'::ruvector), (9, '[0,0,0]'::ruvector), (4, NULL), (2, '[1,1,1]'::ruvector), (1, '[-1.765,0.91,-1e+38]'::ruvector), (7, '[-0,1,-0.621]'::ruvector), (1, '[0.147,3e+38,-0.032]'::ruvector), (6, '[0.147,3e+38,-0.032]'::ruvector), (7, '[0.147,3e+38,-0.032]'::ruvector), (8, '[0,1,0]'::ruvector), (3, '[65504,-0,0.217]'::ruvector), (8, '[65504,-0,0.217]'::ruvector), (0, '[-0,-1e+38,0]'::ruvector), (3, '[-0.919,0.506,-0.479]'::ruvector), (0, '[0,-0.769,-0.177]'::ruvector), (3, NULL), (3, '[1,1,1]'::ruvector), (2, NULL), (8, '[3e+38,0.293,1.825]'::ruvector), (4, '[3e+38,0.293,1.825]'::ruvector), (5, '[0.785,1.668,-1.124]'::ruvector), (4, '[0.785,1.668,-1.124]'::ruvector), (1, '[0.785,1.668,-1.124]'::ruvector), (1, '[1,1,1]'::ruvector), (8, NULL);
CREATE INDEX outlier_idx ON outlier USING hnsw (v vector_l1_ops) WITH (m = 2, ef_construction = 8);
VACUUM outlier;
INSERT INTO outlier (cat, v) VALUES (1, '[0.5,-0,1e-45]'::ruvector), (5, '[1,1,1]'::ruvector), (9, '[1e-08,1e-45,1.755]'::ruvector), (3, '[1,1,1]'::ruvector), (4, '[0,1,0]'::ruvector), (3, '[1e-08,-1.585,0.654]'::ruvector), (1, '[-0,0.26,0.926]'::ruvector), (6, '[0,1,-0.527]'::ruvector);
INSERT INTO outlier (cat, v) VALUES (5, '[-0.902,1e+38,1e+38]'::ruvector), (3, '[1,1,1]'::ruvector), (9, '[0,0,0]'::ruvector), (4, '[0,0,0]'::ruvector), (6, '[1,1,1]'::ruvector), (6, '[-0.108,1,-1]'::ruvector), (0, '[-0,-1.236,1e-38]'::ruvector), (3, '[0,0,0]'::ruvector), (3, '[1,1e-45,-1.85]'::ruvector), (5, '[-0.728,1.204,1.478]'::ruvector), (8, '[1,-0.234,0.27]'::ruvector), (2, '[-0.905,1.913,1.388]'::ruvector), (1, '[0,0,1]'::ruvector), (0, '[-0,1.92,1.528]'::ruvector), (2, '[-0,1.92,1.528]'::ruvector), (6, '[-0,1.92,1.528]'::ruvector), (0, '[0,-1.317,0.917]'::ruvector), (8, '[-0.788,1.397,-0]'::ruvector), (1, '[70000,1e-45,-0.346]'::ruvector), (0, '[70000,1e-45,-0.346]'::ruvector), (8, '[0,1.473,-1.261]'::ruvector), (9, '[-1.606,0,1e-38]'::ruvector);
VACUUM outlier;
INSERT INTO outlier (cat, v) VALUES (0, '[1,0,0]'::ruvector), (3, '[-0.158,1e+38,-1.917]'::ruvector), (2, '[0,0,0]'::ruvector), (6, '[-1.203,-0,1.449]'::ruvector), (2, '[-1.203,-0,1.449]'::ruvector), (0, '[70000,0.009,-1.697]'::ruvector), (6, '[1,1,1]'::ruvector), (4, '[0,0,0]'::ruvector), (4, '[65504,-0.214,-0.459]'::ruvector), (0, '[-1.546,-0.224,0.692]'::ruvector), (8, '[1,3e+38,0.265]'::ruvector), (5, '[1e-38,1.49,0.79]'::ruvector), (1, '[1,1,1]'::ruvector), (5, '[0,0,0]'::ruvector), (9, '[0,1,0]'::ruvector), (7, '[1,0,0]'::ruvector);
VACUUM outlier;
DELETE FROM outlier WHERE id % 4 = 1;
DELETE FROM outlier WHERE id % 5 = 1;
RESET client_min_messages;
SET enable_seqscan = off;
SET hnsw.ef_search = 1000;
SELECT (SELECT count(*) FROM (SELECT id FROM outlier ORDER BY v <+> '[0,0,1]') s) AS index_rows,
       (SELECT count(*) FROM outlier WHERE v IS NOT NULL) AS table_rows;
SELECT ruvector_index_check('outlier_idx') LIKE 'ok:%' AS check_ok;
RESET hnsw.ef_search;
RESET enable_seqscan;
RESET max_parallel_maintenance_workers;
DROP TABLE outlier;
