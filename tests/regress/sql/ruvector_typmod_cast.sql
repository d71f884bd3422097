-- Type modifiers and casts.

SELECT '[1,2,3]'::ruvector(3);
SELECT error_of($$SELECT '[1,2,3]'::ruvector(2)$$);
SELECT error_of($$SELECT '[1,2]'::ruvector(0)$$);
SELECT error_of($$SELECT '[1,2]'::ruvector(16001)$$);
SELECT error_of($$SELECT '[1,2]'::ruvector(2, 3)$$);
SELECT error_of($$SELECT '[1,2]'::ruvector(two)$$);
SELECT NULL::ruvector(16000) IS NULL AS typmod_16000_is_accepted;

-- typmods are enforced on assignment and on the way in through every path
CREATE TABLE items (id int, embedding ruvector(3));
INSERT INTO items VALUES (1, '[1,2,3]');
INSERT INTO items VALUES (2, '[1,2]');
INSERT INTO items VALUES (3, ARRAY[1,2,3,4]);
INSERT INTO items VALUES (4, ARRAY[1.5,2,3]::real[]);
INSERT INTO items VALUES (5, ARRAY[1.5,2,3]::float8[]);
INSERT INTO items VALUES (6, ARRAY[1.5,2,3]::numeric[]);
INSERT INTO items VALUES (7, '[1,2,3]'::ruvector(3));
INSERT INTO items VALUES (8, '[1,2,3,4]'::ruvector);
UPDATE items SET embedding = '[1,2]' WHERE id = 1;
SELECT id, embedding FROM items ORDER BY id;
\d items
DROP TABLE items;

-- casts from arrays
SELECT ARRAY[1,2,3]::ruvector;
SELECT ARRAY[1.0,2.0,3.0]::ruvector;
SELECT ARRAY[1,2,3]::float4[]::ruvector;
SELECT ARRAY[1,2,3]::float8[]::ruvector;
SELECT ARRAY[1,2,3]::numeric[]::ruvector;
SELECT ARRAY[1.25,2,3]::float4[]::ruvector(3);
SELECT '{1,2,3}'::real[]::ruvector;
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT '{NULL}'::real[]::ruvector$$),
    ($$SELECT '{1,NULL,3}'::real[]::ruvector$$),
    ($$SELECT '{NaN}'::real[]::ruvector$$),
    ($$SELECT '{Infinity}'::real[]::ruvector$$),
    ($$SELECT '{-Infinity}'::float8[]::ruvector$$),
    ($$SELECT '{}'::real[]::ruvector$$),
    ($$SELECT '{{1,2},{3,4}}'::real[]::ruvector$$),
    ($$SELECT '{1e300}'::float8[]::ruvector$$),
    ($$SELECT '{1e39}'::numeric[]::ruvector$$),
    ($$SELECT ARRAY[1,2,3]::ruvector(2)$$),
    ($$SELECT ARRAY[1,2,3]::float8[]::ruvector(4)$$)
) t(q);

-- casts to arrays
SELECT '[1,2,3]'::ruvector::real[];
SELECT '[1.5,2,3]'::ruvector::double precision[];
SELECT '[1.5,2,3]'::ruvector::numeric[];
SELECT '[1.4,-2.6,3]'::ruvector::integer[];
SELECT array_agg(v::real[]) FROM (VALUES ('[1,2]'::ruvector), ('[3,4]')) t(v);
