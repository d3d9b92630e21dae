"""Fit the relevance gate's combination of evidence and write assistant/answer/data/gate_model.json.

Training data: the questions written for this project (assistant/answer/data/gate_questions.txt, legal and
not legal). The two question classifiers' probabilities (character n-grams, embedder vectors) for each
training question are taken from 5-fold cross validation (the shipped classifiers are refitted on everything
at first use), so the combination does not learn to trust a probability that has seen the question. The threshold is set on the training questions;
``--check FILE.jsonl`` then reports refusals on real legal questions (dev sets, held out) and on the
off-topic questions of scripts/everyday_questions.py (held out too).

    python scripts/fit_gate.py --home /tmp/home-11 --check ../shared/eval/retrieval_stard.dev.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home")
    ap.add_argument("--dev-positives", nargs="*", default=[],
                    help="JSONL dev files whose questions (query field) are added as legal examples for the "
                         "combination (not for the shipped text classifier; no dev text is written)")
    ap.add_argument("--dev-limit", type=int, default=300, help="rows taken from each --dev-positives file")
    ap.add_argument("--check", nargs="*", default=[])
    ap.add_argument("--check-limit", type=int, default=200)
    ap.add_argument("--recall", type=float, default=0.99, help="share of training legal questions to pass")
    ap.add_argument("--min-refused", type=float, default=0.9,
                    help="share of training other questions to refuse at least: a threshold set by --recall is "
                         "raised until it does (matters for the variants with less evidence)")
    ap.add_argument("--lay-every", type=int, default=2,
                    help="fit the combination on every N-th lay question (all of them train the classifiers)")
    ap.add_argument("--out", default=str(Path(__file__).parent.parent / "assistant/answer/data/gate_model.json"))
    args = ap.parse_args()
    if args.home:
        os.environ["ASSISTANT_HOME"] = args.home
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from assistant.answer.gate import (FEATURES, VARIANT_DROPS, QuestionClassifier, SemanticClassifier,
                                       corpus_sentences, read_gate_questions, sample_article_vectors,
                                       training_questions)
    from assistant.answer.pipeline import build_assistant

    assistant = build_assistant("extractive")
    gate = assistant.gate
    gate.model = None
    written, _ = read_gate_questions()
    pos, neg = training_questions()  # the written ones plus the lay questions, as the gate fits them
    corpus = corpus_sentences(assistant.store, gate.config.corpus_sentences)
    questions = pos + neg
    y = np.array([1] * len(pos) + [0] * len(neg))
    embedder = assistant.retriever.embedder
    vecs = np.asarray(embedder.embed_documents(questions), np.float32) if embedder is not None else None
    statutes = sample_article_vectors(assistant.retriever, gate.config.corpus_sentences)
    cv_p, cv_s = np.zeros(len(questions)), np.zeros(len(questions))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(questions, y):
        clf = QuestionClassifier([questions[i] for i in train if y[i] == 1] + corpus,
                                 [questions[i] for i in train if y[i] == 0])
        sem = None if vecs is None else SemanticClassifier(vecs[[i for i in train if y[i] == 1]],
                                                           vecs[[i for i in train if y[i] == 0]], statutes)
        for i in test:
            cv_p[i] = clf.probability(questions[i])  # the user's own words, as the gate reads them
            cv_s[i] = sem.probability(vecs[i]) if sem is not None else 0.0

    def selection(q):
        hits = assistant.candidates(q, assistant.config.candidates,
                                     dict(law=None, include_repealed=False, history=None))
        return assistant.selector.select(q, hits, top_k=assistant.config.top_k)

    # the combination is fitted on the written questions and every --lay-every-th lay question (retrieval
    # evidence costs a search per question); the classifiers' probabilities above came from all of them
    keep = [i for i in range(len(questions))
            if i < len(written) or i >= len(pos) or (i - len(written)) % args.lay_every == 0]
    questions, y, cv_p, cv_s = [questions[i] for i in keep], y[keep], cv_p[keep], cv_s[keep]
    from tqdm import tqdm

    X = [gate.features(q, selection(q), text_probability=cv_p[i], semantic_probability=cv_s[i])
         for i, q in enumerate(tqdm(questions, desc="gate evidence", mininterval=5))]
    full = QuestionClassifier(pos + corpus, neg)  # what the gate uses: never saw the dev questions
    dev = []
    for path in args.dev_positives:
        rows = [json.loads(line).get("query") for line in open(path, encoding="utf-8") if line.strip()]
        dev += [q for q in rows if q][:args.dev_limit]
    # the semantic probability of a dev question: the gate's own classifier (fitted on all written questions)
    X += [gate.features(q, selection(q), text_probability=full.probability(q)) for q in dev]
    # missing evidence (no statute word in the question: no specificity) takes the typical value of the
    # questions that have it, so that it counts neither for nor against
    missing = {}
    for j, name in enumerate(FEATURES):
        known = [row[j] for row in X if row[j] is not None]
        if len(known) < len(X):
            missing[name] = float(np.mean(known))
    X = np.array([[missing.get(FEATURES[j], 0.0) if v is None else v for j, v in enumerate(row)] for row in X])
    print("missing evidence imputed:", {k: round(v, 3) for k, v in missing.items()})
    y = np.concatenate([y, np.ones(len(dev), dtype=int)])
    questions = questions + dev
    def calibrate(scores):
        """The threshold: pass args.recall of the legal training questions, unless that refuses fewer than
        args.min_refused of the other ones (then the lowest threshold that does)."""
        t = float(np.quantile(scores[y == 1], 1 - args.recall))
        other = np.sort(scores[y == 0])
        floor = float(other[min(len(other) - 1, int(np.ceil(args.min_refused * len(other))) - 1)]) + 1e-6
        return max(t, floor)

    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(X, y)
    scores = lr.predict_proba(X)[:, 1]
    threshold = calibrate(scores)
    print("features:", FEATURES)
    print("coef:", np.round(lr.coef_[0], 3).tolist(), "intercept:", round(float(lr.intercept_[0]), 3),
          "threshold:", round(threshold, 3))
    for i in np.argsort(scores):
        if (y[i] == 1 and scores[i] < threshold) or (y[i] == 0 and scores[i] >= threshold):
            print(f"  {'legal refused' if y[i] else 'other passed '} {scores[i]:.2f} {questions[i][:30]}",
                  np.round(X[i], 2).tolist())
    print(f"training: legal passed {np.mean(scores[y == 1] >= threshold):.1%}, "
          f"not legal refused {np.mean(scores[y == 0] < threshold):.1%} (n={len(pos)}/{len(neg)})")
    # variants for indexes without some evidence: no dense vectors (bm25-only), or a corpus too small for
    # word statistics (under SMALL_CORPUS articles), or both; each is fitted on the features it has
    variants = {}
    for name, drop in VARIANT_DROPS.items():
        kept_features = [i for i, f in enumerate(FEATURES) if f not in drop]
        lr_v = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(X[:, kept_features], y)
        s_v = lr_v.predict_proba(X[:, kept_features])[:, 1]
        t_v = calibrate(s_v)
        print(f"variant {name}: legal passed {np.mean(s_v[y == 1] >= t_v):.1%}, "
              f"not legal refused {np.mean(s_v[y == 0] < t_v):.1%}")
        coef = [0.0] * len(FEATURES)
        for j, i in enumerate(kept_features):
            coef[i] = float(lr_v.coef_[0][j])
        variants[name] = {"coef": coef, "intercept": float(lr_v.intercept_[0]), "threshold": t_v}
    model = {"features": list(FEATURES), "missing": missing, "coef": [float(c) for c in lr.coef_[0]],
             "intercept": float(lr.intercept_[0]), "threshold": threshold, "variants": variants,
             "fitted_on": f"{len(pos)} legal ({len(written)} written in gate_questions.txt, the rest lay questions) / "
                          f"{len(neg)} other written questions; combination on {len(keep)} of them, "
                          f"5-fold CV text and semantic probabilities, plus {len(dev)} dev questions as legal examples "
                          f"(features only); recall target {args.recall}, other refused at least {args.min_refused}"}
    Path(args.out).write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print("wrote", args.out)

    gate.model = model
    from everyday_questions import EVERYDAY, OFF_TOPIC

    def refused(q):
        return gate.judge(q, selection(q), notes=gate.law_notes(q)).refuse

    skip = args.dev_limit if args.dev_positives else 0
    print("\n| held-out set | n | refused |\n|---|---|---|")
    off = sum(refused(q) for q in OFF_TOPIC)
    print(f"| off-topic (everyday_questions.OFF_TOPIC) | {len(OFF_TOPIC)} | {off} ({off / len(OFF_TOPIC):.0%}) |")
    ev = sum(refused(q) for q, _, _ in EVERYDAY)
    print(f"| everyday legal (everyday_questions.EVERYDAY) | {len(EVERYDAY)} | {ev} ({ev / len(EVERYDAY):.0%}) |")
    from bench_answers import QUESTION_SETS, read_questions  # reported, never fitted on

    for name, path in QUESTION_SETS.items():
        h_legal, h_off = read_questions(path)
        off = sum(refused(q) for q in h_off)
        print(f"| off-topic, {name} (data/{path.name}) | {len(h_off)} | {off} ({off / len(h_off):.0%}) |")
        ev = sum(refused(q) for q, _, _ in h_legal)
        print(f"| everyday legal, {name} (data/{path.name}) | {len(h_legal)} | {ev} ({ev / len(h_legal):.0%}) |")
    for path in args.check:
        qs = [json.loads(line).get("query") for line in open(path, encoding="utf-8") if line.strip()]
        qs = [q for q in qs if q]
        if path in args.dev_positives:  # only the rows the combination did not see
            qs = qs[skip:]
        qs = qs[:args.check_limit]
        r = sum(refused(q) for q in qs)
        print(f"| {Path(path).name} | {len(qs)} | {r} ({r / len(qs):.1%}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
