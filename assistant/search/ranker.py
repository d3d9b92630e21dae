"""A learned ranker over the candidates of hybrid search, fitted at index build from the question set.

Hybrid search gathers candidates from BM25 (with the learned everyday wording), the dense list(s) and the
law router. Each candidate gets a row of features — BM25 of the user's words, BM25 of the learned statute
words, raw and adapted dense cosine, its rank in each
list, the law router's posterior and the learned law score, the question's length and the hand-fused score of
earlier rounds — and a LambdaRank model (LightGBM) reorders
the best ``rerank_depth`` candidates by them. Which candidates exist is unchanged; only their order is
learned, so a missing or unreadable model leaves today's fused order (graceful degradation).

The model is learned at index build (``fit_ranker``) from the packaged question set with cross-fitting: the
wording map and the article associations used to compute a training question's features are learned
without that question (two folds by question), so the model sees those features as they are for a new
question, not inflated by the question having taught them.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_FILE = "ranker.txt"
META_FILE = "ranker.json"
FORMAT = 3  # 3: + the votes of the nearest earlier questions (assistant.search.asked)

#: the per-candidate features, in column order (the model file records them; a mismatch is refused)
FEATURES = (
    "hand",  # the hand-fused score (BM25 + dense + prior), as ranked before a model existed
    "bm25",  # BM25 of the user's own words, over the query's best
    "bm25_learned",  # BM25 of the learned statute words (expansion), over its best
    "dense",  # raw cosine with the query vector
    "dense_adapted",  # cosine with the adapted query vector (= dense without an adapter)
    "dense_gap",  # cosine minus the best cosine among the candidates
    "bm25_rank",  # log1p rank in the BM25 list (large when absent)
    "dense_rank",  # log1p rank in the dense list (large when absent)
    "in_both",  # found by both lists
    "law_posterior",  # the router's log posterior of the article's law
    "law_rank",  # the law's rank in the router's order (0 = the preferred law)
    "law_learned",  # learned law score (earlier questions' laws)
    "crime_article",  # a 刑法 分则 article, for a query that reads like a criminal case
    "query_chars",  # log question length
    "query_words",  # number of query words known to the index
    "asked_vote",  # share of the nearest earlier questions' softmax mass that voted for the article
    "asked_sim",  # cosine of the nearest earlier question answered by the article (0 when none)
    "asked_nearest",  # cosine of the nearest earlier question overall: was something like this asked before?
)
#: left out, measured on the dev sets (R@5 STARD / lawyer-llama / CAIL, ranker on the 13,817 learn questions):
#: with them 0.520 / 0.329 / 0.647, without 0.525 / 0.337 / 0.663. Which articles helpers chose to write about
#: (the article's kind, its position in the law, its length) and the association with earlier questions teach
#: the model the question set's own habits, not what real questions ask: "association", "kind", "position",
#: "first_articles", "text_chars"

ABSENT_RANK = math.log1p(1000)


@dataclass
class Candidates:
    """The candidates of one query: index rows, their hand-fused score and their feature rows."""

    rows: np.ndarray  # int64 index rows
    hand: np.ndarray  # float64 hand-fused score (the fallback order)
    features: np.ndarray  # float32 (n, len(FEATURES))
    found: list[set] = field(default_factory=list)  # which lists found each candidate ("bm25", "dense", "asked")

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class RankerConfig:
    rerank_depth: int = 100  # candidates (by the hand order) the model reorders; the rest follow
    num_trees: int = 100
    num_leaves: int = 15
    learning_rate: float = 0.05
    min_data_in_leaf: int = 40
    #: questions used for training at build (sampled; the whole file teaches the wording map regardless).
    #: 2,000 give the same R@5 as 4,000 (±0.012 on the dev sets and held-out articles) and keep the learning
    #: within a minute of a rebuild (scripts/bench_build.py: +40 s, against +66 s with 4,000)
    max_questions: int = 2000
    folds: int = 2
    #: share of the articles whose questions a fold's models also learn without (``fit.fold_training``): the
    #: ranker then also learns from questions whose votes and learned words point elsewhere, as for an article
    #: nobody asked about. 0.5 with the 29,552-question set (docs/results/62_, 63_): held-out articles R@5
    #: 0.432 -> 0.484, dev sets -0.030...+0.009 against 0; with the shipped set 0 is kept
    uncovered_share: float = 0.0
    #: fewer questions with their gold article in the index than this: learn no adapter or ranker
    min_questions: int = 300
    #: the model's starting point: this times the hand-fused score (0 = learn the order from scratch)
    hand_scale: float = 5.0
    seed: int = 13


def import_lightgbm():
    """``lightgbm``, imported without scikit-learn when nothing has imported it yet: lightgbm imports it only
    for its scikit-learn estimators (unused here), and that costs ~1.4 s of every cold ``assistant ask``."""
    import sys

    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        import lightgbm

        return lightgbm
    sys.modules["sklearn"] = None  # an ImportError for lightgbm's optional `import sklearn`
    try:
        import lightgbm
    finally:
        del sys.modules["sklearn"]
    return lightgbm


class LearnedRanker:
    """A LightGBM LambdaRank model over ``FEATURES`` (loaded from a build folder)."""

    def __init__(self, booster, meta: dict):
        self.booster = booster
        self.meta = meta
        self.rerank_depth = int(meta.get("rerank_depth", RankerConfig.rerank_depth))
        self.hand_scale = float(meta.get("hand_scale", 0.0))

    @classmethod
    def load(cls, folder: str | Path) -> "LearnedRanker | None":
        folder = Path(folder)
        if not (folder / MODEL_FILE).exists():
            return None
        meta = json.loads((folder / META_FILE).read_text("utf-8"))
        if meta.get("format") != FORMAT or tuple(meta.get("features", ())) != FEATURES:
            log.warning("ignoring ranker in %s: made for other features (format %s)", folder, meta.get("format"))
            return None
        lgb = import_lightgbm()
        return cls(lgb.Booster(model_file=str(folder / MODEL_FILE)), meta)

    def order(self, cands: Candidates) -> tuple[np.ndarray, np.ndarray]:
        """(order, scores): candidate indices best first and a score per candidate (model score on the
        reordered head, below it the hand order)."""
        hand_order = np.argsort(-cands.hand, kind="stable")
        head = hand_order[:self.rerank_depth]
        x = cands.features[head]
        pred = self.booster.predict(x, num_threads=1) + self.hand_scale * x[:, FEATURES.index("hand")]
        head_sorted = head[np.argsort(-pred, kind="stable")]
        scores = np.full(len(cands), -np.inf)
        lo = float(pred.min()) if len(pred) else 0.0
        scores[head] = pred
        rest = hand_order[self.rerank_depth:]
        # below the reordered head, keep the hand order with scores under the head's lowest
        scores[rest] = lo - 1.0 - np.arange(len(rest)) * 1e-6
        return np.concatenate([head_sorted, rest]), scores

    def describe(self) -> dict:
        return {k: self.meta[k] for k in ("trained_on", "questions", "groups", "positives", "seconds",
                                          "num_trees", "rerank_depth", "fit") if k in self.meta}


def fit_lambdarank(groups: list[tuple[np.ndarray, np.ndarray]], config: RankerConfig | None = None, *,
                   feature_names: tuple[str, ...] = FEATURES, init_feature: str | None = "hand",
                   categorical: tuple[str, ...] = ()):
    """Train LambdaRank on (features, labels) per query; returns the booster and the fit summary. Boosting
    starts from ``config.hand_scale`` x the ``init_feature`` column (None: from zero)."""
    import lightgbm as lgb

    config = config or RankerConfig()
    groups = [(x, y) for x, y in groups if y.any() and not y.all()]
    if len(groups) < 20:
        raise ValueError(f"too few training questions with a gold article among their candidates ({len(groups)})")
    x = np.concatenate([g[0] for g in groups]).astype(np.float32)
    y = np.concatenate([g[1] for g in groups]).astype(np.int32)
    sizes = [len(g[1]) for g in groups]
    params = {"objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [5], "learning_rate": config.learning_rate,
              "num_leaves": config.num_leaves, "min_data_in_leaf": config.min_data_in_leaf, "verbose": -1,
              "num_threads": 1, "seed": config.seed, "deterministic": True, "force_row_wise": True,
              "lambdarank_truncation_level": 20}
    # boosting starts from the hand-fused order (init score) and learns a correction to it: with few
    # training questions it stays near the order that served before
    init = config.hand_scale * x[:, feature_names.index(init_feature)] if init_feature else None
    data = lgb.Dataset(x, y, group=sizes, init_score=init, feature_name=list(feature_names),
                       categorical_feature=list(categorical) or "auto", free_raw_data=True)
    booster = lgb.train(params, data, num_boost_round=config.num_trees)
    return booster, {"groups": len(groups), "rows": int(len(y)), "positives": int(y.sum())}


def save_ranker(booster, meta: dict, folder: str | Path) -> None:
    folder = Path(folder)
    booster.save_model(str(folder / MODEL_FILE))
    (folder / META_FILE).write_text(json.dumps(dict(meta, format=FORMAT, features=list(FEATURES)),
                                               ensure_ascii=False, indent=1), "utf-8")
