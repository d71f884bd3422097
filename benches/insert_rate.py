#!/usr/bin/env python3
"""Single-row INSERT rows/s into a table the benchmark kept
(`scripts/benchmark.sh --keep`: bench_<dataset> with its index), measured as
the benchmark measures it: synchronous_commit off, each row its own
statement; the index prewarmed, 300 warming rows, then the fastest of three
passes of N held-out rows (the data set's queries); the rows deleted and the
table vacuumed after. For comparing two libraries on one table without
rebuilding it (docs/benchmarks.md, "Twenty-third session").

  python3 benches/insert_rate.py --dataset glove --rows 300
"""
import argparse
import time

import psycopg

from datasets import LOADERS, literal


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", default="host=127.0.0.1 port=54330 user=postgres dbname=ruvector_bench")
    ap.add_argument("--dataset", default="glove", choices=list(LOADERS))
    ap.add_argument("--rows", type=int, default=300)
    args = ap.parse_args()
    _, queries, _ = LOADERS[args.dataset]()
    n, table = args.rows, f"bench_{args.dataset}"
    texts = [literal(q) for q in queries[-(300 + 3 * n):]]
    with psycopg.connect(args.conninfo, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(f"SELECT ruvector_prewarm('{table}_idx')")
        for q in texts[:300]:
            conn.execute(f"INSERT INTO {table} (id, v) VALUES (-1, %s::ruvector)", (q,))
        rates = []
        for p in range(3):
            part = texts[300 + p * n : 300 + (p + 1) * n]
            t = time.perf_counter()
            for i, q in enumerate(part):
                conn.execute(f"INSERT INTO {table} (id, v) VALUES (%s, %s::ruvector)", (-2 - i, q))
            rates.append(len(part) / (time.perf_counter() - t))
        conn.execute(f"DELETE FROM {table} WHERE id < 0")
        conn.execute(f"VACUUM {table}")
        print(f"{args.dataset}: {max(rates):.0f} rows/s (passes {' '.join(f'{r:.0f}' for r in rates)})", flush=True)


if __name__ == "__main__":
    main()
