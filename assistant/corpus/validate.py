"""Field checks at the corpus boundary: every importer (txt/md/docx/jsonl, the default corpus, library
callers) and the store itself run the same checks, so a preview that passes is an import that passes.

Two kinds of helpers:
- ``clean_*`` normalise what can be normalised without changing meaning (a BOM, ANSI colour codes, RTL
  overrides, NUL and other control characters, 《》 and a trailing version note around a law name) and
  return what they did, so the importer can say so in a warning;
- ``check_*`` refuse what cannot be trusted (an empty or absurdly long law name, an unknown status, an
  impossible date, an article number outside 1..MAX_ARTICLE_NUMBER, a lone surrogate, a value of the wrong
  type) by raising ``FieldError`` naming the field. Parsers turn it into ``StatuteParseError`` with the file
  and line; ``validate_document`` (called by ``ArticleStore.import_laws``) names the law and article.
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata

from assistant.corpus.article import (STATUS_AMENDED, STATUS_CURRENT, STATUS_HISTORICAL, STATUS_NOT_YET,
                                      STATUS_REPEALED)

STATUSES = (STATUS_CURRENT, STATUS_AMENDED, STATUS_NOT_YET, STATUS_REPEALED, STATUS_HISTORICAL)
#: English spellings accepted for a status (normalised to the stored Chinese one)
STATUS_ALIASES = {"current": STATUS_CURRENT, "in_force": STATUS_CURRENT, "amended": STATUS_AMENDED,
                  "not_yet_effective": STATUS_NOT_YET, "repealed": STATUS_REPEALED,
                  "historical": STATUS_HISTORICAL}
#: 民法典 has 1,260 articles; no statute comes near this, and it keeps numbers far from SQLite's 2**63
MAX_ARTICLE_NUMBER = 100_000
MAX_LAW_NAME_CHARS = 100
MAX_HEADING_CHARS = 200
MAX_ARTICLE_CHARS = 100_000
MIN_YEAR, MAX_YEAR = 1900, 2100

_ANSI = re.compile(r"\x1b(?:\[[0-?]{0,32}[ -/]{0,8}[@-~]|\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)?|[@-Z\\-_])")
_NOTE = re.compile(r"[（(][^（()）]{0,40}[)）]")
#: a trailing version note of a title (（2018修正）, (2020年修订)); （七） of 刑法修正案（七） is part of the name
_VERSION_NOTE = re.compile(r"[（(][^（()）]{0,40}(?:\d|修正|修订|修改|年|版)[^（()）]{0,40}[)）]$")
#: 宪法修正案（1988年）, 刑法修正案（十）: the bracket names which amendment, it is no version note
AMENDMENT_PART = re.compile(r"修正案[（(][^（()）]{1,12}[)）]$")
_DATE_FORMS = (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})$"),
               re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"))


class FieldError(ValueError):
    """One field's value is refused: ``field`` names it, the message says why."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"field {field!r}: {problem}")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _short(value, limit: int = 40) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[:limit] + "…"


def clean_text(value: str, field: str, *, keep_newlines: bool = True) -> tuple[str, list[str]]:
    """Drop a BOM, ANSI escape sequences, bidi overrides / zero-width marks and control characters (tabs
    and, when ``keep_newlines``, newlines are kept). Refuses lone surrogates. Returns (text, notes)."""
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__} {_short(value)}")
    if _has_surrogate(value):
        pos = next(i for i, ch in enumerate(value) if 0xD800 <= ord(ch) <= 0xDFFF)
        raise FieldError(field, f"contains a lone surrogate U+{ord(value[pos]):04X} at character {pos} "
                                f"(not valid Unicode text)")
    notes = []
    text = value
    if _ANSI.search(text):
        text = _ANSI.sub("", text)
        notes.append("ANSI escape sequences removed")
    kept = []
    dropped = 0
    for ch in text:
        if ch in "\n\t" and keep_newlines or ch == "\t":
            kept.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf") and ch != "\u200d":
            # NUL, BOM, RTL overrides, zero-width spaces (private-use code points stay: GB18030 maps some
            # rare characters there)
            dropped += 1
        else:
            kept.append(ch)
    if dropped:
        notes.append(f"{dropped} control/invisible character(s) removed")
        text = "".join(kept)
    return text, notes


def clean_law_name(value, field: str = "law", *, strip_version_note: bool = False) -> tuple[str, list[str]]:
    """A law name as stored: invisible characters, whitespace and 《》 removed (and, for a file's title
    line, a trailing version note such as （2018修正）). Refuses names that end up empty or only a note,
    carry no letters, or are over ``MAX_LAW_NAME_CHARS``. Returns (name, notes saying what was normalised)."""
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__} {_short(value)}")
    if len(value) > 20 * MAX_LAW_NAME_CHARS:  # do not spend time cleaning a 100k-character "name"
        raise FieldError(field, f"law name is {len(value)} characters long (at most {MAX_LAW_NAME_CHARS})")
    text, notes = clean_text(value, field, keep_newlines=False)
    text = unicodedata.normalize("NFC", re.sub(r"\s+", "", text))
    stripped = text.strip("《》〈〉<>\"“”'‘’")
    while strip_version_note and _VERSION_NOTE.search(stripped) and _VERSION_NOTE.sub("", stripped) \
            and not AMENDMENT_PART.search(stripped):
        stripped = _VERSION_NOTE.sub("", stripped).strip("《》〈〉")
    if not stripped or not _NOTE.sub("", stripped).strip("《》〈〉"):
        raise FieldError(field, f"no law name left in {_short(value)} (only brackets, notes or invisible characters)")
    if not any(unicodedata.category(ch).startswith("L") for ch in stripped):
        raise FieldError(field, f"{_short(value)} is not a law name (no letters)")
    if len(stripped) > MAX_LAW_NAME_CHARS:
        raise FieldError(field, f"law name is {len(stripped)} characters long (at most {MAX_LAW_NAME_CHARS})")
    if any(ch in stripped for ch in "#\\/"):
        raise FieldError(field, f"law name {_short(stripped)} contains # / or \\ (reserved in article ids)")
    return stripped, notes


def check_law_name(value, field: str = "law") -> str:
    """Refuse a name that ``clean_law_name`` would change: the store keeps only clean names."""
    cleaned, notes = clean_law_name(value, field)
    if cleaned != value:
        raise FieldError(field, f"law name {_short(value)} is not normalised (expected {_short(cleaned)}"
                                + (f"; {', '.join(notes)}" if notes else "") + ")")
    return cleaned


def check_status(value, field: str = "status") -> str:
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__} {_short(value)}")
    status = value.strip()
    status = STATUS_ALIASES.get(status.lower(), status)
    if status not in STATUSES:
        raise FieldError(field, f"unknown status {_short(value)} (use one of {' / '.join(STATUSES)})")
    return status


def check_date(value, field: str) -> str | None:
    """None, or a real calendar date as YYYY-MM-DD (2018-08-31, 2018/8/31, 2018年8月31日 accepted), or a bare year /
    year-month where the source gives no more."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FieldError(field, f"must be a date string, got {type(value).__name__} {_short(value)}")
    s = value.strip()
    # a source that gives only the year (or month) of a version — LawRefBook's "2019年修订文本" — keeps that
    # precision as a reduced ISO date ("2019", "2019-03"), which still sorts before the full dates of that year
    partial = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", s)
    if partial:
        y, mo = int(partial.group(1)), int(partial.group(2) or 1)
        if not MIN_YEAR <= y <= MAX_YEAR or not 1 <= mo <= 12:
            raise FieldError(field, f"impossible date {_short(value)}")
        return s
    for form in _DATE_FORMS:
        m = form.match(s)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                date = _dt.date(y, mo, d)
            except ValueError as exc:
                raise FieldError(field, f"impossible date {_short(value)} ({exc})") from None
            if not MIN_YEAR <= y <= MAX_YEAR:
                raise FieldError(field, f"date {_short(value)} is outside {MIN_YEAR}–{MAX_YEAR}")
            return date.isoformat()
    raise FieldError(field, f"not a date {_short(value)} (expected YYYY-MM-DD)")


def check_article_number(value, field: str = "number") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"must be an integer, got {type(value).__name__} {_short(value)}")
    if not 1 <= value <= MAX_ARTICLE_NUMBER:
        shown = value if abs(value) < 10**12 else f"a {len(str(abs(value)))}-digit number"
        raise FieldError(field, f"article number {shown} is outside 1..{MAX_ARTICLE_NUMBER}")
    return value


def check_optional_text(value, field: str, max_chars: int = MAX_HEADING_CHARS) -> str | None:
    """None or a short clean string (headings, issuing body ...); control characters are refused here
    because parsers clean them before (a value reaching the store dirty came from a library caller)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__} {_short(value)}")
    cleaned, notes = clean_text(value, field, keep_newlines=False)
    if notes:
        raise FieldError(field, f"contains {'; '.join(notes).replace(' removed', '')}")
    if len(value) > max_chars:
        raise FieldError(field, f"is {len(value)} characters long (at most {max_chars})")
    return value


def check_article_text(value, field: str = "text") -> str:
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__} {_short(value)}")
    if _has_surrogate(value):
        clean_text(value, field)  # raises naming the position
    if not value.strip():
        raise FieldError(field, "article text is empty")
    if len(value) > MAX_ARTICLE_CHARS:
        raise FieldError(field, f"article text is {len(value)} characters long (at most {MAX_ARTICLE_CHARS})")
    if "\x00" in value:
        raise FieldError(field, "article text contains NUL characters")
    return value


class DocumentError(ValueError):
    """A law document that the store refuses: names the law, the article and the field."""


def validate_document(doc) -> None:
    """Every field of a ``LawDocument`` the store would write; raises ``DocumentError``."""
    info = doc.info
    where = repr(info.law)[:60]
    try:
        check_law_name(info.law, "law")
        _check_stored_status(info.status)
        for name in ("promulgated", "effective", "version_date"):
            value = getattr(info, name)
            if value is not None and check_date(value, name) != value:
                raise FieldError(name, f"date {_short(value)} is not in YYYY-MM-DD form")
        for name in ("short_name", "doc_type", "department", "issuing_body"):
            check_optional_text(getattr(info, name), name)
        if not isinstance(info.source, str):
            raise FieldError("source", f"must be a string, got {type(info.source).__name__}")
    except FieldError as exc:
        raise DocumentError(f"law {where}: {exc}") from None
    for art in doc.articles:
        try:
            if art.law != info.law:
                raise FieldError("law", f"article of {art.law!r} inside the document of {info.law!r}")
            check_article_number(art.number)
            if not isinstance(art.suffix, str) or (art.suffix and not re.fullmatch(r"之[一二三四五六七八九十]+", art.suffix)):
                raise FieldError("suffix", f"bad suffix {_short(art.suffix)} (expected 之一, 之二 …)")
            check_article_text(art.text)
            _check_stored_status(art.status)
            for name in ("part", "chapter", "section", "number_text"):
                check_optional_text(getattr(art, name), name)
            for name in ("promulgated", "effective", "version_date"):
                value = getattr(art, name)
                if value is not None and check_date(value, name) != value:
                    raise FieldError(name, f"date {_short(value)} is not in YYYY-MM-DD form")
            if isinstance(art.position, bool) or not isinstance(art.position, int) or not 0 <= art.position < 10**7:
                raise FieldError("position", f"bad position {_short(art.position)}")
        except FieldError as exc:
            number = art.number if isinstance(art.number, int) and abs(art.number) < 10**12 else "?"
            raise DocumentError(f"law {where}, article {number}{art.suffix if isinstance(art.suffix, str) else ''}: "
                                f"{exc}") from None


def _check_stored_status(status) -> None:
    if check_status(status) != status:
        raise FieldError("status", f"status {_short(status)} is not normalised (use one of {' / '.join(STATUSES)})")
