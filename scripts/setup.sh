#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root) to a working ruvector_pg:
# installs the dependencies, builds and installs the extension into PostgreSQL 15,
# starts a local server as the `postgres` user on 127.0.0.1:$DEMO_PORT, creates
# the extension, loads 5,000 GloVe word vectors (data/) and runs similarity queries.
# Safe to run again: every step reuses what is already there.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"

DEMO_DATA=${DEMO_DATA:-/var/lib/ruvector_pg/demo}
DEMO_PORT=${DEMO_PORT:-54320}

bash scripts/install-deps.sh

# A running server has the old library mapped; stop it before replacing the file.
[ -f "$DEMO_DATA/PG_VERSION" ] && stop_cluster "$DEMO_DATA"
log "Building and installing the extension (release)"
install_extension

log "Starting PostgreSQL $PG_MAJOR on 127.0.0.1:$DEMO_PORT (data in $DEMO_DATA)"
start_cluster "$DEMO_DATA" "$DEMO_PORT"
psql_demo=(psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DEMO_PORT" -U postgres)
if [ -z "$("${psql_demo[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'ruvector_demo'")" ]; then
    "${psql_demo[@]}" -d postgres -qc "CREATE DATABASE ruvector_demo"
fi

log "Loading the demo data set and querying it"
"${psql_demo[@]}" -d ruvector_demo <<'SQL'
\set QUIET on
CREATE EXTENSION IF NOT EXISTS ruvector_pg;
CREATE TABLE IF NOT EXISTS words (word text PRIMARY KEY, embedding ruvector(50) NOT NULL);
SELECT count(*) = 0 AS empty FROM words \gset
\if :empty
\copy words (word, embedding) FROM 'data/glove-6b-50d-top5000.tsv'
\endif
\set QUIET off
\echo
\echo 'Words nearest to "king" by cosine distance (embedding <=> king):'
SELECT w.word, round((w.embedding <=> k.embedding)::numeric, 4) AS cosine_distance
FROM words w, words k
WHERE k.word = 'king' AND w.word <> 'king'
ORDER BY w.embedding <=> k.embedding
LIMIT 5;
\echo 'king - man + woman, nearest by L2 distance (<->):'
SELECT w.word, round((w.embedding <-> q.v)::numeric, 4) AS l2_distance
FROM words w,
     (SELECT (SELECT embedding FROM words WHERE word = 'king')
           - (SELECT embedding FROM words WHERE word = 'man')
           + (SELECT embedding FROM words WHERE word = 'woman') AS v) q
WHERE w.word NOT IN ('king', 'man', 'woman')
ORDER BY w.embedding <-> q.v
LIMIT 5;
SELECT count(*) AS words, (SELECT vector_dims(embedding) FROM words LIMIT 1) AS dims, ruvector_simd_info() AS simd FROM words;
SQL
log "Done. Connect with: psql -h 127.0.0.1 -p $DEMO_PORT -U postgres ruvector_demo"
