"""Statute collections in Markdown as LawRefBook publishes them (one law per file).

Layout of such a file::

    # 中华人民共和国示例法
    1995年2月28日 第八届全国人民代表大会常务委员会第十二次会议通过     <- adoption / promulgation /
    2012年10月26日 …《关于修改<…>的决定》修正                           <- revision lines
    <!-- INFO END -->
    ## 第一章 总则            (or ## 一、一般规定 in older interpretations)
    第一条 ……
    附件：……                  (annexes: not articles)

Older interpretations and decisions number their articles 一、二、三、 instead of 第一条; they are stored as
第一条, 第二条 … in order, with the original label (一、) kept as the article's printed number. A file whose
numbering starts again at 第一条 holds several versions of the law: each is imported as its own version.
Case write-ups (案例) and table-of-contents pages are not statutes and raise ``NotAStatute``.

The body is rewritten line for line into the published layout that ``parse_statute_text`` reads, so its
checks and its file:line errors apply unchanged.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import PurePath

from assistant.corpus.article import STATUS_CURRENT, STATUS_REPEALED
from assistant.corpus.kinds import CASE, JUDICIAL_INTERPRETATION, classify_kind, kind_from_folder
from assistant.corpus.numerals import NUMERAL_PATTERN
from assistant.corpus.store import LawDocument

INFO_END = "<!-- INFO END -->"

_H_RE = re.compile(r"^(#{1,6})\s*(.*?)\s*#*$")
_STRUCT_HEADING = re.compile(rf"^第{NUMERAL_PATTERN}(?:编|分编|章|节)")
_ARTICLE_LINE = re.compile(rf"^(?:\*\*)?第{NUMERAL_PATTERN}条(?:之[一二三四五六七八九十]+)?(?:\*\*)?(?:[\s　]|$)")
_DUN_LINE = re.compile(r"^(?:\*\*)?([一二三四五六七八九十百]+)、(?:\*\*)?\s*(.*)$")
_FINAL_PROVISIONS = re.compile(r"^附[\s　]*则$")
_ANNEX_LINE = re.compile(r"^(?:\*\*)?附(?:件|表|录)?[\s　]*[0-9一二三四五六七八九十]*[\s　]*(?:[：:．.、]|$)")
#: a line between two runs of articles that says a new version starts (2018年修正 / 修订版 / 原文本)
_VERSION_MARK = re.compile(r"\d{4}年.*?(?:修正|修订|版|文本)|(?:修正|修订)(?:本|版|文本)|[（(]\d{4}[^）)]*[）)]$")
_DATE_AT = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_CASE_HEADINGS = {"裁判要点", "基本案情", "简要案情", "裁判结果", "典型意义", "法院裁判", "案情简介", "裁判理由",
                  "相关法条", "司法解释相关法条", "关键词"}
_LINK_LINE = re.compile(r"^[-*+]?\s*\[[^\]]+\]\([^)]+\)\s*$")
#: full-width digits (２００２年６月２９日) read as ASCII wherever a date is read
ASCII_DIGITS = str.maketrans("０１２３４５６７８９－／", "0123456789-/")
#: the number text of a document written as plain paragraphs, stored whole as one article
WHOLE_TEXT = "全文"


class NotAStatute(ValueError):
    """The file is readable but is no statute (a case write-up, a 目录 page): skipped, not failed."""

    def __init__(self, file: str, reason: str):
        self.file, self.reason = file, reason
        super().__init__(f"{file}: {reason}")


def is_lawrefbook(text: str) -> bool:
    return INFO_END in text


@dataclasses.dataclass
class InfoDates:
    """What the lines before ``<!-- INFO END -->`` say about the version's dates."""

    adopted: str | None = None
    promulgated: str | None = None
    effective: str | None = None
    revised: list[str] = dataclasses.field(default_factory=list)

    @property
    def version_date(self) -> str | None:
        return max(self.revised) if self.revised else (self.promulgated or self.adopted)


def _iso(m: re.Match) -> str:
    return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def parse_info_dates(lines: list[str]) -> InfoDates:
    """Each date with the words after it (up to the next date) says what happened that day."""
    text = " ".join(lines).translate(ASCII_DIGITS)
    info = InfoDates()
    matches = list(_DATE_AT.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        words = re.sub(r"《[^》]*》|〈[^〉]*〉", "", text[m.end():end])  # 《关于修改…的决定》 names no event
        date = _iso(m)
        before = text[max(0, m.start() - 2):m.start()]
        if "自" in before and re.search(r"^起?(?:施行|实施)", words.strip()):
            info.effective = date
        elif re.search(r"修正|修订|修改", words):
            info.revised.append(date)
        elif re.search(r"公布|发布|公告|印发|颁布", words):
            info.promulgated = info.promulgated or date
        elif re.search(r"施行|实施|生效", words):
            info.effective = date
        elif re.search(r"通过|批准|制定", words):
            if info.adopted and date > info.adopted and "通过" in words:
                info.revised.append(date)  # adopted again (an interpretation revised by a later session)
            else:
                info.adopted = info.adopted or date
    if info.effective and info.revised and info.effective < max(info.revised):
        info.effective = None  # the commencement of the first version, not of this revised one
    if info.promulgated is None and not info.revised:
        info.promulgated = info.adopted
    return info


def _case_reason(title: str, body_headings: list[str], folder_kind: str | None) -> str | None:
    if folder_kind == CASE:
        return "a court case write-up (案例 folder), not a statute"
    case_like = {h for h in body_headings if h.replace(" ", "") in _CASE_HEADINGS}
    if len(case_like) >= 2:
        return f"a court case write-up (headings {'、'.join(sorted(case_like))}), not a statute"
    if re.search(r"目[\s　]*录$", title):
        return "a table-of-contents page (目录), not a statute"
    return None


def parse_lawrefbook(text: str, file: str = "<markdown>", *, status: str = STATUS_CURRENT,
                     source: str | None = None, folder: tuple[str, ...] | None = None,
                     law: str | None = None) -> list[LawDocument]:
    """Parse one LawRefBook file: one ``LawDocument`` per version it holds (usually one)."""
    from assistant.corpus.parse import StatuteParseError, normalize_title, parse_statute_text

    lines = text.splitlines()
    folder = tuple(folder if folder is not None else PurePath(file).parent.parts)
    folder_kind = kind_from_folder(folder)
    title, title_idx = None, None
    for i, line in enumerate(lines):
        m = _H_RE.match(line.strip())
        if m and len(m.group(1)) == 1 and m.group(2):
            title, title_idx = m.group(2), i
            break
        if line.strip() and not line.strip().startswith("<!--"):
            title, title_idx = re.sub(r"^#+\s*", "", line.strip()), i
            break
    if title is None:
        raise StatuteParseError(file, None, "empty file")
    info_end = next((i for i, ln in enumerate(lines) if ln.strip() == INFO_END), title_idx)
    dates = parse_info_dates([ln.strip() for ln in lines[title_idx + 1:info_end]])
    named = re.search(r"[(（]([0-9]{4}-[0-9]{2}-[0-9]{2})[)）]\.[^.]+$", file.translate(ASCII_DIGITS))
    if dates.version_date is None and named:
        dates.promulgated = named.group(1)  # LawRefBook names files after the version's date: 条例(2019-12-30).md
    body = lines[info_end + 1:]
    offset = info_end + 1  # body line i is file line offset + i + 1

    headings = [m.group(2) for m in (_H_RE.match(ln.strip()) for ln in body) if m]
    reason = _case_reason(title, headings, folder_kind)
    if reason is None and not any(ln.strip() for ln in body if not _LINK_LINE.match(ln.strip())) \
            and any(_LINK_LINE.match(ln.strip()) for ln in body):
        reason = "a table-of-contents page (only links), not a statute"
    if reason:
        raise NotAStatute(file, reason)

    stripped = [_strip_heading(ln.strip()) for ln in body]
    dun_format = not any(_ARTICLE_LINE.match(s) for s, is_h in stripped if not is_h)
    canonical: list[str] = [""] * (offset)
    labels: dict[int, str] = {}  # sequential article number -> printed label (一、)
    chapter_names: dict[str, str] = {}  # canonical heading -> heading as printed
    annex_at: int | None = None
    article_seen = False
    counter = 0
    chapter_counter = 0
    for i, (line, is_heading) in enumerate(stripped):
        if annex_at is not None:
            canonical.append("")
            continue
        if not line:
            canonical.append("")
            continue
        if article_seen and _ANNEX_LINE.match(line):
            annex_at = offset + i + 1
            canonical.append("")
            continue
        if is_heading or _FINAL_PROVISIONS.match(line):
            if _STRUCT_HEADING.match(line) or re.fullmatch(r"目[\s　]*录", line):  # 目录: the text parser skips it
                canonical.append(line)
                continue
            if is_heading and len(line) > 30:
                canonical.append(line if article_seen else "")  # a long '##' line is text, not a heading
                continue
            # 一、一般规定 / 附则 as headings: stored under the name as printed
            chapter_counter += 1
            key = f"第{chapter_counter}章 {line}"
            chapter_names[key] = line
            canonical.append(key)
            continue
        m = _DUN_LINE.match(line) if dun_format else None
        if m:
            counter += 1
            labels[counter] = m.group(1) + "、"
            canonical.append(f"第{counter}条 {m.group(2)}" if m.group(2) else f"第{counter}条")
            article_seen = True
            continue
        if _ARTICLE_LINE.match(line):
            article_seen = True
        canonical.append(line)

    warnings = []
    if annex_at is not None:
        warnings.append(f"{file}:{annex_at}: annex (附件) from this line on is not stored as articles")
    name = law or amendment_name(normalize_title(title), dates.version_date)
    segments = _version_segments(canonical, [ln.strip() for ln in lines], warnings, file)
    kind = classify_kind(name, folder=folder)
    if not any(_ARTICLE_LINE.match(ln) for seg, _ in segments for ln in seg):
        # a 批复, 通知 or short 决定 written as plain paragraphs: law people cite, stored whole
        paragraphs = [ln for ln, is_heading in stripped if ln and not is_heading and not _LINK_LINE.match(ln)]
        if not paragraphs:
            raise StatuteParseError(file, title_idx + 1, "no articles found (expected lines starting with 第一条, "
                                                         "第二条 … or 一、二、…, or paragraphs of text)")
        return [_plain_document(name, paragraphs, file, status, source or file, dates, kind, warnings)]
    repealed_base = _applies_repealed_law(name, kind)
    if repealed_base and status == STATUS_CURRENT:
        status = STATUS_REPEALED
        warnings.append(f"{file}: {name} applies 《{repealed_base[0]}》, which was repealed and replaced by "
                        f"{repealed_base[1]}: stored as {STATUS_REPEALED}")
    docs = []
    for n, (seg, marks) in enumerate(segments):
        doc = parse_statute_text("\n".join(seg), file, law=name, status=status, source=source or file)
        seg_dates = dates if n == 0 else parse_info_dates(marks)
        if n and seg_dates.version_date is None:
            year = re.search(r"(\d{4})年", " ".join(marks))
            if year:  # only the year is printed (2019年修订文本): a reduced-precision ISO date, not a made-up day
                seg_dates.revised.append(year.group(1))
        docs.append(_finish(doc, seg_dates, labels if dun_format else {}, chapter_names, kind,
                            warnings if n == 0 else []))
    if len(docs) > 1:
        # the newest version is the one served; older ones become its history
        docs.sort(key=lambda d: d.info.version_date or "")
        docs[-1].warnings.append(f"{file}: holds {len(docs)} versions of {name} "
                                 f"({', '.join(d.info.version_date or 'undated' for d in docs)}); "
                                 "imported oldest first, the newest as the current text")
    return docs


def amendment_name(name: str, version_date: str | None) -> str:
    """宪法修正案 are named by year (中华人民共和国宪法修正案（1988年）): amendments of different years are
    different documents, not versions of one."""
    if name.endswith("宪法修正案") and version_date and version_date[:4].isdigit():
        return f"{name}（{version_date[:4]}年）"
    return name


def _plain_document(name: str, paragraphs: list[str], file: str, status: str, source: str, dates: InfoDates,
                    kind: str | None, warnings: list[str]) -> LawDocument:
    """A document with no 第X条 / 一、 numbering: one article 全文 (paragraphs as its 款), or one article per
    paragraph (第1段 …) when the whole would be longer than an article may be."""
    from assistant.corpus.article import Article
    from assistant.corpus.laws import short_name
    from assistant.corpus.store import LawInfo
    from assistant.corpus.validate import MAX_ARTICLE_CHARS

    whole = "\n".join(paragraphs)
    parts = [(WHOLE_TEXT, whole)] if len(whole) <= MAX_ARTICLE_CHARS else \
        [(f"第{i}段", p) for i, p in enumerate(paragraphs, 1)]
    info = LawInfo(law=name, short_name=short_name(name), status=status, source=source, kind=kind)
    arts = [Article(law=name, number=i, text=text, number_text=label, law_short=info.short_name, status=status,
                    source=source, position=i - 1) for i, (label, text) in enumerate(parts, 1)]
    note = (f"{file}: no 第X条 or 一、 numbering: stored as "
            + ("one article (全文)" if len(parts) == 1 else f"{len(parts)} paragraph articles (第1段 …)"))
    return _finish(LawDocument(info, arts), dates, {}, {}, kind, warnings + [note])


def _applies_repealed_law(name: str, kind: str | None) -> tuple[str, str] | None:
    """(law, successor) when an interpretation's title applies a repealed law (关于适用《合同法》…的解释):
    such interpretations were repealed with their law (the 民法典's ones by 法释〔2020〕16号)."""
    from assistant.corpus.laws import successor_of

    if kind != JUDICIAL_INTERPRETATION:
        return None
    for named in re.findall(r"《([^》]+)》", name):
        successor = successor_of(named)
        if successor:
            return named, successor
    return None


def _strip_heading(line: str) -> tuple[str, bool]:
    m = _H_RE.match(line)
    if m and m.group(2):
        return re.sub(r"(\*\*|__)(.+?)\1", r"\2", m.group(2)).strip(), True
    return line, False


def _version_segments(canonical: list[str], original: list[str], warnings: list[str], file: str
                      ) -> list[tuple[list[str], list[str]]]:
    """Split where numbering starts again at 第一条 after a line that names a version (one file, several
    versions); a restart without such a line is an attachment (another document), which is not stored.

    Returns (segment, version lines before it). Each segment keeps the file's full length (other lines
    blanked) so that errors still name the right line.
    """
    starts = [i for i, ln in enumerate(canonical) if re.match(r"^第(?:一|1)条(?:[\s　]|$)", ln)]
    cuts: list[tuple[int, list[str]]] = [(0, [])]
    for s in starts[1:]:
        prev_article = max(i for i in range(s) if _ARTICLE_LINE.match(canonical[i]))
        region = range(prev_article + 1, s)
        marks = [i for i in region if _is_version_line(original[i])]
        if not marks:
            warnings.append(f"{file}:{s + 1}: numbering starts again at 第一条 with no version named before it: "
                            "read as an attached document, not stored as articles")
            for i in range(marks[0] if marks else s, len(canonical)):
                canonical[i] = ""
            break
        for i in marks:
            canonical[i] = ""  # a version line is no article text and no heading
        j = marks[0]
        cuts.append((j, [original[i] for i in marks]))
    out = []
    bounds = [c for c, _ in cuts] + [len(canonical)]
    for (a, marks), b in zip(cuts, bounds[1:]):
        out.append(([""] * a + canonical[a:b] + [""] * (len(canonical) - b), marks))
    return out


def _is_version_line(line: str) -> bool:
    """A short heading-like line naming a version (## 2018年修正文本), not an article's sentence."""
    text = re.sub(r"^#+\s*", "", line).strip("*　 ")
    return bool(text) and len(text) <= 40 and not text.endswith(("。", "；", "：")) \
        and not _ARTICLE_LINE.match(text) and bool(_VERSION_MARK.search(text))


def _finish(doc: LawDocument, dates: InfoDates | None, labels: dict[int, str], chapter_names: dict[str, str],
            kind: str | None, file_warnings: list[str]) -> LawDocument:
    info = dataclasses.replace(doc.info, kind=kind)
    if dates is not None:
        info.promulgated = dates.promulgated or dates.adopted or info.promulgated
        info.effective = dates.effective
        info.version_date = dates.version_date or info.version_date
    arts = []
    for a in doc.articles:
        changes = {"promulgated": info.promulgated, "effective": info.effective, "version_date": info.version_date}
        if labels and not a.suffix and a.number in labels:
            changes["number_text"] = labels[a.number]
        if a.chapter in chapter_names:
            changes["chapter"] = chapter_names[a.chapter]
        if a.section in chapter_names:
            changes["section"] = chapter_names[a.section]
        arts.append(dataclasses.replace(a, **changes))
    return LawDocument(info, arts, list(doc.warnings) + list(file_warnings))
