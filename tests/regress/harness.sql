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
