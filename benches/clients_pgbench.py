#!/usr/bin/env python3
"""Many clients without a Python client in the way (issue 14 item 5):
pgbench (C, two threads) runs `ORDER BY v <=> (SELECT v FROM bench_q WHERE
i = random) LIMIT 10` against the table benchmark.py --keep left
(bench_<dataset>, with its hnsw index), in each extension's database, at
1, 2, 8 and 32 clients, each connection new at the start of its run (as a
connection pool's are after a restart), with our per-backend vector cache at
its default and off. Prints transactions per second.

Run after `benchmark.py --datasets D --methods hnsw --keep`:
    python3 benches/clients_pgbench.py --conninfo "host=127.0.0.1 port=54330 user=postgres" --dataset wordnet384
"""
import argparse
import os
import re
import subprocess
import tempfile

import psycopg

import datasets
from benchmark import OPS, SQL_ENGINES, conninfo_for
from datasets import literal

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True, help="server connection without dbname")
    ap.add_argument("--dataset", default="wordnet384")
    ap.add_argument("--ef", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--clients", default="1,2,8,32")
    args = ap.parse_args()
    base, queries, metric, _, _ = datasets.load(args.dataset, 1000)
    _, op = OPS[metric]
    params = dict(x.split("=", 1) for x in args.conninfo.split())
    table = f"bench_{args.dataset}"
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write(f"\\set i random(0, {len(queries) - 1})\n"
                 f"SELECT id FROM {table} ORDER BY v {op} (SELECT v FROM bench_q WHERE i = :i) LIMIT 10;\n")
    script.close()
    rows = []
    for engine, (db, _, typ) in SQL_ENGINES.items():
        with psycopg.connect(conninfo_for(args.conninfo, db), autocommit=True) as c:
            if not c.execute("SELECT count(*) FROM pg_class WHERE relname = %s", (f"{table}_idx",)).fetchone()[0]:
                print(f"{engine}: no {table}_idx (run benchmark.py --keep first); skipped")
                continue
            c.execute("DROP TABLE IF EXISTS bench_q")
            c.execute(f"CREATE TABLE bench_q (i int PRIMARY KEY, v {typ}({base.shape[1]}))")
            with c.cursor().copy("COPY bench_q (i, v) FROM STDIN") as cp:
                for i, q in enumerate(queries):
                    cp.write(f"{i}\t{literal(q)}\n")
            c.execute("ANALYZE bench_q")
        caches = ["64MB", "0"] if engine == "ruvector_pg" else [None]
        for cache in caches:
            tps = []
            for n in [int(x) for x in args.clients.split(",")]:
                options = f"-c hnsw.ef_search={args.ef}" + (f" -c hnsw.vector_cache_size={cache}" if cache else "")
                env = dict(os.environ, PGOPTIONS=options)
                out = subprocess.run(
                    [PGBENCH, "-n", "-h", params["host"], "-p", params["port"], "-U", params["user"], "-f", script.name,
                     "-c", str(n), "-j", str(min(n, 2)), "-T", str(args.seconds), db],
                    env=env, capture_output=True, text=True, check=True).stdout
                tps.append(float(re.search(r"^tps = ([0-9.]+)", out, re.M).group(1)))
            label = engine + (f", vector cache {cache}" if cache else "")
            rows.append((label, tps))
    os.unlink(script.name)
    counts = args.clients.split(",")
    print(f"## {args.dataset}: pgbench, ef_search {args.ef}, {args.seconds} s per run, new connections each run\n")
    print("| | " + " | ".join(f"{n} clients" for n in counts) + " |")
    print("|---|" + "---:|" * len(counts))
    for label, tps in rows:
        print(f"| {label} | " + " | ".join(f"{t:,.0f}" for t in tps) + " |")


if __name__ == "__main__":
    main()
