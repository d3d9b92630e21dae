"""The Milvus store: one collection per build, searched by Milvus (Lite in a local folder, or a server by URI).

Collection ``<alias>_b_<build>``, one entity per article:

    id           VARCHAR primary key: the article id (法律名#133之一)
    law, kind, status, chapter, promulgated, effective   scalar fields, for filter expressions
    doc_key      what the entity was made from (content hash, status, kind, chapter): `index update` upserts
                 the articles whose key changed and deletes the ones that are gone
    dense        FLOAT_VECTOR, the embedder's normalised vector (inner product = cosine); absent for BM25-only
    sparse       SPARSE_FLOAT_VECTOR, our BM25 weights without the idf: the term's saturated, length-normalised
                 frequency (k1, b and the title/body field weights as in ``lexical.py``), keyed by a 32-bit hash
                 of the jieba token. The query vector carries the idf, so the inner product is exactly our BM25
                 score, the legal dictionary, field weights and learned expansion stay ours, and an upsert of
                 changed articles does not need every other article rewritten when document frequencies move.

A full build writes a new collection, flushes and loads it, and only then moves the alias (``alter_alias``,
atomic on the server): a build killed at any point leaves the alias, and every reader, on the old collection.
Each build's manifest names its concrete collection, so a reader keeps a consistent pair of local statistics
and collection until it follows ``CURRENT``; the previous collection is kept for those readers and dropped at
the next build.
"""
from __future__ import annotations

import os
import threading
import zlib
from typing import Iterable, Sequence

import numpy as np

from assistant.search.stores.base import TOKEN_ENV, LexicalCandidates, StoreError, StoreSpec, Where

BATCH = 1000
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def milvus_available() -> str | None:
    """None when pymilvus and (for local files) milvus-lite import, else why not."""
    try:
        import pymilvus  # noqa: F401
    except ImportError as exc:
        return f"pymilvus is not installed ({exc}); pip install -e '.[milvus]'"
    try:
        import milvus_lite  # noqa: F401
    except ImportError as exc:
        return f"milvus-lite is not installed ({exc}); pip install -e '.[milvus]'"
    return None


def client_for(spec: StoreSpec):
    """One ``MilvusClient`` per URI in this process (Milvus Lite allows one process per folder)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise StoreError(f"the milvus store needs pymilvus (pip install -e '.[milvus]'): {exc}") from None
    with _clients_lock:
        client = _clients.get(spec.uri)
        if client is None:
            if spec.is_lite:
                os.makedirs(os.path.dirname(spec.uri) or ".", exist_ok=True)
            try:
                client = MilvusClient(uri=spec.uri, token=os.environ.get(TOKEN_ENV, ""))
            except Exception as exc:
                hint = (" (Milvus Lite: one process at a time per folder; several processes can share it through "
                        "`milvus-lite` server mode or a Milvus server)" if spec.is_lite else "")
                raise StoreError(f"cannot open Milvus at {spec.uri}: {exc}{hint}") from exc
            _clients[spec.uri] = client
        return client


def release_client(spec: StoreSpec) -> None:
    """Close this process's connection (and, for Milvus Lite, release the folder to other processes)."""
    with _clients_lock:
        client = _clients.pop(spec.uri, None)
    if client is not None:
        try:
            client.close()
        except Exception:
            pass
        if spec.is_lite:
            try:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(spec.uri)
            except Exception:
                pass


def term_key(term: str) -> int:
    """The sparse dimension of a token: a stable 32-bit hash (Milvus sparse indices are < 2**32 - 1)."""
    return zlib.crc32(term.encode("utf-8")) % 0xFFFFFFFF


def collection_name(alias: str, build: str) -> str:
    return f"{alias}_b_" + "".join(c if c.isalnum() else "_" for c in build)


def idf_of(lexical) -> np.ndarray:
    """The idf per vocabulary column, as ``LexicalIndex.build`` computed it (from the column counts)."""
    w = lexical.weights.tocsc()
    n = w.shape[0]
    df = np.diff(w.indptr).astype(np.float64)
    return np.log1p((n - df + 0.5) / (df + 0.5))


def sparse_vectors(lexical, rows: Iterable[int] | None = None) -> list[dict[int, float]]:
    """Per article: {term hash: BM25 weight / idf}."""
    w = lexical.weights.tocsr()
    idf = idf_of(lexical)
    keys = np.fromiter((term_key(t) for t in lexical.vocab), dtype=np.int64, count=len(lexical.vocab))
    out = []
    for r in (range(w.shape[0]) if rows is None else rows):
        lo, hi = w.indptr[r], w.indptr[r + 1]
        cols = w.indices[lo:hi]
        vals = w.data[lo:hi] / idf[cols]
        vec: dict[int, float] = {}
        for k, v in zip(keys[cols].tolist(), vals.tolist()):
            vec[k] = vec.get(k, 0.0) + v  # two tokens sharing a hash add up (about one pair in 100k tokens)
        out.append(vec or {0xFFFFFFFE: 1e-9})  # Milvus refuses an empty sparse row
    return out


def doc_key(article, kind: str) -> str:
    return f"{article.content_hash}|{article.status}|{kind}|{article.chapter or ''}|{article.law_short}"


def _schema(dim: int):
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
    for name, length in (("law", 512), ("kind", 64), ("status", 64), ("chapter", 2048), ("promulgated", 32),
                         ("effective", 32), ("doc_key", 2400)):
        schema.add_field(name, DataType.VARCHAR, max_length=length)
    if dim:
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    return schema


def _index_params(client, dim: int):
    params = client.prepare_index_params()
    if dim:
        # exact search, like the FAISS flat default; a cluster holding millions would use HNSW / IVF here
        kind = os.environ.get("ASSISTANT_MILVUS_INDEX", "FLAT").upper()
        extra = {"M": 32, "efConstruction": 80} if kind == "HNSW" else {}
        params.add_index("dense", index_type=kind, metric_type="IP", params=extra)
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    for name in ("law", "kind", "status"):
        params.add_index(name, index_type="INVERTED")
    return params


def entities(articles, kinds: dict[str, str | None], dense: np.ndarray | None, sparse: list[dict]) -> Iterable[dict]:
    for i, a in enumerate(articles):
        kind = kinds.get(a.law) or ""
        e = {"id": a.id, "law": a.law, "kind": kind, "status": a.status or "", "chapter": (a.chapter or "")[:2000],
             "promulgated": a.promulgated or "", "effective": a.effective or "", "doc_key": doc_key(a, kind)[:2400],
             "sparse": sparse[i]}
        if dense is not None:
            e["dense"] = np.asarray(dense[i], dtype=np.float32).tolist()
        yield e


def _batches(it: Iterable[dict], n: int = BATCH):
    batch = []
    for e in it:
        batch.append(e)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def write_collection(spec: StoreSpec, name: str, articles, kinds, dense, sparse, progress=None) -> None:
    """Create collection ``name`` and fill it; it is flushed and loaded, but no alias points to it yet."""
    client = client_for(spec)
    if client.has_collection(name):
        client.drop_collection(name)
    dim = int(dense.shape[1]) if dense is not None else 0
    client.create_collection(name, schema=_schema(dim), index_params=_index_params(client, dim))
    for batch in _batches(entities(articles, kinds, dense, sparse)):
        client.insert(name, batch)
        if progress:
            progress(len(batch))
    client.flush(name)
    client.load_collection(name)


def sync_collection(spec: StoreSpec, name: str, articles, kinds, dense_of, sparse_of, progress=None) -> dict:
    """Bring an existing collection to ``articles``: upsert new / changed ones, delete the ones gone.

    ``dense_of(rows)`` and ``sparse_of(rows)`` give the vectors of the articles at those rows.
    """
    client = client_for(spec)
    have: dict[str, str] = {}
    it = client.query_iterator(name, batch_size=4096, filter="", output_fields=["doc_key"])
    try:
        while True:
            page = it.next()
            if not page:
                break
            have.update((r["id"], r["doc_key"]) for r in page)
    finally:
        it.close()
    want_rows = [i for i, a in enumerate(articles) if have.get(a.id) != doc_key(a, kinds.get(a.law) or "")[:2400]]
    gone = list(set(have) - {a.id for a in articles})
    for lo in range(0, len(want_rows), BATCH):
        rows = want_rows[lo:lo + BATCH]
        dense = dense_of(rows)
        batch = list(entities([articles[r] for r in rows], kinds, dense, sparse_of(rows)))
        client.upsert(name, batch)
        if progress:
            progress(len(rows))
    for lo in range(0, len(gone), BATCH):
        client.delete(name, ids=gone[lo:lo + BATCH])
    client.flush(name)
    return {"upserted": len(want_rows), "deleted": len(gone)}


def alias_target(spec: StoreSpec) -> str | None:
    client = client_for(spec)
    try:
        if spec.alias not in (client.list_aliases().get("aliases") or []):
            return None
        return client.describe_alias(spec.alias).get("collection_name") or None
    except Exception:
        return None


def swap_alias(spec: StoreSpec, name: str) -> str | None:
    """Point the alias at ``name`` (one server-side operation); returns the collection it pointed at."""
    client = client_for(spec)
    old = alias_target(spec)
    if old is None:
        client.create_alias(name, spec.alias)
    elif old != name:
        client.alter_alias(name, spec.alias)
    return old


def collect_garbage(spec: StoreSpec, keep: Sequence[str]) -> list[str]:
    """Drop this alias's build collections other than ``keep`` (older builds, builds that died half-way)."""
    client = client_for(spec)
    prefix = f"{spec.alias}_b_"
    dropped = []
    for name in client.list_collections():
        if name.startswith(prefix) and name not in keep:
            try:
                client.drop_collection(name)
                dropped.append(name)
            except Exception:
                pass
    return dropped


class MilvusCandidates:
    """Candidate lists from one build's collection; filters are Milvus expressions, not post-filters."""

    kind = "milvus"

    def __init__(self, spec: StoreSpec, collection: str, ids: Sequence[str], lexical, has_dense: bool):
        self.spec = spec
        self.collection = collection
        self.client = client_for(spec)
        if not self.client.has_collection(collection):
            raise StoreError(f"Milvus at {spec.uri} has no collection {collection}; rebuild with "
                             f"`assistant index build --store {spec}`")
        self.client.load_collection(collection)
        self.has_dense = has_dense
        self._row_of = {doc_id: i for i, doc_id in enumerate(ids)}
        idf = idf_of(lexical)
        self._query_key = {t: (term_key(t), float(idf[i])) for t, i in lexical.vocab.items()}

    def _rows(self, hits, where: Where | None) -> tuple[np.ndarray, np.ndarray]:
        mask = where.mask if where is not None else None
        rows, scores = [], []
        for h in hits:
            r = self._row_of.get(h["id"])
            # an article upserted after this build was read is not in our statistics; the mask also holds
            # conditions no scalar field carries (a caller's own row mask)
            if r is not None and (mask is None or mask[r]):
                rows.append(r)
                scores.append(h["distance"])
        return np.asarray(rows, dtype=np.int64), np.asarray(scores, dtype=np.float64)

    def _search(self, field: str, data, where: Where | None, k: int):
        expr = where.expression() if where is not None else ""
        return self.client.search(self.collection, data=[data], anns_field=field, limit=max(1, min(k, 16384)),
                                  filter=expr, search_params={"metric_type": "IP"})[0]

    def lexical(self, terms: dict[str, float], wheres: Sequence[Where], k: int) -> LexicalCandidates:
        q: dict[int, float] = {}
        for t, w in terms.items():
            known = self._query_key.get(t)
            if known is not None and w > 0:
                q[known[0]] = q.get(known[0], 0.0) + w * known[1]
        if not q:
            return LexicalCandidates(np.zeros(0, np.int64), np.zeros(0), 0.0)
        found: dict[int, float] = {}
        for where in wheres:
            rows, scores = self._rows(self._search("sparse", q, where, k), where)
            found.update(zip(rows.tolist(), scores.tolist()))
        # the list is scaled by its best score under the filter; in process it is the best over every article,
        # which differs only when a filtered-out article (a repealed one, another law's) scores highest. One
        # more search would make it exact; on Milvus Lite each search costs ~50-100 ms at 25k articles.
        top = max(list(found.values()) + [0.0])
        rows = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
        scores = np.fromiter(found.values(), dtype=np.float64, count=len(found))
        return LexicalCandidates(rows, scores, top)

    def dense(self, qvec: np.ndarray, wheres: Sequence[Where], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        data = np.asarray(qvec, dtype=np.float32).tolist()
        out = []
        for where in wheres:
            rows, scores = self._rows(self._search("dense", data, where, k), where)
            out.append((scores, rows))
        return out

    def info(self) -> dict:
        return {"kind": "milvus", "uri": self.spec.uri, "alias": self.spec.alias, "collection": self.collection,
                "alias_target": alias_target(self.spec)}

    def close(self) -> None:
        pass
