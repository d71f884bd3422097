-- The cost of an ordered hnsw/ivfflat scan counts the rows it must walk to
-- find LIMIT rows that pass the other quals (issue 15): a selective filter
-- with an index of its own plans as that index, then a sort by distance
-- (exact); a loose filter, or none, plans as the ANN scan.
CREATE TABLE fp (id int PRIMARY KEY, cat int, ts int, v ruvector(16));
INSERT INTO fp SELECT i, i % 100, i,
    (SELECT array_agg(((i * 7919 + k * 104729) % 1000) / 1000.0) FROM generate_series(1, 16) k)::ruvector
FROM generate_series(1, 20000) i;
CREATE INDEX fp_cat ON fp (cat);
CREATE INDEX fp_ts ON fp (ts);
CREATE INDEX fp_v ON fp USING hnsw (v vector_l2_ops);
CREATE TABLE tenants (cat int PRIMARY KEY, name text);
INSERT INTO tenants SELECT c, 'tenant ' || c FROM generate_series(0, 99) c;
ANALYZE fp, tenants;
\set q '''[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]'''
-- 1 %: equality, a range, IN of one value: exact
EXPLAIN (costs off) SELECT id FROM fp WHERE cat = 5 ORDER BY v <-> :q LIMIT 10;
EXPLAIN (costs off) SELECT id FROM fp WHERE ts BETWEEN 1000 AND 1199 ORDER BY v <-> :q LIMIT 10;
EXPLAIN (costs off) SELECT id FROM fp WHERE cat = ANY ('{7}') ORDER BY v <-> :q LIMIT 10;
-- 0.1 %: exact
EXPLAIN (costs off) SELECT id FROM fp WHERE ts < 20 ORDER BY v <-> :q LIMIT 10;
-- 50 % and 90 % and no filter: the ANN scan
EXPLAIN (costs off) SELECT id FROM fp WHERE cat < 50 ORDER BY v <-> :q LIMIT 10;
EXPLAIN (costs off) SELECT id FROM fp WHERE cat IN (SELECT generate_series(0, 89)) ORDER BY v <-> :q LIMIT 10;
EXPLAIN (costs off) SELECT id FROM fp ORDER BY v <-> :q LIMIT 10;
-- a partial hnsw index for one tenant serves that tenant's query directly
CREATE INDEX fp_v_cat5 ON fp USING hnsw (v vector_l2_ops) WHERE cat = 5;
CREATE INDEX fp_v_cat6 ON fp USING ivfflat (v vector_l2_ops) WITH (lists = 2) WHERE cat = 6;
-- the builds report every heap row, not the 200 their predicate keeps (the
-- table's reltuples, which the estimates above rest on, was set to 200)
SELECT reltuples AS table_rows_after_partial_builds FROM pg_class WHERE relname = 'fp';
DROP INDEX fp_v_cat6;
EXPLAIN (costs off) SELECT id FROM fp WHERE cat = 5 ORDER BY v <-> :q LIMIT 10;
DROP INDEX fp_v_cat5;
-- and the exact plan answers exactly
SELECT count(*) AS rows, bool_and(cat = 5) AS all_match FROM (SELECT id, cat FROM fp WHERE cat = 5 ORDER BY v <-> :q LIMIT 10) s;
-- an hnsw index with cat as its filter column (docs/filtered-search.md): a
-- 1 % filter still plans exactly through the btree; wider ones and an IN
-- list use the new index, the condition an index condition (a query without
-- a filter may use either hnsw index: here the plain one, which is smaller)
CREATE INDEX fp_cat_v ON fp USING hnsw (cat, v vector_l2_ops);
EXPLAIN (costs off) SELECT id FROM fp WHERE cat = 5 ORDER BY v <-> :q LIMIT 10;
EXPLAIN (costs off) SELECT id FROM fp WHERE cat < 10 ORDER BY v <-> :q LIMIT 10;
EXPLAIN (costs off) SELECT id FROM fp WHERE cat IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) ORDER BY v <-> :q LIMIT 10;
EXPLAIN (costs off) SELECT id FROM fp ORDER BY v <-> :q LIMIT 10;
DROP TABLE fp, tenants;
