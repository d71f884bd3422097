-- ruvector_pg 0.1.0 -> 0.2.0
--
-- 0.2.0 changes no SQL object: every type, function, operator, opclass and
-- access method keeps its signature and C symbol (tests/recovery/upgrade.sh
-- compares the objects of an updated and a fresh installation). What changed
-- is behaviour inside the library (issue 11: guarded callbacks, validated
-- pages, pgvector's answers in edge cases) and nothing on disk: 0.1.0
-- indexes are read as they are (meta page version 2 for hnsw, 1 for ivfflat).
\echo Use "ALTER EXTENSION ruvector_pg UPDATE" to load this file. \quit
