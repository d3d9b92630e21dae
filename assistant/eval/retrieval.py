"""Retrieval evaluation: recall@k, hit@5, MRR, nDCG@10 and latency of any ``Retriever`` on labelled rows.

Rows are ``{"query", "law", "articles": [int]}``; ``law`` may be a short or full name. Labels fold
第N条之一 into N (as CAIL and LawBench do), so hits are compared on (law, number) and a retrieved 之一
article counts for N; repeated (law, number) pairs in a ranking count once, at their first position.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Iterable


class RetrievalDataError(ValueError):
    pass


def load_retrieval_rows(path: str | Path) -> list[dict]:
    """Read a JSONL file of retrieval rows; a bad line raises with file, line and field."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RetrievalDataError(f"{path}:{line_no}: not JSON ({exc.msg})") from exc
            for key in ("query", "law", "articles"):
                if key not in row:
                    raise RetrievalDataError(f"{path}:{line_no}: missing field {key!r}")
            if not isinstance(row["query"], str) or not row["query"].strip():
                raise RetrievalDataError(f"{path}:{line_no}: field 'query' must be a non-empty string")
            if not isinstance(row["articles"], list) or not all(isinstance(a, int) for a in row["articles"]):
                raise RetrievalDataError(f"{path}:{line_no}: field 'articles' must be a list of integers")
            rows.append(row)
    return rows


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def evaluate_retrieval(retriever, rows: Iterable[dict], top_k: int = 10, progress: bool = True,
                       law_filter: bool = False) -> dict[str, Any]:
    """Score ``retriever.search`` on ``rows``. Returns the metrics plus ``rows`` (per-row results).

    Rows whose gold law is not in the corpus, or that have no gold articles, still count (as misses):
    the numbers describe the data set as given. ``law_filter=True`` passes the gold law as a filter
    (an oracle setting, for analysis only).
    """
    from tqdm import tqdm

    rows = list(rows)
    resolver = retriever.store.resolver()
    k_eval = max(top_k, 10)
    per_row = []
    latencies = []
    for row in tqdm(rows, desc="evaluating", unit="q", disable=not progress):
        law = resolver.try_resolve(row["law"]) or row["law"]
        gold = {(law, int(n)) for n in row["articles"]}
        t0 = time.perf_counter()
        hits = retriever.search(row["query"], top_k=k_eval, law=law if law_filter else None)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked: list[tuple[str, int]] = []
        for h in hits:
            key = (h.article.law, h.article.number)
            if key not in ranked:
                ranked.append(key)
        ranked = ranked[:top_k]
        first = next((i + 1 for i, key in enumerate(ranked) if key in gold), None)
        res = {"id": row.get("id"), "query": row["query"][:200], "gold": sorted(f"{a}#{n}" for a, n in gold),
               "retrieved": [f"{a}#{n}" for a, n in ranked], "first_relevant_rank": first,
               "latency_ms": round(latencies[-1], 2)}
        for k in (1, 3, 5, 10):
            res[f"recall@{k}"] = (len(gold & set(ranked[:k])) / len(gold)) if gold else 0.0
        res["hit@5"] = 1.0 if first is not None and first <= 5 else 0.0
        res["mrr"] = 1.0 / first if first else 0.0
        dcg = sum(1.0 / math.log2(i + 2) for i, key in enumerate(ranked[:10]) if key in gold)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), 10)))
        res["ndcg@10"] = dcg / ideal if ideal else 0.0
        per_row.append(res)
    n = len(per_row)
    out: dict[str, Any] = {"n": n}
    for key in ("recall@1", "recall@3", "recall@5", "recall@10", "hit@5", "mrr", "ndcg@10"):
        out[key] = round(sum(r[key] for r in per_row) / n, 4) if n else 0.0
    out["latency_ms_p50"] = round(_percentile(latencies, 0.5), 2)
    out["latency_ms_p95"] = round(_percentile(latencies, 0.95), 2)
    out["rows"] = per_row
    return out
