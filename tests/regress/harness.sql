-- Helpers the regression files share; loaded once into the test database.

-- 'SQLSTATE: message' of the error `query` raises, or 'no error'.
CREATE FUNCTION error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
