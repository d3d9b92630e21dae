"""A linear query adapter for any dense embedder, fitted at index build from the question set.

Lay questions (我老公出轨了离婚财产怎么分) and statute articles (夫妻一方有过错的…) sit in different regions of a
general embedder's space. A linear map ``W`` applied to query vectors only — articles are not re-embedded —
moves questions toward the articles that answer them: trained contrastively (InfoNCE) on (question, gold
article) pairs, with the other golds of the batch and each question's closest non-gold articles (dense hard
negatives) as negatives, and pulled toward the identity so that it stays a correction, not a new space.
Seconds to fit on CPU for ten thousand questions; the map is a ``d×d`` matrix in the build folder.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MATRIX_FILE = "query_adapter.npy"
META_FILE = "query_adapter.json"


@dataclass
class AdapterConfig:
    epochs: int = 4
    batch: int = 256
    lr: float = 2e-3
    temperature: float = 0.05
    hard_negatives: int = 8  # per question: its closest non-gold articles by the raw cosine
    identity_weight: float = 1.0  # pull of ||W - I||^2 (relative to the contrastive loss)
    seed: int = 13


class QueryAdapter:
    def __init__(self, matrix: np.ndarray, meta: dict):
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.meta = meta

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Adapted, L2-normalised query vector(s)."""
        out = np.asarray(vectors, dtype=np.float32) @ self.matrix
        norm = np.linalg.norm(out, axis=-1, keepdims=True)
        return out / np.maximum(norm, 1e-9)

    @classmethod
    def load(cls, folder: str | Path, dim: int | None = None) -> "QueryAdapter | None":
        folder = Path(folder)
        if not (folder / MATRIX_FILE).exists():
            return None
        matrix = np.load(folder / MATRIX_FILE)
        if dim is not None and matrix.shape != (dim, dim):
            log.warning("ignoring query adapter of shape %s for vectors of %d dimensions", matrix.shape, dim)
            return None
        return cls(matrix, json.loads((folder / META_FILE).read_text("utf-8")))

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        np.save(folder / MATRIX_FILE, self.matrix)
        (folder / META_FILE).write_text(json.dumps(self.meta, ensure_ascii=False, indent=1), "utf-8")

    def describe(self) -> dict:
        return {k: self.meta[k] for k in ("trained_on", "pairs", "seconds", "epochs", "loss") if k in self.meta}


def hard_negatives(qvecs: np.ndarray, docs: np.ndarray, gold: list[list[int]], k: int) -> np.ndarray:
    """(n, k) rows of each question's closest non-gold articles by the raw cosine."""
    out = np.zeros((len(qvecs), k), dtype=np.int64)
    for start in range(0, len(qvecs), 512):
        sims = qvecs[start:start + 512] @ docs.T
        for i, row in enumerate(sims):
            for g in gold[start + i]:
                row[g] = -np.inf
            top = np.argpartition(-row, k)[:k]
            out[start + i] = top
    return out


def fit_adapter(qvecs: np.ndarray, gold: list[list[int]], docs: np.ndarray,
                config: AdapterConfig | None = None, trained_on: str = "") -> QueryAdapter:
    """``qvecs`` (n, d) normalised question vectors, ``gold`` their gold article rows, ``docs`` (N, d) the
    index's article vectors. Returns the fitted adapter."""
    import torch

    config = config or AdapterConfig()
    t0 = time.perf_counter()
    keep = [i for i, g in enumerate(gold) if g]
    qvecs = np.asarray(qvecs, dtype=np.float32)[keep]
    gold = [gold[i] for i in keep]
    n, d = qvecs.shape
    negs = hard_negatives(qvecs, docs, gold, config.hard_negatives)
    # one (question, gold) pair per gold article
    pair_q = np.fromiter((i for i, g in enumerate(gold) for _ in g), dtype=np.int64)
    pair_d = np.fromiter((r for g in gold for r in g), dtype=np.int64)
    gen = torch.Generator().manual_seed(config.seed)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        q_all = torch.from_numpy(qvecs)
        d_all = torch.from_numpy(np.ascontiguousarray(docs, dtype=np.float32))
        w = torch.nn.Parameter(torch.eye(d))
        opt = torch.optim.Adam([w], lr=config.lr)
        eye = torch.eye(d)
        last = 0.0
        for _ in range(config.epochs):
            perm = torch.randperm(len(pair_q), generator=gen).numpy()
            total, batches = 0.0, 0
            for start in range(0, len(perm), config.batch):
                idx = perm[start:start + config.batch]
                qi = pair_q[idx]
                cand = np.concatenate([pair_d[idx], negs[qi].ravel()])
                cand, inverse = np.unique(cand, return_inverse=True)
                target = torch.from_numpy(inverse[:len(idx)])
                q = torch.nn.functional.normalize(q_all[qi] @ w, dim=-1)
                logits = q @ d_all[cand].T / config.temperature
                # another gold of the same question is not a negative
                position = {int(c): k for k, c in enumerate(cand)}
                mask = np.zeros(logits.shape, dtype=bool)
                for i, (j, t) in enumerate(zip(qi.tolist(), inverse[:len(idx)].tolist())):
                    for g in gold[j]:
                        k = position.get(g)
                        if k is not None and k != t:
                            mask[i, k] = True
                logits = logits.masked_fill(torch.from_numpy(mask), -1e4)
                loss = torch.nn.functional.cross_entropy(logits, target)
                loss = loss + config.identity_weight * ((w - eye) ** 2).sum() / d
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach())
                batches += 1
            last = total / max(batches, 1)
        matrix = w.detach().numpy().copy()
    finally:
        torch.set_num_threads(torch_threads)
    meta = {"trained_on": trained_on, "pairs": int(len(pair_q)), "questions": int(n), "dim": int(d),
            "epochs": config.epochs, "loss": round(last, 4), "seconds": round(time.perf_counter() - t0, 2),
            "config": asdict(config)}
    return QueryAdapter(matrix, meta)
