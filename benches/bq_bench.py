#!/usr/bin/env python3
"""Binary quantisation with re-ranking on Fashion-MNIST (60,000 x 784, L2):
an hnsw index on binary_quantize(v)::bit(784) with bit_hamming_ops, `--candidates`
rows by Hamming distance, re-ranked by exact L2 in SQL. Reuses the table that
`scripts/benchmark.sh --datasets fashion --methods hnsw --no-pgvector --keep` leaves (bench_fashion); prints recall@10 and QPS.
Run: python3 benches/bq_bench.py --conninfo "host=127.0.0.1 port=54330 user=postgres dbname=ruvector_bench"
"""
import argparse
import time

import psycopg

from datasets import ground_truth, literal, load_fashion, recall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--candidates", default="100,200,400")
    args = ap.parse_args()
    base, queries, _ = load_fashion()
    queries = queries[: args.queries]
    _, true_dist = ground_truth(base, queries)
    with psycopg.connect(args.conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("DROP INDEX IF EXISTS bench_fashion_bq")
        t = time.perf_counter()
        conn.execute("CREATE INDEX bench_fashion_bq ON bench_fashion USING hnsw ((binary_quantize(v)::bit(784)) bit_hamming_ops)")
        build = time.perf_counter() - t
        size = conn.execute("SELECT pg_relation_size('bench_fashion_bq')").fetchone()[0]
        conn.execute("SET enable_seqscan = off")
        texts = [literal(q) for q in queries]
        print(f"bq index: build {build:.1f} s, {size / 2**20:.0f} MiB")
        print("| candidates | hnsw.ef_search | QPS | recall@10 |")
        print("|---:|---:|---:|---:|")
        for cand in [int(c) for c in args.candidates.split(",")]:
            conn.execute(f"SET hnsw.ef_search = {min(max(cand, 40), 1000)}")
            sql = (f"SELECT id FROM (SELECT id, v FROM bench_fashion ORDER BY binary_quantize(v)::bit(784) "
                   f"<~> binary_quantize(%s::ruvector) LIMIT {cand}) c ORDER BY v <-> %s::ruvector LIMIT 10")
            for q in texts[:50]:
                conn.execute(sql, (q, q)).fetchall()
            t = time.perf_counter()
            got = [[r[0] for r in conn.execute(sql, (q, q)).fetchall()] for q in texts]
            qps = len(texts) / (time.perf_counter() - t)
            print(f"| {cand} | {min(max(cand, 40), 1000)} | {qps:.0f} | {recall(base, queries, got, true_dist):.3f} |")


if __name__ == "__main__":
    main()
