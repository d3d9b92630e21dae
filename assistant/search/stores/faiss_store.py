"""The in-process store: the build folder's BM25 matrix (scipy) and FAISS index, searched in this process."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from assistant.search.lexical import LexicalIndex
from assistant.search.stores.base import LexicalCandidates, Where


class FaissCandidates:
    kind = "faiss"

    def __init__(self, lexical: LexicalIndex, dense=None):
        from assistant.search.dense import flat_matrix

        self.lexical_index = lexical
        self.dense_index = dense
        self.has_dense = dense is not None
        # a flat index's vectors as one matrix: one product scores every article, each filter is a cut of it
        self._flat = flat_matrix(dense) if dense is not None else None

    def lexical(self, terms: dict[str, float], wheres: Sequence[Where], k: int) -> LexicalCandidates:
        scores = self.lexical_index.weighted_scores(list(terms.items()))
        rows = np.flatnonzero(scores > 0)
        return LexicalCandidates(rows.astype(np.int64), scores[rows].astype(np.float64),
                                 float(scores.max()) if scores.size else 0.0)

    def dense(self, qvec: np.ndarray, wheres: Sequence[Where], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        from assistant.search.dense import search_faiss, top_rows

        if self._flat is not None:
            full = self._flat @ qvec
            return [top_rows(full, k, w.mask) for w in wheres]
        return [search_faiss(self.dense_index, qvec, k, w.mask) for w in wheres]

    def info(self) -> dict:
        return {"kind": "faiss", "dense": type(self.dense_index).__name__ if self.dense_index is not None else None}

    def close(self) -> None:
        pass
