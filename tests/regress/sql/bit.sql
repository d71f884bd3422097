-- Distances on bit(n): Hamming <~> and Jaccard <%>, as in pgvector.

SELECT B'1010' <~> B'0110' AS hamming, hamming_distance(B'1111', B'0000') AS all_differ,
       B'1100' <%> B'0110' AS jaccard, jaccard_distance(B'0000', B'0000') AS empty_sets,
       jaccard_distance(B'1010', B'1010') AS identical;
SELECT error_of($$SELECT B'101' <~> B'1010'$$), error_of($$SELECT B'101' <%> B'1'$$);

-- Popcount kernels agree with a bit-by-bit count at lengths 1..600 (tails included).
SELECT count(*) AS mismatches FROM (
    SELECT a, b FROM (
        SELECT (SELECT string_agg(CASE WHEN random() < 0.5 THEN '1' ELSE '0' END, '') FROM generate_series(1, n))::varbit AS a,
               (SELECT string_agg(CASE WHEN random() < 0.3 THEN '1' ELSE '0' END, '') FROM generate_series(1, n))::varbit AS b
        FROM generate_series(1, 600) n) s
) t
WHERE (a <~> b) <> length(replace((a # b)::text, '0', ''))
   OR (a <%> b) IS DISTINCT FROM (CASE WHEN length(replace((a | b)::text, '0', '')) = 0 THEN 1
       ELSE 1 - length(replace((a & b)::text, '0', ''))::float8 / length(replace((a | b)::text, '0', '')) END);

-- Binary quantisation then Hamming re-ranking, in SQL
CREATE TABLE bq (id int, v ruvector(4));
INSERT INTO bq VALUES (1, '[1,-1,1,-1]'), (2, '[1,1,1,1]'), (3, '[-1,-1,-1,-1]');
SELECT id, binary_quantize(v) <~> binary_quantize('[1,-1,1,1]'::ruvector) AS hamming
FROM bq ORDER BY hamming, id;
DROP TABLE bq;
