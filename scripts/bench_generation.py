"""Extractive answers and a GGUF model on dev questions: BLEU (jieba tokens, nltk smoothing method4) and
ROUGE-L against reference answers where the set has them, share of answers citing a gold article,
fabricated citations and whether the checker flagged them, numbers flagged by the fact check, latency to
the first token and to the whole answer. A fixed subsample (--limit rows of each file after --offset: the
prompt was tuned on rows 0-29 of the dev files, so figures are reported on rows 30-59).

    nice -n 10 python scripts/bench_generation.py --home /tmp/home-11 --limit 25 \\
        --data ../shared/eval/retrieval_stard.dev.jsonl ../shared/eval/retrieval_lawyer_llama_consult.dev.jsonl \\
        --backend extractive --out runs/bench_generation/extractive.jsonl
    ... --backend llamacpp --model ~/.cache/assistant-models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --max-new-tokens 256 --out runs/bench_generation/qwen1.5b.jsonl
    python scripts/bench_generation.py --summarize runs/bench_generation/*.jsonl

An untuned local model is given the extractive answer's lead as a draft to rewrite (PipelineConfig.draft);
``--no-draft`` measures the plain short-context prompt on the same rows. Rows with a ``key`` list (the
everyday question files, scripts/data/everyday_*.jsonl) are also scored for the key fact stated (any listed
key in the answer, as scripts/bench_answers.py scores it); the dev sets have no key facts. ``--json-out``
writes the summary table as a benchmark result (docs/results/*.json).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path


def bleu_jieba(prediction: str, reference: str) -> float:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    from assistant.eval.metrics import tokenize

    hyp = [t for t in tokenize(prediction) if t.strip()]
    ref = [t for t in tokenize(reference) if t.strip()]
    if not hyp or not ref:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return 100.0 * float(sentence_bleu([ref], hyp, smoothing_function=SmoothingFunction().method4))


def run(args) -> None:
    if args.home:
        os.environ["ASSISTANT_HOME"] = args.home
    from assistant.answer.pipeline import CUT_OFF, EMPTY_OUTPUT, GARBLED, PipelineConfig, build_assistant
    from assistant.data.gold import gold_keys, key_from_article_id
    from assistant.eval.metrics import citation_key, score_pair

    options = {}
    if args.backend == "llamacpp":
        options = {"n_ctx": args.n_ctx, "n_threads": args.threads}
    bot = build_assistant(args.backend, model=args.model,
                          config=PipelineConfig(top_k=args.top_k, max_new_tokens=args.max_new_tokens,
                                                 short_context_articles=args.context_articles
                                                 or PipelineConfig().short_context_articles, draft=args.draft),
                          **options)
    generative = args.backend != "extractive"
    requests = []
    real_stream = bot.backend.stream

    def recording(request):  # the real generation; the request kept to see whether its prompt held a draft
        requests.append(request)
        for delta in real_stream(request):
            now = time.perf_counter()
            request.first_delta = getattr(request, "first_delta", now)
            request.last_delta = now
            yield delta

    bot.backend.stream = recording
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        done = {json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()}
    with out.open("a", encoding="utf-8") as fh:
        for path in args.data:
            rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
            for n, row in enumerate(rows):  # the everyday question files have no ids: file and line
                row.setdefault("id", f"{Path(path).stem}-{n}")
            rows = rows[args.offset:args.offset + args.limit]
            for row in rows:
                if row["id"] in done:
                    continue
                requests.clear()
                question = row.get("query") or row.get("question")
                gold = gold_keys(row.get("law"), row.get("citations") or row.get("articles"))
                t0 = time.perf_counter()
                first = None
                answer = None
                for event in bot.stream(question, max_new_tokens=args.max_new_tokens):
                    if event.kind == "token" and first is None:
                        first = time.perf_counter() - t0
                    elif event.kind == "done":
                        answer = event.answer
                total = time.perf_counter() - t0
                d = answer.to_dict()
                cited = {citation_key(c) for c in d["citations"]} - {None}
                fabricated = [c for c in d["citations"] if c["verdict"] in ("not_found", "unresolved")]
                model_text = answer.text
                for note in (CUT_OFF, EMPTY_OUTPUT, GARBLED):  # the pipeline's own notes are not model output
                    model_text = model_text.replace("\n" + note, "").replace(note, "")
                tokens = bot.backend.count_tokens(model_text) if generative and model_text.strip() else None
                generated = [r for r in requests if hasattr(r, "first_delta")]
                drafted = any("\n\n草稿：" in r.messages[-1]["content"] for r in requests)
                rec = {"id": row["id"], "data": Path(path).name, "backend": args.backend, "model": args.model,
                       "prompt": "draft" if bot.drafts() else "plain", "draft_given": drafted,
                       "question": question, "off_topic": bool(row.get("off_topic")),
                       "answer": answer.text, "finish_reason": answer.finish_reason,
                       "cites_gold": bool(cited & gold), "n_citations": len(d["citations"]),
                       # the ceiling of cites_gold: a gold article among the sources the answer was given
                       "gold_in_sources": bool({key_from_article_id(h.article.id) for h in answer.sources} & gold),
                       "fabricated": len(fabricated),
                       # the checker flags a fabricated citation by its verdict; "unflagged": one outside the corpus
                       # or outside the model's context that it still calls verified
                       "fabricated_unflagged": sum(c["verdict"] == "verified" and (not c["exists"] or c["in_context"] is False)
                                                   for c in d["citations"]),
                       "not_in_context": sum(c["verdict"] == "not_in_context" for c in d["citations"]),
                       "fact_flags": [f["text"] for f in d["fact_check"]],
                       "first_token_s": round(first if first is not None else total, 3), "total_s": round(total, 3),
                       "tokens": tokens}
                if generative and generated:
                    # the model's own tokens and the time from its first to its last (notes said before it excluded)
                    rec["generated_tokens"] = sum(r.generated_tokens for r in generated)
                    rec["generation_s"] = round(sum(r.last_delta - r.first_delta for r in generated), 3)
                if row.get("key"):
                    rec["key_fact"] = row["key"]
                    rec["states_key_fact"] = any(k in model_text for k in row["key"])
                reference = row.get("response")
                if reference:
                    rec["bleu"] = round(bleu_jieba(answer.text, reference), 3)
                    rec["rouge_l"] = score_pair(answer.text, reference)["rouge-l"]
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                fh.flush()
                print(f"{rec['data'][:20]} {row['id']}: first {rec['first_token_s']:.1f}s total {total:.1f}s "
                      f"tokens {tokens} gold {rec['cites_gold']} {answer.text[:50]!r}", flush=True)
    bot.close()


def tokens_per_second(rows) -> float | None:
    """Generation speed: the model's tokens over the time from its first token to its last (the prompt's
    reading, retrieval and clause choice come before). Rows recorded before ``generation_s`` was: the
    answer's tokens over first-to-last streamed token."""
    if any("generation_s" in r for r in rows):
        timed = [r for r in rows if r.get("generated_tokens", 0) > 1 and r["generation_s"] > 0]
        seconds = sum(r["generation_s"] for r in timed)
        return sum(r["generated_tokens"] - 1 for r in timed) / seconds if seconds else None
    timed = [r for r in rows if r.get("tokens") and r["total_s"] > r["first_token_s"]]
    seconds = sum(r["total_s"] - r["first_token_s"] for r in timed)
    return sum(r["tokens"] - 1 for r in timed) / seconds if seconds else None


COLUMNS = ["backend", "model", "prompt", "data", "n", "BLEU (jieba, m4)", "ROUGE-L", "cites a gold article",
           "key fact stated", "fabricated citations", "unflagged fabrications", "numbers flagged", "refused",
           "cut off", "first token p50 s", "answer p50 s", "tokens/s", "gold in sources"]


def summarize(paths, same_rows: bool = False) -> list[list]:
    """Prints the Markdown table and returns its rows (``COLUMNS``; shares as fractions, None where a
    figure does not apply). ``same_rows``: only the rows every file holds (runs cut off at different points)."""
    files = [[json.loads(line) for line in Path(p).read_text(encoding="utf-8").splitlines() if line.strip()]
             for p in paths]
    if same_rows:
        common = set.intersection(*({r["id"] for r in f} for f in files))
        files = [[r for r in f if r["id"] in common] for f in files]
    rows = [r for f in files for r in f]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["backend"], Path(r["model"] or "").name or "-", r.get("prompt", "-"), r["data"]),
                          []).append(r)
    table = []
    for (backend, model, prompt, data), rs in sorted(groups.items()):
        n = len(rs)
        legal = [r for r in rs if not r.get("off_topic")] or rs  # the gold shares: of questions that have gold
        bleu = [r["bleu"] for r in rs if "bleu" in r]
        rouge = [r["rouge_l"] for r in rs if "rouge_l" in r]
        keyed = [r for r in rs if "states_key_fact" in r]
        speed = tokens_per_second(rs)
        table.append([backend, model, prompt, data, n,
                      round(statistics.fmean(bleu), 1) if bleu else None,
                      round(statistics.fmean(rouge), 1) if rouge else None,
                      round(sum(r["cites_gold"] for r in legal) / len(legal), 3),
                      round(sum(r["states_key_fact"] for r in keyed) / len(keyed), 3) if keyed else None,
                      sum(r["fabricated"] for r in rs), sum(r["fabricated_unflagged"] for r in rs),
                      sum(bool(r["fact_flags"]) for r in rs), sum(r["finish_reason"] == "refused" for r in rs),
                      sum(r["finish_reason"] == "length" for r in rs),
                      round(statistics.median(r["first_token_s"] for r in rs), 2),
                      round(statistics.median(r["total_s"] for r in rs), 2),
                      round(speed, 1) if speed else None,
                      round(sum(r["gold_in_sources"] for r in legal) / len(legal), 3)
                      if all("gold_in_sources" in r for r in legal)
                      else None])
    shares = {"cites a gold article", "key fact stated", "gold in sources"}
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in table:
        print("| " + " | ".join("–" if v is None else f"{v:.0%}" if c in shares else str(v)
                                for c, v in zip(COLUMNS, row)) + " |")
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home")
    ap.add_argument("--data", nargs="*", default=[])
    ap.add_argument("--limit", type=int, default=25)
    ap.add_argument("--offset", type=int, default=0,
                    help="skip this many rows of each file first (tune on rows 0-29, report on 30-59)")
    ap.add_argument("--backend", default="extractive")
    ap.add_argument("--model")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--context-articles", type=int,
                    help="articles (each as its best 款) a small model is given (default: PipelineConfig's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--draft", action=argparse.BooleanOptionalAction, default=None,
                    help="the extractive draft in the model's prompt (default: the pipeline's, on for an untuned "
                         "local model)")
    ap.add_argument("--out", default="runs/bench_generation/run.jsonl")
    ap.add_argument("--summarize", nargs="*")
    ap.add_argument("--same-rows", action="store_true",
                    help="with --summarize: only the rows every file holds (runs cut off at different points)")
    ap.add_argument("--json-out", help="write the summary table as a benchmark result (docs/results/*.json)")
    ap.add_argument("--title", default="Generation: a small model's answers")
    ap.add_argument("--note", help="a line recorded with the result (rows used, what else ran)")
    args = ap.parse_args()
    if not args.summarize:
        run(args)
    table = summarize(args.summarize or [args.out], same_rows=args.same_rows)
    if args.json_out:
        sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/results.py
        from results import write_result

        write_result(args.json_out, "generation", args.title, COLUMNS, table, note=args.note,
                     notes=["tokens/s: the answers' tokens over the time from the first token to the last",
                            "unflagged fabrications: citations outside the corpus or the model's context that the "
                            "checker still calls verified", "key fact: rows with a key list only"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
