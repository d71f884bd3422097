-- Shell types, so that the C functions generated from #[pg_extern] can name
-- them before CREATE TYPE completes them in types.sql.
CREATE TYPE ruvector;
CREATE TYPE halfvec;
CREATE TYPE sparsevec;
