"""SFT examples from labelled files. Reading, format detection and errors are ``assistant.data.datasets``'
(one registry for eval, search and train): ``alpaca`` (history and system are prompt, only ``output`` is
learned), ``sharegpt`` (every assistant reply is learned), ``adgen``, ``lawbench`` (instruction + question ->
answer) and ``qa`` (question/query -> answer/response); ``auto`` detects the format from the first row."""
from __future__ import annotations

from dataclasses import dataclass, field

from assistant.data.datasets import FORMATS as _REGISTRY
from assistant.data.datasets import DatasetError, LabelledRow, read_rows

FORMATS = ("auto", *_REGISTRY)


@dataclass
class SFTExample:
    """One training conversation. ``turns`` = (question, answer) pairs; when ``learn_all_turns`` each answer
    is a target, otherwise earlier turns are prompt context and only the last answer is learned."""
    turns: list[tuple[str, str]]
    system: str | None = None
    learn_all_turns: bool = False
    source: str = ""  # file:line, for error messages and debugging
    meta: dict = field(default_factory=dict)


def sft_example(row: LabelledRow, source: str = "") -> SFTExample:
    """A labelled row as a training conversation (its reference is the last answer learned)."""
    if not row.reference:
        raise ValueError("no answer to learn (the row's reference field is missing or empty)")
    return SFTExample([tuple(t) for t in row.turns], row.system, learn_all_turns=row.learn_all_turns,
                      source=source)


def load_sft_file(path, fmt: str = "auto") -> list[SFTExample]:
    """Every record of ``path`` as SFTExamples; the first bad record raises ``DatasetError``, and so does a
    row without an answer to learn."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    examples = []
    for row in read_rows(path, fmt=fmt):
        try:
            examples.append(sft_example(row, source=f"{path}:{row.line}"))
        except ValueError as exc:
            raise DatasetError(path, row.line, str(exc)) from None
    return examples
