"""Evaluation metrics: text overlap (ROUGE / BLEU-4) and citation accuracy.

Text overlap follows ChatGLM2's ``ptuning/main.py`` recipe exactly, so figures are comparable with the
numbers people publish for ChatGLM2 fine-tunes:

* ROUGE-1 / ROUGE-2 / ROUGE-L F-scores from the ``rouge-chinese`` package over jieba tokens joined by
  spaces (``Rouge().get_scores(' '.join(hyp), ' '.join(ref))``);
* BLEU-4 over *characters*: ``sentence_bleu([list(ref)], list(pred), SmoothingFunction().method3)``;
* each per-example score ×100 and rounded to 4 decimals, then averaged.

One deliberate difference: ``rouge-chinese`` raises on an empty hypothesis; here an empty (or whitespace
only) prediction or reference scores 0 on every metric, so one bad generation cannot abort a whole run.
ROUGE-L's longest common subsequence costs the product of the two lengths, so both texts are scored on
their first ``MAX_SCORED_CHARS`` characters (no dev-set reference or answer comes near it; a 200,000-character
reference would otherwise take minutes).

Citation metrics work on citation-check dicts (``assistant.answer.types.CitationCheck.to_dict()``) and on
gold articles given as a law name plus article numbers, compared as (short law name, article number).
第N条之一 is folded into N by default, as the dev sets label it.
"""
from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from assistant.data.gold import ArticleKey, article_key, key_from_article_id, key_label

TEXT_METRICS = ("rouge-1", "rouge-2", "rouge-l", "bleu-4")
MAX_SCORED_CHARS = 10_000

# ---------------------------------------------------------------------------------------------------
# ROUGE / BLEU-4
# ---------------------------------------------------------------------------------------------------

_tokenizer = None
_rouge = None
_smoothing = None


def _jieba():
    """A private jieba tokenizer with the stock dictionary.

    The search stage adds the corpus vocabulary to the *global* jieba dictionary; scoring with that
    would make ROUGE depend on which modules happened to be imported. A separate ``jieba.Tokenizer``
    keeps the reference recipe's segmentation whatever else runs in the process.
    """
    global _tokenizer
    if _tokenizer is None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.initialize()
        _tokenizer = tok
    return _tokenizer


def tokenize(text: str) -> list[str]:
    """jieba tokens of ``text`` (precise mode), as the recipe feeds them to ROUGE."""
    return list(_jieba().cut(text))


def _scorers():
    global _rouge, _smoothing
    if _rouge is None:
        from nltk.translate.bleu_score import SmoothingFunction
        from rouge_chinese import Rouge

        _rouge = Rouge()
        _smoothing = SmoothingFunction().method3
    return _rouge, _smoothing


def score_pair(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F and char BLEU-4 (×100, 4 decimals) of one prediction against one reference."""
    prediction = (prediction or "")[:MAX_SCORED_CHARS]
    reference = (reference or "")[:MAX_SCORED_CHARS]
    zero = {k: 0.0 for k in TEXT_METRICS}
    if not prediction.strip() or not reference.strip():
        return zero
    rouge, smoothing = _scorers()
    hyp = " ".join(tokenize(prediction))
    ref = " ".join(tokenize(reference))
    out = dict(zero)
    try:
        scores = rouge.get_scores(hyp, ref)[0]
    except (ValueError, ZeroDivisionError):
        # rouge-chinese drops whitespace tokens; a text of only spaces/newlines leaves nothing to score
        scores = None
    if scores:
        for key in ("rouge-1", "rouge-2", "rouge-l"):
            out[key] = round(scores[key]["f"] * 100, 4)
    from nltk.translate.bleu_score import sentence_bleu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns about zero n-gram overlaps; method3 handles them
        bleu = sentence_bleu([list(reference)], list(prediction), smoothing_function=smoothing)
    out["bleu-4"] = round(float(bleu) * 100, 4)
    return out


def rouge_bleu(predictions: Sequence[str], references: Sequence[str], *,
               per_example: bool = False) -> dict[str, Any]:
    """Mean ROUGE-1/2/L F and char BLEU-4 (×100) over aligned lists, ChatGLM2 ``main.py`` style.

    Returns ``{"rouge-1", "rouge-2", "rouge-l", "bleu-4", "n"}`` (plus ``"per_example"``: one dict per
    pair, when asked). An empty list gives zeros with ``n == 0``.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    rows = [score_pair(p, r) for p, r in zip(predictions, references)]
    out: dict[str, Any] = {k: (float(statistics.fmean(r[k] for r in rows)) if rows else 0.0) for k in TEXT_METRICS}
    out["n"] = len(rows)
    if per_example:
        out["per_example"] = rows
    return out


def make_compute_metrics(tokenizer, *, ignore_pad_token_for_loss: bool = True):
    """A ``compute_metrics`` for ``Seq2SeqTrainer(predict_with_generate=True)``.

    ``preds`` must hold the generated continuation only (causal LMs: strip the prompt in the trainer's
    prediction step, as ChatGLM2's ``trainer_seq2seq.py`` does). The Trainer pads predictions across
    batches with -100 and labels carry -100 where the loss is masked; both are mapped to the pad token
    before decoding because tokenizers cannot decode negative ids.
    """
    import numpy as np

    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0

    def compute_metrics(eval_preds) -> dict[str, float]:
        preds, labels = eval_preds[0], eval_preds[1]
        if isinstance(preds, tuple):
            preds = preds[0]
        preds = np.asarray(preds)
        if preds.ndim == 3:  # logits rather than generated ids
            preds = preds.argmax(-1)
        preds = np.where(preds < 0, pad_id, preds)
        labels = np.asarray(labels)
        if ignore_pad_token_for_loss:
            labels = np.where(labels < 0, pad_id, labels)
        decoded_preds = tokenizer.batch_decode(preds.tolist(), skip_special_tokens=True)
        decoded_labels = tokenizer.batch_decode(labels.tolist(), skip_special_tokens=True)
        scores = rouge_bleu(decoded_preds, decoded_labels)
        return {k: scores[k] for k in TEXT_METRICS}

    return compute_metrics


# ---------------------------------------------------------------------------------------------------
# Gold articles and citation keys
# ---------------------------------------------------------------------------------------------------

def citation_key(check: Mapping[str, Any], *, fold_suffix: bool = True) -> ArticleKey | None:
    """Key of a citation-check dict: its resolved law, else the law as written (an unresolvable law
    such as 合同法 still counts as a cited article — a wrong one). None without any law."""
    law = check.get("law") or check.get("law_text")
    number = check.get("number")
    if not law or number is None:
        return None
    return article_key(law, number, check.get("suffix") or "", fold_suffix=fold_suffix)


# ---------------------------------------------------------------------------------------------------
# Per-answer citation scores
# ---------------------------------------------------------------------------------------------------

_REPEALED_STATUSES = {"repealed", "已废止"}
_SUPERSEDED_STATUSES = {"historical", "历史版本"}

#: phrases by which an answer declines or says no article applies
ABSTAIN_PATTERNS = (
    "无法回答", "不能回答", "无法确定", "无法判断", "无法给出", "无法提供", "没有找到", "未找到", "未能找到",
    "没有检索到", "未检索到", "没有相关", "暂无相关", "不在提供的", "没有适用", "无适用", "无法找到",
    "I don't know", "cannot answer",
)


def is_abstention(text: str, patterns: Sequence[str] = ABSTAIN_PATTERNS) -> bool:
    """True when the answer is empty or declines (no article found / cannot answer)."""
    t = (text or "").strip()
    if not t:
        return True
    return any(p in t for p in patterns)


@dataclass
class CitationScore:
    """Citation accuracy of one answer against its gold articles."""

    n_citations: int  # citation mentions (a range 第1条至第3条 counts 3)
    cited: list[ArticleKey]  # unique cited articles, in order of first mention
    gold: list[ArticleKey]
    true_positives: int  # unique cited articles that are gold
    hallucinated: int  # mentions of articles that do not exist (incl. laws not in the corpus)
    unresolved: int  # mentions whose law could not be resolved (subset of hallucinated)
    not_in_context: int  # mentions of articles not among those given to the model
    context_known: int  # mentions for which in_context is known (True/False, not None)
    repealed: int
    superseded: int
    unsupported: int
    not_yet_in_force: int = 0  # mentions of articles not in force on the day asked

    @property
    def precision(self) -> float | None:
        return self.true_positives / len(self.cited) if self.cited else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / len(self.gold) if self.gold else None

    @property
    def f1(self) -> float | None:
        """Per-answer F1; 0 when either side is empty but not both, None when both are."""
        if not self.gold and not self.cited:
            return None
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_citations": self.n_citations, "cited": [key_label(k) for k in self.cited],
            "gold": [key_label(k) for k in self.gold], "true_positives": self.true_positives,
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
            "hallucinated": self.hallucinated, "unresolved": self.unresolved,
            "not_in_context": self.not_in_context, "repealed": self.repealed, "superseded": self.superseded,
            "unsupported": self.unsupported, "not_yet_in_force": self.not_yet_in_force,
        }


def _is_repealed(c: Mapping[str, Any]) -> bool:
    return c.get("verdict") == "repealed" or c.get("status") in _REPEALED_STATUSES


def _is_superseded(c: Mapping[str, Any]) -> bool:
    return c.get("verdict") == "superseded" or c.get("status") in _SUPERSEDED_STATUSES


def _support_label(c: Mapping[str, Any]) -> str | None:
    s = c.get("support")
    if isinstance(s, Mapping):
        return s.get("label")
    return c.get("support_label")


def score_citations(citations: Sequence[Mapping[str, Any]], gold: Iterable[ArticleKey] = (), *,
                    fold_suffix: bool = True) -> CitationScore:
    """Score one answer's citation-check dicts against its gold article keys."""
    gold_list = list(dict.fromkeys(gold))
    cited: list[ArticleKey] = []
    hallucinated = unresolved = not_in_context = context_known = repealed = superseded = unsupported = 0
    not_yet = 0
    for c in citations:
        key = citation_key(c, fold_suffix=fold_suffix)
        if key is not None and key not in cited:
            cited.append(key)
        if not c.get("exists", False):
            hallucinated += 1
            if not c.get("law"):
                unresolved += 1
        if c.get("in_context") is not None:
            context_known += 1
            if c.get("in_context") is False:
                not_in_context += 1
        repealed += _is_repealed(c)
        superseded += _is_superseded(c)
        unsupported += _support_label(c) == "unsupported"
        not_yet += c.get("verdict") == "not_yet_in_force" or c.get("status") == "not_yet_in_force"
    gold_set = set(gold_list)
    return CitationScore(
        n_citations=len(citations), cited=cited, gold=gold_list,
        true_positives=sum(1 for k in cited if k in gold_set), hallucinated=hallucinated, unresolved=unresolved,
        not_in_context=not_in_context, context_known=context_known, repealed=repealed, superseded=superseded,
        unsupported=unsupported, not_yet_in_force=not_yet)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def aggregate_citations(scores: Sequence[CitationScore]) -> dict[str, Any]:
    """Citation metrics over a run.

    * ``citation_precision/recall/f1``: micro-averaged over rows that have gold articles (unique
      cited articles per answer vs gold); ``citation_f1_macro``: mean per-answer F1 over those rows.
    * ``hallucination_rate``, ``not_in_context_rate``, ``repealed_rate``, ``superseded_rate``,
      ``not_yet_in_force_rate`` (cited articles whose text starts after the day asked), ``unsupported_rate``: shares of all citation mentions (``not_in_context_rate`` only over mentions
      whose context is known); ``answers_with_hallucination``: share of answers citing ≥ 1 nonexistent
      article. Rates are None when there is nothing to divide by.
    """
    with_gold = [s for s in scores if s.gold]
    tp = sum(s.true_positives for s in with_gold)
    n_cited = sum(len(s.cited) for s in with_gold)
    n_gold = sum(len(s.gold) for s in with_gold)
    p, r = _ratio(tp, n_cited), _ratio(tp, n_gold)
    f1 = None
    if p is not None or r is not None:
        pp, rr = p or 0.0, r or 0.0
        f1 = 2 * pp * rr / (pp + rr) if pp + rr else 0.0
    macro = [s.f1 for s in with_gold if s.f1 is not None]
    mentions = sum(s.n_citations for s in scores)
    return {
        "rows_with_gold": len(with_gold),
        "citation_precision": p, "citation_recall": r, "citation_f1": f1,
        "citation_f1_macro": float(statistics.fmean(macro)) if macro else None,
        "citations": mentions,
        "citations_per_answer": _ratio(mentions, len(scores)),
        "hallucination_rate": _ratio(sum(s.hallucinated for s in scores), mentions),
        "unresolved_rate": _ratio(sum(s.unresolved for s in scores), mentions),
        "not_in_context_rate": _ratio(sum(s.not_in_context for s in scores), sum(s.context_known for s in scores)),
        "repealed_rate": _ratio(sum(s.repealed for s in scores), mentions),
        "superseded_rate": _ratio(sum(s.superseded for s in scores), mentions),
        "not_yet_in_force_rate": _ratio(sum(s.not_yet_in_force for s in scores), mentions),
        "unsupported_rate": _ratio(sum(s.unsupported for s in scores), mentions),
        "answers_with_hallucination": _ratio(sum(1 for s in scores if s.hallucinated), len(scores)),
    }


# ---------------------------------------------------------------------------------------------------
# Retrieval quality of the context actually given to the model, latency
# ---------------------------------------------------------------------------------------------------

def context_retrieval(retrieved_ids: Sequence[str], gold: Iterable[ArticleKey], *,
                      fold_suffix: bool = True) -> dict[str, float] | None:
    """Recall and reciprocal rank of the gold articles within the retrieved context (None without gold)."""
    gold_set = set(gold)
    if not gold_set:
        return None
    keys = [key_from_article_id(i, fold_suffix=fold_suffix) for i in retrieved_ids]
    found = {k for k in keys if k in gold_set}
    rr = next((1.0 / rank for rank, k in enumerate(keys, 1) if k in gold_set), 0.0)
    return {"recall": len(found) / len(gold_set), "rr": rr, "hit": 1.0 if found else 0.0}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return float(s[k])


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    vals = [float(v) for v in latencies_ms if v is not None]
    return {"latency_ms_mean": float(statistics.fmean(vals)) if vals else None,
            "latency_ms_p50": percentile(vals, 50), "latency_ms_p95": percentile(vals, 95)}
