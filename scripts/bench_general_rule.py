"""The general rule for questions no retrieved 款 decides (``assistant.answer.general``): on the question set's
rows where the clause model's confidence is at or below its silence threshold, extractive answers with the
general rule leading against without it: right article among the first 3 sources and quoted, right article
first, key fact stated, and how often a general rule was found.

    python scripts/bench_general_rule.py --home /work/homes/dev3 --json-out docs/results/53_general_rule.json

``--home``: for the held-out split, an index learned from the learn split only (the packaged clause model
was fitted on these held-out questions, so the confidences are in-sample: fewer rows fall below the threshold
than for a question nobody has seen).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_clause_model import QUESTIONS, gold_of, question_rows  # noqa: E402  (the question set as the fit reads it)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--split", default="heldout")
    ap.add_argument("--limit", type=int, default=100000, help="rows of the split looked at (seeded sample)")
    ap.add_argument("--json-out")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    os.environ["ASSISTANT_HOME"] = args.home
    from assistant.answer.pipeline import build_assistant
    from assistant.corpus.status import day_or_today

    assistant = build_assistant("extractive")
    resolver = assistant.store.resolver()
    rows = question_rows(QUESTIONS, args.split)
    rows = random.Random(7).sample(rows, min(args.limit, len(rows)))
    search = dict(law=None, include_repealed=False, as_of=day_or_today(None))
    undecided = []
    for r in rows:  # what the pipeline runs before the answer: is the lead below the silence threshold?
        gold = set(gold_of(r, assistant.store, resolver)[0])
        if not gold:
            continue
        query = assistant.read(r["query"], [])
        selection = assistant.selector.select(query, assistant.candidates(query, assistant.config.candidates, search),
                                              top_k=assistant.config.top_k)
        if not selection.decided:
            undecided.append((r, gold))

    def outcome(general: bool) -> dict:
        assistant.config.general_rule = general
        out = {"found": 0, "in_top3_and_quoted": 0, "article_first": 0, "fact_stated": 0, "with_fact": 0}
        for r, gold in undecided:
            answer = assistant.ask(r["query"])
            if answer.finish_reason == "refused":
                continue
            top3 = {h.id for h in answer.sources[:3]}
            cited = {c.citation.id for c in answer.citations if c.citation.id}
            out["found"] += bool(answer.sources and answer.sources[0].via == "general")
            out["in_top3_and_quoted"] += bool(gold & top3 and gold & cited)
            out["article_first"] += bool(answer.sources and answer.sources[0].id in gold)
            if r.get("key_fact"):
                out["with_fact"] += 1
                out["fact_stated"] += r["key_fact"] in answer.text
            if args.verbose and general and answer.sources and answer.sources[0].via == "general":
                print("GENERAL", r["query"], "| gold", sorted(gold), "|", answer.text.split("\n")[1][:80])
        return out

    n = len(undecided)
    table = {"without the general rule": outcome(False), "with the general rule": outcome(True)}
    print(json.dumps({"rows": len(rows), "undecided": n, "table": table}, ensure_ascii=False, indent=1))
    if args.json_out:
        from results import write_result

        def share(k, t, of=None):
            d = t[of] if of else n
            return round(t[k] / d, 4) if d else None

        columns = ["configuration", "undecided questions", "general rule leads", "right article in top 3 and quoted",
                   "right article first", "key fact stated"]
        out_rows = [[name, n, share("found", t), share("in_top3_and_quoted", t), share("article_first", t),
                     share("fact_stated", t, "with_fact")] for name, t in table.items()]
        write_result(args.json_out, "general_rule", "The general rule when no retrieved 款 decides the question",
                     columns, out_rows, notes=[f"{n} of {len(rows)} question-set {args.split} rows whose lead is at or "
                                               f"below the clause model's silence threshold; home {args.home}"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
