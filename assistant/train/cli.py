"""``assistant model tiny|import-gguf``, ``assistant data sft|pt``,
``assistant train pt|sft|merge|reranker|embedder``."""
from __future__ import annotations

import argparse
import json

from assistant.cli import print_json


class _OverridesParser(argparse.ArgumentParser):
    """Keeps unknown ``--key value`` flags as configuration overrides (``args.overrides``) instead of
    rejecting them: the training options are the dataclass fields, parsed later by HfArgumentParser, and
    importing transformers just to declare them here would make every ``--help`` slow."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        namespace.overrides = list(getattr(namespace, "overrides", None) or []) + extras
        return namespace, []


def register(sub) -> None:
    model = sub.add_parser("model", help="build models locally (tiny GLM for CPU tests and demos)")
    msub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    tiny = msub.add_parser("tiny", help="a tokenizer trained on statute text + a small random GlmForCausalLM")
    tiny.add_argument("--out", required=True, help="output folder")
    tiny.add_argument("--from-corpus", action="store_true",
                      help="train the tokenizer on the article store (default when no --text is given)")
    tiny.add_argument("--text", nargs="*", default=[], help="text files to train the tokenizer on instead")
    tiny.add_argument("--vocab-size", type=int, default=8000)
    tiny.add_argument("--hidden-size", type=int, default=128)
    tiny.add_argument("--layers", type=int, default=2)
    tiny.add_argument("--heads", type=int, default=4)
    tiny.add_argument("--limit", type=int, default=None, help="at most this many articles for the tokenizer")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--json", action="store_true")
    tiny.set_defaults(func=cmd_model_tiny)
    gguf = msub.add_parser("import-gguf", help="a GGUF model (llama.cpp) as a Hugging Face folder: bf16 weights, "
                                               "tokenizer, chat template (needs the gguf package)")
    gguf.add_argument("gguf_file", metavar="FILE.gguf")
    gguf.add_argument("--out", required=True, help="output folder (new or empty)")
    gguf.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"])
    gguf.add_argument("--json", action="store_true")
    gguf.set_defaults(func=cmd_model_import_gguf)
    export = msub.add_parser("export-gguf", help="a Hugging Face Qwen2 folder (e.g. from `train merge`) as a GGUF "
                                                 "file for llama.cpp (needs the gguf package)")
    export.add_argument("model_dir", metavar="DIR")
    export.add_argument("--out", required=True, help="output .gguf file (new)")
    export.add_argument("--outtype", default="f16", choices=["f16", "f32", "q8_0"],
                        help="weight type (norms and biases stay f32); Q4_K_M etc.: llama.cpp's llama-quantize")
    export.add_argument("--json", action="store_true")
    export.set_defaults(func=cmd_model_export_gguf)

    data = sub.add_parser("data", help="training data from the corpus (SFT examples, CPT packing report)")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    sft = dsub.add_parser("sft", help="generate SFT examples (alpaca JSONL) from the article store")
    sft.add_argument("--out", required=True, help="output .jsonl")
    sft.add_argument("--kinds", nargs="+", default=["recitation", "locate", "rag", "abstain"])
    sft.add_argument("--law", action="append", help="only this law (repeatable; full or short name)")
    sft.add_argument("--limit", type=int, help="at most this many articles (sampled)")
    sft.add_argument("--distractors", type=int, default=2)
    sft.add_argument("--retriever", action="store_true",
                     help="take distractors from the search index (assistant.search) instead of the same chapter")
    sft.add_argument("--tokenizer", help="model folder whose tokenizer counts the context budget, as the "
                                          "transformers backend does (default: characters)")
    sft.add_argument("--context-budget", type=int, default=None,
                     help="context tokens of the RAG prompts (default: the app's, 2000); match `ask`'s settings")
    sft.add_argument("--exclude-gold", nargs="*", default=[], metavar="FILE.jsonl",
                     help="evaluation files (law + articles / citations) whose gold articles are never used as "
                          "training gold, so that scoring on them measures generalisation")
    sft.add_argument("--seed", type=int, default=0)
    qs = sft.add_argument_group(
        "from the question set", "--from-questions: the app's exact prompt for each learn question of --data (the "
        "real pipeline over this home's index) joined with its written target (--targets), every target checked "
        "by the citation and number checks, deduplicated, abstentions at --abstain-share")
    qs.add_argument("--from-questions", action="store_true", help="build from the question set instead of articles")
    qs.add_argument("--data", metavar="QUESTIONS.jsonl", help="the question set (rows with \"split\": \"learn\")")
    qs.add_argument("--targets", metavar="FILE.jsonl",
                    help="targets keyed by question id (default: assistant/train/data/legal_sft_targets.jsonl)")
    qs.add_argument("--prompts", metavar="FILE.jsonl", help="reuse app prompts recorded by --prompts-out")
    qs.add_argument("--prompts-out", metavar="FILE.jsonl", help="keep the recorded app prompts (for targets)")
    qs.add_argument("--format", default="alpaca", choices=["alpaca", "sharegpt", "qwen", "chatglm2"],
                    help="alpaca (system/instruction/output), sharegpt (conversations), qwen (messages), chatglm2 "
                         "(content/summary, the system text before the question); all load through the registry")
    qs.add_argument("--abstain-share", type=float, default=0.17, help="share of abstentions in the output")
    qs.add_argument("--full-context", action="store_true",
                    help="the prompt of a model served with an adapter (whole articles, the long instruction) "
                         "instead of the small-model prompt that llama.cpp / a merged model gets")
    sft.add_argument("--json", action="store_true")
    sft.set_defaults(func=cmd_data_sft)
    convert = dsub.add_parser("convert", help="SFT rows (e.g. assistant/train/data/legal_sft.jsonl) in another "
                                              "output format: sharegpt, qwen, chatglm2, alpaca")
    convert.add_argument("file", metavar="FILE.jsonl")
    convert.add_argument("--format", required=True, choices=["alpaca", "sharegpt", "qwen", "chatglm2"])
    convert.add_argument("--out", required=True)
    convert.add_argument("--json", action="store_true")
    convert.set_defaults(func=cmd_data_convert)
    cpt = dsub.add_parser("cpt", help="continued-pretraining documents from the store (corpus plus imported "
                                      "collections) with a held-out set; packing report and held-out perplexity")
    cpt.add_argument("--out", required=True, help="output folder: train.jsonl, heldout.jsonl, report.json")
    cpt.add_argument("--law", action="append", help="only this law (repeatable)")
    cpt.add_argument("--kind", action="append", help="only laws of this kind (法律, 司法解释, 行政法规 …; repeatable)")
    cpt.add_argument("--holdout", type=int, default=200, help="articles sampled into the held-out set")
    cpt.add_argument("--holdout-questions", metavar="QUESTIONS.jsonl",
                     help="also hold out the gold articles of this question set's held-out rows (split heldout)")
    cpt.add_argument("--exclude-gold", nargs="*", default=[], metavar="FILE.jsonl",
                     help="evaluation files whose gold articles are in neither part")
    cpt.add_argument("--model", help="model folder: pack with its tokenizer (report) and, with --perplexity, "
                                     "score the held-out blocks")
    cpt.add_argument("--block-size", type=int, default=512)
    cpt.add_argument("--perplexity", action="store_true", help="held-out perplexity of --model (before training)")
    cpt.add_argument("--max-eval-blocks", type=int, default=64, help="at most this many held-out blocks scored")
    cpt.add_argument("--seed", type=int, default=0)
    cpt.add_argument("--json", action="store_true")
    cpt.set_defaults(func=cmd_data_cpt)
    pt = dsub.add_parser("pt", help="pack the CPT documents and report packing efficiency (writes nothing)")
    pt.add_argument("--model", required=True, help="model folder whose tokenizer to use")
    pt.add_argument("--block-size", type=int, default=512)
    pt.add_argument("--law", action="append")
    pt.add_argument("--general-text", nargs="*", default=[])
    pt.add_argument("--general-ratio", type=float, default=0.0)
    pt.add_argument("--keep-last", action="store_true")
    pt.add_argument("--json", action="store_true")
    pt.set_defaults(func=cmd_data_pt)

    train = sub.add_parser("train", help="continued pretraining, SFT (LoRA / P-Tuning v2 / full), LoRA merge, "
                                         "retrieval reranker / embedder")
    tsub = train.add_subparsers(dest="train_command", required=True, metavar="STAGE", parser_class=_OverridesParser)
    for stage, text in (("pt", "continued pretraining on the article store"), ("sft", "supervised fine-tuning")):
        p = tsub.add_parser(stage, help=text,
                            description=f"{text}. Options come from --config FILE.yaml; any option may follow as "
                                        "--key value (see assistant/train/hparams.py and HF TrainingArguments).")
        p.add_argument("--config", help="YAML file of options")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=cmd_train, stage=stage)
    merge = tsub.add_parser("merge", help="fold a LoRA adapter into its base and save a full model")
    merge.add_argument("--model", required=True)
    merge.add_argument("--adapter", required=True)
    merge.add_argument("--out", required=True)
    merge.add_argument("--dtype", default="fp32", choices=["bf16", "fp16", "fp32"],
                       help="weights of the saved model (bf16 halves its size; training and answering load it)")
    merge.add_argument("--json", action="store_true")
    merge.set_defaults(func=cmd_merge)
    for kind, text in (("reranker", "fine-tune a cross-encoder (question, article) -> score for `--reranker`"),
                       ("embedder", "fine-tune a sentence-transformers embedder for `--embedder st:PATH`")):
        t = tsub.add_parser(kind, help=f"{text} on the question set (BM25 hard negatives from the index)",
                            description=f"{text}. Learns from the question set's rows (only \"split\": \"learn\" "
                                        "rows when it has splits) against hard negatives that BM25 over this home's "
                                        "index confuses with the answer; see assistant/train/retriever_tune.py.")
        t.add_argument("--base", required=True, help="local model folder to start from (a CrossEncoder / "
                                                     "SentenceTransformer folder, or a BERT-like one)")
        t.add_argument("--out", required=True, help="output folder (new or empty)")
        t.add_argument("--data", help="question file (default: the packaged assistant/search/data/lay_questions.jsonl)")
        t.add_argument("--steps", type=int, default=200)
        t.add_argument("--batch-size", type=int, default=8, help="questions per step")
        t.add_argument("--negatives", type=int, default=3, help="BM25 hard negatives per question")
        t.add_argument("--negative-pool", type=int, default=10, help="they are sampled from this many best "
                                                                     "non-gold BM25 articles")
        t.add_argument("--method", choices=("top", "lora", "full"), default="top",
                       help="top: only the last --top-layers layers and the head learn (default); lora: LoRA on "
                            "every linear layer, merged when saved; full: every weight")
        t.add_argument("--top-layers", type=int, default=1)
        t.add_argument("--lora-r", type=int, default=8)
        t.add_argument("--lr", type=float, help="learning rate (default 1e-4 top, 5e-4 lora, 2e-5 full)")
        t.add_argument("--max-length", type=int, default=256, help="tokens of a (question, article) pair / article")
        t.add_argument("--limit", type=int, help="at most this many questions (sampled)")
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda when available)")
        t.add_argument("--json", action="store_true")
        t.set_defaults(func=cmd_train_retrieval, kind=kind)


def _open_store():
    from assistant.cli import UserError, open_corpus

    store = open_corpus()
    if store.count() == 0:
        store.close()
        raise UserError("the article store is empty; run `assistant corpus import --default` first")
    return store


def _resolve_laws(store, names):
    if not names:
        return None
    from assistant.cli import UserError

    resolver = store.resolver()
    out = []
    for n in names:
        try:
            out.append(resolver.resolve(n))
        except Exception as exc:
            raise UserError(f"--law {n}: {exc}") from None
    return out


def cmd_model_tiny(args) -> int:
    import time
    from pathlib import Path

    from assistant.cli import UserError
    from assistant.train.tiny import build_tiny_model, corpus_texts

    start = time.perf_counter()
    if args.text:
        texts = []
        for f in args.text:
            p = Path(f)
            if not p.is_file():
                raise UserError(f"--text {f}: file not found")
            texts += [line for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        store = _open_store()
        try:
            texts = corpus_texts(store, limit=args.limit)
        finally:
            store.close()
    if not texts:
        raise UserError("no text to train the tokenizer on")
    out = build_tiny_model(args.out, texts, vocab_size=args.vocab_size, seed=args.seed,
                           hidden_size=args.hidden_size, num_layers=args.layers, num_heads=args.heads)
    info = json.loads((out / "tiny_model.json").read_text(encoding="utf-8"))
    info.update(path=str(out), texts=len(texts), seconds=round(time.perf_counter() - start, 1))
    if args.json:
        print_json(info)
    else:
        print(f"tiny GLM model in {out}: vocab {info['vocab_size']}, {info['parameters']:,} parameters, "
              f"tokenizer trained on {len(texts):,} texts ({info['seconds']} s)")
    return 0


def cmd_model_import_gguf(args) -> int:
    from assistant.cli import UserError
    from assistant.train.gguf_import import GGUFImportError, import_gguf

    try:
        info = import_gguf(args.gguf_file, args.out, dtype=args.dtype)
    except GGUFImportError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print_json(info)
    else:
        print(f"{info['source']} -> {info['out']}: {info['architecture']} ({info['model_type']}), "
              f"{info['parameters']:,} parameters in {info['dtype']}, vocab {info['vocab_size']:,}, chat template "
              f"{'kept' if info['chat_template'] else 'absent'} ({info['seconds']} s)")
    return 0


def cmd_model_export_gguf(args) -> int:
    from assistant.cli import UserError
    from assistant.train.gguf_export import GGUFExportError, export_gguf

    try:
        info = export_gguf(args.model_dir, args.out, outtype=args.outtype)
    except GGUFExportError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print_json(info)
    else:
        print(f"{info['source']} -> {info['out']}: {info['model_type']}, {info['tensors']} tensors in "
              f"{info['outtype']}, vocab {info['vocab_size']:,}, chat template "
              f"{'kept' if info['chat_template'] else 'absent'}, {info['bytes'] / 2**20:.1f} MiB ({info['seconds']} s)")
    return 0


def cmd_data_sft(args) -> int:
    if args.from_questions:
        return cmd_data_sft_questions(args)
    from assistant.cli import UserError
    from assistant.jsonio import write_json_lines
    from assistant.train.data.generate import generate_sft, gold_article_ids

    store = _open_store()
    try:
        laws = _resolve_laws(store, args.law)
        retriever = None
        if args.retriever:
            try:
                from assistant.search import load_retriever
            except ImportError as exc:
                raise UserError(f"--retriever needs the search stage: {exc}") from None
            retriever = load_retriever(store=store, progress=not args.json)
        budget: dict = {}
        if args.tokenizer or args.context_budget:
            from assistant.answer.prompt import PromptConfig

            budget["prompt_config"] = PromptConfig(**({"context_budget": args.context_budget}
                                                      if args.context_budget else {}))
        if args.tokenizer:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(args.tokenizer)
            budget["count_tokens"] = lambda text: len(tok.encode(text, add_special_tokens=False))
        try:
            exclude = gold_article_ids(store, args.exclude_gold) if args.exclude_gold else None
            rows = generate_sft(store, kinds=args.kinds, laws=laws, limit=args.limit, distractors=args.distractors,
                                seed=args.seed, retriever=retriever, exclude_ids=exclude, progress=not args.json,
                                **budget)
        except (ValueError, OSError) as exc:
            raise UserError(str(exc)) from None
    finally:
        store.close()
    write_json_lines(rows, args.out)
    counts: dict = {}
    for r in rows:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    result = {"out": args.out, "rows": len(rows), "kinds": counts}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {len(rows):,} SFT rows to {args.out}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


def cmd_data_sft_questions(args) -> int:
    from pathlib import Path

    from assistant.cli import UserError
    from assistant.data.datasets import DatasetError as DataFormatError
    from assistant.jsonio import write_json_lines
    from assistant.train.data.generate import gold_article_ids
    from assistant.train.data.question_sft import (SHIPPED_TARGETS, build_from_questions, read_prompts,
                                                   read_targets, to_format)
    from assistant.train.data.questions import QuestionSetError, gold_ids, read_questions

    if not args.data:
        raise UserError("--from-questions needs --data QUESTIONS.jsonl (the question set)")
    targets_file = Path(args.targets) if args.targets else SHIPPED_TARGETS
    try:
        questions = read_questions(args.data)
        targets = read_targets(targets_file)
        prompts = read_prompts(args.prompts) if args.prompts else None
    except (QuestionSetError, DataFormatError) as exc:
        raise UserError(str(exc)) from None
    if not questions:
        raise UserError(f"{args.data}: no rows with \"split\": \"learn\"")
    store = _open_store()
    try:
        if args.exclude_gold:
            try:
                exclude = gold_article_ids(store, args.exclude_gold)
            except (ValueError, OSError) as exc:
                raise UserError(str(exc)) from None
            questions = [q for q in questions if not set(gold_ids(store, q)) & exclude]
        retriever = count = None
        if prompts is None:
            from assistant.search import load_retriever

            retriever = load_retriever(store=store, progress=not args.json)
            if args.tokenizer:
                from transformers import AutoTokenizer

                tok = AutoTokenizer.from_pretrained(args.tokenizer)
                count = lambda text: len(tok.encode(text, add_special_tokens=False))  # noqa: E731
        try:
            rows, report = build_from_questions(
                store, questions, targets, retriever=retriever, prompts=prompts, prompts_out=args.prompts_out,
                abstain_share=args.abstain_share, seed=args.seed, short_context=not args.full_context,
                count_tokens=count, progress=not args.json)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    finally:
        store.close()
    write_json_lines([to_format(r, args.format) for r in rows], args.out)
    result = dict(report.to_dict(), out=args.out, format=args.format, targets=str(targets_file))
    if args.json:
        print_json(result)
    else:
        print(f"wrote {report.rows:,} SFT rows ({args.format}) to {args.out}: {report.answers:,} answers, "
              f"{report.abstentions:,} abstentions ({result['abstain_share']:.1%}); of {report.prompts:,} app prompts "
              f"{report.refused:,} refused by the gate, {report.no_target:,} without a target, "
              f"{report.context_changed:,} with a different context than the target was written for, "
              f"{report.failed_check:,} failing the checks, {report.duplicates:,} duplicates")
        for p in report.problems[:5]:
            print(f"  check: {p}")
    return 0


def cmd_data_convert(args) -> int:
    from assistant.cli import UserError
    from assistant.jsonio import JsonRecordsError, read_json_records
    from assistant.jsonio import write_json_lines
    from assistant.train.data.question_sft import to_format

    try:
        records = read_json_records(args.file)
    except JsonRecordsError as exc:
        raise UserError(f"{args.file}:{exc.line or 0}: {exc.problem}") from None
    rows = []
    for where, obj in records:
        if not all(isinstance(obj.get(k), str) for k in ("instruction", "output")):
            raise UserError(f"{args.file}:{where}: expected alpaca rows (system, instruction, output)")
        messages = ([{"role": "system", "content": obj["system"]}] if obj.get("system") else []) + \
            [{"role": "user", "content": obj["instruction"] + (f"\n{obj['input']}" if obj.get("input") else "")}]
        rows.append(to_format({"id": obj.get("id"), "kind": obj.get("kind"), "messages": messages,
                               "target": obj["output"]}, args.format))
    write_json_lines(rows, args.out)
    if args.json:
        print_json({"out": args.out, "rows": len(rows), "format": args.format})
    else:
        print(f"wrote {len(rows):,} rows ({args.format}) to {args.out}")
    return 0


def cmd_data_cpt(args) -> int:
    import time
    from pathlib import Path

    from assistant.cli import UserError
    from assistant.train.data.cpt import pack_documents, split_articles, write_documents
    from assistant.train.data.generate import gold_article_ids

    start = time.perf_counter()
    store = _open_store()
    try:
        holdout_ids = None
        if args.holdout_questions:
            from assistant.train.data.questions import QuestionSetError, gold_ids, read_questions

            try:
                held_q = read_questions(args.holdout_questions, split="heldout")
            except QuestionSetError as exc:
                raise UserError(str(exc)) from None
            holdout_ids = {g for q in held_q for g in gold_ids(store, q) if g}
        try:
            exclude = gold_article_ids(store, args.exclude_gold) if args.exclude_gold else None
        except (ValueError, OSError) as exc:
            raise UserError(str(exc)) from None
        docs, held, info = split_articles(store, _resolve_laws(store, args.law), args.kind, holdout=args.holdout,
                                          holdout_ids=holdout_ids, exclude_ids=exclude, seed=args.seed)
    finally:
        store.close()
    if not docs:
        raise UserError("no documents (check --law / --kind)")
    out = Path(args.out)
    write_documents(docs, out / "train.jsonl")
    write_documents(held, out / "heldout.jsonl")
    result = dict(info, out=str(out), train=str(out / "train.jsonl"), heldout=str(out / "heldout.jsonl"))
    if args.model:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.model)
        _, report = pack_documents(docs, tokenizer, args.block_size, progress=not args.json)
        held_rows, held_report = pack_documents(held, tokenizer, args.block_size, keep_last=True) if held \
            else ([], None)
        result["packing"] = report.to_dict()
        result["heldout_blocks"] = held_report.blocks if held_report else 0
        if args.perplexity and held_rows:
            from assistant.threads import limit_torch_threads
            from assistant.train.data.cpt import perplexity
            import torch
            from transformers import AutoModelForCausalLM

            from assistant.models.loader import training_precision

            limit_torch_threads()
            device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype = torch.bfloat16 if training_precision("auto", device) == "bf16" else torch.float32
            model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to(device)
            result["perplexity_dtype"] = str(dtype).replace("torch.", "")
            ppl, tokens = perplexity(model, held_rows[:args.max_eval_blocks])
            result["heldout_perplexity"] = round(ppl, 3)
            result["heldout_tokens_scored"] = tokens
    result["seconds"] = round(time.perf_counter() - start, 1)
    (out / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if args.json:
        print_json(result)
    else:
        print(f"{info['documents']:,} training documents ({info['characters']:,} characters, {info['laws']:,} laws: "
              + ", ".join(f"{k} {v}" for k, v in info["kinds"].items()) + f"), {info['heldout_articles']:,} "
              f"held-out articles, {info['excluded_articles']:,} excluded -> {out}")
        if "packing" in result:
            p = result["packing"]
            print(f"packed: {p['tokens']:,} tokens -> {p['blocks']:,} blocks of {args.block_size} "
                  f"(efficiency {p['efficiency']:.2%}); held out: {result['heldout_blocks']} blocks")
        if "heldout_perplexity" in result:
            print(f"held-out perplexity of {args.model}: {result['heldout_perplexity']} "
                  f"({result['heldout_tokens_scored']:,} tokens)")
    return 0


def cmd_data_pt(args) -> int:
    from transformers import AutoTokenizer

    from assistant.train.data.cpt import law_documents, mix_general, pack_documents, read_text_documents

    store = _open_store()
    try:
        docs = law_documents(store, laws=_resolve_laws(store, args.law))
    finally:
        store.close()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    mixed = mix_general(docs, read_text_documents(args.general_text), args.general_ratio)
    _, report = pack_documents(mixed, tokenizer, args.block_size, keep_last=args.keep_last, progress=not args.json)
    result = dict(report.to_dict(), law_documents=len(docs), general_documents=len(mixed) - len(docs))
    if args.json:
        print_json(result)
    else:
        print(f"{result['documents']:,} documents, {result['tokens']:,} tokens -> {result['blocks']:,} blocks of "
              f"{args.block_size}; packing efficiency {result['efficiency']:.2%}")
    return 0


def cmd_train(args) -> int:
    from assistant.cli import UserError
    from assistant.models.loader import AdapterError
    from assistant.data.datasets import DatasetError
    from assistant.train.trainer import train

    overrides = list(getattr(args, "overrides", []) or [])
    try:
        metrics = train(args.stage, args.config, overrides, progress=not args.json)
    except (FileNotFoundError, DatasetError, AdapterError, KeyError, ValueError) as exc:
        raise UserError(str(exc)) from None
    metrics.pop("log_history", None)
    if args.json:
        print_json(metrics)
    else:
        p = metrics["parameters"]
        print(f"{args.stage} ({metrics['method']}): {metrics['global_step']} steps, loss "
              f"{metrics['first_logged_loss']} -> {metrics['last_logged_loss']}, trainable {p['trainable']:,} of "
              f"{p['total']:,}, {metrics['tokens_per_second']} tokens/s; saved to {metrics['output_dir']}")
        if "eval_perplexity" in metrics:
            print(f"eval loss {metrics['eval_loss']:.4f}, perplexity {metrics['eval_perplexity']:.2f}")
    return 0


def cmd_train_retrieval(args) -> int:
    from assistant.cli import UserError
    from assistant.data.datasets import DatasetError
    from assistant.train.retriever_tune import TuneConfig, TuneError, train_retrieval_model

    if getattr(args, "overrides", None):
        raise UserError(f"unknown options for train {args.kind}: {' '.join(args.overrides)}")
    config = TuneConfig(kind=args.kind, base=args.base, out=args.out, data=args.data, steps=args.steps,
                        batch_size=args.batch_size, negatives=args.negatives, negative_pool=args.negative_pool,
                        method=args.method, top_layers=args.top_layers, lora_r=args.lora_r, lr=args.lr,
                        max_length=args.max_length, limit=args.limit, seed=args.seed, device=args.device)
    try:
        config.validate()
    except TuneError as exc:
        raise UserError(str(exc)) from None
    store = _open_store()
    try:
        summary = train_retrieval_model(config, store, progress=not args.json)
    except (TuneError, DatasetError) as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    summary.pop("log_history", None)
    if args.json:
        print_json(summary)
    else:
        p = summary["parameters"]
        use = f"--reranker {summary['out']}" if args.kind == "reranker" else f"--embedder st:{summary['out']}"
        print(f"train {args.kind} ({summary['method']}): {summary['steps']} steps on {summary['questions']:,} "
              f"questions, loss {summary['loss_first']} -> {summary['loss_last']}, trainable {p['trainable']:,} of "
              f"{p['total']:,}; {summary['seconds_train']} s. Saved to {summary['out']} (use {use}); loss curve "
              f"{summary['loss_png']}")
    return 0


def cmd_merge(args) -> int:
    from assistant.cli import UserError
    from assistant.models.loader import AdapterError
    from assistant.train.merge import merge_lora

    if getattr(args, "overrides", None):
        raise UserError(f"unknown options for train merge: {' '.join(args.overrides)}")
    try:
        out = merge_lora(args.model, args.adapter, args.out, dtype=args.dtype)
    except (AdapterError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print_json({"out": str(out)})
    else:
        print(f"merged {args.adapter} into {args.model}: {out}")
    return 0
