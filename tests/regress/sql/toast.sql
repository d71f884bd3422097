-- TOAST strategy per value (ruvector_core::toast): values going into a
-- column (typmod given) are compressed when their strategy says so, query
-- constants never; ruvector_storage_info() shows the strategy and what
-- PostgreSQL holds, and pg_column_size agrees with it.

CREATE TABLE toast_t (id int, kind text, v ruvector, h halfvec, s sparsevec);
-- dense: distinct values (no compression, out of line over 2 kB)
INSERT INTO toast_t (id, kind, v) SELECT 1, 'dense 1536-d',
    (SELECT array_agg(sin(g * 1.7) * g) FROM generate_series(1, 1536) g)::ruvector(1536);
-- mostly zero, 10,000-d: compressed, in the row
INSERT INTO toast_t (id, kind, v) SELECT 2, 'mostly-zero 10000-d',
    (SELECT array_agg(CASE WHEN g % 50 = 0 THEN g ELSE 0 END) FROM generate_series(1, 10000) g)::ruvector(10000);
-- quantized (16 levels), 2,048-d: compressed, still over 2 kB, so out of line
INSERT INTO toast_t (id, kind, v) SELECT 3, 'quantized 2048-d',
    (SELECT array_agg((g * 7919 % 16) / 15.0) FROM generate_series(1, 2048) g)::ruvector(2048);
-- quantized, 256-d (1 kB): compressed by the extension (the toaster would not)
INSERT INTO toast_t (id, kind, v) SELECT 4, 'quantized 256-d',
    (SELECT array_agg((g * 31 % 4) / 3.0) FROM generate_series(1, 256) g)::ruvector(256);
-- small: inline
INSERT INTO toast_t (id, kind, v) VALUES (5, 'dense 64-d', (SELECT array_agg(g)::ruvector(64) FROM generate_series(1, 64) g));
-- the same quantized 256-d value into a column without a typmod: stored as is
INSERT INTO toast_t (id, kind, v) SELECT 6, 'quantized 256-d, no typmod', v::text::ruvector FROM toast_t WHERE id = 4;
INSERT INTO toast_t (id, kind, h) SELECT 7, 'halfvec quantized 512-d',
    (SELECT array_agg((g * 31 % 4) / 3.0) FROM generate_series(1, 512) g)::halfvec(512);
INSERT INTO toast_t (id, kind, s) SELECT 8, 'sparsevec, 300 of 100000 equal',
    (SELECT ('{' || string_agg(g || ':1', ',') || '}/100000') FROM generate_series(1, 300) g)::sparsevec(100000);

SELECT id, kind, i->>'strategy' AS strategy, (i->>'compressed')::bool AS compressed, (i->>'external')::bool AS external,
       (i->>'original_bytes')::int AS original, (i->>'stored_bytes')::int < (i->>'original_bytes')::int AS smaller,
       (i->>'compressibility')::float8 > 0.3 AS compressible
FROM toast_t, LATERAL (SELECT CASE WHEN v IS NOT NULL THEN ruvector_storage_info(v)
                                   WHEN h IS NOT NULL THEN ruvector_storage_info(h)
                                   ELSE ruvector_storage_info(s) END) x(i)
ORDER BY id;

-- the stored size is what pg_column_size reports
SELECT id, (ruvector_storage_info(v)->>'stored_bytes')::int = pg_column_size(v) AS agrees FROM toast_t WHERE v IS NOT NULL ORDER BY id;

-- compressed values read back whole: text, distances, functions
SELECT id, vector_dims(v), v = (SELECT v FROM toast_t WHERE id = 6) AS equals_uncompressed_copy
FROM toast_t WHERE id IN (4, 6) ORDER BY id;
SELECT id, l2_distance(v, v) AS self, round(vector_norm(v)::numeric, 3) AS norm FROM toast_t WHERE v IS NOT NULL ORDER BY id;
SELECT vector_dims(h), l2_distance(h, h) FROM toast_t WHERE id = 7;
SELECT (SELECT v FROM toast_t WHERE id = 2)::text = (SELECT array_agg(CASE WHEN g % 50 = 0 THEN g ELSE 0 END) FROM generate_series(1, 10000) g)::ruvector::text AS round_trips;

-- ruvector.compress_values = off stores values as sent (as pgvector does)
SET ruvector.compress_values = off;
INSERT INTO toast_t (id, kind, v) SELECT 9, 'quantized 256-d, compression off', v::text::ruvector(256) FROM toast_t WHERE id = 4;
RESET ruvector.compress_values;
SELECT id, (ruvector_storage_info(v)->>'compressed')::bool AS compressed, pg_column_size(v) FROM toast_t WHERE id IN (4, 9) ORDER BY id;

-- a query constant is never compressed, even when it would be
SELECT ruvector_storage_info((SELECT array_agg((g * 31 % 4) / 3.0) FROM generate_series(1, 256) g)::ruvector)->>'compressed' AS constant_compressed;

-- an index over compressed values: built, searched, exact at high ef
CREATE TABLE toast_q (id int, v ruvector(256));
INSERT INTO toast_q SELECT i, (SELECT array_agg(((g * i) % 5) / 4.0) FROM generate_series(1, 256) g) FROM generate_series(1, 300) i;
SELECT count(*) FILTER (WHERE (ruvector_storage_info(v)->>'compressed')::bool) AS compressed_rows, count(*) FROM toast_q;
CREATE INDEX toast_q_v ON toast_q USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SET hnsw.ef_search = 400;
SELECT array_agg(id) AS by_index FROM (SELECT id FROM toast_q ORDER BY v <-> (SELECT v FROM toast_q WHERE id = 7), id LIMIT 5) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT array_agg(id) AS exact FROM (SELECT id FROM toast_q ORDER BY v <-> (SELECT v FROM toast_q WHERE id = 7), id LIMIT 5) s;
RESET enable_indexscan;
RESET hnsw.ef_search;
DROP TABLE toast_t, toast_q;
-- ivfflat's build samples an out-of-line value as its TOAST pointer and
-- reads it after the heap scan; CREATE INDEX CONCURRENTLY builds in
-- transactions of its own. With every list probed, the index answers as an
-- exact scan does.
CREATE TABLE toast_ivf (id int, v ruvector(700));
INSERT INTO toast_ivf SELECT i, (SELECT array_agg(sin(i * g * 0.37)) FROM generate_series(1, 700) g WHERE i > 0) FROM generate_series(1, 300) i;
SELECT count(*) AS rows, bool_and((ruvector_storage_info(v) ->> 'external')::bool) AS all_external FROM toast_ivf;
CREATE INDEX CONCURRENTLY toast_ivf_idx ON toast_ivf USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SET ivfflat.probes = 4;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM toast_ivf ORDER BY v <-> (SELECT v FROM toast_ivf WHERE id = 5) LIMIT 5;
CREATE TEMP TABLE toast_ivf_by_index AS
    SELECT array_agg(id) AS ids FROM (SELECT id FROM toast_ivf ORDER BY v <-> (SELECT v FROM toast_ivf WHERE id = 5) LIMIT 5) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT ids = (SELECT array_agg(id) FROM (SELECT id FROM toast_ivf ORDER BY v <-> (SELECT v FROM toast_ivf WHERE id = 5) LIMIT 5) s) AS same_as_exact,
       ids[1] AS nearest
FROM toast_ivf_by_index;
RESET enable_indexscan;
RESET ivfflat.probes;
DROP TABLE toast_ivf, toast_ivf_by_index;
