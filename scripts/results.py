"""One benchmark run as JSON for ``scripts/report.py``: the table plus where it came from."""
from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_meta(note: str | None = None) -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "?"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += "+changes" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    argv = [str(Path(sys.argv[0]).resolve().relative_to(ROOT)) if Path(sys.argv[0]).resolve().is_relative_to(ROOT)
            else sys.argv[0], *sys.argv[1:]]
    meta = {"command": "python " + " ".join(argv), "commit": commit,
            "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "load": round(os.getloadavg()[0], 1)}
    if note:
        meta["note"] = note
    return meta


def write_result(path: str | Path, benchmark: str, title: str, columns: list[str], rows: list[list],
                 notes: list[str] | None = None, note: str | None = None, extra: dict | None = None) -> None:
    out = {"benchmark": benchmark, "title": title, "meta": run_meta(note), "columns": columns, "rows": rows,
           "notes": notes or [], **(extra or {})}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", "utf-8")
