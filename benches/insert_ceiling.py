#!/usr/bin/env python3
"""What bounds the single-row INSERT ratio: the same rows loaded into three
tables per engine (no index, ivfflat, hnsw; m 16, ef_construction 64,
lists = rows / 1000), then single-row INSERTs timed as the benchmark times
them (`benchmark.single_row_inserts`: synchronous_commit off, each row its
own statement, the fastest of three passes), engines in alternating rounds.
The table without an index is the statement's own cost: no index can make
an INSERT faster than that, so its rate divided by pgvector's indexed rate
is the most any index of ours could show.

  python3 benches/insert_ceiling.py --conninfo "host=127.0.0.1 port=54330 user=postgres" \\
      --dataset wordnet384 --rows 50000
"""
import argparse

import psycopg

import datasets
from benchmark import OPS, SQL_ENGINES, conninfo_for, prepare_database, single_row_inserts

INDEXES = {"none": None, "ivfflat": "ivfflat", "hnsw": "hnsw"}


def load(conninfo, engine, base, metric):
    db, _, typ = SQL_ENGINES[engine]
    opclass = OPS[metric][0]
    with psycopg.connect(conninfo_for(conninfo, db), autocommit=True) as conn:
        for name, am in INDEXES.items():
            table = f"ins_{name}"
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (id int, v {typ}({base.shape[1]}))")
            with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN WITH (FORMAT BINARY)") as cp:
                cp.write(datasets.binary_copy_data(base))
            if am == "ivfflat":
                conn.execute(f"CREATE INDEX ON {table} USING ivfflat (v {opclass}) WITH (lists = {max(1, len(base) // 1000)})")
            elif am == "hnsw":
                conn.execute(f"CREATE INDEX ON {table} USING hnsw (v {opclass}) WITH (m = 16, ef_construction = 64)")
            conn.execute(f"VACUUM ANALYZE {table}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True, help="libpq conninfo of the server, without dbname")
    ap.add_argument("--dataset", default="wordnet384", choices=list(datasets.LOADERS))
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--inserts", type=int, default=900, help="rows inserted per table and round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    base, queries, metric = datasets.LOADERS[args.dataset]()
    engines = [e for e in SQL_ENGINES if prepare_database(args.conninfo, e)]
    for engine in engines:
        load(args.conninfo, engine, base[: args.rows], metric)
        datasets.progress(f"{engine}: loaded and indexed {args.rows:,} rows")
    texts = [datasets.literal(q) for q in queries[: args.inserts]]
    rates = {}
    print("| round | engine | " + " | ".join(f"index {n}" for n in INDEXES) + " |")
    print("|---:|---|" + "---:|" * len(INDEXES))
    for r in range(1, args.rounds + 1):
        for engine in engines:
            db, _, typ = SQL_ENGINES[engine]
            with psycopg.connect(conninfo_for(args.conninfo, db), autocommit=True) as conn:
                row = [single_row_inserts(conn, f"ins_{n}", typ, texts, keep=True) for n in INDEXES]
            rates.setdefault(engine, []).append(row)
            print(f"| {r} | {engine} | " + " | ".join(f"{x:,.0f}" for x in row) + " |", flush=True)
    if len(engines) == 2:
        ours, theirs = (rates[e] for e in engines)
        for i, name in enumerate(INDEXES):
            if name == "none":
                continue
            got = [o[i] / t[i] for o, t in zip(ours, theirs)]
            ceiling = [o[0] / t[i] for o, t in zip(ours, theirs)]
            print(f"{name}: ours / pgvector {min(got):.2f}-{max(got):.2f}x; "
                  f"ceiling (ours without an index / pgvector's {name}) {min(ceiling):.2f}-{max(ceiling):.2f}x")


if __name__ == "__main__":
    main()
