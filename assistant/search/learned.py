"""Everyday wording -> statute wording, learned from question -> article pairs (never written by hand).

People ask 买到假货能赔几倍 where the statute says 欺诈 ... 增加赔偿 ... 三倍; 离婚冷静期 where it says 三十日内
... 撤回离婚登记申请. Given labelled pairs (a question, the articles that answer it) two things are learned:

* a term map: for each question word, the statute words that the articles answering questions with that
  word use far more often than the corpus does (a pointwise-mutual-information score, counted once per
  pair); the query is expanded with them, so the mapping also helps articles no training question cited;
* article associations: which question words were asked about which article; a new question sharing
  rare words with earlier questions about an article lends that article a little score.

Two sources, the first found wins:

* a deployment's own: ``scripts/learn_query_terms.py`` learns from labelled files the user points to and
  writes ``$ASSISTANT_HOME/learned_terms.json`` (or ``$ASSISTANT_LEARNED_TERMS``);
* the packaged one: ``assistant/search/data/lay_questions.jsonl``, everyday questions written for this
  project (not taken from any evaluation set) with the articles that answer them. Every index build learns
  from it against its own corpus and vocabulary and stores the artefact in the build folder, so it swaps in
  and out with the index; the file's hash is part of the build config, so editing it rebuilds on
  ``index update`` (from cached tokens and vectors). ``ASSISTANT_LAY_QUESTIONS=none`` (or another file)
  changes the source.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import scipy.sparse as sp

FORMAT = 1


@dataclass
class LearnConfig:
    min_pairs: int = 2  # a (question word, statute word) link must be seen in this many pairs
    min_pmi: float = 1.0  # natural-log lift over the statute word's corpus frequency
    per_term: int = 6  # statute words kept per question word
    #: questions with more distinct words than this (case descriptions) feed the article associations and
    #: the map used for long queries (``term_map_facts``), not the one for short questions: every word of a
    #: 400-character fact is linked to every word of its article, which helps facts and drowns questions
    max_map_tokens: int = 40


def learn(pairs: Iterable[tuple[list[str], list[int]]], lexical, ids: list[str],
          config: LearnConfig | None = None) -> dict:
    """``pairs``: (question tokens, rows of the gold articles in the index). ``lexical``: the index's
    ``LexicalIndex`` (its matrix gives each article's words). Returns the artefact as a dict."""
    config = config or LearnConfig()
    presence = lexical.weights.tocsr()
    inv_vocab = {i: t for t, i in lexical.vocab.items()}
    n_docs = presence.shape[0]
    df = np.bincount(presence.indices, minlength=presence.shape[1]).astype(np.float64)
    co: dict[str, Counter] = defaultdict(Counter)  # from short questions
    co_all: dict[str, Counter] = defaultdict(Counter)  # from every question, case descriptions included
    q_count: Counter = Counter()
    q_count_all: Counter = Counter()
    art: dict[str, Counter] = defaultdict(Counter)
    question_df: Counter = Counter()
    n_pairs = 0
    for tokens, rows in pairs:
        qset = set(tokens)
        if not qset or not rows:
            continue
        question_df.update(qset)
        words: set[int] = set()
        for r in rows:
            words.update(presence.indices[presence.indptr[r]:presence.indptr[r + 1]].tolist())
            art[ids[r]].update(qset)
        for t in qset:
            q_count_all[t] += 1
            co_all[t].update(words)
            if len(qset) <= config.max_map_tokens:
                q_count[t] += 1
                co[t].update(words)
        n_pairs += 1

    def term_map(co, q_count) -> dict[str, list[list]]:
        out: dict[str, list[list]] = {}
        for t, counter in co.items():
            scored = []
            for w, c in counter.items():
                if c < config.min_pairs:
                    continue
                word = inv_vocab[w]
                if word == t:
                    continue
                pmi = math.log((c / q_count[t]) / max(df[w] / n_docs, 1e-9))
                if pmi >= config.min_pmi:
                    scored.append((pmi * c / q_count[t], word))
            scored.sort(reverse=True)
            if scored:
                top = scored[:config.per_term]
                best = top[0][0]
                out[t] = [[w, round(s / best, 4)] for s, w in top]
        return out

    return {"format": FORMAT, "pairs": n_pairs, "term_map": term_map(co, q_count),
            "term_map_facts": term_map(co_all, q_count_all),
            "articles": {a: dict(c) for a, c in art.items()}, "question_df": dict(question_df)}


def save(artefact: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(artefact, ensure_ascii=False), "utf-8")
    os.replace(tmp, path)


def default_path(index_dir: str | Path | None = None) -> Path:
    if os.environ.get("ASSISTANT_LEARNED_TERMS"):
        return Path(os.environ["ASSISTANT_LEARNED_TERMS"])
    from assistant.config import Paths

    index_dir = Path(index_dir) if index_dir is not None else Paths().index_dir
    return index_dir.parent / "learned_terms.json"


PACKAGED_QUESTIONS = Path(__file__).with_name("data") / "lay_questions.jsonl"
BUILD_FILE = "learned_terms.json"  # the packaged source's artefact, inside each build folder


def lay_questions_path() -> Path | None:
    """The question file index builds learn from: ``$ASSISTANT_LAY_QUESTIONS`` (``none`` for none), else the
    packaged one; None when there is none."""
    forced = os.environ.get("ASSISTANT_LAY_QUESTIONS", "").strip()
    if forced.lower() in ("none", "off", "0"):
        return None
    path = Path(forced) if forced else PACKAGED_QUESTIONS
    return path if path.is_file() else None


def lay_questions_id(path: Path | None = None) -> str | None:
    """``name:sha256[:16]`` of the question file (part of the build config: an edit means a rebuild)."""
    import hashlib

    path = path if path is not None else lay_questions_path()
    if path is None:
        return None
    return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"


def read_question_rows(path: str | Path) -> list[dict]:
    """Rows ``{"id", "query", "gold": [(law, number, suffix)]}`` of a labelled file (read and checked by
    ``assistant.data.datasets``: a broken line is an error naming the file, line and field); a citation may
    add ``"suffix": "之一"``, which retrieval evaluation folds."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _ROWS:  # one read per file version per process: a build learns from it three times
        _ROWS.clear()
        _ROWS[key] = _read_question_rows(path)
    return [dict(row, gold=list(row["gold"])) for row in _ROWS[key]]


_ROWS: dict = {}


def _read_question_rows(path: Path) -> list[dict]:
    from assistant.data.datasets import read_rows

    return [{"id": row.id if row.id_given else f"row-{n}", "query": row.question,
             "gold": [(c.law, c.number, c.suffix) for c in
                      (row.citations if row.citations is not None else row.articles) if c.law is not None]}
            for n, row in enumerate(read_rows(path, need_gold=True), 1)]


def learn_from_questions(path: str | Path, store, ids: list[str], lexical, tokens_of,
                         config: LearnConfig | None = None) -> dict:
    """The artefact learned from a question file against one index: gold laws are resolved with the
    store's resolver (短名 such as 民法典), articles the corpus lacks are skipped, ``tokens_of(query)`` gives
    the same words search uses."""
    rows = gold_rows(read_question_rows(path), store, ids)
    artefact = learn([(tokens_of(q), g) for q, g in rows], lexical, ids, config)
    artefact["source"] = lay_questions_id(Path(path))
    return artefact


def gold_rows(rows: list[dict], store, ids: list[str]) -> list[tuple[str, list[int]]]:
    """(question, index rows of its gold articles) for the rows of ``read_question_rows`` whose gold the
    index holds (law names resolved with the store's resolver: 短名 such as 民法典)."""
    from assistant.corpus.article import make_article_id

    resolver = store.resolver()
    row_of = {doc_id: i for i, doc_id in enumerate(ids)}
    names: dict[str, str | None] = {}  # a few hundred law names among tens of thousands of citations
    out = []
    for row in rows:
        found = []
        for law, number, suffix in row["gold"]:
            if law not in names:
                names[law] = resolver.try_resolve(law)
            full = names[law]
            r = row_of.get(make_article_id(full, number, suffix)) if full else None
            if r is not None and r not in found:
                found.append(r)
        if found:
            out.append((row["query"], found))
    return out


class LearnedTerms:
    """The artefact bound to one index: expansion of query tokens and an article-association score."""

    def __init__(self, artefact: dict, ids: list[str], vocab: dict[str, int]):
        if artefact.get("format") != FORMAT:
            raise ValueError(f"learned terms format {artefact.get('format')} is not {FORMAT}; relearn them")
        self.term_map = {t: [(w, float(s)) for w, s in v if w in vocab] for t, v in artefact["term_map"].items()}
        self.term_map_facts = {t: [(w, float(s)) for w, s in v if w in vocab]
                               for t, v in artefact.get("term_map_facts", artefact["term_map"]).items()}
        row_of = {doc_id: i for i, doc_id in enumerate(ids)}
        self._ids = ids
        self._law_matrix = None
        self._law_names: list[str] | None = None
        n_q = max(int(artefact.get("pairs", 1)), 1)
        qdf = artefact.get("question_df", {})
        self._qvocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for doc_id, counts in artefact["articles"].items():
            r = row_of.get(doc_id)
            if r is None:
                continue
            for t, c in counts.items():
                rows.append(r)
                cols.append(self._qvocab.setdefault(t, len(self._qvocab)))
                vals.append(float(c))
        self._idf = np.zeros(max(1, len(self._qvocab)))
        for t, j in self._qvocab.items():
            self._idf[j] = math.log1p(n_q / (1.0 + qdf.get(t, 0)))
        self._assoc = sp.csc_matrix((np.asarray(vals), (np.asarray(rows, dtype=np.int64),
                                                         np.asarray(cols, dtype=np.int64))),
                                    shape=(len(ids), max(1, len(self._qvocab))))

    def law_scores(self, tokens: list[str], laws: list[str]) -> np.ndarray | None:
        """Per-law score in [0, 1] (order of ``laws``): how strongly earlier questions with these words were
        about each law (the article associations summed per law), or None."""
        cols = [self._qvocab[t] for t in dict.fromkeys(tokens) if t in self._qvocab]
        if not cols:
            return None
        if getattr(self, "_law_matrix", None) is None or self._law_names != laws:
            code = {law: i for i, law in enumerate(laws)}
            doc_law = np.fromiter((code.get(doc_id.rsplit("#", 1)[0], -1) for doc_id in self._ids), dtype=np.int64,
                                  count=len(self._ids))
            keep = np.flatnonzero(doc_law >= 0)
            agg = sp.csr_matrix((np.ones(len(keep)), (doc_law[keep], keep)), shape=(len(laws), len(self._ids)))
            self._law_matrix = (agg @ self._assoc).tocsc()
            self._law_names = laws
        cols_arr = np.asarray(cols, dtype=np.int64)
        sub = self._law_matrix[:, cols_arr].copy()
        sub.data = np.log1p(sub.data)
        scores = np.asarray(sub @ self._idf[cols_arr]).ravel()
        top = scores.max()
        return scores / top if top > 0 else None

    @classmethod
    def load(cls, path: str | Path, ids: list[str], vocab: dict[str, int]) -> "LearnedTerms | None":
        path = Path(path)
        if not path.exists():
            return None
        return cls(json.loads(path.read_text("utf-8")), ids, vocab)

    def expansion(self, tokens: list[str], facts: bool = False) -> list[tuple[str, float]]:
        """Statute words (with weights in (0, 1]) for the query's words; each word once, at its best weight.
        ``facts``: the query is a case description (use the map learned from every question)."""
        out: dict[str, float] = {}
        present = set(tokens)
        term_map = self.term_map_facts if facts else self.term_map
        for t in dict.fromkeys(tokens):
            for w, s in term_map.get(t, ()):
                if w not in present:
                    out[w] = max(out.get(w, 0.0), s)
        return list(out.items())

    def association(self, tokens: list[str]) -> np.ndarray | None:
        """Per-article score in [0, 1] from earlier questions about the article, or None."""
        cols = [self._qvocab[t] for t in dict.fromkeys(tokens) if t in self._qvocab]
        if not cols:
            return None
        cols_arr = np.asarray(cols, dtype=np.int64)
        sub = self._assoc[:, cols_arr]
        sub = sub.copy()
        sub.data = np.log1p(sub.data)
        scores = np.asarray(sub @ self._idf[cols_arr]).ravel()
        top = scores.max()
        return scores / top if top > 0 else None


def held_out(row, fraction: float) -> bool:
    """Deterministic split of labelled rows by id: the same rows are held out by the learning script and
    by evaluation, so reported numbers are on questions the map never saw."""
    import hashlib

    key = str(row.get("id", row.get("query", ""))) if isinstance(row, dict) else row.split_key
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % 1000 < round(fraction * 1000)
