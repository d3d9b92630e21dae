"""Effect of "the law first, its interpretation next" and of the --kind filter on STARD lay questions.

Gold answers of STARD rows cite several laws (民法典 and 民间借贷规定 …). Counted are the gold citations whose
law is in the store (so the figures depend on what was imported, e.g. the LawRefBook sample beside the
default corpus). Prints one table row per setting: recall@5 / recall@10 over those citations, MRR of the
first gold article, rows whose order the reordering changed, and p50 latency.

    python scripts/bench_kinds.py --home H --data ../shared/eval/retrieval_stard.dev.jsonl [--limit N]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--limit", type=int)
    args = ap.parse_args(argv)

    from pathlib import Path

    from assistant.corpus import ArticleStore
    from assistant.search import load_retriever

    store = ArticleStore(Path(args.home) / "corpus.sqlite", readonly=True)
    base = load_retriever(store, Path(args.home) / "search", build_if_missing=False)
    resolver = store.resolver()
    kinds = store.law_kinds()
    rows = [json.loads(x) for x in open(args.data, encoding="utf-8") if x.strip()][:args.limit]
    gold_rows = []
    for row in rows:
        gold = set()
        for c in row.get("citations") or [{"law": row["law"], "article": a} for a in row["articles"]]:
            law = resolver.try_resolve(c["law"])
            if law and c.get("article"):
                gold.add((law, int(c["article"])))
        gold_rows.append((row, gold))
    counted = [(r, g) for r, g in gold_rows if g]
    by_kind = {}
    for _, g in counted:
        for law, _ in g:
            by_kind[kinds.get(law) or "未知"] = by_kind.get(kinds.get(law) or "未知", 0) + 1
    print(f"{len(rows)} rows, {len(counted)} with a gold citation in the store; gold citations by kind: {by_kind}")
    orders = {}
    print("| setting | rows | recall@5 | recall@10 | MRR | reordered rows | p50 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, law_first in (("fused order", False), ("law first, interpretation next", True)):
        base.config = dataclasses.replace(base.config, law_first=law_first)
        rec5 = rec10 = mrr = 0.0
        lat = []
        orders[name] = []
        for row, gold in counted:
            t0 = time.perf_counter()
            hits = base.search(row["query"], top_k=args.top_k)
            lat.append((time.perf_counter() - t0) * 1000)
            ranked = []
            for h in hits:
                key = (h.article.law, h.article.number)
                if key not in ranked:
                    ranked.append(key)
            orders[name].append([h.id for h in hits])
            rec5 += len(gold & set(ranked[:5])) / len(gold)
            rec10 += len(gold & set(ranked[:10])) / len(gold)
            first = next((i + 1 for i, k in enumerate(ranked) if k in gold), None)
            mrr += 1 / first if first else 0.0
        n = len(counted)
        changed = "" if not law_first else sum(a != b for a, b in zip(orders["fused order"], orders[name]))
        print(f"| {name} | {n} | {rec5 / n:.4f} | {rec10 / n:.4f} | {mrr / n:.4f} | {changed} | "
              f"{statistics.median(lat):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
