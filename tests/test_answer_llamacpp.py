"""Running a GGUF model with llama.cpp: a .gguf --model picks the runtime, the answer streams and is checked,
a made-up citation is flagged, and ``assistant eval qa`` evaluates the same model. A tiny GGUF written here,
or a real model with ASSISTANT_TEST_GGUF=FILE.gguf (the ``gguf_model`` fixture is in conftest.py)."""
from __future__ import annotations

import pytest

from assistant.answer.pipeline import build_assistant


def test_gguf_path_selects_llamacpp_and_a_missing_file_is_a_clear_error(store, retriever, tmp_path):
    from assistant.answer.backends.base import BackendError
    from assistant.models.options import ModelOptions

    assert ModelOptions(model="model.gguf").backend == "llamacpp"
    assert ModelOptions(model=str(tmp_path)).backend == "transformers"
    assert ModelOptions(backend="openai", model="qwen").backend == "openai"
    with pytest.raises(BackendError, match="does not exist"):
        build_assistant("extractive", model=str(tmp_path / "nope.gguf"), store=store, retriever=retriever)


def test_llamacpp_streams_a_checked_answer(store, retriever, gguf_model):
    bot = build_assistant("llamacpp", model=str(gguf_model), store=store, retriever=retriever, n_ctx=2048)
    assert bot.backend.n_threads >= 1 and bot.backend.n_ctx == 2048
    events = list(bot.stream("离婚冷静期是多久", max_new_tokens=40))
    assert events[0].kind == "sources" and events[0].hits  # the sources are shown before the model writes
    tokens = [e.text for e in events if e.kind == "token"]
    assert len(tokens) >= 5  # streamed, not one block
    answer = events[-1].answer
    assert answer.backend == "llamacpp" and answer.text == "".join(tokens) and answer.text.strip()
    assert answer.finish_reason in ("stop", "length")
    for c in answer.citations:
        assert c.verdict in ("verified", "not_in_context", "superseded", "repealed", "not_found", "unresolved")
    bot.close()


def _recorded(bot):
    seen, stream = [], bot.backend.stream

    def recording(request):  # the real generation, with the request it was given kept for a look
        seen.append(request)
        yield from stream(request)

    bot.backend.stream = recording
    return seen


def test_an_untuned_gguf_rewrites_the_extractive_draft_unless_told_not_to(store, retriever, gguf_model):
    """A GGUF is an untuned general model: its prompt carries the extractive answer as a draft - what the
    deciding 款 answers, then that 款 after its citation, with the [n] of that article in this prompt - and
    the rewrite instruction; --no-draft gives the plain small-model prompt. What it writes is checked either way."""
    import argparse

    from assistant.answer.pipeline import PipelineConfig
    from assistant.answer.prompt import DRAFT_INSTRUCTION, SHORT_INSTRUCTION
    from assistant.models.options import ModelOptions

    bot = build_assistant("llamacpp", model=str(gguf_model), store=store, retriever=retriever, n_ctx=2048)
    seen = _recorded(bot)
    answer = bot.ask("离婚冷静期是多久", max_new_tokens=8)
    request = seen[0]
    assert request.messages[0]["content"] == DRAFT_INSTRUCTION
    user = request.messages[-1]["content"]
    context, draft = user.split("\n\n草稿：")
    draft = draft.split("\n\n问题：")[0].strip()
    marker = next(n for n, h in enumerate(request.hits, 1) if h.article.number == 1077)
    # laid out as the answer: what the deciding 款 answers, then the basis with the 款 quoted
    assert "三十日" in draft.split("\n")[0] and f"根据《民法典》第一千零七十七条[{marker}]的规定，" in draft
    assert f"[{marker}] 《中华人民共和国民法典》第一千零七十七条" in context
    assert answer.citations is not None and isinstance(answer.fact_flags, list)  # the checks still run
    bot.close()

    parser = argparse.ArgumentParser()
    ModelOptions.add_arguments(parser)
    options = ModelOptions.from_args(parser.parse_args(["--model", str(gguf_model), "--no-draft"]))
    assert options.generation() == {"draft": False}
    plain = build_assistant(**options.backend_kwargs(), store=store, retriever=retriever,
                            config=PipelineConfig(**options.generation()))
    seen = _recorded(plain)
    plain.ask("离婚冷静期是多久", max_new_tokens=8)
    assert seen[0].messages[0]["content"] == SHORT_INSTRUCTION and "草稿" not in seen[0].messages[-1]["content"]
    plain.close()


def test_llamacpp_output_with_a_made_up_citation_is_flagged_not_trusted(store, retriever, gguf_model):
    """Whatever the model writes - here a fabricated article and a number no source states, forced by
    wrapping the runtime - the report flags it instead of badging it verified."""
    bot = build_assistant("llamacpp", model=str(gguf_model), store=store, retriever=retriever, n_ctx=2048)
    real_stream = bot.backend.stream

    def fabricating(request):
        list(real_stream(request))  # the real runtime ran on the real prompt
        yield "离婚冷静期为九十日，依据《中华人民共和国民法典》第九千条[9]。"

    bot.backend.stream = fabricating
    answer = bot.ask("离婚冷静期是多久", max_new_tokens=8)
    [made_up] = [c for c in answer.citations if c.citation.number == 9000]
    assert made_up.verdict == "not_found" and not made_up.exists
    assert [f.text for f in answer.fact_flags] == ["九十日"] and not answer.clean
    bot.close()


def test_eval_qa_evaluates_a_gguf_model(gguf_model, tmp_path, capsys):
    """`assistant eval qa --data … --model m.gguf` (an "invalid choice" before the model flags were shared):
    every row answered by llama.cpp, scored, and the run folder records the backend."""
    import json

    from conftest import build_fixture_store

    from assistant.cli import main
    from assistant.config import Paths

    build_fixture_store(Paths().ensure().db).close()
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [
        {"id": "a", "question": "离婚冷静期是多久", "answer": "三十日", "law": "民法典", "articles": [1077]},
        {"id": "b", "question": "醉驾怎么处罚", "answer": "处拘役，并处罚金", "law": "刑法", "articles": [133]}]),
        encoding="utf-8")
    out = tmp_path / "run"
    assert main(["eval", "qa", "--data", str(data), "--out", str(out), "--backend", "llamacpp", "--model",
                 str(gguf_model), "--n-ctx", "2048", "--max-new-tokens", "8", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["metrics"]["n"] == 2 and summary["metrics"]["errors"] == 0
    assert summary["settings"]["backend"] == "llamacpp" and summary["settings"]["n_ctx"] == 2048
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["a", "b"] and all(r["retrieved"] for r in records)
