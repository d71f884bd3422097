#!/usr/bin/env python3
"""Many clients without a Python client in the way (issues 13 and 14):
pgbench (C, two threads) runs `ORDER BY v <=> (SELECT v FROM bench_q WHERE
i = random) LIMIT 10` against the table benchmark.py --keep left
(bench_<dataset>, with its hnsw index), at 1, 2, 8 and 32 clients, each
connection new at the start of its run (as a connection pool's are after a
restart). Engines and modes, all in one run:

- pgvector, and ruvector_pg on the benchmark server (not preloaded): its
  shared vector cache in dynamic shared memory (the default), a cache per
  backend (hnsw.shared_cache_size 0) and the cache off;
- with --shared-conninfo/--shared-data, a second server with ruvector_pg in
  shared_preload_libraries (scripts/bench-clients.sh makes it): the table is
  copied there and indexed alike, then measured with the shared vector
  cache (hnsw.shared_cache_size 256MB), the same without the index
  registry (ruvector.shared_index_entries 0: every search reads the meta
  page), and with a cache per backend (hnsw.shared_cache_size 0), the
  server restarted in between.

Besides transactions per second it reports, per mode, the vector cache
memory of all backends while 32 clients run (the preloaded server only:
ruvector_memory_detailed()->'total_mb', polled, the largest value), and a
new connection's first 1,000 queries against the same connection's next
1,000 (one client, psycopg: the cold-start cost).

Run after `benchmark.py --datasets D --methods hnsw --keep`:
    bash scripts/bench-clients.sh --dataset wordnet384
"""
import argparse
import os
import re
import subprocess
import tempfile
import threading
import time

import psycopg

import datasets
from benchmark import OPS, SQL_ENGINES, conninfo_for
from datasets import literal

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def load_queries(conninfo, typ, queries):
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS bench_q")
        c.execute(f"CREATE TABLE bench_q (i int PRIMARY KEY, v {typ}({queries.shape[1]}))")
        with c.cursor().copy("COPY bench_q (i, v) FROM STDIN") as cp:
            for i, q in enumerate(queries):
                cp.write(f"{i}\t{literal(q)}\n")
        c.execute("ANALYZE bench_q")


def copy_table(src, dst, table):
    """The table and its hnsw index from server src to server dst (same definition)."""
    with psycopg.connect(src, autocommit=True) as s, psycopg.connect(dst, autocommit=True) as d:
        d.execute("CREATE EXTENSION IF NOT EXISTS ruvector_pg")
        indexdef = s.execute("SELECT pg_get_indexdef(%s::regclass)", (f"{table}_idx",)).fetchone()[0]
        have = d.execute("SELECT pg_get_indexdef(oid) FROM pg_class WHERE relname = %s", (f"{table}_idx",)).fetchone()
        rows = [s.execute(f"SELECT count(*) FROM {table}").fetchone()[0]]
        if have and have[0] == indexdef and d.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows[0]:
            return
        cols = s.execute(f"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
                         f"FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped").fetchone()[0]
        d.execute(f"DROP TABLE IF EXISTS {table}")
        d.execute(f"CREATE TABLE {table} ({cols})")
        with s.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as out, \
                d.cursor().copy(f"COPY {table} FROM STDIN (FORMAT binary)") as into:
            for block in out:
                into.write(block)
        d.execute("SET maintenance_work_mem = '2GB'")
        d.execute(indexdef)
        d.execute(f"VACUUM ANALYZE {table}")


def restart(data, settings):
    """Restart the preloaded server with ALTER SYSTEM settings."""
    for k, v in settings.items():
        subprocess.run(["su", "postgres", "-c", f"psql -X -q -h 127.0.0.1 -p {PORTS[data]} -U postgres -d postgres "
                        f"-c \"ALTER SYSTEM SET {k} = '{v}'\""], check=True)
    subprocess.run(["su", "postgres", "-c", f"{PG_CTL} -D {data} -w -l {data}/server.log restart"], check=True,
                   capture_output=True)


PORTS = {}


def pgbench(params, script, db, n, seconds, options):
    env = dict(os.environ, PGOPTIONS=options)
    out = subprocess.run(
        [PGBENCH, "-n", "-h", params["host"], "-p", params["port"], "-U", params["user"], "-f", script,
         "-c", str(n), "-j", str(min(n, 2)), "-T", str(seconds), db],
        env=env, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"^tps = ([0-9.]+)", out, re.M).group(1))


def cache_memory_while(conninfo, run):
    """run() while polling every backend's vector cache memory (MB); the largest seen."""
    peak = [0.0]
    done = threading.Event()

    def poll():
        with psycopg.connect(conninfo, autocommit=True) as c:
            while not done.is_set():
                peak[0] = max(peak[0], c.execute("SELECT (ruvector_memory_detailed()->>'total_mb')::float8").fetchone()[0])
                time.sleep(0.5)

    t = threading.Thread(target=poll)
    t.start()
    try:
        result = run()
    finally:
        done.set()
        t.join()
    return result, peak[0]


def first_queries(conninfo, table, op, options, n=1000):
    """QPS of a new connection's first n queries and of its next n."""
    with psycopg.connect(conninfo, autocommit=True, options=options) as c:
        sql = f"SELECT id FROM {table} ORDER BY v {op} (SELECT v FROM bench_q WHERE i = %s) LIMIT 10"
        qps = []
        for _ in range(2):
            t = time.perf_counter()
            for i in range(n):
                c.execute(sql, (i % 1000,)).fetchall()
            qps.append(n / (time.perf_counter() - t))
    return qps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True, help="benchmark server connection without dbname")
    ap.add_argument("--shared-conninfo", help="a server with ruvector_pg preloaded, without dbname")
    ap.add_argument("--shared-data", help="its data directory (to restart it with another hnsw.shared_cache_size)")
    ap.add_argument("--dataset", default="wordnet384")
    ap.add_argument("--ef", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--clients", default="1,2,8,32")
    ap.add_argument("--only", help="run only the modes whose label contains this")
    args = ap.parse_args()
    base, queries, metric, _, _ = datasets.load(args.dataset, 1000)
    _, op = OPS[metric]
    table = f"bench_{args.dataset}"
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write(f"\\set i random(0, {len(queries) - 1})\n"
                 f"SELECT id FROM {table} ORDER BY v {op} (SELECT v FROM bench_q WHERE i = :i) LIMIT 10;\n")
    script.close()
    counts = [int(x) for x in args.clients.split(",")]
    # (label, conninfo base, database, options, restart settings or None, memory measurable)
    modes = []
    for engine, (db, _, typ) in SQL_ENGINES.items():
        with psycopg.connect(conninfo_for(args.conninfo, db), autocommit=True) as c:
            if not c.execute("SELECT count(*) FROM pg_class WHERE relname = %s", (f"{table}_idx",)).fetchone()[0]:
                print(f"{engine}: no {table}_idx (run benchmark.py --keep first); skipped")
                continue
        load_queries(conninfo_for(args.conninfo, db), typ, queries)
        if engine == "ruvector_pg":
            modes.append(("ruvector_pg, shared cache 256MB (not preloaded: dynamic shared memory)", args.conninfo, db,
                          "-c hnsw.shared_cache_size=256MB", None, True))
            modes.append(("ruvector_pg, cache per backend 64MB (not preloaded)", args.conninfo, db,
                          "-c hnsw.shared_cache_size=0 -c hnsw.vector_cache_size=64MB", None, False))
            modes.append(("ruvector_pg, cache off", args.conninfo, db, "-c hnsw.vector_cache_size=0", None, False))
            if args.shared_conninfo:
                shared = conninfo_for(args.shared_conninfo, db)
                copy_table(conninfo_for(args.conninfo, db), shared, table)
                load_queries(shared, typ, queries)
                PORTS[args.shared_data] = dict(x.split("=", 1) for x in args.shared_conninfo.split())["port"]
                on = {"hnsw.shared_cache_size": "256MB", "ruvector.shared_index_entries": "1024"}
                modes.append(("ruvector_pg, shared cache 256MB (preloaded)", args.shared_conninfo, db, "", on, True))
                modes.append(("ruvector_pg, shared cache, no index registry (meta page read per search)", args.shared_conninfo, db, "",
                              dict(on, **{"ruvector.shared_index_entries": "0"}), True))
                modes.append(("ruvector_pg, cache per backend 64MB (preloaded)", args.shared_conninfo, db, "",
                              dict(on, **{"hnsw.shared_cache_size": "0"}), True))
        else:
            modes.append((engine, args.conninfo, db, "", None, False))
    rows = []
    modes = [m for m in modes if not args.only or args.only in m[0]]
    for label, conninfo, db, options, settings, memory_visible in modes:
        if settings is not None:
            restart(args.shared_data, settings)
        params = dict(x.split("=", 1) for x in conninfo.split())
        opts = f"-c hnsw.ef_search={args.ef} {options}".strip()
        tps, memory = [], None
        for n in counts:
            run = lambda: pgbench(params, script.name, db, n, args.seconds, opts)  # noqa: E731
            if memory_visible and n == max(counts):
                t, memory = cache_memory_while(conninfo_for(conninfo, db), run)
            else:
                t = run()
            tps.append(t)
        cold, warm = first_queries(conninfo_for(conninfo, db), table, op, opts)
        rows.append((label, tps, memory, cold, warm))
        print(f"{label}: {tps} memory {memory} first/next 1,000 {cold:.0f}/{warm:.0f}", flush=True)
    os.unlink(script.name)
    print(f"\n## {args.dataset}: pgbench, ef_search {args.ef}, {args.seconds} s per run, new connections each run\n")
    print("| | " + " | ".join(f"{n} clients" for n in counts) + f" | cache memory, {max(counts)} clients | new connection: first 1,000 / next 1,000 QPS |")
    print("|---|" + "---:|" * (len(counts) + 2))
    for label, tps, memory, cold, warm in rows:
        mem = f"{memory:,.0f} MB" if memory is not None else "(not visible)"
        print(f"| {label} | " + " | ".join(f"{t:,.0f}" for t in tps) + f" | {mem} | {cold:,.0f} / {warm:,.0f} |")


if __name__ == "__main__":
    main()
