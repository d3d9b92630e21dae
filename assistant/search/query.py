"""The question, read once: ``Query`` flows from search to clause choice, the relevance gate, the prompt and the
extractive answer, so that no later stage re-reads the user's words with rules of its own.

    query = read_query("那醉驾呢", history=["酒驾怎么处罚"], retriever=retriever)
    query.standalone      # 酒驾怎么处罚 那醉驾呢   (a follow-up made self-contained)
    query.focus           # 那醉驾呢                (the follow-up's own words, weighed higher)
    query.qtype           # penalty
    query.statute_text    # … 醉酒驾驶机动车 危险驾驶 饮酒后驾驶机动车   (reviewed statute wording added)
    query.learned         # [(醉酒, 0.8), …]        (statute words the index learned for the question's words)
    query.rewritten       # [醉酒驾驶, 危险驾驶罪]    (a generative model's statute wording, only when asked for:
                          #                          ``assistant.search.rewrite``)
    query.terms()         # every word with its weight and where it came from

What is learned lives with the index (``assistant.search.learned``); the one reviewed table is
``assistant.search.wording``; the question-type patterns below say what kind of answer is asked for (how long,
how much, who is liable …), not what the question is about.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from assistant.search.wording import statute_words

#: question types: (name, pattern in the question), first match wins
QUESTION_TYPES: list[tuple[str, re.Pattern]] = [
    ("penalty", re.compile(r"处罚|怎么判|判几年|判多久|坐牢|判刑|罚款|罚多少|拘留|刑事责任|犯罪吗|犯法|怎么罚|罚")),
    ("age", re.compile(r"多少岁|几岁|多大|年龄|成年")),
    ("multiple", re.compile(r"几倍|多少倍")),
    ("period", re.compile(r"多久|多长时间|多长|几天|几个月|几年|多少天|多少年|期限|时效|冷静期|多少日")),
    ("count", re.compile(r"几个|几名|几人|多少人|多少个")),
    ("amount", re.compile(r"多少钱|赔多少|补偿多少|多少|怎么算|标准|补偿|赔偿")),
    ("party", re.compile(r"谁|哪一方|由谁|责任")),
    ("validity", re.compile(r"有效吗|无效|有效|算数|算不算|合法吗|作数|效力")),
    ("remedy", re.compile(r"怎么办|如何|能不能|可以吗|可不可以|能否|有没有|要不要|需不需要|能要回|吗")),
]

#: words of a question that say what kind of answer is wanted, not what it is about
QUESTION_ENDING = re.compile(r"(是|为|有|要|能|会|可以|需要|应该|一般|最长|最多|最少|最短|至少)?"
                             r"(多久|多长时间|多长|几天|几个月|几年|多少天|多少年|多少岁|几岁|多少钱|多少倍|几倍|"
                             r"多少|几个|几名|怎么办|怎么处罚|怎么判|怎么算|怎么罚款?|如何处理|吗|呢|谁负责)"
                             r"[？?。！!]*$")
#: question words that are no content (dropped when matching a question's words against a clause)
QUESTION_FILLER = frozenset({"怎么", "什么", "多少", "多久", "几倍", "可以", "是否", "有没有", "怎么办", "如何", "要求",
                             "需要", "应该", "是不是", "能不能", "时候", "一般", "规定", "法律", "请问", "知道", "对方",
                             "自己", "这种", "情况"})
_MODAL = re.compile(r"能(?!力|源|耗)|可以|应该|应当|需要|必须|可不可|是否")
_ELLIPTICAL = re.compile(r"^(那|那么|那如果|如果是|要是|假如|还有|另外|这种|这样|同样|那要是)|[呢吗]？?$|^[^，。]{0,8}[呢吗][？?]?$")
#: a question this long (characters) is a case description rather than a short question
CASE_CHARS = 100


def question_type(question: str) -> str | None:
    for name, pattern in QUESTION_TYPES:
        if pattern.search(question):
            return name
    return None


def topic_of(question: str) -> str | None:
    """离婚冷静期是多久 -> 离婚冷静期: the noun phrase a how-long / how-much question asks about, when the
    question is just that phrase plus question words (else None: the lead then quotes the clause)."""
    q = question.strip()
    m = QUESTION_ENDING.search(q)
    if not m or m.start() < 2:
        return None
    if m.group(2) in ("吗", "呢"):
        return None  # a yes/no question: "未成年人能签合同为十八周岁" would answer another question
    head = q[:m.start()].strip("，,？? ")
    if not 2 <= len(head) <= 12 or re.search(r"[，,。我你他她被把]|了$|[赔罚判要能会给付算拿签退满到达]$|买到|遇到", head):
        return None
    if _MODAL.search(head):
        return None  # 试用期工资能比正式工资低(多少): a clause with a modal verb, not a noun phrase
    return head


def user_turns(history: Sequence[Any] | None) -> list[str]:
    """Earlier user turns, oldest first, from strings, chat messages ({"role", "content"}) or (user,
    assistant) pairs."""
    turns: list[str] = []
    for h in history or ():
        if isinstance(h, str):
            turns.append(h)
        elif isinstance(h, dict):
            if h.get("role", "user") == "user" and h.get("content"):
                turns.append(str(h["content"]))
        elif isinstance(h, (list, tuple)) and h and h[0]:
            turns.append(str(h[0]))
    return turns


def contextualise(query: str, history: Sequence[Any] | None) -> str:
    """Make a follow-up self-contained: prepend the previous user turn when the question is elliptical."""
    turns = user_turns(history)
    if not turns:
        return query
    q = query.strip()
    if len(q) <= 12 or _ELLIPTICAL.search(q):
        return f"{turns[-1]} {q}"
    return query


@dataclass(frozen=True)
class Term:
    word: str
    weight: float
    source: str  # question | follow-up | reviewed | learned


@dataclass
class Query:
    """One question, read once. Build it with ``read_query``."""

    text: str  # this turn, as asked
    standalone: str  # self-contained: an elliptical follow-up carries the turn before it
    history: tuple[str, ...] = ()  # earlier user turns, oldest first
    qtype: str | None = None  # how long / how much / who is liable / is it valid / what penalty …
    topic: str | None = None  # 离婚冷静期 in 离婚冷静期是多久 (a noun-phrase question), else None
    statute_phrases: list[str] = field(default_factory=list)  # the reviewed table's words for its everyday words
    tokens: list[str] = field(default_factory=list)  # search words of ``standalone`` (with an index)
    learned: list[tuple[str, float]] = field(default_factory=list)  # statute words the index learned for them
    is_case: bool = False  # a case description, not a short question
    #: a generative model's restatement in statute wording (``assistant.search.rewrite``), parsed: Chinese
    #: legal terms only, never a law name or article number; empty unless a rewrite was asked for
    rewritten: list[str] = field(default_factory=list)

    @property
    def focus(self) -> str | None:
        """The follow-up's own words when ``standalone`` borrowed an earlier turn, else None."""
        return self.text if self.standalone != self.text else None

    @property
    def statute_text(self) -> str:
        """``standalone`` with the reviewed statute wording of its everyday words (and the model's rewrite,
        when there is one) appended."""
        extra = [*self.statute_phrases, *self.rewritten]
        return " ".join([self.standalone, *extra]) if extra else self.standalone

    def terms(self) -> list[Term]:
        """Every word the question contributes, with its weight and source (for display and debugging)."""
        out = [Term(t, 1.0, "question") for t in dict.fromkeys(self.tokens)]
        if self.focus:
            out += [Term(t, 3.0, "follow-up") for t in self.focus.split() if t]
        out += [Term(p, 0.5, "reviewed") for p in self.statute_phrases]
        out += [Term(w, s, "learned") for w, s in self.learned]
        out += [Term(p, 0.5, "model") for p in self.rewritten]
        return out

    def to_dict(self) -> dict:
        return {"text": self.text, "standalone": self.standalone, "focus": self.focus, "qtype": self.qtype,
                "topic": self.topic, "is_case": self.is_case, "statute_text": self.statute_text,
                "rewritten": list(self.rewritten),
                "terms": [t.__dict__ for t in self.terms()]}


def read_query(text: str | Query, history: Sequence[Any] | None = None, retriever=None, rewriter=None) -> Query:
    """Read a question (and the user turns before it). With a ``retriever`` the question's search words
    and the statute words its index learned for them are read too. With a ``rewriter``
    (``assistant.search.rewrite.QueryRewriter``, else the retriever's own ``rewriter`` if it has one) a
    generative model restates the self-contained question in statute wording (``Query.rewritten``).
    A ``Query`` is returned as it is."""
    if isinstance(text, Query):
        return text
    if rewriter is None:
        rewriter = getattr(retriever, "rewriter", None)
    turns = tuple(user_turns(history))
    standalone = contextualise(text, turns)
    tokens: list[str] = []
    learned: list[tuple[str, float]] = []
    if retriever is not None:
        tokens = retriever.query_tokens(standalone)
        terms = getattr(retriever, "learned", None)
        if terms is not None and tokens:
            learned = terms.expansion(tokens, facts=len(standalone) >= CASE_CHARS)
    return Query(text=text, standalone=standalone, history=turns, qtype=question_type(standalone),
                 topic=topic_of(text), statute_phrases=statute_words(standalone), tokens=tokens, learned=learned,
                 is_case=len(standalone) >= CASE_CHARS,
                 rewritten=rewriter.rewrite(standalone) if rewriter is not None else [])
