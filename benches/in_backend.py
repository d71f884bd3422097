#!/usr/bin/env python3
"""Milliseconds per query measured inside one backend: the data set's held-out
queries go into a temporary table (`q_<dataset>`), and a DO block runs the
benchmark's `ORDER BY v <op> q LIMIT 10` for each of them, timing the loop
with clock_timestamp() (`benchmark.backend_ms_per_query`, which the
benchmark itself runs at each engine's setting reaching 0.95). No client,
socket or text literal is in the figure, so it separates an index change
from this machine's client-side noise (the fifteenth session's A/B tables in
docs/benchmarks.md use it). Needs the table left by `scripts/benchmark.sh
--keep`; works for either engine's database.

  python3 benches/in_backend.py --conninfo "host=127.0.0.1 port=54330 user=postgres dbname=ruvector_bench" \\
      --dataset fashion --setting "ivfflat.probes = 4" --setting "ivfflat.probes = 8"
"""
import argparse

import psycopg

from benchmark import backend_ms_per_query, query_table
from datasets import LOADERS, literal

OPERATORS = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--dataset", default="fashion", choices=list(LOADERS))
    ap.add_argument("--setting", action="append", default=[], help="a SET clause; one figure per setting")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--warm", type=int, default=300, help="untimed queries first")
    args = ap.parse_args()
    _, queries, metric = LOADERS[args.dataset]()
    op = OPERATORS[metric]
    table, qtable = f"bench_{args.dataset}", f"q_{args.dataset}"
    with psycopg.connect(args.conninfo, autocommit=True) as conn:
        typ = conn.execute(f"SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attname = 'v'").fetchone()[0]
        query_table(conn, qtable, typ, [literal(q) for q in queries[: args.queries]])
        conn.execute("SET enable_seqscan = off")
        for setting in args.setting or ["enable_seqscan = off"]:
            conn.execute(f"SET {setting}")
            ms = backend_ms_per_query(conn, table, qtable, op, warm=args.warm)
            print(f"{args.dataset} {setting}: {ms:.3f} ms per query", flush=True)


if __name__ == "__main__":
    main()
