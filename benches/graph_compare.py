#!/usr/bin/env python3
"""Our hnsw graph against pgvector's, under one search: which graph is better
per ef when the search is the same, and how their level-0 lists differ.

pgvector's graph is read from its index file (its page layout: element
tuples with level, heap TIDs and a neighbour tuple's TID; neighbour tuples
holding (level + 2) * m index TIDs, the top level first, level 0's 2m last),
heap TIDs mapped to the table's `id` column. Ours is the in-memory build's
(`GQ_DUMP=PREFIX cargo bench -p ruvector_core --bench graph_quality -- FILE
DIMS METRIC`, the same rule as `CREATE INDEX`), whose node ids are the rows'
places in the exported file, the benchmark's ids. Both are searched by the
same Python loop (greedy descent with ef 1 above level 0, then one layer
search of width ef: pgvector's and the paper's), with exact distances.

  CHECKPOINT the server first (the index file must hold every page), then:
  python3 benches/graph_compare.py --dataset fashion \\
      --pgvector "dbname=pgvector_bench host=127.0.0.1 port=54330 user=postgres" \\
      --index bench_fashion_idx --table bench_fashion --ours /tmp/gq/ours --ef 10,20

Only l2 data sets (the loop measures squared L2).
"""
import argparse
import heapq
import os
import struct

import numpy as np
import psycopg

import datasets

BLCKSZ = 8192
PAGE_HEADER = 24


def item_pointer(buf, at):
    hi, lo, off = struct.unpack_from("<HHH", buf, at)
    return (hi << 16) | lo, off


def page_items(page):
    """(offset number, tuple bytes) of a page's normal items."""
    lower = struct.unpack_from("<H", page, 12)[0]
    for i in range((lower - PAGE_HEADER) // 4):
        lp = struct.unpack_from("<I", page, PAGE_HEADER + 4 * i)[0]
        off, flags, length = lp & 0x7FFF, (lp >> 15) & 3, lp >> 17
        if flags == 1:
            yield i + 1, page[off:off + length]


class Graph:
    """Level-0 lists (n x 2m, -1 padded), upper lists {level: {node: [ids]}},
    each node's level, and the entry point."""

    def __init__(self, l0, upper, levels, entry):
        self.l0, self.upper, self.levels, self.entry = l0, upper, levels, entry


def read_pgvector(conninfo, index, table, n):
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        datadir = conn.execute("SHOW data_directory").fetchone()[0]
        path = os.path.join(datadir, conn.execute("SELECT pg_relation_filepath(%s)", (index,)).fetchone()[0])
        ids = {}
        for row_id, ctid in conn.execute(f"SELECT id, ctid::text FROM {table}"):
            block, offset = ctid.strip("()").split(",")
            ids[(int(block), int(offset))] = row_id
    data = open(path, "rb").read()
    _magic, _version, _dims, m, _efc, entry_block, entry_offset = struct.unpack_from("<IIIHHIH", data, PAGE_HEADER)
    elements, neighbours = {}, {}
    for block in range(1, len(data) // BLCKSZ):
        for offset, t in page_items(data[block * BLCKSZ:(block + 1) * BLCKSZ]):
            if t[0] == 1:  # element: type, level, deleted, version, 10 heap TIDs, neighbour tuple TID
                elements[(block, offset)] = (ids.get(item_pointer(t, 4), -1), t[1], item_pointer(t, 64))
            elif t[0] == 2:  # neighbours: type, version, count, index TIDs
                count = struct.unpack_from("<H", t, 2)[0]
                neighbours[(block, offset)] = [item_pointer(t, 4 + 6 * k) for k in range(count)]
    l0 = np.full((n, 2 * m), -1, dtype=np.int64)
    levels = np.zeros(n, dtype=np.int64)
    upper = {}
    for row_id, level, ntid in elements.values():
        if row_id < 0:  # a deleted row's element (not vacuumed yet)
            continue
        levels[row_id] = level
        tids = neighbours[ntid]
        for lc in range(level, -1, -1):
            start, width = (level - lc) * m, (2 * m if lc == 0 else m)
            linked = []
            for tid in tids[start:start + width]:
                if tid[1] == 0:  # an invalid TID ends the list, as pgvector's search reads it
                    break
                target = elements[tid][0]
                if target >= 0:
                    linked.append(target)
            if lc == 0:
                l0[row_id, :len(linked)] = linked
            else:
                upper.setdefault(lc, {})[row_id] = linked
    return Graph(l0, upper, levels, elements[(entry_block, entry_offset)][0])


def read_ours(prefix):
    levels = np.fromfile(prefix + ".levels", dtype="<i4").astype(np.int64)
    links = np.fromfile(prefix + ".links", dtype="<i4")
    n, top = len(levels), int(levels.max())
    # level-0 records are n x (2 + 2m) i32, the upper ones (2 + m) each
    above = int(levels.sum())
    m = (len(links) - 2 * n - 2 * above) // (2 * n + above)
    l0 = np.full((n, 2 * m), -1, dtype=np.int64)
    # the dump writes the entry point first on each level it is on
    at, upper, entry = 0, {}, None
    while at < len(links):
        level, node = int(links[at]), int(links[at + 1])
        width = 2 * m if level == 0 else m
        linked = links[at + 2:at + 2 + width]
        if level == 0:
            l0[node] = linked
        else:
            upper.setdefault(level, {})[node] = [int(x) for x in linked if x >= 0]
        if level == top and entry is None:
            entry = node
        at += 2 + width
    return Graph(l0, upper, levels, entry)


def search(base, q, g, ef, counted):
    dist = lambda ids: ((base[ids] - q) ** 2).sum(1)  # noqa: E731
    ep, epd = g.entry, float(dist([g.entry])[0])
    for lc in range(int(g.levels[g.entry]), 0, -1):
        moved = True
        while moved:
            moved = False
            linked = g.upper.get(lc, {}).get(ep, [])
            if linked:
                ds = dist(linked)
                i = int(ds.argmin())
                if ds[i] < epd:
                    ep, epd, moved = linked[i], float(ds[i]), True
    visited, candidates, found, measured = {ep}, [(epd, ep)], [(-epd, ep)], 1
    while candidates:
        d, c = heapq.heappop(candidates)
        if d > -found[0][0] and len(found) >= ef:
            break
        fresh = [int(x) for x in g.l0[c] if x >= 0 and int(x) not in visited]
        if not fresh:
            continue
        visited.update(fresh)
        measured += len(fresh)
        for x, dx in zip(fresh, dist(fresh)):
            dx = float(dx)
            if len(found) < ef or dx < -found[0][0]:
                heapq.heappush(candidates, (dx, x))
                heapq.heappush(found, (-dx, x))
                if len(found) > ef:
                    heapq.heappop(found)
    counted.append(measured)
    return [x for _, x in sorted((-a, b) for a, b in found)][:10]


def list_stats(g, base, sample):
    """How near each sampled node's level-0 list is, and how well linked."""
    sq = (base ** 2).sum(1)
    d = sq[sample][:, None] - 2 * base[sample] @ base.T + sq[None, :]
    d[np.arange(len(sample)), sample] = np.inf
    knn = np.argsort(d, axis=1)[:, :32]
    out = [set(int(x) for x in row if x >= 0) for row in g.l0]
    indeg = np.bincount(g.l0[g.l0 >= 0].ravel(), minlength=len(g.l0))
    return {
        "list holds 10-NN": np.mean([len(out[s] & set(knn[j, :10].tolist())) / 10 for j, s in enumerate(sample)]),
        "list holds 32-NN": np.mean([len(out[s] & set(knn[j, :32].tolist())) / 32 for j, s in enumerate(sample)]),
        "10-NN link back": np.mean([np.mean([s in out[x] for x in knn[j, :10]]) for j, s in enumerate(sample)]),
        "in-degree p10": float(np.percentile(indeg, 10)),
        "in-degree < 5": int(np.sum(indeg < 5)),
        "in-degree 0": int(np.sum(indeg == 0)),
        "level-0 degree": float((g.l0 >= 0).sum(1).mean()),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashion", choices=list(datasets.LOADERS))
    ap.add_argument("--pgvector", required=True, help="conninfo of the database holding pgvector's index")
    ap.add_argument("--index", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--ours", required=True, help="the GQ_DUMP prefix of our in-memory build")
    ap.add_argument("--ef", default="10,20")
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args()
    base, queries, metric, truth_ids, _ = datasets.load(args.dataset, args.queries)
    if metric != "l2":
        raise SystemExit("graph_compare measures squared L2 only")
    base = base.astype(np.float32)
    graphs = {"pgvector": read_pgvector(args.pgvector, args.index, args.table, len(base)), "ruvector_pg": read_ours(args.ours)}
    sample = np.random.default_rng(0).choice(len(base), 2000, replace=False)
    for name, g in graphs.items():
        stats = list_stats(g, base, sample)
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in stats.items()))
        for ef in [int(x) for x in args.ef.split(",")]:
            hits, counted = 0, []
            for qi in range(min(args.queries, len(truth_ids))):
                got = search(base, queries[qi].astype(np.float32), g, ef, counted)
                hits += len(set(got) & set(truth_ids[qi].tolist()))
            print(f"  ef {ef}: recall@10 {hits / (10 * min(args.queries, len(truth_ids))):.4f}, distances per query {np.mean(counted):.0f}")


if __name__ == "__main__":
    main()
