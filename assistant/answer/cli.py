"""Commands: ``check`` (citation checker), ``ask`` (one grounded answer), ``chat`` (terminal multi-turn),
``api`` (OpenAI-compatible server)."""
from __future__ import annotations

import json
import sys
from collections import Counter

from assistant.cli import open_corpus
from assistant.models.options import ModelOptions


def register(sub) -> None:
    p = sub.add_parser("check", help="check every statute citation in a text against the corpus")
    p.add_argument("text", nargs="?", help="the text to check ('-' reads stdin)")
    p.add_argument("--file", help="read the text from this file")
    p.add_argument("--context", help="articles given to the model, comma separated (民法典第1076条,民法典第1079条)")
    p.add_argument("--batch", help='JSONL file of {"text", "context": [...]} lines; prints one result per line')
    p.add_argument("--as-of", metavar="DATE", help="check against the law in force on this day (default today)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_check)

    for name, helptext in (("ask", "answer one question, grounded in the retrieved articles"),
                           ("chat", "multi-turn grounded chat in the terminal"),
                           ("api", "serve an OpenAI-compatible /v1/chat/completions API")):
        p = sub.add_parser(name, help=helptext)
        if name == "ask":
            p.add_argument("question")
        _backend_args(p)
        if name == "api":
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--port", type=int, default=8000)
            p.add_argument("--model-id", help="the model name /v1/models reports")
        p.add_argument("--json", action="store_true", help="print JSON (ask: the whole answer, no streaming)")
        p.set_defaults(func={"ask": cmd_ask, "chat": cmd_chat, "api": cmd_api}[name])


def _backend_args(p) -> None:
    ModelOptions.add_arguments(p)
    p.add_argument("--top-k", type=int, default=5, help="articles retrieved per question")
    p.add_argument("--law", help="search only this law (刑法, 民法典 ...)")
    p.add_argument("--include-repealed", action="store_true", help="also search repealed / historical law")
    p.add_argument("--as-of", metavar="DATE", help="answer with the law in force on this day (YYYY-MM-DD; "
                                                   "default today)")
    from assistant.search.rerank import add_reranker_option

    add_reranker_option(p)
    p.add_argument("--rewrite-with-model", action="store_true",
                   help="before search, ask the answering model to restate the question in statute wording "
                        "(off by default: little gain for seconds per question with 0.5B / 1.5B models, "
                        "docs/benchmarks.md)")
    p.add_argument("--rewrite-model", metavar="MODEL",
                   help="the same rewrite by another model (FILE.gguf or a model folder), loaded for it")


def model_options(args) -> ModelOptions:
    """The model flags as ``ModelOptions``; a bad value (ASSISTANT_BACKEND=foo) is the user's to fix."""
    from assistant.cli import UserError

    try:
        return ModelOptions.from_args(args)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def verdict_counts(checks) -> dict[str, int]:
    """Citations per verdict (verified, not_in_context, not_yet_in_force, superseded …), every verdict named."""
    from assistant.answer.types import VERDICTS

    counts = dict.fromkeys(VERDICTS, 0)
    for c in checks:
        counts[c.verdict] = counts.get(c.verdict, 0) + 1
    return counts


def _print_checks(checks, out=sys.stdout) -> None:
    from assistant.answer.labels import _LABEL, citation_badge

    if not checks:
        print("（回答中没有法条引用）", file=out)
    badges = [citation_badge(c) for c in checks]
    for c, badge in zip(checks, badges):
        print(f"[{badge.label}] {c.citation.span}：{badge.explanation}", file=out)
    if checks:
        # by badge, as printed above (a verified verdict whose sentence does not match reads 内容不符 there)
        counts = Counter(b.key for b in badges)
        print(f"共 {len(checks)} 处引用：" + "，".join(f"{_LABEL[k]} {n}" for k, n in counts.items()), file=out)


def cmd_check(args) -> int:
    from assistant.answer.check import CitationChecker
    from assistant.cli import UserError

    sources = sum(x is not None for x in (args.text, args.file, args.batch))
    if sources != 1:
        raise UserError("give exactly one of: TEXT (or - for stdin), --file FILE, --batch FILE.jsonl")
    checker = CitationChecker(open_corpus())
    if args.batch:
        return _check_batch(checker, args)
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {args.file}: {exc}") from None
    else:
        try:
            text = sys.stdin.read() if args.text == "-" else args.text
        except UnicodeDecodeError as exc:
            raise UserError(f"stdin is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        context = checker.parse_context(args.context)
    except ValueError as exc:
        raise UserError(f"--context: {exc}") from None
    try:
        checks = checker.check(text, context, as_of=args.as_of)
    except ValueError as exc:  # too long, too many citations, a bad --as-of
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps({"citations": [c.to_dict() for c in checks], "counts": verdict_counts(checks)},
                         ensure_ascii=False))
    else:
        _print_checks(checks)
    return 0


def _check_batch(checker, args) -> int:
    """One result line per input line, in order; a bad line gets an error object naming it."""
    from assistant.cli import UserError

    try:
        fh = open(args.batch, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {args.batch}: {exc}") from None
    bad = 0
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                    raise ValueError('field "text": a string is required')
                ctx = row.get("context")
                if ctx is not None and not isinstance(ctx, (list, str)):
                    raise ValueError('field "context": a list of article references is expected')
                checks = checker.check(row["text"], checker.parse_context(ctx), as_of=row.get("as_of") or args.as_of)
                result = {"citations": [c.to_dict() for c in checks], "counts": verdict_counts(checks)}
            except RecursionError:
                bad += 1
                msg = f"{args.batch}:{lineno}: JSON nested too deeply"
                print(f"error: {msg}", file=sys.stderr)
                result = {"error": msg, "line": lineno, "citations": []}
            except ValueError as exc:
                bad += 1
                msg = f"{args.batch}:{lineno}: {exc}"
                print(f"error: {msg}", file=sys.stderr)
                result = {"error": msg, "line": lineno, "citations": []}
            if args.json:
                print(json.dumps(result, ensure_ascii=False), flush=True)
            else:
                print(f"--- line {lineno}")
                if "error" in result:
                    print(result["error"])
                else:
                    _print_checks(checks)
    return 1 if bad else 0


def _assistant(args):
    from assistant.answer.backends.base import BackendError
    from assistant.answer.pipeline import PipelineConfig, build_assistant
    from assistant.cli import UserError

    options = model_options(args)
    from assistant.search.rerank import apply_reranker_option

    apply_reranker_option(args)
    store = open_corpus()
    from assistant.search import load_retriever

    try:
        retriever = load_retriever(store=store)
    except Exception as exc:  # a missing / mismatched index: say which, without a traceback
        raise UserError(f"cannot open the search index: {exc}") from None
    rewrite_model = getattr(args, "rewrite_model", None)
    if rewrite_model and rewrite_model == options.model:
        rewrite_model = None  # the answering model itself: no second load
    try:
        rewriter = None
        if rewrite_model:
            from assistant.answer.backends.base import load_rewriter

            rewriter = load_rewriter(rewrite_model, threads=options.threads)
        rewrite = bool(getattr(args, "rewrite_with_model", False) or getattr(args, "rewrite_model", None))
        assistant = build_assistant(**options.backend_kwargs(), store=store, retriever=retriever, rewriter=rewriter,
                                    config=PipelineConfig(top_k=args.top_k, rewrite_with_model=rewrite,
                                                          **options.generation()))
    except BackendError as exc:
        raise UserError(str(exc)) from None
    if getattr(assistant.backend, "dtype", None):  # what --dtype auto chose on this CPU
        print(f"{assistant.backend.model_name}: weights in {assistant.backend.dtype}", file=sys.stderr)
    return assistant


def _options(args) -> dict:
    return {"top_k": args.top_k, "law": args.law, "include_repealed": args.include_repealed,
            "as_of": getattr(args, "as_of", None)}


def _print_report(answer, out=sys.stdout) -> None:
    from assistant.answer.labels import VIA_LABELS, status_label

    if answer.finish_reason == "refused":
        print(f"\n注意：{answer.notice}" if answer.notice else "", file=out)
        return
    print("\n\n来源：", file=out)
    for i, h in enumerate(answer.sources, 1):
        a = h.article
        label = a.extra.get("status_label") if a.extra.get("status_label", "").startswith("尚未施行") else \
            status_label(a.status, a.version_date)
        if a.extra.get("upcoming"):
            label += f"；新法{a.extra['upcoming']}起施行"
        print(f"  [{i}] {a.label}（{label}，{VIA_LABELS.get(h.via, h.via)}）", file=out)
    print("引用核查：", file=out)
    _print_checks(answer.citations, out)
    for f in answer.fact_flags:
        print(f"[数字存疑] {f.reason}", file=out)
    if answer.notice:
        print(f"注意：{answer.notice}", file=out)


def _run_turn(assistant, question, history, args) -> object:
    from assistant.cli import UserError

    answer = None
    try:
        if args.json:
            answer = assistant.ask(question, history, **_options(args))
        else:
            for event in assistant.stream(question, history, **_options(args)):
                if event.kind == "token":
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                elif event.kind == "done":
                    answer = event.answer
    except ValueError as exc:  # unknown --law, empty question ...
        raise UserError(str(exc)) from None
    return answer


def cmd_ask(args) -> int:
    assistant = _assistant(args)
    answer = _run_turn(assistant, args.question, None, args)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
    else:
        _print_report(answer)
    return 0


def cmd_chat(args) -> int:
    from assistant.cli import UserError

    assistant = _assistant(args)
    history: list[tuple[str, str]] = []
    interactive = sys.stdin.isatty()
    print(f"{assistant.backend.name} backend" + (f" ({assistant.backend.model_name})" if assistant.backend.model_name
                                                  else "") + "; empty line or Ctrl-D to quit.", file=sys.stderr)
    while True:
        if interactive:
            sys.stderr.write("\n问：")
            sys.stderr.flush()
        line = sys.stdin.readline()
        if not line or not line.strip() or line.strip() in ("exit", "quit", "/exit"):
            break
        question = line.strip()
        try:
            answer = _run_turn(assistant, question, history, args)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            _print_report(answer)
        history.append((question, answer.text))
    return 0


def cmd_api(args) -> int:
    from assistant.answer.api import serve

    assistant = _assistant(args)
    print(f"serving {assistant.backend.name} on http://{args.host}:{args.port}/v1", file=sys.stderr)
    serve(assistant, host=args.host, port=args.port, model_id=args.model_id)
    return 0
