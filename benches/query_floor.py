#!/usr/bin/env python3
"""The statement floor: what one query costs a client before any index work,
next to the kNN query itself, for ruvector_pg and pgvector in turn.

Every query the benchmark times is one psycopg statement (parse, bind,
plan, execute, a round trip on loopback, the client's own work). Both
engines pay that, so it caps the QPS ratio one client can show: at most
pgvector's time per kNN query divided by the floor, however fast our
search. This prints, per engine and round (engines alternate, the machine
is noisy): `SELECT 1`; the query vector sent and parsed (`SELECT $1::type IS
NULL`); and the benchmark's kNN query at each ef_search, in microseconds
per query (best of --reps passes over the queries), then the ceiling.

Needs the tables `scripts/benchmark.sh --methods hnsw --keep` leaves:

  python3 benches/query_floor.py --conninfo "host=127.0.0.1 port=54330 user=postgres" \\
      --dataset wordnet384 --ef 10,20,40
"""
import argparse
import time

import psycopg

from datasets import LOADERS, literal

ENGINES = {"ruvector_pg": ("ruvector_bench", "ruvector"), "pgvector": ("pgvector_bench", "vector")}
OPERATOR = {"l2": "<->", "cosine": "<=>"}


def per_query_us(conn, sql, params, reps):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for p in params:
            conn.execute(sql, p).fetchall()
        best = min(best, (time.perf_counter() - t) / len(params))
    return best * 1e6


def measure(conninfo, engine, dataset, metric, texts, efs, reps):
    db, typ = ENGINES[engine]
    with psycopg.connect(f"{conninfo} dbname={db}", autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        vectors = [(q,) for q in texts]
        row = {
            "SELECT 1": per_query_us(conn, "SELECT 1", [None] * len(texts), reps),
            "vector sent and parsed": per_query_us(conn, f"SELECT %s::{typ} IS NULL", vectors, reps),
        }
        knn = f"SELECT id FROM bench_{dataset} ORDER BY v {OPERATOR[metric]} %s::{typ} LIMIT 10"
        for ef in efs:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            conn.execute(knn, vectors[0]).fetchall()
            row[f"kNN ef {ef}"] = per_query_us(conn, knn, vectors, reps)
        return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--dataset", default="wordnet384", choices=list(LOADERS))
    ap.add_argument("--ef", default="10,20,40")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    _, queries, metric = LOADERS[args.dataset]()
    texts = [literal(q) for q in queries[: args.queries]]
    efs = [int(e) for e in args.ef.split(",")]
    rows = []
    for r in range(args.rounds):
        for engine in ENGINES:
            rows.append((r + 1, engine, measure(args.conninfo, engine, args.dataset, metric, texts, efs, args.reps)))
    labels = list(rows[0][2])
    print("| round | engine | " + " | ".join(labels) + " |")
    print("|---:|---|" + "---:|" * len(labels))
    for r, engine, row in rows:
        print(f"| {r} | {engine} | " + " | ".join(f"{row[k]:.0f}" for k in labels) + " |")
    print("\nµs per query. Per round and ef: the ceiling on one client's QPS ratio (pgvector's kNN"
          " time / the floor of sending and parsing the vector), the ratio measured, and the ratio"
          " of the time each spends above the floor (the index's own work):")
    for r in range(1, args.rounds + 1):
        ours = next(row for rr, e, row in rows if rr == r and e == "ruvector_pg")
        theirs = next(row for rr, e, row in rows if rr == r and e == "pgvector")
        floor = min(ours["vector sent and parsed"], theirs["vector sent and parsed"])
        parts = []
        for ef in efs:
            t, o = theirs[f"kNN ef {ef}"], ours[f"kNN ef {ef}"]
            above = (t - floor) / (o - floor) if o > floor else float("inf")
            parts.append(f"ef {ef}: ceiling {t / floor:.1f}x, measured {t / o:.2f}x, above the floor {above:.1f}x")
        print(f"- round {r}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
