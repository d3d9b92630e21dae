"""A law's and an article's status on a given day, derived from dates and stored history.

The status a source prints (``laws.status``, ``articles.status``) is kept as provenance: it says what the
source believed when it was written. What a user reads is computed for the day asked (today by default):

* 尚未施行（2027-01-01起施行） — the day is before the text's commencement and no earlier version is stored;
* 现行有效 — the text is the one in force that day;
* 已被修改 — the text was in force but a later version replaced it before that day (or the source marks the
  law amended with the amendment not merged into this text);
* 已废止 — the source marks it repealed (repeal dates are not recorded, so repealed is repealed on any day).

A text's commencement is ``versions.text_start`` (its own 施行 date, else its version date). History rows
(``article_versions``) carry the day they came into force and the day their successor did, so the text in
force on any day is the latest version that had started by then.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass

from assistant.corpus.article import (STATUS_AMENDED, STATUS_CURRENT, STATUS_HISTORICAL, STATUS_NOT_YET,
                                      STATUS_REPEALED, Article)
from assistant.corpus.versions import VersionInForce, parse_day, text_start, versions_of

#: the computed status of a text whose commencement is after the day asked
STATUS_NOT_IN_FORCE_YET = "尚未施行"

#: computed status -> the machine name the checker and the API use
STATUS_KEYS = {STATUS_CURRENT: "current", STATUS_AMENDED: "amended", STATUS_NOT_IN_FORCE_YET: "not_yet_in_force",
               STATUS_REPEALED: "repealed", STATUS_HISTORICAL: "historical"}
#: statuses a status filter accepts (with the source's 尚未生效 read as 尚未施行)
FILTER_STATUSES = (STATUS_CURRENT, STATUS_AMENDED, STATUS_NOT_IN_FORCE_YET, STATUS_REPEALED)


def today() -> str:
    return _dt.date.today().isoformat()


def day_or_today(day: str | None) -> str:
    """``None`` -> today; anything else parsed (ValueError names a bad date)."""
    return today() if not day else parse_day(day)


@dataclass(frozen=True)
class DayStatus:
    status: str  # 现行有效 / 已被修改 / 已废止 / 尚未施行 / 历史版本
    day: str
    start: str | None = None  # when the text came (or comes) into force
    end: str | None = None  # when a later text replaced it
    source_status: str | None = None  # what the source says (provenance)
    upcoming: str | None = None  # a newer stored version starts on this day (after ``day``)

    @property
    def label(self) -> str:
        if self.status == STATUS_NOT_IN_FORCE_YET and self.start:
            return f"{STATUS_NOT_IN_FORCE_YET}（{self.start}起施行）"
        return self.status

    @property
    def key(self) -> str:
        return STATUS_KEYS.get(self.status, self.status)

    @property
    def in_force(self) -> bool:
        return self.status in (STATUS_CURRENT, STATUS_AMENDED)

    @property
    def not_yet(self) -> bool:
        return self.status == STATUS_NOT_IN_FORCE_YET

    def to_dict(self) -> dict:
        return {"status": self.status, "label": self.label, "key": self.key, "as_of": self.day, "start": self.start,
                "end": self.end, "source_status": self.source_status, "upcoming": self.upcoming}


def _is_date(value: str | None) -> bool:
    return bool(value) and value[:1].isdigit()


def status_on(source_status: str | None, start: str | None, end: str | None, day: str) -> DayStatus:
    """The status of one stored text on ``day`` from its dates; ``source_status`` only for what dates cannot
    tell (repealed, a historical copy, an amendment not merged)."""
    source = source_status or STATUS_CURRENT
    if source == STATUS_REPEALED:
        return DayStatus(STATUS_REPEALED, day, start, end, source)
    if start and start[:10] > day:  # a year-only start (2019) compares as the year's first day
        return DayStatus(STATUS_NOT_IN_FORCE_YET, day, start, end, source)
    if _is_date(end) and end[:10] <= day:
        return DayStatus(STATUS_AMENDED, day, start, end, source)
    if source == STATUS_HISTORICAL:
        return DayStatus(STATUS_HISTORICAL, day, start, end, source)
    return DayStatus(STATUS_AMENDED if source == STATUS_AMENDED else STATUS_CURRENT, day, start, end, source)


def version_on(versions: list[VersionInForce], day: str) -> VersionInForce | None:
    """The version in force on ``day`` (the latest that had started), None when every one starts later."""
    for v in reversed(versions):
        if v.start is None or v.start[:10] <= day:
            return v
    return None


@dataclass(frozen=True)
class ArticleOnDay:
    article: Article  # the stored (newest) article
    status: DayStatus  # the status of what the number says that day (the text in force, or 尚未施行)
    version: VersionInForce | None  # the text in force that day (None: none yet)
    stored: DayStatus | None = None  # the status of the stored newest text that day

    @property
    def text(self) -> str:
        return self.version.text if self.version is not None else self.article.text

    @property
    def substituted(self) -> bool:
        """The text in force that day is an older stored version, not the newest text."""
        return self.version is not None and not self.version.current


def article_status(store, article: Article, day: str | None = None, *, has_history: bool = True) -> ArticleOnDay:
    """The article on ``day`` (today by default): its status and the text in force then. ``has_history=False``
    (the caller knows no older version is stored) saves the history lookup."""
    day = day_or_today(day)
    if not has_history:
        start = text_start(article.effective, article.version_date, article.promulgated)
        st = status_on(article.status, start, None, day)
        current = VersionInForce(article.id, article.text, start, None, True, article.status)
        return ArticleOnDay(article, st, None if st.not_yet else current, st)
    versions = versions_of(store, article)
    v = version_on(versions, day)
    newest = versions[-1]
    stored = status_on(article.status, newest.start, None, day)
    if v is None:
        first = next((x for x in versions if x.start), newest)
        return ArticleOnDay(article, status_on(article.status, first.start, None, day), None, stored)
    upcoming = newest.start if (not v.current and newest.start and newest.start[:10] > day) else None
    st = status_on(v.status if not v.current else article.status, v.start, v.end if not v.current else None, day)
    if upcoming:
        # the stored newest text has not started: the older text is the law in force, whatever the copy says
        st = DayStatus(STATUS_AMENDED if article.status == STATUS_AMENDED else STATUS_CURRENT, day, v.start, None,
                       v.status, upcoming=upcoming)
    return ArticleOnDay(article, st, v, stored)


def _annotated(article: Article, on: ArticleOnDay, **more) -> Article:
    extra = dict(article.extra)
    extra.update(as_of=on.status.day, status_label=on.status.label, source_status=article.status,
                 effective_from=on.status.start, upcoming=on.status.upcoming, substituted=on.substituted, **more)
    return dataclasses.replace(article, text=on.text, status=on.status.status, extra=extra)


def article_on(store, article: Article, day: str | None = None, *, has_history: bool = True) -> Article:
    """The article as it reads on ``day``: the text in force then, ``status`` the computed one, and in
    ``extra`` the status label, the source's status, the text's start and any upcoming version's start."""
    return _annotated(article, article_status(store, article, day, has_history=has_history))


def _bigrams(text: str) -> set[str]:
    import re

    return {run[i:i + 2] for run in re.findall(r"[\u4e00-\u9fff]+", text) for i in range(len(run) - 1)}


def _similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


#: an older article counts as the same provision as a renumbered new one at this bigram overlap
SAME_PROVISION = 0.6


def with_history(store, ids) -> set[str]:
    """Which of these article ids have an older version stored (one query)."""
    ids = list(dict.fromkeys(ids))
    if not ids or not hasattr(store, "_query"):
        return set(ids)
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        q = ",".join("?" * len(chunk))
        out |= {r[0] for r in store._query(f"SELECT DISTINCT id FROM article_versions WHERE id IN ({q})", chunk)}
    return out


_IN_FORCE_CACHE: dict = {}


def _history_in_force(store, law: str, day: str) -> list:
    """(history row, its bigrams) of ``law``'s superseded texts in force on ``day`` (cached per store state)."""
    from assistant.corpus.versions import text_start

    version = store._data_version() if hasattr(store, "_data_version") else None
    key = (id(store), version, law, day)
    found = _IN_FORCE_CACHE.get(key)
    if found is None:
        found = []
        for h in store.law_history(law):
            start, end = text_start(h["effective"], h["version_date"]), h["replaced_from"] or h["superseded_by"]
            if (start and start[:10] > day) or not (_is_date(end) and end[:10] > day):
                continue
            found.append((h, _bigrams(h["text"])))
        if len(_IN_FORCE_CACHE) > 64:
            _IN_FORCE_CACHE.clear()
        _IN_FORCE_CACHE[key] = found
    return found


def older_counterpart(store, article: Article, day: str) -> Article | None:
    """For a stored text not yet in force on ``day`` (a revision that renumbered its law): the article of the
    version in force that day that says the same (商标法 2019 第三十九条 for the 2027 第四十三条), or None."""
    from assistant.corpus.versions import text_start

    grams = _bigrams(article.text)
    best, best_score = None, SAME_PROVISION
    for h, h_grams in _history_in_force(store, article.law, day):
        score = _similarity(grams, h_grams)
        if score > best_score or (score == best_score and best is not None and h["id"] == article.id):
            best, best_score = h, score
    if best is None:
        return None
    start = text_start(best["effective"], best["version_date"])
    return Article(law=article.law, number=best["number"], suffix=best["suffix"], text=best["text"],
                   law_short=article.law_short, number_text=best["number_text"], part=best["part"],
                   chapter=best["chapter"], section=best["section"], status=STATUS_CURRENT,
                   effective=start, version_date=best["version_date"], source=best["source"], kind=article.kind,
                   extra={"as_of": day, "status_label": STATUS_CURRENT, "source_status": best["status"],
                          "effective_from": start, "upcoming": text_start(article.effective, article.version_date,
                                                                           article.promulgated),
                          "substituted": True, "renumbered_as": article.id, "renumbered_label": article.label})


def article_for_day(store, article: Article, day: str | None = None, *, has_history: bool = True) -> Article:
    """What a search hit or a source reads on ``day``: the text in force then under the same provision.

    A stored text in force that day is returned as it is (status computed). A stored text not yet in force,
    in a law whose older version is stored, becomes the older article that says the same (a renumbered
    provision), else the older text under the same number when it is about the same thing; otherwise the
    new text is kept, with status 尚未施行（…起施行）, so that an answer can say that only the new law is stored.
    """
    day = day_or_today(day)
    on = article_status(store, article, day, has_history=has_history)
    if not on.substituted:
        if on.status.not_yet:
            # a number the older version did not have (the revision added articles before it, 商标法 2027
            # 第八十七条 was 2019 第七十三条): the provision in force under its older number, when one says the same
            counterpart = older_counterpart(store, article, day)
            if counterpart is not None:
                return counterpart
        return _annotated(article, on)
    if _similarity(_bigrams(on.text), _bigrams(article.text)) >= SAME_PROVISION:
        return _annotated(article, on)
    counterpart = older_counterpart(store, article, day)
    if counterpart is not None:
        return counterpart
    if _similarity(_bigrams(on.text), _bigrams(article.text)) >= 0.3:
        return _annotated(article, on)
    return _annotated(article, ArticleOnDay(article, on.stored or on.status, None, on.stored),
                      older_text_differs=True)


def law_status(store, info, day: str | None = None) -> DayStatus:
    """A law's status on ``day`` from its newest version's dates and the older versions stored for it."""
    day = day_or_today(day)
    start = text_start(info.effective, info.version_date, info.promulgated)
    st = status_on(info.status, start, None, day)
    if st.not_yet:
        older = store.earliest_version_start(info.law) if hasattr(store, "earliest_version_start") else None
        if older and older[:10] <= day:
            return DayStatus(STATUS_CURRENT, day, older, None, info.status, upcoming=start)
    return st


def is_status_word(value: str) -> bool:
    return value in FILTER_STATUSES or value == STATUS_NOT_YET


def wanted_statuses(value) -> set[str] | None:
    """``"现行有效"``, ``"尚未施行,现行有效"``, a list, or machine names (current, not_yet_in_force …) -> a set
    of computed statuses; unknown names raise ValueError."""
    if not value:
        return None
    names = value.replace("，", ",").split(",") if isinstance(value, str) else list(value)
    by_key = {v: k for k, v in STATUS_KEYS.items()}
    out = set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name.startswith(STATUS_NOT_IN_FORCE_YET) or name in (STATUS_NOT_YET, "not_yet_effective"):
            name = STATUS_NOT_IN_FORCE_YET
        name = by_key.get(name, name)
        if name not in FILTER_STATUSES:
            raise ValueError(f"unknown status {raw!r}; statuses are: {'、'.join(FILTER_STATUSES)}")
        out.add(name)
    return out or None
