#!/usr/bin/env python3
"""The benchmark command: ruvector_pg next to pgvector, hnswlib and faiss, in one run.

For each data set (benches/datasets.py) and each access method (hnsw,
ivfflat) it measures, per engine:
- load: rows/s of a binary COPY into an unindexed table (both extensions share
  the binary format);
- build: seconds, peak build memory (how far the machine's used memory,
  MemTotal - MemAvailable, rose above its level before the build, sampled
  every 20 ms: leader, parallel workers, build threads, shared memory
  segments and the new index pages in shared buffers alike), index size
  (pg_relation_size);
- a sweep of hnsw.ef_search / ivfflat.probes: recall@10, QPS with one client,
  p50 and p99 latency;
- at the smallest setting that reaches recall 0.95: milliseconds per query
  inside the server (a PL/pgSQL loop over the queries, so without the
  client's, the socket's and the text literal's share, which is the same
  for both engines and caps what one client's QPS ratio can show), and QPS
  with N concurrent clients (one process and connection each, warmed
  first);
- single-row INSERTs into the indexed table (--inserts held-out rows, each
  its own transaction, synchronous_commit off), rows/s of the fastest of
  three passes over a third of them each, then deleted;
- with --builds N, the index built N - 1 more times and the sweep's recall
  measured on each: recall per setting as the lowest-highest over the N
  builds (one build is one draw: pgvector's levels are random per build,
  ours seeded; --quick builds twice).
pgvector runs when the server has its `vector` extension (in its own
database: both extensions define hnsw and ivfflat); hnswlib (hnsw) and faiss
IndexIVFFlat (ivfflat) run in-process as references.

Writes results.json, results.md and one <dataset>.png (recall against QPS)
into --out. --quick runs a small synthetic set with short sweeps and then
checks the output is sane (every measurement present, recall in range, the
exact settings exact, the plans using the index, the plots real PNGs); it
never checks a timing.

Run through scripts/benchmark.sh, which starts the benchmark cluster.
"""
import argparse
import datetime
import json
import multiprocessing
import os
import platform
import sys
import threading
import time

import numpy as np
import psycopg

import datasets
import filtered
from datasets import binary_copy_data, literal, progress, recall

K = 10
SQL_ENGINES = {
    # engine: (database, extension, type name)
    "ruvector_pg": ("ruvector_bench", "ruvector_pg", "ruvector"),
    "pgvector": ("pgvector_bench", "vector", "vector"),
}
OPS = {"l2": ("vector_l2_ops", "<->"), "cosine": ("vector_cosine_ops", "<=>")}
RECALL_TARGET = 0.95


def conninfo_for(base_conninfo, db):
    return f"{base_conninfo} dbname={db}"


def prepare_database(base_conninfo, engine):
    """Creates the engine's database and extension; False when the extension is not installed."""
    db, ext, _ = SQL_ENGINES[engine]
    with psycopg.connect(base_conninfo, autocommit=True) as conn:
        if not conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = %s", (ext,)).fetchone()[0]:
            return False
        if not conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (db,)).fetchone()[0]:
            conn.execute(f"CREATE DATABASE {db}")
    with psycopg.connect(conninfo_for(base_conninfo, db), autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    return True


class BuildMonitor:
    """Samples the machine's used memory every 20 ms and prints the build's
    progress every 15 s."""

    def __init__(self, conninfo, label):
        self.conninfo, self.label = conninfo, label
        self.baseline = self.used_memory()
        self.peak = self.baseline
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def used_memory(self):
        """The machine's used memory: MemTotal - MemAvailable. Unlike a
        process's RssAnon it counts shared memory too: pgvector's parallel
        build keeps its graph in a dynamic shared memory segment."""
        info = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, value = line.split(":", 1)
                info[key] = int(value.split()[0]) * 1024
        return info["MemTotal"] - info["MemAvailable"]

    def run(self):
        started = last = time.perf_counter()
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not self.stop.wait(0.02):
                self.peak = max(self.peak, self.used_memory())
                if time.perf_counter() - last >= 15:
                    last = time.perf_counter()
                    row = conn.execute(
                        "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index LIMIT 1"
                    ).fetchone()
                    where = f"{row[0]}, {row[1]:,} of {row[2]:,} tuples" if row else "finishing"
                    progress(f"{self.label}: building, {last - started:.0f} s ({where})")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def peak_mb(self):
        return max(0, self.peak - self.baseline) / 2**20


def single_row_inserts(conn, table, typ, texts, keep):
    """Rows per second of single-row INSERTs into the indexed table, each
    its own transaction, with synchronous_commit off so that the index's
    work is measured, not the disk's flush (with it on, every commit waits
    for a WAL flush of about a millisecond here, the same for both
    engines). The rows (held-out vectors, negative ids) are deleted after;
    when the table is kept, VACUUM removes them from the index too."""
    conn.execute("SET synchronous_commit = off")
    # three passes over a third of the rows each, the fastest reported: a
    # pass of a few hundred statements is a fraction of a second, and one
    # stall of this shared machine moved single-pass figures by half
    rates = []
    for p in range(3):
        part = list(enumerate(texts))[p::3]
        t = time.perf_counter()
        for i, q in part:
            conn.execute(f"INSERT INTO {table} (id, v) VALUES (%s, %s::{typ})", (-1 - i, q))
        rates.append(len(part) / (time.perf_counter() - t))
    rate = max(rates)
    conn.execute("RESET synchronous_commit")
    conn.execute(f"DELETE FROM {table} WHERE id < 0")
    if keep:
        conn.execute(f"VACUUM {table}")
    return rate


def backend_ms_per_query(conn, table, qtable, op, warm=200):
    """Milliseconds per query inside the server: a DO block runs `ORDER BY v
    <op> q LIMIT 10` for each vector of `qtable` (`warm` of them first,
    untimed), timing the loop with clock_timestamp(). No client, socket or
    text literal is in the figure, so it is the engine's own time per query
    (executor and heap included), under the session's current settings,
    with JIT off for the block (the loop's own query would otherwise be
    compiled inside the timed part: 0.02 ms per query on 1,000 queries)."""
    notices = []
    handler = lambda d: notices.append(d.message_primary)  # noqa: E731
    conn.add_notice_handler(handler)
    knn = f"PERFORM (SELECT count(*) FROM (SELECT 1 FROM {table} ORDER BY v {op} q.v LIMIT {K}) s);"
    conn.execute(f"""DO $$
        DECLARE q record; t0 timestamptz; n int;
        BEGIN
            -- no JIT: with enable_seqscan off this loop's own query costs
            -- past jit_above_cost, and its compilation is nobody's search
            PERFORM set_config('jit', 'off', true);
            FOR q IN SELECT v FROM {qtable} ORDER BY i LIMIT {warm} LOOP {knn} END LOOP;
            SELECT count(*) INTO n FROM {qtable};
            t0 := clock_timestamp();
            FOR q IN SELECT v FROM {qtable} ORDER BY i LOOP {knn} END LOOP;
            RAISE NOTICE '%', extract(epoch FROM clock_timestamp() - t0) * 1e3 / n;
        END $$""")
    conn.remove_notice_handler(handler)
    return float(notices[-1])


def query_table(conn, qtable, typ, texts):
    """The queries as rows (i, v) of the temporary table `qtable`, for
    `backend_ms_per_query`."""
    conn.execute(f"DROP TABLE IF EXISTS {qtable}")
    conn.execute(f"CREATE TEMP TABLE {qtable} (i int, v {typ})")
    with conn.cursor().copy(f"COPY {qtable} (i, v) FROM STDIN") as cp:
        for i, q in enumerate(texts):
            cp.write_row((i, q))


def timed_queries(conn, sql, texts):
    """Runs sql for every query text; returns (ids per query, seconds per query)."""
    got, times = [], []
    for q in texts:
        t = time.perf_counter()
        rows = conn.execute(sql, (q,)).fetchall()
        times.append(time.perf_counter() - t)
        got.append([r[0] for r in rows])
    return got, times


# Every benchmark session measures the index: the planner may prefer a
# sequential scan at settings that probe most of the index (pgvector's and
# our cost models both do), and the plan is checked at every setting.
SESSION_SETTINGS = ["SET enable_seqscan = off"]


def client_worker(conninfo, settings, sql, texts, warm, barrier, out):
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for s in SESSION_SETTINGS + settings:
            conn.execute(s)
        for q in texts[:warm]:
            conn.execute(sql, (q,)).fetchall()
        timed = texts[: max(50, len(texts) - warm)] if len(texts) > warm else texts
        barrier.wait()
        t = time.perf_counter()
        for q in timed:
            conn.execute(sql, (q,)).fetchall()
        out.put((len(timed), time.perf_counter() - t))


def concurrent_qps(conninfo, settings, sql, texts, clients, warm=200):
    """QPS of `clients` processes, each with its own connection and a share of
    the queries (at least 50 each, cycling), each connection warmed first
    with `warm` queries (its vector cache filled as a long-lived connection's
    is), started together."""
    ctx = multiprocessing.get_context("fork")
    per = max(50, len(texts) // clients)
    barrier, out = ctx.Barrier(clients), ctx.Queue()
    procs = []
    for c in range(clients):
        share = [texts[(c * per + i) % len(texts)] for i in range(max(per, warm))]
        p = ctx.Process(target=client_worker, args=(conninfo, settings, sql, share, warm, barrier, out))
        p.start()
        procs.append(p)
    results = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    return sum(n for n, _ in results) / max(t for _, t in results)


def pick_setting(sweep):
    """The smallest setting that reaches the recall target (else the best)."""
    for point in sweep:
        if point["recall"] >= RECALL_TARGET:
            return point
    return max(sweep, key=lambda p: p["recall"])


def bench_sql(args, engine, ds, base, queries, metric, true_dist, copy_data):
    """Load, then for each access method: build, sweep, concurrent clients."""
    db, _, typ = SQL_ENGINES[engine]
    conninfo = conninfo_for(args.conninfo, db)
    opclass, op = OPS[metric]
    loaded_as = typ
    if args.halfvec:
        # the column holds binary16 values in both engines (pgvector's
        # `halfvec` and its opclasses): loaded as f32, then converted
        typ, opclass = "halfvec", opclass.replace("vector_", "halfvec_")
    table = f"bench_{ds}"
    texts = [literal(q) for q in queries]
    sql = f"SELECT id FROM {table} ORDER BY v {op} %s::{typ} LIMIT {K}"
    runs = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id int4, v {loaded_as}({base.shape[1]}))")
        if args.storage != "default":
            # both engines alike: `main` keeps vectors of up to about 8 kB in the row (docs/tuning.md)
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN v SET STORAGE {args.storage.upper()}")
        progress(f"{ds}/{engine}: loading {len(base):,} rows (binary COPY, {len(copy_data) / 2**20:.0f} MiB)")
        # each extension's load starts from a checkpoint, so neither pays for the other's dirty pages
        conn.execute("CHECKPOINT")
        t = time.perf_counter()
        with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN (FORMAT binary)") as cp:
            step = 1 << 24
            for s in range(0, len(copy_data), step):
                cp.write(copy_data[s : s + step])
        load_rows_s = len(base) / (time.perf_counter() - t)
        if typ != loaded_as:
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN v TYPE {typ}({base.shape[1]})")
        conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("SET maintenance_work_mem = '2GB'")
        for s in SESSION_SETTINGS:
            conn.execute(s)
        query_table(conn, "bench_queries", typ, texts)
        for am in args.methods:
            if am == "hnsw":
                with_clause, knob, values = f"m = {args.m}, ef_construction = {args.ef_construction}", "hnsw.ef_search", args.ef
            else:
                lists = max(1, len(base) // 1000)
                with_clause, knob, values = f"lists = {lists}", "ivfflat.probes", [p for p in args.probes if p <= lists]
                if args.ivfflat_options and engine == "ruvector_pg":
                    with_clause += ", " + args.ivfflat_options
            label = f"{ds}/{engine}/{am}"
            create_index = f"CREATE INDEX {table}_idx ON {table} USING {am} (v {opclass}) WITH ({with_clause})"
            progress(f"{label}: building ({with_clause})")
            with BuildMonitor(conninfo, label) as mon:
                t = time.perf_counter()
                conn.execute(create_index)
                build_s = time.perf_counter() - t
            size = conn.execute(f"SELECT pg_relation_size('{table}_idx')").fetchone()[0]
            timed_queries(conn, sql, texts)  # untimed: index and table into shared buffers
            sweep = []
            for v in values:
                conn.execute(f"SET {knob} = {v}")
                plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}", (texts[0],)).fetchall())
                if f"Index Scan using {table}_idx" not in plan:
                    raise SystemExit(f"{label}: the planner did not use the index at {knob} {v}:\n{plan}")
                got, times = timed_queries(conn, sql, texts)
                sweep.append(point(knob, v, base, queries, got, times, true_dist))
                progress(f"{label}: {knob} {v}: recall {sweep[-1]['recall']:.3f}, {sweep[-1]['qps']:.0f} QPS")
            chosen = pick_setting(sweep)
            conn.execute(f"SET {knob} = {chosen['value']}")
            backend_ms = backend_ms_per_query(conn, table, "bench_queries", op)
            progress(f"{label}: {backend_ms:.3f} ms per query inside the server at {knob} {chosen['value']}")
            clients = []
            for n in args.clients:
                qps = concurrent_qps(conninfo, [f"SET {knob} = {chosen['value']}"], sql, texts, n)
                clients.append({"clients": n, "value": chosen["value"], "qps": qps})
                progress(f"{label}: {n} clients at {knob} {chosen['value']}: {qps:.0f} QPS")
            keep = args.keep and am == args.methods[-1]
            insert_rows_s = single_row_inserts(conn, table, typ, texts[: args.inserts], keep)
            progress(f"{label}: single-row INSERT {insert_rows_s:.0f} rows/s")
            builds = [{"build_s": build_s, "recall": [p["recall"] for p in sweep]}]
            for b in range(1, args.builds):
                # the same rows indexed again: how far recall at each setting
                # moves between builds (pgvector's builds draw their levels at
                # random; ours are seeded, so threads' interleaving moves it)
                conn.execute(f"DROP INDEX {table}_idx")
                t = time.perf_counter()
                conn.execute(create_index)
                again = {"build_s": time.perf_counter() - t, "recall": []}
                for v in values:
                    conn.execute(f"SET {knob} = {v}")
                    got, times = timed_queries(conn, sql, texts)
                    again["recall"].append(point(knob, v, base, queries, got, times, true_dist)["recall"])
                builds.append(again)
                progress(f"{label}: build {b + 1} of {args.builds}: recall " + " / ".join(f"{r:.3f}" for r in again["recall"]))
            runs.append(
                {
                    "engine": engine,
                    "index": am,
                    "options": with_clause,
                    "load_rows_s": load_rows_s,
                    "build_s": build_s,
                    "build_peak_mb": mon.peak_mb,
                    "index_mb": size / 2**20,
                    "plan": plan.splitlines()[1].strip() if len(plan.splitlines()) > 1 else plan,
                    "sweep": sweep,
                    "clients": clients,
                    "backend": {"value": chosen["value"], "ms": backend_ms},
                    "insert_rows_s": insert_rows_s,
                    "builds": builds,
                }
            )
            if not keep:
                conn.execute(f"DROP INDEX {table}_idx")
        if not args.keep:
            conn.execute(f"DROP TABLE {table}")
    return runs


def bench_hnswlib(args, base, queries, metric, true_dist):
    import hnswlib

    idx = hnswlib.Index(space="l2" if metric == "l2" else "cosine", dim=base.shape[1])
    idx.init_index(max_elements=len(base), M=args.m, ef_construction=args.ef_construction, random_seed=1)
    idx.set_num_threads(2)
    t = time.perf_counter()
    idx.add_items(base, np.arange(len(base)))
    build_s = time.perf_counter() - t
    idx.set_num_threads(1)
    sweep = []
    for ef in args.ef:
        idx.set_ef(max(ef, K))
        got, times = [], []
        for q in queries:
            t = time.perf_counter()
            got.append(idx.knn_query(q, k=K)[0][0])
            times.append(time.perf_counter() - t)
        sweep.append(point("ef_search", ef, base, queries, got, times, true_dist))
    return {"engine": "hnswlib", "index": "hnsw", "build_s": build_s, "sweep": sweep}


def bench_faiss(args, base, queries, true_dist):
    import faiss

    lists = max(1, len(base) // 1000)
    faiss.omp_set_num_threads(2)
    t = time.perf_counter()
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(base.shape[1]), base.shape[1], lists)
    index.train(base)
    index.add(base)
    build_s = time.perf_counter() - t
    faiss.omp_set_num_threads(1)
    sweep = []
    for p in [p for p in args.probes if p <= lists]:
        index.nprobe = p
        got, times = [], []
        for q in queries:
            t = time.perf_counter()
            got.append(index.search(q[None, :], K)[1][0])
            times.append(time.perf_counter() - t)
        sweep.append(point("probes", p, base, queries, got, times, true_dist))
    return {"engine": "faiss", "index": "ivfflat", "build_s": build_s, "sweep": sweep}


def point(knob, value, base, queries, got, times, true_dist):
    return {
        "setting": knob,
        "value": value,
        "recall": recall(base, queries, got, true_dist),
        "qps": len(times) / sum(times),
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p99_ms": float(np.percentile(times, 99) * 1e3),
    }


def best_qps_at_target(run, target=RECALL_TARGET):
    """QPS at recall `target` on the run's recall-QPS curve: between the last
    setting below the target and the first at or above it, log(QPS) is
    interpolated linearly in recall (so a setting that just misses the target
    does not make a run look several times slower); None if no setting
    reaches it. Where the first setting already reaches it, the best QPS of
    the settings that do."""
    pts = sorted(run["sweep"], key=lambda p: p["value"])
    for i, p in enumerate(pts):
        if p["recall"] >= target:
            if i == 0 or pts[i - 1]["recall"] >= p["recall"]:
                return max(q["qps"] for q in pts if q["recall"] >= target)
            lo = pts[i - 1]
            f = (target - lo["recall"]) / (p["recall"] - lo["recall"])
            return float(np.exp(np.log(lo["qps"]) + f * (np.log(p["qps"]) - np.log(lo["qps"]))))
    return None


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "–"


def markdown(result):
    out = [f"# Benchmark, {result['date']}", "", f"Machine: {result['machine']}. Command: `{result['command']}`.", ""]
    out.append(
        f"hnsw m = {result['settings']['m']}, ef_construction = {result['settings']['ef_construction']}; "
        "ivfflat lists = rows / 1000; one client unless stated; recall@10; "
        f"'QPS @ {RECALL_TARGET}' is one client's QPS at recall {RECALL_TARGET}, interpolated (log QPS, linear in recall) between the settings on either side; "
        "peak build memory is the most the machine's used memory (MemTotal - MemAvailable) rose during the build, index pages in shared buffers included."
        + (" The column is `halfvec` (binary16) in both engines, indexed with the halfvec opclasses." if result["settings"].get("halfvec") else "")
    )
    out += headline(result)
    for ds, d in result["datasets"].items():
        runs = d["runs"]
        out += ["", f"## {ds}: {d['rows']:,} x {d['dims']}, {d['queries']} queries, {d['metric']}", ""]
        out += ["| engine | index | load rows/s | build s | peak build MiB | index MiB | QPS @ 0.95 | INSERT rows/s |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in runs:
            qps = best_qps_at_target(r)
            out.append(
                f"| {r['engine']} | {r['index']} | {fmt(r.get('load_rows_s'), '.0f')} | {r['build_s']:.2f} | "
                f"{fmt(r.get('build_peak_mb'), '.0f')} | {fmt(r.get('index_mb'), '.1f')} | {fmt(qps, '.0f')} | "
                f"{fmt(r.get('insert_rows_s'), '.0f')} |"
            )
        for am in ("hnsw", "ivfflat"):
            ours = next((r for r in runs if r["engine"] == "ruvector_pg" and r["index"] == am), None)
            if not ours:
                continue
            others = [r for r in runs if r["index"] == am and r is not ours]
            out += ["", f"### {am}: sweep", ""]
            head = "| " + ours["sweep"][0]["setting"] + " | " + " | ".join(f"{r['engine']} recall | QPS | p50 ms | p99 ms" for r in [ours] + others) + " |"
            out += [head, "|" + "---:|" * (1 + 4 * (1 + len(others)))]
            for i, p in enumerate(ours["sweep"]):
                cells = [str(p["value"])]
                for r in [ours] + others:
                    q = r["sweep"][i] if i < len(r["sweep"]) else None
                    cells += [f"{q['recall']:.3f}", f"{q['qps']:.0f}", f"{q['p50_ms']:.2f}", f"{q['p99_ms']:.2f}"] if q else ["–"] * 4
                out.append("| " + " | ".join(cells) + " |")
            ratios = [f"- ruvector_pg against {r['engine']}: QPS @ 0.95 {ratio(best_qps_at_target(ours), best_qps_at_target(r))}, "
                      f"build time {ratio(ours['build_s'], r['build_s'])}"
                      + (f", single-row INSERT rows/s {ratio(ours.get('insert_rows_s'), r.get('insert_rows_s'))}" if r.get("insert_rows_s") else "")
                      for r in others]
            out += [""] + ratios
            rebuilt = [r for r in [ours] + others if len(r.get("builds", [])) > 1]
            if rebuilt:
                out += ["", f"### {am}: recall over repeated builds (lowest–highest of each engine's builds)", ""]
                out += ["| " + ours["sweep"][0]["setting"] + " | " + " | ".join(f"{r['engine']} ({len(r['builds'])} builds)" for r in rebuilt) + " |",
                        "|---:|" + "---:|" * len(rebuilt)]
                for i, p in enumerate(ours["sweep"]):
                    cells = [str(p["value"])]
                    for r in rebuilt:
                        got = [b["recall"][i] for b in r["builds"] if i < len(b["recall"])]
                        cells.append(f"{min(got):.4f}–{max(got):.4f}" if got else "–")
                    out.append("| " + " | ".join(cells) + " |")
                out.append("| build s | " + " | ".join(
                    f"{min(b['build_s'] for b in r['builds']):.2f}–{max(b['build_s'] for b in r['builds']):.2f}" for r in rebuilt) + " |")
            sql_runs = [r for r in [ours] + others if r.get("clients")]
            if sql_runs:
                ns = [c["clients"] for c in ours["clients"]]
                out += ["", f"### {am}: concurrent clients (QPS at the setting reaching {RECALL_TARGET})", ""]
                out += ["| engine | setting | " + " | ".join(f"{n} clients" for n in ns) + " |", "|---|---:|" + "---:|" * len(ns)]
                for r in sql_runs:
                    out.append(f"| {r['engine']} | {r['clients'][0]['value']} | " + " | ".join(f"{c['qps']:.0f}" for c in r["clients"]) + " |")
        out += ["", f"![{ds}]({ds}.png)"]
    return "\n".join(out) + "\n"


def headline(result):
    """One line per data set and access method: QPS at recall 0.95 and build
    time, ours and pgvector's (when it ran) and the in-process reference's."""
    out = ["", "## Headline", "", "| data set | index | QPS @ 0.95: ruvector_pg | pgvector | ratio | reference | "
           "build s: ruvector_pg | pgvector | ratio | reference |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for ds, d in result["datasets"].items():
        for am, ref in (("hnsw", "hnswlib"), ("ivfflat", "faiss")):
            runs = {r["engine"]: r for r in d["runs"] if r["index"] == am}
            ours, pgv, other = runs.get("ruvector_pg"), runs.get("pgvector"), runs.get(ref)
            if not ours:
                continue
            q = {k: best_qps_at_target(r) if r else None for k, r in (("o", ours), ("p", pgv), ("r", other))}
            b = {k: r["build_s"] if r else None for k, r in (("o", ours), ("p", pgv), ("r", other))}
            out.append(
                f"| {ds} ({d['rows']:,} × {d['dims']}) | {am} | {fmt(q['o'], '.0f')} | {fmt(q['p'], '.0f')} | {ratio(q['o'], q['p'])} | "
                f"{ref} {fmt(q['r'], '.0f')} | {b['o']:.1f} | {fmt(b['p'], '.1f')} | {ratio(b['o'], b['p'])} | {ref} {fmt(b['r'], '.1f')} |"
            )
    out += ["", "Single-row INSERT into the indexed table (each row its own transaction, synchronous_commit off; the fastest of three passes over a third of the rows):", "",
            "| data set | index | rows/s: ruvector_pg | pgvector | ratio |", "|---|---|---:|---:|---:|"]
    for ds, d in result["datasets"].items():
        for am in ("hnsw", "ivfflat"):
            runs = {r["engine"]: r for r in d["runs"] if r["index"] == am}
            ours, pgv = runs.get("ruvector_pg"), runs.get("pgvector")
            if not ours or not ours.get("insert_rows_s"):
                continue
            p = pgv.get("insert_rows_s") if pgv else None
            out.append(f"| {ds} | {am} | {ours['insert_rows_s']:.0f} | {fmt(p, '.0f')} | {ratio(ours['insert_rows_s'], p)} |")
    out += ["", f"Inside the server, ms per query at each engine's setting reaching {RECALL_TARGET} (the most recall if none does; "
            "a PL/pgSQL loop over the queries: no client, socket or text literal; ratio = pgvector's ms / ours):", "",
            "| data set | index | setting: ruvector_pg | pgvector | ms: ruvector_pg | pgvector | ratio |", "|---|---|---:|---:|---:|---:|---:|"]
    for ds, d in result["datasets"].items():
        for am in ("hnsw", "ivfflat"):
            runs = {r["engine"]: r for r in d["runs"] if r["index"] == am}
            ours, pgv = (runs.get(e, {}).get("backend") for e in ("ruvector_pg", "pgvector"))
            if not ours:
                continue
            out.append(f"| {ds} | {am} | {ours['value']} | {pgv['value'] if pgv else '–'} | {ours['ms']:.3f} | "
                       f"{fmt(pgv['ms'] if pgv else None, '.3f')} | {ratio(pgv['ms'] if pgv else None, ours['ms'])} |")
    return out


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def plot(result, outdir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for ds, d in result["datasets"].items():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, am in zip(axes, ("hnsw", "ivfflat")):
            for r in [r for r in d["runs"] if r["index"] == am]:
                xs = [p["recall"] for p in r["sweep"]]
                ys = [p["qps"] for p in r["sweep"]]
                ax.plot(xs, ys, marker="o", label=r["engine"])
                for p in r["sweep"]:
                    ax.annotate(str(p["value"]), (p["recall"], p["qps"]), fontsize=7, textcoords="offset points", xytext=(3, 3))
            ax.set_yscale("log")
            ax.set_xlabel("recall@10")
            ax.set_ylabel("queries per second (one client)")
            ax.set_title(f"{ds}: {am}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"{ds}: {d['rows']:,} x {d['dims']} ({d['metric']}), {result['date']}")
        fig.tight_layout()
        path = os.path.join(outdir, f"{ds}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def check_quick(result, outdir):
    """--quick: the output is complete and sane (never a timing)."""
    problems = []
    for ds, d in result["datasets"].items():
        engines = {(r["engine"], r["index"]) for r in d["runs"]}
        want = {("ruvector_pg", "hnsw"), ("ruvector_pg", "ivfflat"), ("hnswlib", "hnsw"), ("faiss", "ivfflat")}
        if result["pgvector"]:
            want |= {("pgvector", "hnsw"), ("pgvector", "ivfflat")}
        if engines != want:
            problems.append(f"{ds}: runs {sorted(engines)}, expected {sorted(want)}")
        for r in d["runs"]:
            name = f"{ds}/{r['engine']}/{r['index']}"
            if len(r["sweep"]) < 2:
                problems.append(f"{name}: {len(r['sweep'])} sweep points")
            for p in r["sweep"]:
                if not (0 <= p["recall"] <= 1 and p["qps"] > 0 and 0 < p["p50_ms"] <= p["p99_ms"]):
                    problems.append(f"{name}: implausible point {p}")
            if r["build_s"] <= 0:
                problems.append(f"{name}: build time {r['build_s']}")
            if r["engine"] in SQL_ENGINES:
                if not r.get("insert_rows_s", 0) > 0:
                    problems.append(f"{name}: single-row INSERT rows/s {r.get('insert_rows_s')}")
                if not (r["index_mb"] > 0 and r["load_rows_s"] > 0 and r["build_peak_mb"] >= 0):
                    problems.append(f"{name}: size/load/memory {r['index_mb']}/{r['load_rows_s']}/{r['build_peak_mb']}")
                if f"using bench_{ds}_idx" not in r["plan"]:
                    problems.append(f"{name}: plan {r['plan']}")
                if [c["clients"] for c in r["clients"]] != result["settings"]["clients"] or min(c["qps"] for c in r["clients"]) <= 0:
                    problems.append(f"{name}: client runs {r['clients']}")
                if not r["backend"]["ms"] > 0:
                    problems.append(f"{name}: in-server ms per query {r['backend']}")
                builds = r.get("builds", [])
                if len(builds) != result["settings"]["builds"]:
                    problems.append(f"{name}: {len(builds)} builds, expected {result['settings']['builds']}")
                elif builds[0]["recall"] != [p["recall"] for p in r["sweep"]]:
                    problems.append(f"{name}: the first build's recall is not the sweep's")
                for b in builds:
                    if not (b["build_s"] > 0 and len(b["recall"]) == len(r["sweep"]) and all(0 <= x <= 1 for x in b["recall"])):
                        problems.append(f"{name}: implausible build {b}")
                    # the same rows indexed again: no build's recall is far
                    # from the first's (a build that lost rows would be)
                    elif max(abs(x - p["recall"]) for x, p in zip(b["recall"], r["sweep"])) > 0.1:
                        problems.append(f"{name}: a rebuild's recall {b['recall']} is far from the first build's")
            last = r["sweep"][-1]
            lists = max(1, d["rows"] // 1000)
            # probing every list is an exact search; ef_search 200 on 5,000 clustered rows is nearly one
            if r["index"] == "ivfflat" and last["value"] == lists and last["recall"] < 0.999:
                problems.append(f"{name}: recall {last['recall']:.3f} with every list probed")
            if r["index"] == "hnsw" and last["recall"] < 0.95:
                problems.append(f"{name}: recall {last['recall']:.3f} at ef_search {last['value']}")
            if r["engine"] != "faiss" and r["sweep"][-1]["recall"] + 0.02 < r["sweep"][0]["recall"]:
                problems.append(f"{name}: recall falls as the setting grows: {[p['recall'] for p in r['sweep']]}")
        png = os.path.join(outdir, f"{ds}.png")
        with open(png, "rb") as f:
            head = f.read(8)
        if head != b"\x89PNG\r\n\x1a\n" or os.path.getsize(png) < 10_000:
            problems.append(f"{png}: not a plot ({os.path.getsize(png)} bytes)")
    with open(os.path.join(outdir, "results.md")) as f:
        md = f.read()
    for ds in result["datasets"]:
        if f"## {ds}:" not in md or f"{ds}.png" not in md:
            problems.append(f"results.md lacks {ds}")
    json.load(open(os.path.join(outdir, "results.json")))
    if problems:
        raise SystemExit("benchmark --quick: output not sane:\n  " + "\n  ".join(problems))
    print(f"benchmark --quick: output sane ({sum(len(d['runs']) for d in result['datasets'].values())} runs, pgvector {'included' if result['pgvector'] else 'not installed'})")


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} x {cpu}, {mem:.0f} GiB, {platform.system()} {platform.release()}"


def ints(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conninfo", help="libpq conninfo of the server, without dbname")
    ap.add_argument("--report", metavar="DIR", help="only rewrite DIR/results.md and the plots from DIR/results.json")
    ap.add_argument("--datasets", default="wordnet384,clustered1536,glove,fashion", help="comma-separated: " + ", ".join(datasets.LOADERS))
    ap.add_argument("--methods", default="hnsw,ivfflat")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", type=ints, default=ints("10,20,40,80,160"))
    ap.add_argument("--probes", type=ints, default=ints("1,2,4,8,16,32"))
    ap.add_argument("--clients", type=ints, default=ints("1,2,8,32"))
    ap.add_argument("--inserts", type=int, default=500, help="single-row INSERTs timed per engine and index")
    ap.add_argument("--builds", type=int, default=1, help="build each SQL index this many times and report recall per setting over the builds (min-max)")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--storage", default="default", choices=["default", "main", "external", "extended", "plain"], help="the column's storage, for both engines")
    ap.add_argument("--halfvec", action="store_true", help="store the column as halfvec (binary16) in both engines and index it with the halfvec opclasses")
    ap.add_argument("--ivfflat-options", default="", help="more WITH options for ruvector_pg's ivfflat indexes (ours only), e.g. 'exact_copies = true'")
    ap.add_argument("--no-pgvector", action="store_true", help="skip pgvector even when installed")
    ap.add_argument("--out", default="target/benchmark")
    ap.add_argument("--keep", action="store_true", help="keep each table and its last index (for benches/backend_cpu.py, bq_bench.py)")
    ap.add_argument("--quick", action="store_true", help="small synthetic set, short sweeps, then check the output")
    ap.add_argument("--filtered", action="store_true", help="the filtered mode only (benches/filtered.py): WHERE r < K at 0.1-100 %% selectivity")
    args = ap.parse_args()
    if args.report:
        with open(os.path.join(args.report, "results.json")) as f:
            result = json.load(f)
        with open(os.path.join(args.report, "results.md"), "w") as f:
            f.write(markdown(result))
        plot(result, args.report)
        print(markdown(result))
        return
    if not args.conninfo:
        ap.error("--conninfo is required")
    if args.quick:
        args.datasets, args.queries, args.ef, args.probes, args.clients = "quick", 200, [10, 200], [1, 5], [1, 2]
        args.builds = max(args.builds, 2)
    args.methods = args.methods.split(",")
    os.makedirs(args.out, exist_ok=True)

    engines = ["ruvector_pg"] + ([] if args.no_pgvector else ["pgvector"])
    engines = [e for e in engines if prepare_database(args.conninfo, e)]
    if "pgvector" not in engines:
        progress("pgvector is not installed in this server: running without it (install it to get ratios)")
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "command": " ".join(["scripts/benchmark.sh"] + sys.argv[1:]).replace(args.conninfo, "…"),
        "settings": {"m": args.m, "ef_construction": args.ef_construction, "clients": args.clients, "queries": args.queries, "builds": args.builds, "halfvec": args.halfvec},
        "pgvector": "pgvector" in engines,
        "datasets": {},
    }
    if args.filtered:
        result["filtered"] = {}
        for ds in args.datasets.split(","):
            base, queries, metric = datasets.LOADERS[ds]()
            queries = queries[: min(args.queries, 200)]
            result["filtered"][ds] = {
                e: filtered.run(conninfo_for(args.conninfo, SQL_ENGINES[e][0]), SQL_ENGINES[e][2], ds, base, queries, metric, args.m, args.ef_construction)
                for e in engines
            }
            with open(os.path.join(args.out, "filtered.json"), "w") as f:
                json.dump(result, f, indent=1)
        md = [f"# Filtered search, {result['date']}", "", f"Machine: {result['machine']}. Command: `{result['command']}`."]
        for ds, res in result["filtered"].items():
            md += filtered.markdown(ds, res)
        with open(os.path.join(args.out, "filtered.md"), "w") as f:
            f.write("\n".join(md) + "\n")
        print("\n".join(md))
        return
    for ds in args.datasets.split(","):
        base, queries, metric, _, true_dist = datasets.load(ds, args.queries)
        progress(f"{ds}: {len(base):,} x {base.shape[1]}, {len(queries)} queries, {metric}")
        copy_data = binary_copy_data(base)
        runs = []
        for engine in engines:
            runs += bench_sql(args, engine, ds, base, queries, metric, true_dist, copy_data)
        if "hnsw" in args.methods:
            progress(f"{ds}/hnswlib: build and sweep")
            runs.append(bench_hnswlib(args, base, queries, metric, true_dist))
        if "ivfflat" in args.methods:
            progress(f"{ds}/faiss: build and sweep")
            runs.append(bench_faiss(args, base, queries, true_dist))
        result["datasets"][ds] = {"rows": len(base), "dims": base.shape[1], "metric": metric, "queries": len(queries), "runs": runs}
        # written after every data set, so a long run that stops keeps what it measured
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(result, f, indent=1)
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write(markdown(result))
        plot(result, args.out)
    print(markdown(result))
    print(f"wrote {args.out}/results.json, results.md and {len(result['datasets'])} plot(s)")
    if args.quick:
        check_quick(result, args.out)


if __name__ == "__main__":
    main()
