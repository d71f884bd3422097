-- ruvector_index_check on ivfflat indexes: every format (1: vectors in the
-- element type; 2: SQ8 rows; 3: SQ8 rows and full copies), after a build,
-- inserts, DELETE and VACUUM, HOT updates, an aborted insert, rows the
-- index does not take (NULL, a zero vector under cosine, a partial index's
-- predicate); and the violation it exists for: table rows an index does not
-- hold.

SELECT setseed(0.5);
-- (fillfactor 50: room on every page, so the UPDATE below is HOT)
CREATE TABLE ck (id int PRIMARY KEY, note text, small ruvector(3), v ruvector(300), h halfvec(300), b bit(64)) WITH (fillfactor = 50);
INSERT INTO ck SELECT i, 'x',
    ARRAY[random(), random(), random()]::ruvector,
    (SELECT array_agg(x) FROM (SELECT random() - 0.5 + (i % 7) * 0.01 AS x FROM generate_series(1, 300)) s)::ruvector,
    NULL, NULL
FROM generate_series(1, 2000) i;
UPDATE ck SET h = v::halfvec, b = (SELECT string_agg(CASE WHEN random() < 0.5 THEN '1' ELSE '0' END, '') FROM generate_series(1, 64) WHERE id > 0)::bit(64);
-- integer rows (exact SQ8 copies: under L2 no full copy), a zero vector, NULLs
INSERT INTO ck SELECT 3000 + i, 'int', NULL, (SELECT array_agg(floor(random() * 200)) FROM generate_series(1, 300) WHERE i > 0)::ruvector, NULL, NULL
FROM generate_series(1, 50) i;
INSERT INTO ck VALUES (4000, 'zero', NULL, array_fill(0::real, ARRAY[300])::ruvector, NULL, NULL), (4001, 'null', NULL, NULL, NULL, NULL);
VACUUM ANALYZE ck;

CREATE INDEX ck_small ON ck USING ivfflat (small vector_l2_ops) WITH (lists = 10);
CREATE INDEX ck_cos ON ck USING ivfflat (v vector_cosine_ops) WITH (lists = 20);
CREATE INDEX ck_l2 ON ck USING ivfflat (v vector_l2_ops) WITH (lists = 20);
CREATE INDEX ck_copies ON ck USING ivfflat (v vector_l2_ops) WITH (lists = 20, exact_copies = true);
CREATE INDEX ck_copies_cos ON ck USING ivfflat (v vector_cosine_ops) WITH (lists = 20, exact_copies = true);
CREATE INDEX ck_half ON ck USING ivfflat (h halfvec_ip_ops) WITH (lists = 20);
CREATE INDEX ck_bits ON ck USING ivfflat (b bit_hamming_ops) WITH (lists = 20);
CREATE INDEX ck_even ON ck USING ivfflat (v vector_l2_ops) WITH (lists = 5) WHERE id % 2 = 0;

-- the summary without the page count (the format, rows, table rows, copies)
CREATE FUNCTION ck_check(idx regclass) RETURNS text AS $$
    SELECT regexp_replace(ruvector_index_check(idx), ', \d+ pages$', '')
$$ LANGUAGE sql;
CREATE FUNCTION ck_all() RETURNS TABLE (index_name text, summary text) AS $$
    SELECT c.relname::text, ck_check(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = 'ck'::regclass AND a.amname = 'ivfflat' ORDER BY 1
$$ LANGUAGE sql;

-- after the build: 2,000 + 50 + 1 (zero) rows of v; the zero vector is not
-- in the cosine indexes; integer rows have no copy under L2
SELECT * FROM ck_all();

-- inserts, a DELETE and VACUUM, reinserts, a HOT update (another column:
-- the row's live version is a heap-only tuple under the indexed root)
INSERT INTO ck SELECT 5000 + i, 'new', ARRAY[random(), random(), random()]::ruvector,
    (SELECT array_agg(random() - 0.5) FROM generate_series(1, 300) WHERE i > 0)::ruvector, NULL, NULL
FROM generate_series(1, 300) i;
DELETE FROM ck WHERE id % 3 = 0;
VACUUM ck;
INSERT INTO ck SELECT 6000 + i, 'again', ARRAY[random(), random(), random()]::ruvector,
    (SELECT array_agg(random() - 0.5) FROM generate_series(1, 300) WHERE i > 0)::ruvector, NULL, NULL
FROM generate_series(1, 200) i;
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE hot_before AS SELECT pg_stat_get_tuples_hot_updated('ck'::regclass) AS n;
UPDATE ck SET note = 'hot' WHERE id BETWEEN 5001 AND 5010;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_get_tuples_hot_updated('ck'::regclass) - n > 0 AS some_updates_hot FROM hot_before;
-- an insert that aborts leaves index rows whose heap rows never committed
BEGIN;
INSERT INTO ck SELECT 7000 + i, 'aborted', NULL, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0)::ruvector, NULL, NULL
FROM generate_series(1, 20) i;
ROLLBACK;
SELECT * FROM ck_all();

-- an empty table, and a partitioned index (each partition checked)
CREATE TABLE ck_empty (v ruvector(300));
CREATE INDEX ck_empty_idx ON ck_empty USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SELECT ck_check('ck_empty_idx');
CREATE TABLE ck_parts (id int, v ruvector(300)) PARTITION BY RANGE (id);
CREATE TABLE ck_parts_1 PARTITION OF ck_parts FOR VALUES FROM (0) TO (100);
CREATE TABLE ck_parts_2 PARTITION OF ck_parts FOR VALUES FROM (100) TO (200);
INSERT INTO ck_parts SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i >= 0)::ruvector FROM generate_series(0, 199) i;
CREATE INDEX ck_parts_idx ON ck_parts USING ivfflat (v vector_l2_ops) WITH (lists = 2);
SELECT regexp_replace(ruvector_index_check('ck_parts_idx'), ', \d+ pages', '', 'g') AS partitions;

-- The violation: rows the index does not hold. With indisready off (as a
-- failed CREATE INDEX CONCURRENTLY leaves an index) inserts skip the index;
-- turned back on, the index answers without them.
CREATE TABLE ck_gap (id int, v ruvector(300));
INSERT INTO ck_gap SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0)::ruvector FROM generate_series(1, 500) i;
CREATE INDEX ck_gap_idx ON ck_gap USING ivfflat (v vector_l2_ops) WITH (lists = 5);
SELECT ck_check('ck_gap_idx');
UPDATE pg_index SET indisready = false WHERE indexrelid = 'ck_gap_idx'::regclass;
INSERT INTO ck_gap SELECT 1000 + i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0)::ruvector FROM generate_series(1, 7) i;
UPDATE pg_index SET indisready = true WHERE indexrelid = 'ck_gap_idx'::regclass;
SELECT regexp_replace(error_of($$SELECT ruvector_index_check('ck_gap_idx')$$), '\(\d+,\d+\)|block: \d+, offset: \d+', 'TID', 'g') AS missing_rows;
REINDEX INDEX ck_gap_idx;
SELECT ck_check('ck_gap_idx');

DROP TABLE ck, ck_empty, ck_parts, ck_gap;
DROP FUNCTION ck_check(regclass), ck_all();
