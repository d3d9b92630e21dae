"""Report every change of every amendment in the store: applied / in_text / superseded / not_applied.

Each changed article is checked against the amendment's own wording (``assistant.corpus.amendments``).
Runs on a copy of the store unless --apply is given, so it can be pointed at any home.

    python scripts/check_amendments.py --home /tmp/home [--apply] [--json out.json] [--details]
"""
from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
import tempfile
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="assistant home holding corpus.sqlite")
    ap.add_argument("--apply", action="store_true", help="consolidate the store itself (default: a copy)")
    ap.add_argument("--json", help="write every change with its outcome here")
    ap.add_argument("--details", action="store_true", help="list every change that is not applied / in text")
    args = ap.parse_args(argv)

    from assistant.corpus import ArticleStore
    from assistant.corpus.amendments import OUTCOMES, consolidate

    db = Path(args.home) / "corpus.sqlite"
    if not args.apply:
        tmp = Path(tempfile.mkdtemp()) / "corpus.sqlite"
        src = ArticleStore(db, readonly=True)
        with src._lock:  # a consistent copy (WAL included)
            src._conn.execute(f"VACUUM INTO '{tmp}'")
        db = tmp
    store = ArticleStore(db)
    results = consolidate(store)
    rows = []
    for r in results:
        for a in r.amendments:
            for c in a.changes:
                rows.append({"base": r.base, **c.to_dict()})
    table = collections.OrderedDict()
    for row in rows:
        key = (row["base"], row["amendment"])
        table.setdefault(key, collections.Counter())[row["outcome"]] += 1
    cols = OUTCOMES
    print(f"| amendment | {' | '.join(cols)} |")
    print("|---|" + "---|" * len(cols))
    total = collections.Counter()
    for (base, amendment), counts in table.items():
        total.update(counts)
        print(f"| {amendment} | " + " | ".join(str(counts.get(c, 0)) for c in cols) + " |")
    print(f"| **all {len(table)} amendments** | " + " | ".join(str(total.get(c, 0)) for c in cols) + " |")
    for r in results:
        if r.applied:
            print(f"\n{r.base}: consolidated, {r.note}")
    if args.details:
        print()
        for row in rows:
            if row["outcome"] in ("not_applied", "superseded"):
                print(f"{row['amendment']} {row['item']} {row['target']}: {row['outcome']} — {row['reason']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    if not args.apply:
        shutil.rmtree(db.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
