"""The question restated in statute wording by a generative model before search (optional, off by default).

Lay questions use other words than statutes (我老婆偷偷把房子卖了怎么办 / 夫妻一方擅自处分共同财产). The
reviewed table (``assistant.search.wording``) and the learned map (``assistant.search.learned``) cover the
words they know; a generative model the user already runs for answering can restate any question:

    rewriter = QueryRewriter(complete)          # complete(messages, max_new_tokens) -> text, e.g.
                                                # assistant.answer.backends.base.rewriter_for(backend)
    query = read_query("我老婆偷偷把房子卖了怎么办", rewriter=rewriter)
    query.rewritten                             # ['夫妻共同财产', '擅自处分', '无权处分']

What the model writes is parsed defensively (``parse_rewrite``): law names in 《》 and article numbers
(第…条 / 款 / 项 …) are cut out first, since a rewrite must never add a citation; then only runs of Chinese
characters are kept (English, code blocks, digits and markup are dropped), question words and filler are dropped,
and the phrases are capped in number and length. The phrases join the ``Query`` (``Query.rewritten``, part
of ``Query.statute_text``), which the reworded search ranks (``Retriever.search``), and clause choice and
the gate read the same ``Query``. A model that fails or writes nothing usable leaves the question as it was.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Callable

from assistant.search.query import QUESTION_FILLER
from assistant.search.text import clean_query

log = logging.getLogger(__name__)

#: what the model is asked (the system turn). No worked example: Qwen2.5-0.5B copied an example's terms into
#: the rewrite of unrelated questions (离婚 terms for a theft case); without one it repeats the question's words
#: at worst, which ``parse_rewrite`` drops
REWRITE_INSTRUCTION = ("你是法律检索助手。请把用户的问题改写成法条中的用语，只输出3到6个法律术语，用空格分隔。"
                       "不要解释，不要回答问题，不要写法律名称或条文编号。")

#: a law's name in 《》 and an article / paragraph / item number (Chinese or Arabic numerals); a law's name
#: written before the number without 《》 (刑法第133条) is left as its own run and dropped by ``_LAW_NAME``
_CITATION = re.compile(r"《[^》]{0,60}》?|第\s*[零〇一二三四五六七八九十百千万两\d]+\s*[条款项章节编目](?:之[一二三四五六七八九十])?")
#: a law's name on its own (中华人民共和国刑法, 民法典, 劳动合同法): the model must not name the law either
_LAW_NAME = re.compile(r"^(?:中华人民共和国)?[\u4e00-\u9fff]{0,10}(?:法典|法|条例)$")
#: everyday legal words ending in 法 that are no law's name
_NOT_A_LAW = frozenset({"违法", "合法", "非法", "不法", "犯法", "守法", "执法", "司法", "立法", "方法", "办法", "做法",
                        "说法", "想法", "无法", "依法", "枉法", "知法"})
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
#: where a run longer than a term (a sentence) is split
_JOINER = re.compile(r"[的和与及或是]")
#: words of the answer's frame, not of its content
_FILLER = QUESTION_FILLER | frozenset({"法律术语", "术语", "法条", "条文", "法律规定", "根据", "依据", "相关", "问题",
                                       "用户", "改写", "输出", "关键词", "可能", "涉及", "以及", "或者", "用语"})


def parse_rewrite(text: str, question: str = "", max_phrases: int = 6, max_chars: int = 12,
                  total_chars: int = 48) -> list[str]:
    """The statute phrases of a model's rewrite: citations and law names removed, Chinese runs only, each at
    least 2 and at most ``max_chars`` characters (a longer run is a sentence, not a term: split at 的 / 和 /
    与 …, and what is still longer cut), at most ``max_phrases`` phrases and ``total_chars`` characters in
    all, each once. A phrase made mostly of the question's own character pairs (the question repeated, or
    reworded from its own words: a small model's habit) adds nothing to search and is dropped, and so is
    one of the instruction's own words (法律检索助手)."""
    if not text:
        return []
    text = re.sub(r"<think>.*?(</think>|$)", " ", text, flags=re.S)  # a reasoning model's scratchpad
    text = re.sub(r"```.*?(```|$)", " ", text, flags=re.S)  # a code block (a coder model's habit)
    text = _CITATION.sub(" ", text)
    out: list[str] = []
    used = 0
    asked = _pairs(question)
    runs = [part for run in _CJK_RUN.findall(text)
            for part in ([run] if len(run) <= max_chars else _JOINER.split(run))]
    for run in runs:
        phrase = run[:max_chars]
        if (len(phrase) < 2 or phrase in _FILLER or phrase in out or phrase in REWRITE_INSTRUCTION
                or _restates(phrase, asked)
                or (_LAW_NAME.match(phrase) and phrase not in _NOT_A_LAW)):
            continue
        if used + len(phrase) > total_chars:
            break
        out.append(phrase)
        used += len(phrase)
        if len(out) >= max_phrases:
            break
    return out


def _pairs(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _restates(phrase: str, asked: set[str]) -> bool:
    """Most (70%) of the phrase's character pairs are the question's: its words, not the statute's."""
    pairs = _pairs(phrase)
    return len(pairs & asked) >= 0.7 * len(pairs)


class QueryRewriter:
    """Asks a generative model for the statute wording of a question, parses it (``parse_rewrite``) and keeps
    the result per question (a follow-up asked again, a retried request, the gate's second reading cost no
    second generation). ``complete(messages, max_new_tokens) -> text`` is any greedy chat completion; the
    answer stage makes one from the backend already loaded (``assistant.answer.backends.base.rewriter_for``).
    A failing model is logged and the question searched as it is."""

    def __init__(self, complete: Callable[[list[dict], int], str], *, max_new_tokens: int = 48,
                 question_chars: int = 256, cache_size: int = 2048, name: str | None = None):
        self.complete = complete
        self.max_new_tokens = max_new_tokens
        #: characters of the (cleaned) question shown to the model: a case description's opening carries
        #: the facts, and the prompt's cost grows with its length
        self.question_chars = question_chars
        self.name = name
        self._cache: OrderedDict[str, list[str]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def messages(self, question: str) -> list[dict]:
        shown = clean_query(question.strip())[:self.question_chars]
        return [{"role": "system", "content": REWRITE_INSTRUCTION}, {"role": "user", "content": shown}]

    def rewrite(self, question: str) -> list[str]:
        """The question's statute phrases (empty when the model fails or writes nothing usable)."""
        key = question.strip()
        if not key:
            return []
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return list(self._cache[key])
        try:
            raw = self.complete(self.messages(key), self.max_new_tokens)
        except Exception as exc:  # noqa: BLE001 - the rewrite is an aid: a broken model must not stop search
            log.warning("question rewrite failed (searching the question as asked): %s", exc)
            return []
        phrases = parse_rewrite(raw, key)
        with self._lock:
            self._cache[key] = phrases
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return list(phrases)

    def describe(self) -> dict:
        return {"model": self.name, "max_new_tokens": self.max_new_tokens, "question_chars": self.question_chars}
