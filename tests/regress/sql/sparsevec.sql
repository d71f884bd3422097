-- sparsevec: sorted (index, value) pairs with pgvector's SQL surface.

-- text I/O: 1-based indices in any order, zeros dropped, output sorted
SELECT '{1:1.5,3:-2}/5'::sparsevec, ' { 3 : -2 , 1 : 1.5 , 2 : 0 } / 5 '::sparsevec, '{}/3'::sparsevec;
SELECT '{1:1e-5,2:1.5e+20,3:0.1}/3'::sparsevec;
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT '[1,2]'::sparsevec$$),
    ($$SELECT '{1:1}'::sparsevec$$),
    ($$SELECT '{1:1}/'::sparsevec$$),
    ($$SELECT '{1:1}/3x'::sparsevec$$),
    ($$SELECT '{1 1}/3'::sparsevec$$),
    ($$SELECT '{1:}/3'::sparsevec$$),
    ($$SELECT '{0:1}/3'::sparsevec$$),
    ($$SELECT '{-1:1}/3'::sparsevec$$),
    ($$SELECT '{2147483648:1}/3'::sparsevec$$),
    ($$SELECT '{4:1}/3'::sparsevec$$),
    ($$SELECT '{1:1,1:2}/3'::sparsevec$$),
    ($$SELECT '{1:NaN}/3'::sparsevec$$),
    ($$SELECT '{1:inf}/3'::sparsevec$$),
    ($$SELECT '{1:1e39}/3'::sparsevec$$),
    ($$SELECT '{1:1e-50}/3'::sparsevec$$),
    ($$SELECT '{}/0'::sparsevec$$),
    ($$SELECT '{}/1000000001'::sparsevec$$),
    ($$SELECT '{1:1}/3'::sparsevec(4)$$),
    ($$SELECT '{}/3'::sparsevec(0)$$),
    ($$SELECT '{}/3'::sparsevec(1000000001)$$)
) t(q);
SELECT '{1:1,1000000000:2}/1000000000'::sparsevec AS max_dims;
SELECT error_of(format('SELECT %L::sparsevec', '{' || string_agg(i || ':1', ',') || '}/20000')) FROM generate_series(1, 16001) i;
SELECT length(format('%s', (('{' || string_agg(i || ':1', ',') || '}/20000')::sparsevec)::text)) > 0 AS sixteen_thousand_ok
FROM generate_series(1, 16000) i;

-- binary wire format: int32 dim, int32 nnz, int32 0, 0-based int32 indices, float4 values
SELECT sparsevec_send('{1:1.5,3:-2}/5');
CREATE TABLE ssrc (v sparsevec);
INSERT INTO ssrc VALUES ('{1:1.5,3:-2}/5'), ('{}/7'), ('{999999:0.25}/1000000');
COPY ssrc TO '/tmp/ruvector_regress_sparse.bin' (FORMAT binary);
CREATE TABLE sdst (v sparsevec);
COPY sdst FROM '/tmp/ruvector_regress_sparse.bin' (FORMAT binary);
SELECT (SELECT array_agg(v::text ORDER BY v::text) FROM ssrc) = (SELECT array_agg(v::text ORDER BY v::text) FROM sdst) AS identical;
DROP TABLE ssrc, sdst;
SELECT label, copy_binary_field('sparsevec', field) FROM (VALUES
    ('valid',             '\x00000005000000020000000000000000000000023fc00000c0000000'::bytea),
    ('zero dimensions',   '\x000000000000000000000000'),
    ('negative nnz',      '\x00000003ffffffff00000000'),
    ('nnz > dim',         '\x000000010000000200000000'),
    ('unused set',        '\x000000030000000000000009'),
    ('index = dim',       '\x0000000300000001000000000000000340c00000'),
    ('descending',        '\x00000003000000020000000000000002000000013f8000003f800000'),
    ('duplicate',         '\x00000003000000020000000000000001000000013f8000003f800000'),
    ('zero value',        '\x0000000300000001000000000000000100000000'),
    ('NaN value',         '\x000000030000000100000000000000017fc00000'),
    ('truncated',         '\x00000003000000010000000000000001')
) t(label, field);

-- casts
SELECT '[0,1.5,0,-2]'::ruvector::sparsevec, '{2:1.5,4:-2}/4'::sparsevec::ruvector,
       '[0,1.5,0,-2]'::halfvec::sparsevec, '{2:1.5,4:-2}/4'::sparsevec::halfvec;
SELECT ARRAY[0,1,0]::sparsevec, ARRAY[0,1.5,0]::real[]::sparsevec, '{2:1.5}/3'::sparsevec::real[];
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT '{1:70000}/2'::sparsevec::halfvec$$),
    ($$SELECT '{}/16001'::sparsevec::ruvector$$),
    ($$SELECT '[1,2]'::ruvector::sparsevec(3)$$),
    ($$SELECT ARRAY[1,NULL]::real[]::sparsevec$$)
) t(q);
CREATE TABLE sitems (id int, v sparsevec(5));
INSERT INTO sitems VALUES (1, '{1:1}/5'), (2, '[0,0,3,0,0]'::ruvector);
INSERT INTO sitems VALUES (3, '{1:1}/4');
SELECT * FROM sitems ORDER BY id;
DROP TABLE sitems;

-- distances by merge-join, checked against the dense computation
SELECT '{1:3}/2'::sparsevec <-> '{2:4}/2' AS l2, '{1:1,2:2}/2'::sparsevec <#> '{1:3,2:4}/2' AS neg_ip,
       '{1:1,2:2}/2'::sparsevec <=> '{1:2,2:4}/2' AS cos, '{1:1,2:2}/2'::sparsevec <+> '{1:-3,2:4}/2' AS l1,
       sparsevec_l2_squared_distance('{1:3}/2', '{2:4}/2') AS l2sq,
       inner_product('{1:1,2:2}/2'::sparsevec, '{2:4}/2') AS ip,
       cosine_distance('{}/2'::sparsevec, '{1:1}/2') AS cos_zero_is_nan;
SELECT count(*) AS mismatches FROM (
    SELECT a::sparsevec AS sa, b::sparsevec AS sb, a, b
    FROM (SELECT (SELECT array_agg(CASE WHEN random() < 0.2 THEN (random() * 2 - 1)::real ELSE 0 END) FROM generate_series(1, n)) AS a,
                 (SELECT array_agg(CASE WHEN random() < 0.2 THEN (random() * 2 - 1)::real ELSE 0 END) FROM generate_series(1, n)) AS b
          FROM generate_series(1, 300) n) s
) t
WHERE abs((sa <-> sb) - (a::ruvector <-> b::ruvector)) > 1e-5 * (1 + (sa <-> sb))
   OR abs((sa <#> sb) - (a::ruvector <#> b::ruvector)) > 1e-5 * (1 + abs(sa <#> sb))
   OR abs((sa <+> sb) - (a::ruvector <+> b::ruvector)) > 1e-5 * (1 + (sa <+> sb))
   OR ((sa <=> sb) IS DISTINCT FROM (a::ruvector <=> b::ruvector) AND abs((sa <=> sb) - (a::ruvector <=> b::ruvector)) > 1e-5)
   OR (sa < sb) <> (a::ruvector < b::ruvector)
   OR (sa = sb) <> (a::ruvector = b::ruvector);
SELECT error_of($$SELECT '{1:1}/2'::sparsevec <-> '{1:1}/3'$$);
SELECT l2_norm('{1:3,5:4}/5'::sparsevec), l2_normalize('{1:3,5:4}/5'::sparsevec), l2_normalize('{}/5'::sparsevec);

-- comparisons and btree: the dense order
SELECT '{1:1}/3'::sparsevec < '{1:2}/3' AS lt, '{2:1}/3'::sparsevec < '{1:1}/3' AS later_index_is_less,
       '{1:-1}/3'::sparsevec < '{}/3' AS negative_first, '{1:1}/2'::sparsevec < '{1:1}/3' AS shorter_first,
       '{1:1}/3'::sparsevec = '{1:1}/3' AS eq, sparsevec_cmp('{1:1}/3', '{1:1}/3') AS cmp;
CREATE TABLE st (id int, v sparsevec);
INSERT INTO st VALUES (1, '{1:1}/3'), (2, '{2:1}/3'), (3, '{1:-1}/3'), (4, '{}/3'), (5, '{1:1}/2');
SELECT id, v FROM st ORDER BY v, id;
CREATE INDEX ON st (v);
SET enable_seqscan = off;
SELECT id FROM st WHERE v = '{2:1}/3';
RESET enable_seqscan;
SELECT id FROM st WHERE vector_dims(v::ruvector) = 3 ORDER BY v <-> '{1:1}/3', id LIMIT 2;
DROP TABLE st;
