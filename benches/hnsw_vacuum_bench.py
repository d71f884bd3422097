#!/usr/bin/env python3
"""HNSW VACUUM benchmark: recall after deleting half the rows and vacuuming,
against a fresh build on the same rows; then delete everything, vacuum,
reinsert, and compare index sizes.

Data: the first --rows rows of GloVe-50 (normalised; queries from the held-out
rows), or Fashion-MNIST; L2; m = 16, ef_construction = 64. Recall as in
benches/datasets.py. Run through scripts/bench-vacuum.sh.
"""
import argparse
import time

import numpy as np
import psycopg

from datasets import ground_truth, literal, load_fashion, load_glove, recall


def recall_at(conn, table, ids, base, queries, true_dist, efs):
    texts = [literal(q) for q in queries]
    sql = f"SELECT id FROM {table} ORDER BY v <-> %s::ruvector LIMIT 10"
    out = []
    for ef in efs:
        conn.execute(f"SET hnsw.ef_search = {ef}")
        got = [[ids[r[0]] for r in conn.execute(sql, (q,)).fetchall()] for q in texts]
        out.append(recall(base, queries, got, true_dist))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--dataset", default="glove")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", default="40,80")
    args = ap.parse_args()
    efs = [int(e) for e in args.ef.split(",")]
    base, queries, _ = (load_fashion if args.dataset == "fashion" else load_glove)()
    queries = queries[: args.queries]
    base = base[: args.rows]
    dims = base.shape[1]
    kept = np.arange(0, len(base), 2)  # the odd ids are deleted
    kept_base = base[kept]
    _, true_dist = ground_truth(kept_base, queries)
    # ids of the table -> row of kept_base
    pos = {int(i): k for k, i in enumerate(kept)}
    with psycopg.connect(args.conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS ruvector_pg")
        conn.execute("SET maintenance_work_mem = '2GB'")
        for t in ("vac_items", "vac_fresh"):
            conn.execute(f"DROP TABLE IF EXISTS {t}")
            conn.execute(f"CREATE TABLE {t} (id int, v ruvector({dims}))")
        with conn.cursor().copy("COPY vac_items (id, v) FROM STDIN") as cp:
            for i, v in enumerate(base):
                cp.write(f"{i}\t{literal(v)}\n")
        conn.execute("INSERT INTO vac_fresh SELECT * FROM vac_items WHERE id % 2 = 0")
        conn.execute("VACUUM ANALYZE vac_items")
        conn.execute("CREATE INDEX vac_items_idx ON vac_items USING hnsw (v vector_l2_ops)")
        size_built = conn.execute("SELECT pg_relation_size('vac_items_idx')").fetchone()[0]
        conn.execute("DELETE FROM vac_items WHERE id % 2 = 1")
        t = time.perf_counter()
        conn.execute("VACUUM vac_items")
        vacuum_s = time.perf_counter() - t
        check = conn.execute("SELECT ruvector_index_check('vac_items_idx')").fetchone()[0]
        conn.execute("CREATE INDEX vac_fresh_idx ON vac_fresh USING hnsw (v vector_l2_ops)")
        vac = recall_at(conn, "vac_items", pos, kept_base, queries, true_dist, efs)
        fresh = recall_at(conn, "vac_fresh", pos, kept_base, queries, true_dist, efs)
        # delete everything, vacuum, reinsert the kept rows (random order)
        conn.execute("CREATE TABLE IF NOT EXISTS vac_saved AS SELECT * FROM vac_items ORDER BY random()")
        size_before = conn.execute("SELECT pg_relation_size('vac_items_idx')").fetchone()[0]
        conn.execute("DELETE FROM vac_items")
        conn.execute("VACUUM vac_items")
        t = time.perf_counter()
        conn.execute("INSERT INTO vac_items SELECT * FROM vac_saved")
        reinsert_s = time.perf_counter() - t
        size_after = conn.execute("SELECT pg_relation_size('vac_items_idx')").fetchone()[0]
        reins = recall_at(conn, "vac_items", pos, kept_base, queries, true_dist, efs)
        conn.execute("DROP TABLE vac_saved")
    print(f"\n## {args.dataset}: {len(base)} rows x {dims}, delete every other row, {len(queries)} queries")
    print(f"VACUUM after deleting {len(base) - len(kept)} rows: {vacuum_s:.1f} s; check: {check}")
    print("| ef_search | recall after delete + VACUUM | fresh build on the same rows | after delete-all + VACUUM + reinsert |")
    print("|---:|---:|---:|---:|")
    for ef, a, b, c in zip(efs, vac, fresh, reins):
        print(f"| {ef} | {a:.3f} | {b:.3f} | {c:.3f} |")
    print(f"index size: built {size_built / 2**20:.1f} MiB, after half deleted + VACUUM {size_before / 2**20:.1f} MiB, "
          f"after delete-all + VACUUM + reinserting {len(kept)} rows ({reinsert_s:.0f} s) {size_after / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
