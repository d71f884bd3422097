-- Text input and output of ruvector, with pgvector's edge cases.
-- error_of(query) returns 'SQLSTATE: message' (defined by the test harness).

SELECT '[1,2,3]'::ruvector;
SELECT '[-1,-2,-3]'::ruvector;
SELECT '[1.,2.,3.]'::ruvector;
SELECT ' [ 1,  2 ,    3  ] '::ruvector;
SELECT E'[\t1,\n2\r,\f3\x0b]'::ruvector;
SELECT '[1.23456]'::ruvector;
SELECT '[hello,1]'::ruvector;
SELECT '[1e-5, 1e5, 1.5e+20, -3.4e38, +7, .5]'::ruvector;
SELECT '[0.1, 0.2, 0.30000001, 123456, 1234567, 0.0001, 0.00001]'::ruvector;
SELECT '[-0, 0]'::ruvector;
SELECT '[1e-46]'::ruvector;                 -- underflow reads as 0, like float4in's strtof
SELECT '[0x10]'::ruvector;                  -- hexadecimal, as strtof reads it
SELECT '[3.4028235e38, 1.17549435e-38, 1e-45]'::ruvector;
SELECT '{1,2,3}'::ruvector;
SELECT '[1,2,3'::ruvector;
SELECT '[1,2,3]9'::ruvector;
SELECT '[]'::ruvector;

-- every error: SQLSTATE and message
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT ''::ruvector$$),
    ($$SELECT '1,2'::ruvector$$),
    ($$SELECT '['::ruvector$$),
    ($$SELECT '[,]'::ruvector$$),
    ($$SELECT '[1,]'::ruvector$$),
    ($$SELECT '[1 2]'::ruvector$$),
    ($$SELECT '[1,,2]'::ruvector$$),
    ($$SELECT '[1]]'::ruvector$$),
    ($$SELECT '[1] x'::ruvector$$),
    ($$SELECT '[ ]'::ruvector$$),
    ($$SELECT '[NaN]'::ruvector$$),
    ($$SELECT '[nan]'::ruvector$$),
    ($$SELECT '[Infinity]'::ruvector$$),
    ($$SELECT '[-inf]'::ruvector$$),
    ($$SELECT '[4e38]'::ruvector$$),
    ($$SELECT '[-1e39]'::ruvector$$),
    ($$SELECT '[1e400]'::ruvector$$),
    ($$SELECT '[1e]'::ruvector$$),
    ($$SELECT '[--1]'::ruvector$$)
) t(q);

-- dimension limits: 16000 is the most
SELECT vector_dims(array_fill(1::real, ARRAY[16000])::ruvector);
SELECT error_of($$SELECT array_fill(1::real, ARRAY[16001])::ruvector$$);
SELECT error_of(format('SELECT %L::ruvector', '[' || repeat('1,', 16000) || '1]'));

-- Output is the shortest text that reads back to the same float. It matches
-- float4out except where float4out, which never rounds to a tie, prints one
-- digit more (5.4691912e+07 there, 5.469191e+07 here; both read back the same).
SELECT count(*) FILTER (WHERE ours::ruvector::real[] <> ARRAY[x]) AS not_round_trip,
       count(*) FILTER (WHERE length(ours) > length(pg) + 2) AS longer_than_float4out,
       count(*) FILTER (WHERE ours = '[' || pg || ']') > 19000 AS mostly_identical
FROM (SELECT x, x::text AS pg, ARRAY[x]::ruvector::text AS ours
      FROM (SELECT ((random() * 2 - 1) * 10 ^ (random() * 60 - 30))::real AS x
            FROM generate_series(1, 20000)) r) s;
SELECT '[54691912]'::ruvector, 54691912::real;

-- arrays of ruvector
SELECT '{"[1,2,3]","[4,5,6]"}'::ruvector[];
SELECT ('{"[1,2,3]","[4,5,6]"}'::ruvector[])[2];
SELECT error_of($$SELECT '{"[1,2,3]","[4,5]"}'::ruvector(3)[]$$);
