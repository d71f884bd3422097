#!/usr/bin/env bash
# With ruvector_pg preloaded, cached hnsw level-0 lists are trusted until
# their own page changes (the pages' change positions, src/am/hnsw/cache.rs),
# not until any WAL is written. This checks that a list is never trusted
# after its page changed: two sessions share the vector cache's segment;
# after warming it with searches, each in turn inserts a row and the other
# at once searches for the row's vector, which must come back first (it is
# reachable only through the back-links the insert wrote into other
# elements' lists, most of them cached before the insert). Then inserted
# and old rows' neighbours agree with an exact scan.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

scratch_cluster 25441
echo "hnsw.shared_cache_size = '64MB'" >>"$DATA/postgresql.conf"
preload_ruvector "$DATA" "$PORT"

"${P[@]}" >/dev/null <<'SQL'
CREATE EXTENSION ruvector_pg;
CREATE TABLE items (id serial PRIMARY KEY, v ruvector(48));
SELECT setseed(0.25);
INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 48) WHERE i > 0) FROM generate_series(1, 3000) i;
CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops) WITH (m = 6, ef_construction = 24);
SQL

python3 - "$PORT" <<'PY'
import random
import sys

import psycopg

port = sys.argv[1]
conn = lambda: psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True)
a, b = conn(), conn()
for s in (a, b):
    s.execute("SET enable_seqscan = off")
    s.execute("SET hnsw.ef_search = 200")
rng = random.Random(7)
text = lambda v: "[" + ",".join(f"{x:.6f}" for x in v) + "]"
knn = "SELECT id FROM items ORDER BY v <-> %s::ruvector LIMIT {}"

# warm the shared segment: vectors and level-0 lists of most elements
for i in range(600):
    a.execute(knn.format(10), (text([rng.random() for _ in range(48)]),)).fetchall()
cached = a.execute("SELECT sum(vectors) FROM ruvector_shared_cache()").fetchone()[0]
assert cached >= 2500, f"only {cached} vectors cached after warming"
lists = a.execute("SELECT sum(lists) FROM ruvector_shared_cache()").fetchone()[0]
assert lists >= 1000, f"only {lists} lists cached after warming"

found = 0
rounds = 300
for r in range(rounds):
    writer, reader = (a, b) if r % 2 == 0 else (b, a)
    v = text([rng.random() for _ in range(48)])
    new = writer.execute("INSERT INTO items (v) VALUES (%s) RETURNING id", (v,)).fetchone()[0]
    got = reader.execute(knn.format(1), (v,)).fetchone()[0]
    found += got == new
print(f"list stamps: {found} of {rounds} rows found by the other session right after their insert")
assert found == rounds, f"{rounds - found} inserted rows not found: a list was trusted after its page changed"

# the graph as the cache sees it agrees with an exact scan
exact = conn()
exact.execute("SET enable_indexscan = off")
exact.execute("SET enable_bitmapscan = off")
hits = 0
for q in range(100):
    v = text([rng.random() for _ in range(48)])
    got = {x[0] for x in a.execute(knn.format(10), (v,)).fetchall()}
    want = {x[0] for x in exact.execute(knn.format(10), (v,)).fetchall()}
    hits += len(got & want)
recall = hits / 1000
print(f"list stamps: recall@10 {recall:.3f} at ef_search 200 after the inserts")
assert recall >= 0.9, recall
PY
echo "list stamps: ok"
