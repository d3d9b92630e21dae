"""Questions asked before: the nearest questions of the question set, and the articles that answered them.

A person asks 一个人能开有限公司吗; the question set holds 一个人能注册有限公司吗 with its gold article (公司法
第四十二条). The words of such a question and of its article barely overlap, but two questions about the same
worry sit close in an embedder's space. So each index build keeps the raw vectors of the question-set
questions (the ones it already embeds to fit the query adapter) with their gold rows; at search, the ``k``
nearest earlier questions vote for their articles (softmax of the cosine), and the votes become a candidate
list and features of the learned ranker. The ranker is fitted with the votes cross-fitted (a training
question's neighbours come from the other fold), so it learns how far to trust a neighbour's article for a
question that was not itself asked, including questions about articles nobody asked about (where the nearest
questions point elsewhere). Nothing here is a table: it is the question file the build learns from.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FILE = "asked_before.npz"
FORMAT = 1


@dataclass
class AskedConfig:
    neighbours: int = 20  # earlier questions that vote
    temperature: float = 0.05  # softmax temperature over their cosines
    max_articles: int = 10  # voted articles added to the candidates


@dataclass
class Votes:
    rows: np.ndarray  # int64 index rows voted for, most votes first
    vote: np.ndarray  # float64 share of the neighbours' softmax mass (sums to <= 1)
    sim: np.ndarray  # float64 cosine of the nearest neighbour that cited the row
    nearest: float  # cosine of the nearest earlier question overall


class AskedBefore:
    """Question vectors (L2-normalised) and each question's gold index rows (``rows[indptr[j]:indptr[j + 1]]``
    for question ``j``); ``from_questions`` builds one at index build, ``load`` reads the build's."""

    def __init__(self, vectors: np.ndarray, indptr: np.ndarray, rows: np.ndarray, config: AskedConfig | None = None,
                 meta: dict | None = None):
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.indptr, self.rows = indptr, rows
        self.config = config or AskedConfig()
        self.meta = meta or {}

    @classmethod
    def from_questions(cls, vectors: np.ndarray, gold: list[list[int]], config: AskedConfig | None = None,
                       meta: dict | None = None) -> "AskedBefore":
        """From the questions' raw vectors and the index rows of their gold articles (``meta``: what they were
        learned from, kept with them)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        indptr = np.zeros(len(gold) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(g) for g in gold])
        rows = np.fromiter((r for g in gold for r in g), dtype=np.int64, count=int(indptr[-1]))
        return cls(vectors, indptr, rows, config, meta)

    def __len__(self) -> int:
        return len(self.vectors)

    def votes(self, qvec: np.ndarray, allowed: np.ndarray | None = None) -> Votes | None:
        """The articles the nearest earlier questions were answered by (only ``allowed`` rows)."""
        if not len(self.vectors):
            return None
        cfg = self.config
        q = np.asarray(qvec, dtype=np.float32).ravel()
        q = q / max(float(np.linalg.norm(q)), 1e-9)
        sims = self.vectors @ q
        k = min(cfg.neighbours, len(sims))
        near = np.argpartition(-sims, k - 1)[:k]
        near = near[np.argsort(-sims[near], kind="stable")]
        weights = np.exp((sims[near] - sims[near[0]]) / cfg.temperature)
        weights = weights / weights.sum()
        vote: dict[int, float] = {}
        best: dict[int, float] = {}
        for j, w in zip(near.tolist(), weights.tolist()):
            for r in self.rows[self.indptr[j]:self.indptr[j + 1]].tolist():
                if allowed is not None and not allowed[r]:
                    continue
                vote[r] = vote.get(r, 0.0) + w
                best.setdefault(r, float(sims[j]))  # neighbours come nearest first
        if not vote:
            return Votes(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), float(sims[near[0]]))
        order = sorted(vote, key=lambda r: -vote[r])[:cfg.max_articles]
        return Votes(np.array(order, dtype=np.int64), np.array([vote[r] for r in order]),
                     np.array([best[r] for r in order]), float(sims[near[0]]))

    def save(self, folder: str | Path) -> None:
        np.savez(Path(folder) / FILE, vectors=self.vectors.astype(np.float16), indptr=self.indptr, rows=self.rows,
                 meta=np.array(json.dumps(dict(self.meta, format=FORMAT), ensure_ascii=False)))

    @classmethod
    def load(cls, folder: str | Path, n_rows: int, dim: int | None = None) -> "AskedBefore | None":
        """The build's questions, or None (none kept, or made for other vectors / another index)."""
        path = Path(folder) / FILE
        if not path.exists():
            return None
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            vectors, indptr, rows = data["vectors"], data["indptr"], data["rows"]
        if meta.get("format") != FORMAT or (dim and vectors.shape[1] != dim) or (len(rows) and rows.max() >= n_rows):
            log.warning("ignoring %s: made for other vectors or another index", path)
            return None
        return cls(vectors, indptr, rows, meta=meta)

    def describe(self) -> dict:
        return {"questions": len(self), **{k: v for k, v in self.meta.items() if k != "format"}}
