#!/usr/bin/env python3
"""HNSW VACUUM benchmark (issue 12): how long VACUUM takes after deleting every
other row, against a fresh build of the rows that remain; how a client
searching meanwhile fares (p50/p99 latency during VACUUM against the same
client just before it, and any error); recall@10 of the vacuumed index against
the fresh build's; then delete everything, vacuum, reinsert, and compare index
sizes. Side by side with pgvector (its own database) when the server has it.

Data: the first --rows rows of a data set of benches/datasets.py (GloVe-50 by
default, queries from its held-out rows); m = 16, ef_construction = 64 unless
given. Run through scripts/bench-vacuum.sh; prints a Markdown table.
"""
import argparse
import multiprocessing
import time

import numpy as np
import psycopg

import datasets
from benchmark import OPS, SQL_ENGINES, conninfo_for, prepare_database
from datasets import binary_copy_data, ground_truth, literal, progress, recall


def searcher(conninfo, settings, sql, texts, ready, stop, out):
    """One client searching in a loop until `stop`: latencies and errors."""
    latencies, errors = [], []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for s in settings:
            conn.execute(s)
        for q in texts[:200]:  # warm: this connection's vector cache filled
            conn.execute(sql, (q,)).fetchall()
        ready.set()
        i = 0
        while not stop.is_set():
            q = texts[i % len(texts)]
            i += 1
            t = time.perf_counter()
            try:
                conn.execute(sql, (q,)).fetchall()
            except psycopg.Error as e:
                errors.append(str(e).strip())
            latencies.append(time.perf_counter() - t)
    out.put((latencies, errors))


def search_while(conninfo, settings, sql, texts, action):
    """Latencies and errors of one client searching while `action()` runs;
    returns (action's seconds, latencies, errors)."""
    ctx = multiprocessing.get_context("fork")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    p = ctx.Process(target=searcher, args=(conninfo, settings, sql, texts, ready, stop, out))
    p.start()
    ready.wait(600)
    t = time.perf_counter()
    action()
    seconds = time.perf_counter() - t
    stop.set()
    latencies, errors = out.get(timeout=600)
    p.join()
    return seconds, latencies, errors


def pct(latencies, q):
    return float(np.percentile(np.array(latencies) * 1000, q)) if latencies else float("nan")


def recall_at(conn, table, op, ids, base, queries, true_dist, efs, cast):
    sql = f"SELECT id FROM {table} ORDER BY v {op} %s::{cast} LIMIT 10"
    texts = [literal(q) for q in queries]
    out = []
    for ef in efs:
        conn.execute(f"SET hnsw.ef_search = {ef}")
        got = [[ids[r[0]] for r in conn.execute(sql, (q,)).fetchall()] for q in texts]
        out.append(recall(base, queries, got, true_dist))
    return out


def bench_engine(args, engine, base, queries, metric, kept, kept_base, true_dist):
    db, _, cast = SQL_ENGINES[engine]
    conninfo = conninfo_for(args.conninfo, db)
    ops, op = OPS[metric]
    dims = base.shape[1]
    pos = {int(i): k for k, i in enumerate(kept)}  # table id -> row of kept_base
    with_ = f"WITH (m = {args.m}, ef_construction = {args.efc})"
    sql = f"SELECT id FROM vac_items ORDER BY v {op} %s::{cast} LIMIT 10"
    texts = [literal(q) for q in queries]
    settings = ["SET enable_seqscan = off", f"SET hnsw.ef_search = {args.search_ef}"]
    r = {"engine": engine}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        for t in ("vac_items", "vac_fresh"):
            conn.execute(f"DROP TABLE IF EXISTS {t}")
            conn.execute(f"CREATE TABLE {t} (id int, v {cast}({dims}))")
        with conn.cursor().copy("COPY vac_items (id, v) FROM STDIN WITH (FORMAT binary)") as cp:
            cp.write(binary_copy_data(base))
        conn.execute("INSERT INTO vac_fresh SELECT * FROM vac_items WHERE id % 2 = 0")
        conn.execute("VACUUM ANALYZE vac_items")
        conn.execute("VACUUM ANALYZE vac_fresh")
        progress(f"{engine}: building on {len(base):,} rows")
        conn.execute(f"CREATE INDEX vac_items_idx ON vac_items USING hnsw (v {ops}) {with_}")
        r["size_built"] = conn.execute("SELECT pg_relation_size('vac_items_idx')").fetchone()[0]
        progress(f"{engine}: fresh build on the {len(kept):,} rows that stay")
        t = time.perf_counter()
        conn.execute(f"CREATE INDEX vac_fresh_idx ON vac_fresh USING hnsw (v {ops}) {with_}")
        r["fresh_build_s"] = time.perf_counter() - t
        conn.execute("DELETE FROM vac_items WHERE id % 2 = 1")
        # the same client, for as long as VACUUM will take, before it starts
        _, idle, _ = search_while(conninfo, settings, sql, texts, lambda: time.sleep(args.idle_seconds))
        progress(f"{engine}: VACUUM after deleting {len(base) - len(kept):,} rows, one client searching")

        def vacuum():
            conn.execute(f"SET maintenance_work_mem = '{args.vacuum_work_mem}'")
            conn.execute("VACUUM vac_items")

        r["vacuum_s"], during, errors = search_while(conninfo, settings, sql, texts, vacuum)
        r["idle_p50"], r["idle_p99"] = pct(idle, 50), pct(idle, 99)
        r["during_p50"], r["during_p99"] = pct(during, 50), pct(during, 99)
        r["during_queries"], r["errors"] = len(during), errors[:3]
        r["error_count"] = len(errors)
        if engine == "ruvector_pg":
            r["check"] = conn.execute("SELECT ruvector_index_check('vac_items_idx')").fetchone()[0]
        r["recall_vacuumed"] = recall_at(conn, "vac_items", op, pos, kept_base, queries, true_dist, args.efs, cast)
        r["recall_fresh"] = recall_at(conn, "vac_fresh", op, pos, kept_base, queries, true_dist, args.efs, cast)
        r["size_vacuumed"] = conn.execute("SELECT pg_relation_size('vac_items_idx')").fetchone()[0]
        if args.reinsert:
            conn.execute("CREATE TABLE vac_saved AS SELECT * FROM vac_items ORDER BY random()")
            conn.execute("DELETE FROM vac_items")
            conn.execute("VACUUM vac_items")
            conn.execute("INSERT INTO vac_items SELECT * FROM vac_saved")
            conn.execute("DROP TABLE vac_saved")
            r["size_reinserted"] = conn.execute("SELECT pg_relation_size('vac_items_idx')").fetchone()[0]
            r["recall_reinserted"] = recall_at(
                conn, "vac_items", op, pos, kept_base, queries, true_dist, args.efs, cast
            )
        for t in ("vac_items", "vac_fresh"):
            conn.execute(f"DROP TABLE {t}")
    return r


def markdown(args, runs, n, dims):
    mib = 2**20
    out = [
        f"## {args.dataset}: {n:,} rows x {dims}, every other row deleted, m {args.m}, "
        f"ef_construction {args.efc}; one client searching at ef_search {args.search_ef}; "
        f"VACUUM with maintenance_work_mem {args.vacuum_work_mem}",
        "",
        "| | " + " | ".join(r["engine"] for r in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]

    def row(label, f):
        out.append(f"| {label} | " + " | ".join(f(r) for r in runs) + " |")

    row("VACUUM (s)", lambda r: f"{r['vacuum_s']:.1f}")
    row("fresh build of the rows that stay (s)", lambda r: f"{r['fresh_build_s']:.1f}")
    row("VACUUM ÷ fresh build", lambda r: f"{r['vacuum_s'] / r['fresh_build_s']:.2f}")
    row("search p50 / p99 idle (ms)", lambda r: f"{r['idle_p50']:.2f} / {r['idle_p99']:.2f}")
    row("search p50 / p99 during VACUUM (ms)", lambda r: f"{r['during_p50']:.2f} / {r['during_p99']:.2f}")
    row("p99 during ÷ idle", lambda r: f"{r['during_p99'] / r['idle_p99']:.2f}")
    row("queries during VACUUM, errors", lambda r: f"{r['during_queries']:,}, {r['error_count']}")
    for i, ef in enumerate(args.efs):
        row(
            f"recall@10 at ef {ef}: vacuumed / fresh",
            lambda r, i=i: f"{r['recall_vacuumed'][i]:.3f} / {r['recall_fresh'][i]:.3f}",
        )
    row("index size built / vacuumed (MiB)", lambda r: f"{r['size_built'] / mib:.1f} / {r['size_vacuumed'] / mib:.1f}")
    if args.reinsert:
        row("after delete-all + VACUUM + reinsert (MiB)", lambda r: f"{r['size_reinserted'] / mib:.1f}")
    out.append("")
    for r in runs:
        if r.get("check"):
            out.append(f"{r['engine']}: ruvector_index_check after VACUUM: {r['check']}")
        for e in r["errors"]:
            out.append(f"{r['engine']} error during VACUUM: {e}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True, help="server connection without dbname")
    ap.add_argument("--dataset", default="glove", choices=sorted(datasets.LOADERS))
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", default="40,80")
    ap.add_argument("--search-ef", type=int, default=40, help="ef_search of the client searching during VACUUM")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=64)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--engines", default="ruvector_pg,pgvector")
    ap.add_argument("--reinsert", action="store_true", help="also delete all, vacuum and reinsert")
    ap.add_argument("--vacuum-work-mem", default="2GB", help="maintenance_work_mem of the VACUUM (builds: 2GB)")
    args = ap.parse_args()
    args.efs = [int(e) for e in args.ef.split(",")]
    base, queries, metric, _, _ = datasets.load(args.dataset, args.queries)
    base = base[: args.rows]
    kept = np.arange(0, len(base), 2)  # the odd ids are deleted
    kept_base = base[kept]
    _, true_dist = ground_truth(kept_base, queries)
    runs = []
    for engine in args.engines.split(","):
        if not prepare_database(args.conninfo, engine):
            progress(f"{engine}: not installed on this server, skipped")
            continue
        runs.append(bench_engine(args, engine, base, queries, metric, kept, kept_base, true_dist))
    print(markdown(args, runs, len(base), base.shape[1]))


if __name__ == "__main__":
    main()
