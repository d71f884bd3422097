-- ivfflat format 3 (ruvector SQ8 rows, WITH (exact_copies = true)): every row
-- keeps an SQ8 copy in its list and a full copy of its vector on the copy
-- pages. The scan
-- measures the full copies of the rows it returns with the SQL operator's own
-- function and reports exact distances, so the executor rechecks nothing and
-- never fetches a vector stored out of line. With every list probed, results
-- must be a sequential scan's, distances to the bit, for every metric, after
-- inserts, deletes and VACUUM.

SELECT setseed(0.25);
CREATE TABLE cp (id int PRIMARY KEY, v ruvector(600));
INSERT INTO cp SELECT i, (SELECT array_agg(random() - 0.5 + (i % 5) * 0.002 * j) FROM generate_series(1, 600) j WHERE i > 0)::ruvector
FROM generate_series(1, 1500) i;
-- near-duplicates of row 1, scaled copies, a constant row, exact duplicates
INSERT INTO cp SELECT 2000 + k, (SELECT array_agg(x * (1 + k * 1e-6)) FROM unnest((SELECT v::real[] FROM cp WHERE id = 1)) x)::ruvector
FROM generate_series(1, 4) k;
INSERT INTO cp SELECT 2100 + k, (SELECT array_agg(x * s) FROM unnest((SELECT v::real[] FROM cp WHERE id = 2 + k)) x)::ruvector
FROM (VALUES (1, 1e-12::real), (2, 1e6), (3, 1e15)) t(k, s);
INSERT INTO cp VALUES (2200, array_fill(0.25::real, ARRAY[600])::ruvector);
INSERT INTO cp SELECT 2300 + k, v FROM cp CROSS JOIN generate_series(1, 3) k WHERE id = 7;
SELECT bool_and((ruvector_storage_info(v)->>'external')::bool) AS stored_out_of_line FROM cp;
CREATE TABLE cp_queries AS SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 600) WHERE i > 0)::ruvector(600) AS v
FROM generate_series(1, 8) i;
INSERT INTO cp_queries SELECT 100, v FROM cp WHERE id = 1;
INSERT INTO cp_queries SELECT 101, v FROM cp WHERE id = 7;
INSERT INTO cp_queries SELECT 102, v FROM cp WHERE id = 2103;

-- the index's first k rows against a sequential scan's (harness.sql)
CREATE FUNCTION cp_same_as_seqscan(op text, k int) RETURNS TABLE (same bool, queries bigint) AS $$
    SELECT * FROM index_same_as_seqscan('cp', 'cp_queries', op, k)
$$ LANGUAGE sql;

-- blocks of a table's TOAST relation read by a query, in this transaction
CREATE FUNCTION toast_blocks(tab regclass, q text) RETURNS bigint AS $$
DECLARE toast oid; before bigint;
BEGIN
    SELECT reltoastrelid INTO toast FROM pg_class WHERE oid = tab;
    SET LOCAL enable_seqscan = off;
    before := pg_stat_get_xact_blocks_fetched(toast);
    EXECUTE q;
    RETURN pg_stat_get_xact_blocks_fetched(toast) - before;
END $$ LANGUAGE plpgsql;

SET ivfflat.probes = 8;
CREATE INDEX cp_l2 ON cp USING ivfflat (v vector_l2_ops) WITH (lists = 8, exact_copies = true);
-- (every row has a copy but the constant one: its SQ8 copy is exact, and
-- under <-> the scan ranks it exactly without one)
SELECT s->>'row_format' AS format, (s->>'copies')::int = (SELECT count(*) FROM cp WHERE id <> 2200) AS a_copy_per_row,
       (s->>'node_count')::int = (SELECT count(*) FROM cp) AS a_row_per_row
FROM ruvector_index_stats('cp_l2') s;
SELECT * FROM cp_same_as_seqscan('<->', 200);
-- a LIMIT 10 scan reads no TOAST block; the same query selecting the
-- distance does (the executor computes it on the row: the control)
SELECT toast_blocks('cp', 'SELECT id FROM cp ORDER BY v <-> (SELECT v FROM cp_queries WHERE i = 1) LIMIT 10') AS toast_blocks_by_index,
       toast_blocks('cp', 'SELECT id, v <-> (SELECT v FROM cp_queries WHERE i = 1) FROM cp ORDER BY v <-> (SELECT v FROM cp_queries WHERE i = 1) LIMIT 10') >= 10
           AS control_reads_toast;
DROP INDEX cp_l2;
CREATE INDEX cp_ip ON cp USING ivfflat (v vector_ip_ops) WITH (lists = 8, exact_copies = true);
-- after LIMIT 2 scans the first batch keeps 16 rows (ivf::batch): the
-- scans taking 200 rows run out of it and still give a sequential scan's
SET enable_seqscan = off;
SELECT count(*) FROM cp_queries q, LATERAL (SELECT id FROM cp ORDER BY v <#> q.v LIMIT 2) s;
RESET enable_seqscan;
SELECT ruvector_index_stats('cp_ip')->'scan_first_batch' AS first_batch_after_limit_2;
SELECT * FROM cp_same_as_seqscan('<#>', 200);
SELECT ruvector_index_stats('cp_ip')->'scan_first_batch' AS first_batch_after_limit_200;
DROP INDEX cp_ip;
CREATE INDEX cp_cos ON cp USING ivfflat (v vector_cosine_ops) WITH (lists = 8, exact_copies = true);
SELECT * FROM cp_same_as_seqscan('<=>', 200);
SELECT toast_blocks('cp', 'SELECT id FROM cp ORDER BY v <=> (SELECT v FROM cp_queries WHERE i = 2) LIMIT 10') AS toast_blocks_by_index;

-- rows inserted after the build get copies too
INSERT INTO cp SELECT 3000 + i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 600) WHERE i > 0)::ruvector
FROM generate_series(1, 300) i;
SELECT (s->>'copies')::int = (SELECT count(*) FROM cp) AS a_copy_per_row FROM ruvector_index_stats('cp_cos') s;
SELECT * FROM cp_same_as_seqscan('<=>', 200);
-- VACUUM frees the copies of deleted rows with the rows; the rest keep
-- their places (their rows still find them), and new rows reuse the room
CREATE TABLE cp_gone AS SELECT * FROM cp WHERE id % 3 = 0;
DELETE FROM cp WHERE id % 3 = 0;
VACUUM cp;
SELECT (s->>'copies')::int = (SELECT count(*) FROM cp) AS copies_match_rows,
       (s->>'node_count')::int = (SELECT count(*) FROM cp) AS rows_match FROM ruvector_index_stats('cp_cos') s;
SELECT * FROM cp_same_as_seqscan('<=>', 200);
SELECT pg_relation_size('cp_cos') AS size_before \gset
-- (the same vectors again, fewer than were deleted: the same lists)
INSERT INTO cp SELECT 10000 + id, v FROM cp_gone WHERE id % 2 = 0;
SELECT pg_relation_size('cp_cos') = :size_before AS new_rows_reuse_freed_room,
       (s->>'copies')::int = (SELECT count(*) FROM cp) AS a_copy_per_row FROM ruvector_index_stats('cp_cos') s;
SELECT * FROM cp_same_as_seqscan('<=>', 200);
-- a filtered scan in relaxed order goes on through later rounds (rows
-- measured in one round and handed over in another), each row once
SET ivfflat.probes = 1;
SET ivfflat.iterative_scan = relaxed_order;
SET enable_seqscan = off;
SELECT count(*) AS relaxed_returns_limit, count(DISTINCT id) AS distinct_rows FROM (
    SELECT id FROM cp WHERE id % 10 = 1 ORDER BY v <=> (SELECT v FROM cp_queries WHERE i = 3) LIMIT 40) s;
RESET enable_seqscan;
RESET ivfflat.iterative_scan;
SET ivfflat.probes = 8;
DROP INDEX cp_cos;

-- integer rows: exact SQ8 copies, ranked exactly under <-> and <#> without a
-- full copy; under <=> (the index holds them normalised) with one
CREATE TABLE cp_int (id int, v ruvector(600));
INSERT INTO cp_int SELECT i, (SELECT array_agg(((i * 7 + j * 13) % 200)::real) FROM generate_series(1, 600) j)::ruvector
FROM generate_series(1, 300) i;
CREATE INDEX cp_int_l2 ON cp_int USING ivfflat (v vector_l2_ops) WITH (lists = 2, exact_copies = true);
CREATE INDEX cp_int_cos ON cp_int USING ivfflat (v vector_cosine_ops) WITH (lists = 2, exact_copies = true);
SELECT ruvector_index_stats('cp_int_l2')->>'copies' AS l2_copies, ruvector_index_stats('cp_int_cos')->>'copies' AS cosine_copies;
SET enable_seqscan = off;
SET ivfflat.probes = 2;
SELECT array(SELECT id FROM cp_int ORDER BY v <-> (SELECT v FROM cp_int WHERE id = 5) LIMIT 30)
     = array(SELECT id FROM (SELECT id, v <-> (SELECT v FROM cp_int WHERE id = 5) AS d FROM cp_int) s ORDER BY d, id LIMIT 30) AS l2_exact_order;
-- (a later row may tie: compare the distances)
SELECT array(SELECT v <=> (SELECT v FROM cp_int WHERE id = 5) FROM cp_int ORDER BY v <=> (SELECT v FROM cp_int WHERE id = 5) LIMIT 30)
     = array(SELECT d FROM (SELECT v <=> (SELECT v FROM cp_int WHERE id = 5) AS d FROM cp_int) s ORDER BY d LIMIT 30) AS cosine_exact_order;
RESET enable_seqscan;
SET ivfflat.probes = 8;
DROP TABLE cp_int;

-- halfvec: the copies hold the binary16 values as given (half a ruvector
-- copy's bytes), measured by the halfvec operators' own function; every row
-- has one (a halfvec row is never ranked exactly from its SQ8 copy). At
-- 1,200 dimensions the table's values are stored out of line, and a LIMIT 10
-- scan reads none of them.
CREATE TABLE cph (id int, v halfvec(1200));
INSERT INTO cph SELECT i, (SELECT array_agg(random() - 0.5 + (i % 5) * 0.001 * j) FROM generate_series(1, 1200) j WHERE i > 0)::halfvec
FROM generate_series(1, 600) i;
INSERT INTO cph SELECT 1000 + k, v FROM cph CROSS JOIN generate_series(1, 2) k WHERE id = 7;
SELECT bool_and((ruvector_storage_info(v)->>'external')::bool) AS stored_out_of_line FROM cph;
-- (the queries as ruvector, as the harness's other callers give them; it
-- casts them to halfvec)
CREATE TABLE cph_queries AS SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 1200) WHERE i > 0)::ruvector(1200) AS v
FROM generate_series(1, 6) i;
INSERT INTO cph_queries SELECT 100, v::ruvector FROM cph WHERE id = 7;
CREATE INDEX cph_l2 ON cph USING ivfflat (v halfvec_l2_ops) WITH (lists = 4, exact_copies = true);
SELECT s->>'row_format' AS format, (s->>'copies')::int = (SELECT count(*) FROM cph) AS a_copy_per_row
FROM ruvector_index_stats('cph_l2') s;
SET ivfflat.probes = 4;
SELECT * FROM index_same_as_seqscan('cph', 'cph_queries', '<->', 100, 'halfvec');
SELECT toast_blocks('cph', 'SELECT id FROM cph ORDER BY v <-> (SELECT v::halfvec FROM cph_queries WHERE i = 1) LIMIT 10') AS toast_blocks_by_index,
       toast_blocks('cph', 'SELECT id, v <-> (SELECT v::halfvec FROM cph_queries WHERE i = 1) FROM cph ORDER BY v <-> (SELECT v::halfvec FROM cph_queries WHERE i = 1) LIMIT 10') >= 10
           AS control_reads_toast;
SELECT ruvector_index_check('cph_l2') LIKE 'ok:%' AS l2_checks;
DROP INDEX cph_l2;
CREATE INDEX cph_ip ON cph USING ivfflat (v halfvec_ip_ops) WITH (lists = 4, exact_copies = true);
SELECT * FROM index_same_as_seqscan('cph', 'cph_queries', '<#>', 100, 'halfvec');
DROP INDEX cph_ip;
CREATE INDEX cph_cos ON cph USING ivfflat (v halfvec_cosine_ops) WITH (lists = 4, exact_copies = true);
SELECT * FROM index_same_as_seqscan('cph', 'cph_queries', '<=>', 100, 'halfvec');
SELECT toast_blocks('cph', 'SELECT id FROM cph ORDER BY v <=> (SELECT v::halfvec FROM cph_queries WHERE i = 2) LIMIT 10') AS toast_blocks_by_index;
-- inserted rows get copies; VACUUM frees the deleted rows' copies
INSERT INTO cph SELECT 2000 + i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 1200) WHERE i > 0)::halfvec
FROM generate_series(1, 100) i;
DELETE FROM cph WHERE id % 4 = 0;
VACUUM cph;
SELECT (s->>'copies')::int = (SELECT count(*) FROM cph) AS copies_match_rows FROM ruvector_index_stats('cph_cos') s;
SELECT * FROM index_same_as_seqscan('cph', 'cph_queries', '<=>', 100, 'halfvec');
SELECT ruvector_index_check('cph_cos') LIKE 'ok:%' AS cosine_checks;
SET ivfflat.probes = 8;
DROP TABLE cph, cph_queries;

-- which indexes get copies: those that ask, of SQ8 rows of ruvector or
-- halfvec (from 256 dimensions); not without the option, not below 256
-- dimensions (f32 rows, exact already); the option is a boolean
CREATE TABLE cp_200 (v ruvector(200));
INSERT INTO cp_200 SELECT (SELECT array_agg(random()) FROM generate_series(1, 200) WHERE i > 0)::ruvector FROM generate_series(1, 50) i;
CREATE INDEX cp_200_i ON cp_200 USING ivfflat (v vector_l2_ops) WITH (lists = 1, exact_copies = true);
CREATE INDEX cp_default ON cp USING ivfflat (v vector_l2_ops) WITH (lists = 2);
CREATE INDEX cp_h ON cp USING ivfflat ((v::halfvec(600)) halfvec_l2_ops) WITH (lists = 2, exact_copies = true) WHERE id < 2000;
SELECT ruvector_index_stats('cp_200_i')->>'row_format' AS f200, ruvector_index_stats('cp_default')->>'row_format' AS f_default,
       ruvector_index_stats('cp_h')->>'row_format' AS f_halfvec, ruvector_index_stats('cp_default')->>'copies' AS copies_default;
SELECT error_of('CREATE INDEX ON cp USING ivfflat (v vector_l2_ops) WITH (exact_copies = maybe)') AS not_a_boolean;
DROP TABLE cp_200;
DROP INDEX cp_h, cp_default;

-- built on an empty table, filled by inserts; and a column without a typmod
CREATE TABLE cp_empty (id int, v ruvector);
CREATE INDEX cp_empty_i ON cp_empty USING ivfflat (v vector_l2_ops) WITH (lists = 4, exact_copies = true);
SELECT ruvector_index_stats('cp_empty_i')->>'row_format' AS format_without_dimensions;
DROP INDEX cp_empty_i;
ALTER TABLE cp_empty ALTER COLUMN v TYPE ruvector(600);
CREATE INDEX cp_empty_i ON cp_empty USING ivfflat (v vector_l2_ops) WITH (lists = 4, exact_copies = true);
INSERT INTO cp_empty SELECT id, v FROM cp;
SELECT s->>'row_format' AS format, (s->>'copies')::int = (SELECT count(*) FROM cp WHERE id <> 2200) AS a_copy_per_row
FROM ruvector_index_stats('cp_empty_i') s;
SET enable_seqscan = off;
SET ivfflat.probes = 4;
SELECT array(SELECT id FROM cp_empty ORDER BY v <-> (SELECT v FROM cp_queries WHERE i = 4) LIMIT 20)
     = array(SELECT id FROM cp ORDER BY v <-> (SELECT v FROM cp_queries WHERE i = 4), id LIMIT 20) AS same_rows;
RESET enable_seqscan;
DROP TABLE cp_empty;

RESET ivfflat.probes;
DROP TABLE cp, cp_queries, cp_gone;
DROP FUNCTION cp_same_as_seqscan, toast_blocks;
