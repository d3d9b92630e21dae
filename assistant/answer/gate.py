"""The relevance gate: is this a legal question the corpus can answer, and does it name a law the corpus
lacks or one that was repealed?

- Off-topic questions (今天天气怎么样, 推荐北京火锅店) get a short refusal and no statute quotes. The decision
  combines two small question classifiers fitted at first use from questions written for this project
  (``data/gate_questions.txt``, plus the packaged lay questions as legal ones) — one on character 1-2-grams
  of the question's content words (question words such as 怎么办 / 什么 / 吗 removed), with sentences
  sampled from the corpus as more legal text, and one on the index embedder's vectors, with article vectors
  sampled from the index as more legal text, so that 网购被骗了 counts as legal by meaning (诈骗) though it
  shares no character with the statutes' wording — with retrieval evidence (how well the best 款 matches the question by meaning and by words).
- A law the question names that is not in the corpus (《工伤保险条例》): the answer says so first and goes
  on with what was found instead.
- A repealed law (婚姻法第三十二条): the answer says what replaced it and answers from the successor.
"""
from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from assistant.corpus.laws import REPEALED, normalize_law_name, successor_topic

DATA = Path(__file__).parent / "data" / "gate_questions.txt"

REFUSAL = ("这不是法律问题，法条库中没有相关条文，无法回答。我只能依据中国法律法规回答法律问题，"
           "例如：离婚冷静期是多久？醉驾怎么处罚？")
NOT_IN_CORPUS = "法条库中没有《{name}》，无法引用它的条文；以下是检索到的其他相关条文。"
#: a short name several laws share (交通法): their names, never a guess and never "not in the corpus"
AMBIGUOUS_NAME = "《{name}》不是一部法律的全称，可能指{candidates}，请写明全称；以下是检索到的相关条文。"
REPEALED_NOTE = "《{name}》已废止，现由《{successor}》取代（{when}）；以下依据《{successor}》作答，原条文编号不再适用。"
#: names of laws written in a question: 《…》, or a run ending in 法 / 条例 / 规定 / 办法 before 第N条 or at an end
_BOOK = re.compile(r"《([^《》]{2,40})》")
_BARE = re.compile(r"([\u4e00-\u9fff]{2,16}?(?:法|条例|规定|办法|细则))(?=第|[的里中]|规定|$|[，。？?\s])")
#: how the titles of statutes and other legal documents end
_LAW_TITLE_END = re.compile(r"(?:法|法典|条例|规定|办法|细则|规则|解释|决定|决议|意见|通知|批复|答复|纪要|公约|条约|协定|"
                            r"章程|修正案|规范|准则)(?:（[^（）]*）)?$")
_LAW_JOINER = re.compile(r"(?<=[法例定])(?:和|与|及|、|或者|或)")
_ARTICLE_REF = re.compile(r"第[零一二三四五六七八九十百千0-9]+条(?:之[一二三四五六七八九十])?(?:第[一二三四五六七八九十]+款)?")


def missing_law_note(resolver, name: str) -> str:
    """What the answer says first about a law name that resolves to no law: the laws it may mean when several
    fit (交通法 -> 国防交通法、道路交通安全法 …), else that the corpus lacks it."""
    from assistant.corpus.laws import AmbiguousLawName

    try:
        resolver.resolve(name)
    except AmbiguousLawName as exc:
        if exc.candidates:
            more = " 等" if len(exc.candidates) > 5 else ""
            return AMBIGUOUS_NAME.format(name=name, candidates="、".join(f"《{c}》" for c in exc.candidates[:5]) + more)
    except ValueError:
        pass
    return NOT_IN_CORPUS.format(name=name)


@dataclass
class LawNotes:
    """What the question's law names mean for the answer."""

    note: str | None = None  # said before the answer
    law: str | None = None  # search only this law (the successor of a repealed one)
    query: str | None = None  # the query to search with instead of the question
    missing: list[str] = field(default_factory=list)
    repealed: list[str] = field(default_factory=list)


@dataclass
class GateResult:
    refuse: bool
    legal_probability: float
    score: float
    reason: str
    message: str = REFUSAL
    notice: str | None = None
    note: str | None = None


@dataclass
class GateConfig:
    #: refuse when the combined score is below this (set with scripts/bench_answers.py --gate-report on
    #: the STARD dev questions as positives and held-out off-topic questions as negatives)
    threshold: float = 0.5
    #: how much each piece of evidence counts in the combined score
    classifier_weight: float = 1.0
    cosine_weight: float = 0.8  # best question-款 cosine, above cosine_floor
    coverage_weight: float = 0.6  # share of the question's words found in the best 款
    cosine_floor: float = 0.25
    corpus_sentences: int = 1500  # legal sentences sampled from the corpus for the classifier


def read_gate_questions(path: Path = DATA) -> tuple[list[str], list[str]]:
    pos, neg = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("+ "):
            pos.append(line[2:].strip())
        elif line.startswith("- "):
            neg.append(line[2:].strip())
    return pos, neg


#: lay questions the classifiers learn from as legal examples: the first rows of the file (the questions written
#: before the corpus-wide set, about everyday topics: 离婚冷静期, 试用期, 醉驾 …) and a spread of the rest, one
#: question per article taken round-robin over the laws they cite, so that a question about a law those first
#: rows never touch (献血法, 种子法, 渔业法) has legal examples of its kind: with the first 1,760 alone (33 of 319
#: laws) 一次最多能献多少血 and 什么样的种子算假种子 were refused. Far more rows than the ~1,400 other questions
#: shift the classifiers' probabilities away from what the fitted combination expects: refit it with
#: scripts/fit_gate.py when changing these or gate_questions.txt (the text and semantic fits kept in a build
#: folder are keyed by them, so they are refitted at the first question after a change; the combination is not).
GATE_LAY_QUESTIONS = 1760
GATE_LAY_SPREAD = 1500


def spread_questions(rows: list[dict], n: int) -> list[str]:
    """Up to ``n`` questions of labelled ``rows`` (``read_question_rows``), one per article, taken round-robin
    over the laws of their first gold article (in the order the laws first occur), each law's in file order."""
    by_law: dict[str, list[str]] = {}
    seen: set = set()
    for row in rows:
        if not row.get("gold"):
            continue
        law, number, suffix = row["gold"][0]
        if (law, number, suffix) in seen:
            continue
        seen.add((law, number, suffix))
        by_law.setdefault(law, []).append(row["query"])
    out: list[str] = []
    queues = [iter(qs) for qs in by_law.values()]
    while queues and len(out) < n:
        live = []
        for queue in queues:
            question = next(queue, None)
            if question is not None and len(out) < n:
                out.append(question)
                live.append(queue)
        queues = live
    return out


def lay_gate_questions(path: Path) -> list[str]:
    """The lay questions of ``path`` the gate learns from (see GATE_LAY_QUESTIONS)."""
    from assistant.search.learned import read_question_rows

    rows = read_question_rows(path)
    first = [row["query"] for row in rows[:GATE_LAY_QUESTIONS]]
    return list(dict.fromkeys(first + spread_questions(rows[GATE_LAY_QUESTIONS:], GATE_LAY_SPREAD)))


def training_key(path: Path = DATA) -> str:
    """What the classifiers' training questions are, without reading them (a cold ``assistant ask`` keys the
    fits kept in the build folder with it): the written questions, the lay question file's content hash and
    how the gate samples it."""
    import hashlib

    from assistant.search.learned import lay_questions_id, lay_questions_path

    lay_path = lay_questions_path()
    parts = [hashlib.sha256(path.read_bytes()).hexdigest(), str(lay_questions_id(lay_path) if lay_path else None),
             f"first {GATE_LAY_QUESTIONS} + spread {GATE_LAY_SPREAD}"]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:24]


def training_questions(path: Path = DATA) -> tuple[list[str], list[str]]:
    """The classifiers' examples: the written gate questions, plus, as legal ones, lay questions of the file
    the index learns its everyday wording from (``search.learned.lay_questions_path``: the packaged file, or
    ``$ASSISTANT_LAY_QUESTIONS``; see GATE_LAY_QUESTIONS), so that 试用期最长多久 or 买的手机七天内坏了能换吗
    read as legal although no written gate question is like them."""
    from assistant.search.learned import lay_questions_path

    pos, neg = read_gate_questions(path)
    lay_path = lay_questions_path()
    if lay_path is not None:
        try:
            lay = lay_gate_questions(lay_path)
        except Exception as exc:  # a broken file fails the index build that reads it; here, do without
            import logging

            logging.getLogger(__name__).warning("lay questions not used by the gate: %s", exc)
            lay = []
        known = set(pos) | set(neg)
        pos = pos + [q for q in dict.fromkeys(lay) if q not in known]
    return pos, neg


#: greetings, question words and punctuation. Legal and other questions are both made of them, but the
#: classifier's legal examples are mostly statute sentences, which have none: left in, they taught it that a
#: question is not legal (怎么 weighed -4.7, so 网购被骗了 read 0.90 and 网购被骗了怎么办 0.21; greetings open many
#: chit-chat examples, so 您好，目前想要离婚，需要做哪些准备 read 0.18)
QUESTION_FORM = re.compile(r"您好|你好|哈喽|谢谢|麻烦问一下|请问一下|问一下|我想咨询一下|我想咨询|想咨询一下|想咨询|咨询一下|咨询下|我想问|"
                           r"怎么办|怎么样|怎么|怎样|如何|为什么|为啥|什么|啥|哪里|哪儿|哪个|哪些|哪家|哪|多少|多久|"
                           r"多长时间|几|吗|呢|吧|啊|呀|么|请问|是不是|能不能|可不可以|会不会|有没有|"
                           r"[？?！!。，,、：:；;\s]")


def question_content(text: str) -> str:
    """The question without its question words (what the text classifier reads)."""
    return QUESTION_FORM.sub("", text) or text


class QuestionClassifier:
    """P(legal question) from character n-grams of the content words; fitted once per process and corpus."""

    def __init__(self, positives: list[str], negatives: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        x = self.vectorizer.fit_transform([question_content(t) for t in positives + negatives])
        y = [1] * len(positives) + [0] * len(negatives)
        # balanced: the corpus sentences would otherwise outnumber the written negatives
        self.model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=1000)
        self.model.fit(x, y)

    def probability(self, text: str) -> float:
        return float(self.model.predict_proba(self.vectorizer.transform([question_content(text)]))[0, 1])


class SemanticClassifier:
    """P(legal question) from the index embedder's vectors (logistic regression). Legal examples: the
    legal training questions plus article vectors sampled from the index (weighted down: they are
    statements, not questions); other examples: the written other questions."""

    statute_weight = 0.3
    C = 4.0

    def __init__(self, positives=None, negatives=None, statutes=None, *, coef=None, intercept: float = 0.0):
        import numpy as np

        if coef is not None:  # a fit read back (see RelevanceGate.semantic)
            self.coef, self.intercept = np.asarray(coef, np.float32), float(intercept)
            return
        from sklearn.linear_model import LogisticRegression

        statutes = np.zeros((0, positives.shape[1]), np.float32) if statutes is None else statutes
        x = np.vstack([positives, statutes, negatives])
        y = [1] * (len(positives) + len(statutes)) + [0] * len(negatives)
        weights = [1.0] * len(positives) + [self.statute_weight] * len(statutes) + [1.0] * len(negatives)
        model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=3000)
        model.fit(x, y, sample_weight=weights)
        self.coef, self.intercept = model.coef_[0].astype(np.float32), float(model.intercept_[0])

    def probability(self, vector) -> float:
        import math

        import numpy as np

        z = float(np.dot(self.coef, np.asarray(vector, np.float32))) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


_QUESTION_VECTORS: dict = {}  # embedder id -> (texts, matrix): the written questions never change


def _text_hash(text: str) -> str:
    import hashlib

    return "gate-question:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def embed_texts(embedder, texts: list[str], cache_path: Path | None = None):
    """Document vectors of ``texts``: remembered per embedder for the process and, given ``cache_path``,
    kept in the home's vector cache (by embedder id and text hash), so a later process embeds only new
    questions."""
    import numpy as np

    key = getattr(embedder, "id", id(embedder))
    with _LOCK:
        known = _QUESTION_VECTORS.get(key)
        if known is not None and known[0] == texts:
            return known[1]
    vecs = None
    if cache_path is not None and getattr(embedder, "id", None):
        from assistant.search.vector_cache import VectorCache, embed_with_cache

        try:
            cache = VectorCache(cache_path)
            try:
                vecs, _ = embed_with_cache(embedder, cache, texts, [_text_hash(t) for t in texts])
            finally:
                cache.close()
        except Exception as exc:  # a read-only home: embed without the cache
            import logging

            logging.getLogger(__name__).info("gate question vectors not cached: %s", exc)
    if vecs is None:
        vecs = np.asarray(embedder.embed_documents(texts), np.float32)
    with _LOCK:
        _QUESTION_VECTORS[key] = (list(texts), vecs)
    return vecs


def sample_article_vectors(retriever, n: int, seed: int = 0):
    """Up to ``n`` article vectors read back from the dense index (no embedding); None when the index
    cannot give its vectors back (an IVF index without a direct map)."""
    import numpy as np

    dense = getattr(getattr(retriever, "index", None), "dense", None)
    if dense is None or dense.ntotal == 0:
        return None
    rows = np.random.default_rng(seed).choice(dense.ntotal, size=min(n, dense.ntotal), replace=False)
    try:
        return np.stack([dense.reconstruct(int(i)) for i in np.sort(rows)]).astype(np.float32)
    except Exception:
        return None


def corpus_sentences(store, n: int, seed: int = 0) -> list[str]:
    """Short legal sentences from the store: the first sub-sentence of evenly spaced articles."""
    import random

    arts = list(store.articles(in_force_only=True))
    rng = random.Random(seed)
    pick = rng.sample(arts, min(n, len(arts)))
    out = []
    for a in pick:
        first = re.split(r"[。；]", a.text, maxsplit=1)[0]
        if len(first) >= 6:
            out.append(first[:60])
    return out


_CLASSIFIERS: dict = {}
_LOCK = threading.Lock()
MODEL_FILE = Path(__file__).parent / "data" / "gate_model.json"
#: the semantic classifier fitted for an index, kept in its build folder
SEMANTIC_FILE = "gate_semantic.json"
FEATURES = ("text_probability", "semantic_probability", "top_cosine", "top_coverage", "max_specificity",
            "corpus_word_share")
#: the fitted file also holds combinations without some evidence (see RelevanceGate.variant)
VARIANT_DROPS = {"lexical": ("semantic_probability", "top_cosine"), "small": ("max_specificity", "corpus_word_share"),
                 "small_lexical": ("semantic_probability", "top_cosine", "max_specificity", "corpus_word_share")}
#: below this many articles, word statistics of the corpus say little: the "small" variants are used
SMALL_CORPUS = 5000


class TermSpecificity:
    """How much more often a word occurs in the statutes than in general Chinese: log of its document
    frequency in the index over its frequency in jieba's general dictionary. 劳动报酬, 借款人 score high;
    今天, 哪里 low."""

    _shared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, retriever) -> "TermSpecificity":
        """The one instance for ``retriever`` (the gate and the clause selector both read it; building it
        costs about a second)."""
        try:
            with _LOCK:
                known = cls._shared.get(retriever)
        except TypeError:  # an unhashable stand-in (tests): not shared
            return cls(retriever)
        if known is None:
            known = cls(retriever)
            with _LOCK:
                cls._shared[retriever] = known
        return known

    def __init__(self, retriever):
        import numpy as np

        lex = retriever.index.lexical
        self.vocab = lex.vocab
        weights = lex.weights.tocsc()
        self.df = np.diff(weights.indptr)
        self.n_docs = weights.shape[0]
        from assistant.search.text import stock_dictionary

        # jieba's stock word frequencies, loaded once per process for search too (a second per load)
        self.freq, self.total = stock_dictionary()
        self.tokenize = retriever.query_tokens

    def features(self, question: str) -> tuple[float | None, float]:
        """(the highest specificity of the question's words, the share of its words that occur in at least 3
        articles). The first is None when no word does: missing evidence, not low specificity (手机, 七天 in
        买的手机七天内坏了能换吗); the gate then uses the fitted file's typical value."""
        import math

        tokens = [t for t in self.tokenize(question) if len(t) >= 2]
        if not tokens:
            return None, 0.0
        specs, present = [], 0
        for t in tokens:
            d = int(self.df[self.vocab[t]]) if t in self.vocab else 0
            if d >= 3:
                present += 1
                specs.append(math.log((d + 1) / self.n_docs) - math.log((self.freq.get(t, 0) + 1) / self.total))
        return (max(specs) if specs else None), present / len(tokens)


def load_gate_model(path: Path = MODEL_FILE) -> dict | None:
    """The fitted combination (scripts/fit_gate.py): {"features", "coef", "intercept", "threshold"}."""
    import json

    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if tuple(model.get("features", ())) != FEATURES:
        return None
    return model


class RelevanceGate:
    def __init__(self, store, config: GateConfig | None = None, retriever=None, model: dict | None = None):
        self.store = store
        self.config = config or GateConfig()
        self.retriever = retriever
        self.model = model if model is not None else load_gate_model()
        self._specificity = None
        self._semantic = None
        self._semantic_lock = threading.Lock()

    def specificity(self) -> TermSpecificity | None:
        if self._specificity is None and self.retriever is not None:
            try:
                self._specificity = TermSpecificity.of(self.retriever)
            except Exception:  # an index without a lexical part: the other evidence decides
                self._specificity = False
        return self._specificity or None

    def variant(self) -> str:
        """Which fitted combination applies: all evidence, or without the cosine (a BM25-only index) and /
        or without word statistics (a small corpus)."""
        spec = self.specificity()
        small = spec is None or spec.n_docs < SMALL_CORPUS
        lexical = getattr(self.retriever, "embedder", None) is None
        return {(False, False): "full", (True, False): "lexical", (False, True): "small",
                (True, True): "small_lexical"}[(lexical, small)]

    def features(self, question, selection=None, text_probability: float | None = None,
                 semantic_probability: float | None = None) -> list[float]:
        """The gate's evidence. The two classifiers read the user's own words only. The retrieval evidence
        (best 款's cosine and word coverage, word specificity) is taken both on the user's own words and on
        the question with its statute wording (``Query.statute_text``: 假货 -> 欺诈 消费者 …), and the
        statute wording counts as much as the classifier believes the question is legal: the mapping
        孩子 -> 未成年人 子女 helps find the article for a legal question, but is no evidence that
        周末带孩子去哪里玩 is one. ``question``: a ``Query`` (or a question, read here)."""
        from assistant.search.query import read_query

        query = read_query(question)
        question, expanded = query.standalone, query.statute_text
        p = self.classifier().probability(question) if text_probability is None else text_probability
        ps = self.semantic_probability(question) if semantic_probability is None else semantic_probability
        spec = self.specificity()
        own_spec = spec.features(question) if spec is not None else (0.0, 0.0)
        exp_spec = (spec.features(expanded) if expanded != question else own_spec) if spec is not None \
            else (0.0, 0.0)
        if selection is not None:
            own = [selection.top_own_cosine, selection.top_own_coverage]
            exp = [selection.top_cosine, selection.top_coverage]
        else:
            own = exp = [0.0, 0.0]
        own, exp = own + list(own_spec), exp + list(exp_spec)
        out = [p, ps]
        for o, e in zip(own, exp):
            if e is None:  # no statute word even with the statute wording: imputed in judge()
                out.append(None)
            else:
                o = 0.0 if o is None else o
                out.append(o + p * max(0.0, e - o))
        return out

    def impute(self, x: list) -> list[float]:
        """Missing evidence (None) replaced by the fitted file's typical value for it (0 without one)."""
        typical = (self.model or {}).get("missing", {})
        return [typical.get(name, 0.0) if v is None else v for name, v in zip(FEATURES, x)]

    # -- the classifier (lazy: fitted on first use) --------------------------------------------------
    def classifier(self):
        """The text classifier (``gate_text.FittedTextClassifier``)."""
        from assistant.search.learned import lay_questions_path

        key = (id(self.store), self._build_folder(), self.config.corpus_sentences, str(lay_questions_path()))
        with _LOCK:
            clf = _CLASSIFIERS.get(key)
            if clf is None:
                from assistant.answer.gate_text import text_classifier

                # kept in the index's build folder: a fresh process reads it back instead of fitting
                clf = _CLASSIFIERS[key] = text_classifier(self)
            return clf

    def _build_folder(self) -> Path | None:
        folder = getattr(getattr(self.retriever, "index", None), "folder", None)
        return Path(folder) if folder is not None else None

    def semantic(self) -> SemanticClassifier | None:
        """The embedding classifier for this gate's index (None without an embedder: the "lexical" variant,
        fitted without it, then decides). Fitted at first use and kept in the index's build folder
        (``gate_semantic.json``, keyed by the embedder and the training questions), with the questions'
        vectors in the home's vector cache: the first process after a build pays a few seconds, later ones
        read the fit back."""
        # concurrent first questions (the web app) wait for the one fit instead of being judged without it
        with self._semantic_lock:
            if self._semantic is None:
                embedder = getattr(self.retriever, "embedder", None)
                fitted = False
                if embedder is not None:
                    try:
                        fitted = self._fit_semantic(embedder)
                    except Exception as exc:  # the other evidence still decides; say why in the log
                        import logging

                        logging.getLogger(__name__).warning("semantic question classifier unavailable: %s", exc)
                self._semantic = fitted
        return self._semantic or None

    def _fit_semantic(self, embedder) -> SemanticClassifier:
        import hashlib
        import json
        import os

        digest = hashlib.sha256("\n".join([getattr(embedder, "id", ""), str(self.config.corpus_sentences),
                                             str(SemanticClassifier.C), str(SemanticClassifier.statute_weight),
                                             training_key()]).encode("utf-8")).hexdigest()[:24]
        folder = self._build_folder()
        saved = folder / SEMANTIC_FILE if folder is not None else None
        if saved is not None:
            try:
                fit = json.loads(saved.read_text(encoding="utf-8"))
                if fit.get("key") == digest:
                    return SemanticClassifier(coef=fit["coef"], intercept=fit["intercept"])
            except (OSError, ValueError, KeyError):
                pass
        from assistant.search.index import default_cache_path

        pos, neg = training_questions()
        cache = default_cache_path(folder.parent.parent) if folder is not None else None
        vecs = embed_texts(embedder, pos + neg, cache)
        statutes = sample_article_vectors(self.retriever, self.config.corpus_sentences)
        clf = SemanticClassifier(vecs[:len(pos)], vecs[len(pos):], statutes)
        if saved is not None:
            try:  # written whole, then renamed: a reader never sees half a file
                part = saved.with_name(f"{saved.name}.{os.getpid()}.part")
                part.write_text(json.dumps({"key": digest, "coef": [float(c) for c in clf.coef],
                                            "intercept": clf.intercept}), encoding="utf-8")
                os.replace(part, saved)
            except OSError:  # a read-only index: fit again next time
                pass
        return clf

    def semantic_probability(self, question: str) -> float:
        clf = self.semantic()
        if clf is None:
            return 0.0
        return clf.probability(self.retriever.embedder.embed_documents([question])[0])

    # -- laws named in the question -------------------------------------------------------------------
    def law_notes(self, question: str) -> LawNotes:
        resolver = self.store.resolver()
        names = [m.group(1) for m in _BOOK.finditer(question)]
        # article numbers out first: "婚姻法第三十二条怎么规定" must not read "第三十二条怎么规定" as a law name
        bare_text = _ARTICLE_REF.sub(" ", _BOOK.sub(" ", question))
        # two laws joined (工伤保险条例和劳动合同法第十条) are two names; 中华人民共和国's 和 joins none
        names += [part for m in _BARE.finditer(bare_text) for part in _LAW_JOINER.split(m.group(1)) if part]
        notes = LawNotes()
        parts = []
        for raw in dict.fromkeys(names):
            name = re.sub(r"^(根据|依据|按照|依照|请问|关于|我国|国家)", "", raw)
            if len(name) < 2 or resolver.try_resolve(name):
                continue
            key = normalize_law_name(name)
            if key in REPEALED:
                successor_text = REPEALED[key]
                successor = successor_text.split("（")[0]
                when = successor_text[len(successor):].strip("（）") or "已废止"
                notes.repealed.append(key)
                parts.append(REPEALED_NOTE.format(name=key, successor=successor, when=when))
                full = resolver.try_resolve(successor)
                if full:
                    notes.law = full
                    # the old article number means nothing in the successor: search by subject instead
                    rest = question.replace(f"《{raw}》", " ").replace(raw, " ")
                    rest = _ARTICLE_REF.sub(" ", rest).strip(" ，。？?的")
                    notes.query = (successor_topic(key) + " " + rest).strip() or successor
            elif self._looks_like_law(name):
                notes.missing.append(name)
                parts.append(missing_law_note(resolver, name))
                if not notes.law:
                    # what the corpus has instead is found by subject: its article numbers would only match
                    # some other law's same-numbered article (工伤保险条例第十四条 -> 领事特权条例第十三条)
                    rest = _ARTICLE_REF.sub(" ", question.replace(f"《{raw}》", " ").replace(raw, " "))
                    rest = rest.strip(" ，。？?的")
                    subject = re.sub(r"(?:法|条例|规定|办法|细则)$", "", name)
                    notes.query = (subject + " " + rest).strip()
        notes.note = "".join(parts) or None
        return notes

    @staticmethod
    def _looks_like_law(name: str) -> bool:
        # 宪法, 工伤保险条例, 个人所得税法; not 办法 / 想法 / 说法 / 方法 alone, and not a book or film in 《》
        # (《罪与罚》这本书值得看吗 names no law), nor a question about a rule (是怎么规定 / 有哪些规定)
        return (len(name) >= 3 and _LAW_TITLE_END.search(name) is not None
                and not re.fullmatch(r".{0,2}(?:办法|想法|说法|方法|做法|看法|规定)", name)
                and not re.search(r"怎么|怎样|如何|什么|哪些|是否|有没有", name))

    # -- the decision ---------------------------------------------------------------------------------
    def judge(self, question, selection=None, hits=None, law: str | None = None,
              include_repealed: bool = False, notes: LawNotes | None = None) -> GateResult:
        cfg = self.config
        if law or (notes and (notes.repealed or notes.missing)) or any(h.via == "citation" for h in hits or []):
            # the user named a law or an article: a legal question by definition
            return GateResult(False, 1.0, 1.0, "the question names a law or an article")
        x = self.impute(self.features(question, selection))
        p, ps, cos, cov = x[0], x[1], x[2], x[3]
        if self.model is not None:
            import math

            model = self.model.get("variants", {}).get(self.variant(), self.model)
            z = model["intercept"] + sum(c * v for c, v in zip(model["coef"], x))
            score = 1.0 / (1.0 + math.exp(-z))
            threshold = model["threshold"]
        else:  # no fitted combination shipped: a hand-set one
            score = (cfg.classifier_weight * p + cfg.cosine_weight * max(0.0, cos - cfg.cosine_floor)
                     + cfg.coverage_weight * cov)
            threshold = cfg.threshold
        refuse = score < threshold
        reason = (f"法律问题概率 {p:.2f}（按语义 {ps:.2f}），最相关条款语义相似度 {cos:.2f}，词语覆盖 {cov:.2f}，"
                  f"法律用语特异度 {x[4]:.1f}：综合得分 {score:.2f} {'低于' if refuse else '不低于'}阈值 {threshold:.2f}")
        return GateResult(refuse, p, score, reason, notice=("未作答：问题与法律无关（" + reason + "）") if refuse else None)
