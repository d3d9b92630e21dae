"""Citation checking: every statute citation in a text, checked against the article store.

For each citation: is the law known, does the article (and 款/项) exist, what is its status, was it among
the articles given to the model, and does the sentence that cites it say something the article says
(support score). A citation that does not hold up can get a suggestion: the article of the same law
(or of the law that replaced a repealed one) whose text the sentence paraphrases best.
"""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from assistant.answer.types import CitationCheck
from assistant.corpus.article import (STATUS_AMENDED, STATUS_CURRENT, STATUS_HISTORICAL, STATUS_NOT_YET,
                                      STATUS_REPEALED, Article, make_article_id, split_article_id)
from assistant.corpus.citations import Citation, CitationError, TooManyCitations, find_citations, parse_reference
from assistant.corpus.laws import REPEALED, normalize_law_name
from assistant.corpus.store import ArticleStore

_STATUS_NAMES = {STATUS_CURRENT: "current", STATUS_AMENDED: "amended", STATUS_NOT_YET: "not_yet_effective",
                 STATUS_REPEALED: "repealed", STATUS_HISTORICAL: "historical"}
_SENTENCE_END = "。！？!?\n；;"
_CJK = re.compile(r"[\u4e00-\u9fff]+")
#: what may stand before the citations of a bare reference ("依据：《民法典》第1077条[1]", "2. 根据：…"): such
#: a line names the basis of the claim above it, so that claim is its citing sentence
_REFERENCE_HEAD = re.compile(r"[\s\d.、．*#>\-（）()]*(?:法律依据|依据|根据|参考法条|参考|出处|法条)?[\s:：]*")
#: after the citations of a bare reference: only markers and punctuation ([1]、，。)
_REFERENCE_TAIL = re.compile(r"[\s\[\]【】\d,，、。.;；:：（）()和及与]*")
#: bigrams that every legal answer uses around a citation; they say nothing about which article is meant
_FILLER = frozenset({"根据", "依据", "按照", "依照", "规定", "的规", "条规", "定的", "法律", "法规", "本法", "该法",
                     "中华", "华人", "人民", "民共", "共和", "和国", "法典", "民法", "刑法", "条的", "款规", "项规",
                     "相关", "有关", "内容", "如下", "以下", "具体", "您的", "如果", "可以", "应当", "我国"})


@dataclass
class CheckerConfig:
    #: support score at or above which the citing sentence counts as supported / weak (calibrated with
    #: scripts/bench_citations.py on the lawyer-llama and LawBench dev responses)
    supported_threshold: float = 0.30
    weak_threshold: float = 0.12
    #: a suggestion must score at least this, and beat the cited article by the margin
    suggest_threshold: float = 0.30
    suggest_margin: float = 0.10
    #: a citing sentence shorter than this (after removing citations) borrows the next sentence
    min_sentence_chars: int = 12
    #: the citing "sentence" is at most this many characters either side of the citation (a text without
    #: sentence ends must not make every citation's sentence the whole text)
    max_sentence_chars: int = 300
    #: inputs past these limits are refused with ``CheckInputError`` (the check is linear, but unbounded)
    max_chars: int = 200_000
    max_citations: int = 2_000


class CheckInputError(ValueError):
    """The text is too long or cites too many articles to check; the message says the limit."""


#: a citation span is at most this long (law name ≤ 90 characters before it, a bounded match, a short
#: list/range joiner); used to find the spans near a sentence by binary search
_MAX_SPAN = 400


def bigrams(text: str) -> set[str]:
    out: set[str] = set()
    for run in _CJK.findall(text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out - _FILLER


class _LawIndex:
    """Bigram sets and inverse document frequencies of one law's articles (for support and repair)."""

    def __init__(self, articles: list[Article]):
        self.articles = articles
        self.grams = [bigrams(a.text) for a in articles]
        df: dict[str, int] = {}
        for g in self.grams:
            for b in g:
                df[b] = df.get(b, 0) + 1
        n = max(1, len(articles))
        self.idf = {b: math.log(1.0 + n / d) for b, d in df.items()}
        self.max_idf = math.log(1.0 + n)

    def weight(self, grams: Iterable[str]) -> float:
        return sum(self.idf.get(b, self.max_idf) for b in grams)

    def score(self, sentence: set[str], article: set[str]) -> float:
        """How much the sentence and the article share, weighted by rarity within the law: the larger of
        the share of the sentence found in the article and the share of the article echoed by the sentence
        (a sentence that quotes a whole article, or an article a sentence paraphrases, both score high)."""
        if not sentence or not article:
            return 0.0
        common = self.weight(sentence & article)
        if common == 0:
            return 0.0
        return max(common / self.weight(sentence), common / self.weight(article))

    def best(self, sentence: set[str]) -> tuple[Article | None, float]:
        best, best_score = None, 0.0
        for art, grams in zip(self.articles, self.grams):
            s = self.score(sentence, grams)
            if s > best_score:
                best, best_score = art, s
        return best, best_score


class CitationChecker:
    """``CitationChecker(store).check(text, context_ids=None) -> list[CitationCheck]``.

    ``retriever`` (optional) helps suggest an article when the cited law itself is unknown.
    """

    def __init__(self, store: ArticleStore, config: CheckerConfig | None = None, retriever=None):
        self.store = store
        self.config = config or CheckerConfig()
        self.retriever = retriever
        self._law_index = lru_cache(maxsize=32)(self._build_law_index)
        # many citations share a sentence (第1条至第30条): their suggestion is computed once
        self._suggest = lru_cache(maxsize=512)(self._suggest_uncached)

    def _law_names(self) -> set[str]:
        version = self.store.resolver()  # rebuilt by the store after imports
        if getattr(self, "_names_for", None) is not version:
            self._names_for, self._names = version, set(version.full_names)
        return self._names

    def _build_law_index(self, law: str) -> _LawIndex:
        return _LawIndex(list(self.store.articles(law)))

    # -- context ---------------------------------------------------------------------------------------
    def parse_context(self, refs: Iterable[str] | str | None) -> set[str] | None:
        """Article ids from ids (中华人民共和国民法典#1076) or references (民法典第1076条), comma separated or
        a list. Raises ``ValueError`` naming a reference that cannot be resolved."""
        if refs is None:
            return None
        if isinstance(refs, str):
            refs = [r for r in re.split(r"[,，;；\n]+", refs)]
        out: set[str] = set()
        resolver = self.store.resolver()
        for ref in refs:
            ref = ref.strip()
            if not ref:
                continue
            if "#" in ref:
                try:
                    split_article_id(ref)
                except ValueError as exc:
                    raise ValueError(f"context: {exc}") from None
                out.add(ref)
                continue
            try:
                law, number, suffix = parse_reference(ref, resolver)
            except CitationError as exc:
                raise ValueError(f"context: {exc}") from None
            out.add(make_article_id(law, number, suffix))
        return out

    # -- checking --------------------------------------------------------------------------------------
    def check(self, text: str, context_ids: Iterable[str] | None = None,
              default_law: str | None = None, as_of: str | None = None) -> list[CitationCheck]:
        """Linear in the length of ``text`` and in the number of citations; a text over
        ``config.max_chars`` or with more than ``config.max_citations`` citations raises ``CheckInputError``.

        Each cited article is checked as it read on ``as_of`` (today by default): the text in force that day,
        and its status then: a text that starts later is ``not_yet_in_force``, not verified."""
        from assistant.corpus.status import day_or_today

        day = day_or_today(as_of)
        text = text or ""
        if len(text) > self.config.max_chars:
            raise CheckInputError(f"the text is {len(text)} characters long; at most {self.config.max_chars} "
                                  f"can be checked at once")
        context = None if context_ids is None else set(context_ids)
        try:
            citations = find_citations(text, self.store.resolver(), default_law=default_law,
                                       limit=self.config.max_citations)
        except TooManyCitations as exc:
            raise CheckInputError(str(exc)) from None
        if context:
            # 本法第X条 inside a verbatim quote of a context article is the statute's cross-reference,
            # not a claim the answer makes: it is left out of the report
            quoted = _merge(self._quoted_ranges(text, context))
            q_starts = [s for s, _ in quoted]

            def in_quote(c) -> bool:
                k = bisect.bisect_right(q_starts, c.start) - 1
                return k >= 0 and c.end <= quoted[k][1]

            citations = [c for c in citations if not in_quote(c)]
        spans = [(c.start, c.end) for c in citations]
        bounds = _Bounds(text, spans)
        return [self._check_one(c, text, bounds, context, day) for c in citations]

    def _quoted_ranges(self, text: str, context: set[str], min_chars: int = 8) -> list[tuple[int, int]]:
        """Character ranges of ``text`` that copy a passage of a context article word for word."""
        ranges = []
        for article in self.store.get_many(context).values():
            for passage in re.split(r"\n|……", article.text):
                passage = passage.strip()
                if len(passage) < min_chars:
                    continue
                start = text.find(passage)
                while start != -1:
                    ranges.append((start, start + len(passage)))
                    start = text.find(passage, start + len(passage))
        return ranges

    def _sentence(self, text: str, cit: Citation, spans) -> str:
        """The sentence around a citation, without any citation spans (they would match every article);
        at most ``max_sentence_chars`` either side. ``spans`` is a ``_Bounds`` (or a list of spans)."""
        return self._citing_text(text, cit, spans)[0]

    def _citing_text(self, text: str, cit: Citation, spans) -> tuple[str, bool]:
        """The citing sentence, and whether it was taken from before a bare reference (a basis line)."""
        bounds = spans if isinstance(spans, _Bounds) else _Bounds(text, spans)
        window, need = self.config.max_sentence_chars, self.config.min_sentence_chars
        lo, hi = max(0, cit.start - window), min(len(text), cit.end + window)
        start = max(lo, bounds.end_before(cit.start) + 1)
        end = min(hi, bounds.end_from(cit.end))
        sentence = self._strip(text, start, end, bounds.near(start, end))
        if _content_chars(sentence) < need and self._bare_reference(text, start, end, bounds):
            # "离婚冷静期为三十日。\n依据：《民法典》第1077条[1]": the claim before the basis line is what the
            # citation supports; earlier sentences are taken while it is too short (other basis lines too)
            first = start
            while _content_chars(self._strip(text, first, start, bounds.near(first, start))) < need and first > lo:
                prev = max(lo, bounds.end_before(first - 1) + 1)
                if prev >= first:
                    break
                first = prev
            claim = self._strip(text, first, start, bounds.near(first, start))
            if _content_chars(claim):
                return claim.strip(), True
        # "根据《民法典》第1079条规定：" followed by the content on the next line / sentence
        while _content_chars(sentence) < need and end < hi:
            nxt = min(hi, bounds.end_from(end + 1))
            sentence = self._strip(text, start, nxt, bounds.near(start, nxt))
            end = nxt
        return sentence.strip(), False

    @staticmethod
    def _bare_reference(text: str, start: int, end: int, bounds: "_Bounds") -> bool:
        """True when [start, end) holds only citations, a basis head before them (依据：) and markers after
        them: no 规定： that would introduce content after it."""
        spans = [(s, e) for s, e in bounds.near(start, end) if s < end and e > start]
        if not spans:
            return False
        head = text[start:max(start, spans[0][0])]
        gaps = [text[max(a_end, start):min(b_start, end)] for (_, a_end), (b_start, _) in zip(spans, spans[1:])]
        tail = text[min(end, max(start, spans[-1][1])):end]
        return bool(_REFERENCE_HEAD.fullmatch(head)) and all(_REFERENCE_TAIL.fullmatch(g) for g in gaps + [tail])

    @staticmethod
    def _strip(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
        parts, pos = [], start
        for s, e in spans:
            if e <= start or s >= end:
                continue
            parts.append(text[pos:max(pos, s)])
            pos = max(pos, e)
        parts.append(text[pos:end])
        return " ".join(parts)

    def support(self, sentence: str, article: Article) -> tuple[float, str]:
        """How well ``sentence`` says what ``article`` says: the checker's support score (bigrams weighted by
        their rarity within the article's law) and its label (supported / weak / unsupported)."""
        score = self._law_index(article.law).score(bigrams(sentence), bigrams(article.text))
        return score, self._label(score)

    def _label(self, score: float) -> str:
        if score >= self.config.supported_threshold:
            return "supported"
        if score >= self.config.weak_threshold:
            return "weak"
        return "unsupported"

    def _in_force_history(self, cit: Citation, day: str) -> Article | None:
        """An article the stored newest version removed (renumbered away), as the older text in force on
        ``day`` (商标法 2019 第三十九条 before the 2027 revision starts), or None."""
        from assistant.corpus.versions import text_start

        for h in self.store.law_history(cit.law):
            if h["id"] != cit.id:
                continue
            start, end = text_start(h["effective"], h["version_date"]), h["replaced_from"] or ""
            if (not start or start[:10] <= day) and end[:1].isdigit() and end[:10] > day:
                return Article(law=cit.law, number=h["number"], suffix=h["suffix"], text=h["text"],
                               number_text=h["number_text"], part=h["part"], chapter=h["chapter"],
                               section=h["section"], status=STATUS_CURRENT, effective=start,
                               version_date=h["version_date"], source=h["source"])
        return None

    def _check_one(self, cit: Citation, text: str, spans, context: set[str] | None,
                   day: str | None = None) -> CitationCheck:
        from assistant.corpus.status import STATUS_NOT_IN_FORCE_YET, article_status, day_or_today

        day = day or day_or_today(None)
        sentence, from_before = self._citing_text(text, cit, spans)
        grams = bigrams(sentence)
        in_context = None if context is None else (cit.id in context if cit.id else False)

        def result(exists, status, verdict, reason, score=0.0, article=None, search_law=None):
            search_law = search_law or (article.law if article is not None else None)
            wanted = verdict in ("not_found", "unresolved", "repealed", "superseded") or \
                (article is not None and self._label(score) == "unsupported")
            sugg = self._suggest(sentence, frozenset(grams), search_law, article.id if article else None,
                                 score) if wanted else (None, 0.0)
            s_art, s_score = sugg
            return CitationCheck(
                citation=cit, exists=exists, status=status, in_context=in_context, support_score=score,
                support_label=self._label(score), verdict=verdict, reason=reason,
                suggestion=s_art.label if s_art else None, suggestion_id=s_art.id if s_art else None,
                suggestion_score=s_score if s_art else None, article_label=article.label if article else None,
                sentence=sentence)

        if cit.law is None and cit.law_text and cit.law_text in self._law_names():
            # a full name with a version note (《中华人民共和国宪法修正案（2004年）》) that the name resolver
            # normalises into an ambiguous short name, but which names one stored law exactly
            cit.law, cit.error = cit.law_text, None
        if cit.law is None:
            law_key = normalize_law_name(cit.law_text or "")
            replacement = None
            if law_key in REPEALED:
                replacement = self.store.resolver().try_resolve(REPEALED[law_key].split("（")[0])
                status = "repealed"
            else:
                status = None
            reason = cit.error or "the law could not be resolved"
            return result(False, status, "repealed" if status else "unresolved", reason,
                          search_law=replacement or "*")

        article = self.store.find(cit.law, cit.number, cit.suffix) or self._in_force_history(cit, day)
        if article is None:
            versions = self.store.history(cit.id)
            if versions:
                return result(False, "historical", "superseded",
                              f"{cit.article_text} of {cit.law} is no longer in the current text "
                              f"(a superseded version exists)", search_law=cit.law)
            last = self.store.numbers(cit.law)
            tail = f"; the law's last article is 第{last[-1][0]}条{last[-1][1]}" if last else ""
            return result(False, None, "not_found", f"{cit.law} has no {cit.article_text}{tail}",
                          search_law=cit.law)

        on = article_status(self.store, article, day)
        law_index = self._law_index(cit.law)
        newest = article
        if on.substituted:  # the text in force that day is an older version: that is what is checked
            import dataclasses

            article = dataclasses.replace(article, text=on.text)
        score = law_index.score(grams, bigrams(article.text))
        status = on.status.key
        if on.substituted and on.stored is not None and on.stored.not_yet:
            new_score = law_index.score(grams, bigrams(newest.text))
            if new_score >= self.config.supported_threshold and new_score >= score + self.config.suggest_margin:
                # the sentence says what the number says in a revision not yet in force (商标法第四十三条 for
                # the ten-year term, before 2027-01-01): that is citing law not in force that day
                from assistant.corpus.status import older_counterpart

                older = older_counterpart(self.store, newest, day)
                check = result(True, on.stored.key, "not_yet_in_force",
                               f"{newest.label} says this in the version that is {on.stored.label}; on {day} "
                               f"{cit.article_text} of the law in force says something else"
                               + (f" (the same provision is {older.label})" if older is not None else ""),
                               new_score, newest)
                if older is not None:
                    check.suggestion, check.suggestion_id = older.label, older.id
                    check.suggestion_score = law_index.score(grams, bigrams(older.text))
                return check
        paras = article.paragraphs
        if cit.paragraph is not None and cit.paragraph > len(paras):
            return result(True, status, "not_found", f"{article.label} exists but has only {len(paras)} 款",
                          score, article, search_law=cit.law)
        if cit.item is not None:
            items = [i for i in article.items if cit.paragraph is None or i.paragraph == cit.paragraph]
            if cit.item > len(items):
                return result(True, status, "not_found", f"{article.label} exists but has no 第{cit.item}项 there",
                              score, article, search_law=cit.law)
        if on.status.status == STATUS_REPEALED:
            return result(True, status, "repealed", f"{article.label} belongs to a repealed law", score, article,
                          search_law=None)
        if on.status.status == STATUS_HISTORICAL:
            return result(True, status, "superseded", f"{article.label} is a historical version", score, article)
        if on.status.status == STATUS_NOT_IN_FORCE_YET:
            return result(True, status, "not_yet_in_force",
                          f"{article.label} is not in force on {day}: {on.status.label}", score, article)
        if in_context is False:
            return result(True, status, "not_in_context",
                          f"{article.label} exists but was not among the articles given to the model", score, article)
        reason = f"{article.label} exists ({on.status.label} on {day})"
        if on.substituted:
            reason += f"; checked against the text in force that day (the version from {on.status.start})"
        if from_before:
            reason += "; a bare reference on a basis line: scored against the answer before it"
        if self._label(score) != "supported":
            reason += f"; the citing sentence is {self._label(score)}ly related to its text (score {score:.2f})" \
                if self._label(score) == "weak" else f"; the citing sentence does not match its text (score {score:.2f})"
        return result(True, status, "verified", reason, score, article)

    def _suggest_uncached(self, sentence: str, grams: frozenset[str], law: str | None, exclude: str | None,
                          cited_score: float) -> tuple[Article | None, float]:
        if not grams or not law:
            return None, 0.0
        if law == "*":  # unknown law: ask the retriever for candidates across the corpus
            if self.retriever is None:
                return None, 0.0
            try:
                hits = self.retriever.search(sentence[:300], top_k=5)
            except Exception:  # a suggestion is optional; never fail the check for it
                return None, 0.0
            best, best_score = None, 0.0
            for h in hits:
                s = self._law_index(h.article.law).score(grams, bigrams(h.article.text))
                if s > best_score:
                    best, best_score = h.article, s
        else:
            best, best_score = self._law_index(law).best(grams)
        if best is None or best.id == exclude or best_score < self.config.suggest_threshold \
                or best_score < cited_score + self.config.suggest_margin:
            return None, 0.0
        return best, best_score


def _content_chars(text: str) -> int:
    return sum(len(run) for run in _CJK.findall(text))


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ranges covering the same characters."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


class _Bounds:
    """Sentence ends and citation spans of one text, for binary search (so that finding each citation's
    sentence does not rescan the text or every other citation)."""

    def __init__(self, text: str, spans: list[tuple[int, int]]):
        self.length = len(text)
        self.ends = [i for i, ch in enumerate(text) if ch in _SENTENCE_END]
        self.spans = _merge(spans)  # the union is what gets stripped; a range's 30 citations share one span
        self.starts = [s for s, _ in self.spans]

    def end_before(self, pos: int) -> int:
        """The last sentence end before ``pos`` (-1 when none)."""
        k = bisect.bisect_left(self.ends, pos) - 1
        return self.ends[k] if k >= 0 else -1

    def end_from(self, pos: int) -> int:
        """The first sentence end at or after ``pos`` (the text's length when none)."""
        k = bisect.bisect_left(self.ends, pos)
        return self.ends[k] if k < len(self.ends) else self.length

    def near(self, start: int, end: int) -> list[tuple[int, int]]:
        """The spans that may overlap [start, end)."""
        i = bisect.bisect_left(self.starts, start - _MAX_SPAN)
        j = bisect.bisect_left(self.starts, end)
        return self.spans[i:j]
