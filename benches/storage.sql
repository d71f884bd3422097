-- Bytes per value and per hnsw index entry for the sizes issue #3 asks about,
-- next to pgvector's documented value sizes. Run: scripts/bench-storage.sh
\set QUIET on
\pset footer off
DROP TABLE IF EXISTS st_vec, st_half, st_bit, st_sparse;
SELECT setseed(0.2);
CREATE TABLE st_vec (id int, v ruvector(1536));
INSERT INTO st_vec SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 1536) WHERE i > 0) FROM generate_series(1, 2000) i;
CREATE TABLE st_half AS SELECT id, v::halfvec(1536) AS v FROM st_vec;
CREATE TABLE st_bit (id int, v bit(2048));
INSERT INTO st_bit SELECT i, binary_quantize((SELECT array_agg(random() - 0.5) FROM generate_series(1, 2048) WHERE i > 0)::ruvector)::bit(2048) FROM generate_series(1, 2000) i;
CREATE TABLE st_sparse (id int, v sparsevec(10000));
INSERT INTO st_sparse SELECT i, ('{' || (SELECT string_agg(k::text || ':' || round(random()::numeric, 4)::text, ',') FROM (SELECT DISTINCT 1 + (random() * 9999)::int AS k FROM generate_series(1, 515) WHERE i > 0) s LIMIT 500) || '}/10000')::sparsevec FROM generate_series(1, 2000) i;
CREATE INDEX st_vec_idx ON st_vec USING hnsw (v vector_l2_ops);
CREATE INDEX st_half_idx ON st_half USING hnsw (v halfvec_l2_ops);
CREATE INDEX st_bit_idx ON st_bit USING hnsw (v bit_hamming_ops);
CREATE INDEX st_sparse_idx ON st_sparse USING hnsw (v sparsevec_l2_ops);
\set QUIET off
SELECT kind, value_bytes, pgvector_value_bytes, index_bytes_per_row
FROM (VALUES
    ('ruvector(1536)', (SELECT avg(pg_column_size(v))::int FROM st_vec), 4 * 1536 + 8, pg_relation_size('st_vec_idx') / 2000),
    ('halfvec(1536)', (SELECT avg(pg_column_size(v))::int FROM st_half), 2 * 1536 + 8, pg_relation_size('st_half_idx') / 2000),
    ('bit(2048), binary-quantised', (SELECT avg(pg_column_size(v))::int FROM st_bit), 2048 / 8 + 8, pg_relation_size('st_bit_idx') / 2000),
    ('sparsevec(10000), 5 % non-zero', (SELECT avg(pg_column_size(v))::int FROM st_sparse), (SELECT avg(8 * (length(v::text) - length(replace(v::text, ':', ''))) + 16)::int FROM st_sparse), pg_relation_size('st_sparse_idx') / 2000)
) t(kind, value_bytes, pgvector_value_bytes, index_bytes_per_row);
