"""The prompt templates SFT trains on - the same functions the answering pipeline renders prompts with
(``assistant.answer.prompt``), so a fine-tuned model sees at inference exactly the format it learned.

``chatglm2``: ``[Round N]\\n\\n问：…\\n\\n答：`` per turn (ChatGLM2-6B's own format; the default, and the
format used for the tiny model, whose tokenizer has no chat_template). ``chat_template``: the tokenizer's
own chat template (GLM-4, Qwen, Llama …). ``auto``: chat_template when the tokenizer has one, else chatglm2.
"""
from __future__ import annotations

from typing import Sequence

from assistant.answer.prompt import render_chatglm2, render_prompt

TEMPLATES = ("auto", "chatglm2", "chat_template")


def check_template(name: str) -> str:
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; choose one of {', '.join(TEMPLATES)}")
    return name


def messages_for(turns: Sequence[tuple[str, str]], query: str, system: str | None = None) -> list[dict]:
    """OpenAI-style messages: optional system, earlier (question, answer) turns, then the question."""
    msgs: list[dict] = [{"role": "system", "content": system}] if system else []
    for q, a in turns:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": query})
    return msgs


def render(messages: Sequence[dict], tokenizer=None, template: str = "chatglm2") -> str:
    """The generation prompt for ``messages`` (ending with the user's question)."""
    check_template(template)
    if template == "chatglm2":
        return render_chatglm2(messages)
    return render_prompt(messages, tokenizer, template)


def conversation_segments(turns: Sequence[tuple[str, str]], system: str | None = None, tokenizer=None,
                          template: str = "chatglm2") -> list[tuple[str, str]]:
    """(prompt segment, response) pairs whose concatenation is the whole conversation as the template
    renders it: segment k is what the template puts between response k-1 and response k. ChatGLM2 has no
    system role and renders it in front of the *current* question, which would differ per turn; for a
    conversation learned in one sequence the system text is therefore folded into the first question."""
    turns = [(str(q), str(a)) for q, a in turns]
    if system:
        turns[0] = (f"{system}\n\n{turns[0][0]}", turns[0][1])
    segments: list[tuple[str, str]] = []
    consumed = ""
    for k, (q, a) in enumerate(turns):
        prompt = render(messages_for(turns[:k], q), tokenizer, template)
        if not prompt.startswith(consumed):
            raise ValueError(f"template {template!r} does not render earlier turns as a prefix of later ones; "
                             "multi-turn examples cannot be learned in one sequence with it")
        segments.append((prompt[len(consumed):], a))
        consumed = prompt + a
    return segments
