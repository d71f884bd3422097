#!/usr/bin/env python3
"""TOAST strategy per value (issue 13): what storing three kinds of vectors
costs in bytes and in query time, side by side in one run.

Data (seeded numpy, made here): dense 1,536-d (normal, like an embedding),
mostly-zero 10,000-d (2 % non-zero), quantized 2,048-d (16 levels). Each
goes into four tables by binary COPY: ruvector_pg's `ruvector(n)` (each
value stored as ruvector_core::toast chooses) with pglz and with lz4
(`default_toast_compression`), the same with `ruvector.compress_values =
off` (stored as sent, as pgvector stores them), and pgvector 0.8.6's
`vector(n)` in its own database. Reported: the mean stored bytes per value (`pg_column_size`),
table size with TOAST (`pg_total_relation_size`), load rows/s, and an exact
scan's time (`ORDER BY v <-> q LIMIT 10` over every row, no index, one
worker, median of 15 queries, each a stored row's vector sent as text).

    bash scripts/bench-toast.sh
"""
import argparse
import statistics
import time

import numpy as np
import psycopg

from benchmark import SQL_ENGINES, conninfo_for
from datasets import binary_copy_data, literal


def make(kind, rng):
    if kind == "dense 1536-d":
        return rng.standard_normal((5000, 1536)).astype(np.float32)
    if kind == "mostly-zero 10000-d":
        v = np.zeros((2000, 10000), dtype=np.float32)
        mask = rng.random(v.shape) < 0.02
        v[mask] = rng.standard_normal(mask.sum()).astype(np.float32)
        return v
    return (rng.integers(0, 16, (4000, 2048)) / 15.0).astype(np.float32)


def measure(conninfo, table, coltype, data, queries, options=""):
    with psycopg.connect(conninfo, autocommit=True, options=options) as c:
        c.execute(f"DROP TABLE IF EXISTS {table}")
        c.execute(f"CREATE TABLE {table} (id int4, v {coltype})")
        c.execute("CHECKPOINT")
        blob = binary_copy_data(data)
        t = time.perf_counter()
        with c.cursor().copy(f"COPY {table} (id, v) FROM STDIN (FORMAT binary)") as cp:
            for s in range(0, len(blob), 1 << 24):
                cp.write(blob[s:s + (1 << 24)])
        load = len(data) / (time.perf_counter() - t)
        c.execute(f"VACUUM ANALYZE {table}")
        mean_bytes, total = c.execute(
            f"SELECT avg(pg_column_size(v)), pg_total_relation_size('{table}') FROM {table}").fetchone()
        compressed = None
        if "ruvector" in coltype:
            compressed = c.execute(
                f"SELECT count(*) FILTER (WHERE (ruvector_storage_info(v)->>'compressed')::bool) FROM {table}").fetchone()[0]
        c.execute("SET max_parallel_workers_per_gather = 0")
        c.execute("SET enable_indexscan = off")
        sql = f"SELECT id FROM {table} ORDER BY v <-> %s LIMIT 10"
        c.execute(sql, (queries[0],)).fetchall()  # warm the cache
        times = []
        for q in queries:
            t = time.perf_counter()
            c.execute(sql, (q,)).fetchall()
            times.append(time.perf_counter() - t)
        c.execute(f"DROP TABLE {table}")
    return float(mean_bytes), total, load, compressed, statistics.median(times) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True, help="server connection without dbname")
    args = ap.parse_args()
    rng = np.random.default_rng(13)
    rows = []
    for kind in ["dense 1536-d", "mostly-zero 10000-d", "quantized 2048-d"]:
        data = make(kind, rng)
        dims = data.shape[1]
        queries = [literal(data[i]) for i in rng.choice(len(data), 15, replace=False)]
        setups = [("ruvector_pg, ruvector(n), pglz", "ruvector_pg", f"ruvector({dims})", "-c default_toast_compression=pglz"),
                  ("ruvector_pg, ruvector(n), lz4", "ruvector_pg", f"ruvector({dims})", "-c default_toast_compression=lz4"),
                  ("ruvector_pg, ruvector(n), compress_values off", "ruvector_pg", f"ruvector({dims})", "-c ruvector.compress_values=off"),
                  ("pgvector 0.8.6, vector(n)", "pgvector", f"vector({dims})", "")]
        for label, engine, coltype, options in setups:
            db = SQL_ENGINES[engine][0]
            try:
                r = measure(conninfo_for(args.conninfo, db), "toast_bench", coltype, data, queries, options)
            except psycopg.OperationalError as e:
                print(f"{label}: skipped ({e})")
                continue
            rows.append((f"{kind} ({len(data):,} rows)", label) + r)
            print(rows[-1], flush=True)
    print("\n| data | stored as | mean bytes per value | table + TOAST | compressed values | load rows/s | exact scan ms/query |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind, label, mean_bytes, total, load, compressed, ms in rows:
        comp = "" if compressed is None else f"{compressed:,}"
        print(f"| {kind} | {label} | {mean_bytes:,.0f} | {total / 2**20:,.1f} MiB | {comp} | {load:,.0f} | {ms:,.1f} |")


if __name__ == "__main__":
    main()
