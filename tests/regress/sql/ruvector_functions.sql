-- Distances, operators and functions of ruvector.

SELECT '[0,0]'::ruvector <-> '[3,4]' AS l2,
       l2_distance('[0,0]', '[3,4]'::ruvector) AS l2_fn,
       vector_l2_squared_distance('[0,0]', '[3,4]') AS l2_squared;
SELECT '[1,2]'::ruvector <#> '[3,4]' AS neg_ip, inner_product('[1,2]'::ruvector, '[3,4]') AS ip;
SELECT '[1,2]'::ruvector <=> '[2,4]' AS cos_same_direction,
       '[1,1]'::ruvector <=> '[-1,-1]' AS cos_opposite,
       '[1,0]'::ruvector <=> '[0,2]' AS cos_orthogonal,
       cosine_distance('[1,2]'::ruvector, '[0,0]') AS cos_zero_is_nan;
SELECT '[1,2]'::ruvector <+> '[-3,4]' AS l1, l1_distance('[0,0]'::ruvector, '[3,4]') AS l1_fn;
SELECT round(vector_spherical_distance('[1,0]', '[0,1]')::numeric, 6) AS spherical;

-- Kernels agree with a float8 reference at every length 1..300 (odd tails included).
SELECT count(*) AS mismatches FROM (
    SELECT n, a, b,
           (SELECT sum((a[i]::float8 - b[i]) ^ 2) FROM generate_subscripts(a, 1) i) AS ref_l2sq,
           (SELECT sum(a[i]::float8 * b[i]) FROM generate_subscripts(a, 1) i) AS ref_dot,
           (SELECT sum(abs(a[i]::float8 - b[i])) FROM generate_subscripts(a, 1) i) AS ref_l1,
           (SELECT sum(abs(a[i]::float8 * b[i])) FROM generate_subscripts(a, 1) i) AS ref_absdot
    FROM (SELECT n,
                 (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, n)) AS a,
                 (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, n)) AS b
          FROM generate_series(1, 300) n) s
) t
WHERE abs(vector_l2_squared_distance(a::ruvector, b::ruvector) - ref_l2sq) > 1e-5 * ref_l2sq + 1e-6
   OR abs(inner_product(a::ruvector, b::ruvector) - ref_dot) > 1e-5 * ref_absdot + 1e-6
   OR abs(l1_distance(a::ruvector, b::ruvector) - ref_l1) > 1e-5 * ref_l1 + 1e-6;

SELECT vector_dims('[1,2,3]'::ruvector), ruvector_dims('[1,2,3]'::ruvector);
SELECT vector_norm('[3,4]'::ruvector), vector_norm('[0,0]'::ruvector);
SELECT l2_normalize('[3,4]'::ruvector), l2_normalize('[0,0]'::ruvector), l2_normalize('[3e38,3e38]'::ruvector);

SELECT '[1,2,3]'::ruvector + '[4,5,6]' AS add, '[1,2,3]'::ruvector - '[4,5,6]' AS sub,
       '[1,2,3]'::ruvector * '[4,5,6]' AS mul, '[1,2]'::ruvector || '[3]' AS concat;
SELECT q, error_of(q) FROM (VALUES
    ($$SELECT '[3e38]'::ruvector + '[3e38]'$$),
    ($$SELECT '[-3e38]'::ruvector - '[3e38]'$$),
    ($$SELECT '[1e37]'::ruvector * '[1e37]'$$),
    ($$SELECT '[1e-37]'::ruvector * '[1e-37]'$$),
    ($$SELECT '[1,2]'::ruvector + '[1,2,3]'$$),
    ($$SELECT '[1,2]'::ruvector <-> '[1,2,3]'$$),
    ($$SELECT '[1,2]'::ruvector <#> '[1,2,3]'$$),
    ($$SELECT '[1,2]'::ruvector <=> '[1,2,3]'$$),
    ($$SELECT '[1,2]'::ruvector <+> '[1,2,3]'$$),
    ($$SELECT array_fill(1::real, ARRAY[8000])::ruvector || array_fill(1::real, ARRAY[8001])::ruvector$$)
) t(q);

SELECT subvector('[1,2,3,4,5]'::ruvector, 1, 3), subvector('[1,2,3,4,5]'::ruvector, 3, 2),
       subvector('[1,2,3,4,5]'::ruvector, -1, 3), subvector('[1,2,3,4,5]'::ruvector, 4, 3);
SELECT error_of($$SELECT subvector('[1,2,3,4,5]'::ruvector, 6, 1)$$),
       error_of($$SELECT subvector('[1,2,3,4,5]'::ruvector, 3, 0)$$),
       error_of($$SELECT subvector('[1,2,3]'::ruvector, 2147483647, 2147483647)$$);

SELECT binary_quantize('[1,0,-1,2,0.5,-3,1,1,7]'::ruvector);
SELECT pg_typeof(binary_quantize('[1,2]'::ruvector)), length(binary_quantize('[1,2,3]'::ruvector));

-- comparisons: element by element, then by dimensions (like arrays)
SELECT '[1,2,3]'::ruvector < '[1,2,4]' AS lt, '[1,2,3]'::ruvector <= '[1,2,3]' AS le,
       '[1,2,3]'::ruvector = '[1,2,3]' AS eq, '[1,2,3]'::ruvector <> '[1,2]' AS ne,
       '[1,2,3]'::ruvector >= '[1,2]' AS ge, '[2]'::ruvector > '[1,9,9]' AS gt,
       vector_cmp('[1,2]', '[1,2,0]') AS cmp;

SELECT ruvector_simd_info() IN ('avx512f', 'avx2+fma', 'neon', 'portable') AS known_isa;
