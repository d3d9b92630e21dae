"""SFT rows from the question set: the app's prompt for each question joined with its written target.

``assistant data sft --from-questions --data QUESTIONS.jsonl --out FILE`` does, in order:

1. the app prompt of every learn question (:mod:`assistant.train.data.questions`: the real pipeline over the
   home's index; ``--prompts-out`` keeps them, ``--prompts`` reuses them);
2. the join with the targets (``--targets``, default :data:`SHIPPED_TARGETS`; written per question id from
   the article text the prompt shows - the shipped answers one by one by helper agents, the abstentions by
   scripts/write_sft_targets.py - never by the model being trained; see legal_sft.md). A target was written for one
   context: when the index now gives the question a different context, its [k] markers and quotes would be
   wrong, so the row is dropped (counted as ``context_changed``);
3. the project's own checks on every target (:func:`check_target`: the citation checker with the context,
   the basis-line rescoring and the number check, as the pipeline runs them on a model's answer); a target
   that is not clean is dropped and counted - the shipped file has none;
4. deduplication (the same question text, or the same prompt and target, once);
5. the abstention share: abstentions (no cited article in the context) are subsampled to
   ``abstain_share`` of the rows (the set has far more of them than answers: the lay wording of the
   question set often retrieves other articles);
6. the rows in a format of the registry (:data:`OUTPUT_FORMATS`).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from assistant.data.datasets import DatasetError as DataFormatError  # file:line: problem

SHIPPED_DIR = Path(__file__).resolve().parent
SHIPPED_TARGETS = SHIPPED_DIR / "legal_sft_targets.jsonl"
SHIPPED_SFT = SHIPPED_DIR / "legal_sft.jsonl"
#: output format -> what the registry reads it as (assistant/train/data/formats.py)
OUTPUT_FORMATS = {
    "alpaca": "alpaca",      # system / instruction / input / output (the project's native rows)
    "sharegpt": "sharegpt",  # conversations: system, human, gpt
    "qwen": "sharegpt",      # messages: system, user, assistant (Qwen's fine-tuning chat format)
    "chatglm2": "adgen",     # content / summary, the system text before the question (ChatGLM2's ptuning)
}


@dataclass
class BuildReport:
    questions: int = 0
    prompts: int = 0
    refused: int = 0
    no_target: int = 0
    context_changed: int = 0
    failed_check: int = 0
    duplicates: int = 0
    answers: int = 0
    abstentions_available: int = 0
    abstentions: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)  # the first failed checks, for the report

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["abstain_share"] = round(self.abstentions / self.rows, 4) if self.rows else 0.0
        return d


def read_targets(path) -> dict[str, dict]:
    """Targets by question id; errors name the file, line and field."""
    from assistant.jsonio import JsonRecordsError, read_json_records

    try:
        records = read_json_records(path)
    except JsonRecordsError as exc:
        raise DataFormatError(path, str(exc.line or 0), exc.problem) from None
    out: dict[str, dict] = {}
    for line, obj in records:
        where = str(line)
        if not isinstance(obj, dict):
            raise DataFormatError(path, where, "expected a JSON object")
        for key in ("id", "target"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise DataFormatError(path, where, f"field {key!r} must be a non-empty string")
        if obj.get("kind") not in ("answer", "abstain"):
            raise DataFormatError(path, where, "field 'kind' must be 'answer' or 'abstain'")
        if not isinstance(obj.get("context_ids"), list):
            raise DataFormatError(path, where, "field 'context_ids' must be a list of article ids")
        if obj["id"] in out:
            raise DataFormatError(path, where, f"duplicate id {obj['id']!r}")
        out[obj["id"]] = obj
    return out


def check_target(target: str, kind: str, context_ids: list[str], gold: list, store, checker,
                 question: str = "") -> list[str]:
    """What is wrong with a target (empty: clean). An answer: every citation verified (exists, in force,
    in the context) and supported by its sentence, the main gold article cited, no number that its cited
    articles do not state. An abstention: no citation, no number, and worded as one (``is_abstention``)."""
    from assistant.answer.basis import rescore_basis_citations
    from assistant.answer.facts import answer_flags
    from assistant.eval.metrics import is_abstention
    from assistant.search.types import Hit

    hits = [Hit(a, 1.0, i, "context") for i, a in enumerate((store.get(x) for x in context_ids), 1) if a]
    checks = checker.check(target, context_ids=context_ids)
    rescore_basis_citations(checks, target, checker, store)
    problems = [f"number not in the cited articles: {f.text}" for f in answer_flags(target, checks, hits, question)]
    if kind == "abstain":
        if checks:
            problems.append(f"an abstention cites {checks[0].citation.span}")
        if not is_abstention(target):
            problems.append("an abstention not worded as one")
        return problems
    if not checks:
        problems.append("an answer without a citation")
    for c in checks:
        if c.verdict != "verified":
            problems.append(f"{c.citation.span}: {c.verdict} ({c.reason})")
        elif c.support_label != "supported":
            problems.append(f"{c.citation.span}: support {c.support_label} ({c.support_score:.2f})")
    if gold and gold[0] and gold[0] not in {c.citation.id for c in checks}:
        problems.append(f"the gold article {gold[0]} is not cited")
    return problems


def _row(prompt: dict, target: dict) -> dict:
    return {"id": prompt["id"], "kind": target["kind"], "messages": prompt["messages"], "target": target["target"],
            "context_ids": prompt["context_ids"], "gold": prompt.get("gold") or target.get("gold")}


def join(prompts, targets: dict[str, dict], store, *, report: BuildReport, checker=None,
         queries: dict[str, str] | None = None) -> list[dict]:
    """Steps 2-4: joined, checked, deduplicated rows (kind, messages, target, ids)."""
    from assistant.answer.check import CitationChecker

    checker = checker or CitationChecker(store)
    rows, seen_q, seen_pair = [], set(), set()
    for prompt in prompts:
        report.prompts += 1
        if prompt.get("refused"):
            report.refused += 1
            continue
        target = targets.get(prompt["id"])
        if target is None:
            report.no_target += 1
            continue
        if list(target["context_ids"]) != list(prompt["context_ids"]):
            report.context_changed += 1
            continue
        question = (queries or {}).get(prompt["id"], target.get("query", ""))
        problems = check_target(target["target"], target["kind"], prompt["context_ids"], prompt.get("gold") or [],
                                store, checker, question)
        if problems:
            report.failed_check += 1
            if len(report.problems) < 20:
                report.problems.append(f"{prompt['id']}: " + "; ".join(problems))
            continue
        q_key = "".join(question.split())
        pair = (prompt["messages"][-1]["content"], target["target"])
        if (q_key and q_key in seen_q) or pair in seen_pair:
            report.duplicates += 1
            continue
        seen_q.add(q_key)
        seen_pair.add(pair)
        rows.append(_row(prompt, target))
    return rows


def balance(rows: list[dict], abstain_share: float, seed: int = 0, report: BuildReport | None = None) -> list[dict]:
    """All answers, and abstentions subsampled to ``abstain_share`` of the result (all of them when there
    are fewer); the order of the input is kept."""
    if not 0 <= abstain_share < 1:
        raise ValueError(f"abstain share must be in [0, 1), got {abstain_share}")
    answers = [r for r in rows if r["kind"] == "answer"]
    abstain = [r for r in rows if r["kind"] == "abstain"]
    want = round(len(answers) * abstain_share / (1 - abstain_share))
    keep = set(map(id, random.Random(seed).sample(abstain, want))) if want < len(abstain) else set(map(id, abstain))
    out = [r for r in rows if r["kind"] == "answer" or id(r) in keep]
    if report is not None:
        report.answers, report.abstentions_available = len(answers), len(abstain)
        report.abstentions, report.rows = len(out) - len(answers), len(out)
    return out


def to_format(row: dict, fmt: str) -> dict:
    """One row in an output format (:data:`OUTPUT_FORMATS`); ``id`` and ``kind`` ride along."""
    system = next((m["content"] for m in row["messages"] if m["role"] == "system"), "")
    user = row["messages"][-1]["content"]
    meta = {"id": row["id"], "kind": row["kind"]}
    if fmt == "alpaca":
        return {"system": system, "instruction": user, "input": "", "output": row["target"], **meta}
    if fmt == "sharegpt":
        return {"conversations": [{"from": "system", "value": system}, {"from": "human", "value": user},
                                  {"from": "gpt", "value": row["target"]}], **meta}
    if fmt == "qwen":
        return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                             {"role": "assistant", "content": row["target"]}], **meta}
    if fmt == "chatglm2":
        return {"content": f"{system}\n\n{user}" if system else user, "summary": row["target"], **meta}
    raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")


def read_prompts(path) -> list[dict]:
    from assistant.jsonio import JsonRecordsError, read_json_records

    try:
        records = read_json_records(path)
    except JsonRecordsError as exc:
        raise DataFormatError(path, str(exc.line or 0), exc.problem) from None
    for line, obj in records:
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or \
                not isinstance(obj.get("messages"), list) or not isinstance(obj.get("context_ids"), list):
            raise DataFormatError(path, str(line), "expected an app prompt (id, messages, context_ids)")
    return [obj for _, obj in records]


def build_from_questions(store, questions, targets: dict[str, dict], *, retriever=None, prompts=None,
                         prompts_out=None, abstain_share: float = 0.17, seed: int = 0, short_context: bool = True,
                         count_tokens=None, progress: bool = False) -> tuple[list[dict], BuildReport]:
    """Steps 1-5 (``prompts``: recorded app prompts to reuse instead of running the pipeline)."""
    from assistant.train.data.questions import build_prompts

    report = BuildReport(questions=len(questions))
    if prompts is None:
        if retriever is None:
            raise ValueError("either recorded prompts or a retriever to record them with")
        prompts = []
        sink = Path(prompts_out).open("w", encoding="utf-8") if prompts_out else None
        try:
            for p in build_prompts(store, retriever, questions, short_context=short_context,
                                   count_tokens=count_tokens, progress=progress):
                d = p.to_dict()
                prompts.append(d)
                if sink:
                    sink.write(json.dumps(d, ensure_ascii=False) + "\n")
        finally:
            if sink:
                sink.close()
    else:
        wanted = {q.id for q in questions}
        prompts = [p for p in prompts if p["id"] in wanted]
    rows = join(prompts, targets, store, report=report, queries={q.id: q.query for q in questions})
    return balance(rows, abstain_share, seed, report), report


__all__ = ["SHIPPED_TARGETS", "SHIPPED_SFT", "OUTPUT_FORMATS", "BuildReport", "read_targets", "check_target",
           "join", "balance", "to_format", "read_prompts", "build_from_questions"]
