"""Assemble the packaged question set (``assistant/search/data/lay_questions.jsonl``) from written batches.

    python scripts/build_question_set.py --home H --lrb-home H2 BATCH.jsonl [BATCH.jsonl ...] \
        [--heldout 0.2] [--out assistant/search/data/lay_questions.jsonl] [--report docs/question_set.json]

Every input row is ``{"query", "citations": [{"law", "article"(, "suffix")}], "clause", "key_fact", "style",
"source"}`` (``clause`` and ``key_fact`` may be null: the first 1,760 questions were written without them), written by helpers from the article texts only (never from an evaluation set). This script:

* checks each citation against the store (the article exists and is in force; ``--lrb-home`` is a second
  store with a downloaded collection imported, for the interpretations and regulations the default corpus
  lacks), that ``clause`` is a 款 of the first article and ``key_fact`` occurs verbatim in that 款; a row that
  fails is dropped and reported with its file and line;
* removes near-duplicates: a question whose character bigrams overlap an earlier question about the same
  article by Jaccard >= 0.7;
* splits **by article**: the articles whose id hashes into the ``--heldout`` share are held out, and every
  question whose first gold article is held out gets ``"split": "heldout"`` (the rest ``"learn"``), so R@5 on
  the held-out part measures articles no training question was about;
* reports the mean character-bigram overlap between question and article text, next to STARD's when
  ``--stard`` is given (the questions should not copy statute wording more than real lay questions do).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assistant" / "search" / "data" / "lay_questions.jsonl"
_PUNCT = re.compile(r"[\s，。？！、；：,.?!;:“”\"'（）()《》]")


def bigrams(text: str) -> set[str]:
    s = _PUNCT.sub("", text)
    return {s[i:i + 2] for i in range(len(s) - 1)}


def overlap(question: str, article_text: str) -> float:
    """Share of the question's character bigrams that occur in the article."""
    b = bigrams(question)
    return len(b & bigrams(article_text)) / len(b) if b else 0.0


def held_out_article(article_id: str, share: float) -> bool:
    return int(hashlib.md5(article_id.encode("utf-8")).hexdigest(), 16) % 1000 < round(share * 1000)


class Lookup:
    """Articles by (law, number, suffix) in one or two stores (the second for imported collections)."""

    def __init__(self, *stores):
        self.stores = [s for s in stores if s is not None]

    def find(self, law: str, number: int, suffix: str):
        from assistant.corpus.article import IN_FORCE

        for store in self.stores:
            full = store.resolver().try_resolve(law)
            if full is None:
                continue
            a = store.find(full, number, suffix)
            if a is not None:
                return (a, None) if a.status in IN_FORCE else (None, f"{law}第{number}条{suffix} is {a.status}")
        return None, f"{law}第{number}条{suffix} is not in the corpus"


def check_row(row: dict, lookup: Lookup):
    """(first gold article, problem or None)."""
    query = row.get("query")
    if not isinstance(query, str) or not query.strip():
        return None, "empty query"
    cites = row.get("citations")
    if not isinstance(cites, list) or not 1 <= len(cites) <= 3:
        return None, "citations must be a list of 1-3"
    first = None
    for c in cites:
        if not isinstance(c, dict) or not isinstance(c.get("article"), int):
            return None, f"bad citation {c!r}"
        a, problem = lookup.find(str(c.get("law", "")), c["article"], str(c.get("suffix") or ""))
        if problem:
            return None, problem
        first = first or a
    clause = row.get("clause")
    paras = first.text.split("\n")
    if clause is not None and (not isinstance(clause, int) or not 1 <= clause <= len(paras)):
        return None, f"clause {clause!r} is not a 款 of {first.id} (1..{len(paras)})"
    fact = row.get("key_fact")
    if fact is not None and (not isinstance(fact, str) or fact not in (paras[clause - 1] if clause else first.text)):
        return None, f"key_fact {fact!r} is not in 款{clause} of {first.id}"
    if row.get("style") not in ("question", "case"):
        return None, "style must be question or case"
    return first, None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batches", nargs="+")
    ap.add_argument("--home", required=True, help="home with the default corpus")
    ap.add_argument("--lrb-home", help="home with a downloaded collection imported as well")
    ap.add_argument("--heldout", type=float, default=0.2, help="share of articles held out (by id hash)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--report", help="write the counts as JSON here")
    ap.add_argument("--stard", help="STARD dev file: report its question/article overlap beside ours")
    args = ap.parse_args()
    from assistant.corpus import open_store

    store = open_store(Path(args.home) / "corpus.sqlite", readonly=True)
    extra = open_store(Path(args.lrb_home) / "corpus.sqlite", readonly=True) if args.lrb_home else None
    lookup = Lookup(store, extra)
    kept: list[dict] = []
    seen_exact: set[str] = set()
    by_article: dict[str, list[set]] = defaultdict(list)
    dropped: Counter = Counter()
    problems: list[str] = []
    overlaps: list[float] = []
    for path in args.batches:
        for line_no, line in enumerate(open(path, encoding="utf-8"), 1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc.msg})")
                dropped["not JSON"] += 1
                continue
            first, problem = check_row(row, lookup)
            if problem:
                problems.append(f"{where}: {problem}")
                dropped["failed a check"] += 1
                continue
            query = row["query"].strip()
            if query in seen_exact:
                dropped["exact duplicate"] += 1
                continue
            b = bigrams(query)
            if any(len(b & o) / max(len(b | o), 1) >= 0.7 for o in by_article[first.id]):
                dropped["near-duplicate of a question about the same article"] += 1
                continue
            seen_exact.add(query)
            by_article[first.id].append(b)
            overlaps.append(overlap(query, first.text))
            out = {"id": "", "query": query, "citations": row["citations"], "clause": row.get("clause"),
                   "key_fact": row.get("key_fact"), "style": row.get("style", "question"),
                   "split": "heldout" if held_out_article(first.id, args.heldout) else "learn",
                   "source": row.get("source") or "written for this project from the article text"}
            kept.append(out)
    for i, row in enumerate(kept, 1):
        row["id"] = f"lq-{i:05d}"
    out_path = Path(args.out)
    tmp = out_path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in kept:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(out_path)

    articles = {(c["law"], c["article"], c.get("suffix", "")) for r in kept for c in r["citations"]}
    laws = {c["law"] for r in kept for c in r["citations"]}
    in_default = sum(1 for r in kept if all(store.resolver().try_resolve(c["law"]) for c in r["citations"]))
    report = {"questions": len(kept), "articles": len(articles), "laws": len(laws),
              "questions_on_default_corpus": in_default,
              "heldout_questions": sum(r["split"] == "heldout" for r in kept),
              "heldout_articles": len({(r["citations"][0]["law"], r["citations"][0]["article"]) for r in kept
                                       if r["split"] == "heldout"}),
              "with_clause": sum(r["clause"] is not None for r in kept),
              "with_key_fact": sum(r["key_fact"] is not None for r in kept),
              "styles": dict(Counter(r["style"] for r in kept)),
              "mean_bigram_overlap": round(sum(overlaps) / max(len(overlaps), 1), 4),
              "dropped": dict(dropped)}
    if args.stard:
        ref = []
        for line in open(args.stard, encoding="utf-8"):
            r = json.loads(line)
            for c in r.get("citations", []):
                if c.get("in_db"):
                    a, problem = lookup.find(c["law"], int(c["article"]), c.get("suffix") or "")
                    if a is not None:
                        ref.append(overlap(r["query"], a.text))
                        break
        report["stard_mean_bigram_overlap"] = round(sum(ref) / max(len(ref), 1), 4)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    for p in problems[:50]:
        print("DROPPED", p, file=sys.stderr)
    if args.report:
        Path(args.report).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
