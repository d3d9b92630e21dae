"""Labelled rows: one reader and one format registry for evaluation, search learning and training data.

Every file is JSONL (one object per line) or a single JSON array. Each format in ``FORMATS`` says how to
tell its rows apart (``detect``) and how to turn one into a ``LabelledRow`` (``convert``); the reader
detects the format from the first row unless given, and any bad row raises ``DatasetError`` naming the
file, line (item number in a JSON array) and field. Nothing is silently skipped.

Formats, in detection order (the first that matches the first row wins):

* ``sharegpt``: ``conversations`` (``[{"from": "human"|"gpt"|"system", "value"}]``) or ``messages``
  (``[{"role", "content"}]``), optional ``system``; the last exchange is the question and reference, the
  earlier ones its history (training learns every reply).
* ``lawbench``: LawBench task files, ``instruction`` / ``question`` / ``answer``. The question is asked;
  ``instruction + question`` is kept as ``prompt`` (LawBench's ``origin_prompt``). Checked before alpaca,
  which also has an ``instruction``.
* ``alpaca``: ``instruction`` / ``input`` / ``output``, optional ``system`` and ``history``.
* ``adgen``: ``content`` / ``summary`` (ChatGLM's ADGEN set).
* ``qa`` (ours): ``question`` or ``query``; reference ``answer`` or ``response``.

Any format may carry gold articles: ``law`` with ``articles`` (ints, or strings such as 第一百三十三条之一)
or a single ``article``; and/or ``citations`` (``[{"law", "article": int, "suffix"?, "in_db"?}]``, STARD's
multi-law labels; ``{"law": null, "article": null}`` marks a label the source could not resolve). Plus an
optional ``id`` and ``history`` (earlier turns, any form ``assistant.data.history`` reads).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant.data.gold import ArticleKey, parse_gold_article, article_key, key_label
from assistant.data.history import HistoryError, normalize_history
from assistant.jsonio import JsonRecordsError, read_json_records


class DatasetError(ValueError):
    """A file or row that cannot be read; the message starts with ``file:line:``."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = str(path), line


@dataclass(frozen=True)
class Citation:
    """One labelled gold article as written (suffix kept); ``law`` None for a label the source could not
    resolve; ``in_db`` as the file says (None: not said)."""
    law: str | None
    number: int | None
    suffix: str = ""
    in_db: bool | None = None


@dataclass
class LabelledRow:
    id: str
    question: str  # what the assistant is asked (the last user turn)
    reference: str | None  # the reference answer (None when the file has none)
    format: str = "qa"
    law: str | None = None
    articles: list[Citation] = field(default_factory=list)  # from ``law`` + ``articles`` / ``article``
    citations: list[Citation] | None = None  # from ``citations`` (None: the row has no such field)
    history: list = field(default_factory=list)  # [question, answer] pairs (answer '' when unknown)
    system: str | None = None
    prompt: str | None = None  # LawBench's origin_prompt (instruction + question)
    learn_all_turns: bool = False  # training: every answer is a target (sharegpt), not only the last
    id_given: bool = False  # the file named the row (else ``id`` is file stem + position)
    line: int = 0

    @property
    def gold(self) -> list[ArticleKey]:
        """The ``law`` + ``articles`` labels as keys, 第N条之一 folded into N as the dev sets do."""
        return sorted({article_key(c.law, c.number) for c in self.articles})

    @property
    def gold_labels(self) -> list[str]:
        return [key_label(k) for k in self.gold]

    @property
    def all_gold(self) -> set[ArticleKey]:
        """Every labelled article, ``articles`` and ``citations`` alike (folded keys)."""
        return {article_key(c.law, c.number) for c in self.articles + (self.citations or []) if c.law}

    @property
    def split_key(self) -> str:
        """What deterministic splits hash: the file's id, else the question."""
        return self.id if self.id_given else self.question

    @property
    def turns(self) -> list[tuple[str, str]]:
        """(question, answer) pairs, history first; the reference closes the last."""
        return [(q, a) for q, a in self.history] + [(self.prompt or self.question, self.reference or "")]


@dataclass(frozen=True)
class DatasetFormat:
    """A registry entry: how to recognise a row of this format and how to read it. ``convert`` returns
    (question, reference, extra fields) and raises ``ValueError`` naming the field."""
    name: str
    detect: Callable[[dict], bool]
    convert: Callable[[dict], tuple[str, str | None, dict]]


def _text(obj: dict, name: str, required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise ValueError(f"missing field {name!r}")
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}")
    return value


def _qa(obj: dict):
    question = _text(obj, "question" if "question" in obj else "query", True)
    reference = _text(obj, "answer", False)
    return question, reference if reference is not None else _text(obj, "response", False), {}


def _alpaca(obj: dict):
    instruction = _text(obj, "instruction", True)
    extra = _text(obj, "input", False) or ""
    question = f"{instruction}\n{extra}" if extra.strip() else instruction
    return question, _text(obj, "output", True), {"system": _text(obj, "system", False) or None}


def _adgen(obj: dict):
    return _text(obj, "content", True), _text(obj, "summary", True), {}


def _lawbench(obj: dict):
    instruction = _text(obj, "instruction", True)
    question, reference = _text(obj, "question", True), _text(obj, "answer", True)
    return question, reference, {"prompt": f"{instruction}\n{question}" if instruction else question}


_USER = {"human", "user"}
_ASSISTANT = {"gpt", "assistant", "bot", "model"}


def _sharegpt(obj: dict):
    key = "conversations" if "conversations" in obj else "messages"
    messages = obj.get(key)
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"field {key!r} must be a non-empty list")
    system = _text(obj, "system", False) or None
    turns: list[tuple[str, str]] = []
    pending: str | None = None
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ValueError(f"{key}[{i}] must be an object")
        role = str(m.get("from", m.get("role", ""))).lower()
        value = m.get("value", m.get("content"))
        if not isinstance(value, str):
            raise ValueError(f"{key}[{i}] has no text (value/content)")
        if role == "system":
            system = value if system is None else f"{system}\n{value}"
        elif role in _USER:
            if pending is not None:
                raise ValueError(f"{key}[{i}]: two user messages in a row")
            pending = value
        elif role in _ASSISTANT:
            if pending is None:
                raise ValueError(f"{key}[{i}]: an assistant message without a question before it")
            turns.append((pending, value))
            pending = None
        else:
            raise ValueError(f"{key}[{i}]: unknown role {role!r}")
    if not turns:
        raise ValueError(f"{key} holds no question/answer pair")
    (question, reference), history = turns[-1], [list(t) for t in turns[:-1]]
    return question, reference, {"system": system, "history": history, "learn_all_turns": True}


#: the formats, in detection order
FORMATS: dict[str, DatasetFormat] = {f.name: f for f in (
    DatasetFormat("sharegpt", lambda o: "conversations" in o or "messages" in o, _sharegpt),
    DatasetFormat("lawbench", lambda o: {"instruction", "question", "answer"} <= set(o), _lawbench),
    DatasetFormat("alpaca", lambda o: "instruction" in o or "output" in o, _alpaca),
    DatasetFormat("adgen", lambda o: {"content", "summary"} <= set(o), _adgen),
    DatasetFormat("qa", lambda o: bool(set(o) & {"question", "query"}), _qa),
)}


def detect_format(obj: dict[str, Any]) -> str:
    """The name of the first registered format that recognises ``obj``."""
    for fmt in FORMATS.values():
        if fmt.detect(obj):
            return fmt.name
    raise ValueError(f"cannot tell the format from fields {sorted(obj)}; expected question/query (+ answer/"
                     "response), instruction/input/output, content/summary, instruction/question/answer or "
                     "conversations/messages")


def _articles(obj: dict) -> list[Citation]:
    law = obj.get("law")
    if law is not None and not isinstance(law, str):
        raise ValueError(f"field 'law' must be a string, got {type(law).__name__}")
    items = obj.get("articles")
    if items is None and obj.get("article") is not None:
        items = [obj["article"]]
    if items is not None and not isinstance(items, list):
        raise ValueError(f"field 'articles' must be a list, got {type(items).__name__}")
    out = []
    for item in items or []:
        try:
            key = parse_gold_article(law, item, fold_suffix=False)
        except ValueError as exc:
            raise ValueError(f"field 'articles': {exc}") from None
        if not key[0]:
            raise ValueError(f"field 'articles': gold article {item!r} has no law (give the row a 'law' field)")
        # a bare number keeps the row's law as written (短名 or full name: search resolves it with the
        # store's resolver); a string or object that names its own law gives it in its short form
        bare = isinstance(item, int) and not isinstance(item, bool)
        out.append(Citation(law if bare and law and law.strip() else key[0], key[1], key[2]))
    return out


def _citations(obj: dict) -> list[Citation] | None:
    if "citations" not in obj:
        return None
    cits = obj["citations"]
    if not isinstance(cits, list):
        raise ValueError("field 'citations' must be a list of {law, article} objects")
    out = []
    for i, c in enumerate(cits):
        if not isinstance(c, dict):
            raise ValueError(f"citations[{i}] must be an object {{law, article}}")
        if c.get("law") is None and c.get("article") is None:
            out.append(Citation(None, None, "", False))  # unresolved by the source: a gold article not in the corpus
            continue
        if not isinstance(c.get("law"), str) or not c["law"].strip():
            raise ValueError(f"citations[{i}].law must be a non-empty string")
        if not isinstance(c.get("article"), int) or isinstance(c.get("article"), bool):
            raise ValueError(f"citations[{i}].article must be an integer")
        if "in_db" in c and not isinstance(c["in_db"], bool):
            raise ValueError(f"citations[{i}].in_db must be true or false")
        suffix = c.get("suffix") or ""
        if not isinstance(suffix, str):
            raise ValueError(f"citations[{i}].suffix must be a string")
        out.append(Citation(c["law"], c["article"], suffix, c.get("in_db")))
    return out


def convert_row(obj: Any, fmt: str, default_id: str, *, need_gold: bool = False) -> LabelledRow:
    """One object as a ``LabelledRow``; ``ValueError`` names the field. ``need_gold``: the row must label
    its gold articles (``law`` + ``articles``, or ``citations``)."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    question, reference, extra = FORMATS[fmt].convert(obj)
    if not question or not question.strip():
        raise ValueError("the question is empty")
    citations = _citations(obj)
    if need_gold and citations is None:
        for key in ("law", "articles"):
            if key not in obj:
                raise ValueError(f"missing field {key!r} (or give 'citations')")
    articles = _articles(obj)
    history = extra.pop("history", None)
    if history is None:
        try:  # the one normaliser the pipeline, API and web app use: strings, [q, a] pairs, role/content dicts
            history = [list(pair) for pair in normalize_history(obj.get("history") or [])]
        except HistoryError as exc:
            raise ValueError(f"field 'history': {exc}") from None
    return LabelledRow(id=str(obj.get("id", default_id)), question=question, reference=reference, format=fmt,
                       law=obj.get("law"), articles=articles, citations=citations, history=history,
                       id_given="id" in obj, **extra)


def read_rows(path: str | Path, *, fmt: str | None = None, limit: int | None = None,
              need_gold: bool = False) -> list[LabelledRow]:
    """Every row of a labelled file (``fmt`` None or ``auto``: detected from the first row). Raises
    ``DatasetError`` (file:line: field problem) on any bad row, a duplicate id or an empty file."""
    path = Path(path)
    try:
        objects = read_json_records(path)
    except JsonRecordsError as exc:
        raise DatasetError(path, exc.line, exc.problem) from None
    if not objects:
        raise DatasetError(path, None, "no rows")
    if fmt in (None, "auto"):
        first_line, first = objects[0]
        if not isinstance(first, dict):
            raise DatasetError(path, first_line, f"expected a JSON object, got {type(first).__name__}")
        try:
            fmt = detect_format(first)
        except ValueError as exc:
            raise DatasetError(path, first_line, str(exc)) from None
    elif fmt not in FORMATS:
        raise DatasetError(path, None, f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    rows: list[LabelledRow] = []
    seen: dict[str, int] = {}
    for index, (line, obj) in enumerate(objects):
        if limit is not None and len(rows) >= limit:
            break
        try:
            row = convert_row(obj, fmt, f"{path.stem}-{index}", need_gold=need_gold)
        except ValueError as exc:
            raise DatasetError(path, line, str(exc)) from None
        if row.id in seen:
            raise DatasetError(path, line, f"duplicate id {row.id!r} (first on line {seen[row.id]})")
        seen[row.id] = line
        row.line = line
        rows.append(row)
    return rows
