"""Which 款 answers the question: a LightGBM LambdaRank model over every (article, 款) candidate of the
retrieved articles, learned from the question set's (question, article, 款, key fact) labels.

The selector (``assistant.answer.select``) computes ``CLAUSE_FEATURES`` for each candidate; the model turns
them into a score; the best-scoring 款 leads the answer and decides the order of the sources. The model
is fitted by ``scripts/fit_clause_model.py`` against an index built with one embedder (its cosines are
features) and ships in ``assistant/answer/data/``; a build folder may hold its own (``clause_model.txt``,
fitted for that index). When neither fits the index's embedder the selector falls back to its hand order.
"""
from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np

from assistant.search.query import QUESTION_TYPES

log = logging.getLogger(__name__)

#: what the model sees of one candidate 款; the order is the model file's (a change means a refit)
CLAUSE_FEATURES: tuple[str, ...] = (
    "cosine",  # question with its statute wording vs the 款 (with the law's short name and its section)
    "own_cosine",  # the user's own words vs the 款
    "cosine_below_article",  # how far below the best 款 of its own article
    "cosine_below_top",  # how far below the best 款 of all candidates
    "coverage",  # weighted share of the question's words the 款 holds (learned statute words half)
    "own_coverage",
    "heading_coverage",  # the same over the article's headings and the 款
    "coverage_below_top",
    "article_coverage",  # the share over the whole article
    "ask_coverage",  # the share of the words of the question's last clause (运费谁出: what is asked about)
    "rarest_word",  # the 款 holds the question's word rarest in the statutes
    "typed",  # a sub-sentence sharing the question's words states the kind of fact asked for
    "states_fact",  # the 款 states that kind of fact at all
    "qtype",  # the question's type (categorical: QUESTION_TYPES order + 1, 0 = none)
    "special_words",  # rare condition words (……的，) of the 款 the question does not use
    "rank",  # the article's rank in retrieval
    "paragraph",  # 0-based position of the 款 in its article
    "paragraphs",  # how many 款 the article has
    "from_end",  # 款 after this one
    "length",  # characters
    "items",  # 项 in the 款
    "refers_back",  # opens with 前款 / 本条所称 / 依照前… : it leans on another 款
    "has_number",  # states a number (period, amount, age ...)
    "question_length",
    # weighted share of the words of the question's last clause (what is asked about) that this 款 holds and
    # no other 款 of its article does: 运费 in 退回商品的运费由消费者承担, not in the 款 on the seven days
    "distinctive_ask_coverage",
)
#: what the silence decision (no retrieved 款 decides the question) sees of a selection, in the order of the
#: logistic fit's coefficients (``meta["silence"]["coef"]``; a fit with fewer reads the first ones). The clause
#: model's view (its top score, the lead over the next article's best 款) and the user's own words' view
#: (``ClauseSelector.silence_evidence``): a lead that holds what the question names decides it more often
SILENCE_FEATURES: tuple[str, ...] = (
    "top_score",  # the model's score of its first 款
    "lead",  # over the next article's best 款, in the model's own order
    "lead_lacks_rarest",  # the rarest in the statutes of the words the user wrote is not in the lead 款
    "lead_own_share",  # IDF-weighted share of the words the user wrote that the lead 款 holds
    "unmatched_rarity",  # rarity (IDF) of the rarest own statute word no retrieved article holds; 0: none
    # the general rule was put before the special case the model scored first (``select.general_before_special``;
    # score and lead are then the model's first's, the words the general rule's)
    "general_before_special",
)
QTYPE_CODES = {name: i for i, (name, _) in enumerate(QUESTION_TYPES, 1)}
MODEL_FILE = "clause_model.txt"
META_FILE = "clause_model.json"
FORMAT = 3
PACKAGED = Path(__file__).with_name("data")


class ClauseModel:
    """A fitted booster with its meta (``features``, ``embedder`` it was fitted with, fit summary)."""

    def __init__(self, booster, meta: dict):
        self.booster = booster
        self.meta = meta

    @classmethod
    def load(cls, folder: str | Path = PACKAGED) -> "ClauseModel | None":
        folder = Path(folder)
        if not (folder / MODEL_FILE).exists() or not (folder / META_FILE).exists():
            return None
        try:
            meta = json.loads((folder / META_FILE).read_text("utf-8"))
            if meta.get("format") != FORMAT or tuple(meta.get("features", ())) != CLAUSE_FEATURES:
                log.warning("ignoring clause model in %s: made for other features", folder)
                return None
            from assistant.search.ranker import import_lightgbm

            return cls(import_lightgbm().Booster(model_file=str(folder / MODEL_FILE)), meta)
        except Exception as exc:  # a broken model file: the hand order serves
            log.warning("ignoring clause model in %s: %s", folder, exc)
            return None

    @classmethod
    def for_index(cls, build_folder: str | Path | None, embedder_spec: str | None) -> "ClauseModel | None":
        """The build folder's own model, else the packaged one when it was fitted with this embedder."""
        if build_folder is not None:
            own = cls.load(build_folder)
            if own is not None:
                return own
        packaged = _packaged()
        if packaged is not None and packaged.meta.get("embedder") == embedder_spec:
            return packaged
        return None

    def score(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        return self.booster.predict(np.asarray(x, dtype=np.float32), num_threads=1)

    def confidence(self, *evidence: float) -> float | None:
        """P(the best-scoring 款 decides the question), from ``SILENCE_FEATURES`` in order (its score, its lead
        over the next article's best 款, then what of the question's words it holds): a logistic fit on
        out-of-sample scores, ``meta["silence"]``; None when not fitted."""
        fit = self.meta.get("silence") or {}
        coef = fit.get("coef")
        if not coef:
            return None
        if len(evidence) < len(coef):
            raise ValueError(f"the silence fit reads {len(coef)} features, got {len(evidence)}")
        z = sum(c * float(f) for c, f in zip(coef, evidence)) + fit["intercept"]
        return float(1.0 / (1.0 + np.exp(-z)))

    @property
    def silence_threshold(self) -> float:
        """At or below this confidence the retrieved articles are taken not to decide the question."""
        return float((self.meta.get("silence") or {}).get("threshold", 0.0))

    def describe(self) -> dict:
        return {k: self.meta[k] for k in ("embedder", "questions", "fitted_on", "heldout") if k in self.meta}


@functools.lru_cache(maxsize=1)
def _packaged() -> ClauseModel | None:
    """The packaged model, loaded once per process (every retriever swap asks again)."""
    return ClauseModel.load(PACKAGED)


def fit_clause_model(groups: list[tuple[np.ndarray, np.ndarray]], *, trees: int = 100):
    """LambdaRank over the candidates of each question (labels 2 / 1 / 0), from zero."""
    from assistant.search.ranker import RankerConfig, fit_lambdarank

    config = RankerConfig(num_trees=trees, num_leaves=7, min_data_in_leaf=50, learning_rate=0.05, hand_scale=0.0)
    return fit_lambdarank(groups, config, feature_names=CLAUSE_FEATURES, init_feature=None,
                          categorical=("qtype",))


def save_clause_model(booster, meta: dict, folder: str | Path) -> None:
    folder = Path(folder)
    booster.save_model(str(folder / MODEL_FILE))
    (folder / META_FILE).write_text(json.dumps(dict(meta, format=FORMAT, features=list(CLAUSE_FEATURES)),
                                               ensure_ascii=False, indent=1), "utf-8")
