"""Consolidating amendments: apply a 修正案's numbered changes to its base law.

The default corpus stores 刑法 as its 2020 text (status 已被修改) and 刑法修正案（十二）(2023) as a separate
document, so articles 165, 390 … are out of date. An amendment item is one instruction in a fixed legal
wording, which is parsed, never guessed:

- 将刑法第X条修改为："…"                          replace the article
- 将刑法第X条第N款修改为："…" / …第N款第M项修改为：  replace a paragraph (款) / an item (项)
- 在刑法第X条中增加一款作为第N款，将该条修改为："…"  replace the article (its new text is given whole)
- 在刑法第X条中增加一款作为第N款："…"（原第N款作为第N+1款） insert a paragraph
- 在刑法第X条后增加一条（N条），作为第X条之一（…）："…"  add articles
- 删去刑法第X条 / 删去刑法第X条第N款                 delete (the article text becomes （删去）, as published)
- 本修正案自…起施行                                 the amendment's commencement (no change)

An amendment is applied only when every one of its changes can be applied (else none is, and the report
says which change failed and why); later amendments of the same law wait for it. Each replaced text stays
in the store's history with its dates. ``audit`` checks every change of every amendment against the
consolidated text: ``applied`` (now), ``in_text`` (the base already has this wording), ```superseded`` (a later
amendment changed the same place), ``not_applied`` (a newer amendment that could not be applied, with the
reason) or ``not_checked`` (an older amendment whose wording could not be matched to the stored text).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from assistant.corpus.article import STATUS_CURRENT, Article
from assistant.corpus.kinds import AMENDMENT, DECISION
from assistant.corpus.numerals import NUMERAL_PATTERN, cn_to_int
from assistant.corpus.store import LawDocument

DELETED_TEXT = "（删去）"
APPLIED, IN_TEXT, SUPERSEDED, NOT_APPLIED, COMMENCEMENT = "applied", "in_text", "superseded", "not_applied", "commencement"
#: an amendment the stored base text already includes, whose change could not be checked against it
NOT_CHECKED = "not_checked"
OUTCOMES = (APPLIED, IN_TEXT, SUPERSEDED, NOT_APPLIED, NOT_CHECKED, COMMENCEMENT)

_N = NUMERAL_PATTERN
_LAW = r"(?:《?[\u4e00-\u9fff]{0,30}?(?:法|宪法)》?)?"  # 刑法 / 本法 / 《中华人民共和国刑法》 / nothing
_ART = rf"第({_N})条(之[一二三四五六七八九十]+)?"
_COLON = r"[：:]"
_COUNT = r"[一二两三四五六七八九十]+"
_PARAS = rf"第({_N})款((?:(?:、|和|至)第{_N}款)*)"  # 第一款 / 第一款、第二款 / 第二款至第五款
_RE_REPLACE_ITEM = re.compile(rf"^将{_LAW}{_ART}(?:第({_N})款)?第({_N})项修改为{_COLON}")
_RE_REPLACE_PARA = re.compile(rf"^将{_LAW}{_ART}{_PARAS}修改为{_COLON}")
_RE_REPLACE_ART = re.compile(rf"^将{_LAW}{_ART}修改为{_COLON}")
_RE_ADD_PARA_REWRITE = re.compile(rf"^在{_LAW}{_ART}中增加{_COUNT}款[^，,：:]*[，,]将该条修改为{_COLON}")
_RE_ADD_PARA = re.compile(rf"^在?{_LAW}{_ART}中?增加{_COUNT}款[，,]?作为{_PARAS}{_COLON}")
_RE_ADD_ITEM = re.compile(rf"^在?{_LAW}{_ART}(?:第({_N})款)?中?增加一项[，,]?作为第({_N})项{_COLON}")
_RE_ADD_ARTS = re.compile(rf"^在?{_LAW}{_ART}后增加({_COUNT})条[，,]?作为(.+?){_COLON}")
_RE_DELETE = re.compile(rf"^删去{_LAW}{_ART}(?:第({_N})款)?[。.]?$")
_RE_COMMENCE = re.compile(r"^本(?:修正案|决定)自.+?(?:施行|生效)[。.]?$")
_RE_RENUMBER_NOTE = re.compile(rf"^原第({_N})款作为第({_N})款[。.]?$")
# later instructions of the same item name no article: they continue with the article named first
_RE_CTX_REPLACE_PARA = re.compile(rf"^(?:原第({_N})款作为第({_N})款[，,]|第({_N})款)修改为{_COLON}")
_RE_CTX_ADD_PARA = re.compile(rf"^增加{_COUNT}款[，,]?作为{_PARAS}{_COLON}")
_RE_CTX_DELETE_PARA = re.compile(rf"^删去第({_N})款[。.]?$")
_RE_CLOSE = re.compile(r"(?<=[。；：！？）\w])[\"”]。?$")
_RE_TARGET = re.compile(_ART)


@dataclass
class Change:
    """One numbered change of an amendment, and what became of it."""

    amendment: str
    item: str  # the amendment's own number: 条目五 / 第五条
    instruction: str  # the wording up to the quoted text
    op: str  # replace_article / replace_paragraph / replace_item / insert_paragraph / add_articles / delete / commencement / unknown
    target: tuple[int, str] | None = None  # (number, suffix) in the base law
    paragraph: int | None = None
    paragraphs: list[int] = field(default_factory=list)  # several 款 at once (第一款、第二款修改为)
    item_no: int | None = None
    new_paragraphs: list[str] = field(default_factory=list)
    new_articles: list[tuple[int, str, str]] = field(default_factory=list)  # add_articles: (number, suffix, text)
    outcome: str = ""
    reason: str = ""

    @property
    def target_label(self) -> str:
        if not self.target:
            return ""
        from assistant.corpus.numerals import article_number_text

        label = article_number_text(*self.target)
        if len(self.paragraphs) > 1:
            label += "、".join(f"第{_cn(p)}款" for p in self.paragraphs)
        elif self.paragraph:
            label += f"第{_cn(self.paragraph)}款"
        if self.item_no:
            label += f"第{_cn(self.item_no)}项"
        return label

    def to_dict(self) -> dict:
        return {"amendment": self.amendment, "item": self.item, "op": self.op, "target": self.target_label,
                "instruction": self.instruction, "outcome": self.outcome, "reason": self.reason}


# -- parsing ------------------------------------------------------------------------------------------------
def base_law_name(amendment: str) -> str | None:
    """刑法修正案（十二） -> 中华人民共和国刑法; 关于修改《X》的决定 -> X; None when the title names no base."""
    m = re.search(r"关于修改《([^》]+)》的决定$", amendment)
    if m:
        return m.group(1)
    m = re.match(r"^(.+?)修正案(?:[（(][^）)]*[）)])?$", amendment)
    return m.group(1) if m else None


def _quoted(text: str) -> tuple[list[str], list[str]]:
    """The quoted new wording (one paragraph a line, each opened by a quote mark, the last one closed) and
    whatever follows it."""
    paras: list[str] = []
    rest: list[str] = []
    closed = False
    for raw in text.split("\n"):
        line = raw.strip()
        if closed:
            if line:
                rest.append(line)
            continue
        if not line:
            continue
        if line[0] in "\"“":
            line = line[1:]
        m = _RE_CLOSE.search(line)
        if m:
            line, closed = line[:m.start()], True
        paras.append(_full_width(line))
    return paras, rest


def _full_width(text: str) -> str:
    """The sources mix ASCII and full-width punctuation; statutes are printed full-width."""
    text = re.sub(r"(?<=[\u4e00-\u9fff]),(?=[\u4e00-\u9fff])", "，", text)  # not 1,000
    return text.replace(":", "：").replace(";", "；").replace("(", "（").replace(")", "）")


def _num(n: str) -> int:
    return cn_to_int(n.replace("两", "二"))


def _chunks(text: str) -> list[str]:
    """An item's instructions, each with its quoted wording: a line that is not inside a quote starts one."""
    chunks: list[list[str]] = []
    inside = False
    for raw in text.strip().split("\n"):
        line = raw.strip()
        if not line:
            continue
        if inside and chunks:
            chunks[-1].append(line)
            inside = not _RE_CLOSE.search(line)
            continue
        chunks.append([line])
        colon = re.search(_COLON, line)
        after = line[colon.end():].strip() if colon else ""
        inside = bool(colon) and (not after or (after[0] in "\"“" and not _RE_CLOSE.search(after)))
    return ["\n".join(c) for c in chunks]


def _paragraph_numbers(first: str, more: str) -> list[int]:
    nums = [_num(first)] + [_num(n) for n in re.findall(rf"第({_N})款", more or "")]
    if "至" in (more or "") and len(nums) == 2:
        nums = list(range(nums[0], nums[1] + 1))
    return nums


def parse_change(amendment: str, item: str, text: str) -> Change:
    """The first change of an amendment item (``parse_item`` gives all of them)."""
    return parse_item(amendment, item, text)[0]


def parse_item(amendment: str, item: str, text: str) -> list[Change]:
    """An amendment item -> its changes, in order. One that cannot be parsed is ``op="unknown"`` with the
    reason; later instructions of the item (增加一款作为第四款：…) continue with the article named first."""
    text = text.strip()
    if text.startswith("为了"):  # a single-item amendment opens with its purpose: 为了惩治…，将刑法第X条修改为
        m = re.search(r"[，,](?=将|在|删去|刑法|本法)", text)
        text = text[m.end():] if m else text
    changes: list[Change] = []
    target = None
    for n, chunk in enumerate(_chunks(text)):
        label = item if n == 0 else f"{item}({n + 1})"
        if n and _RE_RENUMBER_NOTE.match(chunk):
            continue  # 原第二款作为第三款。: follows from the insertion before it
        change = _parse_chunk(amendment, label, chunk, target)
        target = change.target or target
        changes.append(change)
    return changes or [Change(amendment, item, "", "unknown", reason="empty item")]


def _parse_chunk(amendment: str, item: str, first: str, context: tuple[int, str] | None) -> Change:
    colon = re.search(_COLON, first)
    instruction = first[:colon.end()] if colon else first.split("\n")[0]
    after = first[colon.end():] if colon else ""
    change = Change(amendment, item, instruction.strip(), "unknown")
    if _RE_COMMENCE.match(first):
        change.op = COMMENCEMENT
        return change
    m = _RE_DELETE.match(first)
    if m:
        change.op, change.target = "delete", (_num(m.group(1)), m.group(2) or "")
        change.paragraph = _num(m.group(3)) if m.group(3) else None
        return change
    m = _RE_CTX_DELETE_PARA.match(first)
    if m and context:
        change.op, change.target, change.paragraph = "delete", context, _num(m.group(1))
        return change
    matched = None
    for regex, op in ((_RE_REPLACE_ITEM, "replace_item"), (_RE_REPLACE_PARA, "replace_paragraph"),
                      (_RE_ADD_PARA_REWRITE, "replace_article"), (_RE_REPLACE_ART, "replace_article"),
                      (_RE_ADD_PARA, "insert_paragraph"), (_RE_ADD_ITEM, "insert_item"),
                      (_RE_ADD_ARTS, "add_articles")):
        m = regex.match(first)
        if m:
            matched = op
            change.op, change.target = op, (_num(m.group(1)), m.group(2) or "")
            if op in ("replace_item", "insert_item"):
                change.paragraph = _num(m.group(3)) if m.group(3) else None
                change.item_no = _num(m.group(4))
            elif op in ("replace_paragraph", "insert_paragraph"):
                change.paragraphs = _paragraph_numbers(m.group(3), m.group(4))
                change.paragraph = change.paragraphs[0]
            break
    if matched is None and context:
        m = _RE_CTX_REPLACE_PARA.match(first)
        if m:
            matched, change.target = "replace_paragraph", context
            change.op, change.paragraph = matched, _num(m.group(2) or m.group(3))
            change.paragraphs = [change.paragraph]
        m = None if matched else _RE_CTX_ADD_PARA.match(first)
        if m:
            matched, change.target = "insert_paragraph", context
            change.op, change.paragraphs = matched, _paragraph_numbers(m.group(1), m.group(2))
            change.paragraph = change.paragraphs[0]
    if matched is None:
        if re.search(r"改为第.+?条", first):
            return _unknown(change, "renumbers articles (改为第N条): not applied automatically")
        return _unknown(change, "instruction not understood")
    paras, rest = _quoted(after)
    if not paras:
        return _unknown(change, "no quoted new wording after the instruction")
    if rest:
        return _unknown(change, f"further instructions after the quoted text not understood: {rest[0][:40]}")
    change.new_paragraphs = paras
    if matched == "add_articles":
        m = _RE_ADD_ARTS.match(first)
        return _split_added(change, _num(m.group(3).replace("两", "二")), m.group(4))
    return change


def _unknown(change: Change, reason: str) -> Change:
    change.op, change.reason = "unknown", reason
    return change


def _split_added(change: Change, count: int, targets: str) -> Change:
    numbers = [(_num(n), s or "") for n, s in _RE_TARGET.findall(targets)]
    if len(numbers) != count:
        return _unknown(change, f"adds {count} article(s) but names {len(numbers)}")
    if count == 1:
        change.new_articles = [(*numbers[0], "\n".join(change.new_paragraphs))]
        return change
    # several new articles: each starts with its own number inside the quote
    arts: list[list[str]] = []
    for para in change.new_paragraphs:
        m = re.match(rf"^{_ART}[\s　]*(.*)$", para)
        if m and (_num(m.group(1)), m.group(2) or "") in numbers:
            arts.append([m.group(3)] if m.group(3) else [])
        elif arts:
            arts[-1].append(para)
        else:
            return _unknown(change, "the added articles' text does not start with their numbers")
    if len(arts) != count:
        return _unknown(change, f"adds {count} articles but the quoted text holds {len(arts)}")
    change.new_articles = [(n, s, "\n".join(lines)) for (n, s), lines in zip(numbers, arts)]
    return change


def parse_amendment(articles: list[Article]) -> list[Change]:
    return [c for a in articles for c in parse_item(a.law, a.number_text, a.text)]


# -- applying -----------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return re.sub(r"[\s\"“”'‘’]", "", _full_width(text))


def _paragraphs(text: str) -> list[str]:
    return Article(law="x", number=1, text=text).paragraphs


def apply_change(texts: dict[tuple[int, str], str], change: Change) -> str | None:
    """Apply one change to ``texts`` ((number, suffix) -> text) in place; the reason when it cannot be."""
    if change.op == COMMENCEMENT:
        return None
    if change.op == "unknown":
        return change.reason
    key = change.target
    if change.op == "add_articles":
        for number, suffix, text in change.new_articles:
            if (number, suffix) in texts and texts[(number, suffix)] != DELETED_TEXT:
                return f"{change.target_label}: article {number}{suffix} to add already exists"
            if (number, "") not in texts:
                return f"base article {number} of the article to add does not exist"
        for number, suffix, text in change.new_articles:
            texts[(number, suffix)] = text
        return None
    if key not in texts:
        return f"{change.target_label}: the base law has no such article"
    if change.op == "replace_article":
        texts[key] = "\n".join(change.new_paragraphs)
        return None
    if change.op == "delete" and change.paragraph is None:
        texts[key] = DELETED_TEXT
        return None
    paras = _paragraphs(texts[key])
    new_paras = _paragraphs("\n".join(change.new_paragraphs))
    if change.op in ("replace_item", "insert_item"):
        error = _change_item(paras, change)
        if error:
            return error
    elif change.op == "insert_paragraph":
        p = change.paragraph - 1
        if not 0 <= p <= len(paras):
            return f"{change.target_label}: the article has {len(paras)} paragraph(s)"
        if len(new_paras) != len(change.paragraphs):
            return f"{change.target_label}: {len(change.paragraphs)} paragraph(s) to add but {len(new_paras)} given"
        paras[p:p] = new_paras
    else:
        targets = change.paragraphs or [change.paragraph]
        if not all(1 <= t <= len(paras) for t in targets):
            return f"{change.target_label}: the article has {len(paras)} paragraph(s)"
        if change.op == "delete":
            del paras[targets[0] - 1]
        else:  # replace_paragraph
            if len(new_paras) != len(targets):
                return f"{change.target_label}: {len(targets)} paragraph(s) to replace but {len(new_paras)} given"
            for t, text in zip(targets, new_paras):
                paras[t - 1] = text
    texts[key] = "\n".join(paras)
    return None


_ITEM_LINE = re.compile(r"^[（(]([一二三四五六七八九十]+)[)）]")


def _change_item(paras: list[str], change: Change) -> str | None:
    """Replace or insert a 项 (items after an inserted one are renumbered, as the amendment implies)."""
    if change.paragraph is None:  # 第X条第三项: the one paragraph of the article that has items
        with_items = [i for i, para in enumerate(paras) if any(_ITEM_LINE.match(x) for x in para.split("\n")[1:])]
        if len(with_items) != 1:
            return f"{change.target_label}: {len(with_items)} paragraphs have items; which one is meant is unclear"
        p = with_items[0]
    else:
        p = change.paragraph - 1
        if not 0 <= p < len(paras):
            return f"{change.target_label}: the article has {len(paras)} paragraph(s)"
    lines = paras[p].split("\n")
    items = [i for i, ln in enumerate(lines) if i and _ITEM_LINE.match(ln)]
    n = (change.item_no or 0) - 1
    new = [x for x in change.new_paragraphs if x]
    if change.op == "replace_item":
        if not 0 <= n < len(items):
            return f"{change.target_label}: the paragraph has {len(items)} item(s)"
        lines[items[n]:items[n] + 1] = new
    else:
        if not 0 <= n <= len(items):
            return f"{change.target_label}: the paragraph has {len(items)} item(s)"
        at = items[n] if n < len(items) else (items[-1] + 1 if items else len(lines))
        lines[at:at] = new
        k = 0
        for i, ln in enumerate(lines):
            if i and _ITEM_LINE.match(ln):
                k += 1
                lines[i] = _ITEM_LINE.sub(f"（{_cn(k)}）", ln, count=1)
    paras[p] = "\n".join(lines)
    return None


def _cn(n: int | None) -> str:
    from assistant.corpus.numerals import int_to_cn

    return int_to_cn(n or 0)


def wording_in(texts: dict[tuple[int, str], str], change: Change) -> bool:
    """Does the text hold exactly what the change says (checked against the amendment's own wording)?"""
    if change.op == "add_articles":
        return all(_norm(texts.get((n, s), "")) == _norm(t) for n, s, t in change.new_articles)
    text = texts.get(change.target) if change.target else None
    if text is None:
        return False
    if change.op == "delete":
        # a deleted paragraph leaves no wording to compare: the article must at least still exist
        return text == DELETED_TEXT if change.paragraph is None else True
    if change.op == "replace_article":
        return _norm(text) == _norm("\n".join(change.new_paragraphs))
    return _norm("\n".join(change.new_paragraphs)) in _norm(text)


# -- consolidating a law ------------------------------------------------------------------------------------
@dataclass
class AmendmentInfo:
    law: str
    date: str  # promulgated / version date
    effective: str | None
    changes: list[Change]


@dataclass
class Consolidation:
    base: str
    amendments: list[AmendmentInfo]  # every amendment of the base, oldest first
    pending: list[str]  # amendments newer than the stored base text
    applied: list[str] = field(default_factory=list)
    document: LawDocument | None = None  # the consolidated law to import (None: nothing to do / not possible)
    note: str = ""

    @property
    def changes(self) -> list[Change]:
        return [c for a in self.amendments for c in a.changes]


def amendments_by_base(store) -> dict[str, list[AmendmentInfo]]:
    """Amendments (修正案 / 关于修改…的决定) in the store, grouped by the base law they amend, oldest first."""
    resolver = store.resolver()
    out: dict[str, list[AmendmentInfo]] = {}
    for info in store.laws():
        if info.kind not in (AMENDMENT, DECISION) and "修正案" not in info.law:
            continue
        base = base_law_name(info.law)
        full = resolver.try_resolve(base) if base else None
        if not full or full == info.law:
            continue
        date = info.version_date or info.promulgated or ""
        arts = list(store.articles(info.law))
        out.setdefault(full, []).append(AmendmentInfo(info.law, date, info.effective, parse_amendment(arts)))
    for v in out.values():
        v.sort(key=lambda a: a.date)
    return out


def plan(store, base: str, amendments: list[AmendmentInfo]) -> Consolidation:
    """What consolidating ``base`` would do, with every change's outcome (changes nothing)."""
    info = store.law(base)
    stored = {(a.number, a.suffix): a for a in store.articles(base)}
    texts = {k: a.text for k, a in stored.items()}
    base_date = info.version_date or info.promulgated or "" if info else ""
    pending = [a for a in amendments if a.date > base_date]
    result = Consolidation(base, amendments, [a.law for a in pending])
    changed_by: dict[tuple[int, str], list[tuple[str, str]]] = {}  # target -> [(amendment, date)] in order
    for a in amendments:
        for c in a.changes:
            for key in ([(n, s) for n, s, _ in c.new_articles] if c.op == "add_articles" else [c.target]):
                if key:
                    changed_by.setdefault(key, []).append((a.law, a.date))
    # changes already in the stored text (amendments up to the base version)
    for a in amendments:
        if a in pending:
            continue
        for c in a.changes:
            _audit_old(c, a, texts, changed_by)
    # pending amendments: apply in order, each only whole
    new_dates: dict[tuple[int, str], AmendmentInfo] = {}
    blocked = None
    for a in pending:
        if blocked:
            for c in a.changes:
                c.outcome, c.reason = NOT_APPLIED, f"waits for {blocked}, which could not be applied"
            continue
        trial = dict(texts)
        failures = [(c, apply_change(trial, c)) for c in a.changes]
        failures = [(c, r) for c, r in failures if r]
        if failures:
            blocked = a.law
            for c in a.changes:
                reason = next((r for fc, r in failures if fc is c), None)
                c.outcome = NOT_APPLIED
                c.reason = reason or f"the amendment is applied whole or not at all; failed: " \
                                     f"{failures[0][0].item} ({failures[0][1]})"
            continue
        for c in a.changes:
            if c.op == COMMENCEMENT:
                c.outcome = COMMENCEMENT
                continue
            ok = wording_in(trial, c)
            c.outcome, c.reason = (APPLIED, "") if ok else (NOT_APPLIED, "the consolidated text does not hold "
                                                                        "the amendment's wording")
            for key in ([(n, s) for n, s, _ in c.new_articles] if c.op == "add_articles" else [c.target]):
                new_dates[key] = a
        if any(c.outcome == NOT_APPLIED for c in a.changes):
            blocked = a.law
            continue
        texts = trial
        result.applied.append(a.law)
    if result.applied and info is not None:
        result.document = _consolidated_document(store, info, stored, texts, new_dates,
                                                 [a for a in pending if a.law in result.applied])
        result.note = "经" + "、".join(f"《{x}》" for x in result.applied) + "修正"
    return result


def _later_change(c: Change, a: AmendmentInfo, changed_by) -> bool:
    key = c.target if c.op != "add_articles" else (c.new_articles[0][:2] if c.new_articles else None)
    later = [law for law, date in changed_by.get(key, []) if date > a.date]
    return bool(later)


def _audit_old(c: Change, a: AmendmentInfo, texts, changed_by) -> None:
    if c.op == COMMENCEMENT:
        c.outcome = COMMENCEMENT
    elif c.op == "unknown":
        c.outcome = NOT_CHECKED
    elif wording_in(texts, c):
        c.outcome = IN_TEXT
    elif _later_change(c, a, changed_by):
        key = c.target if c.op != "add_articles" else c.new_articles[0][:2]
        later = [law for law, date in changed_by.get(key, []) if date > a.date]
        c.outcome, c.reason = SUPERSEDED, f"changed again by {later[-1]}"
    else:
        c.outcome, c.reason = NOT_CHECKED, "the stored base text differs from the amendment's wording"


def _consolidated_document(store, info, stored: dict, texts: dict, new_dates: dict,
                           applied: list[AmendmentInfo]) -> LawDocument:
    last = applied[-1]
    arts: list[Article] = []
    pos = 0
    order = sorted(texts, key=lambda k: (stored[k].position if k in stored else
                                         stored[(k[0], "")].position + 0.5 + _suffix_rank(k[1]) / 100))
    for key in order:
        old = stored.get(key)
        amended_by = new_dates.get(key)
        if old is not None and amended_by is None:
            arts.append(dataclasses.replace(old, position=pos))
        else:
            template = old or stored[(key[0], "")]
            arts.append(dataclasses.replace(
                template, number=key[0], suffix=key[1], number_text="" if old is None else old.number_text,
                text=texts[key], status=STATUS_CURRENT, promulgated=amended_by.date, effective=amended_by.effective,
                version_date=amended_by.date, position=pos))
        pos += 1
    # unchanged articles keep their text and dates; ArticleStore.import_consolidated sets their status
    law_info = dataclasses.replace(info, status=STATUS_CURRENT, promulgated=last.date, effective=last.effective,
                                   version_date=last.date, articles=0)
    return LawDocument(law_info, arts)


def _suffix_rank(suffix: str) -> int:
    return cn_to_int(suffix[1:]) if suffix else 0


def consolidate(store, *, dry_run: bool = False) -> list[Consolidation]:
    """Apply every pending amendment in the store to its base law (``dry_run``: only report)."""
    results = []
    for base, amendments in sorted(amendments_by_base(store).items()):
        result = plan(store, base, amendments)
        if result.document is not None and not dry_run:
            store.import_consolidated(result.document, result.note)
        results.append(result)
    return results
