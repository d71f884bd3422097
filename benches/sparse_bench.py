"""`sparsevec` hnsw side by side: ruvector_pg and pgvector (each in its own
database of one cluster) build the same index on the same sparse rows,
then recall@10, QPS with one client, and milliseconds per query inside
the server (`benchmark.backend_ms_per_query`) at each hnsw.ef_search:

    python3 benches/sparse_bench.py --conninfo "host=127.0.0.1 port=54330 user=postgres" [--dataset wordnet_tfidf|splade_like]

wordnet_tfidf: TF-IDF rows of WordNet's glosses (`sparse_export.tfidf_rows`,
Debian's wordnet-base), cosine; splade_like: synthetic rows in the shape
of learned sparse embeddings (`sparse_export.splade_like`), inner product.
1,000 rows are held out as queries. A returned row is a hit when it is no
farther than the true 10th (TF-IDF rows tie often). Prints one line per
engine and the ratios; the benchmark cluster's databases are those of
`benches/benchmark.py` (scripts/bench-sparse.sh starts it).
"""
import argparse
import time

import numpy as np
import psycopg

import sparse_export
from benchmark import backend_ms_per_query, prepare_database, query_table, timed_queries

ENGINES = {"ruvector_pg": "ruvector_bench", "pgvector": "pgvector_bench"}


def rows_and_queries(name):
    if name == "wordnet_tfidf":
        x, opclass, op = sparse_export.tfidf_rows(), "sparsevec_cosine_ops", "<=>"
        return x[1000:], x[:1000], opclass, op
    x = sparse_export.splade_like()
    return x[:-1000], x[-1000:], "sparsevec_ip_ops", "<#>"


def literal(m, i, dims):
    r = m[i]
    return "{" + ",".join(f"{j + 1}:{v:.7g}" for j, v in zip(r.indices, r.data)) + "}/" + str(dims)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--dataset", default="wordnet_tfidf", choices=["wordnet_tfidf", "splade_like"])
    ap.add_argument("--ef", default="10,20,40,80,160")
    ap.add_argument("--engines", default="ruvector_pg,pgvector")
    args = ap.parse_args()
    base, queries, opclass, op = rows_and_queries(args.dataset)
    dims = base.shape[1]
    sims = (queries @ base.T).toarray()  # unit rows: cosine; else inner product
    tenth = -np.sort(-sims, axis=1)[:, 9]
    btext = [literal(base, i, dims) for i in range(base.shape[0])]
    qtext = [literal(queries, i, dims) for i in range(queries.shape[0])]
    efs = [int(e) for e in args.ef.split(",")]
    print(f"{args.dataset}: {base.shape[0]:,} rows x {dims:,}, {base.getnnz(axis=1).mean():.1f} non-zeros a row "
          f"(queries {queries.getnnz(axis=1).mean():.1f}), {opclass}, m 16, ef_construction 64", flush=True)
    results = {}
    for engine in args.engines.split(","):
        if not prepare_database(args.conninfo, engine):
            print(f"{engine}: not installed in this cluster, skipped")
            continue
        with psycopg.connect(f"{args.conninfo} dbname={ENGINES[engine]}", autocommit=True) as c:
            c.execute("DROP TABLE IF EXISTS bench_sparse")
            c.execute(f"CREATE TABLE bench_sparse (id int, v sparsevec({dims}))")
            with c.cursor().copy("COPY bench_sparse (id, v) FROM STDIN") as cp:
                for i, t in enumerate(btext):
                    cp.write_row((i, t))
            c.execute("VACUUM ANALYZE bench_sparse")
            c.execute("SET maintenance_work_mem = '2GB'")
            t = time.perf_counter()
            c.execute(f"CREATE INDEX bench_sparse_idx ON bench_sparse USING hnsw (v {opclass}) WITH (m = 16, ef_construction = 64)")
            build = time.perf_counter() - t
            c.execute("SET enable_seqscan = off")
            query_table(c, "bench_sparse_q", "sparsevec", qtext)
            sql = f"SELECT id FROM bench_sparse ORDER BY v {op} %s::sparsevec LIMIT 10"
            timed_queries(c, sql, qtext[:300])
            sweep = []
            for ef in efs:
                c.execute(f"SET hnsw.ef_search = {ef}")
                got, times = timed_queries(c, sql, qtext)
                hits = sum(int((sims[qi, ids] >= tenth[qi] - 1e-5).sum()) for qi, ids in enumerate(got))
                ms = backend_ms_per_query(c, "bench_sparse", "bench_sparse_q", op)
                sweep.append((ef, hits / (10 * len(got)), len(times) / sum(times), ms))
            c.execute("DROP TABLE bench_sparse")
        results[engine] = (build, sweep)
        print(f"{engine}: build {build:.1f} s | " + " | ".join(
            f"ef {ef}: recall {r:.4f}, {q:.0f} QPS, {ms:.3f} ms in the server" for ef, r, q, ms in sweep), flush=True)
    if len(results) == 2 and all(results.values()):
        (b1, s1), (b2, s2) = results["ruvector_pg"], results["pgvector"]
        print(f"ratios (ruvector_pg / pgvector): build {b1 / b2:.2f}x | " + " | ".join(
            f"ef {a[0]}: recall {a[1] - b[1]:+.4f}, QPS {a[2] / b[2]:.2f}x, in the server {b[3] / a[3]:.2f}x faster"
            for a, b in zip(s1, s2)))


if __name__ == "__main__":
    main()
