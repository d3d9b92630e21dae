"""The training curve of `assistant train reranker`: R@5 of search + the cross-encoder after 0 and N steps.

    python scripts/bench_reranker.py --home /tmp/h --base /models/embeddinggemma-300m --layers 4 \\
        --data questions.jsonl --dev ../shared/eval/retrieval_stard.dev.jsonl --steps 60 --out runs/rerank

For each step count the first stage (the home's default search) gives its top ``--candidates`` articles and
the cross-encoder re-orders them; scored on the question file's held-out rows (``"split": "heldout"``, a
seeded sample of ``--heldout-rows``; never trained on: training reads only ``"split": "learn"`` rows) and on
the first ``--dev-rows`` rows of ``--dev``. Step 0 is the base with an untrained score head: a cross-encoder
made from an embedding model knows nothing about relevance before training, so step 0 is the floor, and the
first stage alone is printed beside it. ``--layers N`` keeps only the base's first N transformer layers (a
smaller network on a CPU that cannot afford the whole one); say so when quoting the numbers. Writes
``bench_reranker.json`` and ``bench_reranker.png`` into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def truncated_base(base: Path, layers: int, out: Path) -> Path:
    """A transformers folder with the base's first ``layers`` layers (weights and tokenizer as they were)."""
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(base))
    stack = getattr(model, "layers", None) or model.encoder.layer
    del stack[layers:]
    model.config.num_hidden_layers = layers
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[:layers]
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(out))
    return out


def untrained_cross_encoder(base: Path, out: Path, seed: int, max_length: int) -> Path:
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(seed)
    CrossEncoder(str(base), num_labels=1, device="cpu", max_length=max_length).save(str(out))
    return out


def held_out_rows(path: Path, n: int, seed: int) -> list[dict]:
    from assistant.data.datasets import read_rows

    heldout = {json.loads(line).get("id") for line in open(path, encoding="utf-8")
               if line.strip() and json.loads(line).get("split") == "heldout"}
    rows = [r for r in read_rows(path, need_gold=True) if r.id in heldout]
    return random.Random(seed).sample(rows, min(n, len(rows)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True, help="home with the corpus and its search index (not written)")
    ap.add_argument("--base", required=True, help="local model folder (transformers / sentence-transformers)")
    ap.add_argument("--layers", type=int, help="keep only the base's first N layers")
    ap.add_argument("--data", required=True, help="question file with learn / heldout splits")
    ap.add_argument("--dev", help="an evaluation file (e.g. retrieval_stard.dev.jsonl), measured only")
    ap.add_argument("--dev-rows", type=int, default=100)
    ap.add_argument("--heldout-rows", type=int, default=100)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--negatives", type=int, default=3)
    ap.add_argument("--method", default="top", choices=("top", "lora", "full"))
    ap.add_argument("--top-layers", type=int, default=2)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--candidates", type=int, default=10, help="first-stage articles the cross-encoder re-orders")
    ap.add_argument("--rerank-weight", type=float, default=1.0,
                    help="weight of the cross-encoder against the first stage's order (1: its order alone)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the models an earlier run left in OUT/models (measure again, e.g. another weight)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import os

    os.environ["ASSISTANT_HOME"] = args.home
    os.environ.pop("ASSISTANT_RERANKER", None)
    from assistant.corpus import open_store
    from assistant.data.datasets import read_rows
    from assistant.eval.retrieval import evaluate_retrieval
    from assistant.search import SearchConfig, load_retriever
    from assistant.search.rerank import CrossEncoderReranker
    from assistant.search.retriever import Retriever
    from assistant.train.retriever_tune import TuneConfig, train_retrieval_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "models"
    work.mkdir(exist_ok=True)
    base = Path(args.base)
    base_name = base.name
    if args.layers:
        small = work / f"{base.name}-first{args.layers}"
        reuse = args.reuse and (small / "config.json").is_file()
        base = small if reuse else truncated_base(base, args.layers, small)
        base_name += f" (first {args.layers} layers)"
    sets = {"heldout": held_out_rows(Path(args.data), args.heldout_rows, args.seed)}
    if args.dev:
        sets[Path(args.dev).name] = read_rows(args.dev, need_gold=True)[:args.dev_rows]

    store = open_store(readonly=True)
    first = load_retriever(store, build_if_missing=False, progress=False, reranker=None)
    cfg = SearchConfig(rerank_candidates=args.candidates, rerank_weight=args.rerank_weight)

    def measure(reranker) -> dict:
        r = Retriever(store, first.index, first.embedder, cfg, rescorer=first.rescorer, reranker=reranker)
        res = {}
        for name, rows in sets.items():
            t0 = time.perf_counter()
            m = evaluate_retrieval(r, rows, top_k=10, progress=False)
            res[name] = {k: m[k] for k in ("n", "recall@5", "hit@5", "mrr", "ndcg@10", "latency_ms_p50")}
            res[name]["seconds"] = round(time.perf_counter() - t0, 1)
            print(f"  {name}: R@5 {m['recall@5']:.3f}  hit@5 {m['hit@5']:.3f}  MRR {m['mrr']:.3f}  "
                  f"({res[name]['seconds']} s)", flush=True)
        return res

    report = {"base": str(args.base), "base_used": base_name, "data": args.data, "dev": args.dev,
              "candidates": args.candidates, "rerank_weight": args.rerank_weight, "first_stage": first.manifest.get("embedder_id") or "bm25",
              "sets": {k: len(v) for k, v in sets.items()}, "points": []}
    print("first stage alone", flush=True)
    report["first_stage_metrics"] = measure(None)
    print("step 0 (untrained score head)", flush=True)
    zero = work / "reranker-step0"
    if not (args.reuse and (zero / "config.json").is_file()):
        untrained_cross_encoder(base, zero, args.seed, args.max_length)
    report["points"].append({"steps": 0, "metrics": measure(CrossEncoderReranker(zero, max_length=args.max_length))})
    if args.steps:
        tc = TuneConfig(kind="reranker", base=str(base), out=str(work / f"reranker-step{args.steps}"), data=args.data,
                        steps=args.steps, batch_size=args.batch_size, negatives=args.negatives, method=args.method,
                        top_layers=args.top_layers, lr=args.lr, max_length=args.max_length, seed=args.seed)
        done = Path(tc.out) / "train_summary.json"
        if args.reuse and done.is_file():
            summary = json.loads(done.read_text("utf-8"))
        else:
            summary = train_retrieval_model(tc, store, progress=True)
        summary.pop("log_history", None)
        report["training"] = summary
        print(f"step {args.steps} (loss {summary['loss_first']} -> {summary['loss_last']}, "
              f"{summary['seconds_train']} s)", flush=True)
        report["points"].append({"steps": args.steps, "metrics": measure(
            CrossEncoderReranker(tc.out, max_length=args.max_length))})
    stem = "bench_reranker" if args.rerank_weight == 1.0 else f"bench_reranker_w{args.rerank_weight:g}"
    (out / f"{stem}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    plot(report, out / f"{stem}.png")
    print(f"wrote {out / stem}.json and .png")
    return 0


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=100)
    for i, name in enumerate(report["sets"]):
        color = f"C{i}"
        xs = [p["steps"] for p in report["points"]]
        ys = [p["metrics"][name]["recall@5"] for p in report["points"]]
        ax.plot(xs, ys, "o-", color=color, label=f"{name} + reranker")
        ax.axhline(report["first_stage_metrics"][name]["recall@5"], color=color, ls="--", alpha=0.6,
                   label=f"{name}, first stage alone")
    ax.set_xlabel("training steps")
    ax.set_ylabel("R@5")
    ax.set_title(f"cross-encoder from {report['base_used']}, weight {report['rerank_weight']:g}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
