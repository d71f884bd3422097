#!/usr/bin/env python3
"""Backend CPU time per query: run the benchmark's queries against an hnsw
index left by `scripts/benchmark.sh --methods hnsw --no-pgvector --keep` and read the serving backend's CPU time
from /proc/<pid>/stat (the server must run on this machine). This is the
measure the per-change tables in docs/benchmarks.md use: unlike QPS it leaves
out the client and most of the network.

  python3 benches/backend_cpu.py --conninfo "host=127.0.0.1 port=54330 user=postgres dbname=ruvector_bench" \\
      --dataset fashion --ef 20 --reps 3 [--vector-cache 256MB]
"""
import argparse
import os
import time

import psycopg

from datasets import LOADERS, literal


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--dataset", default="fashion", choices=list(LOADERS))
    ap.add_argument("--ef", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3, help="timed passes over the 1,000 queries")
    ap.add_argument("--vector-cache", help="hnsw.vector_cache_size for the session")
    args = ap.parse_args()
    queries = LOADERS[args.dataset]()[1][:1000]
    texts = [literal(q) for q in queries]
    table = f"bench_{args.dataset}"
    with psycopg.connect(args.conninfo, autocommit=True) as conn:
        if args.vector_cache:
            conn.execute(f"SET hnsw.vector_cache_size = '{args.vector_cache}'")
        conn.execute(f"SET hnsw.ef_search = {args.ef}")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]

        def cpu_seconds():
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        op = "<->" if LOADERS[args.dataset]()[2] == "l2" else "<=>"
        sql = f"SELECT id FROM {table} ORDER BY v {op} %s::ruvector LIMIT 10"
        for q in texts:  # warm-up: shared buffers and the vector cache
            conn.execute(sql, (q,)).fetchall()
        c0, t0 = cpu_seconds(), time.perf_counter()
        for _ in range(args.reps):
            for q in texts:
                conn.execute(sql, (q,)).fetchall()
        wall, cpu, n = time.perf_counter() - t0, cpu_seconds() - c0, args.reps * len(texts)
    print(f"{table} ef {args.ef}: {n / wall:.0f} QPS, backend CPU {cpu / n * 1e6:.0f} us per query, wall {wall / n * 1e6:.0f} us")


if __name__ == "__main__":
    main()
