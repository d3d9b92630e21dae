"""Second stage: re-score the first stage's top candidates with a strong embedder (EmbeddingGemma, bge ...).

The first stage (BM25 + a fast embedder) is cheap over 25k articles; a 300M-parameter model is not (about
25 articles/s per thread: the whole corpus is a long batch job). Re-scoring needs the strong model's
vectors only for the few dozen candidates of a query, so they come from the shared vector cache (keyed by
embedder id and article content hash, the same rows an `index build --embedder st:PATH` writes and
reads) and any candidate not seen before is embedded once, on first sight, and stored there. A machine
that never runs the full build still gets the strong model's judgement; one that does finds every vector
cached. The query is embedded once per search (~100 ms for a 300M model on one thread).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from assistant.search.embedders import Embedder, make_embedder
from assistant.search.text import dense_text
from assistant.search.vector_cache import VectorCache


class CandidateRescorer:
    def __init__(self, embedder: Embedder | str, cache_path: str | Path):
        self.embedder = make_embedder(embedder) if isinstance(embedder, str) else embedder
        if self.embedder is None:
            raise ValueError("a re-scorer needs a dense embedder")
        self.cache = VectorCache(cache_path)
        self._lock = threading.Lock()  # one SQLite connection; embedding a miss is rare after warm-up
        self.embedded = 0  # candidates embedded on first sight by this process

    @property
    def id(self) -> str:
        return self.embedder.id

    def query_vector(self, text: str) -> np.ndarray:
        return self.embedder.embed_query(text)

    def vectors(self, articles) -> np.ndarray:
        """One row per article, in order; cached vectors where known, the rest embedded and stored."""
        hashes = [a.content_hash for a in articles]
        with self._lock:
            found = self.cache.get_many(self.embedder.id, self.embedder.dim, hashes)
            missing = [a for a in articles if a.content_hash not in found]
            missing = list({a.content_hash: a for a in missing}.values())
            if missing:
                vecs = self.embedder.embed_documents([dense_text(a) for a in missing])
                self.cache.put_many(self.embedder.id, [(a.content_hash, v) for a, v in zip(missing, vecs)])
                found.update({a.content_hash: v for a, v in zip(missing, vecs)})
                self.embedded += len(missing)
        out = np.zeros((len(articles), self.embedder.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = found[h]
        return out

    def close(self) -> None:
        self.cache.close()
