"""Render every law of the default corpus back to statute text, parse it again, and count what matches.

    python scripts/roundtrip_default_corpus.py [--show-mismatches 10]

A law matches when the parser returns the same articles (number, suffix, text, 编/章/节) in the same order.
Prints a table: laws / articles matched, and the reasons for the rest.
"""
from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

from assistant.corpus import ArticleStore
from assistant.corpus.default import read_default_corpus
from assistant.corpus.parse import StatuteParseError, parse_statute_text
from assistant.corpus.render import render_law


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--show-mismatches", type=int, default=5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = ArticleStore(Path(tmp) / "corpus.sqlite")
        docs, _ = read_default_corpus()
        store.import_laws(docs)
        import_s = time.perf_counter() - t0
        size_mb = store.path.stat().st_size / 1e6

        laws = store.laws()
        matched_laws = matched_articles = total_articles = 0
        reasons: collections.Counter[str] = collections.Counter()
        examples: list[str] = []
        for info in laws:
            arts = list(store.articles(info.law))
            total_articles += len(arts)
            text = render_law(info.law, arts)
            try:
                parsed = parse_statute_text(text, f"{info.law}.txt", status=info.status).articles
            except StatuteParseError as exc:
                reasons["parse error"] += 1
                examples.append(str(exc)[:160])
                continue
            key = lambda a: (a.number, a.suffix, a.text, a.part, a.chapter, a.section)  # noqa: E731
            same = sum(1 for a, b in zip(arts, parsed) if key(a) == key(b))
            matched_articles += same
            if same == len(arts) == len(parsed):
                matched_laws += 1
            else:
                first = next((i for i, (a, b) in enumerate(zip(arts, parsed)) if key(a) != key(b)),
                             min(len(arts), len(parsed)))
                reason = ("different article count" if len(arts) != len(parsed) else "different text or headings")
                reasons[reason] += 1
                if len(examples) < args.show_mismatches and first < len(arts):
                    a = arts[first]
                    examples.append(f"{info.law} {a.number_text}: {reason}")
        print(f"{'what':<38}{'value':>12}")
        print(f"{'import of the default corpus (s)':<38}{import_s:>12.1f}")
        print(f"{'store size (MB)':<38}{size_mb:>12.1f}")
        print(f"{'laws round-tripped exactly':<38}{f'{matched_laws}/{len(laws)}':>12}")
        print(f"{'articles round-tripped exactly':<38}{f'{matched_articles}/{total_articles}':>12}")
        for reason, n in reasons.most_common():
            print(f"{'  laws with ' + reason:<38}{n:>12}")
        for ex in examples[:args.show_mismatches]:
            print("  e.g.", ex)


if __name__ == "__main__":
    main()
