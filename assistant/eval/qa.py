"""Batch question answering through the grounded pipeline, scored and written to a run folder.

    run = QARun(QAConfig(data="dev.jsonl", out="runs/x", options=ModelOptions(model="m.gguf")))
    summary = run.run()

A run folder holds:
  run.json           the settings (a resumed run must use the same ones)
  predictions.jsonl  one line per answered row: question, retrieved ids, answer, citation report, reference,
                     per-row scores. Appended and flushed as rows finish, so an interrupted run resumes
                     where it stopped (rows already in the file are skipped).
  summary.json       the metrics (see ``summarize``)
  report.md          metrics table and the worst rows with their citations
  metrics.png        bar chart of the headline metrics
  lawbench/<task>.json  LawBench-style ``{"0": {"origin_prompt", "prediction", "refr"}, ...}``

Determinism: greedy decoding (temperature 0) and fixed seeds by default; the extractive and tiny-model
backends then give byte-identical predictions on a rerun.
"""
from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable

from assistant.data.datasets import LabelledRow, read_rows
from assistant.eval.metrics import (
    TEXT_METRICS, aggregate_citations, context_retrieval, is_abstention, latency_summary, score_citations,
    score_pair)
from assistant.models.options import ModelOptions

PREDICTIONS = "predictions.jsonl"
#: settings that must match for a run folder to be resumed
_RESUME_KEYS = ("data", "format", "backend", "model", "adapter", "top_k", "law", "temperature", "seed",
                "max_new_tokens", "draft")


class RunError(ValueError):
    """A problem with the run folder or settings (printed without a traceback by the CLI)."""


@dataclass
class QAConfig:
    data: str | Path
    out: str | Path
    #: backend, model, adapter and generation options (greedy by default: reproducible runs)
    options: ModelOptions = field(default_factory=lambda: ModelOptions(temperature=0.0))
    top_k: int = 5
    law: str | None = None  # restrict retrieval to one law
    limit: int | None = None
    format: str | None = None  # detected from the file when None
    seed: int = 0
    workers: int = 1  # parallel requests; >1 only pays off for the openai backend
    restart: bool = False  # discard an existing run in ``out`` instead of resuming it

    def settings(self) -> dict[str, Any]:
        """Flat, as run.json and summary.json have always recorded them (the model options at the top
        level, the API key never)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "options"}
        d.update(self.options.settings())
        d["data"] = str(Path(self.data).resolve())
        d["out"] = str(Path(self.out))
        return d


def set_seeds(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    if "torch" in sys.modules:  # only when a torch backend is loaded; never import torch for extractive runs
        import torch

        torch.manual_seed(seed)


def task_name(path: Path, fmt: str | None) -> str:
    """LawBench names tasks like 1-1; keep that when the file name carries it."""
    m = re.search(r"(?<![\d.])(\d-\d)(?![\d])", path.stem)
    return m.group(1) if m and fmt == "lawbench" else path.stem


def predict_row(assistant, row: LabelledRow, config: QAConfig) -> dict[str, Any]:
    """Ask one question and turn the answer into a predictions.jsonl record (with per-row scores)."""
    started = time.perf_counter()
    options: dict[str, Any] = {"top_k": config.top_k, "law": config.law,
                               "temperature": config.options.temperature}
    if config.options.max_new_tokens:
        options["max_new_tokens"] = config.options.max_new_tokens
    answer = assistant.ask(row.question, history=row.history or None, **options)
    wall_ms = (time.perf_counter() - started) * 1000
    citations = [c.to_dict() for c in answer.citations]
    retrieved = [h.id for h in answer.sources]
    record: dict[str, Any] = {
        "id": row.id, "line": row.line, "question": row.question, "history": row.history,
        "prompt": row.prompt, "reference": row.reference, "gold": row.gold_labels,
        "retrieved": retrieved,
        "retrieved_scores": [round(float(h.score), 6) for h in answer.sources],
        "answer": answer.text, "prediction": model_text(answer.text, getattr(answer, "finish_reason", "stop"), answer.notice),
        "backend": answer.backend, "model": answer.model, "notice": answer.notice,
        "finish_reason": getattr(answer, "finish_reason", "stop"),
        "latency_ms": round(float(answer.latency_ms or wall_ms), 1),
        "citations": citations, "citation_summary": answer.citation_summary(),
    }
    record["scores"] = score_record(record, row)
    return record


#: what the pipeline appends to a failed / empty / cut-off / garbled generation (assistant.answer.pipeline);
#: scored text is the model's own output without these notes
_PIPELINE_NOTES = re.compile(r"\n?（(?:模型没有生成任何内容|回答因长度限制被截断|模型输出看起来不是正常的文字|生成回答时出错：)[^\n]*）$")


def model_text(text: str, finish_reason: str = "stop", notice: str | None = None) -> str:
    """The answer as scored: '' for an empty generation; the pipeline's notes and a backend's fixed
    disclaimer line (the extractive backend's "（未配置生成式模型：…）", repeated in ``Answer.notice``)
    removed, since they are boilerplate about the answer, not part of it."""
    if finish_reason == "empty":
        return ""
    text = _PIPELINE_NOTES.sub("", text or "")
    for note in (notice or "").split("; "):
        if note:
            lines = text.split("\n")
            text = "\n".join(ln for ln in lines if ln.strip() != f"（{note}）")
    return text.strip()


def score_record(record: dict[str, Any], row: LabelledRow) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    if row.reference is not None:
        scores.update(score_pair(record["prediction"], row.reference))
    scores["citation"] = score_citations(record["citations"], row.gold).to_dict()
    ctx = context_retrieval(record["retrieved"], row.gold)
    if ctx is not None:
        scores["context"] = ctx
    scores["abstained"] = is_abstention(record["answer"])
    return scores


def _read_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """Records by id. A torn last line (the process was killed mid-write) is dropped and the file
    rewritten without it; a bad line elsewhere is an error naming the line."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    out: dict[str, dict[str, Any]] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out[str(rec["id"])] = rec
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            if n == len(lines):
                good = [ln for ln in lines[:-1] if ln.strip()]
                path.write_text("".join(ln + "\n" for ln in good), encoding="utf-8")
                break
            raise RunError(f"{path}:{n}: not a prediction record ({exc}); fix or delete the file") from None
    return out


class QARun:
    """One evaluation run. ``assistant`` may be given (tests, scripts); otherwise it is built from the
    config with ``assistant.answer.pipeline.build_assistant`` over the store and index in $ASSISTANT_HOME."""

    def __init__(self, config: QAConfig, assistant=None, *, progress: bool = True,
                 assistant_factory: Callable[[], Any] | None = None):
        self.config = config
        self.out = Path(config.out)
        self._assistant = assistant
        self._factory = assistant_factory
        self.progress = progress

    # -- setup ------------------------------------------------------------------------------------------
    def _build_assistant(self):
        if self._assistant is not None:
            return self._assistant
        if self._factory is not None:
            self._assistant = self._factory()
            return self._assistant
        from assistant.answer.pipeline import PipelineConfig, build_assistant
        from assistant.corpus import open_store
        from assistant.search import load_retriever

        c = self.config
        # fail before the (slow) index load when the model folder is plainly missing
        o = c.options
        if o.backend == "transformers" and (not o.model or not Path(o.model).is_dir()):
            raise RunError(f"model folder {o.model} does not exist (the transformers backend loads local folders "
                           "only; nothing is downloaded)" if o.model else "the transformers backend needs --model PATH")
        if o.backend == "llamacpp" and (not o.model or not Path(o.model).is_file()):
            raise RunError(f"model file {o.model} does not exist (the llamacpp backend loads a local .gguf file)"
                           if o.model else "the llamacpp backend needs --model FILE.gguf")
        store = open_store(readonly=True)
        retriever = load_retriever(store=store, progress=self.progress)
        self._assistant = build_assistant(**o.backend_kwargs(), store=store, retriever=retriever,
                                          config=PipelineConfig(top_k=c.top_k, **o.generation()))
        return self._assistant

    def _prepare_folder(self) -> dict[str, dict[str, Any]]:
        self.out.mkdir(parents=True, exist_ok=True)
        settings_path = self.out / "run.json"
        settings = {k: v for k, v in self.config.settings().items() if k in _RESUME_KEYS}
        pred_path = self.out / PREDICTIONS
        if self.config.restart:
            for name in (PREDICTIONS, "summary.json", "report.md", "metrics.png"):
                (self.out / name).unlink(missing_ok=True)
        elif settings_path.exists() and pred_path.exists():
            old = json.loads(settings_path.read_text(encoding="utf-8")).get("settings", {})
            changed = {k: (old.get(k), settings[k]) for k in _RESUME_KEYS if old.get(k) != settings[k]}
            if changed:
                what = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
                raise RunError(f"{self.out} holds a run with other settings ({what}); "
                               "use --restart to discard it or choose another --out")
        settings_path.write_text(json.dumps({"settings": settings, "created": time.strftime("%Y-%m-%d %H:%M:%S")},
                                            ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return _read_predictions(pred_path)

    # -- run --------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        c = self.config
        rows = read_rows(c.data, fmt=c.format, limit=c.limit)
        done = self._prepare_folder()
        todo = [r for r in rows if r.id not in done]
        set_seeds(c.seed)
        errors: list[dict[str, Any]] = []
        if todo:
            assistant = self._build_assistant()
            self._answer_rows(assistant, todo, done, errors)
        records = [done[r.id] for r in rows if r.id in done]
        if rows and not records:
            first = errors[0]["error"] if errors else "no rows answered"
            raise RunError(f"every row failed; first error: {first}")
        from assistant.eval.report import write_reports

        summary = summarize(records, rows, self.config, errors=errors)
        write_reports(self.out, summary, records, rows, task=task_name(Path(c.data), _fmt_of(rows, c)))
        return summary

    def _answer_rows(self, assistant, todo: list[LabelledRow], done: dict, errors: list) -> None:
        from tqdm import tqdm

        pred_path = self.out / PREDICTIONS
        lock = threading.Lock()
        bar = tqdm(total=len(todo), desc=f"eval qa ({self.config.options.backend})", unit="q", disable=not self.progress,
                   file=sys.stderr)

        def finish(row: LabelledRow, record: dict | None, exc: BaseException | None) -> None:
            with lock:
                if exc is not None:
                    errors.append({"id": row.id, "line": row.line, "error": f"{type(exc).__name__}: {exc}"})
                else:
                    with pred_path.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(record, ensure_ascii=False) + "\n")
                        f.flush()
                        os.fsync(f.fileno())
                    done[row.id] = record
                bar.update(1)

        try:
            if self.config.workers <= 1:
                for row in todo:
                    try:
                        finish(row, predict_row(assistant, row, self.config), None)
                    except Exception as exc:  # one bad row is recorded, the run goes on
                        finish(row, None, exc)
            else:
                with ThreadPoolExecutor(max_workers=self.config.workers) as pool:
                    futures = {pool.submit(predict_row, assistant, row, self.config): row for row in todo}
                    for fut in as_completed(futures):
                        row = futures[fut]
                        exc = fut.exception()
                        finish(row, None if exc else fut.result(), exc)
        finally:
            bar.close()


def _fmt_of(rows: list[LabelledRow], config: QAConfig) -> str | None:
    if config.format:
        return config.format
    return "lawbench" if rows and rows[0].prompt is not None else None


def _mean(values: Iterable[float]) -> float | None:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def summarize(records: list[dict[str, Any]], rows: list[LabelledRow], config: QAConfig | None = None,
              errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """All run metrics from the prediction records (recomputed from the stored answers, so a resumed
    run and a straight run give the same summary)."""
    by_id = {r.id: r for r in rows}
    text_scores = []
    cit_scores = []
    contexts = []
    for rec in records:
        row = by_id.get(str(rec["id"]))
        if row is None:
            continue
        if row.reference is not None:
            text_scores.append(score_pair(rec.get("prediction", rec["answer"]), row.reference))
        cit_scores.append(score_citations(rec["citations"], row.gold))
        ctx = context_retrieval(rec["retrieved"], row.gold)
        if ctx is not None:
            contexts.append(ctx)
    metrics: dict[str, Any] = {"n": len(records), "rows_in_data": len(rows), "errors": len(errors or []),
                               "rows_with_reference": len(text_scores)}
    for k in TEXT_METRICS:
        metrics[k] = _mean(s[k] for s in text_scores)
    metrics.update(aggregate_citations(cit_scores))
    metrics["context_recall"] = _mean(c["recall"] for c in contexts)
    metrics["context_mrr"] = _mean(c["rr"] for c in contexts)
    metrics["context_hit"] = _mean(c["hit"] for c in contexts)
    n = len(records) or 1
    metrics["abstention_rate"] = sum(1 for r in records if is_abstention(r["answer"])) / n if records else None
    metrics["empty_rate"] = sum(1 for r in records if not (r["answer"] or "").strip()) / n if records else None
    metrics["cut_off_rate"] = sum(1 for r in records if r.get("finish_reason") == "length") / n if records else None
    metrics["clean_rate"] = (sum(1 for r in records if all(c.get("verdict") == "verified" for c in r["citations"]))
                             / n if records else None)
    metrics.update(latency_summary([r.get("latency_ms") for r in records]))
    out: dict[str, Any] = {"metrics": metrics, "errors": errors or []}
    if config is not None:
        out["settings"] = {k: v for k, v in config.settings().items() if k not in ("restart",)}
        out["name"] = Path(config.out).name
    return out
