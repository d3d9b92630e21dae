"""Query cleaning, tokenisation with the corpus vocabulary, and 刑法 crime names."""
from __future__ import annotations

import pytest

from assistant.search.text import Tokenizer, clean_query, corpus_vocabulary, expand_query_tokens


def test_clean_query_strips_procedural_boilerplate():
    fact = ("公诉机关指控：2016年3月28日20时许，被告人颜某在本市马路边捡拾到被害人谢某的手机一部，并分多次通过支付宝"
            "秘密盗走人民币3723元。上述事实，被告人在开庭审理过程中亦无异议，并有证人证言等证据证实，足以认定。")
    cleaned = clean_query(fact)
    for gone in ("公诉机关指控", "2016年3月28日20时许", "颜某", "足以认定"):
        assert gone not in cleaned
    assert "秘密盗走" in cleaned and "支付宝" in cleaned
    assert clean_query("醉驾怎么处罚") == "醉驾怎么处罚"  # short questions are left alone


def test_tokenizer_uses_corpus_vocabulary_and_synonyms(fixture_store):
    words = corpus_vocabulary(fixture_store.articles())
    assert "危害公共安全罪" in words and "劳动合同法" in words
    tok = Tokenizer(words)
    tokens = tok.tokens("危害公共安全罪的处罚")
    assert "危害公共安全罪" in tokens and "的" not in tokens
    assert "盗窃" in expand_query_tokens(tok, tok.tokens("他偷走了我的手机"))


def test_crime_names_checked_against_corpus_text(fixture_store):
    from assistant.search import crimes

    if not crimes.available():
        pytest.skip("legal-documents-cn is not installed")
    names = crimes.crime_names(fixture_store)
    assert names["中华人民共和国刑法#232"] == ["故意杀人罪"]
    assert "中华人民共和国刑法#1" not in names  # 【立法目的】 is not a crime name
