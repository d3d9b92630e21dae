"""Citation-checker benchmark: detection of fabricated citations and false alarms on real ones.

Real citations come from the dev sets (never copied into the repo):
  * lawyer-llama consultations: GPT answers whose citations of 民法典 articles match the row's labelled
    articles (verified to exist in the default corpus);
  * LawBench 1-1 recitation: "根据《X法》第N条的规定：<reference text>" built from each row.
Fabrications are generated from each real citation by rewriting its span in place:
  beyond_last     the law's last article number + 1..300           (does not exist)
  bad_suffix      第N条之三…之九 that the law does not have           (does not exist)
  wrong_law       the same number under a law that lacks it          (does not exist)
  repealed_law    the same number under 合同法 / 婚姻法 / 物权法 …     (law repealed, not in corpus)
  other_article   another existing article of the same law (±1..50)  (exists, but the sentence is about
                  a different article: caught only by the support score; repair = the original article)

Usage: python scripts/bench_citations.py [--consult FILE] [--recitation FILE] [--home DIR] [--json OUT]
Prints a table; with --json also writes the figures and a PNG of support scores next to it.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from assistant.answer.check import CitationChecker
from assistant.corpus import open_store
from assistant.corpus.citations import find_citations
from assistant.corpus.laws import REPEALED
from assistant.corpus.numerals import article_number_text

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
NONEXISTENT = ("beyond_last", "bad_suffix", "wrong_law", "repealed_law")
OTHER_LAWS = ("中华人民共和国劳动合同法", "中华人民共和国消费者权益保护法", "中华人民共和国公司法",
              "中华人民共和国刑法", "中华人民共和国道路交通安全法", "中华人民共和国未成年人保护法")


def real_samples(store, consult: Path, recitation: Path):
    """(text, start, end, law, number, suffix, source) for every labelled real citation."""
    resolver = store.resolver()
    out = []
    for line in consult.open(encoding="utf-8"):
        row = json.loads(line)
        gold = set(row.get("articles") or [])
        law = resolver.try_resolve(row.get("law") or "")
        text = row.get("response") or ""
        for c in find_citations(text, resolver):
            if c.law == law and c.number in gold and not c.suffix and c.via == "explicit" and c.law_text:
                out.append((text, c.start, c.end, c.law, c.number, c.suffix, "lawyer-llama"))
    for line in recitation.open(encoding="utf-8"):
        row = json.loads(line)
        db = row.get("db_check") or {}
        if not db.get("article_in_db"):
            continue
        law = db.get("db_law_name") or resolver.try_resolve(row["law"])
        if not law or store.find(law, int(row["article"])) is None:
            continue
        head = f"《{law}》{article_number_text(int(row['article']))}"
        text = f"根据{head}的规定：{row['answer']}"
        out.append((text, 2, 2 + len(head), law, int(row["article"]), "", "lawbench-1-1"))
    return out


def fabricate(store, sample, rng: random.Random):
    """Variants of one real citation: (kind, new text, new span start, expected original id)."""
    text, start, end, law, number, suffix, _ = sample
    numbers = store.numbers(law)
    existing = {f"{n}{s}" for n, s in numbers}
    last = max(n for n, _ in numbers)
    variants = []

    def put(kind, span):
        variants.append((kind, text[:start] + span + text[end:], start))

    put("beyond_last", f"《{law}》{article_number_text(last + rng.randint(1, 300))}")
    for suf in rng.sample(["之三", "之四", "之五", "之六", "之七", "之八", "之九"], 7):
        if f"{number}{suf}" not in existing:
            put("bad_suffix", f"《{law}》{article_number_text(number, suf)}")
            break
    others = [o for o in OTHER_LAWS if o != law and store.find(o, number) is None and o in store.resolver()]
    if others:
        put("wrong_law", f"《{rng.choice(others)}》{article_number_text(number)}")
    put("repealed_law", f"《{rng.choice(sorted(REPEALED))}》{article_number_text(number)}")
    for _ in range(20):
        other = number + rng.choice([-1, 1]) * rng.randint(1, 50)
        if other != number and f"{other}" in existing:
            put("other_article", f"《{law}》{article_number_text(other)}")
            break
    return variants


def check_at(checker, text, start):
    for r in checker.check(text):
        if r.citation.start == start:
            return r
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--consult", type=Path, default=EVAL / "retrieval_lawyer_llama_consult.dev.jsonl")
    ap.add_argument("--recitation", type=Path, default=EVAL / "recitation_lawbench_1-1.dev.jsonl")
    ap.add_argument("--db", help="article store (default: $ASSISTANT_HOME/corpus.sqlite)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write figures here (and a PNG of support scores beside it)")
    args = ap.parse_args(argv)
    store = open_store(args.db, readonly=True)
    checker = CitationChecker(store)
    rng = random.Random(args.seed)
    reals = real_samples(store, args.consult, args.recitation)
    if not reals:
        print("no real citations found: is the default corpus imported?", file=sys.stderr)
        return 1

    counts = defaultdict(lambda: [0, 0])  # kind -> [flagged, total]
    repair = defaultdict(lambda: [0, 0])  # kind -> [suggested the original, total]
    scores = defaultdict(list)
    false_missing = false_unsupported = false_weak = real_total = 0
    missing_examples = []
    t0 = time.perf_counter()
    n_checks = 0
    for sample in reals:
        text, start, end, law, number, suffix, source = sample
        r = check_at(checker, text, start)
        n_checks += 1
        real_total += 1
        if r is None or not r.exists:
            false_missing += 1
            missing_examples.append(text[start:end])
        else:
            scores[f"real ({source})"].append(r.support_score)
            false_unsupported += r.support_label == "unsupported"
            false_weak += r.support_label != "supported"
        original = f"{law}#{number}{suffix}"
        for kind, vtext, vstart in fabricate(store, sample, rng):
            v = check_at(checker, vtext, vstart)
            n_checks += 1
            counts[kind][1] += 1
            if kind in NONEXISTENT:
                flagged = v is None or v.verdict != "verified"
            else:
                flagged = v is not None and (v.verdict != "verified" or v.support_label == "unsupported")
                if v is not None:
                    scores["other_article"].append(v.support_score)
            counts[kind][0] += flagged
            repair[kind][1] += 1
            repair[kind][0] += v is not None and v.suggestion_id == original
    elapsed = time.perf_counter() - t0

    rows = []
    print(f"real citations: {real_total} ({sum(s[6] == 'lawyer-llama' for s in reals)} lawyer-llama, "
          f"{sum(s[6] == 'lawbench-1-1' for s in reals)} LawBench 1-1); {n_checks} checks in {elapsed:.1f}s "
          f"({1000 * elapsed / n_checks:.1f} ms/check, shared 2-core machine)\n")
    print(f"| {'case':<28} | {'n':>5} | {'detected':>8} | {'repaired to original':>20} |")
    print(f"|{'-' * 30}|{'-' * 7}|{'-' * 10}|{'-' * 22}|")
    all_fab = [0, 0]
    for kind in (*NONEXISTENT, "other_article"):
        d, n = counts[kind]
        if kind in NONEXISTENT:
            all_fab[0] += d
            all_fab[1] += n
        rp, rn = repair[kind]
        rows.append({"case": kind, "n": n, "detection": d / n if n else None, "repair": rp / rn if rn else None})
        print(f"| {kind:<28} | {n:>5} | {100 * d / max(n, 1):>7.2f}% | {100 * rp / max(rn, 1):>19.1f}% |")
    print(f"| {'nonexistent (all 4 kinds)':<28} | {all_fab[1]:>5} | {100 * all_fab[0] / max(all_fab[1], 1):>7.2f}% | {'':>20} |")
    print()
    print(f"| {'false alarms on real citations':<40} | {'n':>5} | {'rate':>7} |")
    print(f"|{'-' * 42}|{'-' * 7}|{'-' * 9}|")
    fa = {"does_not_exist": false_missing, "support_unsupported": false_unsupported,
          "support_weak_or_unsupported": false_weak}
    for k, v in fa.items():
        print(f"| {k:<40} | {v:>5} | {100 * v / real_total:>6.2f}% |")
    if missing_examples:
        print("\nreal citations reported missing:", "; ".join(missing_examples[:10]))
    print("\nsupport score medians:", {k: round(statistics.median(v), 3) for k, v in scores.items() if v})
    if args.json:
        summary = {"real_citations": real_total, "checks": n_checks, "seconds": elapsed, "cases": rows,
                   "nonexistent_detection": all_fab[0] / max(all_fab[1], 1),
                   "false_alarms": {k: v / real_total for k, v in fa.items()},
                   "false_alarm_counts": fa, "thresholds": vars(checker.config)}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for k, v in scores.items():
            ax.hist(v, bins=40, range=(0, 1), alpha=0.5, label=f"{k} (n={len(v)})")
        for t in (checker.config.weak_threshold, checker.config.supported_threshold):
            ax.axvline(t, color="k", ls="--", lw=1)
        ax.set_xlabel("support score")
        ax.set_ylabel("citations")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.json.with_suffix(".png"), dpi=100)
        print(f"wrote {args.json} and {args.json.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
