"""Learn everyday -> statute wording from labelled question -> article pairs (see assistant/search/learned.py).

    python scripts/learn_query_terms.py --home H \
        --data ../shared/eval/retrieval_stard.dev.jsonl ../shared/eval/retrieval_lawyer_llama_consult.dev.jsonl \
        [--holdout 0.3] [--out H/learned_terms.json]

Rows are the retrieval rows ``assistant eval retrieval`` reads (single-law ``law`` + ``articles`` or
multi-law ``citations``). ``--holdout F`` leaves a fixed fraction of rows out of learning (chosen by a hash
of the row id); ``assistant eval retrieval --holdout F`` then scores only those rows. The artefact goes
beside the index of H, where the retriever finds it; it holds words and article ids, never question text.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import assistant  # noqa: E402,F401


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", default=os.environ.get("ASSISTANT_HOME", "indexes"))
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--holdout", type=float, default=0.3, help="fraction of rows kept out of learning")
    ap.add_argument("--out", help="default: HOME/learned_terms.json")
    ap.add_argument("--min-pairs", type=int, default=2, help="pairs a question word -> statute word link needs")
    ap.add_argument("--max-map-tokens", type=int, default=40,
                    help="longer questions (case facts) feed article associations only, not the term map")
    args = ap.parse_args()
    os.environ["ASSISTANT_HOME"] = args.home

    from assistant.corpus import open_store
    from assistant.corpus.article import make_article_id
    from assistant.data.datasets import read_rows
    from assistant.eval.retrieval import gold_articles
    from assistant.search import load_retriever
    from assistant.search.learned import LearnConfig, held_out, learn, save

    home = Path(args.home)
    store = open_store(home / "corpus.sqlite", readonly=True)
    retriever = load_retriever(store, home / "search", build_if_missing=False, progress=False, learned=None)
    row_of = {doc_id: i for i, doc_id in enumerate(retriever.index.ids)}
    pairs, used, skipped = [], 0, 0
    for path in args.data:
        for row in read_rows(path, need_gold=True):
            if held_out(row, args.holdout):
                skipped += 1
                continue
            gold, _ = gold_articles(row, store)
            rows = [row_of[i] for i in (make_article_id(law, n, "") for law, n in gold) if i in row_of]
            if rows:
                pairs.append((retriever.query_tokens(row.question), rows))
                used += 1
    artefact = learn(pairs, retriever.index.lexical, retriever.index.ids, LearnConfig(max_map_tokens=args.max_map_tokens, min_pairs=args.min_pairs))
    out = Path(args.out) if args.out else home / "learned_terms.json"
    save(artefact, out)
    print(f"learned from {used} rows ({skipped} held out): {len(artefact['term_map'])} question words mapped, "
          f"{len(artefact['articles'])} articles with associations -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
