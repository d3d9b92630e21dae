"""Run reports: summary.json, report.md (metrics table + worst rows with their citations), metrics.png,
and LawBench-style prediction files."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: (key in summary["metrics"], label, scale) for tables and charts; rates ×100 so all bars share 0..100
HEADLINE = (
    ("rouge-1", "ROUGE-1", 1), ("rouge-2", "ROUGE-2", 1), ("rouge-l", "ROUGE-L", 1), ("bleu-4", "BLEU-4", 1),
    ("citation_precision", "cite P", 100), ("citation_recall", "cite R", 100), ("citation_f1", "cite F1", 100),
    ("hallucination_rate", "hallucinated %", 100), ("not_in_context_rate", "not in context %", 100),
    ("repealed_rate", "repealed %", 100), ("not_yet_in_force_rate", "not yet in force %", 100),
    ("unsupported_rate", "unsupported %", 100),
    ("context_recall", "context recall", 100), ("context_mrr", "context MRR", 100),
    ("abstention_rate", "abstained %", 100),
)
LATENCY = (("latency_ms_p50", "latency p50 ms"), ("latency_ms_p95", "latency p95 ms"))


def fmt_value(value: Any, scale: float = 1, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value * scale:.{digits}f}"
    return str(value)


def metrics_table(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("rows", f"{metrics.get('n', 0)} of {metrics.get('rows_in_data', 0)}"
             + (f" ({metrics['errors']} errors)" if metrics.get("errors") else ""))]
    rows += [(label, fmt_value(metrics.get(key), scale)) for key, label, scale in HEADLINE]
    rows += [("citations per answer", fmt_value(metrics.get("citations_per_answer")))]
    rows += [(label, fmt_value(metrics.get(key), 1, 1)) for key, label in LATENCY]
    return rows


def _excerpt(text: str | None, n: int = 160) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[:n] + "…"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def worst_rows(records: list[dict[str, Any]], k: int = 10) -> list[dict[str, Any]]:
    """Lowest ROUGE-L first; among equals, more hallucinated citations first, then data order."""
    def key(rec):
        s = rec.get("scores", {})
        return (s.get("rouge-l", 0.0) if "rouge-l" in s else 100.0,
                -s.get("citation", {}).get("hallucinated", 0), rec.get("line", 0))
    return sorted(records, key=key)[:k]


def render_markdown(summary: dict[str, Any], records: list[dict[str, Any]], worst: int = 10) -> str:
    m = summary["metrics"]
    settings = summary.get("settings", {})
    lines = [f"# Evaluation: {summary.get('name', '')}", ""]
    if settings:
        lines += ["| setting | value |", "|---|---|"]
        for k in ("data", "format", "backend", "model", "adapter", "top_k", "law", "temperature", "seed", "limit"):
            if settings.get(k) is not None:
                lines.append(f"| {k} | {_md_cell(str(settings[k]))} |")
        lines.append("")
    lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in metrics_table(m)]
    lines += ["", "ROUGE-1/2/L: F over jieba tokens (rouge-chinese); BLEU-4: character level, nltk smoothing "
              "method3; ×100 (ChatGLM2 recipe). Citation P/R/F1: micro over rows with gold articles, "
              "第N条之一 folded into N. Rates are shares of all citation mentions.", "", "![metrics](metrics.png)", ""]
    if summary.get("errors"):
        lines += ["## Errors", ""]
        lines += [f"- `{e['id']}` (line {e.get('line')}): {_md_cell(e['error'])}" for e in summary["errors"][:20]]
        lines.append("")
    lines += [f"## Worst {min(worst, len(records))} rows", ""]
    for rec in worst_rows(records, worst):
        s = rec.get("scores", {})
        lines.append(f"### {rec['id']} — ROUGE-L {fmt_value(s.get('rouge-l'))}, BLEU-4 {fmt_value(s.get('bleu-4'))}")
        lines.append("")
        lines.append(f"- **question**: {_md_cell(_excerpt(rec['question']))}")
        lines.append(f"- **answer**: {_md_cell(_excerpt(rec['answer']))}")
        if rec.get("reference") is not None:
            lines.append(f"- **reference**: {_md_cell(_excerpt(rec['reference']))}")
        if rec.get("gold"):
            lines.append(f"- **gold articles**: {'、'.join(rec['gold'])}")
        lines.append(f"- **retrieved**: {'、'.join(rec.get('retrieved', [])[:10]) or '–'}")
        if rec["citations"]:
            lines.append("- **citations**:")
            for c in rec["citations"]:
                support = (c.get("support") or {}).get("label")
                lines.append(f"  - {_md_cell(c.get('span', ''))}: {c.get('verdict')}"
                             + (f", {support}" if support else "")
                             + (f" — suggestion {c['suggestion']}" if c.get("suggestion") else ""))
        else:
            lines.append("- **citations**: none")
        lines.append("")
    return "\n".join(lines) + "\n"


def bar_chart(path: Path, series: dict[str, dict[str, Any]], title: str) -> Path:
    """Grouped bars of the headline metrics (0..100) for one or more runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [(k, label, scale) for k, label, scale in HEADLINE
            if any(m.get(k) is not None for m in series.values())]
    labels = [label for _, label, _ in keys]
    x = np.arange(len(keys))
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(keys) + 2), 4.2), dpi=110)
    for i, (name, m) in enumerate(series.items()):
        vals = [(m.get(k) or 0.0) * scale for k, _, scale in keys]
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=name)
        for b, v in zip(bars, vals):
            ax.annotate(f"{v:.0f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("score / %")
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def lawbench_predictions(records: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """LawBench's prediction file shape: {"0": {"origin_prompt", "prediction", "refr"}, ...} in data order."""
    ordered = sorted(records, key=lambda r: r.get("line", 0))
    return {str(i): {"origin_prompt": r.get("prompt") or r["question"], "prediction": r.get("prediction", r["answer"]),
                     "refr": r.get("reference") or ""} for i, r in enumerate(ordered)}


def write_reports(out: Path, summary: dict[str, Any], records: list[dict[str, Any]], rows=None,
                  task: str = "task") -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out / "summary.json", "report": out / "report.md", "chart": out / "metrics.png",
             "lawbench": out / "lawbench" / f"{task}.json"}
    paths["summary"].write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["report"].write_text(render_markdown(summary, records), encoding="utf-8")
    bar_chart(paths["chart"], {summary.get("name") or "run": summary["metrics"]},
              f"{summary.get('name', '')}: {summary.get('settings', {}).get('backend', '')} "
              f"({summary['metrics'].get('n', 0)} rows)")
    paths["lawbench"].parent.mkdir(exist_ok=True)
    paths["lawbench"].write_text(json.dumps(lawbench_predictions(records), ensure_ascii=False, indent=1) + "\n",
                                 encoding="utf-8")
    return paths
