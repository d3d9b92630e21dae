"""One reading of a conversation history, shared by the pipeline, the API, the web app, the CLI and eval.

Accepted forms (mixed freely, oldest turn first):
- bare strings: earlier user turns without their answers (``["酒后驾车怎么处罚？"]``);
- pairs: ``[question, answer]`` lists or tuples, as ChatGLM2's ptuning data and Gradio's chatbot write them
  (a one-element ``[question]`` is a turn without an answer);
- OpenAI-style messages: ``{"role": "user" | "assistant" | "system", "content": "…"}`` (system messages are
  skipped; a user message followed by an assistant message is one turn).
Anything else is a ``HistoryError`` naming the turn; histories are bounded (turns, characters).
"""
from __future__ import annotations

from typing import Any, Sequence

MAX_HISTORY_TURNS = 50
MAX_HISTORY_CHARS = 50_000


class HistoryError(TypeError, ValueError):
    """A history that is not one of the accepted forms; the message names the turn (``history[i]``).
    A ``TypeError`` for callers of the old ``normalize_history``, a ``ValueError`` for input checks."""


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HistoryError(f"{where}: must be a string, got {type(value).__name__}")
    return value


def normalize_history(history: Sequence[Any] | None) -> list[tuple[str, str]]:
    """(user, assistant) pairs, oldest first, from any accepted form."""
    if history is None or history == "":
        return []
    if isinstance(history, (str, bytes, dict)) or not isinstance(history, (list, tuple)):
        raise HistoryError(f"history must be a list of turns, got {type(history).__name__}")
    if len(history) > 4 * MAX_HISTORY_TURNS:
        raise HistoryError(f"history has {len(history)} entries; at most {MAX_HISTORY_TURNS} turns are used")
    pairs: list[tuple[str, str]] = []
    pending: str | None = None  # a user message waiting for its answer

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            pairs.append((pending, ""))
            pending = None

    for i, turn in enumerate(history):
        where = f"history[{i}]"
        if isinstance(turn, str):
            flush()
            pairs.append((turn, ""))
        elif isinstance(turn, dict):
            role = turn.get("role", "user")
            content = _text(turn.get("content"), f"{where}.content")
            if role == "user":
                flush()
                pending = content
            elif role == "assistant":
                pairs.append((pending or "", content))
                pending = None
            elif role != "system":
                raise HistoryError(f"{where}.role: must be user, assistant or system, got {str(role)[:20]!r}")
        elif isinstance(turn, (list, tuple)) and 1 <= len(turn) <= 2:
            flush()
            pairs.append((_text(turn[0], f"{where}[0]"), _text(turn[1], f"{where}[1]") if len(turn) == 2 else ""))
        else:
            raise HistoryError(f"{where}: a turn is a string, a [question, answer] pair or a "
                               f"{{role, content}} message, got {type(turn).__name__}")
    flush()
    pairs = [(q, a) for q, a in pairs if q.strip() or a.strip()][-MAX_HISTORY_TURNS:]
    if sum(len(q) + len(a) for q, a in pairs) > MAX_HISTORY_CHARS:
        raise HistoryError(f"history is longer than {MAX_HISTORY_CHARS} characters")
    return pairs


def user_turns(history: Sequence[Any] | None) -> list[str]:
    """The earlier user questions only (what retrieval uses to make a follow-up self-contained)."""
    return [q for q, _ in normalize_history(history) if q.strip()]
