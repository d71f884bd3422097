-- ruvector_pg 0.1.0 -> 0.2.0
--
-- 0.2.0 keeps every 0.1.0 object (types, functions, operators, opclasses,
-- access methods: same signatures and C symbols) but one, and adds seven
-- functions, ruvector_recall, ruvector_index_stats, ruvector_prewarm,
-- ruvector_reset_peak_memory, ruvector_from_bytes, ruvector_to_bytes and
-- ruvector_memory_components (0.1.0's ruvector_memory_detailed table under
-- a new name; ruvector_memory_detailed now returns jsonb)
-- (tests/recovery/upgrade.sh compares the
-- objects of an updated and a fresh installation). What changed
-- is behaviour inside the library (issue 11: guarded callbacks, validated
-- pages, pgvector's answers in edge cases) and nothing on disk: 0.1.0
-- indexes are read as they are (meta page version 2 for hnsw, 1 for ivfflat).
\echo Use "ALTER EXTENSION ruvector_pg UPDATE" to load this file. \quit

-- 0.2.0 adds ruvector_recall(query) (issue 15): the same definition as sql/types.sql.
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

-- 0.2.0 adds ruvector_index_stats(regclass), ruvector_prewarm(regclass) and
-- ruvector_reset_peak_memory() (issue 13), as the 0.2.0 install script declares them.
CREATE  FUNCTION "ruvector_index_stats"(
	"index" regclass /* RegClass */
) RETURNS jsonb /* JsonB */
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_index_stats_wrapper';
CREATE  FUNCTION "ruvector_prewarm"(
	"index" regclass /* RegClass */
) RETURNS bigint /* i64 */
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_prewarm_wrapper';
CREATE  FUNCTION "ruvector_reset_peak_memory"() RETURNS bigint /* i64 */
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_reset_peak_memory_wrapper';

-- 0.2.0 adds ruvector_from_bytes(bytea) and ruvector_to_bytes(ruvector)
-- (issue 13: loading raw little-endian float buffers), as the 0.2.0 install
-- script declares them.
CREATE  FUNCTION "ruvector_from_bytes"(
	"bytes" bytea /* & [u8] */
) RETURNS ruvector /* DenseOut < f32 > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_from_bytes_wrapper';
CREATE  FUNCTION "ruvector_to_bytes"(
	"v" ruvector /* A < '_ > */
) RETURNS bytea /* ByteaOut */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_to_bytes_wrapper';

-- 0.2.0's ruvector_memory_detailed() returns jsonb (issue 13); the table
-- 0.1.0's returned is ruvector_memory_components(), calling the same C
-- symbol as 0.1.0's ruvector_memory_detailed() did (so a 0.1.0 catalogue
-- running this library before the update still gets its table).
DROP FUNCTION "ruvector_memory_detailed"();
CREATE  FUNCTION "ruvector_memory_components"() RETURNS TABLE (
	"component" TEXT,  /* & '_ str */
	"bytes" bigint,  /* i64 */
	"detail" TEXT  /* String */
)
STRICT VOLATILE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_memory_detailed_wrapper';
CREATE  FUNCTION "ruvector_memory_detailed"() RETURNS jsonb /* pgrx::JsonB */
STRICT VOLATILE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_memory_detailed_jsonb_wrapper';
CREATE  FUNCTION "ruvector_shared_cache"() RETURNS TABLE (
	"database" oid,  /* pgrx :: pg_sys :: Oid */
	"index" oid,  /* pgrx :: pg_sys :: Oid */
	"generation" bigint,  /* i64 */
	"state" TEXT,  /* & '_ str */
	"bytes" bigint,  /* i64 */
	"vectors" bigint,  /* i64 */
	"vector_capacity" bigint,  /* i64 */
	"lists" bigint,  /* i64 */
	"list_capacity" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ruvector_shared_cache_wrapper';

CREATE FUNCTION ruvector_storage_info(ruvector) RETURNS jsonb
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'ruvector_storage_info_wrapper';
CREATE FUNCTION ruvector_storage_info(halfvec) RETURNS jsonb
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'ruvector_storage_info_wrapper';
CREATE FUNCTION ruvector_storage_info(sparsevec) RETURNS jsonb
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'ruvector_storage_info_wrapper';

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
