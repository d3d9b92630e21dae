"""Does the training pipeline really learn on CPU? A few minutes on the tiny GLM model, one thread.

1. tiny model: tokenizer trained on the article store's in-force texts, random GlmForCausalLM;
2. CPT (full fine-tuning) on one law with a held-out share of its articles: held-out perplexity before/after,
   packing efficiency, tokens/s;
3. SFT on recitation pairs ("《X》第N条的内容是什么？" → text) for a few dozen short articles, then greedy
   decoding of the same questions, ROUGE-L against the article text (assistant.eval.metrics.rouge_bleu);
   full fine-tuning, LoRA and P-Tuning v2 (PEFT prefix tuning): trainable parameter counts, loss, ROUGE-L;
4. LoRA and P-Tuning v2 checkpoints reloaded with load_causal_lm give identical logits/generations.

Prints a table; writes runs/bench_training/results.json and results.png (loss curves). The machine is
shared: timings (tokens/s) are noisy. Usage:
    ASSISTANT_HOME=/tmp/home python scripts/bench_training.py [--law 民法典] [--cpt-steps 150] [--sft-steps 200]
(the store must hold the default corpus: `assistant corpus import --default`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("ASSISTANT_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import assistant  # noqa: E402,F401  (sets thread variables)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/bench_training")
    ap.add_argument("--law", default="民法典")
    ap.add_argument("--vocab-size", type=int, default=6000)
    ap.add_argument("--hidden-size", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--cpt-steps", type=int, default=150)
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--holdout", type=float, default=0.05)
    ap.add_argument("--sft-articles", type=int, default=30)
    ap.add_argument("--sft-steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from assistant.corpus import open_store
    from assistant.eval.metrics import rouge_bleu
    from assistant.threads import limit_torch_threads
    from assistant.models.loader import load_causal_lm
    from assistant.train.tiny import build_tiny_model, corpus_texts
    from assistant.train.trainer import train

    limit_torch_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"threads": torch.get_num_threads(), "note": "shared 2-core machine; timings are noisy"}

    with open_store(readonly=True) as store:
        if store.count() == 0:
            print("the store is empty: run `assistant corpus import --default` first", file=sys.stderr)
            return 2
        law = store.resolver().resolve(args.law)
        texts = corpus_texts(store)
        short = [a for a in store.articles(law=law, in_force_only=True) if 20 <= len(a.text) <= 60]
    rng = random.Random(args.seed)
    sft_articles = rng.sample(short, min(args.sft_articles, len(short)))

    # 1. tiny model
    t = time.perf_counter()
    model_dir = build_tiny_model(out / "tiny", texts, vocab_size=args.vocab_size, hidden_size=args.hidden_size,
                                 num_layers=args.layers, seed=args.seed)
    results["tiny"] = json.loads((model_dir / "tiny_model.json").read_text()) | {
        "build_seconds": round(time.perf_counter() - t, 1), "tokenizer_texts": len(texts)}

    # 2. CPT on one law, held-out articles as the eval set
    common = {"use_cpu": True, "seed": args.seed, "report_to": "none", "save_strategy": "no", "logging_steps": 10}
    cpt = train("pt", {**common, "model_name_or_path": str(model_dir), "method": "full", "laws": [law],
                       "holdout_articles": args.holdout, "block_size": args.block_size, "output_dir": str(out / "cpt"),
                       "per_device_train_batch_size": 8, "learning_rate": 3e-3, "lr_scheduler_type": "cosine",
                       "warmup_steps": 0.05, "max_steps": args.cpt_steps}, progress=True)
    results["cpt"] = {k: cpt[k] for k in ("eval_perplexity_before", "eval_perplexity", "tokens_per_second",
                                          "train_seconds", "global_step", "parameters")}
    results["cpt"]["packing"] = cpt["data"]["packing"]
    results["cpt"]["holdout_articles"] = cpt["data"]["holdout"]["articles"]
    # packing with the tail padded instead of dropped, for the efficiency figure over the whole law
    from transformers import AutoTokenizer

    from assistant.train.data.cpt import law_documents, pack_documents

    tok = AutoTokenizer.from_pretrained(model_dir)
    with open_store(readonly=True) as store:
        _, padded = pack_documents(law_documents(store), tok, args.block_size, keep_last=True)
    results["cpt"]["packing_all_laws_padded"] = padded.to_dict()

    # 3. SFT on recitation pairs
    data = out / "recitation.jsonl"
    with data.open("w", encoding="utf-8") as f:
        for a in sft_articles:
            f.write(json.dumps({"instruction": f"{a.label}的内容是什么？", "input": "", "output": a.text},
                               ensure_ascii=False) + "\n")
    base_sft = {**common, "model_name_or_path": str(out / "cpt"), "datasets": [str(data)], "template": "chatglm2",
                "max_steps": args.sft_steps, "per_device_train_batch_size": 8, "lr_scheduler_type": "cosine",
                "warmup_steps": 0.05}
    methods = {"full": {"learning_rate": 2e-3},
               "lora": {"learning_rate": 1e-2, "lora_rank": 32, "lora_alpha": 64, "lora_target": ["all"],
                        "lora_dropout": 0.0},
               "ptuning": {"learning_rate": 3e-2, "pre_seq_len": 32, "prefix_projection": True,
                           "prefix_hidden_size": 256}}
    prompts = [f"[Round 1]\n\n问：{a.label}的内容是什么？\n\n答：" for a in sft_articles]
    refs = [a.text for a in sft_articles]
    results["sft"] = {}
    curves = {"cpt": cpt["log_history"]}
    for method, extra in methods.items():
        run_dir = out / f"sft-{method}"
        m = train("sft", {**base_sft, **extra, "method": method, "output_dir": str(run_dir)}, progress=True)
        curves[f"sft-{method}"] = m["log_history"]
        adapter = None if method == "full" else run_dir
        model, tk = load_causal_lm(run_dir if method == "full" else out / "cpt", adapter)
        preds = []
        t = time.perf_counter()
        for p in prompts:
            ids = tk(p, return_tensors="pt")
            with torch.no_grad():
                gen = model.generate(**ids, max_new_tokens=80, do_sample=False, pad_token_id=tk.pad_token_id)
            preds.append(tk.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
        scores = rouge_bleu(preds, refs)
        row = {"trainable": m["parameters"]["trainable"], "total": m["parameters"]["total"],
               "first_loss": m["first_logged_loss"], "last_loss": m["last_logged_loss"],
               "tokens_per_second": m["tokens_per_second"], "train_seconds": m["train_seconds"],
               "rouge_l": scores.get("rouge-l"), "bleu_4": scores.get("bleu-4"),
               "decode_seconds": round(time.perf_counter() - t, 1), "example": {"ref": refs[0], "pred": preds[0]}}
        if adapter is not None:  # 4. reload equality: a second independent load gives identical outputs
            model2, _ = load_causal_lm(out / "cpt", adapter)
            ids = tk(prompts[0], return_tensors="pt")
            with torch.no_grad():
                same_logits = torch.equal(model(**ids).logits, model2(**ids).logits)
                g1 = model.generate(**ids, max_new_tokens=30, do_sample=False, pad_token_id=tk.pad_token_id)
                g2 = model2.generate(**ids, max_new_tokens=30, do_sample=False, pad_token_id=tk.pad_token_id)
            row["reload_identical"] = bool(same_logits and torch.equal(g1, g2))
            row["checkpoint_files"] = sorted(p.name for p in run_dir.iterdir() if p.is_file())
        results["sft"][method] = row

    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    _plot(curves, out / "results.png")
    _print_table(results)
    print(f"\nwrote {out / 'results.json'} and {out / 'results.png'}")
    return 0


def _plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    for name, hist in curves.items():
        ax = axes[0] if name == "cpt" else axes[1]
        pts = [(r["step"], r["loss"]) for r in hist if "loss" in r]
        if pts:
            ax.plot(*zip(*pts), label=f"{name} train")
        ev = [(r["step"], r["eval_loss"]) for r in hist if "eval_loss" in r]
        if ev:
            ax.plot(*zip(*ev), "o--", label=f"{name} held-out")
    axes[0].set_title("continued pretraining")
    axes[1].set_title("SFT on recitation pairs")
    for ax in axes:
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _print_table(r: dict) -> None:
    c = r["cpt"]
    print("\n== tiny model ==")
    print(f"vocab {r['tiny']['vocab_size']}, parameters {r['tiny']['parameters']:,}, built in {r['tiny']['build_seconds']} s")
    print("\n== continued pretraining (full FT, one law, held-out articles) ==")
    print(f"held-out articles        {c['holdout_articles']}")
    print(f"held-out perplexity      {c['eval_perplexity_before']:.1f} -> {c['eval_perplexity']:.1f}")
    print(f"packing efficiency       {c['packing']['efficiency']:.2%} (tail dropped); "
          f"{c['packing_all_laws_padded']['efficiency']:.4%} (all laws, tail padded)")
    print(f"tokens/s (1 thread)      {c['tokens_per_second']}")
    print("\n== SFT on recitation pairs, greedy decoding of the trained questions ==")
    print(f"{'method':<9}{'trainable':>12}{'total':>12}{'loss':>17}{'ROUGE-L':>9}{'BLEU-4':>8}{'tok/s':>8}{'reload':>8}")
    for name, s in r["sft"].items():
        loss = f"{s['first_loss']:.2f}->{s['last_loss']:.2f}"
        print(f"{name:<9}{s['trainable']:>12,}{s['total']:>12,}{loss:>17}{s['rouge_l']:>9.1f}{s['bleu_4']:>8.1f}"
              f"{s['tokens_per_second']:>8}{str(s.get('reload_identical', '-')):>8}")


if __name__ == "__main__":
    sys.exit(main())
