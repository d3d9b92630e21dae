"""``assistant eval retrieval|qa|compare``. Heavy imports stay inside the command functions."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from assistant.data.datasets import FORMATS
from assistant.models.options import ModelOptions


def register(sub):
    p = sub.add_parser("eval", help="batch evaluation: retrieval, question answering, run comparison")
    esub = p.add_subparsers(dest="eval_command", required=True, metavar="WHAT")

    r = esub.add_parser("retrieval", help="recall@k / MRR / nDCG of the search index on labelled rows")
    r.add_argument("--data", required=True, help='JSONL rows {"query", "law", "articles": [int]} or {"query", "citations": [{"law", "article", "in_db"}]}')
    r.add_argument("--top-k", type=int, default=10)
    r.add_argument("--law-filter", action="store_true",
                   help="pass each row's gold law as a filter (oracle routing, for analysis)")
    r.add_argument("--holdout", type=float, default=0.0,
                   help="score only the rows scripts/learn_query_terms.py --holdout F kept out of learning")
    r.add_argument("--out", help="also write the metrics with per-row results to this JSON file")
    r.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    from assistant.search.rerank import add_reranker_option

    add_reranker_option(r)
    r.add_argument("--rewrite-model", metavar="MODEL",
                   help="restate each question in statute wording with this generative model (FILE.gguf or a "
                        "model folder) before search (assistant.search.rewrite)")
    r.add_argument("--threads", type=int, default=None, help="llama.cpp threads of --rewrite-model")
    r.set_defaults(func=cmd_retrieval)

    q = esub.add_parser("qa", help="answer every row with the grounded pipeline and score the answers")
    q.add_argument("--data", required=True,
                   help="JSONL/JSON rows: question|query + answer|response (+ law, articles), alpaca, ADGEN, "
                        "LawBench (instruction/question/answer) or sharegpt (conversations/messages)")
    q.add_argument("--out", required=True, help="run folder (resumed when it already holds predictions)")
    ModelOptions.add_arguments(q)  # the same model flags as ask, chat, api and serve
    q.set_defaults(temperature=0.0)  # greedy, recorded as 0.0 in run.json (older run folders resume)
    q.add_argument("--top-k", type=int, default=5, help="articles given to the model (default 5)")
    q.add_argument("--law", help="restrict retrieval to one law")
    q.add_argument("--limit", type=int, help="only the first N rows")
    q.add_argument("--format", choices=tuple(FORMATS), help="input format (default: detect)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--workers", type=int, default=1,
                   help="parallel requests (openai backend only; local backends run one at a time)")
    q.add_argument("--restart", action="store_true", help="discard predictions already in --out")
    q.add_argument("--json", action="store_true", help="print summary.json")
    q.set_defaults(func=cmd_qa)

    c = esub.add_parser("compare", help="compare eval qa runs: table and chart")
    c.add_argument("runs", nargs="+", metavar="RUN_DIR")
    c.add_argument("--chart", help="comparison PNG (default: comparison.png next to the first run)")
    c.add_argument("--markdown", action="store_true", help="print a markdown table")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)


def _user_error(message: str):
    from assistant.cli import UserError

    return UserError(message)


def cmd_retrieval(args) -> int:
    from assistant.data.datasets import read_rows
    from assistant.eval.retrieval import evaluate_retrieval

    try:
        rows = read_rows(args.data, need_gold=True)
    except ValueError as exc:
        raise _user_error(str(exc)) from None
    if args.holdout:
        from assistant.search.learned import held_out

        rows = [r for r in rows if held_out(r, args.holdout)]
    if not rows:
        raise _user_error(f"{args.data}: no rows")
    from assistant.corpus import open_store
    from assistant.search import load_retriever
    from assistant.search.rerank import apply_reranker_option

    apply_reranker_option(args)
    retriever = load_retriever(store=open_store(readonly=True), progress=not args.json)
    if args.rewrite_model:
        from assistant.answer.backends.base import BackendError, load_rewriter

        try:
            retriever.rewriter = load_rewriter(args.rewrite_model, threads=args.threads)
        except BackendError as exc:
            raise _user_error(str(exc)) from None
    result = evaluate_retrieval(retriever, rows, top_k=args.top_k, progress=sys.stderr.isatty(),
                                law_filter=args.law_filter)
    metrics = {k: v for k, v in result.items() if k != "rows"}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        for k, v in metrics.items():
            print(f"{k:>16}  {v}")
    return 0


def cmd_qa(args) -> int:
    from assistant.data.datasets import DatasetError
    from assistant.eval.qa import QAConfig, QARun, RunError
    from assistant.eval.report import metrics_table

    try:
        options = ModelOptions.from_args(args)
    except ValueError as exc:
        raise _user_error(str(exc)) from None
    workers = args.workers
    if workers > 1 and options.backend != "openai":
        print(f"note: --workers {workers} ignored: the {options.backend} backend answers one question at a time",
              file=sys.stderr)
        workers = 1
    config = QAConfig(data=args.data, out=args.out, options=options, top_k=args.top_k, law=args.law,
                      limit=args.limit, format=args.format, seed=args.seed, workers=workers, restart=args.restart)
    try:
        summary = QARun(config, progress=not args.json or sys.stderr.isatty()).run()
    except (DatasetError, RunError) as exc:
        raise _user_error(str(exc)) from None
    except Exception as exc:
        # a missing model folder / endpoint is the user's to fix, not a crash to debug
        from assistant.answer.backends.base import BackendError

        if isinstance(exc, BackendError):
            raise _user_error(str(exc)) from None
        raise
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for label, value in metrics_table(summary["metrics"]):
            print(f"{label:>18}  {value}")
        out = Path(args.out)
        print(f"wrote {out / 'predictions.jsonl'}, {out / 'summary.json'}, {out / 'report.md'}, "
              f"{out / 'metrics.png'}")
    return 0


def cmd_compare(args) -> int:
    from assistant.eval.compare import CompareError, compare_runs, comparison_chart, render_table

    try:
        result = compare_runs(args.runs)
    except CompareError as exc:
        raise _user_error(str(exc)) from None
    chart = Path(args.chart) if args.chart else Path(args.runs[0]).parent / "comparison.png"
    comparison_chart(result, chart)
    result["chart"] = str(chart)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(render_table(result, markdown=args.markdown), end="")
        print(f"chart: {chart}")
    return 0
