"""The one ``Article`` type that flows from corpus to index to prompt to citation check.

An article is identified by its law's full name and its number: ``中华人民共和国刑法#133之一``. The id is
stable across re-imports and index rebuilds; the text may change (amendments), which is what
``content_hash`` tracks.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.corpus.numerals import article_number_text

#: statuses as the default corpus spells them; 历史版本 marks a superseded version kept as history
STATUS_CURRENT = "现行有效"
STATUS_AMENDED = "已被修改"  # in force, but the law has a later amendment not yet merged into this text
STATUS_REPEALED = "已废止"
STATUS_HISTORICAL = "历史版本"
STATUS_NOT_YET = "尚未生效"
#: statuses that count as law in force for retrieval filters
IN_FORCE = (STATUS_CURRENT, STATUS_AMENDED, STATUS_NOT_YET)

_ITEM_RE = re.compile(r"^\s*[（(]([一二三四五六七八九十]+)[)）]\s*")


def make_article_id(law: str, number: int, suffix: str = "") -> str:
    return f"{law}#{number}{suffix}"


def split_article_id(article_id: str) -> tuple[str, int, str]:
    law, _, num = article_id.rpartition("#")
    m = re.fullmatch(r"(\d+)(之.+)?", num)
    if not law or not m:
        raise ValueError(f"not an article id: {article_id!r}")
    return law, int(m.group(1)), m.group(2) or ""


@dataclass(frozen=True)
class Item:
    """A 项 such as （三）, inside a 款 (paragraph)."""

    paragraph: int  # 1-based 款 number
    number: int  # 1-based 项 number
    text: str


@dataclass(frozen=True)
class Article:
    law: str  # full name, 中华人民共和国刑法
    number: int  # 133
    text: str  # paragraphs joined by "\n"
    suffix: str = ""  # 之一, 之二 ...
    law_short: str = ""  # 刑法
    number_text: str = ""  # 第一百三十三条之一, as printed (default corpus amendments: 条目一)
    part: str | None = None  # 编
    chapter: str | None = None  # 章
    section: str | None = None  # 节
    status: str = STATUS_CURRENT
    promulgated: str | None = None  # ISO dates where known
    effective: str | None = None
    version_date: str | None = None
    source: str = ""
    position: int = 0  # order within the law (amendment articles 之一 sit after their base article)
    kind: str | None = field(default=None, compare=False)  # the law's document kind: 法律, 司法解释 … (read-only)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.number_text:
            object.__setattr__(self, "number_text", article_number_text(self.number, self.suffix))
        if not self.law_short:
            from assistant.corpus.laws import short_name

            object.__setattr__(self, "law_short", short_name(self.law))

    @property
    def id(self) -> str:
        return make_article_id(self.law, self.number, self.suffix)

    @property
    def label(self) -> str:
        """Citation form used in prompts and answers: 《中华人民共和国刑法》第一百三十三条之一."""
        return f"《{self.law}》{article_number_text(self.number, self.suffix)}"

    @property
    def short_label(self) -> str:
        """刑法第133条之一."""
        return f"{self.law_short}第{self.number}条{self.suffix}"

    @property
    def headings(self) -> list[str]:
        return [h for h in (self.part, self.chapter, self.section) if h]

    @property
    def in_force(self) -> bool:
        return self.status in IN_FORCE

    @property
    def paragraphs(self) -> list[str]:
        """款: the article's paragraphs. Item lines （一）… belong to the paragraph that introduces them."""
        paras: list[str] = []
        for line in (ln.strip() for ln in self.text.split("\n")):
            if not line:
                continue
            if _ITEM_RE.match(line) and paras:
                paras[-1] += "\n" + line
            else:
                paras.append(line)
        return paras

    @property
    def items(self) -> list[Item]:
        """项: numbered items （一）（二）… with the paragraph they belong to."""
        out: list[Item] = []
        from assistant.corpus.numerals import cn_to_int

        for p_no, para in enumerate(self.paragraphs, 1):
            for line in para.split("\n")[1:]:
                m = _ITEM_RE.match(line)
                if m:
                    out.append(Item(p_no, cn_to_int(m.group(1)), line[m.end():].strip()))
        return out

    @property
    def content_hash(self) -> str:
        """What an embedding depends on: law, headings, number and text (not status or dates)."""
        h = hashlib.sha256()
        for part in (self.law, self.part or "", self.chapter or "", self.section or "", self.number_text,
                     self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["id"] = self.id
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Article":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})

    def searchable_text(self) -> str:
        """Law name, headings, article number and text: what lexical and dense indexes see."""
        return " ".join([self.law_short, *self.headings, self.number_text, self.text])
