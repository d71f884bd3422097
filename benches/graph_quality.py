#!/usr/bin/env python3
"""Exports a benchmark data set (benches/datasets.py) as raw little-endian f32
for benches/graph_quality.rs: --rows base rows, then 1,000 queries.

  python3 benches/graph_quality.py wordnet384 /tmp/wordnet384.f32 [--rows 100000]
  cargo bench -p ruvector_core --bench graph_quality -- /tmp/wordnet384.f32 384 cosine
"""
import argparse

import numpy as np

import datasets

ap = argparse.ArgumentParser()
ap.add_argument("dataset", choices=list(datasets.LOADERS))
ap.add_argument("out")
ap.add_argument("--rows", type=int, default=100_000)
args = ap.parse_args()
base, queries, metric = datasets.LOADERS[args.dataset]()
np.concatenate([base[: args.rows], queries[:1000]]).astype("<f4").tofile(args.out)
print(f"{args.out}: {min(args.rows, len(base))} rows + {min(1000, len(queries))} queries x {base.shape[1]}, {metric}")
