"""``assistant eval retrieval|qa|compare``. Heavy imports stay inside the command functions."""
from __future__ import annotations

import json
import sys
from pathlib import Path


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
    r.set_defaults(func=cmd_retrieval)

    q = esub.add_parser("qa", help="answer every row with the grounded pipeline and score the answers")
    q.add_argument("--data", required=True,
                   help="JSONL/JSON rows: question|query + answer|response (+ law, articles), alpaca, ADGEN "
                        "or LawBench (instruction/question/answer)")
    q.add_argument("--out", required=True, help="run folder (resumed when it already holds predictions)")
    q.add_argument("--backend", default="extractive", choices=("extractive", "transformers", "openai"))
    q.add_argument("--model", help="model folder (transformers) or model name (openai)")
    q.add_argument("--adapter", help="PEFT adapter folder / ChatGLM2 ptuning checkpoint (transformers)")
    q.add_argument("--base-url", help="OpenAI-compatible endpoint (openai backend; default $OPENAI_BASE_URL)")
    q.add_argument("--top-k", type=int, default=5, help="articles given to the model (default 5)")
    q.add_argument("--law", help="restrict retrieval to one law")
    q.add_argument("--limit", type=int, help="only the first N rows")
    q.add_argument("--format", choices=("qa", "alpaca", "adgen", "lawbench"), help="input format (default: detect)")
    q.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default, reproducible)")
    q.add_argument("--max-new-tokens", type=int, help="generation limit (default: the pipeline's)")
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
    from assistant.eval.retrieval import evaluate_retrieval, load_retrieval_rows

    try:
        rows = load_retrieval_rows(args.data)
    except FileNotFoundError:
        raise _user_error(f"{args.data}: file not found") from None
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
    from assistant.eval.datasets import DatasetError
    from assistant.eval.qa import QAConfig, QARun, RunError
    from assistant.eval.report import metrics_table

    workers = args.workers
    if workers > 1 and args.backend != "openai":
        print(f"note: --workers {workers} ignored: the {args.backend} backend answers one question at a time",
              file=sys.stderr)
        workers = 1
    options = {}
    if args.base_url:
        options["base_url"] = args.base_url
    config = QAConfig(data=args.data, out=args.out, backend=args.backend, model=args.model, adapter=args.adapter,
                      top_k=args.top_k, law=args.law, limit=args.limit, format=args.format,
                      temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed,
                      workers=workers, restart=args.restart, backend_options=options)
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
