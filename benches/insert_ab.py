#!/usr/bin/env python3
"""A/B of hnsw INSERT cost between builds of the extension's library, inside
the server: each round installs each library in turn (the .so files given,
copied over the installed one), restarts the benchmark cluster, inserts 200
rows to warm the connection and the shared cache, then times one INSERT ...
SELECT of --rows new rows into the same indexed table, in the backend's own
CPU time (/proc/<pid>/stat: no client, socket or statement per row, so it
separates an index change from this machine's client-side noise). The new
rows are midpoints of random pairs of the data set's rows (rounded for
integer data such as Fashion-MNIST's pixels), so every insert makes a new
element; each measurement takes rows no earlier one inserted, and the
libraries alternate, so the index's growth over a run falls on each alike.
Medians per library at the end. Needs the benchmark cluster (scripts/
common.sh, start_bench_cluster) and a database with the extension (the
benchmark's ruvector_bench). Leaves the last library given installed.

  python3 benches/insert_ab.py --dataset fashion --lib before=/tmp/old.so --lib after=target/release/libruvector_pg.so
"""
import argparse
import os
import shutil
import statistics
import subprocess
import time

import numpy as np
import psycopg

import datasets
from benchmark import OPS

PKGLIB = subprocess.run(["/usr/lib/postgresql/15/bin/pg_config", "--pkglibdir"], capture_output=True, text=True, check=True).stdout.strip()
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def backend_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def install(lib, datadir):
    target = os.path.join(PKGLIB, "ruvector_pg.so")
    # a new inode, so a server that still maps the old file keeps its copy
    os.unlink(target)
    shutil.copyfile(lib, target)
    subprocess.run(["runuser", "-u", "postgres", "--", PG_CTL, "-D", datadir, "-m", "fast", "-w", "restart",
                    "-l", os.path.join(datadir, "server.log")], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", default="host=127.0.0.1 port=54330 user=postgres dbname=ruvector_bench")
    ap.add_argument("--datadir", default="/var/lib/ruvector_pg/bench", help="the benchmark cluster's data directory")
    ap.add_argument("--dataset", default="fashion", choices=list(datasets.LOADERS))
    ap.add_argument("--lib", action="append", required=True, metavar="NAME=PATH", help="a library to compare (two or more)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--rows", type=int, default=1000, help="rows timed per measurement")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--warm-queries", type=int, default=0,
                    help="kNN searches (ef_search 40, data set rows as queries) run before the warm-up inserts, so "
                    "that, as in the benchmark's INSERT phase after its sweeps, the shared cache holds vectors and lists")
    args = ap.parse_args()
    libs = [tuple(x.split("=", 1)) for x in args.lib]
    base, _, metric = datasets.LOADERS[args.dataset]()
    per = 200 + args.rows
    needed = args.rounds * len(libs) * per
    rng = np.random.default_rng(args.seed)
    i, j = rng.integers(0, len(base), needed), rng.integers(0, len(base), needed)
    new = (base[i].astype(np.float64) + base[j]) / 2
    if np.all(base[:1000] == np.round(base[:1000])):
        new = np.round(new)
    new = new.astype(np.float32)
    table, source = f"ab_{args.dataset}", f"ab_{args.dataset}_new"
    install(libs[0][1], args.datadir)
    with psycopg.connect(args.conninfo, autocommit=True) as conn:
        typ = f"ruvector({base.shape[1]})"
        for name, rows in ((table, base), (source, new)):
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(f"CREATE TABLE {name} (id int, v {typ})")
            with conn.cursor().copy(f"COPY {name} (id, v) FROM STDIN WITH (FORMAT BINARY)") as cp:
                cp.write(datasets.binary_copy_data(rows))
        conn.execute(f"CREATE INDEX ON {table} USING hnsw (v {OPS[metric][0]}) WITH (m = 16, ef_construction = 64)")
        conn.execute(f"VACUUM ANALYZE {table}")
    datasets.progress(f"{table}: {len(base):,} rows indexed; {source}: {needed:,} new rows")
    ms = {name: [] for name, _ in libs}
    at = 0
    for r in range(1, args.rounds + 1):
        for name, lib in libs:
            install(lib, args.datadir)
            with psycopg.connect(args.conninfo, autocommit=True) as conn:
                pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                conn.execute("SET synchronous_commit = off")
                if args.warm_queries:
                    conn.execute("SET hnsw.ef_search = 40")
                    for q in rng.integers(0, len(base), args.warm_queries):
                        conn.execute(f"SELECT id FROM {table} ORDER BY v {OPS[metric][1]} %s LIMIT 10",
                                     (datasets.literal(base[q]),)).fetchall()
                conn.execute(f"INSERT INTO {table} SELECT id, v FROM {source} WHERE id >= {at} AND id < {at + 200}")
                cpu0, wall0 = backend_cpu_seconds(pid), time.perf_counter()
                conn.execute(f"INSERT INTO {table} SELECT id, v FROM {source} WHERE id >= {at + 200} AND id < {at + per}")
                cpu, wall = backend_cpu_seconds(pid) - cpu0, time.perf_counter() - wall0
            at += per
            ms[name].append(cpu * 1000 / args.rows)
            print(f"round {r} {name}: {ms[name][-1]:.3f} ms of backend CPU per row ({wall * 1000 / args.rows:.3f} wall)", flush=True)
    for name, _ in libs:
        print(f"{name}: median {statistics.median(ms[name]):.3f} ms per row, range {min(ms[name]):.3f}-{max(ms[name]):.3f}")


if __name__ == "__main__":
    main()
