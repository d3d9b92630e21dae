"""FAISS over normalised vectors (inner product = cosine). Row i of the index is document i of the build."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.threads import limit_faiss_threads

INDEX_KINDS = ("flat", "hnsw", "ivf")


def build_faiss(vectors: np.ndarray, kind: str = "flat"):
    import faiss

    limit_faiss_threads()
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    elif kind == "ivf":
        nlist = max(1, min(int(np.sqrt(max(n, 1))), max(1, n // 39)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // 8)
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}; use one of {', '.join(INDEX_KINDS)}")
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_faiss(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_faiss(path: Path):
    import faiss

    limit_faiss_threads()
    return faiss.read_index(str(path))


def search_faiss(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) among ``allowed`` rows (a bool mask; None = all)."""
    import faiss

    k = max(1, min(k, index.ntotal))
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if allowed is None or allowed.all():
        scores, rows = index.search(q, k)
    else:
        bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
        sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(128, k))
        elif isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=sel, nprobe=index.nprobe)
        else:
            params = faiss.SearchParameters(sel=sel)
        scores, rows = index.search(q, k, params=params)
        del bitmap  # the selector points into it; keep it alive until the search is done
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]


def flat_matrix(index) -> np.ndarray | None:
    """A zero-copy numpy view of a flat index's vectors (None for HNSW / IVF).

    With the vectors in hand one matrix-vector product scores every article once, and every filtered
    list (all laws, routed laws) is an argpartition of that one score vector.
    """
    import faiss

    if not isinstance(index, faiss.IndexFlat) or index.ntotal == 0:
        return None
    n, d = index.ntotal, index.d
    return faiss.rev_swig_ptr(index.get_xb(), n * d).reshape(n, d)


def top_rows(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the k best allowed rows of a full score vector, best first."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    k = max(1, min(k, int(np.isfinite(scores).sum())))
    rows = np.argpartition(-scores, k - 1)[:k]
    rows = rows[np.isfinite(scores[rows])]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return scores[rows], rows
