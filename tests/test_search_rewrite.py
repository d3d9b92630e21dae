"""The question restated in statute wording by a generative model before search (``assistant.search.rewrite``):
what the model writes is parsed defensively (no citation it invents survives, Chinese terms only, capped), the
rewrite reaches the reworded search and the pipeline's one ``Query``, the answering model itself is asked (no
second model), and a model that fails leaves the question as asked."""
from __future__ import annotations

import re

import pytest

from assistant.answer.backends.base import Backend, BackendError, rewriter_for
from assistant.search.query import read_query
from assistant.search.rewrite import QueryRewriter, parse_rewrite

#: a lay question about withdrawing a divorce registration (民法典 1077 in the fixture corpus: 撤回离婚登记申请);
#: its own words rank that article third among the fixture laws
LAY_QUESTION = "手续办到一半她变卦了，还来得及吗"
REWRITE = "撤回离婚登记申请 婚姻登记机关"
ARTICLE = "中华人民共和国民法典#1077"


def test_invented_citations_and_non_chinese_output_are_dropped():
    raw = ("根据《中华人民共和国民法典》第一千零七十七条、刑法第133条之一：撤回离婚登记申请 Article 1077 "
           "```python\nprint('离婚')\n``` 婚姻登记机关 第3款 民法典 劳动合同法 违法 <think>重婚罪</think>")
    phrases = parse_rewrite(raw, "她变卦了")
    assert phrases == ["撤回离婚登记申请", "婚姻登记机关", "违法"]  # 违法 is a legal word, not a law's name
    assert not any(re.search(r"第|条|《|法典|刑法|劳动合同法|\d|[A-Za-z]", p) for p in phrases)


def test_the_rewrite_is_capped_and_words_of_the_question_are_not_repeated():
    many = " ".join(f"术语{c}{c}" for c in "甲乙丙丁戊己庚辛")
    assert len(parse_rewrite(many)) == 6
    assert parse_rewrite(many, max_phrases=3) == ["术语甲甲", "术语乙乙", "术语丙丙"]
    long = "夫妻一方未经另一方同意擅自出卖共同所有的房屋构成无权处分" * 3
    phrases = parse_rewrite(long)
    assert all(2 <= len(p) <= 12 for p in phrases) and sum(map(len, phrases)) <= 48
    # an answer that restates the question adds nothing: its pieces are (mostly) the question's own words
    assert parse_rewrite("手续办到一半她变卦了，还来得及吗。", LAY_QUESTION) == []
    assert parse_rewrite("她变卦了还来得及 撤回申请", LAY_QUESTION) == ["撤回申请"]
    assert parse_rewrite("1. 法律检索助手：撤回申请", LAY_QUESTION) == ["撤回申请"]  # the prompt's own words
    assert parse_rewrite("") == [] and parse_rewrite("I cannot help with that. 123") == []


def test_the_rewrite_reaches_the_search(store, retriever):
    """The fixture question's own words rank 1077 third; the model's statute wording brings it into the top 2
    through the reworded search, which a rewrite switches on."""
    assert ARTICLE not in [h.id for h in retriever.search(LAY_QUESTION, top_k=2)]
    calls = []

    def complete(messages, max_new_tokens):
        calls.append(messages[-1]["content"])
        return REWRITE

    retriever.rewriter = QueryRewriter(complete)
    try:
        assert ARTICLE in [h.id for h in retriever.search(LAY_QUESTION, top_k=2)]
        assert retriever.read(LAY_QUESTION).rewritten == ["撤回离婚登记申请", "婚姻登记机关"]
        assert calls == [LAY_QUESTION]  # asked once: the second reading is served from the cache
    finally:
        retriever.rewriter = None
    query = read_query(LAY_QUESTION, rewriter=QueryRewriter(lambda m, n: REWRITE))
    assert "撤回离婚登记申请" in query.statute_text and {t.source for t in query.terms()} >= {"model"}
    assert ARTICLE in [h.id for h in retriever.search(query, top_k=2)]


class ScriptedModel(Backend):
    """A generative backend with the real interface: it answers the rewrite request with statute wording
    (and an invented citation) and any other request with a short answer, and records what it was asked."""

    name = "scripted"

    def __init__(self):
        self.requests = []

    @property
    def model_name(self):
        return "scripted-model"

    def stream(self, request):
        self.requests.append(request)
        if "改写" in request.messages[0]["content"]:
            yield from ["撤回离婚登记申请 ", "《民法典》第1077条 ", "婚姻登记机关"]
        else:
            yield "可以在三十日内撤回离婚登记申请。"


def test_the_pipeline_asks_the_answering_model_and_every_stage_sees_the_rewrite(store, retriever):
    from assistant.answer.pipeline import GroundedAssistant, PipelineConfig

    model = ScriptedModel()
    bot = GroundedAssistant(retriever, model, store, config=PipelineConfig(rewrite_with_model=True, top_k=3))
    answer = bot.ask(LAY_QUESTION)
    rewrite_requests = [r for r in model.requests if r.hits == []]
    answer_request = model.requests[-1]
    assert len(rewrite_requests) == 1 and answer_request.hits  # the same model: rewrite first, then the answer
    assert answer_request.query.rewritten == ["撤回离婚登记申请", "婚姻登记机关"]  # the citation was dropped
    assert ARTICLE in [h.id for h in answer.sources]
    off = GroundedAssistant(retriever, ScriptedModel(), store, config=PipelineConfig(top_k=3))
    assert off.rewriter is None  # off by default
    off.ask(LAY_QUESTION)
    assert all(r.hits for r in off.backend.requests) and off.backend.requests[-1].query.rewritten == []


def test_a_failing_model_leaves_the_question_as_asked_and_extractive_cannot_rewrite(store, retriever, caplog):
    from assistant.answer.backends.extractive import ExtractiveBackend

    def broken(messages, max_new_tokens):
        raise ConnectionError("endpoint down")

    retriever.rewriter = QueryRewriter(broken)
    try:
        plain = [h.id for h in retriever.search(LAY_QUESTION, top_k=3, reworded=False)]
        with caplog.at_level("WARNING"):
            assert [h.id for h in retriever.search(LAY_QUESTION, top_k=3)] == plain
        assert "endpoint down" in caplog.text
    finally:
        retriever.rewriter = None
    with pytest.raises(BackendError, match="generative model"):
        rewriter_for(ExtractiveBackend())


def test_a_real_gguf_model_rewrites_through_llamacpp(gguf_model):
    """The llama.cpp runtime answers the rewrite prompt (the tiny model writes noise): whatever it writes, only
    capped Chinese terms without a citation come out; the rewrite is cached per question."""
    from assistant.answer.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(gguf_model, n_ctx=512, n_threads=1)
    real_stream = backend.stream
    seen = []

    def counted(request):
        seen.append(request.max_new_tokens)
        yield from real_stream(request)

    backend.stream = counted
    rewriter = rewriter_for(backend)
    phrases = rewriter.rewrite("醉驾怎么处罚")
    assert rewriter.rewrite("醉驾怎么处罚") == phrases and seen == [rewriter.max_new_tokens]
    assert len(phrases) <= 6 and all(re.fullmatch(r"[\u4e00-\u9fff]{2,12}", p) for p in phrases)
    assert not any("第" in p and "条" in p for p in phrases)
    backend.close()


def test_eval_retrieval_rewrites_with_the_model_given(gguf_model, tmp_path, capsys):
    """`assistant eval retrieval --rewrite-model m.gguf`: the rows are searched with the model's rewrite (the
    tiny model's noise parses to little or nothing; the search still answers every row), and a path that is
    no model is the user's to fix."""
    import json

    from conftest import build_fixture_store

    from assistant.cli import main
    from assistant.config import Paths

    build_fixture_store(Paths().ensure().db).close()
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"id": "a", "query": LAY_QUESTION, "law": "民法典", "articles": [1077]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["eval", "retrieval", "--data", str(data), "--rewrite-model", str(gguf_model), "--threads", "1",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 1
    assert main(["eval", "retrieval", "--data", str(data), "--rewrite-model", str(tmp_path / "notes.txt"),
                 "--json"]) != 0
    assert "give a .gguf file or a local model folder" in capsys.readouterr().err
