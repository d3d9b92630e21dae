"""Gold articles as keys: how labelled rows name the articles a question is about, and how a cited or
retrieved article is compared with them (the one identity eval, search learning and training data share)."""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from assistant.corpus.laws import normalize_law_name
from assistant.corpus.numerals import parse_article_number

#: (short law name, article number, suffix) — suffix is "" when folded
ArticleKey = tuple[str, int, str]


def article_key(law: str | None, number: int, suffix: str = "", *, fold_suffix: bool = True) -> ArticleKey:
    """Normalised identity of an article: 《中华人民共和国民法典》 and 民法典 compare equal; with
    ``fold_suffix`` 第133条之一 is the same key as 第133条 (how the dev sets label articles)."""
    return (normalize_law_name(law or ""), int(number), "" if fold_suffix else (suffix or ""))


def key_from_article_id(article_id: str, *, fold_suffix: bool = True) -> ArticleKey:
    """中华人民共和国刑法#133之一 -> ("刑法", 133, "")."""
    law, _, num = article_id.rpartition("#")
    m = re.fullmatch(r"(\d+)(之.+)?", num)
    if not law or not m:
        raise ValueError(f"not an article id: {article_id!r}")
    return article_key(law, int(m.group(1)), m.group(2) or "", fold_suffix=fold_suffix)


def key_label(key: ArticleKey) -> str:
    law, number, suffix = key
    return f"{law}第{number}条{suffix}"


def parse_gold_article(law: str | None, item: Any, fold_suffix: bool) -> ArticleKey:
    if isinstance(item, bool):
        raise ValueError(f"not an article number: {item!r}")
    if isinstance(item, int):
        return article_key(law, item, fold_suffix=fold_suffix)
    if isinstance(item, Mapping):  # {"law": ..., "article": ...} as in the dev sets' ``citations``
        art = item.get("article", item.get("number"))
        return parse_gold_article(item.get("law", law), art, fold_suffix)
    if isinstance(item, str):
        text = item.strip()
        m = re.match(r"^(?P<law>.*?)(?P<art>第?\s*[0-9零〇一二三四五六七八九十百千万两]+\s*条?\s*(?:之[一二三四五六七八九十]+|[-－]\d+)?)$",
                     text)
        if m and m.group("law"):
            law = m.group("law")
            text = m.group("art")
        number, suffix = parse_article_number(text)
        return article_key(law, number, suffix, fold_suffix=fold_suffix)
    raise ValueError(f"not an article number: {item!r}")


def gold_keys(law: str | None, articles: Iterable[Any] | None, *, fold_suffix: bool = True) -> set[ArticleKey]:
    """Gold articles as keys. ``articles`` items: ints (1043), strings (第一百三十三条之一, 133之一,
    民法典第1043条 — a law in the string overrides ``law``), or dicts ``{"law", "article"}``.
    Raises ``ValueError`` naming the bad item."""
    out: set[ArticleKey] = set()
    for item in articles or []:
        key = parse_gold_article(law, item, fold_suffix)
        if not key[0]:
            raise ValueError(f"gold article {item!r} has no law (give the row a 'law' field)")
        out.add(key)
    return out
