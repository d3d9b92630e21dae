"""Render a stored law back to statute text in published layout (the inverse of ``parse_statute_text``)."""
from __future__ import annotations

from typing import Iterable

from assistant.corpus.article import Article
from assistant.corpus.numerals import article_number_text


def render_law(title: str, articles: Iterable[Article]) -> str:
    """Title, then headings whenever they change, then 第N条 + text, one paragraph per line."""
    out = [title, ""]
    part = chapter = section = None
    for art in articles:
        if art.part != part and art.part:
            out += [art.part, ""]
            chapter = section = None
        if art.chapter != chapter and art.chapter:
            out += [art.chapter, ""]
            section = None
        if art.section != section and art.section:
            out += [art.section, ""]
        part, chapter, section = art.part, art.chapter, art.section
        first, *rest = art.text.split("\n")
        # amendment items (条目一) and single-text documents (全文) are printed as the article they are stored as
        label = art.number_text if art.number_text.startswith("第") else article_number_text(art.number, art.suffix)
        out.append(f"{label}　{first}")
        out += rest
        out.append("")
    return "\n".join(out)
