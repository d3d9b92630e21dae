"""Evaluation input formats, read into one ``EvalRow`` shape.

* ``qa`` (ours): ``question`` or ``query``; reference ``answer`` or ``response``; optional gold ``law`` with
  ``articles`` (ints, 第N条之一 folded into N as the dev sets do, or strings such as 第一百三十三条之一) or a
  single ``article``; optional ``id`` and ``history`` (earlier user turns).
* ``alpaca``: ``instruction`` / ``input`` / ``output``.
* ``adgen``: ``content`` / ``summary`` (ChatGLM2's ptuning example data).
* ``lawbench``: LawBench task files, rows of ``instruction`` / ``question`` / ``answer``. The assistant is
  asked the ``question``; ``instruction + question`` is kept as LawBench's ``origin_prompt`` so the
  prediction file can be scored by LawBench's own evaluation scripts.

Files are JSONL (one object per line) or a single JSON array (LawBench and most alpaca files). The format
is detected from the first row's fields unless given. Any bad row raises ``DatasetError`` naming the
file, line and field; nothing is silently skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.eval.metrics import ArticleKey, gold_keys, key_label
from assistant.jsonio import JsonRecordsError, read_json_records

FORMATS = ("qa", "alpaca", "adgen", "lawbench")


class DatasetError(ValueError):
    def __init__(self, path: Path | str, line: int | None, message: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = str(path), line


@dataclass
class EvalRow:
    id: str
    question: str  # what the assistant is asked
    reference: str | None  # the reference answer ('' / None when the file has none)
    law: str | None = None
    gold: list[ArticleKey] = field(default_factory=list)  # normalised gold articles
    history: list = field(default_factory=list)  # [question, answer] pairs (answer '' when unknown)
    prompt: str | None = None  # LawBench's origin_prompt (instruction + question)
    line: int = 0

    @property
    def gold_labels(self) -> list[str]:
        return [key_label(k) for k in self.gold]


def _read_objects(path: Path) -> list[tuple[int, Any]]:
    """(line number, object) pairs from a JSONL file or a JSON array file (item number for arrays)."""
    try:
        return read_json_records(path)
    except JsonRecordsError as exc:
        raise DatasetError(path, exc.line, exc.problem) from None


def detect_format(obj: dict[str, Any]) -> str:
    keys = set(obj)
    if {"instruction", "question", "answer"} <= keys:
        return "lawbench"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if {"content", "summary"} <= keys:
        return "adgen"
    if keys & {"question", "query"}:
        return "qa"
    raise ValueError(f"cannot tell the format from fields {sorted(keys)}; expected question/query (+ answer/"
                     "response), instruction/input/output, content/summary, or instruction/question/answer")


def _text(obj: dict, name: str, required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise ValueError(f"missing field {name!r}")
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}")
    return value


def _row(obj: Any, fmt: str, default_id: str) -> EvalRow:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    row_id = obj.get("id", default_id)
    row_id = str(row_id)
    prompt = None
    if fmt == "qa":
        qfield = "question" if "question" in obj else "query"
        question = _text(obj, qfield, True)
        reference = _text(obj, "answer", False)
        if reference is None:
            reference = _text(obj, "response", False)
    elif fmt == "alpaca":
        instruction = _text(obj, "instruction", True)
        extra = _text(obj, "input", False) or ""
        question = f"{instruction}\n{extra}" if extra.strip() else instruction
        reference = _text(obj, "output", True)
    elif fmt == "adgen":
        question, reference = _text(obj, "content", True), _text(obj, "summary", True)
    elif fmt == "lawbench":
        instruction = _text(obj, "instruction", True)
        question, reference = _text(obj, "question", True), _text(obj, "answer", True)
        prompt = f"{instruction}\n{question}" if instruction else question
    else:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if not question or not question.strip():
        raise ValueError("the question is empty")
    law = obj.get("law")
    if law is not None and not isinstance(law, str):
        raise ValueError(f"field 'law' must be a string, got {type(law).__name__}")
    articles = obj.get("articles")
    if articles is None and obj.get("article") is not None:
        articles = [obj["article"]]
    if articles is not None and not isinstance(articles, list):
        raise ValueError(f"field 'articles' must be a list, got {type(articles).__name__}")
    try:
        gold = sorted(gold_keys(law, articles or []))
    except ValueError as exc:
        raise ValueError(f"field 'articles': {exc}") from None
    from assistant.answer.history import HistoryError, normalize_history

    try:  # the one normaliser the pipeline, API and web app use: strings, [q, a] pairs, role/content dicts
        history = [list(pair) for pair in normalize_history(obj.get("history") or [])]
    except HistoryError as exc:
        raise ValueError(f"field 'history': {exc}") from None
    return EvalRow(id=row_id, question=question, reference=reference, law=law, gold=gold, history=history,
                   prompt=prompt)


def load_rows(path: str | Path, *, fmt: str | None = None, limit: int | None = None) -> list[EvalRow]:
    """Read an evaluation file. Raises ``DatasetError`` (file:line: field problem) on any bad row."""
    path = Path(path)
    objects = _read_objects(path)
    if not objects:
        raise DatasetError(path, None, "no rows")
    if fmt is None:
        first_line, first = objects[0]
        if not isinstance(first, dict):
            raise DatasetError(path, first_line, f"expected a JSON object, got {type(first).__name__}")
        try:
            fmt = detect_format(first)
        except ValueError as exc:
            raise DatasetError(path, first_line, str(exc)) from None
    elif fmt not in FORMATS:
        raise DatasetError(path, None, f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    rows: list[EvalRow] = []
    seen: dict[str, int] = {}
    stem = path.stem
    for index, (line, obj) in enumerate(objects):
        if limit is not None and len(rows) >= limit:
            break
        try:
            row = _row(obj, fmt, f"{stem}-{index}")
        except ValueError as exc:
            raise DatasetError(path, line, str(exc)) from None
        if row.id in seen:
            raise DatasetError(path, line, f"duplicate id {row.id!r} (first on line {seen[row.id]})")
        seen[row.id] = line
        row.line = line
        rows.append(row)
    return rows
