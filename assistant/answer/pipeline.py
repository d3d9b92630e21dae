"""The grounded pipeline: history-aware retrieval -> prompt -> generation (streamed) -> citation check.

    assistant = build_assistant()                      # extractive, default store and index
    for event in assistant.stream("醉驾怎么处罚"):
        if event.kind == "token": print(event.text, end="")
    answer = assistant.ask("醉驾怎么处罚")               # Answer with sources and citation report
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from assistant.answer.backends.base import Backend, GenerationRequest, make_backend
from assistant.answer.check import CitationChecker
from assistant.answer.limits import check_question
from assistant.answer.prompt import PromptConfig, build_messages, normalize_history
from assistant.answer.types import Answer, StreamEvent

EMPTY_OUTPUT = "（模型没有生成任何内容。请参考下列检索到的法条。）"
CUT_OFF = "（回答因长度限制被截断。）"
GARBLED = "（模型输出看起来不是正常的文字，请谨慎对待。）"
FAILED = "（生成回答时出错：{error}。请参考下列检索到的法条。）"
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class PipelineConfig:
    top_k: int = 5
    max_new_tokens: int = 512
    prompt: PromptConfig = field(default_factory=PromptConfig)


def looks_garbled(text: str) -> bool:
    """Replacement characters, or a long answer with almost no Chinese and few words: not an answer."""
    t = text.strip()
    if not t:
        return False
    if t.count("\ufffd") >= max(1, len(t) // 20):
        return True
    cjk = len(_CJK.findall(t))
    letters = sum(ch.isalpha() for ch in t)
    return len(t) >= 20 and cjk / len(t) < 0.2 and letters / len(t) < 0.5


class GroundedAssistant:
    def __init__(self, retriever, backend: Backend, store, checker: CitationChecker | None = None,
                 config: PipelineConfig | None = None):
        self.retriever = retriever
        self.backend = backend
        self.store = store
        self.checker = checker or CitationChecker(store, retriever=retriever)
        self.config = config or PipelineConfig()

    def info(self) -> dict[str, Any]:
        return self.backend.info()

    def stream(self, question: str, history: Sequence[Any] | None = None, *, top_k: int | None = None,
               law: str | None = None, include_repealed: bool = False,
               temperature: float | None = None, max_new_tokens: int | None = None) -> Iterator[StreamEvent]:
        started = time.perf_counter()
        question = check_question(question)
        pairs = normalize_history(history)
        hits = self.retriever.search(question, top_k=top_k or self.config.top_k, law=law,
                                     include_repealed=include_repealed,
                                     history=[q for q, _ in pairs] or None)
        max_new = max_new_tokens or self.config.max_new_tokens
        budget = self.backend.context_budget(self.config.prompt.context_budget, max_new)
        prompt_config = PromptConfig(context_budget=budget, template=self.config.prompt.template,
                                     system=self.config.prompt.system)
        messages, used = build_messages(question, hits, pairs, prompt_config, self.backend.count_tokens)
        yield StreamEvent("sources", hits=used)

        request = GenerationRequest(question=question, hits=used, messages=messages, history=pairs,
                                    max_new_tokens=max_new, temperature=temperature)
        chunks: list[str] = []
        notices = [self.backend.notice] if self.backend.notice else []
        finish = "stop"
        try:
            for delta in self.backend.stream(request):
                chunks.append(delta)
                yield StreamEvent("token", text=delta)
            finish = request.finish_reason
        except Exception as exc:  # a broken model or endpoint must not take the answer down with it
            finish = "error"
            tail = FAILED.format(error=str(exc)[:200])
            notices.append(f"generation failed: {exc}")
            tail = ("\n" if chunks else "") + tail
            chunks.append(tail)
            yield StreamEvent("token", text=tail)
        generated = "".join(chunks)
        if finish != "error":
            extra = None
            if not generated.strip():
                finish, extra = "empty", EMPTY_OUTPUT
                notices.append("the model returned an empty answer")
            elif finish == "length":
                extra = CUT_OFF
                notices.append(f"the answer was cut off at {max_new} new tokens")
            elif looks_garbled(generated):
                extra = GARBLED
                notices.append("the model's output looks malformed")
            if extra:
                extra = ("\n" if generated.strip() else "") + extra
                generated += extra
                yield StreamEvent("token", text=extra)
        checks = self.checker.check(generated, context_ids=[h.id for h in used])
        answer = Answer(question=question, text=generated, sources=used, citations=checks,
                        backend=self.backend.name, model=self.backend.model_name,
                        notice="; ".join(notices) or None,
                        latency_ms=(time.perf_counter() - started) * 1000, finish_reason=finish)
        yield StreamEvent("done", answer=answer)

    def ask(self, question: str, history: Sequence[Any] | None = None, **options) -> Answer:
        answer = None
        for event in self.stream(question, history, **options):
            if event.kind == "done":
                answer = event.answer
        assert answer is not None
        return answer

    def close(self) -> None:
        self.backend.close()


def build_assistant(backend: str = "extractive", model: str | None = None, adapter: str | None = None,
                    store=None, retriever=None, config: PipelineConfig | None = None,
                    **backend_options) -> GroundedAssistant:
    """The pipeline over the default store and index (built when missing) unless given."""
    if store is None:
        from assistant.corpus import open_store

        store = open_store(readonly=True)
    if retriever is None:
        from assistant.search import load_retriever

        retriever = load_retriever(store=store)
    engine = make_backend(backend, model=model, adapter=adapter, **backend_options)
    return GroundedAssistant(retriever, engine, store, config=config)
