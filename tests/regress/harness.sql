-- Helpers the regression files share; loaded once into the test database.

-- 'SQLSTATE: message' of the error `query` raises, or 'no error'.
CREATE FUNCTION error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Load one value of `typ` from a hand-made binary COPY file holding `field`
-- (header, one tuple with one field, trailer): its text, or 'SQLSTATE: message'.
CREATE FUNCTION copy_binary_field(typ regtype, field bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    lo oid := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
        || '\x0001'::bytea || int4send(length(field)) || field || '\xffff'::bytea);
    result text;
BEGIN
    PERFORM lo_export(lo, '/tmp/ruvector_regress_field.bin');
    PERFORM lo_unlink(lo);
    EXECUTE format('CREATE TEMP TABLE one_field (v %s) ON COMMIT DROP', typ);
    BEGIN
        COPY one_field FROM '/tmp/ruvector_regress_field.bin' (FORMAT binary);
        SELECT v::text INTO result FROM one_field;
    EXCEPTION WHEN OTHERS THEN
        result := SQLSTATE || ': ' || SQLERRM;
    END;
    DROP TABLE one_field;
    RETURN result;
END $$;

-- recall@10 of `op` over `data_table` for every row of `query_table`: the
-- index scan's ids against a sequential scan's (both tables have v; the
-- queries have i, the data id).
CREATE FUNCTION recall_at_10(query_table regclass, data_table regclass, op text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    truth_sql text := format('SELECT q.i, a.id FROM %s q, LATERAL (SELECT id FROM %s d ORDER BY d.v %s q.v LIMIT 10) a',
                             query_table, data_table, op);
    -- restored at the end: SET LOCAL would outlast this call, and a second
    -- call in the same statement would take its truth from the index
    old_seqscan text := current_setting('enable_seqscan');
    old_indexscan text := current_setting('enable_indexscan');
    result float8;
BEGIN
    PERFORM set_config('enable_seqscan', 'on', true);
    PERFORM set_config('enable_indexscan', 'off', true);
    PERFORM assert_plan(truth_sql, false);
    EXECUTE 'CREATE TEMP TABLE truth ON COMMIT DROP AS ' || truth_sql;
    PERFORM set_config('enable_seqscan', 'off', true);
    PERFORM set_config('enable_indexscan', 'on', true);
    PERFORM assert_plan(truth_sql, true);
    EXECUTE 'CREATE TEMP TABLE got ON COMMIT DROP AS ' || truth_sql;
    PERFORM set_config('enable_seqscan', old_seqscan, true);
    PERFORM set_config('enable_indexscan', old_indexscan, true);
    SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM truth t WHERE t.i = g.i AND t.id = g.id))::float8 / count(*)
      INTO result FROM got g;
    DROP TABLE truth, got;
    RETURN result;
END $$;

-- Raise unless `query`'s plan uses an index scan (`indexed`) or none: a
-- recall is only a recall if the truth is exact and the answers the index's.
CREATE FUNCTION assert_plan(query text, indexed bool) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    plan text := '';
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    IF (plan LIKE '%Index Scan%') <> indexed THEN
        RAISE EXCEPTION 'expected a plan % an index scan: %', CASE WHEN indexed THEN 'with' ELSE 'without' END, plan;
    END IF;
END $$;

-- Whether an index scan's first k rows of `tab` are a sequential scan's, for
-- every query vector of `queries` (columns i, v): the same distances in the
-- same order, and the same rows among those nearer than the k-th (equal
-- distances may come in either order). `cast_to` is the type both sides are
-- measured in (an expression index on v::cast_to).
CREATE FUNCTION index_same_as_seqscan(tab text, queries text, op text, k int, cast_to text DEFAULT 'ruvector')
RETURNS TABLE (same bool, queries_run bigint) AS $$
DECLARE q record; a int[]; b int[]; da float8[]; db float8[]; ok bool := true; n bigint := 0;
BEGIN
    FOR q IN EXECUTE format('SELECT v FROM %I ORDER BY i', queries) LOOP
        SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
        EXECUTE format('SELECT array_agg(id), array_agg(d) FROM (SELECT id, v::%s %s $1::%s AS d FROM %I ORDER BY v::%s %s $1::%s LIMIT %s) s',
                       cast_to, op, cast_to, tab, cast_to, op, cast_to, k) INTO a, da USING q.v;
        SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
        EXECUTE format('SELECT array_agg(id), array_agg(d) FROM (SELECT id, v::%s %s $1::%s AS d FROM %I ORDER BY v::%s %s $1::%s, id LIMIT %s) s',
                       cast_to, op, cast_to, tab, cast_to, op, cast_to, k) INTO b, db USING q.v;
        ok := ok AND da IS NOT DISTINCT FROM db
              AND (SELECT array_agg(x ORDER BY x) FROM unnest(a, da) t(x, d) WHERE d < da[k]) IS NOT DISTINCT FROM
                  (SELECT array_agg(x ORDER BY x) FROM unnest(b, db) t(x, d) WHERE d < db[k]);
        n := n + 1;
    END LOOP;
    RESET enable_seqscan; RESET enable_indexscan;
    RETURN QUERY SELECT ok, n;
END $$ LANGUAGE plpgsql;
