"""Evaluate the extractive backend (no generative model) on the dev sets and print one table.

    ASSISTANT_HOME=/tmp/me_home python scripts/eval_extractive.py \
        --consult ../shared/eval/retrieval_lawyer_llama_consult.dev.jsonl \
        --recitation ../shared/eval/recitation_lawbench_1-1.dev.jsonl --out runs/extractive

Uses the store and search index in $ASSISTANT_HOME (``assistant corpus import --default`` and
``assistant index build`` first; the index is built here when missing). Each data set becomes an
``assistant eval qa`` run folder under --out (predictions, summary.json, report.md, metrics.png), resumable,
and ``eval compare``-able. Columns: ROUGE-1/2/L (jieba tokens, rouge-chinese) and char BLEU-4 (nltk,
method3) ×100 as in ChatGLM2's main.py; citation precision/recall/F1 against the gold articles
(第N条之一 folded into N); hallucinated = share of citation mentions naming an article that does not
exist; context recall/MRR = gold articles among the articles given to the backend.

Lawyer-llama consultations have GPT-written ``response`` answers (prose), so ROUGE of a quoting backend
against them is low by construction; their gold articles are silver labels (what lawyer-llama's own
retriever supplied). LawBench 1-1 asks for an article's text, which the extractive backend looks up.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.eval.qa import QAConfig, QARun  # noqa: E402
from assistant.eval.metrics import rouge_bleu  # noqa: E402
from assistant.eval.report import fmt_value  # noqa: E402

_QUOTE = re.compile(r"“(.*?)”", re.S)


def _current_text_ids(data_path: str) -> set[str] | None:
    """Ids of rows whose reference is the corpus' current article text (the dev files' ``db_check``
    field); None when the file does not say. Some LawBench references quote an older, renumbered version."""
    ids, seen = set(), False
    for line in Path(data_path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        ratio = ((row.get("db_check") or {}).get("text_sim_vs_db") or {}).get("ratio")
        if ratio is not None:
            seen = True
            if ratio >= 0.9:
                ids.add(str(row.get("id")))
    return ids if seen else None


_HEADER = re.compile(r"^(?:\d+\. 依据)?(?:《[^》]+》)?第[^\n]{1,20}?\[\d+\](?:规定)?：")


def article_body(prediction: str) -> str:
    """The statute text an answer quotes: inside “…” when quoted inline, else the lines after the
    (《法名》)第N条[n]规定： header line of a recitation answer."""
    quotes = _QUOTE.findall(prediction)
    if quotes:
        return "\n".join(quotes)
    return "\n".join(ln for ln in prediction.split("\n") if ln.strip() and not _HEADER.match(ln))


def quoted_text_scores(run_dir: Path, data_path: str) -> dict[str, dict]:
    """Diagnostic only: ROUGE-L / BLEU-4 of the whole answer vs of the article text it quotes (inside “…”,
    without the citation line in front), over all rows and over rows whose reference is the current text."""
    recs = [json.loads(ln) for ln in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    recs = [r for r in recs if r.get("reference") is not None]
    current = _current_text_ids(data_path)
    groups = {"all rows": recs}
    if current is not None:
        groups["reference = current text"] = [r for r in recs if r["id"] in current]
        groups["reference = older version"] = [r for r in recs if r["id"] not in current]
    out = {}
    for name, rs in groups.items():
        whole = rouge_bleu([r["prediction"] for r in rs], [r["reference"] for r in rs])
        quoted = rouge_bleu([article_body(r["prediction"]) for r in rs], [r["reference"] for r in rs])
        out[name] = {"n": len(rs), "whole": whole, "quoted": quoted}
    return out

COLUMNS = (("n", "n", None), ("rouge-1", "R-1", 1), ("rouge-2", "R-2", 1), ("rouge-l", "R-L", 1),
           ("bleu-4", "BLEU-4", 1), ("citation_precision", "cite P", 100), ("citation_recall", "cite R", 100),
           ("citation_f1", "cite F1", 100), ("hallucination_rate", "halluc %", 100),
           ("not_in_context_rate", "not-in-ctx %", 100), ("context_recall", "ctx recall", 100),
           ("context_mrr", "ctx MRR", 100), ("abstention_rate", "abstain %", 100),
           ("latency_ms_p50", "p50 ms", 1), ("latency_ms_p95", "p95 ms", 1))


def table(results: dict[str, dict]) -> str:
    header = ["data set"] + [label for _, label, _ in COLUMNS]
    rows = []
    for name, m in results.items():
        rows.append([name] + [str(m.get(k)) if scale is None else fmt_value(m.get(k), scale, 1)
                              for k, _, scale in COLUMNS])
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--consult", help="lawyer-llama consultations (query, response, law, articles)")
    ap.add_argument("--recitation", help="LawBench 1-1 recitation rows (question, answer, law, article)")
    ap.add_argument("--data", action="append", default=[], help="any other eval file (repeatable)")
    ap.add_argument("--out", default="runs/extractive", help="folder for the run folders")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--limit", type=int, help="first N rows of each file")
    ap.add_argument("--restart", action="store_true", help="discard earlier predictions")
    ap.add_argument("--embedder", help="embedder of the index (default: the one it was built with)")
    ap.add_argument("--json-out", help="write the whole-vs-quoted table as a result file (scripts/report.py)")
    args = ap.parse_args(argv)
    files = [p for p in (args.consult, args.recitation, *args.data) if p]
    if not files:
        ap.error("give --consult, --recitation and/or --data")

    from assistant.answer.pipeline import build_assistant
    from assistant.corpus import open_store
    from assistant.search import load_retriever

    store = open_store(readonly=True)
    retriever = load_retriever(store=store, embedder=args.embedder, progress=True)
    assistant = build_assistant("extractive", store=store, retriever=retriever)
    results, quoted = {}, {}
    for path in files:
        name = Path(path).name.split(".")[0]
        cfg = QAConfig(data=path, out=Path(args.out) / name, top_k=args.top_k,
                       limit=args.limit, restart=args.restart)
        summary = QARun(cfg, assistant, progress=True).run()
        results[name] = summary["metrics"]
        quoted[name] = quoted_text_scores(Path(cfg.out), path)
        print(f"{name}: {summary['metrics']['n']} rows -> {cfg.out}", file=sys.stderr)
    print(f"extractive backend, top_k={args.top_k}, store {store.path} ({store.count()} articles)")
    print(table(results))
    print()
    print("diagnostic: whole answer vs the article text it quotes (without the citation line), against the reference")
    print("| data set | rows | n | R-L whole | R-L quoted | BLEU-4 whole | BLEU-4 quoted |\n|---|---|---|---|---|---|---|")
    for name, groups in quoted.items():
        for group, g in groups.items():
            print(f"| {name} | {group} | {g['n']} | {g['whole']['rouge-l']:.1f} | {g['quoted']['rouge-l']:.1f} | "
                  f"{g['whole']['bleu-4']:.1f} | {g['quoted']['bleu-4']:.1f} |")
    if args.json_out:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from results import write_result

        rows = [[name, group, g["n"], round(g["whole"]["rouge-l"], 1), round(g["quoted"]["rouge-l"], 1),
                 round(g["whole"]["bleu-4"], 1), round(g["quoted"]["bleu-4"], 1)]
                for name, groups in quoted.items() for group, g in groups.items()]
        write_result(args.json_out, "extractive", "Extractive answers against the references: whole answer and the "
                     "article text it quotes (ROUGE-L / BLEU-4 over jieba tokens)",
                     ["data set", "rows", "n", "R-L whole", "R-L quoted", "BLEU-4 whole", "BLEU-4 quoted"], rows,
                     notes=[f"home {os.environ.get('ASSISTANT_HOME', 'default')}, top_k {args.top_k}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
