"""Versions of an article in time: which text was in force on a given day, and each version's own dates.

A stored text carries the dates of the version it came from (``promulgated``, ``effective``,
``version_date``). The default corpus gives a revised law the *original* commencement date as
``effective`` (劳动合同法: version 2012-12-28, effective 2008-01-01); such an effective date that precedes
the version is the first version's, and this version's text is taken to apply from its own version date.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from assistant.corpus.article import Article


def text_start(effective: str | None, version_date: str | None, promulgated: str | None = None) -> str | None:
    """The day a version's text came into force, as well as the stored dates tell."""
    if effective and (not version_date or effective >= version_date):
        return effective
    return version_date or promulgated or effective


def version_dates(promulgated: str | None, effective: str | None, version_date: str | None) -> list[tuple[str, str]]:
    """Labelled dates of one version: [("公布", …), ("施行", …)], or for a revised version whose stored
    effective date is the original law's: [("本版本", version date), ("原法施行", first commencement)]."""
    if effective and version_date and effective < version_date:
        return [("本版本", version_date), ("原法施行", effective)]
    out = []
    if promulgated or version_date:
        out.append(("公布", promulgated or version_date))
    if effective:
        out.append(("施行", effective))
    return out


def format_dates(promulgated: str | None, effective: str | None, version_date: str | None) -> str:
    return " · ".join(f"{k} {v}" for k, v in version_dates(promulgated, effective, version_date))


def parse_day(text: str) -> str:
    """2022-01-01 / 2022/1/1 / 2022年1月1日 -> 2022-01-01 (ValueError names the bad input)."""
    m = re.fullmatch(r"\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*", text or "")
    if not m:
        raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)")
    return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()


@dataclass
class VersionInForce:
    article_id: str
    text: str
    start: str | None  # the day this text came into force (None: unknown)
    end: str | None  # the day it was replaced (None: still in force)
    current: bool  # is this the stored current text
    status: str


class NoVersionOnDate(LookupError):
    pass


def versions_of(store, article: Article) -> list[VersionInForce]:
    """Every known text of an article, oldest first, with the days it was in force."""
    out: list[VersionInForce] = []
    history = store.history(article.id)
    for h in history:
        start = text_start(h.effective, h.version_date)
        out.append(VersionInForce(article.id, h.text, start, h.replaced_from or h.superseded_by, False, h.status))
    # an older version imported after a newer one (a collection's 2019 text behind a stored 2026 revision)
    # sits later in the table: order by the day each text started
    out.sort(key=lambda v: v.start or "")
    out.append(VersionInForce(article.id, article.text,
                              text_start(article.effective, article.version_date, article.promulgated), None, True,
                              article.status))
    return out


def text_on(store, article: Article, day: str) -> VersionInForce:
    """The text of ``article`` in force on ``day`` (ISO date); ``NoVersionOnDate`` says why there is none."""
    day = parse_day(day)
    versions = versions_of(store, article)
    for v in reversed(versions):
        if v.start is None or v.start[:10] <= day:
            return v
    first = next((v.start for v in versions if v.start), None)
    raise NoVersionOnDate(f"{article.short_label}: no text in force on {day} is stored "
                          f"(the earliest stored version applies from {first})")
