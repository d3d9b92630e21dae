"""Compare evaluation runs side by side: a table (text / markdown / JSON) and a grouped bar chart."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.eval.report import HEADLINE, LATENCY, bar_chart, fmt_value


class CompareError(ValueError):
    pass


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    path = run_dir / "summary.json" if run_dir.is_dir() else run_dir
    if not path.exists():
        raise CompareError(f"{run_dir}: no summary.json (is this an `assistant eval qa` run folder?)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
        raise CompareError(f"{path}: no 'metrics' object")
    return summary


def run_names(run_dirs: list[str | Path]) -> list[str]:
    """Folder names, made unique with their parent when two runs share a name."""
    paths = [Path(p).resolve() for p in run_dirs]
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


def compare_runs(run_dirs: list[str | Path]) -> dict[str, Any]:
    if not run_dirs:
        raise CompareError("give at least one run folder")
    names = run_names(run_dirs)
    runs = {}
    for name, d in zip(names, run_dirs):
        s = load_summary(d)
        runs[name] = {"path": str(d), "settings": s.get("settings", {}), "metrics": s["metrics"]}
    return {"runs": runs, "metrics": [k for k, _, _ in HEADLINE] + [k for k, _ in LATENCY]}


def comparison_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    names = list(result["runs"])
    header = ["metric"] + names
    rows = []
    for key, label, scale in HEADLINE:
        rows.append([label] + [fmt_value(result["runs"][n]["metrics"].get(key), scale) for n in names])
    for key, label in LATENCY:
        rows.append([label] + [fmt_value(result["runs"][n]["metrics"].get(key), 1, 1) for n in names])
    rows.insert(0, ["rows"] + [str(result["runs"][n]["metrics"].get("n", "–")) for n in names])
    rows.insert(1, ["backend"] + [str(result["runs"][n]["settings"].get("backend", "–")) for n in names])
    return header, rows


def render_table(result: dict[str, Any], markdown: bool = False) -> str:
    header, rows = comparison_rows(result)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out) + "\n"
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]) + "\n"


def comparison_chart(result: dict[str, Any], path: str | Path) -> Path:
    series = {name: run["metrics"] for name, run in result["runs"].items()}
    return bar_chart(Path(path), series, "comparison of runs")
