"""Checks of a generated answer beyond its citations: every number that states a period, age, multiple,
amount, share or count (三十日, 6个月, 三倍, 五千元, 百分之五十, 2万元) must appear in an article the answer
cites (or, when it cites none, in an article it was given). A 1.5B model was seen inventing fine amounts;
this is what catches them. Chinese and Arabic numerals are compared by value (三十日 = 30天).

    flags = check_facts(answer_text, cited_articles, context_articles)   # list[FactFlag]
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from assistant.corpus.numerals import cn_to_int

_DIGITS = "0-9０-９"
_CN = "零〇一二两三四五六七八九十百千万亿"
_NUMBER = rf"(?:[{_DIGITS}]+(?:\.[{_DIGITS}]+)?|[{_CN}]+)"
#: unit words and the class they measure; 天 and 日 are the same period, 个月 and 月 too
_UNITS = {"日": "day", "天": "day", "工作日": "workday", "个工作日": "workday", "小时": "hour", "周": "week",
          "个月": "month", "月": "month", "年": "year", "周岁": "age", "岁": "age", "倍": "multiple",
          "元": "yuan", "万元": "yuan", "亿元": "yuan", "人": "person", "名": "person", "个": "count",
          "%": "percent", "％": "percent"}
_UNIT_RE = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_QUANTITY = re.compile(rf"(百分之)?({_NUMBER})\s*({_UNIT_RE})?")
#: numbers that are part of a citation or a date, not a stated fact
_SKIP_BEFORE = re.compile(r"第\s*$")
_SKIP_AFTER = re.compile(r"^\s*(?:条|款|项|章|节|编|号|届|次会议|年\d{1,2}月|年[一二三四五六七八九十]{1,3}月)")


@dataclass
class FactFlag:
    text: str  # as written in the answer
    value: float
    unit: str  # day / month / year / age / multiple / yuan / percent / person / count ...
    start: int
    end: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "value": self.value, "unit": self.unit, "start": self.start, "end": self.end,
                "reason": self.reason}


def _value(number: str) -> float | None:
    s = number.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    try:
        return float(s) if re.fullmatch(r"[0-9.]+", s) else float(cn_to_int(s))
    except ValueError:
        return None


def quantities(text: str) -> list[tuple[str, float, str, int, int]]:
    """(text, value, unit class, start, end) for each number with a unit (or 百分之) in ``text``.
    Numbers without a unit and article numbers (第三十条) are not facts this check can compare."""
    out = []
    for m in _QUANTITY.finditer(text or ""):
        percent, number, unit = m.group(1), m.group(2), m.group(3)
        if not percent and not unit:
            continue
        if m.start() and text[m.start() - 1] in "年月" and not percent:  # 2021年1月1日: a date
            continue
        if _SKIP_BEFORE.search(text[max(0, m.start() - 2):m.start()]) or _SKIP_AFTER.match(text[m.end() - len(unit or ""):]
                                                                                             if unit else text[m.end():]):
            continue
        value = _value(number)
        if value is None:
            continue
        if unit == "万元":
            value *= 10_000
        elif unit == "亿元":
            value *= 100_000_000
        kind = "percent" if percent else _UNITS[unit]
        if kind == "count" and value <= 1:  # 一个, 每个: not a stated quantity
            continue
        out.append((m.group(0), value, kind, m.start(), m.end()))
    return out


def _known(articles: Iterable) -> set[tuple[float, str]]:
    known = set()
    for art in articles:
        text = getattr(art, "text", art)
        for _, value, kind, _, _ in quantities(text):
            known.add((value, kind))  # 三十日 is not 三十个工作日: a different period, flagged
    return known


def check_facts(answer: str, cited: Iterable, context: Iterable | None = None,
                question: str = "") -> list[FactFlag]:
    """Numbers in ``answer`` that no cited article (``cited``: articles or texts) states. When the answer
    cites nothing, the articles it was given (``context``) are the reference instead. Numbers the user's
    ``question`` states (我有两个孩子) are facts of the case, not claims about the law: never flagged."""
    cited = list(cited)
    reference = cited if cited else list(context or [])
    where = "所引用的法条" if cited else "提供给模型的法条"
    known = _known(reference + [question])
    flags = []
    for text, value, kind, start, end in quantities(answer):
        if (value, kind) in known:
            continue
        flags.append(FactFlag(text, value, kind, start, end,
                              f"“{text}”在{where}中没有出现，可能是模型编造的数字，请以法条原文为准"))
    return flags


def answer_flags(answer_text: str, citations, sources, question: str = "") -> list[FactFlag]:
    """The pipeline's call: cited articles are the verified / in-context citations' articles."""
    by_id = {h.id: h.article for h in sources}
    cited = [by_id[c.citation.id] for c in citations if c.citation.id in by_id]
    return check_facts(answer_text, cited, [h.article for h in sources], question)
