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

-- ruvector_from_bytes / ruvector_to_bytes: bare little-endian float4
-- buffers, no header.
SELECT ruvector_to_bytes('[1,-2,0.5]');
SELECT ruvector_from_bytes('\x0000803f000000c00000003f');
SELECT ruvector_from_bytes(ruvector_to_bytes(v)) = v AS round_trip, vector_dims(v)
FROM (VALUES ('[-0.1,1e-30,3.4e38,1.5e-40]'::ruvector), (array_fill(0.25::real, ARRAY[16000])::ruvector)) t(v);
-- the same bytes as numpy's little-endian float32 tobytes(): float4send reversed
SELECT ruvector_to_bytes('[3.5]') = (SELECT string_agg(substr(float4send(3.5), i, 1), '' ORDER BY i DESC) FROM generate_series(1, 4) i)::bytea AS le;
SELECT label, error_of(format('SELECT ruvector_from_bytes(%L::bytea)', b)) FROM (VALUES
    ('six bytes',      '\x0000803f0000'),
    ('no bytes',       '\x'),
    ('NaN element',    '\x0000803f0000c07f'),
    ('infinity',       '\x0000803f000080ff')
) t(label, b);
SELECT error_of('SELECT ruvector_from_bytes(decode(repeat(''0000803f'', 16001), ''hex''))') AS too_many;
-- a typmod column takes it through the cast, which checks the dimensions
CREATE TABLE fb (v ruvector(2));
INSERT INTO fb VALUES (ruvector_from_bytes('\x0000803f000000c0'));
SELECT error_of($$INSERT INTO fb VALUES (ruvector_from_bytes('\x0000803f'))$$);
SELECT v FROM fb;
DROP TABLE fb;
