"""Fitting one index build's learned models from the question set: the query adapter and the ranker.

Called by the index build after the lexical index, the vectors and the wording map are in the build folder,
so the models learn from exactly the index they will serve with and swap in and out with it. Cross-fitting
(``RankerConfig.folds`` folds by question): the ranker's training features for a question come from a
wording map and an adapter learned without it, as they will be for a question nobody has asked before.
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.search.adapter import AdapterConfig, fit_adapter
from assistant.search.asked import AskedBefore
from assistant.search.learned import LearnedTerms, gold_rows, learn, read_question_rows
from assistant.search.ranker import RankerConfig, fit_lambdarank, save_ranker

log = logging.getLogger(__name__)


def _fold(question: str, folds: int) -> int:
    return int(hashlib.md5(question.encode("utf-8")).hexdigest(), 16) % folds


def fold_training(folds: np.ndarray, fold: int, gold: list[list[int]], ids: list[str],
                  uncovered_share: float = 0.0) -> np.ndarray:
    """The questions fold ``fold``'s models learn from: the other folds' questions, less (with
    ``uncovered_share``) those about a share of the articles, drawn per fold by article id, so that this fold's
    questions about those articles are ranked as about an article nobody asked about."""
    train = np.flatnonzero(folds != fold)
    if uncovered_share <= 0:
        return train

    def uncovered(row: int) -> bool:
        digest = hashlib.md5(f"{fold}:{ids[row]}".encode("utf-8")).hexdigest()
        return int(digest, 16) % 1000 < round(uncovered_share * 1000)

    masked = {r for g in gold for r in g if uncovered(r)}
    return np.array([i for i in train.tolist() if not masked.intersection(gold[i])], dtype=np.int64)


def question_vectors(retriever, questions: list[str], cache_path: Path | None) -> np.ndarray:
    """Raw query vectors of ``questions`` as search computes them, embedded once and kept in the home's
    vector cache (a rebuild after an edit of the question file embeds only the new questions)."""
    from assistant.search.vector_cache import QueryEmbedder, VectorCache, embed_with_cache, text_hash

    texts = [retriever.dense_query_text(q) for q in questions]
    embedder = QueryEmbedder(retriever.embedder)
    cache = VectorCache(cache_path) if cache_path is not None else None
    try:
        vecs, _ = embed_with_cache(embedder, cache, texts, [text_hash(t) for t in texts], batch_size=128)
    finally:
        if cache is not None:
            cache.close()
    return vecs


def fit_build_models(store, index, embedder, question_path: Path, folder: Path, cache_path: Path | None = None,
                     ranker_config: RankerConfig | None = None, adapter_config: AdapterConfig | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict:
    """Fit and save the adapter (when the index has vectors) and the ranker into ``folder``; returns what
    was learned from what (for the manifest and ``index info``)."""
    from assistant.search.retriever import Retriever, SearchConfig

    ranker_config = ranker_config or RankerConfig()
    t0 = time.perf_counter()
    pairs = gold_rows(read_question_rows(question_path), store, index.ids)
    source = f"{question_path.name}: {len(pairs)} questions with their gold article in the index"
    if len(pairs) < ranker_config.min_questions:
        # a few dozen questions (a small corpus of one's own) teach a model noise, and a poorly fitted ranker
        # buries a newly imported law nobody asked about yet: the hand-fused order serves instead
        log.info("only %d questions with gold articles in the index: no ranker or adapter learned", len(pairs))
        return {"skipped": f"{len(pairs)} questions with their gold article in the index "
                           f"({ranker_config.min_questions} needed)"}
    base = Retriever(store, index, embedder, SearchConfig(learned_ranker=False, query_adapter=False), learned=None)
    questions = [q for q, _ in pairs]
    gold = [g for _, g in pairs]
    docs = base._flat  # article vectors (flat FAISS); None without vectors or for HNSW / IVF
    qvecs = question_vectors(base, questions, cache_path) if docs is not None else None
    vocab = index.lexical.vocab
    # folds by question, not by gold article: by article, a training question's own article never has an
    # association while its neighbours (same law, asked about) do, and the model learned association as
    # evidence *against* an article (dev R@5 fell by 0.08-0.28)
    folds = np.array([_fold(q, ranker_config.folds) for q in questions])
    rng = np.random.default_rng(ranker_config.seed)
    per_fold = max(1, ranker_config.max_questions // ranker_config.folds)
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    done, total = 0, 0
    samples = []
    for f in range(ranker_config.folds):
        members = np.flatnonzero(folds == f)
        samples.append(rng.permutation(members)[:per_fold])
        total += len(samples[-1])
    for f in range(ranker_config.folds):
        train = fold_training(folds, f, gold, index.ids, ranker_config.uncovered_share)
        artefact = learn([(base.query_tokens(questions[i]), gold[i]) for i in train], index.lexical, index.ids)
        base.learned = LearnedTerms(artefact, index.ids, vocab)
        base.adapter = base.asked = None
        if qvecs is not None:
            base.adapter = fit_adapter(qvecs[train], [gold[i] for i in train], docs, adapter_config)
            base.asked = AskedBefore.from_questions(qvecs[train], [gold[i] for i in train])
        for i in samples[f].tolist():
            cands = base.candidates(questions[i], base._in_force, k=10,
                                    qvec=qvecs[i] if qvecs is not None else None, features=True)
            done += 1
            if progress is not None:
                progress(done, total)
            if cands is None or not len(cands):
                continue
            head = np.argsort(-cands.hand, kind="stable")[:ranker_config.rerank_depth]
            labels = np.isin(cands.rows[head], gold[i]).astype(np.int32)
            groups.append((cands.features[head], labels))
    t_features = time.perf_counter() - t0
    booster, fit = fit_lambdarank(groups, ranker_config)
    meta = {"trained_on": source, "questions": total, "seconds": None, "num_trees": ranker_config.num_trees,
            "rerank_depth": ranker_config.rerank_depth, "fit": fit, "folds": ranker_config.folds,
            "hand_scale": ranker_config.hand_scale}
    learned: dict = {}
    if qvecs is not None:
        adapter = fit_adapter(qvecs, gold, docs, adapter_config, trained_on=source)
        adapter.save(folder)
        learned["query_adapter"] = adapter.describe()
        asked = AskedBefore.from_questions(qvecs, gold, meta={"trained_on": source})
        asked.save(folder)
        learned["asked_before"] = asked.describe()
    meta["seconds"] = round(time.perf_counter() - t0, 2)
    meta["feature_seconds"] = round(t_features, 2)
    save_ranker(booster, meta, folder)
    learned["ranker"] = {k: meta[k] for k in ("trained_on", "questions", "fit", "seconds")}
    return learned
