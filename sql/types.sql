-- Completes the types declared as shells in bootstrap.sql and adds their SQL
-- surface: casts, operators, aggregates and opclasses. pgrx emits this file
-- last (finalize), after every generated CREATE FUNCTION, so it is one file
-- with a section per type. Names and semantics follow pgvector.

-- ============================================================= ruvector

CREATE TYPE ruvector (
    INPUT     = ruvector_in,
    OUTPUT    = ruvector_out,
    TYPMOD_IN = ruvector_typmod_in,
    RECEIVE   = ruvector_recv,
    SEND      = ruvector_send,
    -- 'double' alignment keeps the elements of in-tuple values 8-byte aligned
    -- (the header is 8 bytes), as detoasted copies are.
    ALIGNMENT = double,
    -- Float data hardly compresses; store out of line uncompressed when large,
    -- so detoasting is a plain copy (pgvector makes the same choice).
    STORAGE   = external
);

-- ruvector: casts -------------------------------------------------------------
-- From arrays: assignment casts, as in pgvector. To real[]: implicit, as in
-- pgvector. To double precision[], numeric[] and integer[]: explicit only, so
-- they never make an operator call ambiguous.

CREATE CAST (ruvector AS ruvector)
    WITH FUNCTION ruvector(ruvector, integer, boolean) AS IMPLICIT;

CREATE CAST (ruvector AS real[])
    WITH FUNCTION vector_to_float4(ruvector, integer, boolean) AS IMPLICIT;

CREATE CAST (ruvector AS double precision[])
    WITH FUNCTION vector_to_float8(ruvector, integer, boolean);

CREATE FUNCTION vector_to_numeric(ruvector, integer, boolean) RETURNS numeric[]
    AS 'SELECT $1::real[]::numeric[]' LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (ruvector AS numeric[])
    WITH FUNCTION vector_to_numeric(ruvector, integer, boolean);

-- Rounds to the nearest integer, as real -> integer does.
CREATE FUNCTION vector_to_int4(ruvector, integer, boolean) RETURNS integer[]
    AS 'SELECT $1::real[]::integer[]' LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (ruvector AS integer[])
    WITH FUNCTION vector_to_int4(ruvector, integer, boolean);

CREATE CAST (integer[] AS ruvector)
    WITH FUNCTION array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (real[] AS ruvector)
    WITH FUNCTION array_to_vector(real[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (double precision[] AS ruvector)
    WITH FUNCTION array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (numeric[] AS ruvector)
    WITH FUNCTION array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;

-- ruvector: aggregates --------------------------------------------------------

CREATE AGGREGATE avg(ruvector) (
    SFUNC = vector_accum,
    STYPE = double precision[],
    FINALFUNC = vector_avg,
    COMBINEFUNC = vector_combine,
    INITCOND = '{0}',
    PARALLEL = SAFE
);

CREATE AGGREGATE sum(ruvector) (
    SFUNC = vector_add,
    STYPE = ruvector,
    COMBINEFUNC = vector_add,
    PARALLEL = SAFE
);

-- ruvector: operators ---------------------------------------------------------

CREATE OPERATOR <-> (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = l2_distance,
    COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_negative_inner_product,
    COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = cosine_distance,
    COMMUTATOR = '<=>'
);

CREATE OPERATOR <+> (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = l1_distance,
    COMMUTATOR = '<+>'
);

CREATE OPERATOR + (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_add,
    COMMUTATOR = +
);

CREATE OPERATOR - (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_sub
);

CREATE OPERATOR * (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_mul,
    COMMUTATOR = *
);

CREATE OPERATOR || (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_concat
);

CREATE OPERATOR < (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_lt,
    COMMUTATOR = > , NEGATOR = >= ,
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_le,
    COMMUTATOR = >= , NEGATOR = > ,
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR = (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_eq,
    COMMUTATOR = = , NEGATOR = <> ,
    RESTRICT = eqsel, JOIN = eqjoinsel
);

CREATE OPERATOR <> (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_ne,
    COMMUTATOR = <> , NEGATOR = = ,
    RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR >= (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_ge,
    COMMUTATOR = <= , NEGATOR = < ,
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR > (
    LEFTARG = ruvector, RIGHTARG = ruvector, FUNCTION = vector_gt,
    COMMUTATOR = < , NEGATOR = <= ,
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

-- ruvector: opclasses ---------------------------------------------------------

CREATE OPERATOR CLASS vector_ops
    DEFAULT FOR TYPE ruvector USING btree AS
    OPERATOR 1 < ,
    OPERATOR 2 <= ,
    OPERATOR 3 = ,
    OPERATOR 4 >= ,
    OPERATOR 5 > ,
    FUNCTION 1 vector_cmp(ruvector, ruvector);

-- ============================================================= halfvec

CREATE TYPE halfvec (
    INPUT     = halfvec_in,
    OUTPUT    = halfvec_out,
    TYPMOD_IN = halfvec_typmod_in,
    RECEIVE   = halfvec_recv,
    SEND      = halfvec_send,
    ALIGNMENT = double,
    STORAGE   = external
);

-- halfvec: casts --------------------------------------------------------------

CREATE CAST (halfvec AS halfvec)
    WITH FUNCTION halfvec(halfvec, integer, boolean) AS IMPLICIT;

CREATE CAST (halfvec AS ruvector)
    WITH FUNCTION halfvec_to_vector(halfvec, integer, boolean) AS ASSIGNMENT;

CREATE CAST (ruvector AS halfvec)
    WITH FUNCTION vector_to_halfvec(ruvector, integer, boolean) AS IMPLICIT;

CREATE CAST (halfvec AS real[])
    WITH FUNCTION halfvec_to_float4(halfvec, integer, boolean) AS IMPLICIT;

CREATE CAST (integer[] AS halfvec)
    WITH FUNCTION array_to_halfvec(integer[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (real[] AS halfvec)
    WITH FUNCTION array_to_halfvec(real[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (double precision[] AS halfvec)
    WITH FUNCTION array_to_halfvec(double precision[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (numeric[] AS halfvec)
    WITH FUNCTION array_to_halfvec(numeric[], integer, boolean) AS ASSIGNMENT;

-- halfvec: aggregates ---------------------------------------------------------

CREATE AGGREGATE avg(halfvec) (
    SFUNC = halfvec_accum,
    STYPE = double precision[],
    FINALFUNC = halfvec_avg,
    COMBINEFUNC = vector_combine,
    INITCOND = '{0}',
    PARALLEL = SAFE
);

CREATE AGGREGATE sum(halfvec) (
    SFUNC = halfvec_add,
    STYPE = halfvec,
    COMBINEFUNC = halfvec_add,
    PARALLEL = SAFE
);

-- halfvec: operators ----------------------------------------------------------

CREATE OPERATOR <-> (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = l2_distance,
    COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_negative_inner_product,
    COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = cosine_distance,
    COMMUTATOR = '<=>'
);

CREATE OPERATOR <+> (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = l1_distance,
    COMMUTATOR = '<+>'
);

CREATE OPERATOR + (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_add,
    COMMUTATOR = +
);

CREATE OPERATOR - (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_sub
);

CREATE OPERATOR * (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_mul,
    COMMUTATOR = *
);

CREATE OPERATOR || (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_concat
);

CREATE OPERATOR < (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_lt,
    COMMUTATOR = > , NEGATOR = >= ,
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_le,
    COMMUTATOR = >= , NEGATOR = > ,
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR = (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_eq,
    COMMUTATOR = = , NEGATOR = <> ,
    RESTRICT = eqsel, JOIN = eqjoinsel
);

CREATE OPERATOR <> (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_ne,
    COMMUTATOR = <> , NEGATOR = = ,
    RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR >= (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_ge,
    COMMUTATOR = <= , NEGATOR = < ,
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR > (
    LEFTARG = halfvec, RIGHTARG = halfvec, FUNCTION = halfvec_gt,
    COMMUTATOR = < , NEGATOR = <= ,
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

-- halfvec: opclasses ----------------------------------------------------------

CREATE OPERATOR CLASS halfvec_ops
    DEFAULT FOR TYPE halfvec USING btree AS
    OPERATOR 1 < ,
    OPERATOR 2 <= ,
    OPERATOR 3 = ,
    OPERATOR 4 >= ,
    OPERATOR 5 > ,
    FUNCTION 1 halfvec_cmp(halfvec, halfvec);

-- ============================================================= sparsevec

CREATE TYPE sparsevec (
    INPUT     = sparsevec_in,
    OUTPUT    = sparsevec_out,
    TYPMOD_IN = sparsevec_typmod_in,
    RECEIVE   = sparsevec_recv,
    SEND      = sparsevec_send,
    ALIGNMENT = int4,
    STORAGE   = external
);

-- sparsevec: casts ------------------------------------------------------------

CREATE CAST (sparsevec AS sparsevec)
    WITH FUNCTION sparsevec(sparsevec, integer, boolean) AS IMPLICIT;

CREATE CAST (sparsevec AS ruvector)
    WITH FUNCTION sparsevec_to_vector(sparsevec, integer, boolean) AS ASSIGNMENT;

CREATE CAST (ruvector AS sparsevec)
    WITH FUNCTION vector_to_sparsevec(ruvector, integer, boolean) AS ASSIGNMENT;

CREATE CAST (sparsevec AS halfvec)
    WITH FUNCTION sparsevec_to_halfvec(sparsevec, integer, boolean) AS ASSIGNMENT;

CREATE CAST (halfvec AS sparsevec)
    WITH FUNCTION halfvec_to_sparsevec(halfvec, integer, boolean) AS ASSIGNMENT;

-- Beyond pgvector: arrays to and from sparsevec (explicit, through the dense form).
CREATE CAST (integer[] AS sparsevec)
    WITH FUNCTION array_to_sparsevec(integer[], integer, boolean);

CREATE CAST (real[] AS sparsevec)
    WITH FUNCTION array_to_sparsevec(real[], integer, boolean);

CREATE CAST (double precision[] AS sparsevec)
    WITH FUNCTION array_to_sparsevec(double precision[], integer, boolean);

CREATE CAST (numeric[] AS sparsevec)
    WITH FUNCTION array_to_sparsevec(numeric[], integer, boolean);

CREATE FUNCTION sparsevec_to_float4(sparsevec, integer, boolean) RETURNS real[]
    AS 'SELECT $1::ruvector::real[]' LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (sparsevec AS real[])
    WITH FUNCTION sparsevec_to_float4(sparsevec, integer, boolean);

-- sparsevec: operators --------------------------------------------------------

CREATE OPERATOR <-> (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = l2_distance,
    COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = sparsevec_negative_inner_product,
    COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = cosine_distance,
    COMMUTATOR = '<=>'
);

CREATE OPERATOR <+> (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = l1_distance,
    COMMUTATOR = '<+>'
);

CREATE OPERATOR < (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = sparsevec_lt,
    COMMUTATOR = > , NEGATOR = >= ,
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = sparsevec_le,
    COMMUTATOR = >= , NEGATOR = > ,
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR = (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = sparsevec_eq,
    COMMUTATOR = = , NEGATOR = <> ,
    RESTRICT = eqsel, JOIN = eqjoinsel
);

CREATE OPERATOR <> (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = sparsevec_ne,
    COMMUTATOR = <> , NEGATOR = = ,
    RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR >= (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = sparsevec_ge,
    COMMUTATOR = <= , NEGATOR = < ,
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR > (
    LEFTARG = sparsevec, RIGHTARG = sparsevec, FUNCTION = sparsevec_gt,
    COMMUTATOR = < , NEGATOR = <= ,
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

-- sparsevec: opclasses --------------------------------------------------------

CREATE OPERATOR CLASS sparsevec_ops
    DEFAULT FOR TYPE sparsevec USING btree AS
    OPERATOR 1 < ,
    OPERATOR 2 <= ,
    OPERATOR 3 = ,
    OPERATOR 4 >= ,
    OPERATOR 5 > ,
    FUNCTION 1 sparsevec_cmp(sparsevec, sparsevec);

-- ================================================================== bit

CREATE OPERATOR <~> (
    LEFTARG = bit, RIGHTARG = bit, FUNCTION = hamming_distance,
    COMMUTATOR = '<~>'
);

CREATE OPERATOR <%> (
    LEFTARG = bit, RIGHTARG = bit, FUNCTION = jaccard_distance,
    COMMUTATOR = '<%>'
);

-- ================================================================= hnsw

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER hnswhandler;

COMMENT ON ACCESS METHOD hnsw IS 'hnsw index access method';

-- FUNCTION 1 is the distance the index orders by; FUNCTION 2, present for
-- cosine only, says vectors are normalised (as in pgvector's opclasses).

CREATE OPERATOR CLASS vector_l2_ops
    DEFAULT FOR TYPE ruvector USING hnsw AS
    OPERATOR 1 <-> (ruvector, ruvector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_l2_squared_distance(ruvector, ruvector);

CREATE OPERATOR CLASS vector_ip_ops
    FOR TYPE ruvector USING hnsw AS
    OPERATOR 1 <#> (ruvector, ruvector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_negative_inner_product(ruvector, ruvector);

CREATE OPERATOR CLASS vector_cosine_ops
    FOR TYPE ruvector USING hnsw AS
    OPERATOR 1 <=> (ruvector, ruvector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_negative_inner_product(ruvector, ruvector),
    FUNCTION 2 vector_norm(ruvector);

CREATE OPERATOR CLASS vector_l1_ops
    FOR TYPE ruvector USING hnsw AS
    OPERATOR 1 <+> (ruvector, ruvector) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(ruvector, ruvector);

CREATE OPERATOR CLASS halfvec_l2_ops
    FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_l2_squared_distance(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_ip_ops
    FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_cosine_ops
    FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
    FUNCTION 2 l2_norm(halfvec);

CREATE OPERATOR CLASS halfvec_l1_ops
    FOR TYPE halfvec USING hnsw AS
    OPERATOR 1 <+> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(halfvec, halfvec);

CREATE OPERATOR CLASS bit_hamming_ops
    FOR TYPE bit USING hnsw AS
    OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
    FUNCTION 1 hamming_distance(bit, bit);

CREATE OPERATOR CLASS bit_jaccard_ops
    FOR TYPE bit USING hnsw AS
    OPERATOR 1 <%> (bit, bit) FOR ORDER BY float_ops,
    FUNCTION 1 jaccard_distance(bit, bit);

CREATE OPERATOR CLASS sparsevec_l2_ops
    FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <-> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 sparsevec_l2_squared_distance(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_ip_ops
    FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <#> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 sparsevec_negative_inner_product(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_cosine_ops
    FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <=> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 sparsevec_negative_inner_product(sparsevec, sparsevec),
    FUNCTION 2 l2_norm(sparsevec);

CREATE OPERATOR CLASS sparsevec_l1_ops
    FOR TYPE sparsevec USING hnsw AS
    OPERATOR 1 <+> (sparsevec, sparsevec) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(sparsevec, sparsevec);

-- Filter columns: `CREATE INDEX ... USING hnsw (embedding vector_l2_ops, column)`
-- (or with the column first) stores each row's value of `column` in its
-- element, and a scan evaluates the query's conditions on it (btree's
-- strategy numbers; `= ANY` too), walking through elements that do not
-- match without returning them (docs/filtered-search.md). As in btree, the
-- integer types form one family with cross-type operators (`bigint_col = 5`
-- compares bigint with integer).

CREATE OPERATOR FAMILY integer_ops USING hnsw;

CREATE OPERATOR CLASS int2_ops
    DEFAULT FOR TYPE int2 USING hnsw FAMILY integer_ops AS
    OPERATOR 1 < (int2, int2),
    OPERATOR 2 <= (int2, int2),
    OPERATOR 3 = (int2, int2),
    OPERATOR 4 >= (int2, int2),
    OPERATOR 5 > (int2, int2);

CREATE OPERATOR CLASS int4_ops
    DEFAULT FOR TYPE int4 USING hnsw FAMILY integer_ops AS
    OPERATOR 1 < (int4, int4),
    OPERATOR 2 <= (int4, int4),
    OPERATOR 3 = (int4, int4),
    OPERATOR 4 >= (int4, int4),
    OPERATOR 5 > (int4, int4);

CREATE OPERATOR CLASS int8_ops
    DEFAULT FOR TYPE int8 USING hnsw FAMILY integer_ops AS
    OPERATOR 1 < (int8, int8),
    OPERATOR 2 <= (int8, int8),
    OPERATOR 3 = (int8, int8),
    OPERATOR 4 >= (int8, int8),
    OPERATOR 5 > (int8, int8);

CREATE OPERATOR CLASS date_ops
    DEFAULT FOR TYPE date USING hnsw AS
    OPERATOR 1 < (date, date),
    OPERATOR 2 <= (date, date),
    OPERATOR 3 = (date, date),
    OPERATOR 4 >= (date, date),
    OPERATOR 5 > (date, date);

CREATE OPERATOR CLASS timestamp_ops
    DEFAULT FOR TYPE timestamp USING hnsw AS
    OPERATOR 1 < (timestamp, timestamp),
    OPERATOR 2 <= (timestamp, timestamp),
    OPERATOR 3 = (timestamp, timestamp),
    OPERATOR 4 >= (timestamp, timestamp),
    OPERATOR 5 > (timestamp, timestamp);

CREATE OPERATOR CLASS timestamptz_ops
    DEFAULT FOR TYPE timestamptz USING hnsw AS
    OPERATOR 1 < (timestamptz, timestamptz),
    OPERATOR 2 <= (timestamptz, timestamptz),
    OPERATOR 3 = (timestamptz, timestamptz),
    OPERATOR 4 >= (timestamptz, timestamptz),
    OPERATOR 5 > (timestamptz, timestamptz);

ALTER OPERATOR FAMILY integer_ops USING hnsw ADD
    OPERATOR 1 < (int2, int4),
    OPERATOR 2 <= (int2, int4),
    OPERATOR 3 = (int2, int4),
    OPERATOR 4 >= (int2, int4),
    OPERATOR 5 > (int2, int4),
    OPERATOR 1 < (int2, int8),
    OPERATOR 2 <= (int2, int8),
    OPERATOR 3 = (int2, int8),
    OPERATOR 4 >= (int2, int8),
    OPERATOR 5 > (int2, int8),
    OPERATOR 1 < (int4, int2),
    OPERATOR 2 <= (int4, int2),
    OPERATOR 3 = (int4, int2),
    OPERATOR 4 >= (int4, int2),
    OPERATOR 5 > (int4, int2),
    OPERATOR 1 < (int4, int8),
    OPERATOR 2 <= (int4, int8),
    OPERATOR 3 = (int4, int8),
    OPERATOR 4 >= (int4, int8),
    OPERATOR 5 > (int4, int8),
    OPERATOR 1 < (int8, int2),
    OPERATOR 2 <= (int8, int2),
    OPERATOR 3 = (int8, int2),
    OPERATOR 4 >= (int8, int2),
    OPERATOR 5 > (int8, int2),
    OPERATOR 1 < (int8, int4),
    OPERATOR 2 <= (int8, int4),
    OPERATOR 3 = (int8, int4),
    OPERATOR 4 >= (int8, int4),
    OPERATOR 5 > (int8, int4);

-- ============================================================= ivfflat

CREATE ACCESS METHOD ivfflat TYPE INDEX HANDLER ivfflathandler;

COMMENT ON ACCESS METHOD ivfflat IS 'ivfflat index access method';

-- As for hnsw: FUNCTION 1 is the distance, FUNCTION 2 (cosine only) says
-- vectors are normalised. The opclasses pgvector has for ivfflat.

CREATE OPERATOR CLASS vector_l2_ops
    DEFAULT FOR TYPE ruvector USING ivfflat AS
    OPERATOR 1 <-> (ruvector, ruvector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_l2_squared_distance(ruvector, ruvector);

CREATE OPERATOR CLASS vector_ip_ops
    FOR TYPE ruvector USING ivfflat AS
    OPERATOR 1 <#> (ruvector, ruvector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_negative_inner_product(ruvector, ruvector);

CREATE OPERATOR CLASS vector_cosine_ops
    FOR TYPE ruvector USING ivfflat AS
    OPERATOR 1 <=> (ruvector, ruvector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_negative_inner_product(ruvector, ruvector),
    FUNCTION 2 vector_norm(ruvector);

CREATE OPERATOR CLASS halfvec_l2_ops
    FOR TYPE halfvec USING ivfflat AS
    OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_l2_squared_distance(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_ip_ops
    FOR TYPE halfvec USING ivfflat AS
    OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_cosine_ops
    FOR TYPE halfvec USING ivfflat AS
    OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
    FUNCTION 2 l2_norm(halfvec);

CREATE OPERATOR CLASS bit_hamming_ops
    FOR TYPE bit USING ivfflat AS
    OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
    FUNCTION 1 hamming_distance(bit, bit);

-- ====================================================== recall you can see
-- ruvector_recall(query): runs a query (SQL text, parameters written in) as
-- planned and again with index scans switched off, so that no hnsw/ivfflat
-- index can answer it, and compares the rows (each row's whole text). For
-- checking what a filtered or approximate query really returns.
CREATE FUNCTION ruvector_recall(query text,
    OUT recall float8, OUT rows_returned bigint, OUT rows_exact bigint,
    OUT approximate_ms float8, OUT exact_ms float8, OUT vector_index text)
LANGUAGE plpgsql VOLATILE AS $body$
DECLARE
    started timestamptz;
    got text[];
    truth text[];
    plan json;
    saved text[] := ARRAY[current_setting('enable_indexscan'), current_setting('enable_seqscan'),
                          current_setting('enable_bitmapscan')];
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    SELECT string_agg(DISTINCT c.relname, ', ') INTO vector_index
    FROM regexp_matches(plan::text, '"Index Name": "([^"]+)"', 'g') AS m(name)
    JOIN pg_class c ON c.relname = m.name[1] JOIN pg_am a ON a.oid = c.relam
    WHERE a.amname IN ('hnsw', 'ivfflat') AND pg_table_is_visible(c.oid);
    started := clock_timestamp();
    EXECUTE format('SELECT array_agg(row_to_json(q)::text) FROM (%s) q', query) INTO got;
    approximate_ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    -- the exact answer: no index scan (so no hnsw/ivfflat scan), sequential
    -- and bitmap scans allowed whatever the session said
    PERFORM set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'on', true),
            set_config('enable_bitmapscan', 'on', true);
    BEGIN
        started := clock_timestamp();
        EXECUTE format('SELECT array_agg(row_to_json(q)::text) FROM (%s) q', query) INTO truth;
        exact_ms := extract(epoch FROM clock_timestamp() - started) * 1000;
    EXCEPTION WHEN OTHERS THEN
        PERFORM set_config('enable_indexscan', saved[1], true), set_config('enable_seqscan', saved[2], true),
                set_config('enable_bitmapscan', saved[3], true);
        RAISE;
    END;
    PERFORM set_config('enable_indexscan', saved[1], true), set_config('enable_seqscan', saved[2], true),
            set_config('enable_bitmapscan', saved[3], true);
    rows_returned := coalesce(cardinality(got), 0);
    rows_exact := coalesce(cardinality(truth), 0);
    recall := CASE WHEN rows_exact = 0 THEN 1.0 ELSE
        (SELECT count(*) FROM (SELECT unnest(got) INTERSECT ALL SELECT unnest(truth)) i)::float8 / rows_exact END;
END
$body$;
