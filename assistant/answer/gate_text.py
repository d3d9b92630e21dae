"""The gate's text classifier, fitted once per index build and read back without scikit-learn.

Fitting the character n-gram classifier (``gate.QuestionClassifier``) costs about 3.5 s in a fresh process,
most of it importing scikit-learn, and every ``assistant ask`` paid it. The fit is a TF-IDF vectoriser and a
logistic regression, i.e. a vocabulary with one idf weight and one coefficient per n-gram: that is written to
the index's build folder (``gate_text.json``, keyed by the training questions and the fit's settings, like the
semantic classifier's ``gate_semantic.json``) and applied here in plain Python, giving the same probability
(tests/test_answer_gate_text.py checks it against the scikit-learn fit).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: the fitted text classifier in an index's build folder
TEXT_FILE = "gate_text.json"
#: bump when the way the file is read or the classifier is fitted changes
FORMAT = 2
#: how gate.QuestionClassifier fits (part of the file's key: change it with the fit)
FIT_SETTINGS = "char 1-2-gram tf-idf (sublinear) + logistic regression C=4 balanced"
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's char analyser folds whitespace runs the same way


def char_ngrams(text: str, low: int = 1, high: int = 2) -> list[str]:
    """scikit-learn's ``analyzer="char"`` n-grams: lowercased, whitespace runs folded to one space."""
    text = _WHITE_SPACES.sub(" ", text.lower())
    out = []
    for n in range(low, min(high, len(text)) + 1):
        out += [text[i:i + n] for i in range(len(text) - n + 1)]
    return out


@dataclass
class FittedTextClassifier:
    """P(legal question) = sigmoid(intercept + coef · l2-normalised (1 + log tf) · idf) over character n-grams
    of the question's content words (``gate.question_content``): TfidfVectorizer(sublinear_tf) + logistic
    regression, as fitted, without scikit-learn."""

    weights: dict[str, tuple[float, float]]  # n-gram -> (idf, coefficient)
    intercept: float
    ngram_range: tuple[int, int] = (1, 2)

    @classmethod
    def from_sklearn(cls, clf) -> "FittedTextClassifier":
        """From a fitted ``gate.QuestionClassifier``."""
        vec, model = clf.vectorizer, clf.model
        if not (vec.sublinear_tf and vec.use_idf and vec.norm == "l2" and vec.analyzer == "char" and vec.lowercase):
            raise ValueError("only a char n-gram TfidfVectorizer with sublinear tf, idf and l2 norm can be kept")
        coef = model.coef_[0]
        weights = {gram: (float(vec.idf_[j]), float(coef[j])) for gram, j in vec.vocabulary_.items()}
        return cls(weights, float(model.intercept_[0]), tuple(vec.ngram_range))

    def probability(self, text: str) -> float:
        from assistant.answer.gate import question_content

        counts = Counter(g for g in char_ngrams(question_content(text), *self.ngram_range) if g in self.weights)
        values = [((1.0 + math.log(tf)) * self.weights[g][0], self.weights[g][1]) for g, tf in counts.items()]
        norm = math.sqrt(sum(v * v for v, _ in values)) or 1.0
        z = self.intercept + sum(v * c for v, c in values) / norm
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_dict(self, key: str) -> dict:
        grams = list(self.weights)  # three flat lists: read back in a third of the time of a dict of pairs
        return {"format": FORMAT, "key": key, "intercept": self.intercept, "ngram_range": list(self.ngram_range),
                "grams": grams, "idf": [self.weights[g][0] for g in grams], "coef": [self.weights[g][1] for g in grams]}


def fit_key(questions: str, corpus_sentences: int) -> str:
    """What the fit depends on besides the corpus (the build folder belongs to one corpus): the training
    questions (``gate.training_key``), the number of corpus sentences sampled, and how the classifier is fitted."""
    settings = json.dumps({"format": FORMAT, "corpus_sentences": corpus_sentences, "fit": FIT_SETTINGS})
    return hashlib.sha256("\n".join([settings, questions]).encode("utf-8")).hexdigest()[:24]


def load_text_classifier(folder: Path | None, key: str) -> FittedTextClassifier | None:
    """The fit kept in ``folder`` for ``key``; None when there is none, it is for other questions or settings,
    or it cannot be read."""
    if folder is None:
        return None
    try:
        data = json.loads((Path(folder) / TEXT_FILE).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("key") != key:
            return None
        if not len(data["grams"]) == len(data["idf"]) == len(data["coef"]):
            raise ValueError("grams, idf and coef differ in length")
        weights = dict(zip(data["grams"], zip(data["idf"], data["coef"])))
        return FittedTextClassifier(weights, float(data["intercept"]), tuple(data["ngram_range"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("gate text classifier in %s not read (fitting again): %s", folder, exc)
        return None


def save_text_classifier(folder: Path | None, key: str, clf: FittedTextClassifier) -> bool:
    """Write the fit whole, then rename (a reader never sees half a file); False on a read-only build folder."""
    if folder is None:
        return False
    saved = Path(folder) / TEXT_FILE
    part = saved.with_name(f"{saved.name}.{os.getpid()}.part")
    try:
        part.write_text(json.dumps(clf.to_dict(key), ensure_ascii=False), encoding="utf-8")
        os.replace(part, saved)
        return True
    except OSError as exc:  # a read-only index: fit again next time
        log.info("gate text classifier not kept in %s: %s", folder, exc)
        part.unlink(missing_ok=True)
        return False


def text_classifier(gate) -> FittedTextClassifier:
    """The text classifier for ``gate``'s corpus: read from its index's build folder, or fitted (with
    scikit-learn, on the training questions plus sentences sampled from the corpus) and kept there."""
    from assistant.answer.gate import QuestionClassifier, corpus_sentences, training_key, training_questions

    key = fit_key(training_key(), gate.config.corpus_sentences)
    folder = gate._build_folder()
    clf = load_text_classifier(folder, key)
    if clf is not None:
        return clf
    pos, neg = training_questions()
    try:
        pos = pos + corpus_sentences(gate.store, gate.config.corpus_sentences)
    except Exception:  # a store without a law listing: the written questions alone
        pass
    clf = FittedTextClassifier.from_sklearn(QuestionClassifier(pos, neg))
    save_text_classifier(folder, key, clf)
    return clf
