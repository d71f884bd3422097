#!/usr/bin/env python3
"""Graph quality of an hnsw index built by inserts: rows COPYed into an
empty table that already has the index (every row through aminsert, as an
application filling a table does), against the same rows indexed by CREATE
INDEX afterwards; per engine, recall@10 at ef_search 10 / 20 / 40 over 500
of the data set's queries, exact ground truth over the first ROWS rows, m 16,
ef_construction 64. Needs the benchmark cluster (scripts/common.sh,
start_bench_cluster) with both extensions' databases (benchmark.sh makes
them).

  python3 benches/insert_built.py --dataset fashion --rows 20000 [--engines ruvector_pg,pgvector]
"""
import argparse
import time

import numpy as np
import psycopg

from datasets import LOADERS, binary_copy_data, ground_truth, literal, recall

ENGINES = {"ruvector_pg": ("ruvector_bench", "ruvector"), "pgvector": ("pgvector_bench", "vector")}
OPS = {"l2": ("vector_l2_ops", "<->"), "cosine": ("vector_cosine_ops", "<=>")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", default="host=127.0.0.1 port=54330 user=postgres")
    ap.add_argument("--dataset", default="fashion", choices=list(LOADERS))
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--engines", default="ruvector_pg,pgvector")
    args = ap.parse_args()
    base, queries, metric = LOADERS[args.dataset]()
    base, queries = np.ascontiguousarray(base[: args.rows]), np.ascontiguousarray(queries[:500])
    _, true_dist = ground_truth(base, queries)
    texts = [literal(q) for q in queries]
    opclass, op = OPS[metric]
    data = binary_copy_data(base)
    for engine in args.engines.split(","):
        db, typ = ENGINES[engine]
        with psycopg.connect(f"{args.conninfo} dbname={db}", autocommit=True) as conn:
            for mode in ("inserts", "build"):
                conn.execute("DROP TABLE IF EXISTS insert_built")
                conn.execute(f"CREATE TABLE insert_built (id int4, v {typ}({base.shape[1]}))")
                conn.execute("SET maintenance_work_mem = '2GB'")
                index = f"CREATE INDEX insert_built_idx ON insert_built USING hnsw (v {opclass}) WITH (m = 16, ef_construction = 64)"
                t = time.perf_counter()
                if mode == "inserts":
                    conn.execute(index)
                with conn.cursor().copy("COPY insert_built (id, v) FROM STDIN (FORMAT binary)") as cp:
                    cp.write(data)
                if mode == "build":
                    conn.execute(index)
                seconds = time.perf_counter() - t
                conn.execute("SET enable_seqscan = off")
                recalls = []
                for ef in (10, 20, 40):
                    conn.execute(f"SET hnsw.ef_search = {ef}")
                    sql = f"SELECT id FROM insert_built ORDER BY v {op} %s::{typ} LIMIT 10"
                    got = [[r[0] for r in conn.execute(sql, (q,)).fetchall()] for q in texts]
                    recalls.append(recall(base, queries, got, true_dist))
                links = ""
                if engine == "ruvector_pg":
                    row = conn.execute("SELECT ruvector_index_stats('insert_built_idx') ->> 'mean_level0_links'").fetchone()
                    links = f", level-0 links {float(row[0]):.1f}"
                print(
                    f"{args.dataset} ({len(base):,} rows) {engine} {mode}: {seconds:.1f} s, recall at ef 10 / 20 / 40 "
                    + " / ".join(f"{r:.3f}" for r in recalls) + links,
                    flush=True,
                )
            conn.execute("DROP TABLE insert_built")


if __name__ == "__main__":
    main()
