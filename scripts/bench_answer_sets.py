"""Extractive answers on every question set at once, one row per set: right article in the top 3 and
quoted, key fact stated (anywhere, and in the answer's first line), all three, refused by mistake, off-topic
refused. Runs scripts/bench_answers.py once per set; ``--code DIR`` runs it against another checkout's
``assistant`` (a before/after table).

    python scripts/bench_answer_sets.py --home H --heldout-home H_LEARN --label after \\
        --json-out docs/results/answer_sets_after.json
    git worktree add /tmp/before <commit> && python scripts/bench_answer_sets.py --code /tmp/before ... --label before

``--heldout-home``: an index learned from the question set's learn split only, for the question set's
held-out rows (out-of-sample); the everyday sets use ``--home``. ``--heldout-lay-questions``: that split's file,
which the gate then learns its legal examples from too (without it, the packaged file's held-out rows are among
them).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETS = ["insample", "dev", "heldout", "heldout2", "borrowed_words", "question_set_heldout"]


def run_set(name: str, args, out: Path) -> dict:
    cmd = [sys.executable, str(HERE / "bench_answers.py"), "--home", args.home, "--json", str(out)]
    if name == "borrowed_words":
        cmd += ["--questions", str(HERE / "data" / "borrowed_words_offtopic_heldout.jsonl"),
                "--gate-data", str(HERE / "data" / "borrowed_words_legal_heldout.jsonl")]
    elif name == "question_set_heldout":
        cmd[cmd.index("--home") + 1] = args.heldout_home or args.home
        cmd += ["--question-set", "heldout", "--limit", str(args.limit)]
    else:
        cmd += ["--set", name]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if name == "question_set_heldout" and args.heldout_lay_questions:
        # the gate learns legal questions from the lay question file: the learn split's, or it has seen
        # questions about the held-out articles
        env["ASSISTANT_LAY_QUESTIONS"] = str(Path(args.heldout_lay_questions).resolve())
    if args.code:
        env["PYTHONPATH"] = str(Path(args.code).resolve())
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text(encoding="utf-8"))


def row_of(name: str, result: dict) -> list:
    rows, off = result["everyday"], result["off_topic"]
    n = len(rows)

    def share(pred):
        return round(sum(bool(pred(r)) for r in rows) / n, 3) if n else None

    legal_refused = None
    if result.get("gate"):  # legal questions asked through off-topic subjects: refused by mistake
        g = result["gate"][0]
        legal_refused = round(g["refused"] / max(1, g["n"]), 3)
    return [name, n, share(lambda r: r["in_top3"]), share(lambda r: r["quoted"]), share(lambda r: r["fact_stated"]),
            share(lambda r: r["fact_in_first_line"]),
            share(lambda r: r["in_top3"] and r["quoted"] and r["fact_stated"]),
            share(lambda r: r["refused"]) if n else legal_refused,
            f"{sum(o['refused'] for o in off)}/{len(off)} ({sum(o['unquoted'] for o in off)} quote nothing)"
            if off else None]


def code_commit(folder: str) -> str:
    """The commit of the checkout the answers ran on (the result's meta names this checkout's)."""
    done = subprocess.run(["git", "-C", folder, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or f"{folder} (not a git checkout)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--heldout-home")
    ap.add_argument("--heldout-lay-questions",
                    help="the learn split's question file the --heldout-home was built from (the gate reads it too)")
    ap.add_argument("--code", help="a checkout whose assistant package to run (default: this one)")
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--sets", nargs="*", default=SETS, choices=SETS)
    ap.add_argument("--limit", type=int, default=400, help="question-set held-out rows (seeded sample)")
    ap.add_argument("--json-out")
    ap.add_argument("--note", help="what else ran, what differs from the default build …")
    args = ap.parse_args()
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            table.append(row_of(name, run_set(name, args, Path(tmp) / f"{name}.json")))
            print(" | ".join(str(c) for c in table[-1]), flush=True)
    if args.json_out:
        sys.path.insert(0, str(HERE))
        from results import write_result

        columns = ["question set", "questions", "right article in top 3", "right article quoted", "key fact stated",
                   "key fact in the first line", "all three", "refused by mistake", "off-topic refused"]
        write_result(args.json_out, "answer_sets", f"Extractive answers per question set ({args.label})", columns,
                     table, notes=[f"home {args.home}; question set held-out rows on {args.heldout_home or args.home} "
                                   f"(sample of {args.limit}); borrowed_words: off-topic questions that borrow legal "
                                   "words and, as 'refused by mistake', legal questions asked through such subjects",
                                   "the packaged clause model was fitted on the question set's held-out rows (against "
                                   "an index of the learn split): those rows are in-sample for the answer's 款 and "
                                   "lead choice; the everyday sets are not",
                                   f"the gate's lay questions for the held-out rows: "
                                   f"{args.heldout_lay_questions or 'the packaged file (held-out rows among them)'}"],
                     note=args.note, extra={"code": code_commit(args.code)} if args.code else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
