-- Inputs that once crashed the server or gave wrong answers (issue 11).
-- Each block names the failure it guards against.

-- An empty sparsevec under cosine: the build callback cast an empty byte
-- buffer to aligned pairs and the panic aborted the server; an insert raised
-- a Rust-internal message. Zero vectors are not indexed under cosine.
CREATE TABLE sp (id int, val sparsevec(3));
INSERT INTO sp VALUES (1, '{}/3'), (2, '{1:1,2:2,3:3}/3'), (3, '{1:1,2:1,3:1}/3'), (4, NULL);
CREATE INDEX sp_cos ON sp USING hnsw (val sparsevec_cosine_ops);
INSERT INTO sp VALUES (5, '{}/3'), (6, '{2:5}/3');
CREATE INDEX sp_l2 ON sp USING hnsw (val sparsevec_l2_ops);
SET enable_seqscan = off;
SELECT array_agg(id ORDER BY id) AS cosine_rows FROM (SELECT id FROM sp ORDER BY val <=> '{1:1,2:2,3:3}/3') s;
SELECT array_agg(id ORDER BY id) AS l2_rows FROM (SELECT id FROM sp ORDER BY val <-> '{1:1}/3') s;
RESET enable_seqscan;
DROP TABLE sp;

-- Rows of different lengths in a column without a typmod: an ERROR raised
-- inside the heap-scan callback longjmp'd into a dead frame.
CREATE TABLE mixed (v ruvector);
INSERT INTO mixed VALUES ('[1,2,3]'), ('[1,2]');
SELECT error_of('CREATE INDEX ON mixed USING hnsw (v vector_l2_ops)');
SELECT error_of('CREATE INDEX ON mixed USING ivfflat (v vector_l2_ops) WITH (lists = 1)');
SELECT error_of('CREATE INDEX ON mixed USING hnsw ((v::halfvec) halfvec_l2_ops)');
DROP TABLE mixed;
CREATE TABLE wide (v ruvector);
INSERT INTO wide SELECT array_fill(1.0::real, ARRAY[2001])::ruvector;
SELECT error_of('CREATE INDEX ON wide USING ivfflat (v vector_l2_ops) WITH (lists = 1)');
DROP TABLE wide;
SELECT 1 AS server_alive;

-- An iterative scan whose filter matches nothing, with every limit raised:
-- ef doubled without bound until a 38 GB reservation aborted the backend.
CREATE TABLE it (id int, v ruvector(3));
INSERT INTO it SELECT i, ARRAY[i % 7, i % 11, i % 13]::real[] FROM generate_series(1, 500) i;
CREATE INDEX ON it USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.max_scan_tuples = 2000000000;
SET hnsw.scan_mem_multiplier = 1000;
SELECT count(*) AS none_match FROM (SELECT id FROM it WHERE id < 0 ORDER BY v <-> '[1,1,1]' LIMIT 5) s;
-- and the widening still finds every row that matches
SELECT count(*) AS all_found FROM (SELECT id FROM it WHERE id % 50 = 0 ORDER BY v <-> '[1,1,1]' LIMIT 100) s;
RESET hnsw.iterative_scan; RESET hnsw.max_scan_tuples; RESET hnsw.scan_mem_multiplier;

-- Distances read through a whole-row reference, row_to_json, a CTE or a
-- sub-select came back NULL (the planner hook thought nothing read them).
SELECT s FROM (SELECT id, v <-> '[1,1,1]' AS d FROM it ORDER BY d LIMIT 2) s;
SELECT row_to_json(s) FROM (SELECT id, v <-> '[1,1,1]' AS d FROM it ORDER BY d LIMIT 2) s;
WITH c AS (SELECT id, v <-> '[1,1,1]' AS d FROM it ORDER BY d LIMIT 2) SELECT c FROM c;
SELECT (SELECT d FROM (SELECT v <-> '[1,1,1]' AS d FROM it ORDER BY d LIMIT 1) x) AS nearest;
SELECT array_agg(s) FROM (SELECT id, v <-> '[1,1,1]' AS d FROM it ORDER BY d LIMIT 2) s;

-- ORDER BY a NULL query returns every indexed row, as in pgvector.
SELECT count(*) AS null_query_rows FROM (SELECT id FROM it ORDER BY v <-> NULL) s;
SELECT count(*) AS null_subquery_rows FROM (SELECT id FROM it ORDER BY v <-> (SELECT NULL::ruvector)) s;

-- ALTER INDEX ... SET (m / ef_construction) made every ORDER BY query fail
-- at planning; the graph keeps the m it was built with.
ALTER INDEX it_v_idx SET (m = 40);
SELECT id FROM it ORDER BY v <-> '[0,0,0]' LIMIT 1;
ALTER INDEX it_v_idx SET (ef_construction = 4);
SELECT id FROM it ORDER BY v <-> '[0,0,0]' LIMIT 1;
SELECT error_of('REINDEX INDEX it_v_idx');
ALTER INDEX it_v_idx RESET (m, ef_construction);
RESET enable_seqscan;
DROP TABLE it;

-- The 11th and later copies of a vector inserted after CREATE INDEX went
-- nowhere (10 TIDs fit in the element; the overflow list was never made).
CREATE TABLE dup (id int, v ruvector(3));
INSERT INTO dup VALUES (0, '[9,9,9]');
CREATE INDEX ON dup USING hnsw (v vector_l2_ops);
INSERT INTO dup SELECT i, '[1,2,3]' FROM generate_series(1, 150) i;
SET enable_seqscan = off;
SET hnsw.ef_search = 1000;
SELECT count(*) AS copies_found FROM (SELECT id FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 200) s WHERE id > 0;
DELETE FROM dup WHERE id BETWEEN 1 AND 140;
VACUUM dup;
SELECT array_agg(id ORDER BY id) AS left_after_vacuum FROM (SELECT id FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 200) s WHERE id > 0;
SELECT ruvector_index_check('dup_v_idx') LIKE 'ok:%' AS check_ok;
RESET hnsw.ef_search;
RESET enable_seqscan;
DROP TABLE dup;

-- An inner product that overflows to NaN: ivfflat dropped such rows.
CREATE TABLE nan (id int, v ruvector(2));
INSERT INTO nan VALUES (1, '[3e38,-3e38]'), (2, '[1,1]'), (3, '[-3e38,3e38]');
CREATE INDEX ON nan USING ivfflat (v vector_ip_ops) WITH (lists = 1);
SET enable_seqscan = off;
SELECT array_agg(id ORDER BY id) AS ivf_rows FROM (SELECT id FROM nan ORDER BY v <#> '[3e38,3e38]') s;
SELECT id FROM nan ORDER BY v <#> '[3e38,3e38]' LIMIT 1;
SELECT count(*) AS ivf_null_query_rows FROM (SELECT id FROM nan ORDER BY v <#> NULL) s;
RESET enable_seqscan;
DROP TABLE nan;

-- Equidistant data (one-hot vectors): the heuristic dropped ties, lists
-- were one link long and most elements unreachable.
CREATE TABLE onehot (id int, v ruvector(100));
INSERT INTO onehot SELECT i, (SELECT array_agg(CASE WHEN j = i THEN 1 ELSE 0 END) FROM generate_series(1, 100) j)::ruvector
FROM generate_series(1, 100) i;
CREATE INDEX onehot_idx ON onehot USING hnsw (v vector_l2_ops);
SELECT ruvector_index_check('onehot_idx') LIKE 'ok: 100 elements (0 deleted, 0 unreachable%' AS all_reachable;
SET enable_seqscan = off;
SET hnsw.ef_search = 100;
SELECT count(*) AS found_themselves FROM onehot o WHERE o.id = (SELECT id FROM onehot ORDER BY v <-> o.v LIMIT 1);
RESET hnsw.ef_search;
RESET enable_seqscan;
DROP TABLE onehot;

-- The element type came from the printed type name, schema-qualified under
-- a search_path without the extension's schema (autovacuum, pg_dump
-- restores): every hnsw/ivfflat operation then failed. Domains too.
CREATE SCHEMA other;
CREATE TABLE sp_path (id int, v ruvector(2));
INSERT INTO sp_path SELECT i, ARRAY[i, i % 5]::real[] FROM generate_series(1, 50) i;
CREATE INDEX ON sp_path USING hnsw (v vector_l2_ops);
CREATE INDEX ON sp_path USING ivfflat (v vector_l2_ops) WITH (lists = 2);
DELETE FROM sp_path WHERE id <= 10;
SET search_path = other;
VACUUM public.sp_path;
INSERT INTO public.sp_path VALUES (100, '[1,1]');
CREATE INDEX ON public.sp_path USING hnsw (v public.vector_l2_ops);
RESET search_path;
SELECT count(*) AS rows_left FROM sp_path;
CREATE DOMAIN embedding AS ruvector(2);
CREATE TABLE dom (id int, v embedding);
INSERT INTO dom VALUES (1, '[1,1]'), (2, '[5,5]');
CREATE INDEX ON dom USING hnsw (v vector_l2_ops);
CREATE INDEX ON dom USING ivfflat (v vector_l2_ops) WITH (lists = 1);
SET enable_seqscan = off;
SELECT id FROM dom ORDER BY v <-> '[4,4]' LIMIT 1;
RESET enable_seqscan;
DROP TABLE dom, sp_path;
DROP DOMAIN embedding;
DROP SCHEMA other;

-- ruvector_index_check: only for roles that may read the table; a
-- partitioned index is checked partition by partition.
CREATE TABLE secret (v ruvector(2));
INSERT INTO secret VALUES ('[1,2]');
CREATE INDEX secret_idx ON secret USING hnsw (v vector_l2_ops);
CREATE ROLE ruvector_regress_nobody;
SET ROLE ruvector_regress_nobody;
SELECT error_of($$SELECT ruvector_index_check('secret_idx')$$);
RESET ROLE;
DROP ROLE ruvector_regress_nobody;
DROP TABLE secret;
CREATE TABLE parts (tenant int, v ruvector(2)) PARTITION BY LIST (tenant);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES IN (1);
CREATE TABLE parts_2 PARTITION OF parts FOR VALUES IN (2);
INSERT INTO parts VALUES (1, '[1,1]'), (2, '[2,2]'), (2, '[3,3]');
CREATE INDEX parts_idx ON parts USING hnsw (v vector_l2_ops);
SELECT regexp_replace(ruvector_index_check('parts_idx'), ' \d+ pages', ' N pages', 'g') AS partitions_checked;
SELECT error_of($$SELECT ruvector_index_check('parts')$$);
DROP TABLE parts;

-- ivfflat memory: pgvector's rule (centres and sample at stored size within
-- maintenance_work_mem). 32,768 lists of 2,000-d centres are refused; bit
-- lists that pgvector accepts at 1MB are accepted.
CREATE TABLE ivfmem (v ruvector(2000));
INSERT INTO ivfmem SELECT array_fill(i::real, ARRAY[2000])::ruvector FROM generate_series(1, 50) i;
SELECT error_of('CREATE INDEX ON ivfmem USING ivfflat (v vector_l2_ops) WITH (lists = 32768)');
DROP TABLE ivfmem;
SET maintenance_work_mem = '1MB';
CREATE TABLE bits64k (val bit(64000));
CREATE INDEX ON bits64k USING ivfflat (val bit_hamming_ops);
RESET maintenance_work_mem;
DROP TABLE bits64k;

-- A cancel while a build that outgrew maintenance_work_mem inserts the rest
-- one by one: the ERROR left the heap-scan callback unguarded.
CREATE TABLE spill (v ruvector(64));
INSERT INTO spill SELECT (SELECT array_agg(random()) FROM generate_series(1, 64) WHERE i > 0)::ruvector FROM generate_series(1, 12000) i;
SET maintenance_work_mem = '1MB';
SET client_min_messages = warning;
SET statement_timeout = '500ms';
-- (10,000 rows inserted one by one take seconds: the timeout always fires)
CREATE INDEX ON spill USING hnsw (v vector_l2_ops);
RESET statement_timeout;
RESET client_min_messages;
RESET maintenance_work_mem;
DROP TABLE spill;
SELECT 1 AS server_alive;

-- A cancel while the ivfflat build waits for k-means on its own thread (1,000
-- lists of a 50,000-row sample take seconds; the table itself is read in
-- a fraction of that): the ERROR stops k-means, the build's threads are
-- joined, nothing is left behind, and the same build then succeeds.
CREATE TABLE kmeans_cancel (v ruvector(32));
INSERT INTO kmeans_cancel SELECT (SELECT array_agg(random()) FROM generate_series(1, 32) WHERE i > 0)::ruvector FROM generate_series(1, 60000) i;
SET statement_timeout = '300ms';
CREATE INDEX kmeans_cancel_idx ON kmeans_cancel USING ivfflat (v vector_l2_ops) WITH (lists = 1000);
RESET statement_timeout;
SELECT count(*) AS left_behind FROM pg_class WHERE relname = 'kmeans_cancel_idx';
CREATE INDEX kmeans_cancel_idx ON kmeans_cancel USING ivfflat (v vector_l2_ops) WITH (lists = 1000);
SET enable_seqscan = off;
SET ivfflat.probes = 1000;
SELECT count(*) AS every_row FROM (SELECT 1 FROM kmeans_cancel ORDER BY v <-> (SELECT v FROM kmeans_cancel LIMIT 1)) s;
RESET ivfflat.probes;
RESET enable_seqscan;
DROP TABLE kmeans_cancel;
SELECT 1 AS server_alive;

-- Found by replaying pgvector's regression SQL: array casts to sparsevec use
-- sparsevec's limits and messages; vector_combine checks the dimensions of
-- the state it returns; a column type no opclass fits is pgvector's message.
SELECT error_of($$SELECT '{NaN,1}'::real[]::sparsevec$$);
SELECT error_of($$SELECT '{}'::real[]::sparsevec$$);
SELECT error_of($$SELECT array_fill(1, ARRAY[16001])::sparsevec$$);
SELECT l2_norm(array_fill(0, ARRAY[20000])::sparsevec) AS wide_sparse_from_array;
SELECT error_of($$SELECT vector_combine('{0}', (SELECT array_agg(n) FROM generate_series(1, 16002) n))$$);
SELECT vector_combine('{0}', '{0}') AS empty_states, vector_combine('{1,2}', '{0}') AS one_empty;
CREATE TABLE vb (val varbit(3));
SELECT error_of('CREATE INDEX ON vb USING hnsw (val bit_hamming_ops)');
SELECT error_of('CREATE INDEX ON vb USING ivfflat (val bit_hamming_ops) WITH (lists = 1)');
DROP TABLE vb;
