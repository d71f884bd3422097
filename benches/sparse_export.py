"""Writes the TF-IDF rows of WordNet's glosses (sublinear tf, terms in at
least two glosses, unit rows; empty rows left out) in the format
`benches/sparse_graph_quality.rs` reads, in a seeded random order whose
last 1,000 rows are the queries:

    python3 benches/sparse_export.py OUT [--splade-like]

With --splade-like, synthetic rows in the shape of learned sparse
embeddings instead (`splade_like`).
"""
import struct
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

import datasets


def tfidf_rows():
    """CSR matrix of unit TF-IDF rows of the glosses, rows shuffled (seed 7)."""
    x = TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32).fit_transform(datasets.wordnet_glosses()).tocsr()
    x.sort_indices()
    rows = np.flatnonzero(x.getnnz(axis=1) > 0)
    return x[np.random.default_rng(7).permutation(rows)]


def splade_like(n=100_000, nq=1000, vocab=30522, topics=500, seed=11):
    """Rows in the shape of learned sparse (SPLADE-style) embeddings, not
    text: a 30,522-term vocabulary, 80-160 non-zeros a row drawn from two
    topics (each a Zipf-weighted set of 400 terms) and a Zipf background,
    positive weights, unit rows; queries of 15-40 terms drawn the same way.
    Rows first, then the queries."""
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(seed)
    background = 1.0 / np.arange(1, vocab + 1) ** 1.1
    background /= background.sum()
    topic_terms = [rng.choice(vocab, 400, replace=False) for _ in range(topics)]
    topic_w = 1.0 / np.arange(1, 401) ** 0.8
    topic_w /= topic_w.sum()

    def draw(count, lo, hi):
        indptr, indices, data = [0], [], []
        for _ in range(count):
            t = rng.choice(topics, 2, replace=False)
            k = int(rng.integers(lo, hi))
            terms = np.concatenate([rng.choice(topic_terms[t[0]], k // 2, p=topic_w),
                                    rng.choice(topic_terms[t[1]], k // 4, p=topic_w),
                                    rng.choice(vocab, k - k // 2 - k // 4, p=background)])
            terms, counts = np.unique(terms, return_counts=True)
            w = np.log1p(counts) * rng.gamma(2.0, 0.5, len(terms))
            indices.extend(terms)
            data.extend(w / np.linalg.norm(w))
            indptr.append(len(indices))
        return csr_matrix((np.array(data, np.float32), np.array(indices), np.array(indptr)), shape=(count, vocab))

    from scipy.sparse import vstack

    x = vstack([draw(n, 80, 160), draw(nq, 15, 40)]).tocsr()
    x.sort_indices()
    return x


if __name__ == "__main__":
    x = splade_like() if "--splade-like" in sys.argv else tfidf_rows()
    with open(sys.argv[1], "wb") as f:
        for i in range(x.shape[0]):
            r = x[i]
            f.write(struct.pack("<I", r.nnz))
            f.write(np.rec.fromarrays([r.indices.astype("<i4"), r.data.astype("<f4")]).tobytes())
    print(f"{x.shape[0]} rows, {x.shape[1]} dims, {x.nnz / x.shape[0]:.1f} non-zeros per row")
