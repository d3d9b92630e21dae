"""The extractive backend: answers by quoting the retrieved articles, no generative model.

For each relevant retrieved article it picks the 款 (and inside it the 项) that best match the question,
and quotes them after the article's citation and [n] marker. Deterministic; when nothing retrieved shares
anything with the question it says the corpus has no applicable article instead of quoting at random.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from assistant.answer.backends.base import Backend, GenerationRequest
from assistant.search.types import Hit

NOTICE = "未配置生成式模型：以上回答直接摘录检索到的法条原文，不是模型生成的解读。"
NO_ANSWER = "现有法条库中没有找到可适用于该问题的条文，无法依据法条作答。建议换一种说法，或咨询专业律师。"
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_ITEM = re.compile(r"^\s*[（(][一二三四五六七八九十]+[)）]")
#: characters that carry no meaning for matching a question to a 款
_STOP_CHARS = set("的了是在有和与或及其之这那也就都而么吗呢吧啊我你他她它们怎什如何为被把对于从由等个")
#: everyday words and the statute's wording (a tiny, explicit list; retrieval does the real work)
_EXPAND = {"醉驾": "醉酒驾驶", "酒驾": "饮酒驾驶", "毒驾": "吸毒驾驶", "离婚": "离婚", "打人": "伤害",
           "辞退": "解除劳动合同", "开除": "解除劳动合同", "赔偿金": "赔偿", "工资": "劳动报酬"}


def _features(text: str) -> set[str]:
    out: set[str] = set()
    for run in _CJK.findall(text):
        out.update(ch for ch in run if ch not in _STOP_CHARS)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _question_features(question: str) -> set[str]:
    q = question
    for k, v in _EXPAND.items():
        if k in question:
            q += " " + v
    return _features(q)


def _overlap(q: set[str], text: str) -> float:
    """Shared features, bigrams counting double (a shared word means more than a shared character)."""
    shared = q & _features(text)
    return sum(2.0 if len(f) == 2 else 1.0 for f in shared)


@dataclass
class Excerpt:
    marker: int
    hit: Hit
    paragraphs: list[str]  # the quoted 款, items already narrowed
    score: float
    whole: bool


class ExtractiveBackend(Backend):
    name = "extractive"
    notice = NOTICE

    def __init__(self, max_articles: int = 3, min_relative_score: float = 0.5, **_ignored):
        self.max_articles = max_articles
        self.min_relative_score = min_relative_score

    @property
    def model_name(self) -> str | None:
        return None

    def excerpts(self, question: str, hits: list[Hit]) -> list[Excerpt]:
        q = _question_features(question)
        found: list[Excerpt] = []
        for marker, hit in enumerate(hits, 1):
            paras = hit.article.paragraphs
            if hit.via == "citation":  # the user named this article: quote it whole
                found.append(Excerpt(marker, hit, paras, float("inf"), True))
                continue
            scored = [(self._paragraph_score(q, p), i) for i, p in enumerate(paras)]
            best = max(scored, default=(0.0, 0))
            # must share a word (bigram) with the question, not just characters
            if best[0] <= 0 or not any(len(f) == 2 for f in q & _features(hit.article.text)):
                continue
            chosen = [i for s, i in scored if s >= 0.6 * best[0]][:2]
            found.append(Excerpt(marker, hit, [self._narrow(q, paras[i]) for i in chosen], best[0],
                                 len(chosen) == len(paras)))
        if not found:
            return []
        top = max(e.score for e in found)
        keep = [e for e in found if e.score == float("inf") or e.score >= self.min_relative_score * top]
        return keep[: self.max_articles]

    @staticmethod
    def _paragraph_score(q: set[str], paragraph: str) -> float:
        lines = paragraph.split("\n")
        return _overlap(q, lines[0]) + max((_overlap(q, ln) for ln in lines[1:]), default=0.0)

    @staticmethod
    def _narrow(q: set[str], paragraph: str) -> str:
        """A 款 with items: its lead sentence and the items that match the question (all when none does)."""
        lines = paragraph.split("\n")
        items = [ln for ln in lines[1:] if _ITEM.match(ln)]
        if not items:
            return " ".join(lines)
        scores = [_overlap(q, it) for it in items]
        best = max(scores)
        chosen = [it for it, s in zip(items, scores) if best >= 2 and s >= best * 0.8] or items
        if len(chosen) < len(items):
            return lines[0] + "……" + "……".join(chosen) + "……"
        return " ".join([lines[0], *items])

    def compose(self, question: str, hits: list[Hit]) -> str:
        excerpts = self.excerpts(question, hits)
        if not excerpts:
            return NO_ANSWER
        named = [e for e in excerpts if e.hit.via == "citation"]
        if named:
            # the question names the article(s): recite them whole, paragraph by paragraph
            parts = []
            for e in named:
                art = e.hit.article
                # short 《法名》 keeps the header from outweighing a one-sentence article
                parts.append(f"《{art.law_short}》{art.number_text}[{e.marker}]规定：")
                parts.extend(art.paragraphs)
            parts.append("（" + NOTICE + "）")
            return "\n".join(parts)
        parts = ["根据检索到的法条："]
        for n, e in enumerate(excerpts, 1):
            # the quote sits on one line so the citation and the text it quotes form one sentence
            quote = " ".join(e.paragraphs)
            parts.append(f"{n}. 依据{e.hit.article.label}[{e.marker}]：“{quote}”")
        parts.append("（" + NOTICE + "）")
        return "\n".join(parts)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        text = self.compose(request.question, request.hits)
        request.finish_reason = "stop"
        for line in text.splitlines(keepends=True):
            yield line
