"""Amendment documents among answer sources: show the base law's article, not the 修正案 that changed it.

The corpus keeps each 修正案 as a document of its own (kind 修正案), and its changes are consolidated into the
base law (assistant/corpus/amendments.py). An amendment item (《刑法修正案（八）》第二十二条: 在刑法第一百三十三条后
增加一条，作为第一百三十三条之一：……) is then history: the law in force is the base law's article (刑法第一百三十三条
之一), which may have been changed again since. So for answers, an amendment hit is dropped when the base
article it changed is among the candidates already, and replaced by that article when the store has it in
force; an amendment whose changes cannot be read (or whose base law is not in the store), or one the question
names by its article number, stays as it is.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from assistant.corpus.article import make_article_id
from assistant.corpus.kinds import AMENDMENT
from assistant.search.types import Hit


def changed_articles(article, store) -> list[str]:
    """Ids of the base law's articles an amendment article changes or adds ([] when none can be read)."""
    from assistant.corpus.amendments import base_law_name, parse_item

    base_name = base_law_name(article.law)
    base = store.resolver().try_resolve(base_name) if base_name else None
    if not base:
        return []
    try:
        changes = parse_item(article.law, article.number_text, article.text)
    except Exception:  # an item the parser cannot read: leave the hit alone
        return []
    ids: list[str] = []
    for change in changes:
        targets = [(n, s) for n, s, _ in change.new_articles] or ([change.target] if change.target else [])
        ids += [make_article_id(base, n, s) for n, s in targets]
    return list(dict.fromkeys(ids))


def prefer_consolidated(hits: Sequence[Hit], store) -> list[Hit]:
    """``hits`` with each amendment hit dropped (its base article is among them) or replaced by the base
    article in force it changed (keeping the hit's score, rank and how it was found); ranks renumbered."""
    present = {h.id for h in hits if h.article.kind != AMENDMENT}
    out: list[Hit] = []
    for hit in hits:
        if hit.article.kind != AMENDMENT or hit.via == "citation":
            # an amendment article the question names (宪法修正案2004年第二十四条) is what was asked for
            out.append(hit)
            continue
        targets = changed_articles(hit.article, store)
        if not targets:
            out.append(hit)
            continue
        if any(t in present for t in targets):
            continue  # the consolidated article is there already
        base = next((a for a in (store.get(t) for t in targets) if a is not None and a.in_force), None)
        if base is None:
            out.append(hit)
            continue
        present.add(base.id)
        out.append(Hit(base, hit.score, hit.rank, hit.via))
    return [replace(h, rank=i) if h.rank != i else h for i, h in enumerate(out, 1)]
