#!/usr/bin/env python3
"""Loading 1,536-d vectors (issue 13 item 5): rows/s and MB/s of vector data
for text COPY, binary COPY, and the bytea path (binary COPY of little-endian
float4 buffers into a staging table, then `INSERT ... SELECT
ruvector_from_bytes(b)`), beside this machine's memory bandwidth measured in
the same run (numpy copying 256 MiB arrays). Each load goes into a fresh
table after a CHECKPOINT; the client's data is prepared before the clock
starts. Run through scripts/bench-load.sh.
"""
import argparse
import time

import numpy as np
import psycopg

from benchmark import conninfo_for, prepare_database
from datasets import binary_copy_data, progress


def memory_bandwidth(mib=256, rounds=5):
    """Bytes copied per second by numpy (each byte read once and written once)."""
    a = np.ones(mib * 2**20 // 8)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best


def text_copy_data(base):
    lines = ["%d\t[%s]\n" % (i, ",".join("%.7g" % x for x in v)) for i, v in enumerate(base)]
    return "".join(lines).encode()


def bytea_copy_data(base):
    """Binary COPY of (id int4, b bytea): b the little-endian float4 buffer."""
    n, dims = base.shape
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("b", "<f4", (dims,))])
    rows = np.empty(n, dtype=row)
    rows["nf"], rows["l1"], rows["id"], rows["l2"], rows["b"] = 2, 4, np.arange(n), 4 * dims, base
    return b"PGCOPY\n\xff\r\n\0" + b"\0" * 8 + rows.tobytes() + b"\xff\xff"


def timed(conn, setup, run):
    for s in setup:
        conn.execute(s)
    conn.execute("CHECKPOINT")
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def copy_in(conn, sql, data):
    def run():
        with conn.cursor().copy(sql) as cp:
            for s in range(0, len(data), 1 << 24):
                cp.write(data[s : s + (1 << 24)])

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True, help="server connection without dbname")
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--dims", type=int, default=1536)
    ap.add_argument("--rounds", type=int, default=3, help="loads per path; the fastest counts")
    args = ap.parse_args()
    if not prepare_database(args.conninfo, "ruvector_pg"):
        raise SystemExit("ruvector_pg is not installed on this server")
    base = np.random.default_rng(1536).normal(0, 0.05, (args.rows, args.dims)).astype(np.float32)
    progress(f"preparing {args.rows:,} x {args.dims} rows in three formats")
    text, binary, raw = text_copy_data(base), binary_copy_data(base), bytea_copy_data(base)
    mb = base.nbytes / 1e6
    table = f"(id int4, v ruvector({args.dims}))"
    paths = {
        "text COPY": (["DROP TABLE IF EXISTS load_t", f"CREATE TABLE load_t {table}"], lambda c: copy_in(c, "COPY load_t (id, v) FROM STDIN", text)),
        "binary COPY": (["DROP TABLE IF EXISTS load_t", f"CREATE TABLE load_t {table}"], lambda c: copy_in(c, "COPY load_t (id, v) FROM STDIN (FORMAT binary)", binary)),
    }
    results = {}
    with psycopg.connect(conninfo_for(args.conninfo, "ruvector_bench"), autocommit=True) as conn:
        for name, (setup, make) in paths.items():
            results[name] = min(timed(conn, setup, make(conn)) for _ in range(args.rounds))
            progress(f"{name}: {results[name]:.2f} s")

        def bytea_path():
            copy_in(conn, "COPY load_raw (id, b) FROM STDIN (FORMAT binary)", raw)()
            t = time.perf_counter()
            conn.execute("INSERT INTO load_t SELECT id, ruvector_from_bytes(b) FROM load_raw")
            bytea_path.convert = time.perf_counter() - t

        setup = ["DROP TABLE IF EXISTS load_t", "DROP TABLE IF EXISTS load_raw", f"CREATE TABLE load_t {table}", "CREATE TABLE load_raw (id int4, b bytea)"]
        best = None
        for _ in range(args.rounds):
            total = timed(conn, setup, bytea_path)
            if best is None or total < best[0]:
                best = (total, bytea_path.convert)
        results["bytea path (COPY to staging + INSERT SELECT ruvector_from_bytes)"] = best[0]
        results["  of which INSERT SELECT ruvector_from_bytes"] = best[1]
        conn.execute("DROP TABLE load_t")
        conn.execute("DROP TABLE load_raw")
    bandwidth = memory_bandwidth()
    print(f"## Loading {args.rows:,} rows of {args.dims} dimensions ({mb:.0f} MB of float4), fastest of {args.rounds}")
    print()
    print("| path | seconds | rows/s | MB/s of vectors |")
    print("|---|---:|---:|---:|")
    for name, s in results.items():
        print(f"| {name} | {s:.2f} | {args.rows / s:,.0f} | {mb / s:,.0f} |")
    print()
    print(f"Memory bandwidth measured in the same run (numpy copying 256 MiB): {bandwidth / 1e6:,.0f} MB/s copied.")


if __name__ == "__main__":
    main()
