"""Statute citations in Chinese text: find them, resolve their law, and parse single references.

Recognised forms: 《中华人民共和国民法典》第一千零四十三条, 《民法典》第1043条, 民法典第1043条 (no book-title
marks), 刑法第一百三十三条之一, 刑法133条之一, 第X条第二款第（三）项, 第X条至第Y条, 第X、Y条 / 第X条、第Y条,
and 本法 / 该法 / 同法 resolved to the law last named in the text (or a default law).
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterator

from assistant.corpus.article import make_article_id
from assistant.corpus.laws import LawNameError, LawResolver
from assistant.corpus.numerals import CN_NUMERAL_CHARS, cn_to_int, parse_article_number

# Every pattern here runs on untrusted text (questions, model output, uploads), so each is linear: numeral
# runs are bounded ({1,12}: 一千二百六十 is 6) and may not start inside a longer run (the look-behind), gaps
# are bounded, and no quantifier is nested. "一"*100000 is then one failed attempt, not 100000 of them.
_NUM_CHARS = f"{CN_NUMERAL_CHARS}0-9０-９"
N = f"(?<![{_NUM_CHARS}])[{_NUM_CHARS}]{{1,12}}"
_SP = r"\s{0,4}"
_SUB = r"之[一二三四五六七八九十]{1,3}"
# 第X条 (with optional 之一), or X条 / X-1 right after a law name (checked in code)
_ARTICLE = re.compile(
    rf"(?P<di>第{_SP})?(?P<num>{N}){_SP}条(?P<sub>{_SUB})?"
    rf"(?P<tail>(?:{_SP}第{_SP}(?P<para>{N}){_SP}款)?(?:{_SP}第{_SP}[（(]?(?P<item>{N})[)）]?{_SP}项)?)"
)
_BOOK = re.compile(r"《([^《》]{1,80})》\s*$")
_UNKNOWN_LAW = re.compile(r"(?:根据|依据|依照|按照|参照|适用|违反|对照|即|如|和|与|及)?([\u4e00-\u9fa5]{1,14}?(?:法|法典|条例|规定|办法|解释))\s*$")
# 同法 is left out on purpose: it is the tail of 合同法, a repealed law users still cite
_ANAPHORA = re.compile(r"(本法|该法|此法|上述法律|前述法律)\s*$")
_ANAPHORA_WORDS = ("本法", "该法", "此法")  # 转让本法第十条 is 本法, not a law named 转让本法
_LIST_JOINER = re.compile(r"^\s*(、|，|,|和|及|以及|或者|或|与)\s*$")
_RANGE_JOINER = re.compile(r"^\s*(至|到|—|－|-|~|～)\s*$")
_DASH_FORM = re.compile(r"(?<!\d)(?P<num>\d{1,5})\s{0,2}[-－](?P<dash>\d{1,2})(?!\d)")
MAX_RANGE = 30  # 第1条至第30条 lists 30 citations; a wider range keeps only its two ends
MAX_JOINER_GAP = 12  # characters between two articles joined as a list / range (、 至 …)
MAX_REFERENCE_CHARS = 200  # one article reference (lookup, --context)


class CitationError(ValueError):
    pass


class TooManyCitations(CitationError):
    """A text with more citations than the caller's limit (ranges count as the articles they list)."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"the text cites more than {limit} articles; split it into smaller parts")


@dataclass
class Citation:
    span: str  # the text as written, e.g. 《民法典》第1043条
    start: int
    end: int
    law: str | None  # resolved full name, None when it could not be resolved
    number: int
    suffix: str = ""
    paragraph: int | None = None  # 款
    item: int | None = None  # 项
    law_text: str | None = None  # the law as written (民法典, 本法 ...)
    error: str | None = None  # why the law is unresolved
    via: str = "explicit"  # explicit | list | range | anaphora | default

    @property
    def id(self) -> str | None:
        return make_article_id(self.law, self.number, self.suffix) if self.law else None

    @property
    def article_text(self) -> str:
        return f"第{self.number}条{self.suffix}"

    def to_dict(self) -> dict:
        return {"span": self.span, "start": self.start, "end": self.end, "law": self.law, "number": self.number,
                "suffix": self.suffix, "paragraph": self.paragraph, "item": self.item, "law_text": self.law_text,
                "id": self.id, "error": self.error, "via": self.via}


def _int(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return cn_to_int(text)
    except ValueError:
        return None


def _resolve(resolver: LawResolver, name: str) -> tuple[str | None, str | None]:
    try:
        return resolver.resolve(name), None
    except LawNameError as exc:
        return None, str(exc)


def find_citations(text: str, resolver: LawResolver, default_law: str | None = None, *,
                   limit: int | None = None) -> list[Citation]:
    """Every statute citation in ``text``, in order of appearance (ranges expanded). Linear in the length of
    the text; more than ``limit`` citations raise ``TooManyCitations``."""
    out: list[Citation] = []
    context_law = default_law  # the law that 本法 / 该法 refer to: the last one named
    prev: Citation | None = None
    for m in _ARTICLE.finditer(text):
        try:
            number = cn_to_int(m.group("num"))
        except ValueError:
            continue
        if number <= 0:
            continue
        suffix = m.group("sub") or ""
        before = text[max(0, m.start() - 90):m.start()]
        law = law_text = error = None
        via = "explicit"
        start = m.start()
        gap = text[prev.end:m.start()] if prev is not None and m.start() - prev.end <= MAX_JOINER_GAP else None
        if limit is not None and len(out) >= limit:
            raise TooManyCitations(limit)
        book = _BOOK.search(before)
        anaphora = _ANAPHORA.search(before)
        if book:
            law_text = book.group(1)
            law, error = _resolve(resolver, law_text)
            start = m.start() - len(before) + book.start()
        elif gap is not None and _RANGE_JOINER.match(gap) and m.group("di") is not None:
            law, law_text, error, via = prev.law, prev.law_text, prev.error, "range"
            lo = prev.number
            if prev.law and not prev.suffix and not suffix and 0 < number - lo <= MAX_RANGE:
                for k in range(lo + 1, number):
                    out.append(Citation(text[prev.start:m.end()], prev.start, m.end(), law, k, "",
                                        law_text=law_text, via="range"))
        elif gap is not None and _LIST_JOINER.match(gap) and \
                (m.group("di") is not None or gap.strip() == "、"):
            law, law_text, error, via = prev.law, prev.law_text, prev.error, "list"
        else:
            clause = re.split(r"[。；;！？!?\n，,：:（）()“”\"、]", before)[-1].rstrip()
            if prev is not None and m.start() - prev.end < len(clause):
                clause = text[prev.end:m.start()].rstrip()  # 第1079条和合同法第52条: the law starts after 条
            found = resolver.resolve_suffix(clause) if clause else None
            unknown = _UNKNOWN_LAW.search(clause) if not found else None
            if found:
                law_text, law = found
                start = m.start() - len(before) + before.rfind(law_text)
            elif unknown and not unknown.group(1).endswith(_ANAPHORA_WORDS) and \
                    (not anaphora or len(unknown.group(1)) > len(anaphora.group(1))):
                # a law name the corpus lacks (合同法, a regulation ...): a citation that cannot be verified
                law_text = unknown.group(1)
                _, error = _resolve(resolver, law_text)
                start = m.start() - len(before) + before.rfind(law_text)
            elif anaphora:
                law_text = anaphora.group(1)
                law, via = context_law, "anaphora"
                error = None if law else f"{law_text} does not refer to a law named earlier"
                start = m.start() - len(before) + anaphora.start()
            elif m.group("di") is None:
                continue  # "3条建议" is not a citation
            elif default_law:
                law, via = default_law, "default"
            else:
                error = "no law is named for this article"
        if law:
            context_law = law
        cit = Citation(text[start:m.end()], start, m.end(), law, number, suffix,
                       paragraph=_int(m.group("para")), item=_int(m.group("item")), law_text=law_text,
                       error=None if law else error, via=via)
        out.append(cit)
        prev = cit
    # 刑法 133-1 style (digits with a dash) right after a law name; "inside an earlier citation" is a
    # binary search over the citations' starts with the running maximum of their ends
    starts = [c.start for c in out]
    reach = []
    for c in out:
        reach.append(max(c.end, reach[-1]) if reach else c.end)
    dashes: list[Citation] = []
    for m in _DASH_FORM.finditer(text):
        before = text[max(0, m.start() - 40):m.start()]
        clause = re.split(r"[。；;！？!?\n，,：:]", before)[-1].rstrip()
        found = resolver.resolve_suffix(clause) if clause else None
        dash = int(m.group("dash"))
        k = bisect.bisect_right(starts, m.start()) - 1
        inside = k >= 0 and reach[k] > m.start()
        if found and 0 < dash <= 10 and not inside:
            if limit is not None and len(out) + len(dashes) >= limit:
                raise TooManyCitations(limit)
            start = m.start() - len(before) + before.rfind(found[0])
            dashes.append(Citation(text[start:m.end()], start, m.end(), found[1], int(m.group("num")),
                                "之" + "一二三四五六七八九十"[dash - 1], law_text=found[0]))
    out += dashes
    out.sort(key=lambda c: (c.start, c.number))
    return out


def iter_article_ids(text: str, resolver: LawResolver) -> Iterator[str]:
    for c in find_citations(text, resolver):
        if c.id:
            yield c.id


_REF = re.compile(rf"^\s*(?P<law>.*?)\s*(?P<art>(?:第{_SP})?{N}{_SP}条?{_SP}(?:{_SUB}|[-－]\d{{1,2}})?)\s*$")


def parse_reference(reference: str, resolver: LawResolver) -> tuple[str, int, str]:
    """One article reference (民法典第1043条, 刑法 133-1, 《中华人民共和国刑法》第一百三十三条之一)
    -> (full law name, number, suffix). Raises ``CitationError`` saying what is wrong."""
    ref = reference.strip()
    if len(ref) > MAX_REFERENCE_CHARS:
        raise CitationError(f"a reference of {len(ref)} characters is not an article reference "
                            f"(at most {MAX_REFERENCE_CHARS}; e.g. 民法典第1043条)")
    m = _REF.match(ref)
    if not m or not m.group("law"):
        raise CitationError(f"not an article reference: {reference!r} (expected e.g. 民法典第1043条)")
    try:
        number, suffix = parse_article_number(m.group("art"))
    except ValueError as exc:
        raise CitationError(f"{reference!r}: {exc}") from None
    try:
        law = resolver.resolve(m.group("law"))
    except LawNameError as exc:
        raise CitationError(str(exc)) from None
    return law, number, suffix
