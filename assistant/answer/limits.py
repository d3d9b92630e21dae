"""What a request may ask of the pipeline, and the one validator that checks it: the web app (its chat tab and
its /chat and /ask endpoints) and the OpenAI-compatible API accept the same question, history and options
within the same limits, so that one request cannot occupy a worker for minutes (every stage is linear;
these keep the constant small) and a bad value is refused the same way wherever it comes in.

A bad value raises ``OptionError`` naming the field, in English (``str(exc)``: ``field: problem``, for API
clients) and in Chinese (``exc.zh``, for the web page). A number outside its range is clamped to the
nearest end, as OpenAI-compatible servers do.
"""
from __future__ import annotations

import math
from typing import Any, Callable

#: a question longer than this is refused (an ordinary question is under 100 characters; a pasted case
#: description a few thousand). The web app refused past 2,000 and the API past 4,000: one limit now, the
#: larger, since a case description pasted into the chat is a legitimate question
MAX_QUESTION_CHARS = 4000
MAX_LAW_CHARS = 100
#: documented ranges of the numeric options
RANGES: dict[str, tuple[float, float]] = {"top_k": (1, 20), "temperature": (0.0, 2.0), "max_new_tokens": (1, 4096)}

class InputTooLarge(ValueError):
    """A request over a documented limit; the message names the limit."""


class OptionError(ValueError):
    """A request value that is refused: ``field`` as the client named it, ``zh`` the message for the page."""

    def __init__(self, field: str, problem: str, zh: str | None = None):
        self.field, self.problem = field, problem
        self.zh = zh or f"{field} 不正确：{problem}"
        super().__init__(f"{field}: {problem}")


def check_question(question) -> str:
    """The stripped question, or ``ValueError`` saying what is wrong with it."""
    if not isinstance(question, str):
        raise ValueError(f"the question must be text, got {type(question).__name__}")
    question = question.strip()
    if not question:
        raise ValueError("empty question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputTooLarge(f"the question is {len(question)} characters long; at most {MAX_QUESTION_CHARS}")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the question is not valid Unicode text (it contains a lone surrogate)") from None
    return question


def validate_question(question: Any, field: str = "question") -> str:
    """``check_question`` with the field named and a message for the page."""
    if question is not None and not isinstance(question, str):
        raise OptionError(field, f"must be text, got {type(question).__name__}", "问题必须是文本。")
    if not (question or "").strip():
        raise OptionError(field, "empty question", "请输入问题。")
    try:
        return check_question(question)
    except InputTooLarge as exc:
        n = len(question.strip())
        raise OptionError(field, str(exc), f"问题太长（{n} 字），请控制在 {MAX_QUESTION_CHARS} 字以内。") from None
    except ValueError as exc:
        raise OptionError(field, str(exc), f"问题无法处理：{exc}") from None


def validate_history(history: Any, field: str = "history") -> list[tuple[str, str]]:
    from assistant.data.history import HistoryError, normalize_history

    try:
        return normalize_history(history)
    except HistoryError as exc:
        raise OptionError(field, str(exc), f"history 格式不正确：{exc}") from None


def _number(value: Any, option: str, field: str, kind: type):
    """``value`` as an int / float within RANGES, None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(field, f"must be a number, got {type(value).__name__}",
                          f"{field} 必须是{'整数' if kind is int else '数字'}，收到 {str(value)[:20]!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise OptionError(field, "must be a finite number", f"{field} 必须是有限的数字")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise OptionError(field, f"must be an integer, got {value}", f"{field} 必须是整数，收到 {value}")
        value = int(value)
    lo, hi = RANGES[option]
    return kind(min(hi, max(lo, value)))


def validate_options(values: dict[str, Any], *, fields: dict[str, str] | None = None,
                     resolve_law: Callable[[str], str | None] | None = None) -> dict[str, Any]:
    """Pipeline options (``top_k``, ``law``, ``include_repealed``, ``as_of``, ``temperature``,
    ``max_new_tokens``) from
    ``values``; absent or None values are left out (the pipeline's defaults apply). ``fields`` renames an
    option as the client wrote it (the API's ``max_tokens``), for the error. ``resolve_law`` (the store's
    resolver) turns a law name into the corpus's full name and refuses an unknown one here, before any work."""
    fields = fields or {}
    name = lambda option: fields.get(option, option)  # noqa: E731
    options: dict[str, Any] = {}
    for option, kind in (("top_k", int), ("temperature", float), ("max_new_tokens", int)):
        number = _number(values.get(option), option, name(option), kind)
        if number is not None:
            options[option] = number
    law = values.get("law")
    if law is not None:
        if not isinstance(law, str) or len(law) > MAX_LAW_CHARS:
            raise OptionError(name("law"), f"must be a law name (a string of at most {MAX_LAW_CHARS} characters)",
                              "law 必须是法律名称（文本）。" if not isinstance(law, str) else "法律名称太长。")
        law = law.strip()
        if law and resolve_law is not None:
            resolved = resolve_law(law)
            if resolved is None:
                raise OptionError(name("law"), f"no law named {law!r} in the corpus", f"法条库中没有名为“{law}”的法律")
            law = resolved
        if law:
            options["law"] = law
    as_of = values.get("as_of")
    if as_of is not None:  # answer with the law in force that day
        from assistant.corpus.versions import parse_day

        if not isinstance(as_of, str) or len(as_of) > 20:
            raise OptionError(name("as_of"), "must be a date YYYY-MM-DD", "as_of 必须是日期（YYYY-MM-DD）。")
        try:
            options["as_of"] = parse_day(as_of)
        except ValueError as exc:
            raise OptionError(name("as_of"), str(exc), f"as_of 不是有效日期：{exc}") from None
    repealed = values.get("include_repealed")
    if repealed is not None and not isinstance(repealed, bool):
        raise OptionError(name("include_repealed"), f"must be true or false, got {type(repealed).__name__}",
                          "include_repealed 必须是 true 或 false。")
    if repealed:
        options["include_repealed"] = True
    return options
