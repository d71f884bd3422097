"""The benchmark's filtered mode (benchmark.py --filtered): `WHERE r < K
ORDER BY distance LIMIT 10` at selectivities 0.1 %, 1 %, 2 %, 5 %, 10 %,
50 % and 100 %, on a table with an integer column r (uniform in 0..999, seeded, a
btree index on it) beside the vectors and an hnsw index: for ruvector_pg one
with r as its filter column (`USING hnsw (r, v ...)`, which evaluates the
condition on r inside the index: docs/filtered-search.md), for pgvector,
which has no such index, on v alone (`keyed=False` gives ours that too).

For each selectivity and extension it measures three plans with one client:
- the planner's choice, with default settings plus
  hnsw.iterative_scan = relaxed_order (what a user runs);
- the exact prefilter plan: the ORDER BY written as `(v <op> q) + 0`, which
  no index orders by, so the rows matching the filter are found (btree,
  bitmap or sequential scan) and sorted;
- the ANN plan: the hnsw index scan (enable_sort = off), with the condition
  on r evaluated in the index (a filter column) or on what it returns.
Recall@10 is counted against the exact top 10 among the matching rows.
Every query is planned afresh (no server-side prepared statement): a
prepared statement's cached plan outlives the settings that force a plan,
so the forced plans would measure whichever plan was cached first (the
cause of the 1,536-d table of 2026-12-02's first run, where the "ANN plan"
measured the exact one).
"""
import time

import numpy as np
import psycopg

from datasets import binary_copy_data, literal, progress, recall

SELECTIVITIES = [0.001, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0]
K = 10


def filter_column(n):
    return np.random.default_rng(1000).integers(0, 1000, n).astype(np.int32)


def filtered_truth(base, queries, mask):
    """The k-th exact distance (L2) among the rows `mask` keeps, per query."""
    sub = base[mask].astype(np.float64)
    out = np.empty((len(queries), K))
    norms = (sub**2).sum(axis=1)
    for i, q in enumerate(queries.astype(np.float64)):
        d = np.sqrt(np.maximum(norms - 2 * sub @ q + q @ q, 0))
        out[i] = np.sort(np.partition(d, min(K, len(d) - 1))[:K]) if len(d) >= K else np.pad(np.sort(d), (0, K - len(d)), constant_values=np.inf)
    return out


def run(conninfo, engine_type, ds, base, queries, metric, m, ef_construction, keyed=None):
    """Loads the filtered table into the database of `conninfo` and measures
    every selectivity; returns a list of result rows. `keyed`: whether the
    hnsw index has r as its filter column (default: for ruvector_pg)."""
    if keyed is None:
        keyed = engine_type == "ruvector"
    opclass, op = ("vector_l2_ops", "<->") if metric == "l2" else ("vector_cosine_ops", "<=>")
    table = f"filt_{ds}"
    r = filter_column(len(base))
    texts = [literal(q) for q in queries]
    out = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id int4, r int4, v {engine_type}({base.shape[1]}))")
        data = binary_copy_data(base, r)
        with conn.cursor().copy(f"COPY {table} (id, r, v) FROM STDIN (FORMAT binary)") as cp:
            for s in range(0, len(data), 1 << 24):
                cp.write(data[s : s + (1 << 24)])
        conn.execute("SET maintenance_work_mem = '2GB'")
        columns = f"r, v {opclass}" if keyed else f"v {opclass}"
        t0 = time.perf_counter()
        conn.execute(f"CREATE INDEX {table}_hnsw ON {table} USING hnsw ({columns}) WITH (m = {m}, ef_construction = {ef_construction})")
        build_s = time.perf_counter() - t0
        conn.execute(f"CREATE INDEX {table}_r ON {table} (r)")
        conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        for sel in SELECTIVITIES:
            bound = int(round(sel * 1000))
            truth = filtered_truth(base, queries, r < bound)
            row = {"selectivity": sel, "keyed": keyed, "build_s": build_s}
            for plan_name, order, settings in (
                ("planner", f"v {op} %s::{engine_type}", []),
                ("exact", f"(v {op} %s::{engine_type}) + 0", []),
                ("ann", f"v {op} %s::{engine_type}", ["SET enable_sort = off"]),
            ):
                for s in settings:
                    conn.execute(s)
                sql = f"SELECT id FROM {table} WHERE r < {bound} ORDER BY {order} LIMIT {K}"
                plan = "\n".join(x[0] for x in conn.execute(f"EXPLAIN {sql}", (texts[0],)).fetchall())
                shape = "ann" if f"Index Scan using {table}_hnsw" in plan else "exact"
                # warm: an index scan fills this backend's vector cache on its first
                # queries, so the first plan measured would pay for it alone
                for q in texts if shape == "ann" else texts[:20]:
                    conn.execute(sql, (q,), prepare=False).fetchall()
                got, t = [], time.perf_counter()
                for q in texts:
                    got.append([x[0] for x in conn.execute(sql, (q,), prepare=False).fetchall()])
                qps = len(texts) / (time.perf_counter() - t)
                row[plan_name] = {"plan": shape, "qps": qps, "recall": recall(base, queries, got, truth),
                                  "rows": float(np.mean([len(g) for g in got]))}
                if settings:
                    conn.execute("RESET enable_sort")
            progress(f"{ds}/filtered/{engine_type}: {sel:.1%}: planner {row['planner']['plan']} {row['planner']['qps']:.0f} QPS "
                     f"recall {row['planner']['recall']:.3f}; exact {row['exact']['qps']:.0f}; ann {row['ann']['qps']:.0f} "
                     f"recall {row['ann']['recall']:.3f}")
            out.append(row)
        conn.execute(f"DROP TABLE {table}")
    return out


def markdown(ds, results):
    """The filtered table of one data set: ours against the faster of our two
    forced plans (whatever its recall), and against pgvector's planner choice."""
    ours, theirs = results.get("ruvector_pg"), results.get("pgvector")
    if not ours:
        return []
    out = ["", f"### {ds}: filtered (`WHERE r < K ORDER BY distance LIMIT 10`, iterative_scan = relaxed_order)", ""]
    index = "hnsw (r, v): r is the index's filter column" if ours[0].get("keyed") else "hnsw (v)"
    out += [f"ruvector_pg's index: {index}, built in {ours[0].get('build_s', 0):.1f} s"
            + (f"; pgvector's: hnsw (v), built in {theirs[0].get('build_s', 0):.1f} s." if theirs else "."), ""]
    head = "| selectivity | plan | QPS | recall | rows | exact plan QPS | ANN plan QPS (recall) | vs best forced |"
    sep = "|---:|---|---:|---:|---:|---:|---:|---:|"
    if theirs:
        head += " pgvector plan | QPS | recall | vs pgvector |"
        sep += "---|---:|---:|---:|"
    out += [head, sep]
    for i, row in enumerate(ours):
        p, e, a = row["planner"], row["exact"], row["ann"]
        best = max(e["qps"], a["qps"])
        line = (f"| {row['selectivity']:.1%} | {p['plan']} | {p['qps']:.0f} | {p['recall']:.3f} | {p['rows']:.1f} | "
                f"{e['qps']:.0f} | {a['qps']:.0f} ({a['recall']:.3f}) | {p['qps'] / best:.2f}x |")
        if theirs:
            t = theirs[i]["planner"]
            line += f" {t['plan']} | {t['qps']:.0f} | {t['recall']:.3f} | {p['qps'] / t['qps']:.2f}x |"
        out.append(line)
    return out
