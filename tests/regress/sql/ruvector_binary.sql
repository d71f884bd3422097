-- Binary wire format: byte-identical to pgvector's `vector`
-- (int16 dim, int16 0, dim x float4, big-endian), through send, recv and binary COPY.

SELECT ruvector_send('[1,-2,0.5]');
SELECT ruvector_send('[1.5e-40]');

-- A binary COPY round trip reads back exactly what was written.
CREATE TABLE src (v ruvector);
INSERT INTO src VALUES ('[1,2,3]'), ('[-0.1,1e-30,3.4e38]'), (array_fill(0.25::real, ARRAY[2000])::ruvector);
COPY src TO '/tmp/ruvector_regress_copy.bin' (FORMAT binary);
CREATE TABLE dst (v ruvector);
COPY dst FROM '/tmp/ruvector_regress_copy.bin' (FORMAT binary);
SELECT count(*) AS rows_equal FROM src JOIN dst USING (v);
SELECT (SELECT array_agg(v::text ORDER BY v) FROM src) = (SELECT array_agg(v::text ORDER BY v) FROM dst) AS identical;
-- recv enforces the column's typmod
CREATE TABLE dst3 (v ruvector(3));
COPY dst3 FROM '/tmp/ruvector_regress_copy.bin' (FORMAT binary);
DROP TABLE src, dst, dst3;

-- Hand-made binary COPY files (copy_binary_field is in the harness).

SELECT label, copy_binary_field('ruvector', field) FROM (VALUES
    ('valid [1,-2]',        '\x000200003f800000c0000000'::bytea),
    ('zero dimensions',     '\x00000000'),
    ('negative dimensions', '\xffff0000'),
    ('16001 dimensions',    '\x3e810000'),
    ('unused field set',    '\x000100073f800000'),
    ('NaN element',         '\x000100007fc00000'),
    ('infinite element',    '\x00010000ff800000'),
    ('too few bytes',       '\x000200003f800000'),
    ('trailing bytes',      '\x000100003f80000000'),
    ('truncated header',    '\x0001')
) t(label, field);
