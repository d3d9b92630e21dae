"""Statute files -> ``LawDocument``s: plain text, Markdown, .docx (as published) and JSONL (one article a line).

A statute as published: a title line, optional notes in brackets (adoption and amendment history), an
optional 目录, 编/分编/章/节 headings, and articles 第N条 (之一 ...) whose paragraphs (款) and items
（一）（二） follow on their own lines. Errors name the file and line (``StatuteParseError``) and nothing is
imported from a file that has one; numbering gaps are warnings.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.corpus.article import STATUS_CURRENT, Article
from assistant.corpus.laws import normalize_law_name, short_name
from assistant.corpus.markdown import NotAStatute, is_lawrefbook, parse_lawrefbook  # noqa: F401 (re-exported)
from assistant.corpus.numerals import NUMERAL_PATTERN, article_number_text, cn_to_int, parse_article_number
from assistant.corpus.store import LawDocument, LawInfo
from assistant.corpus import validate as V

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".docx", ".jsonl")

_HEADING_RE = re.compile(rf"^第({NUMERAL_PATTERN})(编|分编|章|节)(?:[\s　]+(.*)|$)")
_ARTICLE_RE = re.compile(rf"^第({NUMERAL_PATTERN})条(之[一二三四五六七八九十]+)?(?=[\s　]|$|[^的、至规款项或和及中第之])[\s　]*(.*)$")
_NOTE_RE = re.compile(r"^[（(].*[)）]$")
_DATE_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_ASCII_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_TOC_RE = re.compile(r"^目[\s　]*录$")
_MD_PREFIX = re.compile(r"^(?:#{1,6}\s*|>\s*|[-*+]\s+(?=第))")


class StatuteParseError(ValueError):
    """Bad input: names the file, the line (when there is one) and the problem."""

    def __init__(self, file: str, line: int | None, message: str):
        self.file, self.line, self.problem = file, line, message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")


def _law_name(raw, file: str, line: int | None, warnings: list[str], field: str = "law") -> str:
    """A title line / law field as a clean law name (validate.clean_law_name, then the title rules);
    says in a warning what was normalised, refuses what cannot be a name."""
    try:
        cleaned, notes = V.clean_law_name(raw, field, strip_version_note=True)
        name = normalize_title(cleaned)
        name, more = V.clean_law_name(name, field)
    except V.FieldError as exc:
        raise StatuteParseError(file, line, str(exc)) from None
    for note in notes + more:
        warnings.append(f"{file}:{line}: law name normalised to {name!r}: {note}" if line
                        else f"{file}: law name normalised to {name!r}: {note}")
    return name


def _field(check, value, file: str, line: int | None, *args):
    try:
        return check(value, *args)
    except V.FieldError as exc:
        raise StatuteParseError(file, line, str(exc)) from None


@dataclass
class ParsedFile:
    path: str
    documents: list[LawDocument]
    warnings: list[str] = field(default_factory=list)

    @property
    def article_count(self) -> int:
        return sum(len(d.articles) for d in self.documents)


# -- decoding ------------------------------------------------------------------------------------------
def decode_bytes(data: bytes, file: str) -> str:
    """UTF-8 (with or without BOM), then GB18030; undecodable bytes are reported with their line."""
    if not data.strip():
        raise StatuteParseError(file, None, "empty file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_err:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            line = data[:utf8_err.start].count(b"\n") + 1
            raise StatuteParseError(file, line, f"undecodable bytes at byte {utf8_err.start} "
                                                f"(neither UTF-8 nor GB18030)") from None
        # GB18030 decodes almost anything; accept it only when the result is mostly CJK text
        cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
        if cjk < 0.3 * len(text.strip()):
            line = data[:utf8_err.start].count(b"\n") + 1
            raise StatuteParseError(file, line, f"undecodable bytes at byte {utf8_err.start} "
                                                f"(not UTF-8, and not GB18030 Chinese text)")
        return text


# -- plain text / Markdown ------------------------------------------------------------------------------
def _clean_line(line: str, markdown: bool) -> str:
    line = line.strip(" \t\r\u3000\xa0")  # ideographic spaces inside a line are text and are kept
    if markdown:
        line = _MD_PREFIX.sub("", line).strip()
        line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line).strip()
    return line


def parse_statute_text(text: str, file: str = "<text>", *, law: str | None = None, status: str = STATUS_CURRENT,
                       markdown: bool = False, source: str | None = None) -> LawDocument:
    """Parse one law in published layout. ``law`` overrides the title line."""
    lines = [_clean_line(ln, markdown) for ln in text.splitlines()]
    if not any(lines):
        raise StatuteParseError(file, None, "empty file")
    warnings: list[str] = []
    title, title_line = (_law_name(law, file, None, warnings, "--law") if law is not None else None), None
    status = _field(V.check_status, status, file, None)
    part = chapter = section = None
    sub_part = None
    articles: list[dict] = []
    notes: list[str] = []
    in_toc = False
    toc_first_heading: str | None = None

    for lineno, line in enumerate(lines, 1):
        if not line:
            continue
        if _TOC_RE.match(line):
            in_toc = True
            continue
        heading = _HEADING_RE.match(line)
        article = _ARTICLE_RE.match(line)
        if in_toc:
            if heading and toc_first_heading is None:
                toc_first_heading = line
                continue
            if (heading and line == toc_first_heading) or article:
                in_toc = False  # the body starts: the first heading of the table of contents again
            else:
                continue
        if title is None:
            if heading or article:
                raise StatuteParseError(file, lineno, "no title line before the first heading or article "
                                                      "(the first line must name the law)")
            title, title_line = _law_name(line, file, lineno, warnings), lineno
            continue
        if heading:
            kind = heading.group(2)
            name = line[:V.MAX_HEADING_CHARS]
            if kind == "编":
                part, sub_part, chapter, section = name, None, None, None
            elif kind == "分编":
                sub_part, chapter, section = name, None, None
            elif kind == "章":
                chapter, section = name, None
            else:
                section = name
            continue
        if article:
            numeral = article.group(1)
            if len(numeral) > 12:
                raise StatuteParseError(file, lineno, f"article number {numeral[:12]!r}… is {len(numeral)} characters "
                                                      f"long (not an article number)")
            try:
                number = cn_to_int(numeral)
            except ValueError as exc:
                raise StatuteParseError(file, lineno, f"bad article number {numeral!r}: {exc}") from None
            if number <= 0:
                raise StatuteParseError(file, lineno, "article numbers start at 第一条")
            _field(V.check_article_number, number, file, lineno)
            suffix = article.group(2) or ""
            body = article.group(3).strip()
            articles.append({"number": number, "suffix": suffix, "lines": [body] if body else [], "line": lineno,
                             "number_text": line[:article.start(3)].strip(),
                             "part": " ".join(p for p in (part, sub_part) if p) or None,
                             "chapter": chapter, "section": section})
            continue
        # bracketed adoption / amendment notes; inside the body only dated amendment notes are notes
        if _NOTE_RE.match(line) and (not articles or (_DATE_RE.search(line) and re.search(r"修正|修订", line))):
            notes.append(line)  # adoption / amendment history, not article text
            continue
        if articles:
            articles[-1]["lines"].append(line)
        # text between the title and the first article (序言, preamble) is not an article: skipped

    if title is None:
        raise StatuteParseError(file, None, "no title line")
    if not articles:
        raise StatuteParseError(file, title_line, "no articles found (expected lines starting with 第一条, 第二条 …)")

    seen: dict[tuple[int, str], int] = {}
    for a in articles:
        text = "\n".join(a["lines"])
        if len(text) > V.MAX_ARTICLE_CHARS:
            raise StatuteParseError(file, a["line"], f"{a['number_text']} is {len(text)} characters long "
                                                     f"(at most {V.MAX_ARTICLE_CHARS})")
        key = (a["number"], a["suffix"])
        if key in seen:
            raise StatuteParseError(file, a["line"], f"duplicate article number {article_number_text(*key)} "
                                                     f"(first at line {seen[key]})")
        seen[key] = a["line"]
        if not a["lines"]:
            raise StatuteParseError(file, a["line"], f"{a['number_text']} has no text")
    prev = None
    for a in articles:
        if a["suffix"]:
            if (a["number"], "") not in seen:
                warnings.append(f"{file}:{a['line']}: {a['number_text']} without a base article "
                                f"{article_number_text(a['number'])}")
            continue
        if prev is not None and a["number"] != prev["number"] + 1:
            if a["number"] <= prev["number"]:
                warnings.append(f"{file}:{a['line']}: {a['number_text']} comes after {prev['number_text']} "
                                f"(line {prev['line']}): numbers go backwards")
            else:
                missing = a["number"] - prev["number"] - 1
                warnings.append(f"{file}:{a['line']}: numbering gap: {missing} article(s) missing between "
                                f"{prev['number_text']} (line {prev['line']}) and {a['number_text']}")
        prev = a

    dates = []
    for note in notes:
        for y, m, d in _DATE_RE.findall(note.translate(_ASCII_DIGITS)):
            try:
                dates.append(V.check_date(f"{y}-{int(m):02d}-{int(d):02d}", "date"))
            except V.FieldError as exc:
                warnings.append(f"{file}: {exc.problem} in the note {note[:60]!r}: ignored")
    full = title
    info = LawInfo(law=full, short_name=short_name(full), status=status, promulgated=dates[0] if dates else None,
                   version_date=max(dates) if dates else None, source=source or file)
    arts = [Article(law=full, number=a["number"], suffix=a["suffix"], text="\n".join(a["lines"]),
                    law_short=info.short_name, number_text=a["number_text"], part=a["part"],
                    chapter=a["chapter"], section=a["section"], status=status, promulgated=info.promulgated,
                    version_date=info.version_date, source=info.source, position=i)
            for i, a in enumerate(articles)]
    return LawDocument(info, arts, warnings)


def normalize_title(line: str) -> str:
    """《中华人民共和国劳动法》（2018修正） -> 中华人民共和国劳动法."""
    title = re.sub(r"\s+", "", line).strip("《》")
    # a version note goes, a numbered part of the name (解释（三）, 修正案（十二）) stays
    for _ in range(2):  # 《…》（2019修正）【现行有效】
        if V.AMENDMENT_PART.search(title):
            break
        title = re.sub(r"(?:[（(【\[][^（()）【】\[\]]*(?:\d|修正|修订|修改|版|有效|失效|废止)[^（()）【】\[\]]*[)）】\]]"
                       r"|\d{4}年?(?:修正|修订|修改)(?:本|版|文本)?)$", "", title).strip("《》")
    # 修正案(十) as 修正案（十）: the numbered part in the full-width brackets the stored names use
    title = re.sub(r"\(([^()]*)\)", r"（\1）", title)
    return title or normalize_law_name(line)


# -- docx ------------------------------------------------------------------------------------------------
#: a .docx is a zip; refuse one that would inflate past this (a zip bomb) before python-docx reads it
MAX_DOCX_UNZIPPED_BYTES = 200 * 1024 * 1024


def docx_to_text(path: Path, name: str | None = None) -> str:
    """The paragraphs of a .docx. Anything that is not a readable Word 2007+ file (a renamed .doc, an empty
    or truncated zip, broken XML, a zip bomb) is a ``StatuteParseError`` naming the file by ``name``, never
    by its server path."""
    import zipfile

    try:
        import docx
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise RuntimeError("reading .docx needs python-docx") from exc
    name = name or str(path)
    head = path.read_bytes()[:8] if path.stat().st_size else b""
    if not head:
        raise StatuteParseError(name, None, "empty file")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise StatuteParseError(name, None, "an old Word .doc (OLE) file renamed .docx: save it as .docx first")
    if not zipfile.is_zipfile(path):
        raise StatuteParseError(name, None, "not a .docx file (a .docx is a zip archive; this is not one)")
    try:
        with zipfile.ZipFile(path) as zf:
            unzipped = sum(i.file_size for i in zf.infolist())
            if "word/document.xml" not in zf.namelist():
                raise StatuteParseError(name, None, "not a Word document (the archive has no word/document.xml)")
    except zipfile.BadZipFile:
        raise StatuteParseError(name, None, "a damaged .docx (the zip archive cannot be read)") from None
    if unzipped > MAX_DOCX_UNZIPPED_BYTES:
        raise StatuteParseError(name, None, f"the .docx unpacks to {unzipped / 1048576:.0f} MB "
                                            f"(at most {MAX_DOCX_UNZIPPED_BYTES // 1048576} MB)")
    try:
        document = docx.Document(str(path))
        return "\n".join(p.text for p in document.paragraphs)
    except Exception as exc:  # python-docx / lxml raise many types for broken parts; the file is at fault
        kind = "malformed XML inside the .docx" if "XML" in type(exc).__name__ else "not a readable .docx file"
        raise StatuteParseError(name, None, f"{kind} ({type(exc).__name__})") from None


# -- JSONL -----------------------------------------------------------------------------------------------
_JSONL_OPTIONAL = ("part", "chapter", "section", "status", "promulgated", "effective", "version_date")


def _json_line(line: str, file: str, lineno: int):
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise StatuteParseError(file, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise StatuteParseError(file, lineno, "JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise StatuteParseError(file, lineno, f"invalid JSON value: {str(exc)[:120]}") from None


def parse_jsonl(text: str, file: str = "<jsonl>", source: str | None = None) -> list[LawDocument]:
    """One article per line: {"law", "number" (int or 第N条之一 text), "text", optional "suffix", "chapter", …}.
    Every field's type and range is checked (validate.py); errors name the line and the field."""
    by_law: dict[str, list[tuple[int, dict]]] = {}
    warnings: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = _json_line(line, file, lineno)
        if not isinstance(row, dict):
            raise StatuteParseError(file, lineno, "each line must be a JSON object")
        for key in ("law", "number", "text"):
            if key not in row or row[key] in (None, ""):
                raise StatuteParseError(file, lineno, f"missing field {key!r}")
        if not isinstance(row["law"], str) or not isinstance(row["text"], str):
            raise StatuteParseError(file, lineno, "fields 'law' and 'text' must be strings")
        law = _law_name(row["law"], file, lineno, warnings)
        row = dict(row)
        row["text"], notes = _field(V.clean_text, row["text"], file, lineno, "text")
        row["text"] = _field(V.check_article_text, row["text"].strip(), file, lineno, "text")
        warnings += [f"{file}:{lineno}: field 'text': {n}" for n in notes]
        for key in _JSONL_OPTIONAL:
            value = row.get(key)
            if value is None or value == "":
                row.pop(key, None)
            elif key == "status":
                row[key] = _field(V.check_status, value, file, lineno, key)
            elif key in ("promulgated", "effective", "version_date"):
                row[key] = _field(V.check_date, value, file, lineno, key)
            else:
                cleaned, notes = _field(V.clean_text, value, file, lineno, key)
                row[key] = _field(V.check_optional_text, cleaned.strip() or None, file, lineno, key)
                warnings += [f"{file}:{lineno}: field {key!r}: {n}" for n in notes]
        if row.get("suffix") is not None and not isinstance(row["suffix"], str):
            raise StatuteParseError(file, lineno, f"field 'suffix': must be a string like 之一, "
                                                  f"got {type(row['suffix']).__name__}")
        by_law.setdefault(law, []).append((lineno, row))
    if not by_law:
        raise StatuteParseError(file, None, "empty file" if not text.strip() else "no articles found")
    docs = []
    for law, rows in by_law.items():
        info = LawInfo(law=law, short_name=short_name(law), status=rows[0][1].get("status") or STATUS_CURRENT,
                       source=source or file)
        arts, seen = [], {}
        for pos, (lineno, row) in enumerate(rows):
            try:
                if isinstance(row["number"], int) and not isinstance(row["number"], bool):
                    number, suffix = row["number"], str(row.get("suffix") or "")
                    if number <= 0:
                        raise ValueError("article numbers start at 1")
                elif isinstance(row["number"], str):
                    if len(row["number"]) > 40:
                        raise ValueError(f"{row['number'][:20]!r}… is not an article number")
                    number, suffix = parse_article_number(row["number"])
                    suffix = suffix or str(row.get("suffix") or "")
                else:
                    raise ValueError(f"must be an integer or text like 第十条, got {type(row['number']).__name__}")
                V.check_article_number(number)
                if suffix and not re.fullmatch(r"之[一二三四五六七八九十]+", suffix):
                    raise ValueError(f"bad suffix {suffix!r} (expected 之一, 之二 …)")
            except V.FieldError as exc:
                raise StatuteParseError(file, lineno, str(exc)) from None
            except ValueError as exc:
                raise StatuteParseError(file, lineno, f"field 'number': {exc}") from None
            if (number, suffix) in seen:
                raise StatuteParseError(file, lineno, f"duplicate article number {article_number_text(number, suffix)} "
                                                      f"in {law} (first at line {seen[(number, suffix)]})")
            seen[(number, suffix)] = lineno
            extra = {k: row.get(k) for k in _JSONL_OPTIONAL if row.get(k)}
            extra.setdefault("status", info.status)
            arts.append(Article(law=law, number=number, suffix=suffix, text=row["text"],
                                law_short=info.short_name, source=info.source, position=pos, **extra))
        docs.append(LawDocument(info, arts, warnings if not docs else []))
    return docs


# -- entry point -----------------------------------------------------------------------------------------
def parse_file(path: str | Path, *, law: str | None = None, status: str = STATUS_CURRENT,
               display_name: str | None = None) -> ParsedFile:
    """Parse a statute file by its extension. ``display_name`` is what error messages call the file."""
    path = Path(path)
    name = display_name or str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise StatuteParseError(name, None, f"unsupported file type {suffix or '(none)'}; "
                                            f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if not path.exists():
        raise StatuteParseError(name, None, "file not found")
    if suffix == ".docx":
        text = docx_to_text(path, name)
        if not text.strip():
            raise StatuteParseError(name, None, "empty file")
    else:
        text = decode_bytes(path.read_bytes(), name)
    if suffix == ".jsonl":
        docs = parse_jsonl(text, name, source=name)
    else:
        # NUL, ANSI colour codes, RTL overrides ... are dropped before parsing, and the file says so
        text, notes = V.clean_text(text, "text")
        if suffix not in (".txt", ".docx") and is_lawrefbook(text):
            # collection layout (LawRefBook): info block, 一、 articles, annexes, several versions
            docs = parse_lawrefbook(text, name, status=status, source=name, law=law)
        else:
            docs = [parse_statute_text(text, name, law=law, status=status, markdown=suffix not in (".txt", ".docx"),
                                       source=name)]
        if docs:
            docs[0].warnings[:0] = [f"{name}: {n}" for n in notes]
    for doc in docs:  # the store's own checks, so that a file that parses is a file that imports
        try:
            V.validate_document(doc)
        except V.DocumentError as exc:
            raise StatuteParseError(name, None, str(exc)) from None
    return ParsedFile(name, docs, [w for d in docs for w in d.warnings])
