-- The ruvector type, completed now that its I/O functions exist, and the SQL
-- surface around it: casts, operators, aggregates and the btree opclass.
-- Names and semantics follow pgvector's `vector`.

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

-- casts -----------------------------------------------------------------------
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

-- aggregates ------------------------------------------------------------------

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

-- operators -------------------------------------------------------------------

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

-- opclasses -------------------------------------------------------------------

CREATE OPERATOR CLASS vector_ops
    DEFAULT FOR TYPE ruvector USING btree AS
    OPERATOR 1 < ,
    OPERATOR 2 <= ,
    OPERATOR 3 = ,
    OPERATOR 4 >= ,
    OPERATOR 5 > ,
    FUNCTION 1 vector_cmp(ruvector, ruvector);
