"""What the indexes see of an article, and how queries are cleaned and tokenised.

Tokenisation is jieba (search mode, so 抚养费 also yields 抚养) with the corpus' own vocabulary added: law
short names, heading phrases and, for 刑法, crime names. A private ``jieba.Tokenizer`` is used so that
other code in the process (ROUGE scoring, for one) keeps jieba's stock dictionary.
"""
from __future__ import annotations

import re
import threading
from typing import Iterable

from assistant.corpus.article import Article

#: bump when STOPWORDS or the segmentation change: cached tokens of earlier versions are then ignored
TOKENIZER_VERSION = 1

#: characters of article text the lexical index reads (long articles are mostly enumerations)
MAX_LEXICAL_CHARS = 4000

_HEADING_NUMBER = re.compile(r"^第[一二三四五六七八九十百零〇\d]+[编章节分]\s*")


def dense_text(article: Article) -> str:
    """Text given to the embedder: law, headings, article text (changes exactly when content_hash does)."""
    heads = [_HEADING_NUMBER.sub("", h) for h in article.headings]
    return " ".join([article.law_short, *heads, article.text])


def heading_phrases(article: Article) -> list[str]:
    return [p for p in (_HEADING_NUMBER.sub("", h).strip() for h in article.headings) if p]


# -- query cleaning ---------------------------------------------------------------------------------
#: procedural boilerplate of criminal judgments / indictments: it says nothing about which article applies
_BOILERPLATE = [
    r"[\u4e00-\u9fa5]{0,20}人民检察院(?:以[\u4e00-\u9fa5〔〕\[\]（）()\d号第字]*)?指控(?:称)?[:：，,]?",
    r"公诉机关指控(?:称)?[:：，,]?", r"经审理查明[:：，,]?", r"审理查明[:：，,]?", r"经审查[:：，,]?",
    r"(?:上述|以上)(?:犯罪)?事实[^。]*?(?:证实|认定|为证|予以证明|无异议)[^。]*。",
    r"(?:对上述指控|针对上述指控|为证实上述指控|公诉机关)[^。]*?(?:证据|提请|认为|建议|判处)[^。]*。",
    r"提请本院依法[^。]*。", r"足以认定[^。]*。", r"并有[^。]*?(?:证据|笔录|鉴定)[^。]*?证实[^。]*。",
    r"×+", r"\d{2,4}年(?:\d{1,2}月)?(?:\d{1,2}日)?(?:\d{1,2}时)?(?:\d{1,2}分)?许?",
    r"(?:被告人|被害人|证人)[\u4e00-\u9fa5]{1,2}某\d*", r"[\u4e00-\u9fa5]某\d*",
]
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in _BOILERPLATE))


def clean_query(text: str) -> str:
    """Remove procedural boilerplate, masked names/charges (××) and timestamps from fact-style text."""
    if len(text) < 60:  # questions are short; only long fact descriptions carry boilerplate
        return text
    cleaned = _BOILERPLATE_RE.sub(" ", text)
    return cleaned if len(cleaned.strip()) >= 10 else text


# -- tokenisation -----------------------------------------------------------------------------------
STOPWORDS = frozenset("""
的 了 在 是 和 与 或 及 等 其 之 为 以 于 对 由 被 将 把 从 向 也 都 而 并 但 则 就 又 还 即 如 若 该 本 此 这 那 有 无
不 没有 没 可以 应当 应 可 能 会 要 个 人 中 上 下 后 前 时 我 你 他 她 它 我们 你们 他们 吗 呢 吧 啊 呀 么 怎么 怎样 什么 如何
哪些 多少 是否 能否 请问 一下 一个 这个 那个 如果 因为 所以 已经 自己 进行 相关 有关 规定 情况 问题 现在 想 说 给 让 到 去 来
依照 依法 按照 根据 规定 之一 一 二 三 四 五 六 七 八 九 十 条 款 项 第 元 万元 月 日 年 某 等等 之间 以及 或者 并且 其他
""".split()) | frozenset("""
被告 被告人 被害 被害人 害人 人民 人民币 案发 案发后 鉴定 经鉴定 共计 合计 本院 公诉 指控 供述 同年 同月 当日 次日 凌晨 上午 下午
晚上 许 期间 先后 分别 其中 至今 以下 简称 位于 系 遂 后 便 将 经 审理 查明 事实 证据 证实 认定 价值 余元 余万元
""".split())
_TOKEN_OK = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]")


def expand_query_tokens(tokenizer: "Tokenizer", tokens: list[str]) -> list[str]:
    """The tokens plus the statute words of those the reviewed table knows (``assistant.search.wording``)."""
    from assistant.search.wording import REVIEWED_TERMS

    extra = [w for t in tokens if t in REVIEWED_TERMS for w in tokenizer.statute_tokens(REVIEWED_TERMS[t])]
    return tokens + extra


def query_tokens(tokenizer: "Tokenizer", text: str, *, clean_facts: bool = True, synonyms: bool = True) -> list[str]:
    """A query's search words: boilerplate of fact reports removed, jieba tokens, the reviewed table's statute
    words added. The one
    definition for searching and for learning from questions (the two must see the same words)."""
    tokens = tokenizer.tokens(clean_query(text) if clean_facts else text)
    return expand_query_tokens(tokenizer, tokens) if synonyms else tokens


_BASE_LOCK = threading.Lock()
_BASE: dict = {}
_CACHE: dict[tuple[str, ...], "Tokenizer"] = {}


def _base_dictionary():
    """jieba's stock dictionary, loaded once per process (about a second) and copied per vocabulary."""
    import logging

    import jieba

    with _BASE_LOCK:
        if not _BASE:
            jieba.setLogLevel(logging.WARNING)
            base = jieba.Tokenizer()
            base.initialize()
            _BASE["freq"], _BASE["total"] = base.FREQ, base.total
    return _BASE["freq"], _BASE["total"]


class Tokenizer:
    """jieba with the corpus vocabulary; use ``Tokenizer.for_vocabulary`` to share instances."""

    def __init__(self, extra_words: Iterable[str] = ()):
        import jieba

        freq, total = _base_dictionary()
        self._jieba = jieba.Tokenizer()
        self._jieba.FREQ, self._jieba.total = dict(freq), total
        self._jieba.initialized = True
        self.extra_words = sorted({w for w in extra_words if 2 <= len(w) <= 20})
        for w in self.extra_words:
            self._jieba.add_word(w, freq=2000)

    @classmethod
    def for_vocabulary(cls, extra_words: Iterable[str]) -> "Tokenizer":
        key = tuple(sorted(set(extra_words)))
        with _BASE_LOCK:
            tok = _CACHE.get(key)
        if tok is None:
            tok = cls(key)
            with _BASE_LOCK:
                if len(_CACHE) > 8:
                    _CACHE.clear()
                _CACHE[key] = tok
        return tok

    def statute_tokens(self, phrase: str) -> list[str]:
        """Tokens of a reviewed-table phrase (memoised: the table is small and fixed)."""
        memo = self.__dict__.setdefault("_phrase_tokens", {})
        if phrase not in memo:
            memo[phrase] = self.tokens(phrase)
        return memo[phrase]

    def tokens(self, text: str) -> list[str]:
        return [t for t in self._jieba.cut_for_search(text, HMM=False)
                if t not in STOPWORDS and _TOKEN_OK.search(t) and not t.isdigit()]


def corpus_vocabulary(articles: Iterable[Article], crime_names: dict[str, list[str]] | None = None) -> list[str]:
    """Law short names, heading phrases (and their 罪 names), crime names: added to jieba's dictionary."""
    words: set[str] = set()
    for a in articles:
        words.add(a.law_short)
        for h in heading_phrases(a):
            if len(h) <= 12:
                words.add(h)
            words.update(p for p in re.split(r"[、，和与及]", h) if 2 <= len(p) <= 10)
    for names in (crime_names or {}).values():
        words.update(names)
    return sorted(words)
