"""The extractive backend: answers by quoting the retrieved articles, no generative model.

For each relevant retrieved article it picks the 款 (and inside it the 项) that best match the question,
and quotes them after the article's citation and [n] marker. Deterministic; when nothing retrieved shares
anything with the question it says the corpus has no applicable article instead of quoting at random.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterator

from assistant.answer.backends.base import Backend, GenerationRequest
from assistant.answer.types import recited_law
from assistant.corpus.numerals import int_to_cn
from assistant.search.types import Hit

NOTICE = "未配置生成式模型：回答直接摘录检索到的法条原文，不是模型生成的解读。"
NO_ANSWER = "现有法条库中没有找到可适用于该问题的条文，无法依据法条作答。建议换一种说法，或咨询专业律师。"
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_ITEM = re.compile(r"^\s*[（(][一二三四五六七八九十]+[)）]")
#: characters that carry no meaning for matching a question to a 款
_STOP_CHARS = set("的了是在有和与或及其之这那也就都而么吗呢吧啊我你他她它们怎什如何为被把对于从由等个")
def _features(text: str) -> set[str]:
    out: set[str] = set()
    for run in _CJK.findall(text):
        out.update(ch for ch in run if ch not in _STOP_CHARS)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _question_features(query) -> set[str]:
    """Features of the question with its statute wording (``Query.statute_text``, the one reading)."""
    from assistant.search.query import read_query

    return _features(read_query(query).statute_text)


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

    def excerpts(self, question, hits: list[Hit]) -> list[Excerpt]:
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

    def compose(self, question, hits: list[Hit], selection=None) -> str:
        """The answer text. With a ``Selection`` (the pipeline passes one) it opens with one sentence that
        answers, quoting the deciding 款; without one it falls back to quoting the best-matching 款.
        ``question``: the ``Query`` (or the question, read here)."""
        named = [(m, h) for m, h in enumerate(hits, 1) if h.via == "citation"]
        if named:
            # the question names the article(s): recite them whole, paragraph by paragraph, laid out as the
            # statute prints them (第三十三条 then its 款). The law is named only when the articles come from
            # more than one law: the question named it, the source line names it in full, and the checker
            # reads a bare 第N条 as that law's (``recited_law``).
            parts = []
            one_law = recited_law(hits) is not None
            for marker, hit in named:
                art = hit.article
                label = art.number_text if one_law else f"《{art.law_short}》{art.number_text}"
                parts.append(f"{label}[{marker}]规定：")
                parts.extend(art.paragraphs)
            return "\n".join(parts)
        if selection is not None:
            return compose_leading(question, selection, self.max_articles) or NO_ANSWER
        excerpts = self.excerpts(question, hits)
        if not excerpts:
            return NO_ANSWER
        parts = ["根据检索到的法条："]
        for n, e in enumerate(excerpts, 1):
            # the quote sits on one line so the citation and the text it quotes form one sentence
            quote = " ".join(e.paragraphs)
            parts.append(f"{n}. 依据{e.hit.article.label}[{e.marker}]：“{quote}”")
        return "\n".join(parts)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        query = request.query if getattr(request, "query", None) is not None else request.question
        text = self.compose(query, request.hits, getattr(request, "selection", None))
        # nothing to quote is not an answer: an API client reads it from the finish reason, not from the text
        request.finish_reason = "no_answer" if text == NO_ANSWER else "stop"
        # clause by clause, as a model would stream it (a one-line answer still arrives in pieces)
        for piece in re.findall(r"[^，。；：\n]*[，。；：\n]?", text):
            if piece:
                yield piece


#: question types whose fact reads as "<topic>为<fact>" (离婚冷静期为三十日)
_NOUN_FACTS = ("period", "age", "multiple", "amount", "count")
#: a clause must reach this share of the best clause's score (and share a word) to be quoted as "other"
_OTHER_MIN = 0.75
#: a lead article at most this long (characters over all its 款) is quoted whole: its other 款 follow the
#: deciding one. They hold the rule's other half, its conditions or exceptions (继承人放弃继承的… beside
#: 以所得遗产实际价值为限), and a reader should not have to open the source to see whether the 款 chosen was
#: the one that decides. A longer one (868 of the default corpus's 23,995 articles in force, e.g. 劳动合同法
#: 第四十一条 on mass layoffs) keeps only its deciding 款, its 项 narrowed.
WHOLE_ARTICLE_CHARS = 300


def _short(sentence: str, fact: str | None, limit: int = 60) -> str:
    """The part of a sub-sentence that states the fact: comma pieces around it, at most ``limit`` chars."""
    s = sentence.strip().rstrip("。；;：:，,")
    if len(s) <= limit:
        return s
    pieces = re.split(r"(?<=[，,：:])", s)
    at = next((i for i, p in enumerate(pieces) if fact and fact[:4] in p), len(pieces) - 1)
    out = pieces[at]
    if len(out) < 10 and at > 0:
        out = pieces[at - 1] + out
    return out.strip().rstrip("。；;：:，,")[:limit]


def _quote(clause, limit: int = 160) -> str:
    """The deciding 款, or its sentence that states the fact (with …… around it) when the 款 is long."""
    text = clause.text.strip()
    if len(text) <= limit or not clause.fact_sentence or clause.fact_sentence not in text:
        return text if len(text) <= 2 * limit else text[:2 * limit] + "……"
    i = text.index(clause.fact_sentence)
    return ("……" if i else "") + clause.fact_sentence.strip() + ("……" if i + len(clause.fact_sentence) < len(text) else "")


def answer_head(query, qtype: str | None, clause) -> str | None:
    """What the deciding 款 answers, in a few words: 离婚冷静期为三十日, 依法处拘役, or the part of its sentence
    that states the fact; None when the clause states none. ``query``: the ``Query`` (or the question)."""
    from assistant.search.query import read_query

    query = read_query(query)
    question, topic = query.text, query.topic
    if clause.fact and topic and qtype in _NOUN_FACTS:
        fact = re.sub(r"(?<=[日天月年周时])(以内|内)$", "", clause.fact)
        return f"{topic}{'最长' if re.search('最长|最多', question) else ''}为{fact}"
    if clause.fact and qtype == "penalty":
        return "依法" + clause.fact.split("：")[0].strip("，") if not clause.fact.startswith("不负") else clause.fact
    if clause.fact_sentence:
        return _short(clause.fact_sentence, clause.fact)
    return None


def _cite(clause, marker: int, name_paragraph: bool) -> str:
    """《民法典》第一千零七十七条[1], or …第一千零七十七条第一款[1] when the article's other 款 are quoted too."""
    art = clause.hit.article
    paragraph = f"第{int_to_cn(clause.paragraph + 1)}款" if name_paragraph else ""
    return f"《{art.law_short}》{art.number_text}{paragraph}[{marker}]"


def lead_sentence(query, qtype: str | None, clause, marker: int, name_paragraph: bool = False) -> str:
    """离婚冷静期为三十日：依据《民法典》第一千零七十七条[1]，自婚姻登记机关收到离婚登记申请之日起三十日内……
    ``query``: the ``Query`` (or the question, read here). ``name_paragraph``: cite the 款 (its article's other
    款 follow)."""
    cite = "依据" + _cite(clause, marker, name_paragraph)
    head = answer_head(query, qtype, clause)
    quote = _quote(clause)
    if head and head.rstrip("。") != quote.rstrip("。"):
        return f"{head}：{cite}，{quote}"
    return f"{cite}，{quote}"


def silence_sentence(selection) -> str:
    """No retrieved 款 decides the question: one sentence that says so, and whether what follows is the general
    rule of the matter (``Selection.general_rule``) or the nearest special one. It says what the search did not
    find, not that the law is silent: about one in ten leads below the silence threshold was the deciding 款
    after all. It names no word: the rarest word the lead lacks (``Selection.unmatched``) is evidence for the
    silence model, but as a subject it read “后来”, “困难” or “房屋” (from 房子) on everyday questions."""
    follows = "相关的一般规定" if getattr(selection, "general_rule", False) else "最接近的规定"
    return f"在法条库中没有找到直接规定这个问题的条文，以下是{follows}。"


def silent_lead(selection, clause, marker: int, name_paragraph: bool = False) -> str:
    """When no retrieved 款 decides the question: say so, then quote the nearest rule."""
    return f"{silence_sentence(selection)}\n依据{_cite(clause, marker, name_paragraph)}，{_quote(clause)}"


def rest_of_article(clause, marker: int) -> list[str]:
    """The lead article's other 款, one cited line each (《民法典》第一千一百六十一条第一款[1]规定：“…”), when the
    article is short enough to quote whole (``WHOLE_ARTICLE_CHARS``); [] otherwise."""
    paragraphs = clause.hit.article.paragraphs
    if len(paragraphs) < 2 or not _short_article(clause):
        return []
    return [f"{_cite(replace(clause, paragraph=i), marker, True)}规定：“{_one_line(text)}”"
            for i, text in enumerate(paragraphs) if i != clause.paragraph and text.strip()]


def _short_article(clause) -> bool:
    return sum(len(p) for p in clause.hit.article.paragraphs) <= WHOLE_ARTICLE_CHARS


def _one_line(text: str) -> str:
    """A 款 with its 项 on one line: a quote and the citation before it stay one sentence for the checker."""
    return "".join(line.strip() for line in text.split("\n"))


def _answering_clauses(selection, markers: dict, max_articles: int) -> list:
    """The deciding clause, then the others scoring close to it (at most ``max_articles`` in all), of the
    articles in ``markers``."""
    # a named article, and the general rule put first (it governs the matter without sharing its words)
    clauses = [c for c in selection.clauses
               if (c.coverage > 0 or c.hit.via in ("citation", "general")) and c.hit.id in markers]
    if not clauses:
        return []
    first = clauses[0]
    return [first] + [c for c in clauses[1:] if c.relevance >= _OTHER_MIN * first.relevance][:max(0, max_articles - 1)]


def compose_leading(question, selection, max_articles: int = 3) -> str | None:
    """One sentence that answers, quoting the deciding clause, then the other relevant provisions."""
    markers = {h.id: i for i, h in enumerate(selection.hits, 1)}
    clauses = _answering_clauses(selection, markers, max_articles)
    if not clauses:
        return None
    first = clauses[0]
    rest = rest_of_article(first, markers[first.hit.id])
    if getattr(selection, "decided", True):
        parts = [lead_sentence(question, selection.qtype, first, markers[first.hit.id], bool(rest))]
    else:
        parts = [silent_lead(selection, first, markers[first.hit.id], bool(rest))]
    parts += rest
    others = clauses[1:]
    if others:
        parts.append("其他相关规定：")
        for n, c in enumerate(others, 1):
            # a short article whole, in its own order: the 款 chosen for it is wrong often enough (1 in 8 on
            # the question set) that a fragment would hide the rule asked about
            parts.append(f"{n}. 依据{c.hit.article.label}[{markers[c.hit.id]}]：“{_clause_or_article(c)}”")
    return "\n".join(parts)


def compose_draft(question, selection, hits, max_articles: int = 3) -> str | None:
    """The extractive answer laid out as the answer a model is asked to write, for it to rewrite in plain
    words: what the deciding 款 answers, then 根据《法名》第N条[n]的规定， and the quoted 款 (a short article whole,
    as the extractive answer quotes it, or a fact in its other 款 never reaches the model), for it and for the
    other clauses scoring close to it. ``hits``: the articles in the model's prompt, in [n] order (a clause of
    an article not among them is left out). None when no 款 answers."""
    markers = {h.id: i for i, h in enumerate(hits, 1)}
    clauses = _answering_clauses(selection, markers, max_articles)
    if not clauses:
        return None
    if not getattr(selection, "decided", True):  # no retrieved 款 decides it: the draft must not pretend
        lines = [silence_sentence(selection)]
    else:
        head = answer_head(question, selection.qtype, clauses[0])
        lines = [head.rstrip("。") + "。"] if head else []
    for n, c in enumerate(clauses):
        quote = _clause_or_article(c, deciding_first=n == 0).rstrip()
        lines.append(f"根据{_cite(c, markers[c.hit.id], False)}的规定，{quote}")
    return "\n".join(lines)


def _clause_or_article(clause, deciding_first: bool = False) -> str:
    """The quote of a clause, or of its whole article on one line when the article is short
    (``WHOLE_ARTICLE_CHARS``): in its own order, or with the deciding 款 first."""
    if not _short_article(clause):
        return _quote(clause)
    paragraphs = list(clause.hit.article.paragraphs)
    if deciding_first and 0 <= clause.paragraph < len(paragraphs):
        paragraphs.insert(0, paragraphs.pop(clause.paragraph))
    return "".join(map(_one_line, paragraphs))
