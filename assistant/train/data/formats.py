"""SFT dataset formats, read from JSON (a list of objects) or JSONL (one object per line).

* ``alpaca``: ``instruction``, ``input`` (optional), ``output``, optional ``system`` and ``history``
  (a list of ``[question, answer]`` pairs). As in the reference recipe the history is part of the prompt
  (masked) and only ``output`` is learned. The question is ``instruction`` + ``\\n`` + ``input``.
* ``sharegpt``: ``conversations`` (``[{"from": "human"|"gpt"|"system", "value": …}]``) or ``messages``
  (``[{"role": "user"|"assistant"|"system", "content": …}]``), optional ``system``. Every assistant reply
  is learned, every prompt masked.
* ``adgen``: ``content`` → ``summary`` (ChatGLM's ADGEN advertising set).
* ``auto``: decided per file from the first record's keys.

Errors name the file, the line (JSONL) or record index (JSON), and the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assistant.jsonio import JsonRecordsError, read_json_records

FORMATS = ("auto", "alpaca", "sharegpt", "adgen")
_USER = {"human", "user"}
_ASSISTANT = {"gpt", "assistant", "bot", "model"}


class DataFormatError(ValueError):
    def __init__(self, file, where: str, message: str):
        self.file, self.where = str(file), where
        super().__init__(f"{file}:{where}: {message}")


@dataclass
class SFTExample:
    """One training conversation. ``turns`` = (question, answer) pairs; when ``learn_all_turns`` each answer
    is a target, otherwise earlier turns are prompt context and only the last answer is learned."""
    turns: list[tuple[str, str]]
    system: str | None = None
    learn_all_turns: bool = False
    source: str = ""  # file:line, for error messages and debugging
    meta: dict = field(default_factory=dict)


def read_records(path) -> list[tuple[str, dict]]:
    """(location, object) pairs from a .json list or a .jsonl file."""
    array = Path(path).suffix == ".json"
    try:
        records = read_json_records(path)
    except JsonRecordsError as exc:
        raise DataFormatError(path, str(exc.line or 0), exc.problem) from None
    out = []
    for position, obj in records:
        where = f"record {position - 1}" if array else str(position)
        if not isinstance(obj, dict):
            raise DataFormatError(path, where, "expected a JSON object")
        out.append((where, obj))
    return out


def detect_format(obj: dict) -> str:
    if "conversations" in obj or "messages" in obj:
        return "sharegpt"
    if "content" in obj and "summary" in obj:
        return "adgen"
    if "instruction" in obj or "output" in obj:
        return "alpaca"
    raise ValueError(f"cannot tell the format from keys {sorted(obj)}; set format: alpaca|sharegpt|adgen")


def _text(obj: dict, key: str, file, where, required: bool = True) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise DataFormatError(file, where, f"missing field {key!r}")
        return ""
    if not isinstance(value, str):
        raise DataFormatError(file, where, f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def parse_alpaca(obj: dict, file, where) -> SFTExample:
    instruction = _text(obj, "instruction", file, where)
    extra = _text(obj, "input", file, where, required=False)
    output = _text(obj, "output", file, where)
    query = f"{instruction}\n{extra}" if extra else instruction
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, (list, tuple)) and len(h) == 2 for h in history):
        raise DataFormatError(file, where, "field 'history' must be a list of [question, answer] pairs")
    turns = [(str(q), str(a)) for q, a in history] + [(query, output)]
    system = _text(obj, "system", file, where, required=False) or None
    return SFTExample(turns, system, learn_all_turns=False, source=f"{file}:{where}")


def parse_sharegpt(obj: dict, file, where) -> SFTExample:
    key = "conversations" if "conversations" in obj else "messages"
    msgs = obj.get(key)
    if not isinstance(msgs, list) or not msgs:
        raise DataFormatError(file, where, f"field {key!r} must be a non-empty list")
    system = _text(obj, "system", file, where, required=False) or None
    turns: list[tuple[str, str]] = []
    pending: str | None = None
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise DataFormatError(file, where, f"{key}[{i}] must be an object")
        role = str(m.get("from", m.get("role", ""))).lower()
        value = m.get("value", m.get("content"))
        if not isinstance(value, str):
            raise DataFormatError(file, where, f"{key}[{i}] has no text (value/content)")
        if role == "system":
            system = value if system is None else f"{system}\n{value}"
        elif role in _USER:
            if pending is not None:
                raise DataFormatError(file, where, f"{key}[{i}]: two user messages in a row")
            pending = value
        elif role in _ASSISTANT:
            if pending is None:
                raise DataFormatError(file, where, f"{key}[{i}]: an assistant message without a question before it")
            turns.append((pending, value))
            pending = None
        else:
            raise DataFormatError(file, where, f"{key}[{i}]: unknown role {role!r}")
    if not turns:
        raise DataFormatError(file, where, f"{key} holds no question/answer pair")
    return SFTExample(turns, system, learn_all_turns=True, source=f"{file}:{where}")


def parse_adgen(obj: dict, file, where) -> SFTExample:
    return SFTExample([(_text(obj, "content", file, where), _text(obj, "summary", file, where))],
                      source=f"{file}:{where}")


PARSERS = {"alpaca": parse_alpaca, "sharegpt": parse_sharegpt, "adgen": parse_adgen}


def load_sft_file(path, fmt: str = "auto") -> list[SFTExample]:
    """Every record of ``path`` as SFTExamples; the first bad record raises DataFormatError."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    records = read_records(path)
    if not records:
        return []
    if fmt == "auto":
        try:
            fmt = detect_format(records[0][1])
        except ValueError as exc:
            raise DataFormatError(path, records[0][0], str(exc)) from None
    parse = PARSERS[fmt]
    return [parse(obj, path, where) for where, obj in records]
