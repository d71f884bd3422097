-- A search's answer does not depend on what the vector cache held before it.
-- From 256 dimensions the cache holds SQ8 copies, whose distances are
-- approximate; a vector a search reads from the pages must be measured as
-- its copy will be, or a search that finds nothing cached (the first after
-- a build or a restart, or on a standby) walks the graph differently from
-- the same search once everything it visits is cached; and a vector a full
-- cache has no room for must be measured so too, or on an index larger than
-- the cache the answer depends on which vectors earlier searches cached.
-- A backend's own cache (hnsw.shared_cache_size = 0) holds one index's
-- vectors: a search of another index empties it, so each "cold" search
-- below, which follows a search of cc_other, starts with nothing cached.
SET hnsw.shared_cache_size = 0;
SET enable_seqscan = off;
SELECT setseed(0.29);
CREATE TABLE cc (id int, v ruvector(256));
INSERT INTO cc SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 256) WHERE i > 0)
FROM generate_series(1, 3000) i;
CREATE TABLE cc_other AS SELECT * FROM cc WHERE id <= 100;
CREATE TABLE ccq AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 256) WHERE i > 0)::ruvector(256) AS v
FROM generate_series(1, 100) i;

-- L2: SQ8 copies measured in f32
CREATE INDEX cc_l2 ON cc USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX cc_other_l2 ON cc_other USING hnsw (v vector_l2_ops);
CREATE TEMP TABLE cold AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <-> q.v LIMIT 10) AS ids,
       ARRAY(SELECT id FROM cc_other ORDER BY v <-> q.v LIMIT 1) AS other FROM ccq q;
CREATE TEMP TABLE warm AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <-> q.v LIMIT 10) AS ids FROM ccq q;
SELECT misses AS warm_misses FROM ruvector_hnsw_cache_info() WHERE index = 'cc_l2'::regclass \gset
CREATE TEMP TABLE warm2 AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <-> q.v LIMIT 10) AS ids FROM ccq q;
SELECT misses = :warm_misses AS searches_all_cached FROM ruvector_hnsw_cache_info() WHERE index = 'cc_l2'::regclass;
SELECT count(*) AS queries, count(*) FILTER (WHERE c.ids = w.ids) AS same_answers FROM cold c JOIN warm2 w USING (i);
-- a cache with room for a few hundred of the 3,000 vectors: those it cannot
-- keep are measured as their copies would be, so the answers are the same;
-- those the search returns are measured again, so rows come in exact order
SELECT ARRAY(SELECT id FROM cc_other ORDER BY v <-> (SELECT v FROM ccq WHERE i = 1) LIMIT 1) AS emptied \gset
SET hnsw.vector_cache_size = '64kB';
CREATE TEMP TABLE small AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <-> q.v LIMIT 10) AS ids,
       (SELECT array_agg(d) FROM (SELECT v <-> q.v AS d FROM cc ORDER BY v <-> q.v LIMIT 10) s) AS dists FROM ccq q;
SELECT vectors BETWEEN 1 AND 1000 AS cache_full FROM ruvector_hnsw_cache_info() WHERE index = 'cc_l2'::regclass;
RESET hnsw.vector_cache_size;
SELECT count(*) AS queries, count(*) FILTER (WHERE s.ids = w.ids) AS same_answers FROM small s JOIN warm2 w USING (i);
SELECT count(*) FILTER (WHERE dists = ARRAY(SELECT unnest(dists) ORDER BY 1)) AS rows_in_exact_order FROM small;
DROP TABLE cold, warm, warm2, small;

-- cosine: SQ8 copies measured in integer levels
CREATE INDEX cc_cos ON cc USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX cc_other_cos ON cc_other USING hnsw (v vector_cosine_ops);
CREATE TEMP TABLE cold AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <=> q.v LIMIT 10) AS ids,
       ARRAY(SELECT id FROM cc_other ORDER BY v <=> q.v LIMIT 1) AS other FROM ccq q;
CREATE TEMP TABLE warm AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <=> q.v LIMIT 10) AS ids FROM ccq q;
SELECT misses AS warm_misses FROM ruvector_hnsw_cache_info() WHERE index = 'cc_cos'::regclass \gset
CREATE TEMP TABLE warm2 AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <=> q.v LIMIT 10) AS ids FROM ccq q;
SELECT misses = :warm_misses AS searches_all_cached FROM ruvector_hnsw_cache_info() WHERE index = 'cc_cos'::regclass;
SELECT count(*) AS queries, count(*) FILTER (WHERE c.ids = w.ids) AS same_answers FROM cold c JOIN warm2 w USING (i);
-- a cache with room for a few hundred of the 3,000 vectors: those it cannot
-- keep are measured as their copies would be, so the answers are the same;
-- those the search returns are measured again, so rows come in exact order
SELECT ARRAY(SELECT id FROM cc_other ORDER BY v <=> (SELECT v FROM ccq WHERE i = 1) LIMIT 1) AS emptied \gset
SET hnsw.vector_cache_size = '64kB';
CREATE TEMP TABLE small AS SELECT q.i, ARRAY(SELECT id FROM cc ORDER BY v <=> q.v LIMIT 10) AS ids,
       (SELECT array_agg(d) FROM (SELECT v <=> q.v AS d FROM cc ORDER BY v <=> q.v LIMIT 10) s) AS dists FROM ccq q;
SELECT vectors BETWEEN 1 AND 1000 AS cache_full FROM ruvector_hnsw_cache_info() WHERE index = 'cc_cos'::regclass;
RESET hnsw.vector_cache_size;
SELECT count(*) AS queries, count(*) FILTER (WHERE s.ids = w.ids) AS same_answers FROM small s JOIN warm2 w USING (i);
SELECT count(*) FILTER (WHERE dists = ARRAY(SELECT unnest(dists) ORDER BY 1)) AS rows_in_exact_order FROM small;

RESET hnsw.shared_cache_size;
RESET enable_seqscan;
DROP TABLE cc, cc_other, ccq;
