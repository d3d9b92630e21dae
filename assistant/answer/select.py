"""Choosing the 款/项 that answer a question, by meaning: the index's embedder (cosine between the question
and each 款), the everyday-to-statute term mappings, and the question's type (how long / how much / who is
liable / is it valid / what penalty ...) matched to clauses that state a period, amount, party or penalty.

Used by the extractive backend (to lead with the deciding clause) and by the prompt for small models (to
give them the few best 款 instead of whole long articles). The selector also reranks a wider candidate list
from retrieval so that the article that answers is among the first sources.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from assistant.corpus.numerals import CN_NUMERAL_CHARS, cn_to_int
from assistant.search.query import QUESTION_FILLER, Query, question_type, read_query, topic_of  # noqa: F401
from assistant.search.types import Hit

_NUM = f"[{CN_NUMERAL_CHARS}0-9]+"
_ITEM = re.compile(r"^\s*[（(][一二三四五六七八九十]+[)）]")
#: a 款 that leans on another: 前款规定的… / 本条所称… / 依照前两款…
_REFERS_BACK = re.compile(r"^(?:……)?(?:前款|前两款|前三款|本条所称|本条第|依照前|依照本条|有前款|有前两款)")
_NUMBER = re.compile(rf"{_NUM}(?:个)?(?:日|天|月|年|周|小时|元|倍|周岁|人|名|次|%)|百分之")
_CJK = re.compile(r"[\u4e00-\u9fff]+")

#: for each question type (``assistant.search.query.QUESTION_TYPES``), a clause that states that kind of fact
_PERIOD = rf"{_NUM}(?:个)?(?:日|天|个月|月|年|周|小时|工作日)(?:以内|以上|以下|内)?"
CLAUSE_FACTS: dict[str, re.Pattern] = {
    "penalty": re.compile(r"(?:处|并处|给予)[^；。]*?(?:有期徒刑|拘役|管制|罚金|罚款|拘留|吊销|暂扣|没收|警告)[^；。]*"
                          r"|不负刑事责任|免除处罚|减轻处罚"),
    "age": re.compile(rf"{_NUM}周岁"),
    "multiple": re.compile(rf"{_NUM}倍"),
    "period": re.compile(_PERIOD),
    "count": re.compile(rf"{_NUM}(?:个|名|人)(?:以上)?"),
    "amount": re.compile(rf"{_NUM}(?:元|倍)|百分之{_NUM}|个月工资|月工资|{_NUM}(?:个月|年)的?工资"),
    # who bears it: ……承担……责任, ……负责, and the statutes' 由……承担 / 由……负担 (退回商品的运费由消费者承担)
    "party": re.compile(r"(?:由|的)?[^，；。]{2,24}?(?:应当)?(?:依法)?承担[^，；。]{0,6}责任|负责"
                        r"|由[^，；。]{1,16}?(?:承担|负担)"),
    "validity": re.compile(r"无效|有效|可撤销|撤销|不发生效力|效力待定"),
    "remedy": re.compile(r"可以|有权|请求|申请|起诉|应当|仲裁|不得"),
}
_TYPE_FACT = CLAUSE_FACTS


def sub_sentences(text: str) -> list[str]:
    """A 款 split at 。 and ； (items kept as separate pieces)."""
    out = []
    for line in text.split("\n"):
        out += [s for s in re.split(r"(?<=[。；;])", line) if s.strip()]
    return out


def numbers_in(text: str) -> list[int]:
    out = []
    for m in re.finditer(_NUM, text):
        try:
            out.append(cn_to_int(m.group(0)))
        except ValueError:
            continue
    return out


@dataclass
class Clause:
    """A 款 (with its items narrowed) of a retrieved article, scored against the question."""

    hit: Hit
    paragraph: int  # 0-based index into hit.article.paragraphs
    text: str
    score: float
    cosine: float = 0.0
    coverage: float = 0.0
    fact: str | None = None  # the period / amount / party ... the clause states, for the question's type
    fact_sentence: str | None = None  # the sub-sentence that states it
    #: the hand-weighted score (cosine, coverage, type, rank): on one scale whatever model orders the clauses,
    #: so "scores close to the best" (the other provisions an answer quotes) means the same with a model or not
    relevance: float = 0.0
    special: int = 0  # rare condition words (……的，) of the 款 that the question does not use
    condition: tuple[str, ...] = ()  # the words of its condition (……的，)
    #: share of the words of the question's last clause (what it asks about) that this 款 holds and no other
    #: 款 of its article does (``ClauseSelector.distinctive_coverage``)
    asked: float = 0.0


@dataclass
class Selection:
    question: str
    qtype: str | None
    hits: list[Hit]  # reranked, rank renumbered
    clauses: list[Clause] = field(default_factory=list)  # best clause per article, in hits order
    top_cosine: float = 0.0  # best question-clause cosine among all candidates (relevance evidence)
    top_coverage: float = 0.0
    #: the same two, for the user's own words only (without EVERYDAY_TERMS' statute wording): the relevance
    #: gate's evidence, so that a mapped everyday word (孩子 -> 未成年人) does not make a question legal
    top_own_cosine: float = 0.0
    top_own_coverage: float = 0.0
    #: the question's words as the selector weighed them (``ClauseSelector.terms``)
    terms: dict = field(default_factory=dict)
    #: P(the first clause decides the question), from the learned clause model (None: no model)
    confidence: float | None = None
    #: False when the model judges that no retrieved 款 decides the question (the law is silent on it here)
    decided: bool = True
    #: the user's own words that no retrieved article holds (nor a statute word learned for them), rarest first
    unmatched: list[str] = field(default_factory=list)
    #: the first clause is the general rule of the nearest rule's 编 or law, put first because no retrieved 款
    #: decides the question (``assistant.answer.general``)
    general_rule: bool = False
    #: what the silence decision read (``clause_model.SILENCE_FEATURES``; () before the clauses are chosen)
    silence_evidence: tuple[float, ...] = ()


@dataclass
class SelectorConfig:
    cosine_weight: float = 1.0
    coverage_weight: float = 0.8
    type_weight: float = 0.25
    rank_weight: float = 0.25  # retrieval's order still counts: 1/(1 + rank/4)
    #: weigh the question's words by their rarity in the statutes when measuring coverage
    idf_coverage: bool = True
    citation_bonus: float = 10.0  # an article the question names stays first
    #: for who-is-liable questions, a 款 whose condition (its opening ……的，) names a special case the question
    #: does not (遗弃、逃逸的动物, 烈性犬, 动物园的动物) loses this much per such word, up to
    #: special_case_max_words: the general rule (饲养的动物造成他人损害的) answers a question naming none of them
    special_case_penalty: float = 0.15
    special_case_max_words: int = 2
    #: a condition word is a special-case word when it is rare in the statutes (in under this share of articles)
    special_case_df: float = 0.01
    max_paragraphs_embedded: int = 120
    #: score the candidates with the learned clause model where one fits the index (False: the weights above)
    learned: bool = True
    #: with the learned model, the general rule leads before a special case the question does not name
    #: (``general_before_special``; the hand weights above have special_case_penalty instead)
    general_first: bool = True
    #: the 款 that alone holds everything the question's last clause asks about leads before its sibling
    #: (``asked_before_rest``)
    asked_first: bool = True
    #: when the model judges that no 款 decides the question, its lead stays and the other sources keep
    #: retrieval's order: the model's order is least to be trusted where its own confidence is low. Everyday
    #: dev / heldout2 "all three" 60.0 -> 62.5 / 52.5 -> 60.0% (the others unchanged); the question set's
    #: held-out rows, on which the shipped model was fitted, 42.1 -> 41.1% (docs/results/68_, 69_)
    search_order_when_silent: bool = True


#: weight of a follow-up's own words against the earlier turn's (1.0) when choosing 款 and 项
FOCUS_WEIGHT = 3.0
#: learned statute words a question word may be covered by: the strongest few, of at least this strength
ALTERNATIVES_PER_WORD = 6
ALTERNATIVE_MIN = 0.5
#: a word covered through a learned statute word counts this share of a word found itself
ALTERNATIVE_CREDIT = 0.5


#: the weight in coverage of a word found in most articles, against 1 for a word found in one
IDF_FLOOR = 0.2


class Terms(dict):
    """Question words and their weights, plus ``alternatives`` (word -> [(statute word, strength)]) and
    ``idf`` (word -> how rare it is in the statutes, in [IDF_FLOOR, 1])."""

    alternatives: dict[str, list[tuple[str, float]]] = {}
    idf: dict[str, float] = {}


def rarest_word(terms: "Terms") -> str | None:
    """The question's own word (weight >= 1) rarest in the statutes among those they use at all (a word in none
    of them, 衣服, says nothing about which 款); None without one."""
    idf = getattr(terms, "idf", None) or {}
    used = [t for t, w in terms.items() if w >= 1.0 and idf.get(t, 1.0) < 1.0]
    return max(used, key=lambda t: idf[t], default=None)


#: a general rule's condition words that a special case's condition must repeat to count as narrowing it
NARROWS = 0.75


def general_before_special(order: list[Clause]) -> list[Clause]:
    """The general rule before its special cases (a special rule applies only to the facts it names): when
    the leading 款's condition names a special case the question does not (禁止饲养的烈性犬等危险动物造成他人
    损害的) and a candidate 款 of the same law states the condition it narrows (饲养的动物造成他人损害的: most of
    its words repeated, none of the special ones), that one leads."""
    if not order or order[0].special == 0 or order[0].hit.via == "citation":
        return order
    lead = order[0]
    for i, cl in enumerate(order[1:], 1):
        shared = sum(w in lead.condition for w in cl.condition)
        if (cl.special == 0 and len(cl.condition) >= 2 and shared >= NARROWS * len(cl.condition)
                and cl.hit.article.law == lead.hit.article.law):
            return [replace(cl, score=lead.score), *order[:i], *order[i + 1:]]
    return order


#: the share of the asked-about words that a sibling 款 must hold alone to lead instead (all of them)
ASKED_ALL = 0.99


def asked_before_rest(order: list[Clause], scored: list[Clause]) -> list[Clause]:
    """The 款 that says what the question asks about before its sibling that only names the matter: when the
    leading 款 holds none of the words of the question's last clause (运费谁出) and another 款 of the same
    article holds all of them, alone among its 款 (退回商品的运费由消费者承担), that one leads. On the question
    set's held-out questions a sibling holding only some of the asked-about words was the wrong 款 more often
    than the right one, so nothing less than all of them moves the lead."""
    if not order or order[0].hit.via == "citation" or order[0].asked > 0:
        return order
    lead = order[0]
    for cl in scored:
        if cl.hit.id == lead.hit.id and cl.paragraph != lead.paragraph and cl.asked >= ASKED_ALL:
            return [replace(cl, score=lead.score, relevance=max(cl.relevance, lead.relevance)), *order[1:]]
    return order


class ClauseSelector:
    """``ClauseSelector(embedder, tokenize).select(question, hits) -> Selection``.

    ``embedder`` is the search index's embedder (``retriever.embedder``; None for a BM25-only index: the
    selector then relies on term coverage and question type). ``tokenize`` splits a question into words
    (``retriever.query_tokens``), defaulting to character bigrams.
    """

    def __init__(self, embedder=None, tokenize=None, config: SelectorConfig | None = None, cache_size: int = 4096):
        self.embedder = embedder
        self.tokenize = tokenize
        self.config = config or SelectorConfig()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def for_retriever(cls, retriever, config: SelectorConfig | None = None) -> "ClauseSelector":
        selector = cls(getattr(retriever, "embedder", None), getattr(retriever, "query_tokens", None), config)
        selector._retriever = retriever  # its lexical index says which words are rare in the statutes
        return selector

    def _rare_in_statutes(self):
        """word -> True when it occurs in under special_case_df of the index's articles (None: no index)."""
        if getattr(self, "_rare", None) is None:
            self._rare = False
            spec = self._statute_words()
            if spec is not None:
                # a small corpus: at least the words in under 3 articles
                limit = max(self.config.special_case_df * spec.n_docs, 3)
                self._rare = lambda w: w in spec.vocab and 0 < spec.df[spec.vocab[w]] < limit
        return self._rare or None

    def _statute_words(self):
        """Document frequencies of the index's words (``gate.TermSpecificity``), or None without an index."""
        if getattr(self, "_spec", None) is None:
            self._spec = False
            retriever = getattr(self, "_retriever", None)
            if retriever is not None:
                try:
                    from assistant.answer.gate import TermSpecificity

                    self._spec = TermSpecificity.of(retriever)
                except Exception:  # an index without a lexical part: no word statistics
                    self._spec = False
        return self._spec or None

    def word_weights(self, words: list[str]) -> dict[str, float]:
        """How much each question word says about which 款 answers: its IDF in the statutes, scaled to
        [IDF_FLOOR, 1] (赌博 or 流产 pick the 款 that names them; 法院 or 离婚 are in hundreds of articles)."""
        spec = self._statute_words() if self.config.idf_coverage else None
        if spec is None:
            return {}
        import math

        top = math.log(spec.n_docs + 1)
        out = {}
        for w in words:
            df = int(spec.df[spec.vocab[w]]) if w in spec.vocab else 0
            out[w] = max(IDF_FLOOR, min(1.0, math.log((spec.n_docs + 1) / (df + 1)) / top)) if df else 1.0
        return out

    def condition_words(self, clause: str) -> list[str]:
        """The words of the clause's condition (the opening ……的， of its first sentence), [] without one."""
        m = re.match(r"^[^；。：\n]{2,60}?的，", clause.lstrip("……"))
        return list(dict.fromkeys(self._tokens(m.group(0)))) if m else []

    def special_case_words(self, question_text: str, condition: list[str]) -> list[str]:
        """Rare words of a clause's condition (``condition_words``) that the question (with its statute
        wording) does not contain: 遗弃 逃逸 for 遗弃、逃逸的动物……造成他人损害的."""
        rare = self._rare_in_statutes()
        if rare is None:
            return []
        return [w for w in condition if w not in question_text and rare(w)]

    # -- pieces ------------------------------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray | None:
        if self.embedder is None or not texts:
            return None
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vecs = np.asarray(self.embedder.embed_documents(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, vecs):
                    self._cache[t] = v
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        with self._lock:
            return np.stack([self._cache[t] for t in texts])

    def _tokens(self, text: str) -> list[str]:
        tokens: list[str] = []
        if self.tokenize is not None:
            try:
                tokens = list(self.tokenize(text))
            except Exception:  # a tokenizer problem must not cost the answer
                tokens = []
        if not tokens:
            tokens = [run[i:i + 2] for run in _CJK.findall(text) for i in range(len(run) - 1)]
        return [t for t in tokens if len(t) >= 2 and t not in QUESTION_FILLER and _CJK.search(t)]

    def terms(self, query: Query | str) -> "Terms":
        """Content words of the question (weight 1) and of its statute wording (weight 0.5), with the
        statute words search learned for each (``Terms.alternatives``) and their rarity (``Terms.idf``)."""
        query = read_query(query)
        out = Terms({t: 1.0 for t in self._tokens(query.standalone)})
        for t in self._tokens(" ".join(query.statute_phrases)):
            out.setdefault(t, 0.5)
        out.alternatives = self.learned_alternatives(list(out))
        out.idf = self.word_weights(list(out))
        return out

    def learned_alternatives(self, words: list[str]) -> dict[str, list[tuple[str, float]]]:
        """For each question word, the statute words the index learned it stands for (the map search expands
        queries with: 开车 -> 驾驶 机动车, 社保 -> 社会保险费, 邻居 -> 相邻). Law names and one-character
        words are left out: they say which law, not what the 款 says."""
        learned = getattr(getattr(self, "_retriever", None), "learned", None)
        if learned is None:
            return {}
        out = {}
        for t in words:
            try:
                mapped = learned.term_map.get(t, ())
            except AttributeError:
                return {}
            alts = [(w, float(s)) for w, s in mapped
                    if len(w) >= 2 and float(s) >= ALTERNATIVE_MIN and not w.endswith(("法", "法典")) and w not in words]
            if alts:
                out[t] = alts[:ALTERNATIVES_PER_WORD]
        return out

    @staticmethod
    def credits(terms: dict[str, float] | Sequence[str], text: str) -> dict[str, tuple[float, float]]:
        """word -> (its weight in coverage, the share of it the text holds): 1 for a word the text contains;
        for a word absent itself ALTERNATIVE_CREDIT x (the learned strength) of a statute word it maps to."""
        alternatives = getattr(terms, "alternatives", None) or {}
        idf = getattr(terms, "idf", None) or {}
        if not isinstance(terms, dict):
            terms = {t: 1.0 for t in terms}
        out = {}
        for t, w in terms.items():
            got = 1.0 if t in text else 0.0
            if not got and t in alternatives:
                got = ALTERNATIVE_CREDIT * max((s for a, s in alternatives[t] if a in text), default=0.0)
            out[t] = (min(len(t), 4) * w * idf.get(t, 1.0), got)
        return out

    @classmethod
    def coverage(cls, terms: dict[str, float] | Sequence[str], text: str) -> float:
        """The weighted share of the question's words the text contains (``credits``)."""
        credit = cls.credits(terms, text)
        weight = sum(w for w, _ in credit.values())
        return sum(w * got for w, got in credit.values()) / weight if weight else 0.0

    @staticmethod
    def distinctive_coverage(credit: dict[str, tuple[float, float]],
                             siblings: Sequence[dict[str, tuple[float, float]]]) -> float:
        """The weighted share of the question's words that a 款 holds and none of its ``siblings`` (the other
        款 of its article) does, from their ``credits`` for the same words: what sets this 款 apart within its
        article (运费 in 退回商品的运费由消费者承担, against the 款 on the seven days that the question names too)."""
        weight = sum(w for w, _ in credit.values())
        if not weight:
            return 0.0
        return sum(w * max(0.0, got - max((o[t][1] for o in siblings), default=0.0))
                   for t, (w, got) in credit.items()) / weight

    @staticmethod
    def narrow(paragraph: str, terms: Sequence[str], fact_re: re.Pattern | None) -> str:
        """A 款 with items: its lead sentence and the items that match the question (all when none does)."""
        lines = paragraph.split("\n")
        items = [ln for ln in lines[1:] if _ITEM.match(ln)]
        if not items:
            return "".join(lines)
        weight = terms if isinstance(terms, dict) else dict.fromkeys(terms, 1.0)
        scores = [sum(len(t) for t in weight if t in it) + (1 if fact_re and fact_re.search(it) else 0)
                  for it in items]
        if any(w > 1.0 for w in weight.values()):  # a follow-up's own words pick the item when one has them
            focused = [sum(len(t) for t, w in weight.items() if w > 1.0 and t in it) for it in items]
            if max(focused) >= 2:
                scores = focused
        best = max(scores)
        chosen = [it for it, s in zip(items, scores) if best >= 2 and s >= best * 0.8] or items
        if len(chosen) < len(items):
            return lines[0] + "……" + "……".join(chosen) + "……"
        return "".join([lines[0], *items])

    def find_fact(self, question: str, qtype: str | None, text: str, terms: Sequence[str]
                  ) -> tuple[str | None, str | None]:
        """(fact, the sub-sentence stating it) for the question's type, preferring sub-sentences that share
        the question's words; 最长 / 最多 pick the largest number, 最短 / 至少 the smallest."""
        if qtype is None:
            return None, None
        fact_re = _TYPE_FACT[qtype]
        candidates = []
        for pos, s in enumerate(sub_sentences(text)):
            for m in fact_re.finditer(s):
                candidates.append((self.coverage(terms, s), pos, m.group(0).strip("，；。由的"), s))
        if not candidates:
            return None, None
        if qtype == "remedy":  # the answer is what the clause allows or requires, not one word of it
            cov, pos, _, sent = max(candidates, key=lambda c: (c[0], -c[1]))
            return None, sent.strip()
        if re.search(r"最长|最多|最高|上限", question) and qtype in ("period", "amount", "multiple", "age"):
            best = max(candidates, key=lambda c: (max(numbers_in(c[2]) or [0]), c[0]))
        elif re.search(r"最短|最少|至少|下限", question):
            best = min(candidates, key=lambda c: (min(numbers_in(c[2]) or [10**9]), -c[0]))
        else:
            best = max(candidates, key=lambda c: (c[0], -c[1]))
        return best[2], best[3].strip()

    # -- the selection -----------------------------------------------------------------------------
    @property
    def model(self):
        """The learned clause model for this index (``assistant.answer.clause_model``), or None: hand order."""
        if getattr(self, "_model", None) is None:
            self._model = False
            if self.config.learned:
                from assistant.answer.clause_model import ClauseModel

                retriever = getattr(self, "_retriever", None)
                folder = getattr(getattr(retriever, "index", None), "folder", None)
                spec = getattr(self.embedder, "spec", None)
                self._model = ClauseModel.for_index(folder, spec) or False
        return self._model or None

    def candidates(self, query: Query | str, hits: Sequence[Hit]) -> tuple[list[Clause], np.ndarray, Selection]:
        """Every (article, 款) of ``hits`` as a ``Clause`` with its row of ``CLAUSE_FEATURES`` (unscored),
        and a ``Selection`` holding the relevance evidence (no clauses yet). ``query`` as read once
        (``assistant.search.query``); in a follow-up made self-contained from the conversation the user's
        own latest words (``query.focus``) weigh more than the earlier turn's."""
        from assistant.answer.clause_model import CLAUSE_FEATURES, QTYPE_CODES

        cfg = self.config
        query = read_query(query)
        question, focus = query.standalone, query.focus
        qtype = query.qtype
        fact_re = _TYPE_FACT.get(qtype) if qtype else None
        terms = self.terms(query)
        if focus:
            for t in self._tokens(focus):
                if t in terms:
                    terms[t] = FOCUS_WEIGHT
        rows: list[tuple[int, int, str]] = []  # (hit index, paragraph index, narrowed text)
        for hi, hit in enumerate(hits):
            for pi, para in enumerate(hit.article.paragraphs):
                rows.append((hi, pi, self.narrow(para, terms, fact_re)))
        rows = rows[:cfg.max_paragraphs_embedded]
        cos = np.zeros(len(rows), dtype=np.float32)
        own_cos = cos
        expanded = query.statute_text
        if rows and self.embedder is not None:
            try:
                qvec = np.asarray(self.embedder.embed_query(expanded), dtype=np.float32)
                mat = self._embed([f"{hits[hi].article.law_short} {' '.join(hits[hi].article.headings[-1:])} {t}"
                                   for hi, _, t in rows])
                if mat is not None:
                    cos = own_cos = mat @ qvec
                    if expanded != question:
                        own_cos = mat @ np.asarray(self.embedder.embed_query(question), dtype=np.float32)
            except Exception:  # no embedding: coverage and type still rank the clauses
                cos = own_cos = np.zeros(len(rows), dtype=np.float32)
        own_terms = {t: w for t, w in terms.items() if w >= 1.0}
        ask = Terms({t: 1.0 for t in self._tokens(re.split(r"[，,。；;]", question.rstrip("？?。！! "))[-1])})
        ask.alternatives, ask.idf = terms.alternatives, terms.idf
        rarest = rarest_word(terms)
        evidence = Selection(question, qtype, list(hits))
        evidence.top_cosine = float(cos.max()) if len(cos) else 0.0
        evidence.top_own_cosine = float(own_cos.max()) if len(own_cos) else 0.0
        clauses: list[Clause] = []
        feats: list[list[float]] = []
        article_cov: dict[int, float] = {}
        best_cos_of: dict[int, float] = {}
        for (hi, _, _), c in zip(rows, cos.tolist()):
            best_cos_of[hi] = max(best_cos_of.get(hi, -1.0), c)
        for (hi, pi, text), c, oc in zip(rows, cos.tolist(), own_cos.tolist()):
            hit = hits[hi]
            art = hit.article
            heading = " ".join(art.headings)
            cov = self.coverage(terms, text)
            heading_cov = 0.6 * self.coverage(terms, heading + text)
            own_cov = max(self.coverage(own_terms, text), 0.6 * self.coverage(own_terms, heading + text))
            evidence.top_coverage = max(evidence.top_coverage, cov, heading_cov)
            evidence.top_own_coverage = max(evidence.top_own_coverage, own_cov)
            if hi not in article_cov:
                article_cov[hi] = self.coverage(terms, art.text)
            subs = sub_sentences(text)
            typed = bool(fact_re and any(fact_re.search(ss) and self.coverage(terms, ss) > 0 for ss in subs))
            condition = self.condition_words(text)
            special = self.special_case_words(expanded, condition)
            clauses.append(Clause(hit, pi, text, 0.0, cosine=c, coverage=max(cov, heading_cov), special=len(special),
                                  condition=tuple(condition)))
            n = len(art.paragraphs)
            feats.append([c, oc, best_cos_of[hi] - c, evidence.top_cosine - c, cov, own_cov, heading_cov, 0.0,
                          article_cov[hi], self.coverage(ask, text), float(bool(rarest and rarest in text)),
                          float(typed), float(bool(fact_re and fact_re.search(text))),
                          float(QTYPE_CODES.get(qtype, 0)), float(len(special)),
                          float(hit.rank), float(pi), float(n), float(n - 1 - pi), float(len(text)),
                          float(sum(1 for ln in art.paragraphs[pi].split("\n") if _ITEM.match(ln))),
                          float(bool(_REFERS_BACK.match(text))), float(bool(_NUMBER.search(text))),
                          float(len(question)), 0.0])
        x = np.asarray(feats, dtype=np.float32).reshape(len(feats), len(CLAUSE_FEATURES))
        if len(x):
            below = CLAUSE_FEATURES.index("coverage_below_top")
            x[:, below] = evidence.top_coverage - x[:, CLAUSE_FEATURES.index("coverage")]
            # within its article: the share of the asked-about words this 款 holds and its sibling 款 do not
            # (each 款's credits computed once, not once more for every sibling)
            credit_of = [self.credits(ask, text) for _, _, text in rows]
            rows_of: dict[int, list[int]] = {}
            for i, (hi, _, _) in enumerate(rows):
                rows_of.setdefault(hi, []).append(i)
            asked = CLAUSE_FEATURES.index("distinctive_ask_coverage")
            for i, (hi, _, _) in enumerate(rows):
                siblings = [credit_of[j] for j in rows_of[hi] if j != i]
                x[i, asked] = clauses[i].asked = self.distinctive_coverage(credit_of[i], siblings)
        evidence.terms = terms
        return clauses, x, evidence

    def hand_scores(self, clauses: list[Clause], x: np.ndarray) -> np.ndarray:
        """The hand-weighted score: the order where no model fits the index's embedder, and everywhere the
        clauses' ``relevance`` (which other provisions score close enough to the lead to be quoted)."""
        from assistant.answer.clause_model import CLAUSE_FEATURES, QTYPE_CODES

        cfg = self.config
        col = {name: x[:, i] for i, name in enumerate(CLAUSE_FEATURES)}
        party = col["qtype"] == QTYPE_CODES["party"]
        return (cfg.cosine_weight * col["cosine"] + cfg.coverage_weight * np.array([c.coverage for c in clauses])
                + cfg.type_weight * col["typed"] + cfg.rank_weight / (1.0 + (col["rank"] - 1) / 4.0)
                - cfg.special_case_penalty * np.minimum(col["special_words"], cfg.special_case_max_words) * party)

    def select(self, query: Query | str, hits: Sequence[Hit], top_k: int | None = None) -> Selection:
        """The best 款 of each article, the articles ordered by it (``Selection``). The learned model scores
        the candidates where one fits the index; an article the question names stays first."""
        query = read_query(query)
        clauses, x, evidence = self.candidates(query, hits)
        return self.choose(query, clauses, x, evidence, top_k)

    def choose(self, query: Query, clauses: list[Clause], x: np.ndarray, evidence: Selection,
               top_k: int | None = None, model=None, general_first: bool | None = None) -> Selection:
        """``select``'s second half, on the candidates of ``candidates`` (left unchanged): score, keep each
        article's best 款, order. ``model``: this clause model instead of the index's (False: hand order);
        ``general_first``: instead of ``SelectorConfig.general_first``."""
        model = self.model if model is None else (model or None)
        general_first = self.config.general_first if general_first is None else general_first
        hand = self.hand_scores(clauses, x)
        scores = model.score(x) if model is not None else hand
        bonus = self.config.citation_bonus
        best: dict[str, Clause] = {}  # per article: its best-scoring 款 (the article's score)
        scored = []
        for cl, score, relevance in zip(clauses, scores.tolist(), hand.tolist()):
            named = bonus if cl.hit.via == "citation" else 0.0
            cl = replace(cl, score=score + named, relevance=relevance + named)
            scored.append(cl)
            if cl.hit.id not in best or cl.score > best[cl.hit.id].score:
                best[cl.hit.id] = cl
        order = sorted(best.values(), key=lambda cl: -cl.score)
        if self.config.asked_first:
            order = asked_before_rest(order, scored)
        scored_order = order  # the model's own order: its lead over the next article is the model's margin
        if general_first and model is not None:
            order = general_before_special(order)
        selection = replace(evidence, clauses=[])
        selection.unmatched = self.unmatched_words(evidence.terms, [h.article for h in evidence.hits])
        if order:
            selection.silence_evidence = self.silence_evidence(scored_order, order[0], evidence.terms,
                                                               selection.unmatched, query.standalone)
        if model is not None and order and order[0].hit.via != "citation":
            selection.confidence = model.confidence(*selection.silence_evidence)
            if selection.confidence is not None:
                selection.decided = selection.confidence > model.silence_threshold
        if not selection.decided and self.config.search_order_when_silent:
            order = order[:1] + sorted(order[1:], key=lambda cl: cl.hit.rank)
        if top_k:
            order = order[:top_k]
        new_hits = []
        for rank, cl in enumerate(order, 1):
            h = replace(cl.hit, rank=rank)
            if not h.matched_paragraphs or cl.paragraph not in h.matched_paragraphs:
                h.matched_paragraphs = [cl.paragraph]
            cl.hit = h
            cl.fact, cl.fact_sentence = self.find_fact(query.standalone, query.qtype, cl.text, evidence.terms)
            new_hits.append(h)
        selection.hits, selection.clauses = new_hits, order
        return selection

    @classmethod
    def silence_evidence(cls, scored: list[Clause], lead: Clause, terms: "Terms", unmatched: list[str],
                         question: str) -> tuple[float, ...]:
        """``SILENCE_FEATURES`` of a selection: the model's top score and its lead over the next article's in
        the model's own order (``scored``); what of the words the user wrote (those of ``terms`` in
        ``question``: 房东 押金, not the 出租人 the tokenizer adds) the leading 款 (``lead``) holds (the rarest of
        them in the statutes; their IDF-weighted share, learned statute words for them counting in part), and
        what no retrieved article holds; whether ``general_before_special`` put ``lead`` before the model's
        first."""
        top = scored[0]
        nxt = scored[1].score if len(scored) > 1 else top.score - 5.0
        paragraphs = lead.hit.article.paragraphs
        text = paragraphs[lead.paragraph] if lead.paragraph < len(paragraphs) else lead.text
        idf = getattr(terms, "idf", None) or {}
        written = Terms({t: w for t, w in terms.items() if w >= 1.0 and t in question})
        written.alternatives, written.idf = getattr(terms, "alternatives", None) or {}, idf
        rarest = rarest_word(written)
        moved = (lead.hit.id, lead.paragraph) != (top.hit.id, top.paragraph)
        return (top.score, top.score - nxt, float(bool(rarest and rarest not in text)), cls.coverage(written, text),
                max((idf.get(t, 1.0) for t in unmatched), default=0.0), float(moved))

    @staticmethod
    def unmatched_words(terms: dict, articles) -> list[str]:
        """The question's own words (weight >= 1) that the statutes use (a word in none of them, 冷静 of
        离婚冷静期, is everyday wording, not a subject the law is silent on) but none of ``articles`` holds, nor a
        statute word learned for them; rarest first: what the retrieved law does not speak of (押金)."""
        texts = [a.text for a in articles]
        alternatives = getattr(terms, "alternatives", None) or {}
        idf = getattr(terms, "idf", None) or {}
        out = [t for t, w in terms.items() if w >= 1.0 and idf.get(t, 1.0) < 1.0 and not any(t in x for x in texts)
               and not any(a in x for a, _ in alternatives.get(t, ()) for x in texts)]
        return sorted(out, key=lambda t: -idf[t])
