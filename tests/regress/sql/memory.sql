-- ruvector_memory_components(): where this backend's memory is, by
-- component; ruvector_memory_detailed(): the same as jsonb, with the indexes.

-- a new session: the vector cache is empty, the other components are not
SELECT component, bytes = 0 AS zero, detail LIKE 'empty: %' AS says_empty
FROM ruvector_memory_components() WHERE component = 'hnsw vector cache';
SELECT component, bytes > 0 AS some FROM ruvector_memory_components() WHERE component IN ('rust heap', 'postgres memory contexts') ORDER BY 1;
-- the contexts' figure is what pg_backend_memory_contexts sums (within a
-- fifth: each query allocates a little while it looks)
SELECT (SELECT bytes FROM ruvector_memory_components() WHERE component = 'postgres memory contexts')::float8
       / (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) BETWEEN 0.8 AND 1.25 AS contexts_agree;
-- every backend's cache is visible only with the library preloaded (shared
-- memory; tests/recovery/shared_memory.sh runs that case)
SELECT bytes, detail FROM ruvector_memory_components() WHERE component = 'hnsw vector caches, all backends';
SELECT error_of('SELECT * FROM ruvector_backend_caches()');
-- after searches the cache row counts what ruvector_hnsw_cache_info() does,
-- names the index, and the Rust heap holds at least that much; a
-- superuser's session without the shared cache keeps a cache of its own
SET hnsw.shared_cache_size = 0;
CREATE TABLE mem_t (id int, v ruvector(300));
INSERT INTO mem_t SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0) FROM generate_series(1, 500) i;
CREATE INDEX mem_v ON mem_t USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM mem_t ORDER BY v <-> (SELECT v FROM mem_t WHERE id = 7) LIMIT 5) s;
RESET enable_seqscan;
SELECT m.bytes = i.bytes AS cache_bytes_agree, m.bytes > 0 AS cache_holds_something,
       m.detail LIKE 'index mem_v: % vectors of 309 bytes %' AS detail_names_index_and_sq8_copies
FROM ruvector_memory_components() m, ruvector_hnsw_cache_info() i WHERE m.component = 'hnsw vector cache';
SELECT (SELECT bytes FROM ruvector_memory_components() WHERE component = 'rust heap')
       >= (SELECT bytes FROM ruvector_memory_components() WHERE component = 'hnsw vector cache') AS rust_heap_holds_the_cache;

-- a build's graph is Rust memory: counted while the build runs (the peak
-- reaches at least the 3.6 MB of vectors above what was live), given back
-- when it ends
CREATE TABLE mem_b (id int, v ruvector(300));
INSERT INTO mem_b SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 300) WHERE i > 0) FROM generate_series(1, 3000) i;
CREATE FUNCTION heap_now(out live bigint, out peak_mb float8) LANGUAGE sql AS $$
    SELECT bytes, substring(detail FROM 'peak ([0-9.]+) MB')::float8 FROM ruvector_memory_components() WHERE component = 'rust heap' $$;
SELECT live AS heap_before FROM heap_now() \gset
CREATE INDEX mem_b_v ON mem_b USING hnsw (v vector_l2_ops);
SELECT peak_mb >= :heap_before / 1048576.0 + 3.4 AS build_memory_counted,
       live < :heap_before + 1048576 AS build_memory_returned FROM heap_now();
DROP FUNCTION heap_now();
RESET hnsw.shared_cache_size;

-- ruvector_memory_detailed() as jsonb agrees with the components and the
-- cache's own figures; without the preload its total is this backend's
-- cache and the shared one
SELECT abs((d->>'cache_mb')::float8 * 1048576
           - (SELECT bytes FROM ruvector_memory_components() WHERE component = 'hnsw vector cache')) < 1 AS cache_mb_agrees,
       (d->>'vector_count')::bigint = (SELECT vectors FROM ruvector_hnsw_cache_info()) AS vector_count_agrees,
       (d->>'vector_count')::bigint > 0 AS some_vectors,
       abs((d->>'total_mb')::float8 - (d->>'cache_mb')::float8 - (d->>'shared_cache_mb')::float8) < 1e-9 AS total_is_this_backends_and_shared,
       d->>'total_source' AS total_source,
       jsonb_array_length(d->'components') AS components,
       (d->>'current_mb')::float8 > 0 AND (d->>'peak_mb')::float8 >= (d->>'current_mb')::float8 AS current_below_peak
FROM ruvector_memory_detailed() d;
-- its indexes: every hnsw and ivfflat index of the database, with the size
-- pg_relation_size gives and the pages pg_buffercache finds in shared buffers
CREATE INDEX mem_ivf ON mem_t USING ivfflat (v vector_l2_ops) WITH (lists = 2);
SELECT ruvector_prewarm('mem_v') > 0 AS prewarmed;
CREATE EXTENSION pg_buffercache;
SELECT i->>'name' AS name, i->>'access_method' AS am,
       (i->>'size_bytes')::bigint = pg_relation_size((i->>'name')::regclass) AS size_agrees,
       (i->>'shared_buffers_bytes')::bigint
           = (SELECT count(*) * current_setting('block_size')::bigint FROM pg_buffercache b
              WHERE b.relfilenode = pg_relation_filenode((i->>'name')::regclass) AND b.relforknumber = 0
                AND b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())) AS resident_agrees,
       i->'shared_memory_entry' = 'null'::jsonb AS no_shared_entry
FROM ruvector_memory_detailed() d, jsonb_array_elements(d->'indexes') i WHERE i->>'name' LIKE 'mem_%' ORDER BY 1;
-- after prewarm every page of mem_v is resident
SELECT (i->>'shared_buffers_bytes')::bigint = pg_relation_size('mem_v') AS all_resident
FROM ruvector_memory_detailed() d, jsonb_array_elements(d->'indexes') i WHERE i->>'name' = 'mem_v';
DROP EXTENSION pg_buffercache;

-- without the preload the shared vector cache is one dynamic shared memory
-- segment, made by the first search that wants it: mem_v's searches fill
-- its segment, and a new connection's first search finds every vector it
-- needs there (no miss)
DROP INDEX mem_ivf;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM mem_t ORDER BY v <-> (SELECT v FROM mem_t WHERE id = 9) LIMIT 5) s;
SELECT vectors > 0 AS segment_filled, vectors <= vector_capacity AS within_capacity, state
FROM ruvector_shared_cache() WHERE index = 'mem_v'::regclass;
-- the segment is allocated whole when made: counted whole
SELECT bytes >= 256 * 1024 * 1024 AS whole_segment_counted,
       detail LIKE '% reserved of 256.0 MB (hnsw.shared_cache_size), all of it allocated in /dev/shm%' AS names_size_and_place
FROM ruvector_memory_components() WHERE component = 'hnsw shared vector cache';
\c
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM mem_t ORDER BY v <-> (SELECT v FROM mem_t WHERE id = 9) LIMIT 5) s;
SELECT hits > 0 AS hits, misses FROM ruvector_hnsw_cache_info();
-- a superuser may turn it off for a session (others may not: shared memory)
SET hnsw.shared_cache_size = 0;
SELECT count(*) FROM (SELECT id FROM mem_t ORDER BY v <-> (SELECT v FROM mem_t WHERE id = 9) LIMIT 5) s;
SELECT misses > 0 AS own_cache_filled, bytes > 0 AS own_bytes FROM ruvector_hnsw_cache_info();
RESET hnsw.shared_cache_size;
CREATE ROLE mem_user;
SET ROLE mem_user;
SELECT error_of('SET hnsw.shared_cache_size = 0');
RESET ROLE;
DROP ROLE mem_user;
-- dropping the index frees its segment
SELECT 'mem_v'::regclass::oid AS mem_v_oid \gset
SELECT count(*) AS segments_before FROM ruvector_shared_cache() WHERE index = :mem_v_oid;
DROP TABLE mem_t, mem_b;
SELECT count(*) AS segments_left FROM ruvector_shared_cache() WHERE index = :mem_v_oid;
-- Index builds read each row's value; a value stored out of line is copied
-- out of TOAST, and that copy is freed once the row is read instead of
-- staying until the build ends. 20,000 zero vectors of 600 dimensions, out
-- of line (2.4 kB each, 48 MB in all), are read and not indexed under
-- cosine, so the builds' peak memory (the backend's VmHWM) grows by much
-- less than they take. 20 rows are indexable: the ivfflat build's sample,
-- whose out-of-line values it reads after the scan, is taken again when
-- most of them turn out zero vectors, so all 20 reach k-means (no
-- little-data NOTICE for 15 lists).
CREATE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS
$$ SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+(\d+) kB')::bigint $$;
SET ruvector.compress_values = off;
CREATE TABLE mem_toast (v ruvector(600));
ALTER TABLE mem_toast ALTER COLUMN v SET STORAGE EXTERNAL;
INSERT INTO mem_toast SELECT array_fill(0, ARRAY[600])::real[]::ruvector FROM generate_series(1, 20000);
INSERT INTO mem_toast SELECT (SELECT array_agg(random() + 0.1) FROM generate_series(1, 600) WHERE i > 0)::ruvector FROM generate_series(1, 20) i;
RESET ruvector.compress_values;
SELECT count(*) AS rows, pg_total_relation_size('mem_toast') > 45000000 AS out_of_line_mb_over_45,
       bool_and((ruvector_storage_info(v) ->> 'external')::bool) AS all_external
FROM mem_toast;
-- the table's pages are in this backend's memory from here on
SELECT count(*) AS zero_vectors FROM mem_toast WHERE vector_norm(v) = 0;
CREATE TEMP TABLE mem_peak AS SELECT peak_kb() AS kb;
SET maintenance_work_mem = '64MB';
CREATE INDEX mem_toast_ivf ON mem_toast USING ivfflat (v vector_cosine_ops) WITH (lists = 15);
CREATE INDEX mem_toast_hnsw ON mem_toast USING hnsw (v vector_cosine_ops);
RESET maintenance_work_mem;
SELECT peak_kb() - kb < 16000 AS builds_peak_under_16_mb_more FROM mem_peak;
DROP TABLE mem_toast;
