"""Check the shipped lay-question training set (``assistant/search/data/lay_questions.jsonl``).

Each line is a retrieval row in the multi-law format: ``{"id", "query", "citations": [{"law", "article"}]}``
(a citation may add ``"suffix": "之一"`` for 第N条之一).
The check reads it the way the learner and ``assistant eval retrieval`` do (``assistant.data.datasets.read_rows``), then
insists on more than they do, because this file is our own text and must be clean: a unique ``lq-NNNN`` id,
a non-empty query, 1–3 citations, each an article in force of a law the corpus has (citations of laws the corpus
lacks — interpretations and regulations a user adds by importing a collection — are counted, not refused;
``scripts/build_question_set.py --lrb-home`` checks those against a home with the collection imported).
It prints counts (questions, distinct articles, per law) and every problem with its line; exit 1 on any.

    python scripts/check_lay_questions.py --home /tmp/home [--data FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "assistant" / "search" / "data" / "lay_questions.jsonl"
ID_PATTERN = re.compile(r"^lq-\d{4,}$")


def check(path: Path, store) -> tuple[list[str], dict]:
    from assistant.corpus.article import IN_FORCE
    from assistant.data.datasets import DatasetError, read_rows

    problems: list[str] = []
    try:
        read_rows(path, need_gold=True)  # the learner's own reader must accept the file as a whole
    except DatasetError as exc:
        problems.append(str(exc))
    resolver = store.resolver()
    seen_ids: dict[str, int] = {}
    seen_queries: dict[str, int] = {}
    articles: set[tuple[str, int, str]] = set()
    per_law_questions: Counter = Counter()
    per_law_articles: dict[str, set[str]] = {}
    n_rows = 0
    other_laws: Counter = Counter()
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            where = f"{path.name}:{line_no}"
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc.msg})")
                continue
            n_rows += 1
            extra = set(row) - {"id", "query", "citations", "clause", "key_fact", "style", "split", "source"}
            if extra:
                problems.append(f"{where}: unexpected field(s) {sorted(extra)}")
            row_id = row.get("id")
            if not isinstance(row_id, str) or not ID_PATTERN.match(row_id):
                problems.append(f"{where}: field 'id' must look like lq-0001, got {row_id!r}")
            elif row_id in seen_ids:
                problems.append(f"{where}: id {row_id} already used on line {seen_ids[row_id]}")
            else:
                seen_ids[row_id] = line_no
            query = row.get("query")
            if not isinstance(query, str) or not query.strip():
                problems.append(f"{where}: field 'query' must be a non-empty string")
            elif query.strip() in seen_queries:
                problems.append(f"{where}: query repeats line {seen_queries[query.strip()]}")
            else:
                seen_queries[query.strip()] = line_no
            cites = row.get("citations")
            if not isinstance(cites, list) or not 1 <= len(cites) <= 3:
                problems.append(f"{where}: field 'citations' must be a list of 1-3 citations")
                continue
            laws_here = set()
            for c in cites:
                if not isinstance(c, dict) or not {"law", "article"} <= set(c) <= {"law", "article", "suffix"}:
                    problems.append(f"{where}: citation {c!r} must have 'law' and 'article' (and maybe 'suffix')")
                    continue
                law, number, suffix = c["law"], c["article"], c.get("suffix", "")
                if suffix not in ("", "之一", "之二", "之三", "之四", "之五", "之六"):
                    problems.append(f"{where}: suffix {suffix!r} must be 之一, 之二 …")
                    continue
                if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                    problems.append(f"{where}: article {number!r} must be a positive integer")
                    continue
                full = resolver.try_resolve(law) if isinstance(law, str) else None
                if full is None:  # an interpretation or regulation a user adds by importing a collection
                    other_laws[law] += 1
                    continue
                article = store.find(full, number, suffix)
                if article is None:
                    problems.append(f"{where}: {law}第{number}条{suffix} is not in the corpus")
                    continue
                if article.status not in IN_FORCE:
                    problems.append(f"{where}: {law}第{number}条 is not in force ({article.status})")
                articles.add((full, number, suffix))
                short = article.law_short
                per_law_articles.setdefault(short, set()).add(f"{number}{suffix}")
                laws_here.add(short)
            for short in laws_here:
                per_law_questions[short] += 1
    counts = {
        "questions": n_rows,
        "citations_of_laws_not_in_this_corpus": sum(other_laws.values()),
        "laws_not_in_this_corpus": len(other_laws),
        "distinct_articles": len(articles),
        "per_law": {law: {"questions": per_law_questions[law], "articles": len(nums)}
                    for law, nums in sorted(per_law_articles.items(), key=lambda kv: -len(kv[1]))},
    }
    return problems, counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default=os.environ.get("ASSISTANT_HOME", "indexes"))
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    args = ap.parse_args()
    from assistant.corpus import open_store

    store = open_store(Path(args.home) / "corpus.sqlite", readonly=True)
    problems, counts = check(Path(args.data), store)
    print(f"{counts['questions']} questions, {counts['distinct_articles']} distinct articles; "
          f"{counts['citations_of_laws_not_in_this_corpus']} citations of {counts['laws_not_in_this_corpus']} laws "
          "not in this corpus")
    print(f"{'law':<24}{'questions':>10}{'articles':>10}")
    for law, c in counts["per_law"].items():
        print(f"{law:<24}{c['questions']:>10}{c['articles']:>10}")
    for p in problems:
        print("PROBLEM", p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
