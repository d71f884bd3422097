-- hnsw on sparsevec: every opclass, and values with more than pgvector's
-- 1,000 non-zeros per indexed value (stored across pages).

-- 2,000 rows of 1,000 dimensions, 30 topics of 40 terms each, ~60 non-zeros per row
SELECT setseed(0.5);
CREATE TABLE sitems (id int PRIMARY KEY, v sparsevec(1000));
INSERT INTO sitems SELECT i, (
    SELECT ('{' || string_agg(k || ':' || round((random() + 0.1)::numeric, 3), ',') || '}/1000')
    FROM (SELECT DISTINCT k FROM (
        SELECT 1 + ((i % 30) * 33 + (random() * 40)::int) % 1000 AS k FROM generate_series(1, 45)
        UNION ALL SELECT 1 + (random() * 999)::int FROM generate_series(1, 15)) t) u)::sparsevec
FROM generate_series(1, 2000) i;
-- queries: 20 other rows drawn the same way
CREATE TABLE sq AS SELECT i, (
    SELECT ('{' || string_agg(k || ':' || round((random() + 0.1)::numeric, 3), ',') || '}/1000')
    FROM (SELECT DISTINCT k FROM (
        SELECT 1 + ((i % 30) * 33 + (random() * 40)::int) % 1000 AS k FROM generate_series(1, 45)
        UNION ALL SELECT 1 + (random() * 999)::int FROM generate_series(1, 15)) t) u)::sparsevec(1000) AS v
FROM generate_series(1, 20) i;

CREATE INDEX sitems_l2 ON sitems USING hnsw (v sparsevec_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM sitems ORDER BY v <-> (SELECT v FROM sq WHERE i = 1) LIMIT 5;
RESET enable_seqscan;
SELECT recall_at_10('sq', 'sitems', '<->') >= 0.9 AS l2_ok, ruvector_index_check('sitems_l2') LIKE 'ok: 2000 elements%' AS check_ok;
DROP INDEX sitems_l2;
CREATE INDEX ON sitems USING hnsw (v sparsevec_ip_ops);
SELECT recall_at_10('sq', 'sitems', '<#>') >= 0.7 AS ip_ok;
CREATE INDEX ON sitems USING hnsw (v sparsevec_cosine_ops);
SELECT recall_at_10('sq', 'sitems', '<=>') >= 0.9 AS cosine_ok;
CREATE INDEX ON sitems USING hnsw (v sparsevec_l1_ops);
SELECT recall_at_10('sq', 'sitems', '<+>') >= 0.9 AS l1_ok;

-- 3,000 non-zeros per value (pgvector's hnsw allows 1,000): chunks across pages
CREATE TABLE sbig (id int, v sparsevec(100000));
INSERT INTO sbig SELECT i, ('{' || (SELECT string_agg((k * 31 + i) % 100000 + 1 || ':' || (1 + (k % 7)), ',' ORDER BY (k * 31 + i) % 100000)
    FROM generate_series(1, 3000) k) || '}/100000')::sparsevec FROM generate_series(1, 60) i;
CREATE INDEX sbig_idx ON sbig USING hnsw (v sparsevec_l2_ops);
INSERT INTO sbig SELECT i, ('{' || (SELECT string_agg((k * 31 + i) % 100000 + 1 || ':' || (1 + (k % 7)), ',' ORDER BY (k * 31 + i) % 100000)
    FROM generate_series(1, 3000) k) || '}/100000')::sparsevec FROM generate_series(61, 80) i;
SELECT ruvector_index_check('sbig_idx') LIKE 'ok: 80 elements%' AS big_check_ok;
SET enable_seqscan = off;
SELECT bool_and((SELECT id FROM sbig b ORDER BY b.v <-> a.v LIMIT 1) = a.id) AS every_row_finds_itself FROM sbig a;
RESET enable_seqscan;

DROP TABLE sitems, sq, sbig;
