#!/usr/bin/env python3
"""What coarser or centre-relative row codes would buy an ivfflat scan, in
numpy, without a server (a simulation for designing a list format; nothing
here runs in the extension).

Lists: faiss k-means (10 iterations, a sample of lists x 50 rows, at least
10,000), rows / 1,000 lists as the benchmark builds them. For each query the
rows of its `--probes` nearest lists are scanned; with every row's lower
bound from its code (the distance to the decoded row minus the query's norm
times the row's exact coding error, Cauchy-Schwarz as
`ruvector_core::ivf::sq8_rows` bounds rows, rounding ignored), it counts the
rows whose bound falls below the 10th exact distance: rows no bound can
rule out, so the scan must measure them more exactly (the executor's
recheck for SQ8 rows; a second stage for 4-bit rows). Codes: per-row
scalar quantisation to 256 levels (SQ8, format 2 today) or 16 (4 bits),
of the row or of its residual to its list's centre.

It also counts the rows a triangle-inequality bound on the distance to the
list's centre could skip (|d(q, c) - d(x, c)| > the 10th distance), with the
list's radius or each row's own distance to the centre.

  python3 benches/ivf_codes_sim.py clustered1536 --probes 4 --queries 200
"""
import argparse

import faiss
import numpy as np

import datasets

ap = argparse.ArgumentParser()
ap.add_argument("dataset", choices=list(datasets.LOADERS))
ap.add_argument("--probes", type=int, default=4)
ap.add_argument("--queries", type=int, default=200)
args = ap.parse_args()

base, queries, metric = datasets.LOADERS[args.dataset]()
base = np.ascontiguousarray(base, dtype=np.float32)
if metric == "cosine":
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
n, d = base.shape
lists = max(n // 1000, 1)
km = faiss.Kmeans(d, lists, niter=10, seed=1, spherical=metric == "cosine")
km.train(base[np.random.default_rng(1).choice(n, min(n, max(lists * 50, 10_000)), replace=False)])
_, assign = km.index.search(base, 1)
assign = assign[:, 0]
centres = km.centroids
to_centre = np.linalg.norm(base - centres[assign], axis=1)
radius = np.zeros(lists, dtype=np.float32)
np.maximum.at(radius, assign, to_centre)


def quantised(x, levels):
    """Each row decoded from per-row scalar codes of `levels` levels."""
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    step = np.maximum((hi - lo) / (levels - 1), 1e-30)
    return np.round((x - lo) / step) * step + lo


schemes = {}
for levels, label, code_bytes in ((256, "SQ8", d), (16, "4-bit", d / 2)):
    decoded = quantised(base, levels)
    schemes[label] = (decoded, np.linalg.norm(base - decoded, axis=1), code_bytes)
    decoded = quantised(base - centres[assign], levels) + centres[assign]
    schemes[label + " of the residual"] = (decoded, np.linalg.norm(base - decoded, axis=1), code_bytes)

below = {k: [] for k in schemes}
scanned, by_radius, by_row = [], 0, 0
for q in queries[: args.queries]:
    q = q.astype(np.float32)
    to_q = np.linalg.norm(centres - q, axis=1)
    probed = np.argsort(to_q if metric == "l2" else -(centres @ q))[: args.probes]
    rows = np.nonzero(np.isin(assign, probed))[0]
    scanned.append(len(rows))
    x = base[rows]
    exact = np.linalg.norm(x - q, axis=1) if metric == "l2" else 1 - x @ q
    tenth = np.sort(exact)[min(9, len(exact) - 1)]
    for label, (decoded, err, _) in schemes.items():
        if metric == "l2":
            bound = np.linalg.norm(decoded[rows] - q, axis=1) - err[rows]
        else:
            bound = 1 - decoded[rows] @ q - np.linalg.norm(q) * err[rows]
        below[label].append(int((bound < tenth).sum()))
    # the triangle inequality is about Euclidean distances; under cosine
    # (unit rows) the 10th Euclidean distance is sqrt(2 * the cosine one)
    tenth_l2 = tenth if metric == "l2" else np.sqrt(max(2 * tenth, 0))
    for j in probed:
        in_j = assign[rows] == j
        if to_q[j] - radius[j] > tenth_l2:
            by_radius += int(in_j.sum())
        by_row += int((np.abs(to_q[j] - to_centre[rows][in_j]) > tenth_l2).sum())

rows_per_query = np.mean(scanned)
print(f"{args.dataset}: {n:,} x {d} ({metric}), {lists} lists, probes {args.probes}, {args.queries} queries, "
      f"{rows_per_query:,.0f} rows scanned per query")
for label, counts in below.items():
    print(f"  {label:24s} rows with a bound below the 10th distance: mean {np.mean(counts):7.1f}, "
          f"90th percentile {np.percentile(counts, 90):7.1f}; code bytes scanned {rows_per_query * schemes[label][2] / 2**20:.2f} MiB")
total = sum(scanned)
print(f"  skippable by the triangle inequality: {by_radius / total:.3f} of the rows by the list's radius, "
      f"{by_row / total:.3f} by each row's distance to its centre")
