-- ivfflat rows stored as SQ8 copies (format 2, 256 dimensions and more): the scan reports lower
-- bounds, the executor rechecks on the heap row and reorders. With every
-- list probed, the results must be a sequential scan's, in its order, for
-- every metric and both dense types, including rows whose bounds cannot be
-- tight (huge and tiny magnitudes) and rows equal or nearly equal to the
-- query. A bound above the exact distance would make the executor raise
-- "index returned tuples in wrong order".

SELECT setseed(0.5);
CREATE TABLE sq (id int PRIMARY KEY, v ruvector(256));
-- embedding-like rows, then edge cases: near-duplicates of row 1, scaled
-- copies (1e-20 .. 1e18), a constant row and rows of one large element
INSERT INTO sq SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 256) WHERE i > 0)::ruvector
FROM generate_series(1, 3000) i;
INSERT INTO sq SELECT 3000 + k, (SELECT array_agg(x * (1 + k * 1e-6)) FROM unnest((SELECT v::real[] FROM sq WHERE id = 1)) x)::ruvector
FROM generate_series(1, 5) k;
INSERT INTO sq SELECT 3100 + k, (SELECT array_agg(x * s) FROM unnest((SELECT v::real[] FROM sq WHERE id = 2 + k)) x)::ruvector
FROM (VALUES (1, 1e-20::real), (2, 1e-12), (3, 1e6), (4, 1e15), (5, 1e18)) t(k, s);
INSERT INTO sq VALUES (3200, array_fill(0.25::real, ARRAY[256])::ruvector),
                      (3201, ('[' || repeat('0,', 255) || '3e38]')::ruvector),
                      (3202, ('[' || repeat('0,', 255) || '-2e19]')::ruvector);
CREATE TABLE sq_queries AS SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 256) WHERE i > 0)::ruvector(256) AS v
FROM generate_series(1, 12) i;
INSERT INTO sq_queries SELECT 100, v FROM sq WHERE id = 1;
INSERT INTO sq_queries SELECT 101, v FROM sq WHERE id = 3105;
INSERT INTO sq_queries SELECT 102, v FROM sq WHERE id = 3101;

-- the index's first k rows against a sequential scan's, by id and distance
-- (harness.sql)
CREATE FUNCTION same_as_seqscan(op text, k int, cast_to text DEFAULT 'ruvector') RETURNS TABLE (same bool, queries bigint) AS $$
    SELECT * FROM index_same_as_seqscan('sq', 'sq_queries', op, k, cast_to)
$$ LANGUAGE sql;

SET ivfflat.probes = 8;
CREATE INDEX sq_l2 ON sq USING ivfflat (v vector_l2_ops) WITH (lists = 8);
SELECT * FROM same_as_seqscan('<->', 300);
DROP INDEX sq_l2;

-- A scan's first batch is sized from what this backend's recent scans of
-- the index took (ivf::batch): 128 rows for an index not scanned yet, 16
-- after LIMIT 3 scans of rows the scan ranks exactly (integers: no
-- executor recheck, so a scan takes 3 rows). A scan that then takes 300
-- rows runs out of that batch five times (the lists are scanned again for
-- the rows after the last one each time) and still returns a sequential
-- scan's rows; afterwards the first batch has room for 300 (512 rows:
-- 300 × 1.5 + 4 as a power of two).
CREATE TABLE px (id int PRIMARY KEY, v ruvector(300));
INSERT INTO px SELECT i, (SELECT array_agg(floor(random() * 256)) FROM generate_series(1, 300) WHERE i > 0)::ruvector
FROM generate_series(1, 2000) i;
CREATE TABLE px_queries AS SELECT i, (SELECT array_agg(floor(random() * 256)) FROM generate_series(1, 300) WHERE i > 0)::ruvector(300) AS v
FROM generate_series(1, 6) i;
CREATE INDEX px_l2 ON px USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SET ivfflat.probes = 4;
SELECT ruvector_index_stats('px_l2')->'scan_first_batch' AS first_batch_not_scanned;
SET enable_seqscan = off;
SELECT count(*) FROM px_queries q, LATERAL (SELECT id FROM px ORDER BY v <-> q.v LIMIT 3) s;
RESET enable_seqscan;
SELECT ruvector_index_stats('px_l2')->'scan_first_batch' AS first_batch_after_limit_3;
SELECT * FROM index_same_as_seqscan('px', 'px_queries', '<->', 300);
SELECT ruvector_index_stats('px_l2')->'scan_first_batch' AS first_batch_after_limit_300;
DROP TABLE px, px_queries;
SET ivfflat.probes = 8;

CREATE INDEX sq_ip ON sq USING ivfflat (v vector_ip_ops) WITH (lists = 8);
SELECT * FROM same_as_seqscan('<#>', 300);
DROP INDEX sq_ip;
-- (cosine skips no row here: none is zero)
CREATE INDEX sq_cos ON sq USING ivfflat (v vector_cosine_ops) WITH (lists = 8);
SELECT * FROM same_as_seqscan('<=>', 300);
-- rows inserted after the build are stored the same way
INSERT INTO sq SELECT 4000 + i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 256) WHERE i > 0)::ruvector
FROM generate_series(1, 500) i;
SELECT * FROM same_as_seqscan('<=>', 300);
-- filtered: one probe in exact order; relaxed_order widens to the LIMIT
SET ivfflat.probes = 1;
SET enable_seqscan = off;
SELECT bool_and(d >= prev) AS filtered_in_order, count(*) < 30 AS one_probe_finds_fewer FROM (
    SELECT d, lag(d, 1, -1::float8) OVER (ORDER BY n) AS prev FROM (
        SELECT row_number() OVER () AS n, v <=> (SELECT v FROM sq_queries WHERE i = 3) AS d
        FROM (SELECT v FROM sq WHERE id % 50 = 0 ORDER BY v <=> (SELECT v FROM sq_queries WHERE i = 3) LIMIT 30) s) t) u;
SET ivfflat.iterative_scan = relaxed_order;
SELECT count(*) AS relaxed_returns_limit FROM (
    SELECT id FROM sq WHERE id % 50 = 0 ORDER BY v <=> (SELECT v FROM sq_queries WHERE i = 3) LIMIT 30) s;
RESET ivfflat.iterative_scan;
RESET enable_seqscan;
SET ivfflat.probes = 8;
DROP INDEX sq_cos;

-- halfvec (without the rows and queries beyond its range, or zero in it)
DELETE FROM sq WHERE id IN (3103, 3104, 3105, 3201, 3202);
DELETE FROM sq_queries WHERE i IN (101, 102);
CREATE INDEX sq_h_l2 ON sq USING ivfflat ((v::halfvec(256)) halfvec_l2_ops) WITH (lists = 8);
SELECT * FROM same_as_seqscan('<->', 300, 'halfvec(256)');
DROP INDEX sq_h_l2;
CREATE INDEX sq_h_cos ON sq USING ivfflat ((v::halfvec(256)) halfvec_cosine_ops) WITH (lists = 8);
SELECT * FROM same_as_seqscan('<=>', 300, 'halfvec(256)');
CREATE INDEX sq_h_ip ON sq USING ivfflat ((v::halfvec(256)) halfvec_ip_ops) WITH (lists = 8);
DROP INDEX sq_h_cos;
SELECT * FROM same_as_seqscan('<#>', 300, 'halfvec(256)');
DROP INDEX sq_h_ip;

-- the index stores about a quarter of the f32 bytes (plus bounds and
-- headers): 2,000 rows of 384 dimensions in less than a third of them
CREATE TABLE sq_wide AS SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 384) WHERE i > 0)::ruvector(384) AS v
FROM generate_series(1, 2000) i;
CREATE INDEX sq_wide_l2 ON sq_wide USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SELECT pg_relation_size('sq_wide_l2') < 2000 * 384 * 4 / 3 AS under_a_third_of_the_vectors;
-- below 256 dimensions rows stay f32 (format 1): 128 of the same dimensions
-- take more room than their f32 bytes
CREATE TABLE sq_narrow AS SELECT i, (v::real[])[1:128]::ruvector(128) AS v FROM sq_wide;
CREATE INDEX sq_narrow_l2 ON sq_narrow USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SELECT pg_relation_size('sq_narrow_l2') > 2000 * 128 * 4 AS narrow_rows_are_f32;
DROP TABLE sq_wide, sq_narrow;

-- Rows of integers spanning at most 255 (pixels, uint8 and int8
-- embeddings) have exact SQ8 copies: under <-> and <#> the scan reports
-- their exact distances, which the executor takes without fetching the
-- row's vector. 257 elements of 255 and m of 1 (m = 0 .. 142) put their
-- squared distances to the zero query at the consecutive integers
-- 16,711,425 + m, whose square roots lie closer together than float4
-- resolves; rows are inserted farthest first, so an order that fell back on
-- heap TIDs among equal float4 keys would come out reversed. Rows with an
-- element of 0.5 (copies not exact, rechecked by the executor) lie on
-- either side of them (256 and 258 elements of 255). All distances differ:
-- the index's order must be the sequential scan's.
CREATE TABLE sq_int (id int PRIMARY KEY, v ruvector(400));
INSERT INTO sq_int SELECT a * 1000 + m, (array_fill(255::real, ARRAY[a]) || array_fill(1::real, ARRAY[m])
        || CASE WHEN a = 257 THEN ARRAY[]::real[] ELSE ARRAY[0.5::real] END
        || array_fill(0::real, ARRAY[400 - a - m - CASE WHEN a = 257 THEN 0 ELSE 1 END]))::ruvector
FROM (VALUES (256), (257), (258)) t(a), generate_series(0, 141) m
ORDER BY a DESC, m DESC;
CREATE INDEX sq_int_l2 ON sq_int USING ivfflat (v vector_l2_ops) WITH (lists = 1);
SET enable_seqscan = off;
CREATE TABLE sq_int_by_index AS
    SELECT row_number() OVER () AS n, id FROM (SELECT id FROM sq_int ORDER BY v <-> array_fill(0::real, ARRAY[400])::ruvector LIMIT 426) s;
RESET enable_seqscan;
SELECT count(*) AS rows, bool_and(i.id = s.id) AS in_exact_order FROM sq_int_by_index i JOIN (
    SELECT row_number() OVER (ORDER BY v <-> array_fill(0::real, ARRAY[400])::ruvector) AS n, id FROM sq_int) s USING (n);
DROP TABLE sq_int_by_index;
DROP INDEX sq_int_l2;
CREATE INDEX sq_int_ip ON sq_int USING ivfflat (v vector_ip_ops) WITH (lists = 1);
SET enable_seqscan = off;
CREATE TABLE sq_int_by_index AS
    SELECT row_number() OVER () AS n, id FROM (SELECT id FROM sq_int ORDER BY v <#> array_fill(0.5::real, ARRAY[400])::ruvector LIMIT 426) s;
RESET enable_seqscan;
SELECT count(*) AS rows, bool_and(i.id = s.id) AS in_exact_order FROM sq_int_by_index i JOIN (
    SELECT row_number() OVER (ORDER BY v <#> array_fill(0.5::real, ARRAY[400])::ruvector) AS n, id FROM sq_int) s USING (n);
DROP TABLE sq_int, sq_int_by_index;

-- Stored out of line (600 dimensions, 2.4 kB), an exact row's vector is not
-- read back for the ORDER BY: a LIMIT 10 scan of integer rows reads no TOAST
-- block, while the same scan of the same rows with 0.25 added to one element
-- (not exact) reads the TOAST table for the executor's recheck, at least a
-- block per row returned. (An index WITH (exact_copies = true) reads neither:
-- ivfflat_copies.sql.) In a column of storage MAIN (docs/tuning.md) the rows
-- stay in the table's row, and the recheck reads them from the heap page the
-- executor fetches anyway. The control, selecting the distance, makes the
-- executor read the vectors.
CREATE TABLE sq_toast (id int, v ruvector(600));
INSERT INTO sq_toast SELECT i, (SELECT array_agg(((i * 7 + j * 13) % 256)::real) FROM generate_series(1, 600) j)::ruvector
FROM generate_series(1, 400) i;
CREATE TABLE sq_toast_frac AS SELECT id, (SELECT array_agg(x + CASE WHEN j = 1 THEN 0.25 ELSE 0 END) FROM unnest(v::real[]) WITH ORDINALITY t(x, j))::ruvector(600) AS v FROM sq_toast;
CREATE INDEX sq_toast_i ON sq_toast USING ivfflat (v vector_l2_ops) WITH (lists = 2);
CREATE INDEX sq_toast_frac_i ON sq_toast_frac USING ivfflat (v vector_l2_ops) WITH (lists = 2);
CREATE TABLE sq_main (id int, v ruvector(600));
ALTER TABLE sq_main ALTER COLUMN v SET STORAGE MAIN;
INSERT INTO sq_main SELECT * FROM sq_toast_frac ORDER BY id;
CREATE INDEX sq_main_i ON sq_main USING ivfflat (v vector_l2_ops) WITH (lists = 2);
SELECT bool_and((ruvector_storage_info(v)->>'external')::bool) AS stored_out_of_line FROM sq_toast;
SELECT count(*) AS rows, bool_or((ruvector_storage_info(v)->>'external')::bool) AS any_out_of_line FROM sq_main;
SELECT i, ruvector_index_stats(i)->>'row_format' AS format, ruvector_index_stats(i)->>'copies' AS copies
FROM unnest(ARRAY['sq_toast_i', 'sq_toast_frac_i', 'sq_main_i']::regclass[]) i;
-- blocks of a table's TOAST relation read by a query, in this transaction
CREATE FUNCTION toast_blocks(tab text, distance bool) RETURNS bigint AS $$
DECLARE toast oid; before bigint; q text := 'array_fill(100::real, ARRAY[600])::ruvector';
BEGIN
    SELECT reltoastrelid INTO toast FROM pg_class WHERE oid = tab::regclass;
    SET LOCAL enable_seqscan = off;
    SET LOCAL ivfflat.probes = 2;
    before := pg_stat_get_xact_blocks_fetched(toast);
    EXECUTE format('SELECT id %s FROM %I ORDER BY v <-> %s LIMIT 10',
                   CASE WHEN distance THEN ', v <-> ' || q ELSE '' END, tab, q);
    RETURN pg_stat_get_xact_blocks_fetched(toast) - before;
END $$ LANGUAGE plpgsql;
SELECT toast_blocks('sq_toast', false) AS exact_rows_by_index, toast_blocks('sq_toast', true) >= 10 AS control_reads_toast,
       toast_blocks('sq_toast_frac', false) >= 10 AS rechecks_read_toast;
SELECT toast_blocks('sq_main', false) + toast_blocks('sq_main', true) AS main_storage_toast_blocks;
SET enable_seqscan = off;
SET ivfflat.probes = 2;
SELECT array(SELECT v <-> array_fill(100::real, ARRAY[600])::ruvector FROM sq_main ORDER BY v <-> array_fill(100::real, ARRAY[600])::ruvector LIMIT 10)
     = array(SELECT v <-> array_fill(100::real, ARRAY[600])::ruvector FROM sq_toast_frac ORDER BY v <-> array_fill(100::real, ARRAY[600])::ruvector LIMIT 10)
       AS same_distances;
RESET enable_seqscan;
DROP TABLE sq_toast, sq_toast_frac, sq_main;
DROP FUNCTION toast_blocks;
RESET ivfflat.probes;
DROP TABLE sq, sq_queries;
DROP FUNCTION same_as_seqscan;
