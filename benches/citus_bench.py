#!/usr/bin/env python3
"""One node against a Citus cluster, same data, same queries: recall@10 and
QPS (1 and N clients) of an hnsw index on a plain table of the coordinator
and on a table distributed by id over the workers' shards, queried through
the coordinator (each shard answers ORDER BY ... LIMIT 10 with its own index,
the coordinator merges). hnsw.ef_search is set on every node with ALTER
SYSTEM + reload, which reaches Citus's cached worker connections (a session
SET does not: docs/citus.md).

All nodes run on this one machine, so the cluster cannot be faster here: the
figures show what distribution costs per query (fan-out, merge) and what it
does to recall (each shard's graph is searched with the full ef, so recall
rises). Run through scripts/bench-citus.sh.
"""
import argparse
import time

import psycopg

import datasets
from benchmark import concurrent_qps, timed_queries
from datasets import binary_copy_data, literal, progress, recall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--coordinator", required=True, help="conninfo of the coordinator")
    ap.add_argument("--nodes", required=True, help="comma-separated conninfos of every node")
    ap.add_argument("--dataset", default="wordnet384")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--ef", default="20,40,80")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    base, queries, metric, _, _ = datasets.load(args.dataset, args.queries)
    base = base[: args.rows]
    _, true_dist = datasets.ground_truth(base, queries)
    op, opclass = ("<->", "vector_l2_ops") if metric == "l2" else ("<=>", "vector_cosine_ops")
    texts = [literal(q) for q in queries]
    data = binary_copy_data(base)
    with psycopg.connect(args.coordinator, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS ruvector_pg")
        conn.execute(f"SET citus.shard_count = {args.shards}")
        conn.execute("SET maintenance_work_mem = '1GB'")
        builds = {}
        for table, distributed in (("one_node", False), ("cluster", True)):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (id int4 PRIMARY KEY, v ruvector({base.shape[1]}))")
            if distributed:
                conn.execute(f"SELECT create_distributed_table('{table}', 'id')")
            progress(f"citus: loading {len(base):,} rows into {table}")
            with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN (FORMAT binary)") as cp:
                for s in range(0, len(data), 1 << 24):
                    cp.write(data[s : s + (1 << 24)])
            t = time.perf_counter()
            conn.execute(f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (v {opclass})")
            builds[table] = time.perf_counter() - t
            progress(f"citus: {table} index built in {builds[table]:.1f} s")
    rows = []
    for ef in [int(e) for e in args.ef.split(",")]:
        for node in args.nodes.split(","):
            with psycopg.connect(node, autocommit=True) as c:
                c.execute("LOAD 'ruvector_pg'")  # defines hnsw.ef_search for ALTER SYSTEM
                c.execute(f"ALTER SYSTEM SET hnsw.ef_search = {ef}")
                c.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        for table in ("one_node", "cluster"):
            sql = f"SELECT id FROM {table} ORDER BY v {op} %s::ruvector LIMIT 10"
            with psycopg.connect(args.coordinator, autocommit=True) as conn:
                timed_queries(conn, sql, texts)  # warm
                got, times = timed_queries(conn, sql, texts)
            qps_n = concurrent_qps(args.coordinator, [], sql, texts, args.clients)
            rows.append((ef, table, recall(base, queries, got, true_dist), len(times) / sum(times), qps_n))
            progress(f"citus: ef {ef} {table}: recall {rows[-1][2]:.3f}, {rows[-1][3]:.0f} QPS, {qps_n:.0f} QPS with {args.clients} clients")
    print(f"\n{args.dataset}: {len(base):,} x {base.shape[1]}, {len(queries)} queries; cluster = coordinator + 2 workers, "
          f"{args.shards} shards, all on this machine")
    print(f"build: one node {builds['one_node']:.1f} s, cluster {builds['cluster']:.1f} s\n")
    print(f"| ef_search | one node recall | QPS | QPS, {args.clients} clients | cluster recall | QPS | QPS, {args.clients} clients |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for i in range(0, len(rows), 2):
        (ef, _, r1, q1, n1), (_, _, r2, q2, n2) = rows[i], rows[i + 1]
        print(f"| {ef} | {r1:.3f} | {q1:.0f} | {n1:.0f} | {r2:.3f} | {q2:.0f} | {n2:.0f} |")


if __name__ == "__main__":
    main()
