"""The grounded pipeline end to end: real store, real retriever (BM25 index built in tmp), the extractive
backend, the tiny local transformer, malformed model output, and the OpenAI-compatible API server."""
from __future__ import annotations

import json
import socket

import httpx
import pytest

from assistant.answer.api import BackgroundServer
from assistant.answer.backends.base import Backend
from assistant.answer.pipeline import GroundedAssistant, build_assistant


def test_extractive_drunk_driving_cites_133_1_with_clean_report(extractive):
    events = list(extractive.stream("醉驾怎么处罚"))
    assert [e.kind for e in events][0] == "sources" and events[-1].kind == "done"
    assert any(e.kind == "token" for e in events)
    answer = events[-1].answer
    assert answer.text == "".join(e.text for e in events if e.kind == "token")
    # the answer leads with the penalty, quoting the deciding clause
    assert answer.text.startswith("依法处拘役，并处罚金：依据《刑法》第一百三十三条之一第一款[1]")
    assert "醉酒驾驶机动车" in answer.text
    # the "no generative model" notice is said once, beside the answer, not inside it
    assert "未配置生成式模型" in answer.notice and "未配置生成式模型" not in answer.text
    assert answer.sources[0].id == "中华人民共和国刑法#133之一"
    cited = [c for c in answer.citations if c.citation.id == "中华人民共和国刑法#133之一"]
    assert cited and answer.clean
    assert all(c.verdict == "verified" and c.in_context and c.support_label == "supported" for c in answer.citations)
    d = answer.to_dict()
    assert d["backend"] == "extractive" and d["sources"][0]["marker"] == 1 and d["clean"] is True


def test_extractive_refuses_off_topic_questions_without_quoting_statutes(extractive):
    for question in ("量子计算机是谁发明的", "今天天气怎么样", "推荐北京火锅店"):
        answer = extractive.ask(question)
        assert answer.finish_reason == "refused", question
        assert "不是法律问题" in answer.text and answer.citations == [] and answer.sources == []
        assert "综合得分" in answer.notice  # the report says why


def test_extractive_says_so_when_no_article_applies(store, retriever):
    # with the gate off, nothing in the fixture corpus shares a word with the question
    from assistant.answer.pipeline import PipelineConfig

    ungated = build_assistant("extractive", store=store, retriever=retriever,
                              config=PipelineConfig(relevance_gate=False))
    answer = ungated.ask("量子计算机是谁发明的")
    assert "没有找到可适用" in answer.text
    assert answer.citations == []


def test_follow_up_uses_history(extractive):
    answer = extractive.ask("那如果追逐竞驶呢？", history=[("醉驾怎么处罚", "……")])
    assert any(h.id == "中华人民共和国刑法#133之一" for h in answer.sources)


class Scripted(Backend):
    """A backend that replays fixed output: stands in for a misbehaving model."""

    name = "scripted"

    def __init__(self, chunks, finish="stop", fail=None):
        self.chunks, self.finish, self.fail = chunks, finish, fail

    def stream(self, request):
        yield from self.chunks
        if self.fail:
            raise self.fail
        request.finish_reason = self.finish


@pytest.mark.parametrize("chunks,finish,fail,expect_text,expect_notice,expect_finish", [
    ([], "stop", None, "没有生成任何内容", "空回答", "empty"),
    (["   "], "stop", None, "没有生成任何内容", "空回答", "empty"),
    (["依照《中华人民共和国刑法》第一百三十", "三条之一，醉酒驾驶"], "length", None, "截断", "截断", "length"),
    (["\ufffd\ufffd#$%@!^&*()_+=-0987654321~~~"], "stop", None, "不是正常的文字", "格式异常", "stop"),
    (["根据《中华人民共和国刑法》第九百条"], "stop", RuntimeError("CUDA exploded"), "生成回答时出错", "CUDA exploded", "error"),
])
def test_malformed_output_never_crashes(store, retriever, chunks, finish, fail, expect_text, expect_notice,
                                        expect_finish):
    assistant = GroundedAssistant(retriever, Scripted(chunks, finish, fail), store)
    answer = assistant.ask("醉驾怎么处罚")
    assert expect_text in answer.text
    assert expect_notice in answer.notice
    assert answer.finish_reason == expect_finish
    assert answer.sources  # the sources still come back
    if fail:  # the citation made before the failure is still checked and flagged
        [c] = answer.citations
        assert c.verdict == "not_found"


def test_generated_citations_are_flagged(store, retriever):
    text = "依照《中华人民共和国刑法》第一百三十三条之一，醉酒驾驶机动车的处拘役；另见《民法典》第1079条和合同法第52条。"
    answer = GroundedAssistant(retriever, Scripted([text]), store).ask("醉驾怎么处罚", law="刑法")
    verdicts = {c.citation.span: c.verdict for c in answer.citations}
    assert verdicts["《中华人民共和国刑法》第一百三十三条之一"] == "verified"
    assert verdicts["《民法典》第1079条"] == "not_in_context"
    assert verdicts["合同法第52条"] == "repealed"
    assert not answer.clean


# -- the tiny local transformer --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(store, retriever, tiny_model_dir):
    return build_assistant("transformers", model=str(tiny_model_dir), store=store, retriever=retriever,
                           max_new_tokens=24)


def test_transformers_backend_streams_and_survives_random_weights(tiny):
    events = list(tiny.stream("醉驾怎么处罚", max_new_tokens=24))
    kinds = [e.kind for e in events]
    assert kinds[0] == "sources" and kinds[-1] == "done"
    answer = events[-1].answer
    tokens = [e.text for e in events if e.kind == "token"]
    assert len(tokens) >= 2  # streamed in pieces, not one block
    assert answer.text == "".join(tokens)
    assert answer.backend == "transformers" and answer.model == tiny.backend.model_name
    assert answer.finish_reason in ("stop", "length", "empty")
    for c in answer.citations:  # whatever the random model cites is checked
        assert c.verdict in ("verified", "not_in_context", "superseded", "repealed", "not_found", "unresolved")
    # greedy decoding is reproducible
    assert tiny.ask("醉驾怎么处罚", max_new_tokens=24).text == answer.text


def test_transformers_prompt_fits_the_model(tiny):
    from assistant.answer.prompt import render_prompt

    assert tiny.backend.tokenizer.chat_template in (None, "")
    messages = [{"role": "user", "content": "问"}]
    assert render_prompt(messages, tiny.backend.tokenizer) == "[Round 1]\n\n问：问\n\n答："


def test_bad_model_path_is_a_clear_error(store, retriever, tmp_path):
    from assistant.answer.backends.base import BackendError

    with pytest.raises(BackendError, match="does not exist"):
        build_assistant("transformers", model=str(tmp_path / "nope"), store=store, retriever=retriever)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="cannot load model"):
        build_assistant("transformers", model=str(tmp_path / "empty"), store=store, retriever=retriever)


def test_user_picks_the_weight_dtype_of_a_local_model(store, retriever, tiny_model_dir):
    """--dtype bf16 / fp32 are honoured; auto is bf16 exactly where the CPU has native bf16 kernels."""
    import torch

    from assistant.search.embedders import cpu_supports_bf16

    seen = {}
    for dtype in ("bf16", "fp32", "auto"):
        app = build_assistant("transformers", model=str(tiny_model_dir), store=store, retriever=retriever,
                              dtype=dtype)
        seen[dtype] = app.backend.dtype
        assert {p.dtype for p in app.backend.model.parameters()} == {getattr(torch, app.backend.dtype)}
        answer = app.ask("醉驾怎么处罚", max_new_tokens=6)  # generation runs in that dtype
        assert answer.finish_reason in ("stop", "length", "empty") and app.backend.info()["dtype"] == seen[dtype]
    assert seen["bf16"] == "bfloat16" and seen["fp32"] == "float32"
    assert seen["auto"] == ("bfloat16" if cpu_supports_bf16() else "float32")


def test_ask_command_takes_dtype(tiny_model_dir, capsys):
    from conftest import build_fixture_store

    from assistant.cli import main
    from assistant.config import Paths

    build_fixture_store(Paths().ensure().db).close()
    assert main(["ask", "醉驾怎么处罚", "--backend", "transformers", "--model", str(tiny_model_dir),
                 "--dtype", "bf16", "--max-new-tokens", "4", "--json"]) == 0
    captured = capsys.readouterr()
    assert "weights in bfloat16" in captured.err and json.loads(captured.out)["backend"] == "transformers"
    with pytest.raises(SystemExit):  # argparse refuses a dtype it does not know
        main(["ask", "问", "--backend", "transformers", "--model", str(tiny_model_dir), "--dtype", "int3"])


# -- the OpenAI-compatible API ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def extractive_server(extractive):
    s = BackgroundServer(extractive)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tiny_server(tiny):
    s = BackgroundServer(tiny)
    yield s
    s.stop()


def _sse(url, body):
    chunks = []
    with httpx.stream("POST", url + "/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                chunks.append(line[6:])
    assert chunks[-1] == "[DONE]"
    return [json.loads(c) for c in chunks[:-1]]


def test_api_models_and_non_streaming(extractive_server):
    models = httpx.get(extractive_server.url + "/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "grounded-extractive"
    r = httpx.post(extractive_server.url + "/chat/completions", timeout=60, json={
        "model": "grounded-extractive", "messages": [{"role": "user", "content": "醉驾怎么处罚"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    content = body["choices"][0]["message"]["content"]
    assert "第一百三十三条之一" in content and body["choices"][0]["finish_reason"] == "stop"
    g = body["grounding"]
    assert g["sources"][0]["id"] == "中华人民共和国刑法#133之一" and g["clean"] is True
    assert g["citations"][0]["support"]["label"] == "supported"


def test_a_question_nothing_can_be_quoted_for_says_so_in_its_finish_reason(extractive, extractive_server):
    """离婚冷静期 asked within 刑法 only: no 款 to quote. The text says so and cites nothing, and an API client
    can tell it from an answer without reading the text (OpenAI's finish_reason stays a standard value)."""
    answer = extractive.ask("离婚冷静期多久", law="刑法")
    assert answer.finish_reason == "no_answer" and not answer.citations and "没有找到" in answer.text
    assert extractive.ask("离婚冷静期多久").finish_reason == "stop"
    r = httpx.post(extractive_server.url + "/chat/completions", timeout=60, json={
        "messages": [{"role": "user", "content": "离婚冷静期多久"}], "law": "刑法"})
    body = r.json()
    assert body["choices"][0]["finish_reason"] == "stop" and body["grounding"]["finish_reason"] == "no_answer"


def test_api_streaming_and_bad_requests(extractive_server):
    chunks = _sse(extractive_server.url, {"messages": [
        {"role": "user", "content": "醉驾怎么处罚"}, {"role": "assistant", "content": "……"},
        {"role": "user", "content": "那如果追逐竞驶呢？"}], "stream": True, "top_k": 3})
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "《刑法》第一百三十三条之一" in text
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and len(last["grounding"]["sources"]) <= 3
    for bad in ({"messages": []}, {"messages": [{"role": "assistant", "content": "x"}]}, {"nothing": 1}):
        r = httpx.post(extractive_server.url + "/chat/completions", json=bad)
        assert r.status_code == 400


def test_openai_backend_against_the_api_with_the_tiny_model(tiny_server, store, retriever):
    """The openai backend talks to our real server, which generates with the tiny local model."""
    client = build_assistant("openai", base_url=tiny_server.url, api_key="test-key", store=store,
                             retriever=retriever)
    assert client.backend.model_name.startswith("grounded-transformers")
    events = list(client.stream("醉驾怎么处罚", max_new_tokens=16))
    answer = events[-1].answer
    assert answer.backend == "openai"
    assert answer.text == "".join(e.text for e in events if e.kind == "token")
    assert answer.sources and answer.finish_reason in ("stop", "length", "empty")
    # and the server's own grounding for the same model, non-streaming
    r = httpx.post(tiny_server.url + "/chat/completions", timeout=120, json={
        "messages": [{"role": "user", "content": "醉驾怎么处罚"}], "max_tokens": 16})
    g = r.json()["grounding"]
    assert g["backend"] == "transformers" and g["sources"]
    client.close()


def test_openai_backend_unreachable_endpoint_is_reported(store, retriever):
    client = build_assistant("openai", base_url=f"http://127.0.0.1:{_free_port()}/v1", model="m", store=store,
                             retriever=retriever)
    answer = client.ask("醉驾怎么处罚")
    assert answer.finish_reason == "error" and "cannot reach" in answer.notice
    assert answer.sources
