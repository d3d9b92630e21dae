"""The question set's learn part, and the exact prompt the app sends for each of its questions.

A question-set row (``/work/data_gen``'s format, scripts/build_question_set.py)::

    {"id": "lq-00001", "query": "离婚冷静期多久", "citations": [{"law": "民法典", "article": 1077}],
     "clause": 1, "key_fact": "三十日", "style": "question", "split": "learn"}

Only rows with ``"split": "learn"`` are read (the held-out articles stay unseen), and ``exclude_ids`` drops
rows whose gold is an evaluation set's gold.

The prompt is not rebuilt by hand: the app's own pipeline (``GroundedAssistant.stream``: retrieval over the
question and its statute wording, clause selection, the relevance gate, the small-model context of the best
款, ``build_messages``) runs with :class:`PromptRecorder` as its backend, which keeps the request and stops.
So the context is what the real index gives - the gold article is sometimes absent or ranked low - and a
model trained on it sees at serving time (``assistant serve --model tuned.gguf``) the prompt it learned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from assistant.answer.backends.base import Backend, GenerationRequest


class QuestionSetError(ValueError):
    pass


@dataclass
class Question:
    id: str
    query: str
    citations: list[dict]  # [{"law": 简称 or full name, "article": N, "suffix": "之一"?}], the main one first
    clause: int | None = None  # 1-based 款 of the first citation that answers
    key_fact: str | None = None  # verbatim from that 款
    style: str = "question"
    where: str = ""  # file:line


def read_questions(path, split: str | None = "learn") -> list[Question]:
    """The rows of ``split`` (None: all), validated; errors name the file, line and field."""
    from assistant.jsonio import JsonRecordsError, read_json_records

    try:
        records = read_json_records(path)
    except JsonRecordsError as exc:
        raise QuestionSetError(f"{path}:{exc.line or 0}: {exc.problem}") from None
    out, seen = [], set()
    for line, obj in records:
        where = f"{path}:{line}"
        if not isinstance(obj, dict):
            raise QuestionSetError(f"{where}: expected a JSON object")
        if split is not None and obj.get("split") != split:
            continue
        for key in ("id", "query"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise QuestionSetError(f"{where}: field {key!r} must be a non-empty string")
        cits = obj.get("citations")
        if not isinstance(cits, list) or not cits or not all(
                isinstance(c, dict) and isinstance(c.get("law"), str) and isinstance(c.get("article"), int)
                for c in cits):
            raise QuestionSetError(f"{where}: field 'citations' must be a non-empty list of "
                                   "{\"law\": str, \"article\": int}")
        clause = obj.get("clause")
        if clause is not None and (not isinstance(clause, int) or clause < 1):
            raise QuestionSetError(f"{where}: field 'clause' must be a positive integer or null")
        fact = obj.get("key_fact")
        if fact is not None and not isinstance(fact, str):
            raise QuestionSetError(f"{where}: field 'key_fact' must be a string or null")
        if obj["id"] in seen:
            raise QuestionSetError(f"{where}: duplicate id {obj['id']!r}")
        seen.add(obj["id"])
        out.append(Question(obj["id"], obj["query"].strip(), cits, clause, fact or None,
                            obj.get("style") or "question", where))
    return out


def gold_ids(store, question: Question) -> list[str | None]:
    """Article ids of the question's citations (None where the store lacks one), in order."""
    from assistant.corpus.article import make_article_id

    resolver = store.resolver()
    out = []
    for c in question.citations:
        try:
            law = resolver.resolve(c["law"])
        except Exception:
            out.append(None)
            continue
        aid = make_article_id(law, int(c["article"]), c.get("suffix") or "")
        out.append(aid if store.get(aid) is not None else None)
    return out


class PromptRecorder(Backend):
    """A backend that generates nothing: it records the request the pipeline built (messages, hits) and
    yields one placeholder so that the caller can stop the stream there. ``short_context`` as the llama.cpp
    backend and the transformers backend without an adapter (what serves a small tuned model);
    ``count_tokens`` / ``budget``: the served model's tokenizer and context (characters by default)."""

    name = "prompt-recorder"

    def __init__(self, short_context: bool = True, count_tokens: Callable[[str], int] | None = None,
                 n_ctx: int = 4096):
        self.short_context = short_context
        self._count = count_tokens or len
        self.n_ctx = n_ctx
        self.request: GenerationRequest | None = None

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def context_budget(self, default: int, max_new_tokens: int) -> int:
        return max(64, min(default, self.n_ctx - max_new_tokens - 320))  # as LlamaCppBackend

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        self.request = request
        yield "\u2026"


@dataclass
class AppPrompt:
    question_id: str
    messages: list[dict]  # system, user (with the context block)
    context_ids: list[str]  # article ids in [n] order
    context_texts: list[str]  # the text each one shows (its best 款 for a small model)
    refused: bool = False  # the relevance gate refused: the app sends no prompt
    gold: list[str | None] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"id": self.question_id, "messages": self.messages, "context_ids": self.context_ids,
                "context_texts": self.context_texts, "refused": self.refused, "gold": self.gold}


def app_prompt(assistant, recorder: PromptRecorder, question: str) -> tuple[list[dict], list, bool]:
    """(messages, context hits, refused) of the app's pipeline for ``question``; nothing is generated."""
    recorder.request = None
    events = assistant.stream(question)
    try:
        for event in events:
            if event.kind == "done":  # refused by the gate (or no generation at all)
                break
            if recorder.request is not None:
                break
    finally:
        events.close()
    req = recorder.request
    if req is None:
        return [], [], True
    return req.messages, list(req.hits), False


def _shown_text(message: str, marker: int) -> str:
    """The text the context block shows for article [marker] (format_article: ``[k] label（status）\\ntext``)."""
    import re

    m = re.search(rf"(?:^|\n)\[{marker}\] [^\n]*\n(.*?)(?=\n\n\[{marker + 1}\] |\n\n（另有|\n\n问题：|\Z)",
                  message, re.S)
    return m.group(1) if m else ""


def build_prompts(store, retriever, questions: list[Question], *, short_context: bool = True,
                  count_tokens=None, n_ctx: int = 4096, progress: bool = False) -> Iterator[AppPrompt]:
    from assistant.answer.pipeline import GroundedAssistant

    recorder = PromptRecorder(short_context, count_tokens, n_ctx)
    app = GroundedAssistant(retriever, recorder, store)
    it = questions
    if progress:
        from tqdm import tqdm

        it = tqdm(questions, desc="app prompts", unit="question")
    for q in it:
        messages, hits, refused = app_prompt(app, recorder, q.query)
        user = messages[-1]["content"] if messages else ""
        yield AppPrompt(q.id, messages, [h.id for h in hits],
                        [_shown_text(user, i) for i in range(1, len(hits) + 1)], refused, gold_ids(store, q))


__all__ = ["Question", "QuestionSetError", "read_questions", "gold_ids", "PromptRecorder", "AppPrompt",
           "app_prompt", "build_prompts"]
