"""Metric functions against values worked out by hand.

ROUGE follows rouge-chinese's defaults as ChatGLM2's main.py calls them: ROUGE-N counts *distinct*
n-grams (``exclusive=True``), ROUGE-L is one LCS over all tokens with the harmonic-mean F. BLEU-4 is
nltk's char-level sentence BLEU with smoothing method3 (a zero n-gram precision k becomes 1/(2^k·len)).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from assistant.data.gold import article_key, gold_keys, key_from_article_id
from assistant.eval.metrics import (
    aggregate_citations, context_retrieval, is_abstention, latency_summary, make_compute_metrics, rouge_bleu,
    score_citations, score_pair, tokenize)


def test_identical_texts_score_100():
    s = score_pair("醉酒驾驶机动车", "醉酒驾驶机动车")
    assert s == {"rouge-1": 100.0, "rouge-2": 100.0, "rouge-l": 100.0, "bleu-4": 100.0}


def test_two_word_difference_by_hand():
    # jieba: 我/爱/北京 vs 我/爱/上海
    assert tokenize("我爱北京") == ["我", "爱", "北京"]
    s = score_pair("我爱北京", "我爱上海")
    # ROUGE-1: 2 of 3 unigrams shared both ways -> F = 2/3
    assert s["rouge-1"] == pytest.approx(66.6667, abs=1e-4)
    # ROUGE-2: bigrams {我爱, 爱北京} vs {我爱, 爱上海} -> P = R = 1/2
    assert s["rouge-2"] == pytest.approx(50.0, abs=1e-4)
    # ROUGE-L: LCS 我 爱 = 2 of 3 tokens each side
    assert s["rouge-l"] == pytest.approx(66.6667, abs=1e-4)
    # char BLEU: p1 = 2/4, p2 = 1/3, p3 = 0/2 -> 1/(2·2), p4 = 0/1 -> 1/(4·1); equal lengths, BP = 1
    bleu = (0.5 * (1 / 3) * 0.25 * 0.25) ** 0.25
    assert s["bleu-4"] == pytest.approx(round(bleu * 100, 4), abs=1e-4)
    assert s["bleu-4"] == pytest.approx(31.9472, abs=1e-4)


def test_statute_sentence_by_hand():
    pred = "醉酒驾驶机动车，处拘役。"  # 醉酒/驾驶/机动车/，/处/拘役/。 (7 tokens, 7 distinct)
    ref = "醉酒驾驶机动车的，处拘役，并处罚金。"  # 11 tokens, 10 distinct (， twice)
    s = score_pair(pred, ref)
    # ROUGE-1 on distinct unigrams: overlap 7, P = 7/7, R = 7/10 -> F = 14/17
    assert s["rouge-1"] == pytest.approx(round(14 / 17 * 100, 4), abs=1e-4)
    # ROUGE-2: 6 pred bigrams, 10 ref bigrams, shared 醉酒驾驶 驾驶机动车 ，处 处拘役 -> P 4/6, R 4/10 -> 0.5
    assert s["rouge-2"] == pytest.approx(50.0, abs=1e-4)
    # ROUGE-L: the whole prediction is a subsequence: LCS 7, P = 1, R = 7/11 -> F = 14/18
    assert s["rouge-l"] == pytest.approx(round(14 / 18 * 100, 4), abs=1e-4)
    # BLEU: 12 vs 18 chars -> BP = e^(1-18/12); p1 12/12, p2 9/11, p3 7/10, p4 5/9
    bleu = math.exp(1 - 18 / 12) * (1 * 9 / 11 * 7 / 10 * 5 / 9) ** 0.25
    assert s["bleu-4"] == pytest.approx(bleu * 100, abs=1e-3)


@pytest.mark.parametrize("pred,ref", [("", "我爱上海"), ("   \n", "我爱上海"), ("我爱上海", ""), (None, "我")])
def test_empty_prediction_or_reference_scores_zero(pred, ref):
    assert score_pair(pred, ref) == {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0, "bleu-4": 0.0}


def test_rouge_bleu_averages_and_keeps_empty_rows():
    out = rouge_bleu(["我爱北京", "", "醉酒驾驶机动车"], ["我爱上海", "我爱上海", "醉酒驾驶机动车"], per_example=True)
    assert out["n"] == 3
    assert out["rouge-1"] == pytest.approx((66.6667 + 0 + 100) / 3, abs=1e-4)
    assert out["rouge-2"] == pytest.approx((50 + 0 + 100) / 3, abs=1e-4)
    assert out["bleu-4"] == pytest.approx((31.9472 + 0 + 100) / 3, abs=1e-4)
    assert out["per_example"][1]["rouge-l"] == 0.0
    assert rouge_bleu([], [])["n"] == 0
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        rouge_bleu(["a", "b"], ["a"])


def test_scoring_ignores_words_added_to_global_jieba():
    import jieba

    before = score_pair("我爱北京", "我爱上海")
    jieba.add_word("我爱北京")  # what a search index does with corpus vocabulary
    try:
        assert score_pair("我爱北京", "我爱上海") == before
    finally:
        jieba.del_word("我爱北京")


# --- gold articles and keys -----------------------------------------------------------------------

def test_gold_keys_fold_zhiyi_and_normalise_law_names():
    keys = gold_keys("刑法", [133, "第一百三十三条之一", "133之一", "民法典第1043条"])
    assert keys == {("刑法", 133, ""), ("民法典", 1043, "")}
    exact = gold_keys("中华人民共和国刑法", ["第一百三十三条之一", 133], fold_suffix=False)
    assert exact == {("刑法", 133, "之一"), ("刑法", 133, "")}
    assert gold_keys(None, [{"law": "民法典", "article": 1079}]) == {("民法典", 1079, "")}
    with pytest.raises(ValueError, match="has no law"):
        gold_keys(None, [1043])
    with pytest.raises(ValueError, match="not an article number"):
        gold_keys("刑法", ["abc"])


def test_key_from_article_id():
    assert key_from_article_id("中华人民共和国刑法#133之一") == ("刑法", 133, "")
    assert key_from_article_id("中华人民共和国刑法#133之一", fold_suffix=False) == ("刑法", 133, "之一")
    assert article_key("《中华人民共和国民法典》", 1043) == ("民法典", 1043, "")


# --- citation metrics -----------------------------------------------------------------------------

def _check(law, number, suffix="", *, exists=True, status="现行有效", in_context=True, label="supported",
           verdict="verified", law_text=None):
    return {"span": f"{law}第{number}条{suffix}", "law": law, "law_text": law_text or law, "number": number,
            "suffix": suffix, "exists": exists, "status": status, "in_context": in_context,
            "support": {"score": 0.5, "label": label}, "verdict": verdict}


def test_citation_scores_by_hand():
    xf = "中华人民共和国刑法"
    # answer 1 cites 133之一 (gold 133 folds to it), 133之一 again, and a nonexistent 刑法第999条
    a1 = [_check(xf, 133, "之一"), _check(xf, 133, "之一", label="weak"),
          _check(xf, 999, exists=False, status=None, in_context=False, label="unsupported", verdict="not_found")]
    s1 = score_citations(a1, gold_keys("刑法", [133, 234]))
    assert s1.cited == [("刑法", 133, ""), ("刑法", 999, "")]
    assert s1.true_positives == 1
    assert s1.precision == pytest.approx(1 / 2) and s1.recall == pytest.approx(1 / 2) and s1.f1 == pytest.approx(1 / 2)
    assert (s1.hallucinated, s1.not_in_context, s1.unsupported) == (1, 1, 1)

    # answer 2: 合同法 is not in the corpus (law unresolved) plus a repealed law's article not in context
    a2 = [{"span": "合同法第52条", "law": None, "law_text": "合同法", "number": 52, "suffix": "", "exists": False,
           "status": None, "in_context": None, "support": {"score": 0.0, "label": "unsupported"},
           "verdict": "unresolved"},
          _check("示例管理条例", 3, status="已废止", in_context=False, verdict="repealed")]
    s2 = score_citations(a2, gold_keys("民法典", [153]))
    assert s2.true_positives == 0 and s2.precision == 0 and s2.recall == 0 and s2.f1 == 0
    assert (s2.hallucinated, s2.unresolved, s2.repealed, s2.context_known, s2.not_in_context) == (1, 1, 1, 1, 1)

    # answer 3: no citation, no gold: does not count for P/R
    s3 = score_citations([], [])
    assert s3.precision is None and s3.recall is None and s3.f1 is None

    agg = aggregate_citations([s1, s2, s3])
    # micro over rows with gold: tp 1, unique cited 2 + 2, gold 2 + 1
    assert agg["rows_with_gold"] == 2
    assert agg["citation_precision"] == pytest.approx(1 / 4)
    assert agg["citation_recall"] == pytest.approx(1 / 3)
    assert agg["citation_f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    assert agg["citation_f1_macro"] == pytest.approx((0.5 + 0) / 2)
    # 5 mentions: 2 nonexistent, 1 unresolved, 1 repealed, 2 unsupported; in_context known for 4, 2 False
    assert agg["citations"] == 5
    assert agg["hallucination_rate"] == pytest.approx(2 / 5)
    assert agg["unresolved_rate"] == pytest.approx(1 / 5)
    assert agg["repealed_rate"] == pytest.approx(1 / 5)
    assert agg["unsupported_rate"] == pytest.approx(2 / 5)
    assert agg["not_in_context_rate"] == pytest.approx(2 / 4)
    assert agg["answers_with_hallucination"] == pytest.approx(2 / 3)


def test_aggregate_without_citations_gives_none_not_zero_division():
    agg = aggregate_citations([score_citations([], [])])
    assert agg["hallucination_rate"] is None and agg["citation_f1"] is None


def test_context_retrieval_and_latency_and_abstention():
    gold = gold_keys("刑法", [133, 234])
    r = context_retrieval(["中华人民共和国刑法#20", "中华人民共和国刑法#133之一", "中华人民共和国刑法#234"], gold)
    assert r == {"recall": 1.0, "rr": 0.5, "hit": 1.0}
    assert context_retrieval(["中华人民共和国刑法#20"], gold) == {"recall": 0.0, "rr": 0.0, "hit": 0.0}
    assert context_retrieval(["中华人民共和国刑法#20"], set()) is None
    lat = latency_summary([10, 30, 20, 40])
    assert lat == {"latency_ms_mean": 25.0, "latency_ms_p50": 20.0, "latency_ms_p95": 40.0}
    assert is_abstention("") and is_abstention("抱歉，提供的法条中没有相关规定，无法回答。")
    assert not is_abstention("根据《刑法》第一百三十三条之一，醉驾处拘役。")


class _CharTokenizer:
    """A character-level tokenizer with a pad id, enough to check the -100 handling and decoding."""

    pad_token_id = 0
    eos_token_id = 1

    def __init__(self, alphabet: str):
        self.alphabet = alphabet

    def batch_decode(self, seqs, skip_special_tokens=True):
        assert all(t >= 0 for s in seqs for t in s), "negative ids must be replaced before decoding"
        return ["".join(self.alphabet[t - 2] for t in s if t >= 2) for s in seqs]


def test_make_compute_metrics_handles_minus_100():
    alphabet = "我爱北京上海"
    tok = _CharTokenizer(alphabet)
    ids = {c: i + 2 for i, c in enumerate(alphabet)}
    enc = lambda s, n: [ids[c] for c in s] + [-100] * (n - len(s))  # noqa: E731
    preds = np.array([enc("我爱北京", 5), enc("我爱上海", 5)])
    labels = np.array([enc("我爱上海", 5), enc("我爱上海", 5)])
    out = make_compute_metrics(tok)((preds, labels))
    assert set(out) == {"rouge-1", "rouge-2", "rouge-l", "bleu-4"}
    assert out["rouge-1"] == pytest.approx((66.6667 + 100) / 2, abs=1e-4)
    assert out["bleu-4"] == pytest.approx((31.9472 + 100) / 2, abs=1e-4)
