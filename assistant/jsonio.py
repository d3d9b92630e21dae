"""Reading JSON datasets (a JSONL file, one object a line, or a file holding one JSON array) and writing JSONL.

Training data, evaluation sets and statute JSONL all come in these two shapes; each caller turns
``JsonRecordsError`` into its own error type, which names the file, the line and the problem.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JsonRecordsError(ValueError):
    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        super().__init__(f"{path}:{line}: {problem}" if line is not None else f"{path}: {problem}")


def read_json_records(path: Path | str) -> list[tuple[int, Any]]:
    """(position, object) pairs, blank lines skipped. The position is the line number in a JSONL file and
    the 1-based item number in a JSON array (``json`` keeps no line numbers for array items)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JsonRecordsError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise JsonRecordsError(path, None, f"not UTF-8 text ({exc})") from None
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise JsonRecordsError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise JsonRecordsError(path, None, "JSON nested too deeply") from None
        except ValueError as exc:  # an integer of thousands of digits
            raise JsonRecordsError(path, None, f"invalid JSON value: {str(exc)[:120]}") from None
        if not isinstance(data, list):
            raise JsonRecordsError(path, 1, "expected a JSON array of objects")
        return list(enumerate(data, 1))
    records = []
    for lineno, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise JsonRecordsError(path, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise JsonRecordsError(path, lineno, "JSON nested too deeply") from None
        except ValueError as exc:
            raise JsonRecordsError(path, lineno, f"invalid JSON value: {str(exc)[:120]}") from None
    return records


def write_json_lines(rows, path: Path | str) -> Path:
    """One JSON object a line (UTF-8, not ASCII-escaped), written whole under a temporary name and then
    renamed: never a half-written file under the real name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
