"""The general rule that governs a matter, for a question no retrieved 款 decides.

When the clause model judges that the retrieved articles are silent on the question (房东不退押金: no article
speaks of 押金), the answer says so and quotes the nearest general rule instead of a special rule about
something else. The general rule is found from the statutes' own structure, never from a table of questions
or articles: the nearest retrieved rule sits in a 编 / 分编 / 章 of its law; the nearest enclosing unit that
has a general part (a sub-unit titled 通则, 总则 or 一般规定: 合同编's 第一分编 通则, 侵权责任编's 第一章 一般
规定, a law's 第一章 总则) is searched with the same question, and of what that search finds the first
article that opens its chapter is taken (a code's chapter states its general rule first: 违约责任 opens with
当事人一方不履行合同义务……应当承担……违约责任, 合同的履行 with 当事人应当按照约定全面履行自己的义务), unless
it only states a scope (本编调整……) or does not state the kind of answer asked for (a period, a penalty …).
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

#: a heading unit: 第三编 合同 / 第一分编 通则 / 第八章 违约责任
_UNIT = re.compile(r"第[一二三四五六七八九十百零〇0-9]+(?:分编|编|章)\s*[^第\s]+")
#: the title of a general part
GENERAL_TITLE = re.compile(r"(?:通则|总则|一般规定)$")
#: general-part articles retrieval offers before the first chapter opener among them is taken
SEARCHED = 8
#: an article that states what its unit governs or why the law is made (本编调整……, 为了……制定本法,
#: ……适用本法) opens many a chapter but decides nothing
SCOPE = re.compile(r"^(?:本(?:编|分编|章|法|条例|规定)调整|为了?[^。]{2,120}?制定本|[^。]{0,60}?适用本(?:法|编|章|条例|规定)[。；])")


def heading_units(part: str | None, chapter: str | None) -> list[str]:
    """An article's place as units, widest first: 第三编 合同, 第一分编 通则, 第八章 违约责任."""
    return [" ".join(m.group(0).split()) for m in _UNIT.finditer(" ".join(h for h in (part, chapter) if h))]


def _title(unit: str) -> str:
    """第一分编 通则 -> 通则"""
    return re.sub(r"^第[^编章]+(?:分编|编|章)\s*", "", unit)


def general_part(path: list[str], paths: Sequence[list[str]]) -> tuple[str, ...] | None:
    """The units of the nearest general part enclosing ``path`` (an article's ``heading_units``), among the
    units the law has (``paths``, one per article): going out from the article's own unit, the first parent
    with a sub-unit titled 通则 / 总则 / 一般规定 that is not the article's own. None: the law has none."""
    for depth in range(len(path) - 1, -1, -1):
        parent = tuple(path[:depth])
        if GENERAL_TITLE.search(_title(path[depth])):
            continue  # the article already sits in this level's general part: look one level out
        for p in paths:
            if len(p) > depth and tuple(p[:depth]) == parent and GENERAL_TITLE.search(_title(p[depth])):
                return (*parent, p[depth])
    return None


class GeneralRules:
    """``GeneralRules(retriever, store).find(query, lead_article, selector, search) -> Clause | None``."""

    def __init__(self, retriever, store=None):
        self.retriever = retriever
        self.store = store or getattr(retriever, "store", None)
        self._laws: dict[str, tuple[np.ndarray, list[list[str]], list[tuple[int, str]]]] = {}

    def _law(self, law: str):
        """(the law's index rows, their heading units, their article numbers), read once per law."""
        if law not in self._laws:
            from assistant.corpus.article import split_article_id

            index = self.retriever.index
            rows = np.flatnonzero(index.laws == law)
            paths = [heading_units(index.parts[r], index.chapters[r]) for r in rows]
            numbers = []
            for r in rows:
                try:
                    _, n, suffix = split_article_id(index.ids[r])
                except ValueError:
                    n, suffix = 10**9, ""
                numbers.append((n, suffix))
            self._laws[law] = (rows, paths, numbers)
        return self._laws[law]

    def part_rows(self, article) -> tuple[np.ndarray, dict[str, bool]] | None:
        """(the index rows of the nearest general part enclosing ``article``, and for each of their ids whether
        it opens its chapter), or None when its law has no general part that encloses it."""
        rows, paths, numbers = self._law(article.law)
        if not len(rows):
            return None
        unit = general_part(heading_units(article.part, article.chapter), paths)
        if unit is None:
            return None
        inside = [i for i, p in enumerate(paths) if tuple(p[:len(unit)]) == unit]
        first: dict[tuple[str, ...], tuple[int, str]] = {}
        for i in inside:
            key = tuple(paths[i])
            first[key] = min(first.get(key, numbers[i]), numbers[i])
        ids = self.retriever.index.ids
        opens = {ids[rows[i]]: numbers[i] == first[tuple(paths[i])] for i in inside}
        mask = np.zeros(len(ids), dtype=bool)
        mask[rows[inside]] = True
        return mask, opens

    def find(self, query, article, selector, search: dict):
        """The general rule for ``query`` (a ``Query``) in the general part enclosing ``article`` (the nearest
        retrieved rule), as the selector's best 款 of the first article search finds there that opens its
        chapter, is no scope article (``SCOPE``) and states the kind of fact the question asks for
        (``select.CLAUSE_FACTS``); None when there is no general part or no such article."""
        found = self.part_rows(article) if self.store is not None else None
        if found is None:
            return None
        part, opens = found
        retriever = self.retriever
        allowed = retriever.allowed_rows(article.law, search.get("include_repealed", False)) & part
        ranked = retriever.rank(query.statute_text, allowed, route=False, k=SEARCHED)
        from assistant.answer.select import CLAUSE_FACTS
        from assistant.search.types import Hit

        fact = CLAUSE_FACTS.get(query.qtype) if query.qtype else None
        articles = self.store.get_many([doc_id for doc_id, _, _ in ranked if opens.get(doc_id)])
        for doc_id, _, _ in ranked:
            art = articles.get(doc_id)
            if art is None or SCOPE.match(art.text):
                continue
            selection = selector.select(query, [Hit(art, 0.0, 1, "general")], top_k=1)
            # it must state the kind of answer asked for: a period for 多久, a penalty for 怎么处罚, who bears
            # it for 谁 (a family's general duties do not answer how long the cooling-off period is)
            if selection.clauses and (fact is None or fact.search(selection.clauses[0].text)):
                return selection.clauses[0]
        return None


def with_general_rule(selection, clause, top_k: int):
    """``selection`` with ``clause`` (the general rule) leading: its article first among the sources, the
    retrieved ones after it (``top_k`` in all), and ``general_rule`` set."""
    rest = [c for c in selection.clauses if c.hit.id != clause.hit.id]
    clauses = [clause, *rest][:top_k]
    hits = []
    out = []
    for rank, c in enumerate(clauses, 1):
        h = replace(c.hit, rank=rank)
        out.append(replace(c, hit=h))
        hits.append(h)
    return replace(selection, clauses=out, hits=hits, general_rule=True)
