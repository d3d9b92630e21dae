"""The article store: laws, articles and superseded versions in one SQLite file.

Every import runs in one transaction: a law that fails to import (or an exception anywhere in a batch)
leaves the store exactly as it was. Re-importing a law reports a diff and moves the texts it replaces
into ``article_versions`` instead of overwriting them.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from assistant.corpus.article import IN_FORCE, STATUS_CURRENT, Article, make_article_id
from assistant.corpus.laws import LawResolver, short_name

SCHEMA_VERSION = 2  # 2: laws.kind, laws.note; article_versions.effective, .replaced_from

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS laws (
    law TEXT PRIMARY KEY,            -- full name
    short_name TEXT NOT NULL,
    doc_type TEXT, department TEXT, issuing_body TEXT,
    promulgated TEXT, effective TEXT, version_date TEXT,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    kind TEXT,                       -- 宪法 / 法律 / 行政法规 / 司法解释 … (assistant.corpus.kinds)
    note TEXT                        -- e.g. 经《中华人民共和国刑法修正案（十二）》修正 (consolidated amendments)
);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    law TEXT NOT NULL REFERENCES laws(law),
    number INTEGER NOT NULL,
    suffix TEXT NOT NULL,
    number_text TEXT NOT NULL,
    position INTEGER NOT NULL,
    part TEXT, chapter TEXT, section TEXT,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    promulgated TEXT, effective TEXT, version_date TEXT,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_law ON articles(law, position);
CREATE INDEX IF NOT EXISTS articles_number ON articles(law, number);
CREATE TABLE IF NOT EXISTS article_versions (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    law TEXT NOT NULL,
    number INTEGER NOT NULL,
    suffix TEXT NOT NULL,
    number_text TEXT NOT NULL,
    part TEXT, chapter TEXT, section TEXT,
    text TEXT NOT NULL,
    status TEXT NOT NULL,             -- the status the text had while it was the stored version
    version_date TEXT,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    superseded_at TEXT NOT NULL,
    superseded_by TEXT,               -- version_date of the text that replaced it, or 'removed'
    effective TEXT,                   -- when this text came into force, where known
    replaced_from TEXT                -- when the text that replaced it came into force (point-in-time lookup)
);
CREATE INDEX IF NOT EXISTS versions_id ON article_versions(id);
"""

#: an article's kind is its law's: read with the article, never stored twice
_KIND_OF_LAW = "(SELECT kind FROM laws WHERE laws.law = articles.law) AS kind"

_ARTICLE_COLS = ("law", "number", "suffix", "number_text", "position", "part", "chapter", "section", "text",
                 "status", "promulgated", "effective", "version_date", "source")


@dataclass
class LawInfo:
    law: str
    short_name: str
    status: str
    articles: int = 0
    doc_type: str | None = None
    department: str | None = None
    issuing_body: str | None = None
    promulgated: str | None = None
    effective: str | None = None
    version_date: str | None = None
    source: str = ""
    kind: str | None = None  # 宪法 / 法律 / 行政法规 / 司法解释 … (assistant.corpus.kinds)


@dataclass
class LawDocument:
    """One law as parsed from a file or read from the default database, ready to import."""

    info: LawInfo
    articles: list[Article]
    warnings: list[str] = field(default_factory=list)

    @property
    def law(self) -> str:
        return self.info.law


#: an import may remove at most this share of a stored law's articles (and more than LARGE_REMOVAL_MIN of
#: them) without ``replace=True``: a one-article file titled 中华人民共和国刑法 must not silently replace 刑法
LARGE_REMOVAL_SHARE = 0.2
LARGE_REMOVAL_MIN = 2


def is_large_removal(existing: int, removed: int) -> bool:
    return removed > LARGE_REMOVAL_MIN and removed > LARGE_REMOVAL_SHARE * existing


@dataclass
class ImportDiff:
    law: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    existing: int = 0  # articles the law had before
    #: the import is a newer version of the stored law by its own dates (a revision may drop articles)
    newer_version: bool = False
    #: article texts of an older version stored as history behind the stored newer one
    as_history: int = 0
    version_date: str | None = None

    @property
    def is_noop(self) -> bool:
        return not (self.added or self.changed or self.removed or self.as_history)

    @property
    def removes_large_part(self) -> bool:
        return not self.newer_version and is_large_removal(self.existing, len(self.removed))

    def removed_labels(self, limit: int = 12) -> str:
        """第2条、第3条、…、第17条之一 … (+474): the removed articles, as a refusal names them."""
        from assistant.corpus.article import split_article_id

        labels = []
        for article_id in self.removed[:limit]:
            _, number, suffix = split_article_id(article_id)
            labels.append(f"第{number}条{suffix}")
        more = len(self.removed) - limit
        return "、".join(labels) + (f" … (+{more})" if more > 0 else "")

    def removal_summary(self, limit: int = 12) -> str:
        """X: would remove 503 of its 504 articles (第2条、…) — the sentence a refused import prints."""
        return f"{self.law}: would remove {len(self.removed)} of its {self.existing} articles ({self.removed_labels(limit)})"

    def summary(self) -> str:
        if self.as_history:
            return (f"{self.law}: the {self.version_date or 'undated'} version stored as history "
                    f"({self.as_history} article texts; the stored newer version stays current)")
        return (f"{self.law}: +{len(self.added)} added, ~{len(self.changed)} changed, "
                f"-{len(self.removed)} removed, {self.unchanged} unchanged")

    def to_dict(self) -> dict:
        return {"law": self.law, "added": self.added, "changed": self.changed, "removed": self.removed,
                "unchanged": self.unchanged, "warnings": self.warnings, "newer_version": self.newer_version,
                "as_history": self.as_history, "version_date": self.version_date}


class DestructiveImportError(ValueError):
    """The import would remove a large part of stored laws; ``diffs`` says which and what. Nothing was
    changed; import again with ``replace=True`` (CLI ``--replace``, a confirmation in the web app)."""

    def __init__(self, diffs: list):
        self.diffs = diffs
        super().__init__("refusing to remove a large part of a stored law without replace: "
                         + "; ".join(d.removal_summary() for d in diffs))


class _DryRun(Exception):
    """Rolls back a dry-run import."""


@dataclass
class ArticleVersion:
    id: str
    text: str
    status: str
    version_date: str | None
    superseded_at: str
    superseded_by: str | None
    effective: str | None = None  # when this text came into force, where known
    replaced_from: str | None = None  # when the text that replaced it came into force


def _classify(info: LawInfo) -> str | None:
    from pathlib import PurePath

    from assistant.corpus.kinds import classify_kind

    return classify_kind(info.law, doc_type=info.doc_type, issuing_body=info.issuing_body,
                         folder=PurePath(info.source or "").parent.parts)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ArticleStore:
    """SQLite-backed store. Thread-safe (one connection behind a lock); readers see committed data only."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no article store at {self.path}; run `assistant corpus import --default`")
            uri = f"file:{self.path.resolve()}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._migrate()
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._conn.row_factory = sqlite3.Row
        # a read-only store written by an older version has no laws.kind yet: read it as unknown
        has_kind = any(r[1] == "kind" for r in self._conn.execute("PRAGMA table_info(laws)"))
        self._kind_of_law = _KIND_OF_LAW if has_kind else "NULL AS kind"
        self._lock = threading.RLock()
        self._resolver: tuple[int, LawResolver] | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    #: columns added after schema 1: (table, column)
    _ADDED_COLUMNS = (("laws", "kind"), ("laws", "note"), ("article_versions", "effective"),
                      ("article_versions", "replaced_from"))

    def _migrate(self) -> None:
        """Bring a store written by an older version up to ``SCHEMA_VERSION`` (in one transaction)."""
        missing = [(t, c) for t, c in self._ADDED_COLUMNS
                   if c not in {r[1] for r in self._conn.execute(f"PRAGMA table_info({t})")}]
        if not missing:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for table, column in missing:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
            if ("laws", "kind") in missing:
                rows = self._conn.execute("SELECT law, doc_type, issuing_body, source FROM laws").fetchall()
                self._conn.executemany("UPDATE laws SET kind = ? WHERE law = ?", [
                    (_classify(LawInfo(law, "", "", doc_type=doc_type, issuing_body=body, source=source or "")), law)
                    for law, doc_type, body, source in rows])
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "ArticleStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _query(self, sql: str, args: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise PermissionError(f"{self.path} is opened read-only")
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _data_version(self) -> int:
        """Changes whenever any connection commits (so cached resolvers notice other writers)."""
        return int(self._query("PRAGMA data_version")[0][0]) + self._local_writes

    _local_writes = 0

    # -- reading ----------------------------------------------------------------------------------
    @staticmethod
    def _article(row: sqlite3.Row, short: str | None = None) -> Article:
        kind = row["kind"] if "kind" in row.keys() else None
        return Article(**{k: row[k] for k in _ARTICLE_COLS}, law_short=short or short_name(row["law"]), kind=kind)

    def get(self, article_id: str) -> Article | None:
        rows = self._query(f"SELECT {', '.join(_ARTICLE_COLS)}, {self._kind_of_law} FROM articles WHERE id = ?",
                           (article_id,))
        return self._article(rows[0]) if rows else None

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, Article] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT id, {', '.join(_ARTICLE_COLS)}, {self._kind_of_law} FROM articles "
                                   f"WHERE id IN ({q})", chunk):
                out[row["id"]] = self._article(row)
        return out

    def find(self, law: str, number: int, suffix: str = "") -> Article | None:
        return self.get(make_article_id(law, number, suffix))

    def articles(self, law: str | None = None, *, in_force_only: bool = False) -> Iterator[Article]:
        """All stored (latest-version) articles, in law order then position."""
        sql = f"SELECT {', '.join(_ARTICLE_COLS)}, {self._kind_of_law} FROM articles"
        where, args = [], []
        if law:
            where.append("law = ?")
            args.append(law)
        if in_force_only:
            where.append(f"status IN ({','.join('?' * len(IN_FORCE))})")
            args.extend(IN_FORCE)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY law, position"
        for row in self._query(sql, args):
            yield self._article(row)

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM articles")[0][0])

    def numbers(self, law: str) -> list[tuple[int, str]]:
        return [(r[0], r[1]) for r in self._query(
            "SELECT number, suffix FROM articles WHERE law = ? ORDER BY position", (law,))]

    def laws(self, search: str | None = None) -> list[LawInfo]:
        """Laws whose name contains ``search`` (all when None), most articles first."""
        return self._law_infos("WHERE l.law LIKE ?" if search else "", [f"%{search}%"] if search else [])

    def law(self, name: str) -> LawInfo | None:
        """The law with this exact full name."""
        found = self._law_infos("WHERE l.law = ?", [name])
        return found[0] if found else None

    def _law_infos(self, where: str, args: list) -> list[LawInfo]:
        sql = (f"SELECT l.*, {self._kind_of_law.replace('articles.law', 'l.law')}, "
               f"(SELECT COUNT(*) FROM articles a WHERE a.law = l.law) AS n FROM laws l {where} "
               "ORDER BY n DESC, l.law")
        return [LawInfo(law=r["law"], short_name=r["short_name"], status=r["status"], articles=r["n"],
                        doc_type=r["doc_type"], department=r["department"], issuing_body=r["issuing_body"],
                        promulgated=r["promulgated"], effective=r["effective"], version_date=r["version_date"],
                        source=r["source"], kind=r["kind"]) for r in self._query(sql, args)]

    def law_kinds(self) -> dict[str, str | None]:
        """Every law's document kind (宪法 / 法律 / 司法解释 …; None where unknown)."""
        if self._kind_of_law == _KIND_OF_LAW:
            return {r[0]: r[1] for r in self._query("SELECT law, kind FROM laws")}
        # a read-only store from before schema 2: classify on the fly (what the migration would store)
        return {r["law"]: _classify(LawInfo(r["law"], "", "", doc_type=r["doc_type"], issuing_body=r["issuing_body"],
                                            source=r["source"] or ""))
                for r in self._query("SELECT law, doc_type, issuing_body, source FROM laws")}

    def law_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT law FROM laws ORDER BY law")]

    def resolver(self) -> LawResolver:
        """A law-name resolver over the laws in the store (rebuilt after imports)."""
        version = self._data_version()
        if self._resolver is None or self._resolver[0] != version:
            self._resolver = (version, LawResolver(self.law_names()))
        return self._resolver[1]

    def history(self, article_id: str) -> list[ArticleVersion]:
        rows = self._query("SELECT * FROM article_versions WHERE id = ? ORDER BY rowid", (article_id,))
        return [ArticleVersion(r["id"], r["text"], r["status"], r["version_date"], r["superseded_at"],
                               r["superseded_by"], *((r["effective"], r["replaced_from"])
                                                     if "replaced_from" in r.keys() else ()))
                for r in rows]

    def law_history(self, law: str) -> list[sqlite3.Row]:
        """Every superseded text of ``law`` (rows of ``article_versions``), oldest first."""
        return self._query("SELECT * FROM article_versions WHERE law = ? ORDER BY rowid", (law,))

    def earliest_version_start(self, law: str) -> str | None:
        """The day the oldest stored (superseded) version of ``law`` came into force, where known."""
        rows = self._query("SELECT MIN(CASE WHEN effective IS NOT NULL AND (version_date IS NULL OR "
                           "effective >= version_date) THEN effective ELSE version_date END) "
                           "FROM article_versions WHERE law = ?", (law,))
        return rows[0][0] if rows else None

    def import_older_version(self, doc: LawDocument) -> ImportDiff:
        """Store ``doc``, a version older than the stored one, as history: each text with the day it came
        into force and the day the next stored version of its article did, so that the text in force on any
        day can be read (``versions.text_on``). The stored newer version stays current. Idempotent."""
        from assistant.corpus.validate import validate_document
        from assistant.corpus.versions import text_start

        validate_document(doc)
        info = self.law(doc.law)
        if info is None:
            raise ValueError(f"{doc.law}: no stored version to put this one behind")
        start = text_start(doc.info.effective, doc.info.version_date, doc.info.promulgated)
        law_start = text_start(info.effective, info.version_date, info.promulgated)
        diff = ImportDiff(doc.law, warnings=list(doc.warnings), version_date=doc.info.version_date)
        now = _now()
        with self._transaction() as conn:
            for a in doc.articles:
                # this version of the article is stored already (from this file, or from another source)
                known = conn.execute("SELECT 1 FROM article_versions WHERE id = ? AND (content_hash = ? OR "
                                     "version_date = ?)", (a.id, a.content_hash, a.version_date)).fetchone()
                if known:
                    diff.unchanged += 1
                    continue
                later = [text_start(r[0], r[1], r[2]) for r in conn.execute(
                    "SELECT effective, version_date, promulgated FROM articles WHERE id = ?", (a.id,))]
                later += [text_start(r[0], r[1]) for r in conn.execute(
                    "SELECT effective, version_date FROM article_versions WHERE id = ?", (a.id,))]
                later = sorted(x for x in later if x and (not start or x > start))
                current = bool(conn.execute("SELECT 1 FROM articles WHERE id = ?", (a.id,)).fetchone())
                conn.execute(
                    "INSERT INTO article_versions (id, law, number, suffix, number_text, part, chapter, section, "
                    "text, status, version_date, source, content_hash, superseded_at, superseded_by, effective, "
                    "replaced_from) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (a.id, a.law, a.number, a.suffix, a.number_text, a.part, a.chapter, a.section, a.text,
                     a.status, a.version_date, a.source, a.content_hash, now,
                     (info.version_date or now) if current else "removed", start,
                     later[0] if later else law_start))
                diff.as_history += 1
        self._local_writes += 1
        return diff

    def fingerprint(self) -> str:
        """Identifies the corpus content: changes when any article's text, headings or status change."""
        h = hashlib.sha256()
        for row in self._query("SELECT id, content_hash, status FROM articles ORDER BY id"):
            h.update(f"{row[0]}\x1f{row[1]}\x1f{row[2]}\n".encode())
        return h.hexdigest()[:24]

    def stats(self) -> dict:
        by_status = {r[0]: r[1] for r in self._query("SELECT status, COUNT(*) FROM articles GROUP BY status")}
        return {
            "path": str(self.path),
            "laws": int(self._query("SELECT COUNT(*) FROM laws")[0][0]),
            "articles": self.count(),
            "articles_by_status": by_status,
            "in_force_articles": sum(v for k, v in by_status.items() if k in IN_FORCE),
            # stored texts whose commencement is after today (尚未施行 today, whatever the source says)
            "not_yet_in_force_articles": int(self._query(
                "SELECT COUNT(*) FROM articles WHERE status != '已废止' AND (CASE WHEN effective IS NOT NULL AND "
                "(version_date IS NULL OR effective >= version_date) THEN effective ELSE "
                "COALESCE(version_date, promulgated) END) > date('now')")[0][0]),
            "historical_versions": int(self._query("SELECT COUNT(*) FROM article_versions")[0][0]),
            "size_bytes": self.path.stat().st_size if self.path.exists() else 0,
            "fingerprint": self.fingerprint(),
        }

    # -- writing ----------------------------------------------------------------------------------
    def diff(self, doc: LawDocument) -> ImportDiff:
        """What importing ``doc`` would change, without changing anything."""
        existing = {r["id"]: (r["content_hash"], r["status"]) for r in self._query(
            "SELECT id, content_hash, status FROM articles WHERE law = ?", (doc.law,))}
        diff = ImportDiff(doc.law, warnings=list(doc.warnings), existing=len(existing),
                          version_date=doc.info.version_date)
        stored = self.law(doc.law) if existing else None
        new_date, old_date = doc.info.version_date or "", (stored.version_date or "") if stored else ""
        # a newer version by its own dates (not by when it was imported) is a revision, even with fewer articles
        diff.newer_version = bool(new_date and old_date and new_date > old_date)
        seen = set()
        for art in doc.articles:
            seen.add(art.id)
            old = existing.get(art.id)
            if old is None:
                diff.added.append(art.id)
            elif old != (art.content_hash, art.status):
                diff.changed.append(art.id)
            else:
                diff.unchanged += 1
        diff.removed = [i for i in existing if i not in seen]
        if diff.newer_version and is_large_removal(diff.existing, len(diff.removed)):
            diff.warnings.append(f"{doc.law}: the {new_date} version has {len(diff.removed)} article(s) fewer "
                                 f"than the stored {old_date} one: imported as a revision (the removed texts "
                                 "are kept as history)")
        return diff

    def import_laws(self, docs: Iterable[LawDocument], progress=None, *, replace: bool = False,
                    dry_run: bool = False) -> list[ImportDiff]:
        """Import several laws in one transaction; any exception rolls every one of them back.

        An import that would remove a large part of a stored law (``ImportDiff.removes_large_part``) raises
        ``DestructiveImportError`` naming what it would remove unless ``replace``. ``dry_run`` runs the
        whole import (every check, every write) and rolls it back: a preview that passes is an import that
        passes."""
        from assistant.corpus.validate import validate_document

        diffs: list[ImportDiff] = []
        try:
            with self._transaction() as conn:
                for doc in docs:
                    validate_document(doc)
                    diffs.append(self._import_one(conn, doc))
                    if progress is not None:
                        progress(doc)
                destructive = [d for d in diffs if d.removes_large_part]
                if destructive and not replace:
                    raise DestructiveImportError(destructive)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            return diffs
        self._local_writes += 1
        return diffs

    def import_consolidated(self, doc: LawDocument, note: str) -> ImportDiff:
        """Import a law's consolidated text (amendments applied) and mark the whole law in force.

        Articles the amendments did not touch keep their text; their status changes in place (已被修改 meant
        "an amendment is not merged yet"), so history holds only texts that really were replaced.
        """
        with self._transaction() as conn:
            diff = self._import_one(conn, doc)
            conn.execute("UPDATE laws SET status = ?, note = ? WHERE law = ?", (doc.info.status, note, doc.law))
            conn.execute(f"UPDATE articles SET status = ? WHERE law = ? AND status IN ({','.join('?' * len(IN_FORCE))})",
                         (doc.info.status, doc.law, *IN_FORCE))
        self._local_writes += 1
        return diff

    def law_note(self, law: str) -> str | None:
        if self._kind_of_law != _KIND_OF_LAW:
            return None
        rows = self._query("SELECT note FROM laws WHERE law = ?", (law,))
        return rows[0][0] if rows else None

    def import_law(self, doc: LawDocument) -> ImportDiff:
        return self.import_laws([doc])[0]

    def _import_one(self, conn: sqlite3.Connection, doc: LawDocument) -> ImportDiff:
        if not doc.articles:
            raise ValueError(f"{doc.law}: no articles to import")
        ids = [a.id for a in doc.articles]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"{doc.law}: duplicate article numbers {dup[:5]}")
        diff = self.diff(doc)
        now = _now()
        info = doc.info
        conn.execute(
            "INSERT INTO laws (law, short_name, doc_type, department, issuing_body, promulgated, effective, "
            "version_date, status, source, imported_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(law) DO UPDATE SET "
            "short_name=excluded.short_name, doc_type=excluded.doc_type, department=excluded.department, "
            "issuing_body=excluded.issuing_body, promulgated=excluded.promulgated, effective=excluded.effective, "
            "version_date=excluded.version_date, status=excluded.status, source=excluded.source, "
            "imported_at=excluded.imported_at, kind=excluded.kind",
            (info.law, info.short_name or short_name(info.law), info.doc_type, info.department, info.issuing_body,
             info.promulgated, info.effective, info.version_date, info.status or STATUS_CURRENT, info.source, now,
             info.kind or _classify(info)))
        replaced = diff.changed + diff.removed
        for i in range(0, len(replaced), 500):
            chunk = replaced[i:i + 500]
            q = ",".join("?" * len(chunk))
            # keep the superseded text as history, tagged with what superseded it
            conn.execute(
                "INSERT INTO article_versions (id, law, number, suffix, number_text, part, chapter, section, text, "
                "status, version_date, source, content_hash, superseded_at, effective) "
                "SELECT id, law, number, suffix, number_text, part, chapter, section, text, status, version_date, "
                f"source, content_hash, ?, effective FROM articles WHERE id IN ({q})", (now, *chunk))
            conn.execute(f"DELETE FROM articles WHERE id IN ({q})", chunk)
        if diff.removed:
            q = ",".join("?" * len(diff.removed))
            conn.execute(f"UPDATE article_versions SET superseded_by = 'removed' WHERE superseded_at = ? "
                         f"AND id IN ({q})", (now, *diff.removed))
        conn.execute("UPDATE article_versions SET superseded_by = ? WHERE superseded_at = ? AND law = ? "
                     "AND superseded_by IS NULL", (info.version_date or now, now, info.law))
        # the day each replaced text stopped being the law: when its successor came into force
        from assistant.corpus.versions import text_start

        new_by_id = {a.id: a for a in doc.articles}
        law_start = text_start(info.effective, info.version_date, info.promulgated)
        conn.executemany("UPDATE article_versions SET replaced_from = ? WHERE superseded_at = ? AND id = ?", [
            ((text_start(new_by_id[i].effective, new_by_id[i].version_date, new_by_id[i].promulgated)
              if i in new_by_id else None) or law_start, now, i) for i in replaced])
        write = set(diff.added) | set(diff.changed)
        conn.executemany(
            f"INSERT INTO articles (id, {', '.join(_ARTICLE_COLS)}, content_hash) "
            f"VALUES (?, {', '.join('?' * len(_ARTICLE_COLS))}, ?)",
            [(a.id, *(getattr(a, k) for k in _ARTICLE_COLS), a.content_hash) for a in doc.articles if a.id in write])
        # positions / dates of unchanged articles may move (an article inserted before them)
        conn.executemany("UPDATE articles SET position = ? WHERE id = ?",
                         [(a.position, a.id) for a in doc.articles if a.id not in write])
        return diff

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None
