"""Retrieval evaluation: recall@k, hit@k, MRR, nDCG@10 and latency of any ``Retriever`` on labelled rows.

Rows are read by ``assistant.data.datasets.read_rows(path, need_gold=True)``; two label shapes:

* single-law: ``{"query", "law", "articles": [int]}`` (``law`` short or full name); every label counts,
  as given (a law the corpus lacks is a miss);
* multi-law: ``{"query", "citations": [{"law", "article", "in_db"?}, ...]}`` (STARD): the gold is every
  cited (law, article). ``in_db: false`` marks an article the corpus lacks (a regulation, a judicial
  interpretation); where the flag is missing it is looked up in the store.

The headline metrics are computed over the gold articles that are in the corpus, on the rows that have at
least one; rows whose gold is entirely outside the corpus are counted apart (``rows_not_in_db``), and
``all_gold`` repeats recall / hit over every gold article of every row (out-of-corpus ones as misses).
Labels fold 第N条之一 into N (as CAIL and LawBench do), so hits are compared on (law, number) and a
retrieved 之一 article counts for N; repeated (law, number) pairs in a ranking count once, at their first
position.
"""
from __future__ import annotations

import math
import time
from typing import Any, Iterable

from assistant.data.datasets import LabelledRow
from assistant.eval.metrics import percentile

KS = (1, 3, 5, 10)


def gold_articles(row: LabelledRow, store) -> tuple[set[tuple[str, int]], set[tuple[str, str | int]]]:
    """(gold articles in the corpus as (full law name, number), gold articles the corpus lacks)."""
    resolver = store.resolver()
    if row.citations is None:
        # single-law rows score the data set as given: every label counts, a law the corpus lacks is a miss
        return {(resolver.try_resolve(c.law) or c.law, c.number) for c in row.articles}, set()
    pairs = [(c.law, c.number, c.in_db) if c.law is not None else ("?", 0, False) for c in row.citations]
    found: set[tuple[str, int]] = set()
    missing: set[tuple[str, str | int]] = set()
    for law, number, in_db in pairs:
        full = resolver.try_resolve(law)
        if in_db is None:
            in_db = full is not None and store.find(full, number) is not None
        if in_db and full is not None:
            found.add((full, number))
        else:
            missing.add((full or law, number))
    return found, missing


def _ranking_metrics(ranked: list[tuple[str, int]], gold: set, n_gold: int, prefix: str = "") -> dict:
    """recall@k over ``n_gold`` articles (of which ``gold`` can be found), hit@k, MRR, nDCG@10."""
    first = next((i + 1 for i, key in enumerate(ranked) if key in gold), None)
    out: dict[str, Any] = {}
    for k in KS:
        out[f"{prefix}recall@{k}"] = (len(gold & set(ranked[:k])) / n_gold) if n_gold else 0.0
    for k in (1, 5, 10):
        out[f"{prefix}hit@{k}"] = 1.0 if first is not None and first <= k else 0.0
    out[f"{prefix}mrr"] = 1.0 / first if first else 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, key in enumerate(ranked[:10]) if key in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_gold, 10)))
    out[f"{prefix}ndcg@10"] = dcg / ideal if ideal else 0.0
    return out, first


def evaluate_retrieval(retriever, rows: Iterable[LabelledRow], top_k: int = 10, progress: bool = True,
                       law_filter: bool = False) -> dict[str, Any]:
    """Score ``retriever.search`` on ``rows``. Returns the metrics plus ``rows`` (per-row results).

    Headline metrics (``recall@k``, ``hit@k``, ``mrr``, ``ndcg@10``) are over the rows with at least one
    gold article in the corpus (``n``), against those articles; ``all_gold`` scores every row against all
    its gold articles. ``law_filter=True`` passes the (first) gold law as a filter (an oracle setting, for
    analysis only).
    """
    from tqdm import tqdm

    rows = list(rows)
    k_eval = max(top_k, 10)
    per_row = []
    latencies = []
    for row in tqdm(rows, desc="evaluating", unit="q", disable=not progress):
        gold, missing = gold_articles(row, retriever.store)
        law = next(iter(sorted(gold)))[0] if gold else None
        t0 = time.perf_counter()
        hits = retriever.search(row.question, top_k=k_eval, law=law if law_filter and law else None)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked: list[tuple[str, int]] = []
        for h in hits:
            key = (h.article.law, h.article.number)
            if key not in ranked:
                ranked.append(key)
        ranked = ranked[:top_k]
        res = {"id": row.id, "query": row.question[:200], "gold": sorted(f"{a}#{n}" for a, n in gold),
               "gold_not_in_db": sorted(f"{a}#{n}" for a, n in missing),
               "retrieved": [f"{a}#{n}" for a, n in ranked], "latency_ms": round(latencies[-1], 2)}
        scored, first = _ranking_metrics(ranked, gold, len(gold))
        res.update(scored)
        res["first_relevant_rank"] = first
        res.update(_ranking_metrics(ranked, gold, len(gold) + len(missing), prefix="all_")[0])
        per_row.append(res)
    scored_rows = [r for r in per_row if r["gold"]]
    n = len(scored_rows)
    out: dict[str, Any] = {"n": n, "rows_total": len(per_row), "rows_not_in_db": len(per_row) - n,
                           "gold_articles": sum(len(r["gold"]) for r in per_row),
                           "gold_articles_not_in_db": sum(len(r["gold_not_in_db"]) for r in per_row)}
    keys = [f"recall@{k}" for k in KS] + ["hit@1", "hit@5", "hit@10", "mrr", "ndcg@10"]
    for key in keys:
        out[key] = round(sum(r[key] for r in scored_rows) / n, 4) if n else 0.0
    if out["gold_articles_not_in_db"] or out["rows_not_in_db"]:
        m = len(per_row)
        out["all_gold"] = {key: round(sum(r["all_" + key] for r in per_row) / m, 4) if m else 0.0
                           for key in ("recall@5", "recall@10", "hit@5", "mrr")}
    for r in per_row:
        for key in keys:
            r.pop("all_" + key, None)
    out["latency_ms_p50"] = round(percentile(latencies, 50) or 0.0, 2)
    out["latency_ms_p95"] = round(percentile(latencies, 95) or 0.0, 2)
    out["rows"] = per_row
    return out
