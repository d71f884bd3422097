-- hnsw on bit: Hamming and Jaccard opclasses, and binary quantisation with
-- re-ranking by exact distance.

SELECT setseed(0.11);
CREATE TABLE bc AS SELECT c, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 64) WHERE c > 0) AS x FROM generate_series(1, 20) c;
CREATE TABLE emb (id int PRIMARY KEY, v ruvector(64));
INSERT INTO emb SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.8) FROM generate_series(1, 64) k)::ruvector
FROM generate_series(1, 3000) i JOIN bc ON c = 1 + i % 20;
CREATE TABLE eq AS SELECT i, (SELECT array_agg(x[k] + (random() - 0.5) * 0.8) FROM generate_series(1, 64) k)::ruvector(64) AS v
FROM generate_series(1, 30) i JOIN bc ON c = 1 + (i * 3) % 20;
CREATE TABLE bits AS SELECT id, binary_quantize(v)::bit(64) AS b FROM emb;

-- Hamming and Jaccard indexes agree with exact distances on their nearest rows
CREATE INDEX bits_hamming ON bits USING hnsw (b bit_hamming_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM bits ORDER BY b <~> (SELECT binary_quantize(v)::bit(64) FROM eq WHERE i = 1) LIMIT 5;
SELECT ruvector_index_check('bits_hamming') LIKE 'ok:%' AS check_ok;
-- the 10th distance found equals the exact 10th distance (ties make ids ambiguous)
SELECT count(*) FILTER (WHERE got = exact) >= 27 AS hamming_tenth_distances_ok FROM (
    SELECT (SELECT max(d) FROM (SELECT b <~> q.b AS d FROM bits ORDER BY b <~> q.b LIMIT 10) s) AS got,
           (SELECT max(d) FROM (SELECT d FROM (SELECT b <~> q.b AS d FROM bits OFFSET 0) x ORDER BY d LIMIT 10) s) AS exact
    FROM (SELECT binary_quantize(v)::bit(64) AS b FROM eq) q) t;
RESET enable_seqscan;
DROP INDEX bits_hamming;
CREATE INDEX bits_jaccard ON bits USING hnsw (b bit_jaccard_ops);
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE abs(got - exact) < 1e-9) >= 27 AS jaccard_tenth_distances_ok FROM (
    SELECT (SELECT max(d) FROM (SELECT b <%> q.b AS d FROM bits ORDER BY b <%> q.b LIMIT 10) s) AS got,
           (SELECT max(d) FROM (SELECT d FROM (SELECT b <%> q.b AS d FROM bits OFFSET 0) x ORDER BY d LIMIT 10) s) AS exact
    FROM (SELECT binary_quantize(v)::bit(64) AS b FROM eq) q) t;
RESET enable_seqscan;

-- Binary quantisation, then re-ranking: an expression index on the bits of the
-- ruvector column, 200 candidates by Hamming distance, re-ranked by exact L2.
-- (64 bits keep little of a vector: 40 candidates recover ~0.5 of the true
-- top 10 here, 100 ~0.85, 200 all of them.)
CREATE INDEX emb_bq ON emb USING hnsw ((binary_quantize(v)::bit(64)) bit_hamming_ops);
SET enable_seqscan = off;
SET hnsw.ef_search = 200;
EXPLAIN (COSTS OFF)
SELECT id FROM (SELECT id, v FROM emb ORDER BY binary_quantize(v)::bit(64) <~> binary_quantize('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64]'::ruvector) LIMIT 200) c
ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64]' LIMIT 10;
CREATE TEMP TABLE reranked AS SELECT q.i, r.id FROM eq q, LATERAL (
    SELECT id FROM (SELECT id, v FROM emb ORDER BY binary_quantize(v)::bit(64) <~> binary_quantize(q.v) LIMIT 200) c
    ORDER BY v <-> q.v LIMIT 10) r;
RESET hnsw.ef_search;
SET enable_indexscan = off;
CREATE TEMP TABLE exact AS SELECT q.i, e.id FROM eq q, LATERAL (SELECT id FROM emb ORDER BY v <-> q.v LIMIT 10) e;
RESET enable_indexscan;
RESET enable_seqscan;
SELECT (SELECT count(*) FROM reranked JOIN exact USING (i, id))::float8 / 300 >= 0.95 AS bq_rerank_recall_ok;

DROP TABLE emb, eq, bc, bits;
