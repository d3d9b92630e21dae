"""What a search returns: an ``Article`` with its score, rank and how it was found."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.corpus.article import Article

#: how a hit was found: named in the query / lexical / dense / both lexical and dense / only as the answer to
#: similar earlier questions of the question set (``assistant.search.asked``)
VIA = ("citation", "bm25", "dense", "both", "asked")


@dataclass
class Hit:
    article: Article
    score: float
    rank: int  # 1-based
    via: str
    #: 0-based indices into ``article.paragraphs`` that best match the query (for highlighting)
    matched_paragraphs: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.article.id

    def to_dict(self) -> dict[str, Any]:
        a = self.article
        return {"id": a.id, "law": a.law, "law_short": a.law_short, "number": a.number, "suffix": a.suffix,
                "number_text": a.number_text, "status": a.status, "kind": a.kind, "headings": a.headings, "score": self.score,
                "rank": self.rank, "via": self.via, "text": a.text,
                **{k: a.extra[k] for k in ("status_label", "source_status", "as_of", "effective_from", "upcoming",
                                           "renumbered_label") if a.extra.get(k)}}
