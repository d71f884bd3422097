-- halfvec: IEEE binary16 elements, pgvector's SQL surface and messages.

-- text I/O: elements print as the float4 they widen to
SELECT '[1,2,3]'::halfvec, '[0.1, -1.5e-3, 65504, 6e-8]'::halfvec, ' [ 1 , 2 ] '::halfvec;
SELECT '[1e-8]'::halfvec AS underflow_reads_as_zero;
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT '[65520]'::halfvec$$),
    ($$SELECT '[-1e5]'::halfvec$$),
    ($$SELECT '[4e38]'::halfvec$$),
    ($$SELECT '[NaN]'::halfvec$$),
    ($$SELECT '[inf]'::halfvec$$),
    ($$SELECT '[]'::halfvec$$),
    ($$SELECT '[1,2'::halfvec$$),
    ($$SELECT '1,2'::halfvec$$),
    ($$SELECT '[1]x'::halfvec$$),
    ($$SELECT '[1,2,3]'::halfvec(2)$$),
    ($$SELECT '[1]'::halfvec(0)$$),
    ($$SELECT '[1]'::halfvec(16001)$$),
    ($$SELECT array_fill(1::real, ARRAY[16001])::halfvec$$)
) t(q);
SELECT vector_dims(array_fill(1::real, ARRAY[16000])::halfvec) AS max_dims;

-- every finite binary16 value prints and reads back exactly
CREATE TABLE every_half AS
    SELECT b, ('\x00010000'::bytea || decode(lpad(to_hex(b), 4, '0'), 'hex')) AS wire
    FROM generate_series(0, 65535) b
    WHERE (b >> 10) & 31 <> 31;   -- skip the NaN and infinity patterns
SELECT count(*) AS values_checked,
       count(*) FILTER (WHERE h::text::halfvec::text <> h::text OR halfvec_send(h::text::halfvec) <> wire) AS not_round_trip
FROM (SELECT wire, copy_binary_field('halfvec', wire)::halfvec AS h FROM every_half WHERE b % 61 = 0) s;
DROP TABLE every_half;

-- binary wire format: int16 dim, int16 0, binary16 big-endian
SELECT halfvec_send('[1,-2,0.5]');
CREATE TABLE hsrc (v halfvec(3));
INSERT INTO hsrc VALUES ('[1,2,3]'), ('[-0.099975586,65504,6e-8]');
COPY hsrc TO '/tmp/ruvector_regress_half_copy.bin' (FORMAT binary);
CREATE TABLE hdst (v halfvec(3));
COPY hdst FROM '/tmp/ruvector_regress_half_copy.bin' (FORMAT binary);
SELECT (SELECT array_agg(v::text ORDER BY v) FROM hsrc) = (SELECT array_agg(v::text ORDER BY v) FROM hdst) AS identical;
DROP TABLE hsrc, hdst;

-- casts
SELECT '[1.5,2,3]'::ruvector::halfvec, '[1.5,2,3]'::halfvec::ruvector, '[1.5,2,3]'::halfvec::real[];
SELECT ARRAY[1,2,3]::halfvec, ARRAY[1.5,2,3]::real[]::halfvec, ARRAY[1.5,2,3]::float8[]::halfvec, ARRAY[1.5,2,3]::numeric[]::halfvec;
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT '[70000]'::ruvector::halfvec$$),
    ($$SELECT ARRAY[70000]::real[]::halfvec$$),
    ($$SELECT ARRAY[1,NULL]::real[]::halfvec$$),
    ($$SELECT ARRAY[[1,2]]::real[]::halfvec$$),
    ($$SELECT ARRAY['NaN']::real[]::halfvec$$),
    ($$SELECT '[1,2,3]'::ruvector::halfvec(2)$$),
    ($$SELECT '[1,2,3]'::halfvec::ruvector(2)$$)
) t(q);
CREATE TABLE hitems (id int, embedding halfvec(3));
INSERT INTO hitems VALUES (1, '[1,2,3]'), (2, '[1,2,3]'::ruvector), (3, ARRAY[4,5,6]);
INSERT INTO hitems VALUES (4, '[1,2]');
SELECT * FROM hitems ORDER BY id;
DROP TABLE hitems;

-- distances (computed on the stored binary16 values)
SELECT '[0,0]'::halfvec <-> '[3,4]' AS l2, '[1,2]'::halfvec <#> '[3,4]' AS neg_ip,
       '[1,2]'::halfvec <=> '[2,4]' AS cos, '[1,2]'::halfvec <+> '[-3,4]' AS l1,
       halfvec_l2_squared_distance('[0,0]', '[3,4]') AS l2sq, inner_product('[1,2]'::halfvec, '[3,4]') AS ip,
       round(halfvec_spherical_distance('[1,0]', '[0,1]')::numeric, 6) AS spherical;
SELECT error_of($$SELECT '[1,2]'::halfvec <-> '[1,2,3]'$$);
-- kernels agree with a float8 reference over the halfvec values, lengths 1..300
SELECT count(*) AS mismatches FROM (
    SELECT a::halfvec AS ha, b::halfvec AS hb, a::halfvec::real[] AS ra, b::halfvec::real[] AS rb
    FROM (SELECT n, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, n)) AS a,
                    (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, n)) AS b
          FROM generate_series(1, 300) n) s
) t
WHERE abs(halfvec_l2_squared_distance(ha, hb) - (SELECT sum((ra[i]::float8 - rb[i]) ^ 2) FROM generate_subscripts(ra, 1) i)) > 1e-4
   OR abs(inner_product(ha, hb) - (SELECT sum(ra[i]::float8 * rb[i]) FROM generate_subscripts(ra, 1) i)) > 1e-4
   OR abs(l1_distance(ha, hb) - (SELECT sum(abs(ra[i]::float8 - rb[i])) FROM generate_subscripts(ra, 1) i)) > 1e-4;

-- functions and arithmetic
SELECT vector_dims('[1,2,3]'::halfvec), l2_norm('[3,4]'::halfvec), l2_normalize('[3,4]'::halfvec),
       binary_quantize('[1,-1,0,2]'::halfvec), subvector('[1,2,3,4,5]'::halfvec, 2, 3);
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]', '[1,2,3]'::halfvec * '[4,5,6]', '[1,2]'::halfvec || '[3]';
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT '[60000]'::halfvec + '[10000]'$$),
    ($$SELECT '[300]'::halfvec * '[300]'$$),
    ($$SELECT '[1e-4]'::halfvec * '[1e-4]'$$),
    ($$SELECT '[1,2]'::halfvec + '[1,2,3]'$$),
    ($$SELECT subvector('[1,2]'::halfvec, 3, 1)$$)
) t(q);

-- comparisons, btree, aggregates
SELECT '[1,2]'::halfvec < '[1,3]' AS lt, '[1,2]'::halfvec = '[1,2]' AS eq, '[1,2]'::halfvec > '[1,2,0]' AS gt,
       halfvec_cmp('[2]', '[1,9]') AS cmp;
CREATE TABLE ht (id int, v halfvec(2));
INSERT INTO ht VALUES (1, '[1,2]'), (2, '[3,4]'), (3, '[0.5,0.25]'), (4, NULL);
SELECT avg(v), sum(v) FROM ht;
SELECT id FROM ht ORDER BY v, id;
CREATE INDEX ON ht (v);
SET enable_seqscan = off;
SELECT id FROM ht WHERE v = '[3,4]';
RESET enable_seqscan;
SELECT id FROM ht WHERE v IS NOT NULL ORDER BY v <-> '[1,1]' LIMIT 2;
SELECT error_of($$SELECT sum(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) t(v)$$);
SELECT error_of($$SELECT avg(v) FROM (VALUES ('[1]'::halfvec), ('[1,2]')) t(v)$$);
DROP TABLE ht;
